"""The Ferry client (`ferry`) against real FTPS servers -- Pure-FTPd, ProFTPD (mod_tls),
vsftpd (ssl_enable=YES, require_ssl_reuse=YES), pyftpdlib (TLS_FTPHandler) -- and ferryd.

For each server: put and get of a 10 MiB random file (SHA-256 compared), ls,
mkdir/rename/delete/rmdir in batch mode, resume of an interrupted download, PASV and
EPSV, PROT P (also with TLS 1.2 only, so data-connection session reuse is tried on both
TLS versions), and CCC followed by transfers where the server supports CCC (a clear
failure where it does not).

The peers come from tests/peers/peers.py (installed by scripts/install-peers); ferryd
from conftest.py ($FERRYD). The client is $FERRY, else `ferry` next to $FERRYD or in
$FERRY_BUILD_DIR, else /work/main/build*/ferry. A missing client or a peer that cannot
start fails the tests; nothing is skipped.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "peers"))
import peers  # noqa: E402
from conftest import SANITIZER_REPORT  # noqa: E402

USER = "peer-user"          # the peers' account (ferryd uses conftest's)
PASSWORD = "Peer pw/4417%"  # exercises percent-encoding in URLs
MIB = 1024 * 1024
KINDS = (*peers.KINDS, "ferryd")
RUN_TIMEOUT = 90  # seconds for one ferry run (10 MiB over loopback takes well under 1 s)

# ferryd configured like the strictest peers: TLS required for login, CCC allowed with the
# close_notify exchange, PROT P data connections must resume the control session.
FERRYD_OVERRIDES = {
    "SECURE_FTP": "REQUIRED",
    "TLSRFCLEVEL": "RFC4217",
    "SECURE_SESSION_REUSE": "REQUIRED",
}
FERRYD_FEATURES = dict(ccc=True, epsv=True, mlsd=True, rest=True, reuse_required=True,
                       tls13=True, prot_c=True)


# --------------------------------------------------------------------------
# The client


def _find_ferry() -> Path | None:
    if os.environ.get("FERRY"):
        return Path(os.environ["FERRY"])
    candidates = []
    if os.environ.get("FERRYD"):
        candidates.append(Path(os.environ["FERRYD"]).parent / "ferry")
    if os.environ.get("FERRY_BUILD_DIR"):
        b = Path(os.environ["FERRY_BUILD_DIR"])
        candidates += [b / "ferry", b / "apps" / "ferry" / "ferry"]
    repo = HERE.parent.parent
    candidates += sorted(repo.glob("build*/ferry")) + sorted(repo.glob("build*/apps/ferry/ferry"))
    for c in candidates:
        if c.is_file() and os.access(c, os.X_OK):
            return c
    return None


@pytest.fixture(scope="session")
def ferry_bin() -> Path:
    f = _find_ferry()
    if f is None or not (f.is_file() and os.access(f, os.X_OK)):
        pytest.fail("the ferry client was not found: build it (target 'ferry') or set "
                    "FERRY=/path/to/ferry", pytrace=False)
    return f


@dataclass
class Run:
    argv: list[str]
    rc: int
    out: str
    err: str

    def __str__(self):
        return (f"$ {' '.join(self.argv)}\nexit {self.rc}\n--- stdout ---\n{self.out[-4000:]}"
                f"\n--- stderr ---\n{self.err[-12000:]}")

    def sent(self, verb: str) -> bool:
        """Whether -v shows the command `verb` sent (">>> VERB ...")."""
        return re.search(rf"^>>> ?{verb}\b", self.err, re.M | re.I) is not None

    def reply_lines(self, code: str) -> list[str]:
        return [l for l in self.err.splitlines()
                if re.match(rf"^(<<< ?)?{code}[ -]", l.strip())]


@dataclass
class Target:
    """A running server as the tests see it (a peers.Peer or conftest's ferryd)."""
    kind: str
    host: str
    port: int
    user: str
    password: str
    home: Path
    features: dict
    log: callable
    chown_home: callable = lambda: None
    extra: dict = field(default_factory=dict)

    def url(self, path: str = "") -> str:
        return (f"ftp://{quote(self.user, safe='')}:{quote(self.password, safe='')}@"
                f"{self.host}:{self.port}/"
                f"{path.lstrip('/')}")


class Ferry:
    def __init__(self, binary: Path, workdir: Path):
        self.binary = binary
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        self.env.update(HOME=str(workdir), LC_ALL="C.UTF-8", TERM="dumb")

    def argv(self, *args) -> list[str]:
        return [str(self.binary), *map(str, args)]

    def __call__(self, *args, input: str | None = None, timeout: float = RUN_TIMEOUT,
                 target: Target | None = None, env: dict | None = None, stdout=None) -> Run:
        """stdout: a file for ferry's standard output (Run.out is then empty)."""
        argv = self.argv(*args)
        try:
            p = subprocess.run(argv, stdout=stdout or subprocess.PIPE, stderr=subprocess.PIPE,
                               timeout=timeout, cwd=self.workdir,
                               env={**self.env, **(env or {})}, input=(input or "").encode())
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"ferry timed out after {timeout}s: {' '.join(argv)}\n"
                        f"{(exc.stderr or b'').decode(errors='replace')[-8000:]}"
                        + (f"\n--- {target.kind} log ---\n{target.log()[-8000:]}" if target else ""),
                        pytrace=False)
        run = Run(argv, p.returncode, (p.stdout or b"").decode(errors="replace"),
                  p.stderr.decode(errors="replace"))
        # A sanitizer build's report fails the test even where ferry was meant to fail.
        if SANITIZER_REPORT.search(run.err):
            pytest.fail(f"sanitizer report from ferry:\n{run}", pytrace=False)
        return run


def explain(t: Target, r: Run) -> str:
    return f"\n{r}\n--- {t.kind} log ---\n{t.log()[-12000:]}"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --------------------------------------------------------------------------
# Servers


@pytest.fixture(scope="module")
def peer_workdir():
    d = peers.make_workdir("ferry-client-peers-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def _start_peer(kind, pki, workdir: Path, name: str, **kw) -> peers.Peer:
    home = workdir / f"home-{name}"
    home.mkdir()
    try:
        return peers.start(kind, pki["cert"], pki["dir"] / "key.pem", home, USER, PASSWORD,
                           0, 0, 0, workdir, **kw)
    except peers.PeerError as exc:
        problems = peers.check_installed()
        pytest.fail(f"{kind} did not start: {exc}"
                    + ("\ninstallation problems:\n  " + "\n  ".join(problems) if problems else "")
                    + "\n(run scripts/install-peers as root)", pytrace=False)


def _peer_target(p: peers.Peer) -> Target:
    return Target(kind=p.kind, host=p.host, port=p.port, user=p.user, password=p.password,
                  home=p.home, features=p.features,
                  log=p.log, chown_home=p.chown_home, extra={"peer": p})


@pytest.fixture(scope="module", params=KINDS)
def server(request, pki, peer_workdir):
    kind = request.param
    if kind == "ferryd":
        srv = request.getfixturevalue("ferryd_factory")("ferryd-client",
                                                        overrides=FERRYD_OVERRIDES)
        yield Target(kind="ferryd", host=srv.host, port=srv.port, user=srv.user,
                     password=srv.password, home=srv.home,
                     features=dict(FERRYD_FEATURES), log=lambda: srv.log)
        return
    p = _start_peer(kind, pki, peer_workdir, kind)
    yield _peer_target(p)
    alive = p.alive
    p.stop()
    if not alive:
        pytest.fail(f"{kind} died during the tests; log:\n{p.log()[-20000:]}", pytrace=False)


@pytest.fixture
def ferry(ferry_bin, tmp_path) -> Ferry:
    return Ferry(ferry_bin, tmp_path)


def interrupt_when_written(ferry: Ferry, args: list, part: Path, at_least: int, sig: int) -> None:
    """Runs ferry with args until part holds at_least bytes, then sends it sig and waits; every
    wait is bounded, and ferry ending before that fails the test."""
    proc = subprocess.Popen(ferry.argv(*args), cwd=ferry.workdir, env=ferry.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and proc.poll() is None:
            if part.exists() and part.stat().st_size >= at_least:
                break
            time.sleep(0.02)
        assert proc.poll() is None, f"ferry ended before it could be interrupted: " \
            f"{proc.returncode}\n{proc.communicate(timeout=10)[1].decode(errors='replace')}"
        assert part.exists(), f"no {part.name} while transferring"
        proc.send_signal(sig)
        proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)


def _put_file(t: Target, rel: str, data: bytes) -> Path:
    p = t.home / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(data)
    t.chown_home()
    return p


# --------------------------------------------------------------------------
# Transfers


def test_put_get_10mib(server, ferry, big_file, tmp_path):
    """One-shot put and get of 10 MiB of random bytes, PROT P, SHA-256 compared."""
    src, data = big_file
    r = ferry("--insecure", "put", src, server.url("big-put.bin"), target=server)
    assert r.rc == 0, "put failed" + explain(server, r)
    on_server = server.home / "big-put.bin"
    assert on_server.is_file(), "no file on the server after put" + explain(server, r)
    assert sha256(on_server.read_bytes()) == sha256(data), \
        f"upload corrupted ({on_server.stat().st_size} bytes on the server)" + explain(server, r)

    dst = tmp_path / "big-get.bin"
    r = ferry("--insecure", "get", server.url("big-put.bin"), dst, target=server)
    assert r.rc == 0, "get failed" + explain(server, r)
    assert sha256(dst.read_bytes()) == sha256(data), "download corrupted" + explain(server, r)
    assert not list(tmp_path.glob("*.ferry-part")), "temporary file left after a good download"


def test_get_to_standard_output(server, ferry, big_file, tmp_path):
    """get URL - writes exactly the file's bytes to standard output (nothing else goes there)
    and, with -v, says on standard error how many bytes it moved."""
    src, data = big_file
    _put_file(server, "to-stdout.bin", data)
    out = tmp_path / "stdout.bin"
    with open(out, "wb") as f:
        r = ferry("-v", "--insecure", "get", server.url("to-stdout.bin"), "-", target=server,
                  stdout=f)
    assert r.rc == 0, "get to standard output failed" + explain(server, r)
    assert sha256(out.read_bytes()) == sha256(data), \
        f"standard output holds {out.stat().st_size} bytes, not the file's {len(data)}"
    assert f"to-stdout.bin -> standard output: {len(data)} bytes in" in r.err, r.err[-4000:]


def test_prot_p_with_session_reuse(server, ferry, tmp_path):
    """-v shows PROT P accepted; the data connection (which vsftpd, ProFTPD and ferryd only
    accept when it resumes the control session) carried the file."""
    data = os.urandom(MIB)
    _put_file(server, "protp.bin", data)
    dst = tmp_path / "protp.bin"
    r = ferry("-v", "--insecure", "get", server.url("protp.bin"), dst, target=server)
    assert r.rc == 0, "get failed" + explain(server, r)
    assert r.sent("PBSZ") and r.sent("PROT P"), "PROT P not sent" + explain(server, r)
    assert dst.read_bytes() == data
    assert f"PASS {server.password}" not in r.err, "the password is shown in the -v dialogue"


def _several_transfers_job(tmp_path: Path, t: Target, tag: str) -> tuple[str, dict]:
    """A batch job with five PROT P data connections in one session; returns the job and
    the files it should produce {path: bytes}."""
    a, b = os.urandom(300_000), os.urandom(200_000)
    _put_file(t, f"{tag}-a.bin", a)
    up = tmp_path / f"{tag}-up.bin"
    up.write_bytes(b)
    job = "\n".join([
        f"get {tag}-a.bin {tmp_path / (tag + '-1.bin')}",
        f"put {up} {tag}-b.bin",
        "ls",
        f"get {tag}-b.bin {tmp_path / (tag + '-2.bin')}",
        "ls",
        "",
    ])
    return job, {tmp_path / f"{tag}-1.bin": a, t.home / f"{tag}-b.bin": b,
                 tmp_path / f"{tag}-2.bin": b}


def test_several_transfers_one_session(server, ferry, tmp_path):
    """Five data connections in one session (batch), PROT P, default TLS (1.3 here): every
    one must resume a TLS session of this session where the server requires it, so the
    client must keep (or renew) enough tickets for more than one data connection."""
    job, expect = _several_transfers_job(tmp_path, server, "multi")
    r = ferry("-v", "--insecure", server.url(), input=job, target=server)
    assert r.rc == 0, "a later data connection failed" + explain(server, r)
    for path, data in expect.items():
        assert path.read_bytes() == data, f"{path} differs" + explain(server, r)


def test_many_uploads_one_session(server, ferry, tmp_path):
    """mput of eight files, then a download, in one session with PROT P. ProFTPD and vsftpd
    give single-use TLS 1.3 tickets and none on upload data connections, so a session runs out
    of tickets to resume after two uploads and the next data connection is refused (425); ferry
    then logs in again on a fresh session in the same folder and goes on."""
    files = {f"many-{i}.bin": os.urandom(50_000 + i) for i in range(8)}
    src = tmp_path / "src"
    src.mkdir()
    for name, data in files.items():
        (src / name).write_bytes(data)
    back = tmp_path / "back.bin"
    job = f"mput {src}/many-*.bin\nget many-7.bin {back}\n"
    r = ferry("-v", "--insecure", server.url(), input=job, target=server)
    assert r.rc == 0, "an upload or the download after them failed" + explain(server, r)
    for name, data in files.items():
        assert (server.home / name).read_bytes() == data, f"{name} differs" + explain(server, r)
    assert back.read_bytes() == files["many-7.bin"]


@pytest.mark.parametrize("kind", peers.KINDS)
def test_tls12_put_get(kind, pki, peer_workdir, ferry, tmp_path):
    """The same over TLS 1.2 only (session-id resumption instead of TLS 1.3 tickets): one-shot
    put and get, then five transfers in one batch session."""
    p = _start_peer(kind, pki, peer_workdir, f"{kind}-tls12", tls_max="1.2")
    t = _peer_target(p)
    try:
        data = os.urandom(4 * MIB)
        src = tmp_path / "tls12.bin"
        src.write_bytes(data)
        r = ferry("-v", "--insecure", "put", src, t.url("tls12.bin"), target=t)
        assert r.rc == 0, "put over TLS 1.2 failed" + explain(t, r)
        assert sha256((t.home / "tls12.bin").read_bytes()) == sha256(data)
        dst = tmp_path / "tls12.out"
        r = ferry("-v", "--insecure", "get", t.url("tls12.bin"), dst, target=t)
        assert r.rc == 0 and dst.read_bytes() == data, "get over TLS 1.2 failed" + explain(t, r)
        job, expect = _several_transfers_job(tmp_path, t, "tls12-multi")
        r = ferry("-v", "--insecure", t.url(), input=job, target=t)
        assert r.rc == 0, "a later data connection failed over TLS 1.2" + explain(t, r)
        for path, content in expect.items():
            assert path.read_bytes() == content, f"{path} differs" + explain(t, r)
    finally:
        p.stop()


@pytest.mark.parametrize("mode", ["pasv", "epsv"])
def test_passive_modes(server, ferry, tmp_path, mode):
    """--passive uses PASV (227), --epsv uses EPSV (229)."""
    data = os.urandom(256 * 1024)
    _put_file(server, f"{mode}.bin", data)
    dst = tmp_path / f"{mode}.bin"
    flags = ["--passive"] if mode == "pasv" else ["--passive", "--epsv"]
    r = ferry("-v", "--insecure", *flags, "get", server.url(f"{mode}.bin"), dst, target=server)
    assert r.rc == 0, f"{mode} get failed" + explain(server, r)
    assert dst.read_bytes() == data
    if mode == "pasv":
        assert r.sent("PASV") and not r.sent("EPSV"), "PASV not used" + explain(server, r)
        assert r.reply_lines("227"), "no 227 reply" + explain(server, r)
    else:
        assert r.sent("EPSV"), "EPSV not used" + explain(server, r)
        assert r.reply_lines("229"), "no 229 reply" + explain(server, r)


# --------------------------------------------------------------------------
# Listing and batch mode


def test_ls(server, ferry):
    _put_file(server, "listing/one.txt", b"1\n")
    _put_file(server, "listing/two.bin", os.urandom(1000))
    (server.home / "listing" / "sub").mkdir(exist_ok=True)
    server.chown_home()
    r = ferry("--insecure", "ls", server.url("listing/"), target=server)
    assert r.rc == 0, "ls failed" + explain(server, r)
    names = set(r.out.split())
    assert {"one.txt", "two.bin", "sub"} <= names, f"listing {sorted(names)}" + explain(server, r)
    assert "." not in names and ".." not in names, "ls shows . or .." + explain(server, r)


def test_batch_mkdir_rename_delete(server, ferry, tmp_path):
    """Batch mode (commands on standard input, the URL opens the session)."""
    local = tmp_path / "batch.bin"
    data = os.urandom(100_000)
    local.write_bytes(data)
    job = "\n".join([
        "# ferry batch job",
        "mkdir jobdir",
        f"put {local} jobdir/a.bin",
        "rename jobdir/a.bin jobdir/b.bin",
        "ls jobdir",
        "",
    ])
    r = ferry("--insecure", server.url(), input=job, target=server)
    assert r.rc == 0, "batch job 1 failed" + explain(server, r)
    assert (server.home / "jobdir").is_dir(), "mkdir had no effect" + explain(server, r)
    assert not (server.home / "jobdir" / "a.bin").exists(), "rename left the old name"
    assert (server.home / "jobdir" / "b.bin").read_bytes() == data, "rename lost the file"
    assert "b.bin" in r.out.split(), "ls in batch did not list b.bin" + explain(server, r)

    job = "delete jobdir/b.bin\nrmdir jobdir\n"
    r = ferry("--insecure", server.url(), input=job, target=server)
    assert r.rc == 0, "batch job 2 failed" + explain(server, r)
    assert not (server.home / "jobdir").exists(), "delete/rmdir had no effect" + explain(server, r)


def test_batch_stops_at_first_failure(server, ferry):
    """A failing line ends the batch with a non-zero status; later lines do not run."""
    job = "delete no-such-file.bin\nmkdir must-not-exist\n"
    r = ferry("--insecure", server.url(), input=job, target=server)
    assert r.rc != 0, "a failed delete did not fail the batch" + explain(server, r)
    assert not (server.home / "must-not-exist").exists(), "the batch went on after a failure"


# --------------------------------------------------------------------------
# Resume


# Server-side throttles that make a 10 MiB download last seconds, so it can be interrupted.
THROTTLE = {
    "vsftpd": dict(extra=["local_max_rate=2097152"]),              # bytes/s
    "proftpd": dict(extra=["TransferRate RETR 2048"]),             # KiB/s
    "pure-ftpd": dict(extra=["-T", "2048"]),                       # KiB/s
}


def _check_resumed(t: Target, r: Run, data: bytes, dst: Path, offset_min: int):
    assert r.rc == 0, "resumed get failed" + explain(t, r)
    assert sha256(dst.read_bytes()) == sha256(data), "resumed download corrupted" + explain(t, r)
    rest = re.findall(r"^>>> ?REST (\d+)", r.err, re.M)
    assert rest and int(rest[0]) >= offset_min, "no REST with the partial size" + explain(t, r)
    assert not list(dst.parent.glob("*.ferry-part")), "temporary file left after resume"


@pytest.mark.parametrize("kind", list(THROTTLE))
def test_resume_interrupted_download(kind, pki, peer_workdir, ferry, big_file, tmp_path):
    """A download killed half-way (server throttled to 2 MiB/s) is completed by get -c."""
    p = _start_peer(kind, pki, peer_workdir, f"{kind}-slow", **THROTTLE[kind])
    t = _peer_target(p)
    try:
        _, data = big_file
        _put_file(t, "slow.bin", data)
        dst = tmp_path / "slow.bin"
        part = Path(str(dst) + ".ferry-part")
        interrupt_when_written(ferry, ["--insecure", "get", t.url("slow.bin"), dst], part, MIB, signal.SIGINT)
        assert not dst.exists() or dst.stat().st_size < len(data), "download was not interrupted"
        partial = part.stat().st_size if part.exists() else (dst.stat().st_size if dst.exists() else 0)
        assert 0 < partial < len(data), f"partial file has {partial} bytes"
        r = ferry("-v", "--insecure", "get", "-c", t.url("slow.bin"), dst, target=t,
                  timeout=RUN_TIMEOUT)
        _check_resumed(t, r, data, dst, offset_min=1)
    finally:
        p.stop()


def test_resume_partial_download(server, ferry, big_file, tmp_path):
    """get -c continues a partial file (left by an interrupted download) with REST."""
    _, data = big_file
    _put_file(server, "resume.bin", data)
    dst = tmp_path / "resume.bin"
    cut = 3 * MIB + 123
    Path(str(dst) + ".ferry-part").write_bytes(data[:cut])
    r = ferry("-v", "--insecure", "get", "-c", server.url("resume.bin"), dst, target=server)
    _check_resumed(server, r, data, dst, offset_min=cut)

    # A partial file under the target's own name (another tool's) is continued too, and in
    # batch mode.
    dst2 = tmp_path / "resume2.bin"
    dst2.write_bytes(data[:cut])
    r = ferry("-v", "--insecure", server.url(), input=f"get -c resume.bin {dst2}\n",
              target=server)
    _check_resumed(server, r, data, dst2, offset_min=cut)


def test_resume_upload(server, ferry, big_file):
    """put -c continues a partial remote file."""
    src, data = big_file
    cut = 2 * MIB + 77
    _put_file(server, "resume-up.bin", data[:cut])
    r = ferry("-v", "--insecure", "put", "-c", src, server.url("resume-up.bin"), target=server)
    assert r.rc == 0, "put -c failed" + explain(server, r)
    assert sha256((server.home / "resume-up.bin").read_bytes()) == sha256(data), \
        "resumed upload corrupted" + explain(server, r)
    assert r.sent("REST") or r.sent("APPE"), "the upload was not resumed" + explain(server, r)


# --------------------------------------------------------------------------
# CCC


def test_ccc_then_transfers(server, ferry, tmp_path):
    """--ccc clears the control connection after login; transfers (PROT P data) follow.
    A server without CCC makes ferry fail with a message, not hang."""
    data = os.urandom(2 * MIB)
    _put_file(server, "ccc.bin", data)
    up = tmp_path / "ccc-up.bin"
    up.write_bytes(data[::-1])
    dst = tmp_path / "ccc.bin"
    job = f"get ccc.bin {dst}\nput {up} ccc-up.bin\nls\n"
    r = ferry("-v", "--insecure", "--ccc", server.url(), input=job, target=server, timeout=60)
    if server.features["ccc"]:
        assert r.rc == 0, "CCC session failed" + explain(server, r)
        assert r.sent("CCC") and r.reply_lines("200"), "no CCC exchange" + explain(server, r)
        assert dst.read_bytes() == data, "download after CCC corrupted"
        assert (server.home / "ccc-up.bin").read_bytes() == data[::-1], "upload after CCC corrupted"
        assert "ccc.bin" in r.out.split(), "ls after CCC" + explain(server, r)
    else:
        assert r.rc != 0, f"{server.kind} has no CCC, yet ferry --ccc succeeded" + explain(server, r)
        assert r.sent("CCC"), "CCC not tried" + explain(server, r)


# --------------------------------------------------------------------------
# Certificate verification


def test_verify_with_ca_file(server, ferry, pki, tmp_path):
    """--ca with the server's (self-signed) certificate verifies it, host 127.0.0.1 in SAN;
    without --ca or --insecure an untrusted certificate is refused (not interactive)."""
    data = os.urandom(10_000)
    _put_file(server, "ca.bin", data)
    r = ferry("--ca", pki["cert"], "get", server.url("ca.bin"), tmp_path / "ca.bin", target=server)
    assert r.rc == 0, "get with --ca failed" + explain(server, r)
    r = ferry("get", server.url("ca.bin"), tmp_path / "ca2.bin", target=server)
    assert r.rc != 0, "an untrusted certificate was accepted" + explain(server, r)
    assert not (tmp_path / "ca2.bin").exists()


def test_verify_with_the_system_store_folder(server, ferry, pki, tmp_path):
    """The system store is read through its hashed folder (SSL_CERT_DIR, as made by
    update-ca-certificates): a server whose certificate is in it is trusted without --ca; with
    only an unrelated CA there it is refused."""
    data = os.urandom(5_000)
    _put_file(server, "store.bin", data)
    for name, cert in (("trusted", pki["cert"]), ("other", pki["other_ca"])):
        d = tmp_path / name
        d.mkdir()
        shutil.copy(cert, d / "ca.pem")
        subprocess.run(["openssl", "rehash", str(d)], check=True, timeout=30, capture_output=True)
    env = {"SSL_CERT_FILE": "", "SSL_CERT_DIR": str(tmp_path / "trusted")}
    r = ferry("get", server.url("store.bin"), tmp_path / "s1.bin", target=server, env=env)
    assert r.rc == 0, "the hashed system folder was not used" + explain(server, r)
    assert (tmp_path / "s1.bin").read_bytes() == data
    env["SSL_CERT_DIR"] = str(tmp_path / "other")
    r = ferry("get", server.url("store.bin"), tmp_path / "s2.bin", target=server, env=env)
    assert r.rc != 0 and "not trusted" in r.err, "a certificate not in the store was accepted" + explain(server, r)

"""Smoke tests of the peer harness (tests/peers/peers.py): each real third-party FTPS
server -- Pure-FTPd, ProFTPD (mod_tls), vsftpd, pyftpdlib -- starts on 127.0.0.1 with
our certificate, user, home folder and passive range, and serves curl over explicit TLS.

A peer that cannot start fails its tests (never skips): run scripts/install-peers as root.
"""

from __future__ import annotations

import ftplib
import hashlib
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "peers"))
import peers  # noqa: E402

USER = "peer-user"
PASSWORD = "Peer-pw-5520"
MIB = 1024 * 1024
CURL_TIMEOUT = 60


# --------------------------------------------------------------------------
# Fixtures and helpers


@pytest.fixture(scope="module")
def workdir():
    d = peers.make_workdir("ferry-peers-smoke-")
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def cert(workdir):
    """A self-signed P-256 certificate for 127.0.0.1/localhost: (cert path, key path)."""
    d = workdir / "pki"
    d.mkdir()
    r = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
        capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr.decode(errors="replace")
    return d / "cert.pem", d / "key.pem"


def _start(kind, workdir, cert, name=None, **kw) -> peers.Peer:
    home = workdir / f"home-{name or kind}"
    home.mkdir()
    kw.setdefault("pyftpdlib_curl_compat", True)  # see peers.py "Caveats": curl needs it
    try:
        return peers.start(kind, cert[0], cert[1], home, USER, PASSWORD, 0, 0, 0, workdir, **kw)
    except peers.PeerError as exc:
        problems = peers.check_installed()
        pytest.fail(f"{kind} did not start: {exc}"
                    + ("\ninstallation problems:\n  " + "\n  ".join(problems) if problems else ""),
                    pytrace=False)


@pytest.fixture(params=peers.KINDS)
def peer(request, workdir, cert):
    p = _start(request.param, workdir, cert, name=f"{request.param}-{request.node.name}")
    yield p
    alive = p.alive
    p.stop()
    if not alive:
        pytest.fail(f"{p.kind} died during the test; log:\n{p.log()[-20000:]}", pytrace=False)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def curl(p: peers.Peer, *args: str, tls: str = "--ssl-reqd",
         max_time: int = CURL_TIMEOUT - 10) -> subprocess.CompletedProcess:
    argv = ["curl", "--silent", "--show-error", "--verbose", tls, "--insecure",
            "--connect-timeout", "10", "--max-time", str(max_time),
            "--user", f"{p.user}:{p.password}", *args]
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    try:
        return subprocess.run(argv, capture_output=True, timeout=CURL_TIMEOUT, env=env,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"curl timed out against {p.kind}: {' '.join(argv)}\n"
                    f"{(exc.stderr or b'').decode(errors='replace')[-6000:]}\n"
                    f"server log:\n{p.log()[-10000:]}", pytrace=False)


def explain(p: peers.Peer, r: subprocess.CompletedProcess) -> str:
    return (f"\n$ {' '.join(map(str, r.args))}\nexit {r.returncode}\n--- curl stderr ---\n"
            f"{r.stderr.decode(errors='replace')[-6000:]}\n--- {p.kind} log ---\n"
            f"{p.log()[-10000:]}")


def replies(r: subprocess.CompletedProcess) -> list[str]:
    """The server replies curl saw (its "< " lines)."""
    return [l[2:] for l in r.stderr.decode(errors="replace").splitlines() if l.startswith("< ")]


def data_ports(r: subprocess.CompletedProcess) -> list[int]:
    """Ports from the 227/229 replies curl received."""
    ports = []
    for line in replies(r):
        m = re.match(r"229 .*\(\|\|\|(\d+)\|\)", line)
        if m:
            ports.append(int(m.group(1)))
        m = re.match(r"227 .*\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)", line)
        if m:
            ports.append(int(m.group(5)) * 256 + int(m.group(6)))
    return ports


def tls_client_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


# --------------------------------------------------------------------------
# Tests


def test_upload_download_list(peer, workdir):
    """1 MiB of random bytes up and down again over PROT P; the listing shows the file."""
    data = os.urandom(MIB)
    src = workdir / f"src-{peer.kind}.bin"
    src.write_bytes(data)
    # vsftpd 3.0.3 loses the end of TLS 1.3 uploads from curl, which closes the data
    # connection without reading the server's session ticket (peers.py, "Caveats";
    # test_vsftpd_tls13_upload_with_drain shows a careful client is fine).
    quirk = ["--tls-max", "1.2"] if peer.kind == "vsftpd" else []
    r = curl(peer, *quirk, "--upload-file", str(src), peer.url("up/random.bin"), "--ftp-create-dirs")
    assert r.returncode == 0, "upload failed" + explain(peer, r)
    on_server = peer.home / "up" / "random.bin"
    assert on_server.is_file(), "uploaded file not in the home folder" + explain(peer, r)
    assert sha256(on_server.read_bytes()) == sha256(data), "upload corrupted" + explain(peer, r)
    if peer.kind != "pyftpdlib":  # the session runs as the peers' system user
        assert on_server.stat().st_uid == peers._session_user()[0]

    dst = workdir / f"dst-{peer.kind}.bin"
    r = curl(peer, peer.url("up/random.bin"), "--output", str(dst))
    assert r.returncode == 0, "download failed" + explain(peer, r)
    assert sha256(dst.read_bytes()) == sha256(data), "download corrupted" + explain(peer, r)

    r = curl(peer, peer.url("up/"))
    assert r.returncode == 0, "LIST failed" + explain(peer, r)
    assert "random.bin" in r.stdout.decode(errors="replace"), "file not listed" + explain(peer, r)
    assert any(x.startswith("200 PROT") or x.startswith("200 Data protection") or
               x.startswith("200 Protection") for x in replies(r)), \
        "PROT P was not accepted" + explain(peer, r)


@pytest.mark.parametrize("mode", ["epsv", "pasv"])
def test_passive_modes_use_the_range(peer, workdir, mode):
    """EPSV and PASV both work and the server's data ports lie in the configured range."""
    data = os.urandom(64 * 1024)
    (peer.home / "pasv.bin").write_bytes(data)
    peer.chown_home()
    args = [] if mode == "epsv" else ["--disable-epsv"]
    dst = workdir / f"pasv-{peer.kind}-{mode}.bin"
    r = curl(peer, *args, peer.url("pasv.bin"), "--output", str(dst))
    assert r.returncode == 0, f"{mode} download failed" + explain(peer, r)
    assert dst.read_bytes() == data
    ports = data_ports(r)
    assert ports, f"no {mode.upper()} reply seen" + explain(peer, r)
    lo, hi = peer.pasv_range
    assert all(lo <= p <= hi for p in ports), f"data ports {ports} outside {lo}-{hi}" + explain(peer, r)
    if mode == "pasv":
        assert any(x.startswith("227 ") for x in replies(r)), "no 227 reply" + explain(peer, r)


def test_prot_c_allowed_by_default(peer, workdir):
    """TLS on the control connection only (PROT C data) works unless require_prot_p."""
    data = os.urandom(64 * 1024)
    (peer.home / "clear.bin").write_bytes(data)
    dst = workdir / f"clear-{peer.kind}.bin"
    r = curl(peer, peer.url("clear.bin"), "--output", str(dst), tls="--ftp-ssl-control")
    assert r.returncode == 0, "PROT C download failed" + explain(peer, r)
    assert dst.read_bytes() == data


def test_ccc_as_documented(peer, workdir):
    """CCC is accepted (and a transfer follows) exactly where FEATURES says so."""
    data = os.urandom(64 * 1024)
    (peer.home / "ccc.bin").write_bytes(data)
    dst = workdir / f"ccc-{peer.kind}.bin"
    r = curl(peer, "--ftp-ssl-ccc", "--ftp-ssl-ccc-mode", "active", peer.url("ccc.bin"),
             "--output", str(dst))
    ccc = [x for x in replies(r) if re.match(r"\d{3} ", x)]
    answer = next((x for x, prev in zip(ccc[1:], ccc) if prev.startswith("200 PROT") or
                   prev.startswith("200 Data protection") or prev.startswith("200 Protection")),
                  None)
    if peer.features["ccc"]:
        assert r.returncode == 0, "transfer after CCC failed" + explain(peer, r)
        assert answer and answer.startswith("200"), f"CCC answered {answer!r}" + explain(peer, r)
        assert dst.read_bytes() == data
    else:
        assert answer and answer[0] == "5", f"CCC answered {answer!r}" + explain(peer, r)


def test_tls_required_before_login(peer):
    """USER without AUTH TLS is refused."""
    with socket.create_connection((peer.host, peer.port), timeout=10) as s:
        f = s.makefile("rb")
        line = f.readline()
        while line[:4] != b"220 ":
            assert line[:4] == b"220-", line
            line = f.readline()
        s.sendall(b"USER " + USER.encode() + b"\r\n")
        reply = f.readline()
        if reply[:3] == b"331":  # some ask for the password first and refuse it
            s.sendall(b"PASS " + PASSWORD.encode() + b"\r\n")
            reply = f.readline()
    assert reply[:1] in (b"5", b"4", b""), f"{peer.kind} accepted a login without TLS: {reply!r}"


def test_session_reuse_policy(peer):
    """Python's ftplib does not resume the control session on data connections: the
    peers configured to require resumption (vsftpd, ProFTPD) refuse its PROT P data
    connection, the others accept it."""
    f = ftplib.FTP_TLS(context=tls_client_context(), timeout=20)
    try:
        f.connect(peer.host, peer.port)
        f.login(USER, PASSWORD)
        f.prot_p()
        try:
            names = f.nlst()
            refused = None
        except ftplib.error_reply as exc:  # e.g. a 1xx/2xx where 1xx was expected
            refused = str(exc)
        except ftplib.all_errors as exc:
            refused = str(exc)
    finally:
        try:
            f.close()
        except OSError:
            pass
    if peer.features["reuse_required"]:
        assert refused, f"{peer.kind} accepted a data connection without TLS session reuse"
    else:
        assert refused is None, f"{peer.kind} refused ftplib's data connection: {refused}" \
            f"\n{peer.log()[-8000:]}"
        assert isinstance(names, list)


@pytest.mark.parametrize("kind", peers.KINDS)
def test_require_prot_p(kind, workdir, cert):
    """With require_prot_p the peer refuses PROT C data and still serves PROT P."""
    p = _start(kind, workdir, cert, name=f"{kind}-protp", require_prot_p=True)
    try:
        (p.home / "x.bin").write_bytes(b"x" * 1000)
        p.chown_home()
        # (ProFTPD answers PROT C with 534 and then expects TLS on the data connection,
        # which curl does not start: both wait, hence the short max_time.)
        r = curl(p, p.url("x.bin"), "--output", os.devnull, tls="--ftp-ssl-control", max_time=8)
        assert r.returncode != 0, "PROT C was allowed" + explain(p, r)
        r = curl(p, p.url("x.bin"), "--output", os.devnull)
        assert r.returncode == 0, "PROT P failed" + explain(p, r)
    finally:
        p.stop()


def test_stock_pyftpdlib_with_ftplib(workdir, cert):
    """Stock pyftpdlib (no curl patch) serves a client that sends the transfer command
    before the data connection's TLS handshake (ftplib): 1 MiB up, down, listed."""
    p = _start("pyftpdlib", workdir, cert, name="pyftpdlib-stock", pyftpdlib_curl_compat=False)
    data = os.urandom(MIB)
    try:
        f = ftplib.FTP_TLS(context=tls_client_context(), timeout=20)
        f.connect(p.host, p.port)
        f.login(USER, PASSWORD)
        f.prot_p()
        import io
        f.storbinary("STOR stock.bin", io.BytesIO(data))
        out = io.BytesIO()
        f.retrbinary("RETR stock.bin", out.write)
        names = f.nlst()
        f.quit()
        assert sha256(out.getvalue()) == sha256(data)
        assert "stock.bin" in [n.rsplit("/", 1)[-1] for n in names]
    finally:
        p.stop()


@pytest.mark.parametrize("kind", peers.KINDS)
def test_stop_leaves_nothing(kind, workdir, cert):
    """stop() ends every process of the peer (also sessions still logged in), frees the
    port and removes the private folder (and vsftpd's PAM service file)."""
    p = _start(kind, workdir, cert, name=f"{kind}-stop")
    f = ftplib.FTP_TLS(context=tls_client_context(), timeout=20)
    f.connect(p.host, p.port)
    f.login(USER, PASSWORD)  # a live session process at stop time
    assert p.pids(), "no processes found for the running peer"
    sid = p.pid
    pam_files = list(p._cleanup_paths)
    p.stop()
    f.close()
    assert peers._session_pids(sid) == [], "processes left after stop()"
    assert not p.workdir.exists(), "private folder left after stop()"
    assert not any(Path(x).exists() for x in pam_files), "PAM file left after stop()"
    with socket.socket() as s:
        s.settimeout(2)
        assert s.connect_ex((p.host, p.port)) != 0, "port still accepting after stop()"
    assert p.stop() == p.stop()  # idempotent
    assert "=====" in p.log()  # the log survives stop()


@pytest.mark.parametrize("kind", peers.KINDS)
def test_tls_max_12(kind, workdir, cert):
    """tls_max="1.2" caps the peer at TLS 1.2 (control and data); 1 MiB up and down."""
    p = _start(kind, workdir, cert, name=f"{kind}-tls12", tls_max="1.2")
    try:
        data = os.urandom(MIB)
        src = workdir / f"tls12-{kind}.bin"
        src.write_bytes(data)
        r = curl(p, "--upload-file", str(src), p.url("t.bin"))
        assert r.returncode == 0, "upload failed" + explain(p, r)
        versions = re.findall(r"SSL connection using (TLSv[\d.]+)", r.stderr.decode())
        assert versions and set(versions) == {"TLSv1.2"}, f"negotiated {versions}" + explain(p, r)
        dst = workdir / f"tls12-{kind}.out"
        r = curl(p, p.url("t.bin"), "--output", str(dst))
        assert r.returncode == 0 and dst.read_bytes() == data, "download failed" + explain(p, r)
    finally:
        p.stop()


def _read_reply(f) -> str:
    line = f.readline()
    first = line
    while line[3:4] == b"-" or (line and not line[:3].isdigit()):
        line = f.readline()
        if not line:
            break
    return (line or first).decode(errors="replace").strip()


def test_vsftpd_tls13_upload_with_drain(workdir, cert):
    """vsftpd (require_ssl_reuse=YES) takes a 4 MiB TLS 1.3 upload from a client that
    resumes the control session on the data connection and, at the end, sends
    close_notify and waits for the server's before closing."""
    p = _start("vsftpd", workdir, cert, name="vsftpd-drain")
    data = os.urandom(4 * MIB)
    try:
        ctx = tls_client_context()
        with socket.create_connection((p.host, p.port), timeout=20) as s:
            f = s.makefile("rb")
            assert _read_reply(f).startswith("220")
            s.sendall(b"AUTH TLS\r\n")
            assert _read_reply(f).startswith("234")
            t = ctx.wrap_socket(s)
            tf = t.makefile("rb")

            def cmd(line: str) -> str:
                t.sendall(line.encode() + b"\r\n")
                return _read_reply(tf)

            assert cmd(f"USER {USER}").startswith("331")
            assert cmd(f"PASS {PASSWORD}").startswith("230")
            assert cmd("PBSZ 0").startswith("200")
            assert cmd("PROT P").startswith("200")
            assert cmd("TYPE I").startswith("200")
            r = cmd("EPSV")
            port = int(re.search(r"\|\|\|(\d+)\|", r).group(1))
            d = socket.create_connection((p.host, port), timeout=20)
            assert cmd("STOR drained.bin").startswith("150")
            dt = ctx.wrap_socket(d, session=t.session)
            assert dt.version() == "TLSv1.3" and dt.session_reused
            dt.sendall(data)
            dt.unwrap()  # close_notify, then read until the server's close_notify
            d.close()
            final = _read_reply(tf)
            assert final.startswith("226"), f"{final}\n{p.log()[-6000:]}"
            cmd("QUIT")
        assert sha256((p.home / "drained.bin").read_bytes()) == sha256(data)
    finally:
        p.stop()

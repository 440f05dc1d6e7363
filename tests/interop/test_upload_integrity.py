"""An interrupted upload never costs the user the file that was there (issue 18).

A client killed mid-upload, a control connection closed mid-upload, ABOR, and a PROT P
data connection that ends without TLS close_notify: each leaves the previous file
byte-identical, keeps what arrived as a hidden partial that REST + STOR finishes, and
shows nothing else in the folder. The first tests measure that the real clients (curl,
lftp, Python's ftplib, ferry) end their PROT P uploads with close_notify: that is why
ferryd requires it by default (UPLOADCLOSENOTIFY REQUIRED).

Every test here but the client measurement fails on the ferryd before issue 18: it
committed a FIN-ended upload (the truncated data replaced keep.bin) and discarded the
data of an interrupted one (nothing to resume).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import _tool
from ftpwire import RawControl, RecordingFTP_TLS, close_data, sha256
from test_client_peers import Ferry, ferry_bin  # noqa: F401  (fixture)

KiB = 1024
MiB = 1024 * KiB
PARTIAL_PREFIX = ".ferry-upload-part."
WAIT = 20.0  # bound for every wait on the server below


def wait_for(what: str, cond, srv, timeout: float = WAIT):
    """Polls cond() until it is true; fails with the server log after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}; server log:\n{srv.log[-6000:]}",
                        pytrace=False)
        time.sleep(0.02)  # polling interval, bounded by the deadline


def visible(srv) -> list[str]:
    """What a user sees in the home folder (ferryd hides its own .ferry-upload-* names)."""
    return sorted(p.name for p in srv.home.iterdir() if not p.name.startswith(".ferry-upload-"))


def temp_files(srv) -> list[Path]:
    return [p for p in srv.home.iterdir()
            if p.name.startswith(".ferry-upload-") and not p.name.startswith(PARTIAL_PREFIX)]


def partial(srv, name: str) -> Path:
    return srv.home / (PARTIAL_PREFIX + name)


def upload_ended(srv, name: str, n: int) -> bool:
    """The server has logged the end of the n-th upload of /name."""
    return len(re.findall(rf"\] upload /{re.escape(name)} \d+ bytes .* -> \d+", srv.log)) >= n


def uploads_logged(srv, name: str) -> int:
    return len(re.findall(rf"\] upload /{re.escape(name)} \d+ bytes .* -> \d+", srv.log))


def growing_temp(srv, at_least: int) -> bool:
    return any(p.stat().st_size >= at_least for p in temp_files(srv) if p.exists())


def begin_stor(c: RawControl, name: str, prot: str = "P") -> socket.socket:
    """TYPE I, EPSV and STOR name on a logged-in control connection; returns the data socket."""
    c.expect("TYPE I", 200)
    port = c.epsv_port()
    c.send(f"STOR {name}")
    d = c.open_data(port, protect=prot == "P")
    assert c.reply().code in (125, 150)
    return d


def resume(srv, name: str, offset: int, rest: bytes, prot: str = "P") -> None:
    """REST offset + STOR name with the remaining bytes: finishes the kept partial."""
    with RawControl(srv.port) as c:
        c.login_tls(srv.user, srv.password, prot)
        c.expect(f"REST {offset}", 350)  # REST survives TYPE and EPSV
        d = begin_stor(c, name, prot)
        d.sendall(rest)
        close_data(d)
        r = c.reply()
        assert r.code == 226, r
        # The session answers SIZE after the upload is committed (NOOP would come first).
        assert c.expect(f"SIZE {name}", 213).text == f"213 {offset + len(rest)}"


@pytest.fixture(scope="module")
def new_data():
    return os.urandom(8 * MiB)


@pytest.fixture
def keep(ferryd):
    """keep.bin: the good file that an interrupted upload must leave alone."""
    for p in ferryd.home.iterdir():
        if p.is_file():
            p.unlink()
    old = os.urandom(1 * MiB)
    (ferryd.home / "keep.bin").write_bytes(old)
    return old


def listed(srv) -> list[str]:
    """NLST of the home folder, as a client sees it."""
    f = RecordingFTP_TLS().connect_login(srv.port, srv.user, srv.password)
    try:
        return sorted(f.nlst())
    finally:
        f.quit()


def fin_without_close_notify(d: socket.socket) -> None:
    """Ends a data connection with a bare TCP FIN: no TLS close_notify."""
    raw = socket.socket(fileno=d.detach()) if hasattr(d, "unwrap") else d
    raw.shutdown(socket.SHUT_WR)
    raw.close()


def assert_kept(srv, old: bytes, new: bytes, name: str = "keep.bin") -> int:
    """keep.bin unchanged, nothing else visible, the partial a prefix of the new data."""
    assert (srv.home / name).read_bytes() == old, \
        f"the previous file was changed; server log:\n{srv.log[-4000:]}"
    assert visible(srv) == [name], f"left visible in the folder: {visible(srv)}"
    assert listed(srv) == [name], f"a client sees: {listed(srv)}"
    assert not temp_files(srv), f"temporary files left: {temp_files(srv)}"
    part = partial(srv, name)
    assert part.exists(), f"no resumable partial kept; server log:\n{srv.log[-4000:]}"
    got = part.read_bytes()
    assert 0 < len(got) < len(new) and got == new[:len(got)], \
        f"the partial ({len(got)} bytes) is not a prefix of the upload"
    return len(got)


def finish_and_check(srv, new: bytes, kept: int, prot: str = "P", name: str = "keep.bin"):
    resume(srv, name, kept, new[kept:], prot)
    assert sha256((srv.home / name).read_bytes()) == sha256(new), "resumed upload differs"
    assert not partial(srv, name).exists(), "the partial is still there after the upload finished"
    assert visible(srv) == [name]


# --------------------------------------------------------------------------
# Which real clients end a PROT P upload with close_notify (the measurement behind
# UPLOADCLOSENOTIFY REQUIRED)


def _upload_with(client: str, srv, src: Path, name: str, tmp_path: Path, ferry_bin) -> None:
    if client == "curl":
        argv = [_tool("curl"), "-sS", "--ssl-reqd", "--insecure", "--max-time", "60",
                "--user", f"{srv.user}:{srv.password}", "-T", str(src), srv.url(name)]
    elif client == "lftp":
        script = tmp_path / "put.lftp"
        script.write_text("\n".join([
            "set cmd:fail-exit yes", "set net:max-retries 1", "set ftp:ssl-force true",
            "set ftp:ssl-protect-data true", "set ssl:verify-certificate no",
            f"open -u {srv.user},{srv.password} -p {srv.port} ftp://{srv.host}",
            f"put {src} -o {name}"]) + "\n")
        argv = [_tool("lftp"), "--norc", "-f", str(script)]
    elif client == "ftplib":
        argv = ["python3", "-c", (
            "import ftplib,ssl,sys\n"
            "c=ssl.create_default_context();c.check_hostname=False;c.verify_mode=ssl.CERT_NONE\n"
            "f=ftplib.FTP_TLS(context=c,timeout=30)\n"
            f"f.connect('{srv.host}',{srv.port});f.login('{srv.user}','{srv.password}');f.prot_p()\n"
            f"r=f.storbinary('STOR {name}',open('{src}','rb'));f.quit();sys.exit(0 if r.startswith('226') else 1)\n")]
    else:
        argv = [str(ferry_bin), "--insecure", "put", str(src),
                f"ftp://{srv.user}:{srv.password}@{srv.host}:{srv.port}/{name}"]
    p = subprocess.run(argv, capture_output=True, timeout=90, cwd=tmp_path,
                       env=dict(os.environ, HOME=str(tmp_path)))
    assert p.returncode == 0, f"{client} upload failed: {p.stderr.decode(errors='replace')[-3000:]}" \
                              f"\nserver log:\n{srv.log[-3000:]}"


@pytest.mark.parametrize("client", ["curl", "lftp", "ftplib", "ferry"])
def test_real_clients_end_prot_p_uploads_with_close_notify(ferryd, tmp_path, client, ferry_bin):
    """Each client's PROT P upload is stored under the default UPLOADCLOSENOTIFY REQUIRED,
    and the server saw its close_notify (never logged an upload that ended without one)."""
    data = os.urandom(3 * MiB + 17)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    name = f"measure-{client}.bin"
    _upload_with(client, ferryd, src, name, tmp_path, ferry_bin)
    assert (ferryd.home / name).read_bytes() == data
    assert not re.search(rf"upload of /{name} ended without TLS close_notify", ferryd.log), \
        f"{client} ended its upload without close_notify:\n{ferryd.log[-3000:]}"


# --------------------------------------------------------------------------
# Interrupted uploads


@pytest.mark.parametrize("prot", ["P", "C"])
def test_client_killed_mid_upload_keeps_the_old_file(ferryd, keep, new_data, tmp_path, prot):
    """curl is killed (SIGKILL) while it uploads a replacement of keep.bin: keep.bin stays
    byte-identical, the bytes that arrived are kept as a partial, and REST + STOR finishes it.
    (Before issue 18 the truncated PROT P upload replaced keep.bin; a PROT C one was committed
    or discarded depending on which connection's FIN the server read first.)"""
    src = tmp_path / "new.bin"
    src.write_bytes(new_data)
    before = uploads_logged(ferryd, "keep.bin")
    argv = [_tool("curl"), "-sS", "--max-time", "60", "--limit-rate", "1M",
            "--user", f"{ferryd.user}:{ferryd.password}", "-T", str(src), ferryd.url("keep.bin")]
    if prot == "P":
        argv[1:1] = ["--ssl-reqd", "--insecure"]
    curl = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        wait_for("the upload to be under way", lambda: growing_temp(ferryd, 128 * KiB), ferryd)
        curl.send_signal(signal.SIGKILL)
        curl.wait(timeout=WAIT)
    finally:
        if curl.poll() is None:
            curl.kill()
            curl.wait(timeout=WAIT)
    wait_for("the server to end the upload", lambda: uploads_logged(ferryd, "keep.bin") > before, ferryd)
    kept = assert_kept(ferryd, keep, new_data)
    finish_and_check(ferryd, new_data, kept, prot)


@pytest.mark.parametrize("prot", ["P", "C"])
def test_control_connection_closed_mid_upload_keeps_the_old_file(ferryd, keep, new_data, prot):
    """The client closes its control connection while its upload is still sending: the
    upload is not committed, keep.bin stays, and what arrived can be resumed.
    (Before issue 18 what arrived was discarded.)"""
    before = uploads_logged(ferryd, "keep.bin")
    c = RawControl(ferryd.port)
    c.login_tls(ferryd.user, ferryd.password, prot)
    d = begin_stor(c, "keep.bin", prot)
    d.sendall(new_data[:1 * MiB])
    wait_for("the upload to be under way", lambda: growing_temp(ferryd, 128 * KiB), ferryd)
    c.close()
    try:
        wait_for("the server to end the upload", lambda: uploads_logged(ferryd, "keep.bin") > before, ferryd)
    finally:
        d.close()
    kept = assert_kept(ferryd, keep, new_data)
    finish_and_check(ferryd, new_data, kept, prot)


def test_abor_mid_upload_keeps_the_old_file(ferryd, keep, new_data):
    """ABOR during STOR never commits: 426 for the upload, 226 for the ABOR, keep.bin
    unchanged and the received bytes resumable. (Before issue 18 they were discarded.)"""
    with RawControl(ferryd.port) as c:
        c.login_tls(ferryd.user, ferryd.password)
        d = begin_stor(c, "keep.bin")
        d.sendall(new_data[:1 * MiB])
        wait_for("the upload to be under way", lambda: growing_temp(ferryd, 256 * KiB), ferryd)
        c.send("ABOR")
        r = c.reply()
        assert r.code == 426, r
        assert re.search(r"(\d+) bytes kept; REST \1 and STOR /keep.bin resume", r.text), r
        assert c.reply().code == 226
        d.close()
        kept = assert_kept(ferryd, keep, new_data)
        assert f"{kept} bytes kept" in r.text
    finish_and_check(ferryd, new_data, kept)


def test_prot_p_upload_without_close_notify_is_kept_as_a_partial(ferryd, keep, new_data):
    """A PROT P upload whose data connection ends with a bare FIN (no close_notify) is not
    committed under UPLOADCLOSENOTIFY REQUIRED, the default: 426, keep.bin unchanged, all the
    bytes kept; REST + STOR with nothing more then commits them. (Before issue 18: 226 and
    keep.bin replaced by whatever arrived.)"""
    data = new_data[:3 * MiB]
    with RawControl(ferryd.port) as c:
        c.login_tls(ferryd.user, ferryd.password)
        d = begin_stor(c, "keep.bin")
        d.sendall(data)
        fin_without_close_notify(d)
        r = c.reply()
        assert r.code == 426 and "without TLS close_notify" in r.text, r
        assert f"{len(data)} bytes kept" in r.text, r
    kept = assert_kept(ferryd, keep, data + b"more")
    assert kept == len(data)
    # A REST beyond what was kept is refused with the size that was kept.
    with RawControl(ferryd.port) as c:
        c.login_tls(ferryd.user, ferryd.password)
        c.expect("TYPE I", 200)
        c.expect(f"REST {kept + 1}", 350)
        r = c.expect("STOR keep.bin", 550)
        assert f"beyond the {kept} bytes kept" in r.text, r
    finish_and_check(ferryd, data, kept)


def test_fin_ended_upload_is_committed_when_the_client_is_there(ferryd_factory, new_data):
    """UPLOADCLOSENOTIFY OPTIONAL: the same bare-FIN upload is stored (226) because the client
    is still there to acknowledge the reply; so is a PROT C upload under the default; and a
    SIZE sent right after the 226 already sees the new file."""
    srv = ferryd_factory("lenient", overrides={"UPLOADCLOSENOTIFY": "OPTIONAL"})
    data = new_data[:2 * MiB]
    for prot in ("P", "C"):
        (srv.home / "keep.bin").write_bytes(b"old")
        with RawControl(srv.port) as c:
            c.login_tls(srv.user, srv.password, prot)
            d = begin_stor(c, "keep.bin", prot)
            d.sendall(data)
            fin_without_close_notify(d)
            r = c.reply()
            assert r.code == 226, r
            assert c.expect("SIZE keep.bin", 213).text == f"213 {len(data)}"
        assert (srv.home / "keep.bin").read_bytes() == data
        assert visible(srv) == ["keep.bin"] and not partial(srv, "keep.bin").exists()

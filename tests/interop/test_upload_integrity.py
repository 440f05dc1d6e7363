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
from ftpwire import RawControl, abort_socket, close_data, sha256
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


def resume(srv, name: str, offset: int, rest: bytes, prot: str = "P") -> None:
    """REST offset + STOR name with the remaining bytes: finishes the kept partial."""
    with RawControl(srv.port) as c:
        c.login_tls(srv.user, srv.password, prot)
        c.expect("TYPE I", 200)
        port = c.epsv_port()
        c.expect(f"REST {offset}", 350)
        c.send(f"STOR {name}")
        d = c.open_data(port, protect=prot == "P")
        assert c.reply().code in (125, 150)
        d.sendall(rest)
        close_data(d)
        r = c.reply()
        assert r.code == 226, r


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


def assert_kept(srv, old: bytes, new: bytes, name: str = "keep.bin") -> int:
    """keep.bin unchanged, nothing else visible, the partial a prefix of the new data."""
    assert (srv.home / name).read_bytes() == old, "the previous file was changed"
    assert visible(srv) == [name], f"left visible in the folder: {visible(srv)}"
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

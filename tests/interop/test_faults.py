"""Faults, with nothing lost (issue 12): every file checked by its SHA-256 on disk.

Client-side breaks of an upload (client killed, control connection closed, ABOR, a PROT P
upload ended without close_notify) and the REST + STOR that finishes each are in
test_upload_integrity.py; this file adds the faults of the server and its surroundings:

- the server killed (SIGKILL) mid-upload: the old file intact, the stale temporary removed at
  the next start; a kept partial survives the restart and REST + STOR finishes it;
- a full disk (a tmpfs mounted in ferryd's own mount namespace): 452/552 at once, the old file
  intact, the space given back;
- the server killed mid-download: `ferry get` leaves the existing local file alone and
  `ferry get -c` resumes to an identical file;
- SIGTERM: running transfers finish within SHUTDOWNGRACE, new connections are refused, exit 0;
- SIGHUP: configuration, users and certificate reloaded, a running transfer not dropped;
- a home folder removed under a session, a file replaced or truncated during its download and a
  descriptor table filled by other connections: a clear reply each, and the server serves on.

Every wait is a poll with a deadline; every process started here is bounded and stopped.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from conftest import _LIVE, PASSWORD, SANITIZER_REPORT, _tool, wait_until
from ftpwire import RawControl, close_data, recv_all, sha256
from test_client_peers import ferry_bin  # noqa: F401  (fixture)
from test_upload_integrity import begin_stor, partial, temp_files, visible

KiB = 1024
MiB = 1024 * KiB
WAIT = 15.0  # bound for every wait below


def retire(factory, srv) -> None:
    """A server a test stopped (or let exit) on purpose: not reported as crashed at module end,
    but a sanitizer report in its log still fails the test."""
    srv.stop()
    if srv in factory.servers:
        factory.servers.remove(srv)
    if srv in _LIVE:
        _LIVE.remove(srv)
    assert not SANITIZER_REPORT.search(srv.log), srv.log[-20000:]


def kill9(srv) -> None:
    srv.proc.send_signal(signal.SIGKILL)
    srv.proc.wait(timeout=WAIT)
    if srv._log_file:
        srv._log_file.close()
        srv._log_file = None


def store(srv, name: str, data: bytes, user: str | None = None, prot: str = "P") -> None:
    """A whole upload on a fresh session; requires 226."""
    with RawControl(srv.port, timeout=WAIT) as c:
        c.login_tls(user or srv.user, srv.password, prot)
        d = begin_stor(c, name, prot)
        d.sendall(data)
        close_data(d)
        r = c.reply()
        assert r.code == 226, r


def fetch(srv, name: str, user: str | None = None, prot: str = "P") -> bytes:
    with RawControl(srv.port, timeout=WAIT) as c:
        c.login_tls(user or srv.user, srv.password, prot)
        c.expect("TYPE I", 200)
        port = c.epsv_port()
        c.send(f"RETR {name}")
        d = c.open_data(port, protect=prot == "P")
        assert c.reply().code in (125, 150)
        got = recv_all(d)
        close_data(d)
        r = c.reply()
        assert r.code == 226, r
        return got


def refused(port: int) -> bool:
    """No new connection gets through. A SYN that meets the listener as it closes is answered
    with a reset instead of ECONNREFUSED: a refusal too."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return False
    except (ConnectionRefusedError, ConnectionResetError):
        return True


def users_file(d: Path, pki, names: list[str]) -> Path:
    """A users file with one home per name below d (same password as alice's)."""
    lines = []
    for n in names:
        (d / f"home-{n}").mkdir(exist_ok=True)
        lines.append(f"{n}:{pki['hash']}:{d / f'home-{n}'}")
    p = d / "users"
    p.write_text("\n".join(lines) + "\n")
    return p


# --------------------------------------------------------------------------
# Server killed mid-upload; REST + STOR across a restart



def upload_under_way(c: RawControl, srv, name: str, data: bytes):
    """Starts STOR name, sends its first 2 MiB and waits until the server has written 512 KiB of
    them to the upload's temporary file; returns the data connection."""
    d = begin_stor(c, name)
    d.sendall(data[:2 * MiB])
    wait_until(lambda: any(p.stat().st_size >= 512 * KiB for p in temp_files(srv) if p.exists()),
               "the upload to be under way", WAIT)
    return d

def test_server_killed_mid_upload_keeps_the_old_file(ferryd_factory):
    """SIGKILL while a replacement of keep.bin is arriving: keep.bin is byte-identical after the
    kill, the only trace is a hidden temporary, and the restarted server removes it (and says so)
    while a client sees keep.bin alone. Would fail if uploads were written in place (the
    truncated new data would be keep.bin) or if start-up left temporaries behind."""
    srv = ferryd_factory("killed")
    old, new = os.urandom(1 * MiB), os.urandom(8 * MiB)
    (srv.home / "keep.bin").write_bytes(old)
    c = RawControl(srv.port, timeout=WAIT)
    try:
        c.login_tls(srv.user, srv.password)
        d = upload_under_way(c, srv, "keep.bin", new)
        kill9(srv)
    finally:
        c.close()
    assert sha256((srv.home / "keep.bin").read_bytes()) == sha256(old), "keep.bin changed by the killed upload"
    stale = temp_files(srv)
    assert stale, "no temporary left by the killed upload (was it written in place?)"
    srv.start()
    assert "removed 1 stale upload file(s)" in srv.log, srv.log[-3000:]
    assert not any(p.exists() for p in stale), f"stale temporaries still there: {stale}"
    assert visible(srv) == ["keep.bin"]
    assert sha256(fetch(srv, "keep.bin")) == sha256(old)


def test_rest_stor_resumes_a_stalled_upload_across_a_restart(ferryd_factory):
    """An upload that stalls (the client stops sending) gets 426 after DATACTTIME naming the
    bytes kept; the server is then killed and restarted: the partial survives start-up (only
    temporaries are removed), and REST <kept> + STOR with the rest, exactly as the 426 says,
    gives a file byte-identical to the source while the old file stayed intact until then."""
    srv = ferryd_factory("stall", overrides={"DATACTTIME": "1"})
    old, new = os.urandom(256 * KiB), os.urandom(4 * MiB + 123)
    (srv.home / "doc.bin").write_bytes(old)
    with RawControl(srv.port, timeout=WAIT) as c:
        c.login_tls(srv.user, srv.password)
        d = begin_stor(c, "doc.bin")
        d.sendall(new[:1 * MiB + 7])
        r = c.reply()  # the server's stall limit ends it; the socket timeout bounds the wait
        assert r.code == 426, r
        m = re.search(r"(\d+) bytes kept; REST \1 and STOR /doc.bin resume", r.text)
        assert m, r
        kept = int(m.group(1))
        d.close()
    assert 0 < kept <= 1 * MiB + 7
    assert (srv.home / "doc.bin").read_bytes() == old
    kill9(srv)
    srv.start()
    assert partial(srv, "doc.bin").stat().st_size == kept, "the partial did not survive the restart"
    with RawControl(srv.port, timeout=WAIT) as c:
        c.login_tls(srv.user, srv.password)
        c.expect(f"REST {kept}", 350)
        d = begin_stor(c, "doc.bin")
        d.sendall(new[kept:])
        close_data(d)
        assert c.reply().code == 226
    assert sha256((srv.home / "doc.bin").read_bytes()) == sha256(new), "resumed upload differs"
    assert not partial(srv, "doc.bin").exists()
    assert visible(srv) == ["doc.bin"]


# --------------------------------------------------------------------------
# Disk full


# ferryd runs in a mount namespace of its own where its home folder is a 6 MiB tmpfs: nothing to
# unmount afterwards (the namespace, and the mount, end with the process), nothing seen outside.
TMPFS_WRAPPER = [_tool("unshare") if os.path.exists("/usr/bin/unshare") else "unshare", "-m",
                 "--propagation", "private", "--", "sh", "-c",
                 'home="$(dirname "$3")/home" && mount -t tmpfs -o size=6m,mode=0755 ferry-faults "$home" '
                 '&& exec "$@"', "sh"]


def test_disk_full_upload_gets_452_at_once_and_gives_the_space_back(ferryd_factory):
    """An upload larger than the free space: the reply is 452 (or 552) within seconds, not a hang;
    keep.bin (being replaced) is byte-identical; the file system's free space is what it was
    before the upload (the temporary is removed); a smaller upload then succeeds."""
    srv = ferryd_factory("diskfull", wrapper=TMPFS_WRAPPER)
    home = Path(f"/proc/{srv.proc.pid}/root") / str(srv.home).lstrip("/")
    assert os.statvfs(home).f_blocks * os.statvfs(home).f_frsize <= 6 * MiB, "the home is not the tmpfs"
    old = os.urandom(1 * MiB)
    (home / "keep.bin").write_bytes(old)

    def free() -> int:
        st = os.statvfs(home)
        return st.f_bfree * st.f_frsize

    before = free()
    with RawControl(srv.port, timeout=WAIT) as c:
        c.login_tls(srv.user, srv.password)
        d = begin_stor(c, "keep.bin")
        started = time.monotonic()
        try:
            d.sendall(os.urandom(12 * MiB))
            close_data(d)
        except OSError:
            pass  # the server dropped the data connection at ENOSPC
        finally:
            d.close()
        r = c.reply()
        took = time.monotonic() - started
        assert r.code in (452, 552), r
        assert took < 10, f"the disk-full reply took {took:.1f} s"
        assert "No space" in r.text, r
        c.expect("NOOP", 200)
    assert sha256((home / "keep.bin").read_bytes()) == sha256(old), "keep.bin damaged by the failed upload"
    assert sorted(p.name for p in home.iterdir()) == ["keep.bin"], list(home.iterdir())
    wait_until(lambda: free() == before, f"the free space to come back to {before} (now {free()})", 5)
    store(srv, "small.bin", b"s" * (2 * MiB))
    assert (home / "small.bin").stat().st_size == 2 * MiB


# --------------------------------------------------------------------------
# Download broken by a server kill: ferry get, then get -c


def test_server_killed_mid_download_keeps_the_local_file_and_get_c_resumes(ferryd_factory, ferry_bin, tmp_path):
    """`ferry get` of a 48 MiB file into an existing local file; ferry is paused as the first
    bytes arrive and the server is killed: ferry fails, the local file is byte-identical to what it was, the
    bytes received are in LOCAL.ferry-part; after a restart `ferry get -c` resumes from there
    (REST with the part's size) and the local file is byte-identical to the server's."""
    srv = ferryd_factory("download")
    remote = os.urandom(48 * MiB)
    (srv.home / "big.bin").write_bytes(remote)
    local = tmp_path / "big.bin"
    mine = b"my own local copy\n" * 1000
    local.write_bytes(mine)
    url = f"ftp://{srv.user}:{PASSWORD}@{srv.host}:{srv.port}/big.bin"
    env = dict(os.environ, HOME=str(tmp_path), LC_ALL="C.UTF-8", TERM="dumb")
    p = subprocess.Popen([str(ferry_bin), "--insecure", "-v", "get", url, str(local)], cwd=tmp_path, env=env,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = []
    reader = threading.Thread(target=lambda: err.extend(line.decode(errors="replace") for line in p.stderr),
                              daemon=True)
    reader.start()
    part = tmp_path / "big.bin.ferry-part"
    try:
        # Paused as soon as the first bytes are on its disk (a tight poll: the whole download takes
        # well under a second), then the server is killed with the rest in flight.
        deadline = time.monotonic() + WAIT
        while not (part.exists() and part.stat().st_size > 0):
            assert time.monotonic() < deadline and p.poll() is None, "the download never started:\n" + "".join(err)
        os.kill(p.pid, signal.SIGSTOP)
        kill9(srv)
        os.kill(p.pid, signal.SIGCONT)
        rc = p.wait(timeout=WAIT)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=WAIT)
        reader.join(WAIT)
    out = "".join(err)
    assert rc != 0, out
    assert local.read_bytes() == mine, "the existing local file was changed by the broken download"
    assert part.exists(), out
    got = part.read_bytes()
    assert 0 < len(got) < len(remote) and got == remote[:len(got)], f"partial of {len(got)} bytes"
    assert "get -c" in out, out  # ferry tells how to resume
    srv.start()
    r = subprocess.run([str(ferry_bin), "--insecure", "-v", "get", "-c", url, str(local)], cwd=tmp_path, env=env,
                       stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    out = r.stderr.decode(errors="replace")
    assert r.returncode == 0, out
    assert f">>> REST {len(got)}" in out, out
    assert sha256(local.read_bytes()) == sha256(remote), "resumed download differs"
    assert not part.exists()


# --------------------------------------------------------------------------
# SIGTERM and SHUTDOWNGRACE


def test_sigterm_lets_a_running_upload_finish_then_exits_0(ferryd_factory):
    """SIGTERM during an upload (SHUTDOWNGRACE 20): new connections are refused at once, the
    upload goes on and gets 226 with the file stored whole, and ferryd then exits 0 without
    waiting for the idle session (well before the grace ends). Before SHUTDOWNGRACE, ferryd
    stopped at once and the upload was lost."""
    srv = ferryd_factory("grace", overrides={"SHUTDOWNGRACE": "20"})
    data = os.urandom(6 * MiB)
    c = RawControl(srv.port, timeout=WAIT)
    try:
        c.login_tls(srv.user, srv.password)
        d = upload_under_way(c, srv, "up.bin", data)
        srv.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: refused(srv.port), "new connections refused after SIGTERM", WAIT)
        assert refused(srv.tls_port), "the implicit TLS port still accepts"
        assert srv.alive, "ferryd did not wait for the running upload"
        d.sendall(data[2 * MiB:])
        close_data(d)
        r = c.reply()
        assert r.code == 226, r
        ended = time.monotonic()
        rc = srv.proc.wait(timeout=WAIT)
        assert time.monotonic() - ended < 5, "ferryd waited for an idle session"
        assert rc == 0, srv.log[-3000:]
    finally:
        c.close()
        retire(ferryd_factory, srv)
    assert sha256((srv.home / "up.bin").read_bytes()) == sha256(data)
    assert "waiting up to 20 s" in srv.log, srv.log[-3000:]


def test_sigterm_grace_ends_a_stalled_upload_without_damage(ferryd_factory):
    """A transfer that does not finish within SHUTDOWNGRACE (1 s): ferryd exits 0 soon after the
    grace, and the file being replaced is byte-identical."""
    srv = ferryd_factory("grace-short", overrides={"SHUTDOWNGRACE": "1"})
    old = os.urandom(64 * KiB)
    (srv.home / "keep.bin").write_bytes(old)
    c = RawControl(srv.port, timeout=WAIT)
    try:
        c.login_tls(srv.user, srv.password)
        d = begin_stor(c, "keep.bin")
        d.sendall(os.urandom(1 * MiB))
        wait_until(lambda: any(p.stat().st_size >= 256 * KiB for p in temp_files(srv) if p.exists()),
                   "the upload to be under way", WAIT)
        sent = time.monotonic()
        srv.proc.send_signal(signal.SIGTERM)
        rc = srv.proc.wait(timeout=WAIT)
        took = time.monotonic() - sent
        assert rc == 0, srv.log[-3000:]
        assert 0.9 < took < 6, f"exited {took:.1f} s after SIGTERM (grace 1 s)"
        d.close()
    finally:
        c.close()
        retire(ferryd_factory, srv)
    assert (srv.home / "keep.bin").read_bytes() == old


# --------------------------------------------------------------------------
# SIGHUP


def _make_cert(d: Path, cn: str) -> tuple[Path, bytes]:
    """A new self-signed certificate + key in one PEM; returns it and the certificate's DER."""
    openssl = _tool("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", f"/CN={cn}", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(d / f"{cn}.key"), "-out", str(d / f"{cn}.crt")],
                   check=True, capture_output=True, timeout=30)
    der = subprocess.run([openssl, "x509", "-in", str(d / f"{cn}.crt"), "-outform", "DER"], check=True,
                         capture_output=True, timeout=30).stdout
    pem = d / f"{cn}.pem"
    pem.write_bytes((d / f"{cn}.crt").read_bytes() + (d / f"{cn}.key").read_bytes())
    pem.chmod(0o600)
    return pem, der


def _peer_cert(srv) -> bytes:
    with RawControl(srv.port, timeout=WAIT) as c:
        c.starttls()
        return c.sock.getpeercert(binary_form=True)


def test_sighup_reloads_config_users_and_certificate_without_dropping_a_session(ferryd_factory, pki,
                                                                               tmp_path_factory):
    """SIGHUP while a PROT C upload runs: the upload continues and is stored whole (226, same
    SHA-256); a new session gets the new certificate, user bob added to the USERS file can log
    in, and the new SECURE_DATACONN PRIVATE refuses PROT C to new sessions. A configuration that
    no longer loads is refused with a logged reason, and the server keeps the last good one.
    Before this change SIGHUP reloaded the certificate only: bob got 530 and PROT C was still
    allowed."""
    d = tmp_path_factory.mktemp("hup")
    keyring, _ = _make_cert(d, "first")
    users = users_file(d, pki, ["alice"])
    srv = ferryd_factory("hup", overrides={"KEYRING": str(keyring), "USERS": str(users)})
    home = d / "home-alice"
    data = os.urandom(4 * MiB)
    c = RawControl(srv.port, timeout=WAIT)
    try:
        c.login_tls(srv.user, srv.password, "C")
        up = begin_stor(c, "during.bin", "C")
        up.sendall(data[:1 * MiB])
        # The new certificate, user and statement, all in place before the signal.
        new_pem, new_der = _make_cert(d, "second")
        keyring.write_bytes(new_pem.read_bytes())
        # bob's home inside a folder the sandbox allowed at start (a new folder elsewhere would
        # need a restart: Landlock only narrows).
        (home / "bob").mkdir()
        users.write_text(users.read_text() + f"bob:{pki['hash']}:{home / 'bob'}\n")
        srv.config_path.write_text(srv.config_path.read_text().replace("SECURE_DATACONN CLEAR",
                                                                       "SECURE_DATACONN PRIVATE"))
        srv.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: "SIGHUP: configuration reloaded" in srv.log, "the reload to be logged", WAIT)
        up.sendall(data[1 * MiB:])
        close_data(up)
        r = c.reply()
        assert r.code == 226, r
        c.expect("NOOP", 200)
    finally:
        c.close()
    assert sha256((home / "during.bin").read_bytes()) == sha256(data)
    assert _peer_cert(srv) == new_der, "a new session did not get the new certificate"
    with RawControl(srv.port, timeout=WAIT) as b:
        b.login_tls("bob", PASSWORD, "P")
        r = b.cmd("PROT C")
        assert r.code // 100 == 5, f"PROT C allowed after SECURE_DATACONN PRIVATE was loaded: {r}"
    store(srv, "bob.bin", b"bob's file", user="bob")
    assert (home / "bob" / "bob.bin").read_bytes() == b"bob's file"
    # A broken configuration: refused, the server keeps serving with the last good one.
    good = srv.config_path.read_text()
    srv.config_path.write_text(good + "NOSUCHSTATEMENT 1\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP: configuration not reloaded" in srv.log, "the refusal to be logged", WAIT)
    store(srv, "after.bin", b"still serving", user="bob")
    srv.config_path.write_text(good)


# --------------------------------------------------------------------------
# Home folder gone, file replaced during its download, descriptors exhausted


@pytest.mark.parametrize("sandbox", ["default", "OFF"])
def test_home_folder_removed_under_a_session(ferryd_factory, pki, tmp_path_factory, sandbox):
    """alice's home folder is removed while she is logged in (as root, permission bits would not
    stop ferryd): her RETR and STOR get a clear 5xx, not a crash or a hang; bob is served as
    before; a fresh login of alice gets 530 while the folder is missing (before the fix it got
    230: the shared home cache handed it the removed folder the old session still held open).
    Once an administrator makes the folder again, a fresh login never gets a 226 for an upload
    that is not on disk: without the sandbox it lands in the new folder; under the sandbox
    (Landlock allowed the folder that was there at start, not its replacement) it gets a clear
    550 until ferryd restarts."""
    d = tmp_path_factory.mktemp("gone")
    users = users_file(d, pki, ["alice", "bob"])
    overrides = {"USERS": str(users)}
    if sandbox == "OFF":
        overrides["SANDBOX"] = "OFF"
    srv = ferryd_factory(f"home-gone-{sandbox}", overrides=overrides)
    confined = sandbox != "OFF" and "SANDBOX OFF" not in srv.log
    home = d / "home-alice"
    (home / "a.bin").write_bytes(b"a" * 1000)
    (d / "home-bob" / "b.bin").write_bytes(b"b" * 1000)
    with RawControl(srv.port, timeout=WAIT) as a:
        a.login_tls("alice", PASSWORD)
        a.expect("TYPE I", 200)
        (home / "a.bin").unlink()
        home.rmdir()
        a.epsv_port()
        r = a.cmd("RETR a.bin")
        assert r.code // 100 == 5 and "No such file" in r.text, r
        a.epsv_port()
        r = a.cmd("STOR new.bin")
        assert r.code // 100 in (4, 5) and r.code != 150, r
        assert fetch(srv, "b.bin", user="bob") == b"b" * 1000
        with RawControl(srv.port, timeout=WAIT) as again:
            again.starttls()
            again.expect("USER alice", 331)
            again.expect(f"PASS {PASSWORD}", 530)
        home.mkdir()
        with RawControl(srv.port, timeout=WAIT) as fresh:
            fresh.login_tls("alice", PASSWORD)
            fresh.expect("TYPE I", 200)
            port = fresh.epsv_port()
            r = fresh.cmd("STOR back.bin")
            if confined:
                assert r.code == 550 and "Permission denied" in r.text, r
            else:
                assert r.code in (125, 150), r
                dsock = fresh.open_data(port, protect=True)
                dsock.sendall(b"x" * 5000)
                close_data(dsock)
                assert fresh.reply().code == 226
                assert (home / "back.bin").read_bytes() == b"x" * 5000, \
                    "the upload of a fresh login went to the removed folder"
        a.expect("NOOP", 200)
    assert fetch(srv, "b.bin", user="bob") == b"b" * 1000


@pytest.mark.parametrize("prot", ["P", "C"])
def test_file_replaced_or_truncated_during_its_download(ferryd, prot):
    """A file renamed over during its download: the client gets 226 and exactly the old bytes
    (the download reads the file it opened). A file truncated in place during its download: 451,
    never a 226 on fewer bytes than the file had (before the fix: 226 and a short file, silently).
    The session then downloads the new content."""
    old = os.urandom(32 * MiB)
    (ferryd.home / "moving.bin").write_bytes(old)
    with RawControl(ferryd.port, timeout=WAIT) as c:
        c.login_tls(ferryd.user, ferryd.password, prot)
        c.expect("TYPE I", 200)
        # Renamed over: the old content, whole.
        port = c.epsv_port()
        c.send("RETR moving.bin")
        dsock = c.open_data(port, protect=prot == "P")
        assert c.reply().code in (125, 150)
        first = b""
        while len(first) < 1 * MiB:
            first += dsock.recv(1 * MiB - len(first))
        (ferryd.home / "new.tmp").write_bytes(b"new content")
        os.replace(ferryd.home / "new.tmp", ferryd.home / "moving.bin")
        got = first + recv_all(dsock)
        close_data(dsock)
        r = c.reply()
        assert r.code == 226, r
        assert sha256(got) == sha256(old), f"{len(got)} bytes, not the old file's"
        # Truncated in place: no 226 on a short file.
        (ferryd.home / "moving.bin").write_bytes(old)
        port = c.epsv_port()
        c.send("RETR moving.bin")
        dsock = c.open_data(port, protect=prot == "P")
        assert c.reply().code in (125, 150)
        first = b""
        while len(first) < 1 * MiB:
            first += dsock.recv(1 * MiB - len(first))
        with open(ferryd.home / "moving.bin", "r+b") as f:
            f.truncate(2 * MiB)
        try:
            got = first + recv_all(dsock)
            close_data(dsock)
        except OSError:
            got = None
        r = c.reply()
        assert r.code == 451 and "changed" in r.text, \
            f"{r} after {len(got) if got is not None else '?'} of {len(old)} bytes"
        c.expect("NOOP", 200)
    assert fetch(ferryd, "moving.bin", prot=prot) == old[:2 * MiB]


def test_descriptor_table_filled_by_other_connections(ferryd_factory):
    """ferryd started with RLIMIT_NOFILE 64 (prlimit): 60 more connections fill its table; each
    gets a greeting, 220 or a clear 421 'Server busy', never a silent close or a hang; a session
    logged in before the flood still completes a download (its descriptors come from the
    reserve); once the flood ends a fresh login + upload + download works."""
    srv = ferryd_factory("nofile", wrapper=[_tool("prlimit"), "--nofile=64:64", "--"])
    (srv.home / "f.bin").write_bytes(os.urandom(256 * KiB))
    early = RawControl(srv.port, timeout=WAIT)
    flood: list[socket.socket] = []
    try:
        early.login_tls(srv.user, srv.password)
        codes = []
        for _ in range(60):
            s = socket.create_connection(("127.0.0.1", srv.port), timeout=WAIT)
            s.settimeout(WAIT)
            flood.append(s)
            buf = b""
            while b"\r\n" not in buf:
                chunk = s.recv(4096)
                assert chunk, f"connection {len(flood)} closed without a reply"
                buf += chunk
            codes.append(int(buf[:3]))
            assert codes[-1] in (220, 421), buf
            if codes[-1] == 421:
                assert b"Server busy" in buf, buf
        assert 421 in codes, f"the table never filled: {codes}"
        # The logged-in session still transfers.
        early.expect("TYPE I", 200)
        port = early.epsv_port()
        early.send("RETR f.bin")
        dsock = early.open_data(port, protect=True)
        assert early.reply().code in (125, 150)
        got = recv_all(dsock)
        close_data(dsock)
        assert early.reply().code == 226
        assert got == (srv.home / "f.bin").read_bytes()
    finally:
        for s in flood:
            s.close()
        early.close()

    def greets() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", srv.port), timeout=2) as s:
                s.settimeout(2)
                return s.recv(4)[:3] == b"220"
        except OSError:
            return False

    wait_until(greets, "a new connection greeted once the flood ended", WAIT)
    store(srv, "after.bin", b"z" * 100_000)
    assert fetch(srv, "after.bin") == b"z" * 100_000
    assert srv.alive

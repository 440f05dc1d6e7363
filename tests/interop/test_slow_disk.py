"""Nothing blocks an event thread (issue 10): single-file disk work on a slow file system.

A folder of the home is a FUSE mount (slow_fs.py) whose getattr and open each take DELAY
seconds. While one session waits on it (SIZE, MDTM, MLST, CWD, RETR's open, STOR's, a login
whose home is on it), every other session still gets its NOOP answered at once: the wait is on
ferryd's disk pool, not on the event thread that serves them. ferryd runs one event thread per
core and hands the sessions of a listener to them in turn, so of as many sessions as cores,
opened in a row, one shares the waiting session's thread; all of them are asked.

Also: a FIFO (named pipe) in the home is refused with 550 by RETR, STOR and APPE at once (an
open would wait forever for the other end).
"""
from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest

from conftest import PASSWORD
from ftpwire import RawControl, recv_all
from slow_fs import SlowMount

pytestmark = pytest.mark.ferryd_only("a FUSE mount and ferryd's event threads")

DELAY = 2.0          # each getattr/open on the slow mount
NOOP_BOUND = 0.5     # far below one stall, far above a loaded machine's round trip
DATA = b"line of text\n" * 5000


@pytest.fixture(scope="module")
def slow(ferryd_factory, tmp_path_factory):
    """ferryd with alice's home holding slow/ (the slow mount); bob's home is on it."""
    t = tmp_path_factory.mktemp("slowdisk")
    src = t / "src"
    (src / "sub").mkdir(parents=True)
    (src / "bobhome").mkdir()
    (src / "data.txt").write_bytes(DATA)
    home = t / "alice"
    home.mkdir()
    os.mkfifo(home / "pipe")
    # Quick until ferryd has started (it walks the homes for stale uploads), then slow.
    mount = SlowMount(src, home / "slow", DELAY, events=t / "events", delay_file=t / "delay")
    try:
        hashed = ferryd_factory.pki["hash"]
        users = t / "users"
        users.write_text(f"alice:{hashed}:{home}\nbob:{hashed}:{home / 'slow' / 'bobhome'}\n")
        users.chmod(0o600)
        # One listener: two would each hold a thread picked in advance, and sessions in a row
        # would no longer take the event threads in turn.
        srv = ferryd_factory("ferryd-slowdisk", overrides={"USERS": str(users)}, implicit=False)
        mount.set_delay(DELAY)
        yield srv, mount, home
    finally:
        # Before ferryd stops (the factory's end): a call still waiting on the mount fails once
        # its process is gone, so nothing hangs.
        mount.stop()


def logged_in(srv, user: str = "alice") -> RawControl:
    c = RawControl(srv.port)
    c.login(user, PASSWORD)
    return c


def others_answer_while(srv, mount, start, event: str) -> RawControl:
    """Opens one session per core, then one more that start() sends a slow command on; once
    the slow call named event has begun, every other session must answer NOOP within
    NOOP_BOUND. Returns the slow session (its reply still to read)."""
    others = [logged_in(srv) for _ in range(os.cpu_count() or 1)]
    mount.events.write_text("")
    c = start()
    try:
        mount.wait_event(event, timeout=10)
        waits = []
        for o in others:
            t0 = time.monotonic()
            o.expect("NOOP", 200)
            waits.append(time.monotonic() - t0)
        assert max(waits) < NOOP_BOUND, (
            f"NOOP took {max(waits):.2f} s on some session while another waited {DELAY} s on the "
            f"disk (all: {', '.join(f'{w:.3f}' for w in waits)})")
    finally:
        for o in others:
            o.close()
    return c


@pytest.mark.parametrize("command,event,code", [
    ("SIZE slow/data.txt", "getattr /data.txt", 213),  # TYPE A: stat, then read the whole file
    ("MDTM slow/data.txt", "getattr /data.txt", 213),
    ("MLST slow/data.txt", "getattr /data.txt", 250),
    ("HASH slow/data.txt", "getattr /data.txt", 213),  # on the digest pool, like the disk pool's jobs
    ("CWD slow/sub", "getattr /sub", 250),
    ("RNFR slow/data.txt", "getattr /data.txt", 350),
    # The mount is read-only: these are refused, but only once the folder or file was found.
    ("DELE slow/sub/gone.txt", "getattr /sub", 550),
    ("MKD slow/sub/new", "getattr /sub", 550),
    ("RMD slow/sub/old", "getattr /sub", 550),
    ("MFMT 20200101000000 slow/data.txt", "getattr /data.txt", 550),
    ("SITE CHMOD 600 slow/data.txt", "getattr /data.txt", 550),
])
def test_noop_answered_while_a_command_waits_on_a_slow_disk(slow, command, event, code):
    srv, mount, _ = slow

    def start():
        c = logged_in(srv)
        c.send(command)
        return c

    c = others_answer_while(srv, mount, start, event)
    with c:
        r = c.reply()
        assert r.code == code, f"{command}: {r}"
        if command.startswith("SIZE"):
            assert r.text.endswith(str(len(DATA) + DATA.count(b"\n"))), r  # CRLF in TYPE A


def test_noop_answered_while_retr_opens_on_a_slow_disk(slow):
    srv, mount, _ = slow
    state = {}

    def start():
        c = logged_in(srv)
        c.expect("TYPE I", 200)
        state["port"] = c.epsv_port()
        c.send("RETR slow/data.txt")
        return c

    c = others_answer_while(srv, mount, start, "open /data.txt")
    with c:
        with socket.create_connection((srv.host, state["port"]), timeout=30) as d:
            assert c.reply().code == 150
            assert recv_all(d) == DATA
        assert c.reply().code == 226


def test_noop_answered_while_stor_opens_on_a_slow_disk(slow):
    srv, mount, _ = slow

    def start():
        c = logged_in(srv)
        c.epsv_port()
        c.send("STOR slow/sub/up.bin")
        return c

    c = others_answer_while(srv, mount, start, "getattr /sub")
    with c:
        r = c.reply()
        assert r.code == 550, r  # the mount is read-only: refused, after the wait


def test_noop_answered_while_a_login_opens_a_home_on_a_slow_disk(slow):
    srv, mount, _ = slow

    def start():
        c = RawControl(srv.port)
        c.expect("USER bob", 331)
        c.send(f"PASS {PASSWORD}")
        return c

    c = others_answer_while(srv, mount, start, "getattr /bobhome")
    with c:
        assert c.reply().code == 230
        c.expect("CWD /", 250)


@pytest.mark.parametrize("mode", ["A", "I"])
def test_noop_answered_while_a_download_reads_a_slow_disk(slow, mode):
    """A running download's file reads wait on the disk pool, not on the event thread: TYPE A
    reads through pread, TYPE I with PROT C through sendfile after the pool's readahead. Failed
    before the reads moved (pread and sendfile on the event thread held every session on it)."""
    srv, mount, _ = slow
    state = {}

    def start():
        c = logged_in(srv)
        c.expect(f"TYPE {mode}", 200)
        state["port"] = c.epsv_port()
        state["data"] = socket.create_connection((srv.host, state["port"]), timeout=30)
        mount.set_delay(DELAY, "read")  # the open is quick, each read of the file slow
        c.send("RETR slow/data.txt")
        return c

    try:
        mount.set_delay(0)  # quick opens: only the reads wait
        c = others_answer_while(srv, mount, start, "read /data.txt")
        with c, state["data"] as d:
            mount.set_delay(0, "read")
            assert c.reply().code == 150
            got = recv_all(d)
            assert got == (DATA.replace(b"\n", b"\r\n") if mode == "A" else DATA)
            assert c.reply().code == 226
    finally:
        mount.set_delay(0, "read")
        mount.set_delay(DELAY)


@pytest.mark.parametrize("command", ["RETR pipe", "STOR pipe", "APPE pipe"])
def test_a_fifo_is_refused_at_once(slow, command):
    srv, _, home = slow
    with logged_in(srv) as c:
        port = c.epsv_port()
        with socket.create_connection((srv.host, port), timeout=30):
            t0 = time.monotonic()
            r = c.cmd(command)
            assert r.code == 550, f"{command}: {r}"
            assert time.monotonic() - t0 < 5
    assert (home / "pipe").is_fifo()  # not replaced by an upload either

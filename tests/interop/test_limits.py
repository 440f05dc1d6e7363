"""Limits an internet-facing ferryd needs (issue 10): MAXSESSIONS, MAXSESSIONSPERHOST,
MAXSESSIONSPERUSER, LOGINTIMEOUT, LOGINATTEMPTS, the descriptor table, failed logins that
reveal nothing, and passive ports nobody can hoard.

What is asserted is what a client sees: a 421 line and a closed connection, a 530 reply,
a refused or closed data port. Waits are on replies, on the server's log or on a connection
changing state, each bounded by a deadline; nothing sleeps and hopes.
"""
from __future__ import annotations

import crypt  # noqa: deprecated in 3.11, still the way to make a slow crypt(3) hash here
import os
import re
import socket
import ssl
import time
import warnings
from pathlib import Path

import pytest

from conftest import HOST, PASSWORD, USER
from ftpwire import ConnectionClosed, RawControl

warnings.simplefilter("ignore", DeprecationWarning)

DEADLINE = 20.0


def greeting(port: int, source: str | None = None, timeout: float = 10.0) -> tuple[int, str, socket.socket]:
    """Connects (from source address, if given) and reads the first reply line."""
    s = socket.create_connection((HOST, port), timeout=timeout,
                                 source_address=(source, 0) if source else None)
    s.settimeout(timeout)
    buf = b""
    while b"\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            raise ConnectionClosed(f"closed before any reply: {buf!r}")
        buf += chunk
    line = buf.split(b"\r\n", 1)[0].decode()
    return int(line[:3]), line, s


def closed_by_server(s: socket.socket, timeout: float = 10.0) -> bool:
    """True when the server closes s (EOF or reset) within timeout; whatever it sent first
    (a 421 line) is read and dropped."""
    s.settimeout(timeout)
    try:
        while True:
            if not s.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def wait_for(predicate, what: str, deadline: float = DEADLINE):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        v = predicate()
        if v:
            return v
        time.sleep(0.05)  # polling interval, bounded by the deadline
    pytest.fail(f"timed out after {deadline} s waiting for {what}")


def wait_log(srv, pattern: str, deadline: float = DEADLINE) -> re.Match:
    return wait_for(lambda: re.search(pattern, srv.log), f"/{pattern}/ in the server log", deadline)


def no_sessions_open(srv) -> None:
    """Waits until every session ferryd has logged as started (the factory's readiness probes
    among them) has also logged its end, which comes after its place in the limits is freed."""
    wait_for(lambda: len(re.findall(r"\] connect from", srv.log))
             == len(re.findall(r"\] disconnect", srv.log)), "the readiness probes' sessions to end")


def users_file(path: Path, home: Path, users: dict[str, str]) -> Path:
    home.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{u}:{h}:{home}\n" for u, h in users.items()))
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------
# MAXSESSIONS, MAXSESSIONSPERHOST, MAXSESSIONSPERUSER


def test_maxsessions_refuses_with_421_and_closes_at_once(ferryd_factory):
    """Fails on the code before issue 10: there was no MAXSESSIONS (unknown statement), and
    any number of connections got 220."""
    srv = ferryd_factory("maxsessions", overrides={"MAXSESSIONS": "2", "MAXSESSIONSPERHOST": "0"})
    no_sessions_open(srv)
    a, b = RawControl(srv.port), RawControl(srv.port)
    assert a.greeting.code == b.greeting.code == 220
    code, line, s = greeting(srv.port, source="127.0.0.2")  # another host: the total counts
    assert code == 421 and "MAXSESSIONS 2" in line, line
    assert closed_by_server(s, 2.0), "the refused connection must be closed at once"
    a.expect("QUIT", 221)
    # The slot comes back when the session ends.
    code, line, s = wait_for(lambda: (lambda g: g if g[0] == 220 else s_close(g))(greeting(srv.port)),
                             "a free slot after QUIT")
    s.close()
    assert b.cmd("NOOP").code == 200


def s_close(g):
    g[2].close()
    return None


def test_maxsessionsperhost_counts_each_address(ferryd_factory):
    """Fails on the code before issue 10: no MAXSESSIONSPERHOST; a third connection from one
    address got 220."""
    srv = ferryd_factory("perhost", overrides={"MAXSESSIONSPERHOST": "2"})
    no_sessions_open(srv)
    keep = [RawControl(srv.port), RawControl(srv.port)]
    code, line, s = greeting(srv.port)
    assert code == 421 and "MAXSESSIONSPERHOST 2" in line and "your address" in line, line
    assert closed_by_server(s, 2.0)
    code, line, s = greeting(srv.port, source="127.0.0.2")  # another address is not affected
    assert code == 220, line
    s.close()
    for c in keep:
        assert c.cmd("NOOP").code == 200


def test_maxsessionsperuser_refuses_the_login_with_421(ferryd_factory):
    """Fails on the code before issue 10: no MAXSESSIONSPERUSER; the second login got 230."""
    srv = ferryd_factory("peruser", overrides={"MAXSESSIONSPERUSER": "1"})
    first = RawControl(srv.port)
    first.login_tls(USER, PASSWORD)
    second = RawControl(srv.port)
    second.starttls()
    second.expect(f"USER {USER}", 331)
    r = second.cmd(f"PASS {PASSWORD}")
    assert r.code == 421 and "MAXSESSIONSPERUSER 1" in r.text, r
    with pytest.raises(ConnectionClosed):
        second.cmd("NOOP")
    first.expect("REIN", 220)  # logged out: the user's slot is free again
    third = RawControl(srv.port)
    third.login_tls(USER, PASSWORD)
    assert third.cmd("PWD").code == 257


# --------------------------------------------------------------------------
# LOGINTIMEOUT


def test_logintimeout_closes_a_connection_that_never_logs_in(ferryd_factory):
    """Fails on the code before issue 10: no LOGINTIMEOUT; a connection that never logged in
    stayed until INACTIVE (300 s here), so no 421 arrives before the reply deadline."""
    srv = ferryd_factory("logintimeout", overrides={"LOGINTIMEOUT": "2"})
    logged_in = RawControl(srv.port)
    logged_in.login_tls(USER, PASSWORD)
    idle = RawControl(srv.port, timeout=15)
    idle.starttls()
    started = time.monotonic()
    r = idle.reply()  # nothing sent: the next thing from the server is the 421
    assert r.code == 421 and "Login timeout" in r.text, r
    assert time.monotonic() - started > 1.0
    with pytest.raises(ConnectionClosed):
        idle.cmd("NOOP")
    # The logged-in session, as old as the other one, is not touched.
    assert logged_in.cmd("NOOP").code == 200


# --------------------------------------------------------------------------
# LOGINATTEMPTS and what failed logins reveal


def fail_login(srv, user: str, password: str) -> list:
    c = RawControl(srv.port)
    c.starttls()
    replies = [c.cmd(f"USER {user}"), c.cmd(f"PASS {password}")]
    c.close()
    return replies


def test_loginattempts_refuses_the_address_on_connect_until_the_window_passes(ferryd_factory):
    """Fails on the code before issue 10: failed logins were counted per connection only, so a
    new connection after three failures got 220."""
    srv = ferryd_factory("loginattempts", overrides={"LOGINATTEMPTS": "3 4"})
    started = time.monotonic()
    for i in range(3):  # one failure per connection: the per-session limit never applies
        assert fail_login(srv, USER, f"wrong-{i}")[1].code in (530, 421)
    code, line, s = greeting(srv.port)
    assert code == 421 and "failed logins" in line, line
    assert closed_by_server(s, 2.0)
    code, line, s = greeting(srv.port, source="127.0.0.2")  # only that address
    assert code == 220, line
    s.close()
    # Until the window has passed, counted from the first failure.
    g = wait_for(lambda: (lambda g: g if g[0] == 220 else s_close(g))(greeting(srv.port)),
                 "the address to be let in again")
    g[2].close()
    assert time.monotonic() - started >= 3.5
    c = RawControl(srv.port)
    c.login_tls(USER, PASSWORD)


def test_failed_logins_reply_the_same_whatever_failed(ferryd_factory, tmp_path):
    """A wrong password, an unknown user and a good password whose home folder is unusable all
    get the same 530 reply; only the log says which. Fails on the code before issue 10, which
    answered the last with "530 Login refused: home folder unavailable" (confirming the guessed
    password)."""
    srv = ferryd_factory("samereply", overrides={"LOGINATTEMPTS": "0"})
    wrong = fail_login(srv, USER, "not-the-password")
    unknown = fail_login(srv, "nobody-here", "not-the-password")
    moved = srv.home.with_name("home-moved")
    srv.home.rename(moved)
    try:
        homeless = fail_login(srv, USER, PASSWORD)
    finally:
        moved.rename(srv.home)
    assert wrong[0].code == unknown[0].code == homeless[0].code == 331
    assert wrong[0].text.replace(USER, "X") == unknown[0].text.replace("nobody-here", "X")
    assert (wrong[1].code, wrong[1].text) == (unknown[1].code, unknown[1].text) == \
        (homeless[1].code, homeless[1].text) == (530, "530 Login incorrect.")
    assert re.search(r"login of alice refused: home folder .* unusable", srv.log), srv.log


# --------------------------------------------------------------------------
# Hashing off the event threads


def slow_hash(password: str, seconds: float) -> str:
    """A SHA-512 crypt hash whose check takes about `seconds` on this machine."""
    rounds = 200_000
    t = time.perf_counter()
    crypt.crypt(password, f"$6$rounds={rounds}$calibrate$")
    per_round = (time.perf_counter() - t) / rounds
    rounds = max(1000, min(999_999_999, int(seconds / per_round)))
    return crypt.crypt(password, f"$6$rounds={rounds}$slowhashsalt$")


def test_noop_is_answered_while_passwords_are_hashed(ferryd_factory, tmp_path):
    """While several connections' passwords are being hashed (1.5 s each), a logged-in session's
    NOOP is answered within a fraction of one hash. Fails on the code before issue 10, which ran
    crypt_r on the event threads: with more hashing connections than event threads, the NOOP
    waited for a whole hash (1.5 s)."""
    hash_seconds = 1.5
    users = users_file(tmp_path / "users", tmp_path / "home", {USER: slow_hash(PASSWORD, hash_seconds)})
    srv = ferryd_factory("slowhash", overrides={"USERS": str(users), "LOGINATTEMPTS": "0",
                                                "MAXSESSIONSPERHOST": "0"})
    me = RawControl(srv.port)
    me.login_tls(USER, PASSWORD)
    guessers = []
    for i in range(6):
        g = RawControl(srv.port)
        g.starttls()
        g.expect(f"USER {USER}", 331)
        guessers.append(g)
    for i, g in enumerate(guessers):
        g.send(f"PASS wrong-{i}")
    rtts = []
    for _ in range(5):
        t = time.monotonic()
        assert me.cmd("NOOP").code == 200
        rtts.append(time.monotonic() - t)
    for g in guessers:
        assert g.reply().code == 530
    assert max(rtts) < hash_seconds / 3, f"NOOP round trips {rtts} while passwords were hashed"


# --------------------------------------------------------------------------
# The descriptor table


def test_a_full_descriptor_table_refuses_new_connections_cleanly(ferryd_factory):
    """ferryd raises its soft descriptor limit to the hard one, and past a reserve refuses new
    connections at once with 421, without flooding the log, while running sessions keep
    working. Fails on the code before issue 10: the soft limit stayed at 40, and once it was
    reached connections hung in the listen queue without a greeting while the log took a
    warning every 100 ms."""
    srv = ferryd_factory("fdlimit", overrides={"MAXSESSIONSPERHOST": "0", "LOGINATTEMPTS": "0"},
                         wrapper=["prlimit", "--nofile=40:96", "--"])
    limits = Path(f"/proc/{srv.proc.pid}/limits").read_text()
    soft = re.search(r"Max open files\s+(\d+)\s+(\d+)", limits)
    assert soft and soft.group(1) == "96", limits
    worker = RawControl(srv.port)
    worker.login_tls(USER, PASSWORD, prot="C")
    worker.expect("TYPE I", 200)
    (srv.home / "f.txt").write_bytes(b"still served\n")
    held, refused = [], 0
    for _ in range(120):
        code, line, s = greeting(srv.port, timeout=5)
        if code == 220:
            held.append(s)
        else:
            assert code == 421 and "Server busy" in line, line
            assert closed_by_server(s, 2.0)
            refused += 1
    assert refused > 0 and len(held) > 10, (len(held), refused)
    # The reserve lets the running session open a data connection and a file.
    port = worker.epsv_port()
    assert worker.cmd("RETR f.txt").code == 150
    with socket.create_connection((HOST, port), timeout=10) as d:
        d.settimeout(10)
        body = b""
        while chunk := d.recv(65536):
            body += chunk
    assert body == b"still served\n"
    assert worker.reply().code == 226
    # Rate-limited: one warning (per 10 s) for dozens of refusals.
    assert len(re.findall(r"refused 127\.0\.0\.1:\d+: Server busy", srv.log)) <= 2, srv.log[-3000:]
    for s in held:
        s.close()


# --------------------------------------------------------------------------
# Passive listeners


def connect_refused(port: int) -> bool:
    """True when nothing listens on port any more. (A listener whose queue is full drops the
    connection attempt instead: that is a timeout, not a refusal.)"""
    try:
        socket.create_connection((HOST, port), timeout=0.5).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


@pytest.fixture(scope="module")
def quick(ferryd_factory):
    return ferryd_factory("quick-limits", overrides={"DATACTTIME": "2"})


def test_unused_passive_listener_is_closed_after_datacttime(quick):
    """Fails on the code before issue 10: a passive listener without a transfer stayed open for
    the session's life (a port of PASSIVEDATAPORTS held for nothing)."""
    c = RawControl(quick.port)
    c.login_tls(USER, PASSWORD, prot="C")
    port = c.epsv_port()
    started = time.monotonic()
    wait_for(lambda: connect_refused(port), "the unused passive port to be closed")
    assert time.monotonic() - started > 1.0
    r = c.cmd("LIST")
    assert r.code == 425 and "PASV" in r.text, r  # the client is told to ask again
    assert c.cmd("NOOP").code == 200


def test_unused_early_data_connection_is_closed_after_datacttime(quick):
    """With PROT P the data connection is taken as soon as it arrives; one that no transfer
    uses is closed after DATACTTIME. Fails on the code before issue 10: it stayed open."""
    c = RawControl(quick.port)
    c.login_tls(USER, PASSWORD, prot="P")
    d = c.open_data(c.epsv_port(), protect=True)
    d.settimeout(15)
    try:
        got = d.recv(1)
    except socket.timeout:
        pytest.fail("the unused data connection is still open after 15 s (DATACTTIME 2)")
    except (ConnectionResetError, ssl.SSLError):
        got = b""
    assert got == b""
    assert c.cmd("NOOP").code == 200


def test_a_session_holds_one_passive_listener(quick):
    """A second EPSV closes the first listener. (This held before issue 10 too: kept as a
    regression test for the share accounting.)"""
    c = RawControl(quick.port)
    c.login_tls(USER, PASSWORD, prot="C")
    first = c.epsv_port()
    # The port is picked at random from the range, so the second EPSV may name the same one
    # again (the first listener closed, its port free): ask until it names another.
    for _ in range(30):
        if c.epsv_port() != first:
            break
    else:
        pytest.fail(f"30 EPSV replies in a row named port {first}")
    assert connect_refused(first)


def test_one_user_cannot_hold_every_passive_port(ferryd_factory, pki, tmp_path):
    """With a 20-port PASSIVEDATAPORTS range one user's sessions hold at most 5 listeners at
    once; the next gets 425 while another user still gets a port. Fails on the code before
    issue 10: alice's sixth session got a port too, and with enough sessions every port."""
    users = users_file(tmp_path / "users", tmp_path / "home", {USER: pki["hash"], "bob": pki["hash"]})
    srv = ferryd_factory("pasvshare", overrides={"USERS": str(users)})
    assert srv.pasv_range[1] - srv.pasv_range[0] + 1 == 20
    alice = []
    for _ in range(5):
        c = RawControl(srv.port)
        c.login_tls(USER, PASSWORD, prot="C")
        c.epsv_port()
        alice.append(c)
    sixth = RawControl(srv.port)
    sixth.login_tls(USER, PASSWORD, prot="C")
    r = sixth.cmd("EPSV")
    assert r.code == 425 and "share" in r.text, r
    bob = RawControl(srv.port)
    bob.login_tls("bob", PASSWORD, prot="C")
    bob.epsv_port()
    alice[0].expect("ABOR", 225, 226)  # gives its listener back
    sixth.epsv_port()


# --------------------------------------------------------------------------
# Clients that stop reading


def test_a_client_that_reads_no_replies_loses_the_session(quick):
    """Replies that cannot be written within DATACTTIME end the session. Fails on the code
    before issue 10: the session waited for the client until INACTIVE (300 s here)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(5)
    s.connect((HOST, quick.port))
    helps = b"HELP\r\n" * 20000  # about 10 MB of replies, never read
    try:
        s.sendall(helps)
    except (socket.timeout, OSError):
        pass  # the server stopped reading: expected
    wait_log(quick, r"read no reply for 2 s \(DATACTTIME\); closing")
    assert closed_by_server(s, 15), "the session must be closed"


def test_a_download_the_client_stops_reading_ends_with_426(quick):
    """A transfer whose client stops reading ends with 426 after DATACTTIME. (This held before
    issue 10: a regression test.)"""
    (quick.home / "big.bin").write_bytes(b"\0" * (64 << 20))
    c = RawControl(quick.port)
    c.login_tls(USER, PASSWORD, prot="C")
    c.expect("TYPE I", 200)
    port = c.epsv_port()
    assert c.cmd("RETR big.bin").code == 150
    d = socket.socket()
    d.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    d.connect((HOST, port))
    r = c.reply()  # never read from d
    assert r.code == 426 and "stalled" in r.text, r
    d.close()
    assert c.cmd("NOOP").code == 200


# --------------------------------------------------------------------------
# Listings in bounded memory


def vm_hwm_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))


# ASan keeps freed memory in quarantine (256 MB) and pads every allocation: peak memory says
# nothing about the code under it. The sanitizer build (tests/CMakeLists.txt) says so here.
@pytest.mark.skipif(bool(os.environ.get("FERRY_INTEROP_SANITIZED")),
                    reason="peak memory is meaningless under AddressSanitizer")
def test_a_100000_file_listing_streams_in_bounded_memory(quick):
    """LIST and NLST of a 100,000-file folder deliver every name while the server's peak memory
    grows by far less than the listing's size (3.6 MB of NLST, 9.2 MB of LIST here), and NOOP is
    answered during it. Fails on the code before issue 10, which built the whole listing as one
    string (and a vector of every entry) before sending it: the peak grew by 41 MB."""
    big = quick.home / "many"
    big.mkdir()
    names = {f"file-{i:06d}-with-a-longer-name.txt" for i in range(100_000)}
    for n in names:
        (big / n).touch()
    c = RawControl(quick.port)
    c.login_tls(USER, PASSWORD, prot="C")
    before = vm_hwm_kib(quick.proc.pid)
    total = {}
    for verb in ("NLST", "LIST"):
        port = c.epsv_port()
        assert c.cmd(f"{verb} many").code == 150
        with socket.create_connection((HOST, port), timeout=30) as d:
            d.settimeout(30)
            first = d.recv(65536)
            assert c.cmd("NOOP").code == 200  # the control connection answers meanwhile
            body = bytearray(first)
            while chunk := d.recv(1 << 20):
                body += chunk
        assert c.reply().code == 226
        lines = bytes(body).decode().split("\r\n")[:-1]
        got = {ln.rsplit(" ", 1)[-1] for ln in lines}
        assert got == names, f"{verb}: {len(got)} names of {len(names)}"
        total[verb] = len(body)
    growth = vm_hwm_kib(quick.proc.pid) - before
    assert growth < 4 * 1024, f"peak memory grew by {growth} KiB for listings of {total} bytes"

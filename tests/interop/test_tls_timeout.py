"""TLSTIMEOUT: how long a TLS session can be resumed by a data connection.

With SECURE_SESSION_REUSE REQUIRED a data connection that cannot resume is refused
(522), which makes the session lifetime visible to a client. Waits are polls bounded
by deadlines; the only waiting is what TLSTIMEOUT itself needs.
"""

import os
import ssl
import subprocess
import time

import pytest

from conftest import free_port, server_argv
from ftpwire import RawControl, ResumingFTP_TLS, client_context, close_data, ftp_fetch, sha256

TIMEOUT = 2  # seconds, the short TLSTIMEOUT under test
REFUSAL = "must resume the control connection's TLS session (SECURE_SESSION_REUSE REQUIRED)"
VARIANTS = {"tls1.2": ("1.2", True), "tls1.2-session-id": ("1.2", False), "tls1.3": ("1.3", True)}
WIRE_VERSION = {"1.2": "TLSv1.2", "1.3": "TLSv1.3"}


@pytest.fixture(scope="module")
def payload():
    return os.urandom(64 * 1024 + 7)


def start(factory, name, payload, **overrides):
    srv = factory(name, overrides={"SECURE_SESSION_REUSE": "REQUIRED", **overrides})
    (srv.home / "f.bin").write_bytes(payload)
    return srv


@pytest.fixture(scope="module")
def short(ferryd_factory, payload):
    return start(ferryd_factory, "tlstimeout-2", payload, TLSTIMEOUT=str(TIMEOUT))


@pytest.fixture(scope="module")
def default(ferryd_factory, payload):
    """TLSTIMEOUT not given: the default, 100 s."""
    return start(ferryd_factory, "tlstimeout-default", payload)


def control(srv, variant) -> RawControl:
    version, tickets = VARIANTS[variant]
    c = RawControl(srv.port)
    c.starttls(client_context(version=version, tickets=tickets))
    assert c.sock.version() == WIRE_VERSION[version]
    c.login(srv.user, srv.password)
    for line in ("PBSZ 0", "PROT P", "TYPE I"):
        c.expect(line, 200)
    return c


def retr(c, **open_kw):
    port = c.epsv_port()
    c.send("RETR f.bin")
    r = c.reply()
    assert r.code == 150, r
    d = c.open_data(port, True, **open_kw)
    reused = d.session_reused
    out = bytearray()
    try:
        while chunk := d.recv(1 << 16):
            out += chunk
    except (OSError, ssl.SSLError):
        pass
    close_data(d)
    return c.reply(), bytes(out), reused


def poll_until_refused(c, started, what, **open_kw):
    """Transfer every 0.2 s until the server refuses with 522; returns the elapsed
    time since `started` at the refusal. Fails if it never comes."""
    deadline = started + TIMEOUT + 6
    while True:
        final, _, _ = retr(c, **open_kw)
        if final.code == 522:
            assert REFUSAL in final.text, final
            return time.monotonic() - started
        assert final.code == 226, final
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: still resumable {TIMEOUT + 6} s after the handshake "
                        f"with TLSTIMEOUT {TIMEOUT}")
        time.sleep(0.2)  # poll interval, bounded by the deadline


@pytest.mark.parametrize("variant", ["tls1.2", "tls1.2-session-id"])
def test_tls12_session_expires_after_tlstimeout(short, default, payload, variant):
    started = time.monotonic()
    c = control(short, variant)
    ref = control(default, variant)
    try:
        final, data, reused = retr(c)
        assert final.code == 226 and reused and sha256(data) == sha256(payload), final
        elapsed = poll_until_refused(c, started, variant)
        assert elapsed >= TIMEOUT, f"session refused after {elapsed:.2f} s < TLSTIMEOUT {TIMEOUT}"
        # A session just as old on a server with the default TLSTIMEOUT still resumes.
        final, data, reused = retr(ref)
        assert final.code == 226 and reused and sha256(data) == sha256(payload), final
    finally:
        c.close()
        ref.close()


def test_tls13_old_ticket_expires_fresh_ticket_from_epsv_works(short, payload):
    """TLS 1.3: the ticket of the handshake stops working after TLSTIMEOUT; the ticket
    the server sends with each EPSV reply is fresh, so a long-lived control connection
    still transfers."""
    started = time.monotonic()
    c = control(short, "tls1.3")
    try:
        c.expect("NOOP", 200)  # the handshake's tickets have arrived
        first = c.sock.session
        assert first.has_ticket
        final, _, reused = retr(c, session=first)
        assert final.code == 226 and reused, final
        elapsed = poll_until_refused(c, started, "the handshake's ticket", session=first)
        assert elapsed >= TIMEOUT, f"ticket refused after {elapsed:.2f} s < TLSTIMEOUT {TIMEOUT}"
        final, data, reused = retr(c)  # the ticket that came with this EPSV
        assert reused, "the ticket sent with the EPSV reply did not resume"
        assert final.code == 226 and sha256(data) == sha256(payload), (
            f"the control connection is {time.monotonic() - started:.1f} s old; the fresh "
            f"ticket of its EPSV must still resume: {final}")
    finally:
        c.close()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_tlstimeout_zero_means_no_resumption(ferryd_factory, payload, variant):
    """TLSTIMEOUT 0: no session is ever resumed; with SECURE_SESSION_REUSE ALLOWED
    transfers work with full handshakes."""
    srv = ferryd_factory(f"tlstimeout-0-{variant}", overrides={"TLSTIMEOUT": "0"})
    (srv.home / "f.bin").write_bytes(payload)
    version, tickets = VARIANTS[variant]
    f = ResumingFTP_TLS(mode="epsv", context=client_context(version=version, tickets=tickets))
    f.connect_login(srv.port, srv.user, srv.password)
    try:
        assert not f.sock.session.has_ticket, "the server sent a session ticket"
        assert sha256(ftp_fetch(f, "f.bin")) == sha256(payload)
        assert sha256(ftp_fetch(f, "f.bin")) == sha256(payload)
        assert f.reused == [False, False], f"a session was resumed: {f.reused}"
    finally:
        f.quit()
    # A second control connection cannot resume the first one's session either.
    ctx = client_context(version=version, tickets=tickets)
    a = RawControl(srv.port)
    b = RawControl(srv.port)
    try:
        a.starttls(ctx)
        a.expect("NOOP", 200)
        b.starttls(ctx, session=a.sock.session)
        assert not b.sock.session_reused
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("value", ["86401", "-1", "soon"])
def test_tlstimeout_out_of_range_fails_the_start(pki, tmp_path, value):
    users = tmp_path / "users"
    users.write_text(f"alice:{pki['hash']}:{tmp_path}\n")
    config = tmp_path / "t.conf"
    config.write_text(f"LISTEN 127.0.0.1 {free_port()}\nTLSPORT 0\n"
                      f"KEYRING {pki['pem']}\nUSERS {users}\nEXTENSIONS AUTH_TLS\n"
                      f"TLSTIMEOUT {value}\nRUNAS root\n")
    try:
        res = subprocess.run(server_argv(config), capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ferryd started with TLSTIMEOUT {value}", pytrace=False)
    assert res.returncode != 0
    assert "t.conf:6:" in res.stderr and "TLSTIMEOUT" in res.stderr, res.stderr


def test_tlstimeout_maximum_accepted(ferryd_factory):
    srv = ferryd_factory("tlstimeout-max", overrides={"TLSTIMEOUT": "86400"})
    c = RawControl(srv.port)
    try:
        c.starttls()
        c.login(srv.user, srv.password)
    finally:
        c.close()

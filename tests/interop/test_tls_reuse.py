"""SECURE_SESSION_REUSE ALLOWED | REQUIRED and TLSTIMEOUT, seen by real clients.

REQUIRED is the defence against data-connection stealing: a PROT P data connection
is served only if its TLS handshake resumes *this* control connection's session.
Each case runs on TLS 1.2 (tickets, and session ids with tickets off) and TLS 1.3
(tickets the server sends on every PASV/EPSV/PORT/EPRT reply).
"""

import os
import re
import socket
import ssl
import time

import pytest

from ftpwire import (ResumingFTP_TLS, RawControl, RecordingFTP_TLS, client_context,
                     close_data, ftp_fetch, ftp_store, sha256)

MiB = 1024 * 1024
REFUSAL = "must resume the control connection's TLS session (SECURE_SESSION_REUSE REQUIRED)"
# name -> (TLS version, session tickets on the client)
VARIANTS = {"tls1.2": ("1.2", True), "tls1.2-session-id": ("1.2", False), "tls1.3": ("1.3", True)}
WIRE_VERSION = {"1.2": "TLSv1.2", "1.3": "TLSv1.3"}


@pytest.fixture(scope="module")
def payload():
    return os.urandom(MiB + 4321)


def with_file(srv, payload, name="reuse.bin"):
    (srv.home / name).write_bytes(payload)
    return srv


@pytest.fixture(scope="module")
def required(ferryd_factory, payload):
    return with_file(ferryd_factory("reuse-required", overrides={
        "SECURE_SESSION_REUSE": "REQUIRED", "SECURE_DATACONN": "PRIVATE"}), payload)


@pytest.fixture(scope="module")
def allowed(ferryd_factory, payload):
    return with_file(ferryd_factory("reuse-allowed", overrides={
        "SECURE_SESSION_REUSE": "ALLOWED"}), payload)


def control(srv, variant=None, ctx=None) -> RawControl:
    """A logged-in control connection with PBSZ 0 / PROT P on the given TLS variant."""
    version, tickets = VARIANTS[variant]
    c = RawControl(srv.port)
    c.starttls(ctx or client_context(version=version, tickets=tickets))
    assert c.sock.version() == WIRE_VERSION[version], c.sock.version()
    c.login(srv.user, srv.password)
    c.expect("PBSZ 0", 200)
    c.expect("PROT P", 200)
    c.expect("TYPE I", 200)
    return c


def read_until_eof(d) -> tuple[bytes, Exception | None]:
    out = bytearray()
    try:
        while True:
            chunk = d.recv(1 << 16)
            if not chunk:
                return bytes(out), None
            out += chunk
    except (OSError, ssl.SSLError) as exc:  # refused: closed without close_notify
        return bytes(out), exc


def retr(c: RawControl, name="reuse.bin", **open_kw):
    """EPSV + RETR on c; the data connection is opened with open_data(**open_kw).
    Returns (final reply, bytes received, session_reused of the data connection)."""
    port = c.epsv_port()
    c.send(f"RETR {name}")
    r = c.reply()
    assert r.code == 150, r
    d = c.open_data(port, True, **open_kw)
    reused = d.session_reused
    data, _ = read_until_eof(d)
    close_data(d)
    return c.reply(), data, reused


def transfer_log(srv, path="/reuse.bin"):
    """The server's per-transfer log lines: [(resumed?, final code)]."""
    return [(m.group(1) == "resumed", int(m.group(2))) for m in re.finditer(
        rf"download {re.escape(path)} \d+ bytes .*? PROT P (resumed|-) -> (\d+)", srv.log)]


def tls_versions_after(srv, offset):
    """TLS versions of the control connections the server logged after log offset."""
    return re.findall(r"\] TLS (TLSv1\.\d) ", srv.log[offset:])


def wait_for_log(srv, pred, what, deadline=10.0):
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if pred(srv.log):
            return
        time.sleep(0.05)  # poll interval, bounded by the deadline
    pytest.fail(f"server log never showed {what} within {deadline}s; log:\n{srv.log[-6000:]}")


# --------------------------------------------------------------------------
# REQUIRED, raw dialogues


@pytest.mark.parametrize("variant", ["tls1.2", "tls1.3"])
def test_required_refuses_fresh_handshake_then_accepts_resumption(required, payload, variant):
    c = control(required, variant)
    try:
        final, data, reused = retr(c, resume=False)
        assert not reused
        assert final.code == 522, f"a fresh handshake on the data connection must be refused: {final}"
        assert REFUSAL in final.text, final
        assert data == b"", f"{len(data)} file bytes reached an unresumed data connection"
        # The same control connection resumes next time and gets the file.
        final, data, reused = retr(c)
        assert reused, "the client's resumption attempt was not accepted by the TLS layer"
        assert final.code == 226, final
        assert sha256(data) == sha256(payload)
        c.expect("QUIT", 221)
    finally:
        c.close()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_required_resumed_data_connections_succeed_repeatedly(required, payload, variant):
    """Five transfers on one control connection: TLS 1.3 clients use a ticket per data
    connection, so the server must keep issuing them (curl#4654, proftpd#1177)."""
    before = len(transfer_log(required))
    c = control(required, variant)
    try:
        for i in range(5):
            final, data, reused = retr(c)
            assert reused, f"transfer {i + 1}: the data connection did not resume"
            assert final.code == 226, f"transfer {i + 1}: {final}"
            assert sha256(data) == sha256(payload)
        c.expect("QUIT", 221)
    finally:
        c.close()
    wait_for_log(required, lambda _: len(transfer_log(required)) >= before + 5, "5 transfers")
    assert transfer_log(required)[before:before + 5] == [(True, 226)] * 5


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_required_refuses_session_of_another_control_connection(required, variant):
    """Both clients hold valid sessions of the same server; B's data connection resumes
    A's session (the TLS layer accepts it) and must still be refused."""
    version, tickets = VARIANTS[variant]
    ctx = client_context(version=version, tickets=tickets)  # Python needs one context to share
    a, b = control(required, variant, ctx), control(required, variant, ctx)
    try:
        final, data, reused = retr(a)  # A's session is good for A
        assert reused and final.code == 226, final
        final, data, reused = retr(b, session=a.sock.session)
        assert reused, "the server did not even resume A's session; the test proves nothing"
        assert final.code == 522, f"B's data connection with A's TLS session was served: {final}"
        assert REFUSAL in final.text, final
        assert data == b""
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_required_thief_cannot_reuse_session_from_refused_connection(required, variant):
    """Data-connection stealing in two steps: the thief races to the victim's passive
    port with a fresh handshake (refused), keeps the TLS session it got there, and
    resumes that session on the victim's next passive port. It must be refused again:
    only the victim's control-connection session counts."""
    victim = control(required, variant)
    version, tickets = VARIANTS[variant]
    thief_ctx = client_context(version=version, tickets=tickets)
    try:
        port = victim.epsv_port()
        victim.send("RETR reuse.bin")
        assert victim.reply().code == 150
        d = thief_ctx.wrap_socket(socket.create_connection(
            ("127.0.0.1", port), timeout=30), server_hostname="127.0.0.1")
        stolen = d.session
        got, _ = read_until_eof(d)
        d.close()
        r = victim.reply()
        assert r.code == 522 and got == b"", f"first theft not refused: {r}, {len(got)} bytes"
        assert stolen is not None

        port = victim.epsv_port()
        victim.send("RETR reuse.bin")
        assert victim.reply().code == 150
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        d = thief_ctx.wrap_socket(raw, server_hostname="127.0.0.1", session=stolen)
        resumed = d.session_reused
        got, _ = read_until_eof(d)
        d.close()
        r = victim.reply()
        assert r.code == 522 and got == b"", (
            f"the thief resumed the session of its own refused data connection "
            f"(resumed={resumed}) and got {len(got)} bytes of the victim's file; reply: {r}")
    finally:
        victim.close()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_required_resumption_survives_an_aborted_transfer(required, payload, variant):
    """A client that resets a resumed data connection mid-transfer (no close_notify)
    must still be able to resume the control session on the next data connection."""
    from ftpwire import abort_socket

    big = required.home / "abort.bin"
    if not big.exists():  # larger than the socket buffers: the server is mid-write at the RST
        big.write_bytes(os.urandom(32 * MiB))
    c = control(required, variant)
    try:
        port = c.epsv_port()
        c.send("RETR abort.bin")
        assert c.reply().code == 150
        d = c.open_data(port, True)
        assert d.session_reused
        d.recv(1000)
        abort_socket(d)  # RST, no TLS alert
        r = c.reply()
        assert r.code in (426, 451, 226), r
        final, data, reused = retr(c)
        assert final.code == 226 and reused, (
            f"after one aborted transfer the control session can no longer be resumed: {final}")
        assert sha256(data) == sha256(payload)
    finally:
        c.close()


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_required_control_connection_that_resumed_a_session(required, payload, variant):
    """Clients that open parallel control connections (FileZilla, lftp's mirror) may
    resume the first control connection's TLS session on the second. The second one's
    data connections resume the second one's session and must be served."""
    version, tickets = VARIANTS[variant]
    ctx = client_context(version=version, tickets=tickets)
    first = control(required, variant, ctx)
    second = RawControl(required.port)
    try:
        first.expect("NOOP", 200)  # TLS 1.3: the ticket has arrived
        second.starttls(ctx, session=first.sock.session)
        assert second.sock.session_reused, "the second control connection did not resume"
        second.login(required.user, required.password)
        for line in ("PBSZ 0", "PROT P", "TYPE I"):
            second.expect(line, 200)
        for i in range(2):
            final, data, reused = retr(second)
            assert reused, f"transfer {i + 1} did not resume the second control's session"
            assert final.code == 226, (
                f"transfer {i + 1} on a control connection that resumed its TLS session: {final}")
            assert sha256(data) == sha256(payload)
        final, data, reused = retr(first)
        assert final.code == 226 and reused, final
    finally:
        first.close()
        second.close()


def login_protected(c: RawControl, srv) -> None:
    c.login(srv.user, srv.password)
    for line in ("PBSZ 0", "PROT P", "TYPE I"):
        c.expect(line, 200)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_required_control_connections_sharing_a_session_cache(required, payload, variant):
    """A client that shares one TLS session cache between parallel control connections: the
    second resumes the first's session, and a data connection of either may offer the newest
    session of the other (what the shared cache holds after the other's last reply). Both
    control connections are one client: every transfer is served. A session of an unrelated
    client (a full handshake) is still refused, in both directions.
    Fails on the code before the fix with TLS 1.3 (issue 13): the ticket sent during the
    resumed handshake overwrote the session's tag before the second control connection adopted
    it, so the two held unrelated sessions and each got 522 with the other's."""
    version, tickets = VARIANTS[variant]
    ctx = client_context(version=version, tickets=tickets)  # Python needs one context to share
    first = control(required, variant, ctx)
    second = RawControl(required.port)
    unrelated = control(required, variant, ctx)
    try:
        first.expect("NOOP", 200)  # TLS 1.3: the ticket has arrived
        second.starttls(ctx, session=first.sock.session)
        assert second.sock.session_reused, "the second control connection did not resume"
        assert second.sock.version() == WIRE_VERSION[version], second.sock.version()
        login_protected(second, required)
        for i in range(2):
            for c, other, what in ((second, first, "second with the first's session"),
                                   (first, second, "first with the second's session")):
                final, data, reused = retr(c, session=other.sock.session)
                assert reused, f"round {i + 1}, {what}: the data connection did not resume"
                assert final.code == 226, f"round {i + 1}, {what}: {final}"
                assert sha256(data) == sha256(payload)
        final, data, reused = retr(second)  # its own newest session
        assert final.code == 226 and reused, final
        for c, other, what in ((second, unrelated, "the pair's data with an unrelated session"),
                               (unrelated, second, "an unrelated client's data with the pair's")):
            final, data, reused = retr(c, session=other.sock.session)
            assert reused, f"{what}: not even resumed; the test proves nothing"
            assert final.code == 522 and REFUSAL in final.text, f"{what} was served: {final}"
            assert data == b""
    finally:
        first.close()
        second.close()
        unrelated.close()


# --------------------------------------------------------------------------
# REQUIRED after CCC (TLSRFCLEVEL RFC4217): the control connection has no TLS left, so
# TLS 1.3 tickets for the next data connection come from the previous download.


@pytest.fixture(scope="module")
def required_ccc(ferryd_factory, payload):
    return with_file(ferryd_factory("reuse-required-ccc", overrides={
        "SECURE_SESSION_REUSE": "REQUIRED", "SECURE_DATACONN": "PRIVATE",
        "TLSRFCLEVEL": "RFC4217"}), payload)


def clear_after_ccc(c: RawControl) -> ssl.SSLSession:
    """CCC with the close_notify exchange; returns the control session's last ticket."""
    c.expect("NOOP", 200)
    session = c.sock.session
    c.expect("CCC", 200)
    s = c.sock.unwrap()
    c.sock = socket.socket(fileno=s.detach())
    c.sock.settimeout(c.timeout)
    return session


def retr_keep_session(c: RawControl, session):
    """Like retr(), but also returns the data connection's own session afterwards
    (with any ticket the server sent on it)."""
    port = c.epsv_port()
    c.send("RETR reuse.bin")
    r = c.reply()
    assert r.code == 150, r
    d = c.open_data(port, True, session=session)
    reused = d.session_reused
    data, _ = read_until_eof(d)
    new_session = d.session
    close_data(d)
    return c.reply(), data, reused, new_session


def test_required_after_ccc_downloads_chain_tickets(required_ccc, payload):
    c = control(required_ccc, "tls1.3")
    try:
        session = clear_after_ccc(c)
        for i in range(3):
            final, data, reused, session = retr_keep_session(c, session)
            assert reused and final.code == 226, f"download {i + 1} after CCC: {final}"
            assert sha256(data) == sha256(payload)
    finally:
        c.close()


def test_required_after_ccc_thief_gets_no_usable_ticket(required_ccc):
    """After CCC the server hands out tickets on data connections; a thief's refused
    fresh handshake must not get one it can use to resume on the next passive port."""
    victim = control(required_ccc, "tls1.3")
    thief_ctx = client_context(version="1.3")
    try:
        clear_after_ccc(victim)
        port = victim.epsv_port()
        victim.send("RETR reuse.bin")
        assert victim.reply().code == 150
        d = thief_ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                                  server_hostname="127.0.0.1")
        got, _ = read_until_eof(d)  # also reads any ticket
        stolen = d.session
        d.close()
        r = victim.reply()
        assert r.code == 522 and got == b"", f"first theft not refused: {r}"
        port = victim.epsv_port()
        victim.send("RETR reuse.bin")
        assert victim.reply().code == 150
        d = thief_ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=30),
                                  server_hostname="127.0.0.1", session=stolen)
        resumed = d.session_reused
        got, _ = read_until_eof(d)
        d.close()
        r = victim.reply()
        assert r.code == 522 and got == b"", (
            f"the thief resumed a ticket from its own refused data connection "
            f"(resumed={resumed}) and got {len(got)} bytes of the victim's file; reply: {r}")
    finally:
        victim.close()


# --------------------------------------------------------------------------
# REQUIRED with real clients


def ftplib_client(cls, srv, version):
    f = cls(mode="epsv", context=client_context(version=version))
    f.connect_login(srv.port, srv.user, srv.password)
    assert f.sock.version() == WIRE_VERSION[version]
    return f


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_required_plain_ftplib_refused_with_522(required, version):
    """cpython#63699: FTP_TLS never resumes the control session on data connections."""
    import ftplib

    f = ftplib_client(RecordingFTP_TLS, required, version)
    try:
        with pytest.raises((ftplib.error_perm, OSError, ssl.SSLError)) as ei:
            ftp_fetch(f, "reuse.bin")
        if isinstance(ei.value, ftplib.error_perm):
            text = str(ei.value)
        else:  # the data socket broke first; the 522 is still waiting on the control
            with pytest.raises(ftplib.error_perm) as ei2:
                f.voidresp()
            text = str(ei2.value)
        assert text.startswith("522") and REFUSAL in text, text
        assert f.voidcmd("NOOP").startswith("200")  # the session survives the refusal
    finally:
        f.close()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_required_resuming_ftplib_subclass_succeeds(required, payload, version):
    f = ftplib_client(ResumingFTP_TLS, required, version)
    try:
        assert sha256(ftp_fetch(f, "reuse.bin")) == sha256(payload)
        up = os.urandom(300_000)
        assert ftp_store(f, f"up-{version}.bin", up).startswith("226")
        assert sha256(ftp_fetch(f, f"up-{version}.bin")) == sha256(up)
        assert f.nlst()  # a listing is a data connection too
        assert f.reused == [True] * 4, f.reused
    finally:
        f.quit()
    assert sha256((required.home / f"up-{version}.bin").read_bytes()) == sha256(up)


CURL_VERSION = {"1.2": ["--tlsv1.2", "--tls-max", "1.2"], "1.3": ["--tlsv1.3"]}


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_required_curl_downloads_and_uploads(required, peer, payload, version):
    before = len(transfer_log(required))
    up = peer.workdir / "up.bin"
    up.write_bytes(os.urandom(200_000))
    # Two downloads and an upload over one control connection (curl reuses it).
    res = peer.curl(required, "--ssl-reqd", "--insecure", *CURL_VERSION[version],
                    required.url("reuse.bin"), "-o", str(peer.workdir / "a.bin"),
                    required.url("reuse.bin"), "-o", str(peer.workdir / "b.bin"))
    assert res.rc == 0, res
    assert f"SSL connection using {WIRE_VERSION[version]}" in res.err, res
    assert "522" not in re.findall(r"^< (\d{3})", res.err, re.M), res
    for name in ("a.bin", "b.bin"):
        assert sha256((peer.workdir / name).read_bytes()) == sha256(payload)
    res = peer.curl(required, "--ssl-reqd", "--insecure", *CURL_VERSION[version],
                    "-T", str(up), required.url(f"curl-up-{version}.bin"))
    assert res.rc == 0, res
    assert sha256((required.home / f"curl-up-{version}.bin").read_bytes()) == sha256(up.read_bytes())
    wait_for_log(required, lambda _: len(transfer_log(required)) >= before + 2, "curl's downloads")
    assert transfer_log(required)[before:] == [(True, 226)] * 2, transfer_log(required)[before:]


LFTP_VERSION = {"1.2": "NORMAL:-VERS-ALL:+VERS-TLS1.2", "1.3": "NORMAL:-VERS-ALL:+VERS-TLS1.3"}


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_required_lftp_transfers(required, peer, payload, version):
    before = len(transfer_log(required))
    offset = len(required.log)
    up = peer.workdir / "up.bin"
    up.write_bytes(os.urandom(250_000))
    res = peer.lftp(required, [
        f"get reuse.bin -o {peer.workdir / 'a.bin'}",
        f"get reuse.bin -o {peer.workdir / 'b.bin'}",
        f"put {up} -o lftp-up-{version}.bin",
        "cls -1",
    ], settings=[f"set ssl:priority {LFTP_VERSION[version]}",
                 "set ftp:passive-mode on"])
    assert res.rc == 0, res
    assert "522" not in re.findall(r"^<--- (\d{3})", res.err, re.M), res
    for name in ("a.bin", "b.bin"):
        assert sha256((peer.workdir / name).read_bytes()) == sha256(payload)
    assert sha256((required.home / f"lftp-up-{version}.bin").read_bytes()) == sha256(up.read_bytes())
    assert f"lftp-up-{version}.bin" in res.out.decode()
    assert set(tls_versions_after(required, offset)) == {WIRE_VERSION[version]}
    wait_for_log(required, lambda _: len(transfer_log(required)) >= before + 2, "lftp's downloads")
    assert transfer_log(required)[before:] == [(True, 226)] * 2, transfer_log(required)[before:]


# --------------------------------------------------------------------------
# ALLOWED


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_allowed_serves_fresh_handshake(allowed, payload, version):
    """The default: a data connection with a full handshake is served (plain FTP_TLS
    works), and the server's log records that it was not resumed."""
    before = len(transfer_log(allowed))
    f = ftplib_client(RecordingFTP_TLS, allowed, version)
    try:
        assert sha256(ftp_fetch(f, "reuse.bin")) == sha256(payload)
    finally:
        f.quit()
    wait_for_log(allowed, lambda _: len(transfer_log(allowed)) > before, "the download")
    assert transfer_log(allowed)[before:] == [(False, 226)]


def test_allowed_serves_resumed_connections_too(allowed, payload):
    c = control(allowed, "tls1.3")
    try:
        final, data, reused = retr(c)
        assert reused and final.code == 226 and sha256(data) == sha256(payload), final
        final, data, reused = retr(c, resume=False)
        assert not reused and final.code == 226 and sha256(data) == sha256(payload), final
    finally:
        c.close()

"""TLSRFCLEVEL DRAFT | RFC4217 | CCCNONOTIFY: CCC (clear command channel), AUTH after login
and REIN, byte for byte on the control connection and with curl and lftp."""

import re
import socket
import ssl

import pytest

from conftest import PASSWORD, USER
from ftpwire import ConnectionClosed, RawControl, client_context

DATA = b"rfc level\n" * 5000


def start(factory, level, **extra):
    srv = factory(f"rfclevel-{level.lower()}", overrides={"TLSRFCLEVEL": level, **extra})
    (srv.home / "f.txt").write_bytes(DATA)
    return srv


@pytest.fixture(scope="module")
def draft(ferryd_factory):
    """TLSRFCLEVEL not given: DRAFT is the default."""
    return start(ferryd_factory, "DRAFT", TLSRFCLEVEL=None)


@pytest.fixture(scope="module")
def rfc4217(ferryd_factory):
    return start(ferryd_factory, "RFC4217")


@pytest.fixture(scope="module")
def nonotify(ferryd_factory):
    return start(ferryd_factory, "CCCNONOTIFY")


@pytest.fixture(scope="module")
def rfc4217_required(ferryd_factory):
    """CCC on a server with SECURE_FTP REQUIRED and SECURE_DATACONN PRIVATE."""
    return start(ferryd_factory, "RFC4217", SECURE_FTP="REQUIRED", SECURE_DATACONN="PRIVATE")


def tls_login(srv, version=None) -> RawControl:
    c = RawControl(srv.port)
    c.starttls(client_context(version=version))
    c.login(USER, PASSWORD)
    for line in ("PBSZ 0", "PROT P", "TYPE I"):
        c.expect(line, 200)
    return c


def fetch(c: RawControl, protect=True) -> bytes:
    """EPSV + RETR f.txt; a protected data connection does a full handshake (no
    resumption: the control connection may have no TLS left to resume)."""
    port = c.epsv_port()
    c.send("RETR f.txt")
    r = c.reply()
    assert r.code == 150, r
    d = c.open_data(port, protect, resume=False)
    if protect:
        assert isinstance(d, ssl.SSLSocket)
    out = bytearray()
    while chunk := d.recv(1 << 16):
        out += chunk
    d.close()
    r = c.reply()
    assert r.code == 226, r
    return bytes(out)


def unwrap(c: RawControl) -> None:
    """Send our close_notify and wait for the server's (SSLSocket.unwrap returns only
    once it has arrived; a server that sends none makes it time out), then go on with
    the bare TCP socket."""
    s = c.sock.unwrap()
    c.sock = socket.socket(fileno=s.detach())
    c.sock.settimeout(c.timeout)


def raw_socket(c: RawControl) -> socket.socket:
    """Take the TCP socket out from under the TLS object without sending anything."""
    assert isinstance(c.sock, ssl.SSLSocket)
    raw = socket.socket(fileno=c.sock.detach())
    raw.settimeout(c.timeout)
    return raw


def read_exact(s, n) -> bytes:
    out = b""
    while len(out) < n:
        chunk = s.recv(n - len(out))
        if not chunk:
            raise ConnectionClosed(f"EOF after {out!r}")
        out += chunk
    return out


def skip_tls_records(c: RawControl) -> list[int]:
    """After CCC, read and drop TLS records (the server's close_notify) that precede
    clear replies on c.sock; returns their content types."""
    types = []
    while True:
        first = c.sock.recv(1, socket.MSG_PEEK)
        if first and first[0] in (0x15, 0x17):  # alert / TLS 1.3 encrypted record
            header = read_exact(c.sock, 5)
            read_exact(c.sock, int.from_bytes(header[3:5], "big"))
            types.append(header[0])
            continue
        return types


def ccc(c: RawControl):
    r = c.expect("CCC", 200)
    assert "clear" in r.text.lower(), r
    assert c.buf == b"", f"bytes after the 200 reply: {c.buf!r}"
    return r


def after_ccc_in_clear(c: RawControl, srv):
    """The control connection now speaks clear; data keeps the PROT level."""
    r = c.expect("PWD", 257)
    assert r.text.startswith("257"), r
    assert fetch(c, protect=True) == DATA
    c.expect("NOOP", 200)
    assert re.search(r"CCC: control connection now in clear", srv.log), srv.log


# --------------------------------------------------------------------------
# DRAFT (the default)


def test_draft_refuses_ccc(draft):
    assert "TLSRFCLEVEL" not in draft.config_path.read_text()
    c = tls_login(draft)
    try:
        r = c.cmd("CCC")
        assert r.code == 534 and "TLSRFCLEVEL DRAFT" in r.text, r
        c.expect("NOOP", 200)  # still TLS: the reply came through the TLS object
        assert isinstance(c.sock, ssl.SSLSocket)
        assert fetch(c) == DATA
    finally:
        c.close()


def test_draft_refuses_auth_after_login(draft):
    c = RawControl(draft.port)
    try:
        c.login(USER, PASSWORD)
        r = c.cmd("AUTH TLS")
        assert r.code == 503 and "TLSRFCLEVEL DRAFT" in r.text, r
        c.expect("PWD", 257)  # still clear, still logged in
    finally:
        c.close()


def test_draft_rein_keeps_tls_and_logs_out(draft):
    c = tls_login(draft)
    try:
        r = c.cmd("REIN")
        assert r.code == 220, r
        assert c.cmd("PWD").code == 530, "REIN must log the user out"
        r = c.cmd("AUTH TLS")
        assert r.code == 503, f"TLS must still be on at DRAFT level: {r}"
        c.login(USER, PASSWORD)
        c.expect("PBSZ 0", 200)
        c.expect("PROT P", 200)
        c.expect("TYPE I", 200)
        assert fetch(c) == DATA
    finally:
        c.close()


def test_draft_lftp_ssl_use_ccc_still_works(draft, peer):
    out = peer.workdir / "draft.txt"
    res = peer.lftp(draft, [f"get f.txt -o {out}"], settings=["set ftp:ssl-use-ccc true"])
    assert res.rc == 0 and out.read_bytes() == DATA, res
    assert "<--- 534" in res.err, res


# --------------------------------------------------------------------------
# CCC preconditions (all levels that accept it)


@pytest.mark.parametrize("level", ["draft", "rfc4217", "nonotify"])
def test_ccc_on_clear_connection_533(request, level):
    srv = request.getfixturevalue(level)
    c = RawControl(srv.port)
    try:
        c.login(USER, PASSWORD)
        r = c.cmd("CCC")
        assert r.code == 533, f"CCC on a clear connection: {r}"
        c.expect("PWD", 257)
    finally:
        c.close()


@pytest.mark.parametrize("level", ["rfc4217", "nonotify"])
def test_ccc_before_login_530(request, level):
    srv = request.getfixturevalue(level)
    c = RawControl(srv.port)
    try:
        c.starttls()
        r = c.cmd("CCC")
        assert r.code == 530, f"CCC before login: {r}"
        c.expect("NOOP", 200)  # still protected: the reply came through TLS
        c.login(USER, PASSWORD)
    finally:
        c.close()


# --------------------------------------------------------------------------
# RFC4217


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_rfc4217_ccc_exchanges_close_notify(rfc4217, version):
    c = tls_login(rfc4217, version)
    try:
        ccc(c)
        unwrap(c)
        after_ccc_in_clear(c, rfc4217)
    finally:
        c.close()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_rfc4217_ccc_client_without_close_notify(rfc4217, version):
    """A client that sends no close_notify and goes on in clear at once: the server may
    or may not have sent its own close_notify by then (a TLS record, skipped here), and
    then answers in clear."""
    c = tls_login(rfc4217, version)
    try:
        ccc(c)
        c.sock = raw_socket(c)
        c.send("PWD")
        skip_tls_records(c)
        r = c.reply()
        assert r.code == 257, r
        assert fetch(c) == DATA
    finally:
        c.close()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_rfc4217_ccc_server_starts_the_exchange_for_a_waiting_client(rfc4217, version):
    """A client that waits for the server to end TLS (curl's passive CCC mode) gets the
    server's close_notify, answers it, and both go on in clear."""
    c = tls_login(rfc4217, version)
    try:
        ccc(c)
        assert c.sock.recv(100) == b"", "expected the server's close_notify (TLS EOF)"
        unwrap(c)
        after_ccc_in_clear(c, rfc4217)
    finally:
        c.close()


def test_rfc4217_ccc_keeps_policy_secured(rfc4217_required):
    """After CCC the session stays secured for SECURE_FTP REQUIRED, and PRIVATE data
    is still enforced."""
    c = tls_login(rfc4217_required)
    try:
        ccc(c)
        unwrap(c)
        c.expect("PWD", 257)
        c.expect("CWD /", 250)
        assert fetch(c) == DATA
        r = c.cmd("PROT C")
        assert r.code == 534, f"SECURE_DATACONN PRIVATE after CCC: {r}"
    finally:
        c.close()


def test_rfc4217_auth_after_login_accepted(rfc4217):
    c = RawControl(rfc4217.port)
    try:
        c.login(USER, PASSWORD)
        c.starttls()  # 234 and handshake after login: allowed by RFC 4217
        c.expect("PWD", 257)
        c.expect("PBSZ 0", 200)
        c.expect("PROT P", 200)
        c.expect("TYPE I", 200)
        assert fetch(c) == DATA
    finally:
        c.close()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_rfc4217_rein_ends_tls_and_login(rfc4217, version):
    c = tls_login(rfc4217, version)
    try:
        r = c.expect("REIN", 220)
        assert "AUTH TLS" in r.text, r
        c.sock = c.sock.unwrap()  # close_notify both ways, then clear
        r = c.cmd("PWD")
        assert r.code == 530, f"REIN must log the user out: {r}"
        c.starttls()  # AUTH TLS again on the same TCP connection
        c.login(USER, PASSWORD)
        c.expect("PBSZ 0", 200)
        c.expect("PROT P", 200)
        c.expect("TYPE I", 200)
        assert fetch(c) == DATA
    finally:
        c.close()


def test_rfc4217_rein_then_clear_login(rfc4217):
    """After REIN the security state is gone: the client may log in in clear
    (SECURE_FTP ALLOWED), and PROT then needs a new AUTH."""
    c = tls_login(rfc4217)
    try:
        c.expect("REIN", 220)
        unwrap(c)
        c.login(USER, PASSWORD)
        assert c.cmd("PROT P").code == 503
        c.expect("TYPE I", 200)
        assert fetch(c, protect=False) == DATA
    finally:
        c.close()


def test_rfc4217_curl_ccc_active_mode(rfc4217, peer):
    res = peer.curl(rfc4217, "--ssl-reqd", "--insecure", "--ftp-ssl-ccc",
                    "--ftp-ssl-ccc-mode", "active", rfc4217.url("f.txt"))
    assert res.rc == 0 and res.out == DATA, res
    assert re.search(r"^> CCC", res.err, re.M) and re.search(r"^< 200 CCC", res.err, re.M), res


def test_rfc4217_curl_ccc_passive_mode(rfc4217, peer):
    """curl's default (passive) CCC mode never answers the close_notify."""
    res = peer.curl(rfc4217, "--ssl-reqd", "--insecure", "--ftp-ssl-ccc", rfc4217.url("f.txt"))
    assert res.rc == 0 and res.out == DATA, res
    assert re.search(r"^< 200 CCC", res.err, re.M), res


def test_rfc4217_lftp_ccc(rfc4217, peer, tmp_path):
    src = tmp_path / "up.bin"
    src.write_bytes(DATA[::-1])
    out = peer.workdir / "rfc4217.txt"
    res = peer.lftp(rfc4217, [f"get f.txt -o {out}", f"put {src} -o lftp-ccc.bin", "cls -1"],
                    settings=["set ftp:ssl-use-ccc true"])
    assert res.rc == 0 and out.read_bytes() == DATA, res
    assert "---> CCC" in res.err and "<--- 200 CCC" in res.err, res
    assert (rfc4217.home / "lftp-ccc.bin").read_bytes() == DATA[::-1]


# --------------------------------------------------------------------------
# CCCNONOTIFY


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_cccnonotify_no_alert_either_way(nonotify, version):
    c = tls_login(nonotify, version)
    try:
        ccc(c)
        c.sock = raw_socket(c)  # we send no close_notify either
        c.send("PWD")
        first = c.sock.recv(1, socket.MSG_PEEK)
        assert first == b"2", f"CCCNONOTIFY: expected the clear reply at once, got {first!r} " \
                              "(a TLS record: the server sent a close_notify)"
        r = c.reply()
        assert r.code == 257, r
        after_ccc_in_clear(c, nonotify)
    finally:
        c.close()


def test_cccnonotify_lftp(nonotify, peer):
    """lftp leaves TLS after CCC without an alert, which is what CCCNONOTIFY expects.
    (curl cannot: both of its CCC modes wait for the server's close_notify.)"""
    out = peer.workdir / "nonotify.txt"
    res = peer.lftp(nonotify, [f"get f.txt -o {out}", "cls -1"],
                    settings=["set ftp:ssl-use-ccc true"])
    assert res.rc == 0 and out.read_bytes() == DATA, res
    assert "<--- 200 CCC" in res.err and "f.txt" in res.out.decode(), res

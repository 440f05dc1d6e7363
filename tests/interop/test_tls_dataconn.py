"""SECURE_DATACONN NEVER | CLEAR | PRIVATE and the RFC 4217 PBSZ/PROT rules, as curl,
lftp, ftplib and raw dialogues see them."""

import os
import re
import ssl

import pytest

from conftest import PASSWORD, USER
from ftpwire import RawControl, RecordingFTP_TLS, ftp_fetch, ftp_store, sha256

DATA = os.urandom(300_000)


def start(factory, value):
    srv = factory(f"dataconn-{value.lower()}", overrides={"SECURE_DATACONN": value})
    (srv.home / "f.bin").write_bytes(DATA)
    return srv


@pytest.fixture(scope="module")
def never(ferryd_factory):
    return start(ferryd_factory, "NEVER")


@pytest.fixture(scope="module")
def clear(ferryd_factory):
    return start(ferryd_factory, "CLEAR")


@pytest.fixture(scope="module")
def private(ferryd_factory):
    return start(ferryd_factory, "PRIVATE")


def logged_in(srv, tls=True) -> RawControl:
    c = RawControl(srv.port)
    if tls:
        c.starttls()
    c.login(USER, PASSWORD)
    c.expect("TYPE I", 200)
    return c


def retr(c: RawControl, protect: bool):
    """EPSV + RETR f.bin; returns (final reply, data) or (refusal reply, None)."""
    port = c.epsv_port()
    c.send("RETR f.bin")
    r = c.reply()
    if r.code not in (125, 150):
        return r, None
    d = c.open_data(port, protect)
    out = bytearray()
    while chunk := d.recv(1 << 16):
        out += chunk
    d.close()
    return c.reply(), bytes(out)


def transfers_logged(srv):
    return re.findall(r"download /f\.bin \d+ bytes .*? (PROT [CP]) ", srv.log)


# --------------------------------------------------------------------------
# PBSZ / PROT rules (any SECURE_DATACONN)


def test_prot_needs_pbsz_first(clear):
    c = logged_in(clear)
    try:
        r = c.cmd("PROT P")
        assert r.code == 503 and "PBSZ" in r.text, r
        c.expect("PBSZ 0", 200)
        c.expect("PROT P", 200)
    finally:
        c.close()


@pytest.mark.parametrize("level", ["S", "E"])
def test_prot_safe_and_confidential_not_supported(clear, level):
    c = logged_in(clear)
    try:
        c.expect("PBSZ 0", 200)
        r = c.cmd(f"PROT {level}")
        assert r.code == 536, r
    finally:
        c.close()


def test_pbsz_and_prot_need_tls(clear):
    c = logged_in(clear, tls=False)
    try:
        assert c.cmd("PBSZ 0").code == 503
        assert c.cmd("PROT P").code == 503
    finally:
        c.close()


# --------------------------------------------------------------------------
# NEVER


def test_never_refuses_prot_p(never):
    c = logged_in(never)
    try:
        c.expect("PBSZ 0", 200)
        r = c.cmd("PROT P")
        assert r.code == 534 and "SECURE_DATACONN NEVER" in r.text, r
        c.expect("PROT C", 200)
        final, data = retr(c, protect=False)
        assert final.code == 226 and data == DATA, final
    finally:
        c.close()


def test_never_curl_and_lftp(never, peer):
    res = peer.curl(never, "--ssl-reqd", "--insecure", never.url("f.bin"))
    assert res.rc != 0 and res.out == b"", res
    assert re.search(r"^< 534 ", res.err, re.M), res
    # Protected control connection, clear data: what NEVER is for.
    res = peer.curl(never, "--ftp-ssl-control", "--insecure", never.url("f.bin"))
    assert res.rc == 0 and res.out == DATA, res
    out = peer.workdir / "never.bin"
    res = peer.lftp(never, [f"get f.bin -o {out}"], settings=["set ftp:ssl-protect-data no"])
    assert res.rc == 0 and out.read_bytes() == DATA, res
    assert "---> AUTH TLS" in res.err, res


# --------------------------------------------------------------------------
# CLEAR


@pytest.mark.parametrize("prot", ["C", "P"])
def test_clear_lets_the_client_choose(clear, prot):
    before = transfers_logged(clear)
    f = RecordingFTP_TLS(mode="epsv").connect_login(clear.port, USER, PASSWORD, prot=prot)
    try:
        up = os.urandom(123_457)
        assert ftp_store(f, f"up-{prot}.bin", up).startswith("226")
        assert ftp_fetch(f, "f.bin") == DATA
    finally:
        f.quit()
    assert sha256((clear.home / f"up-{prot}.bin").read_bytes()) == sha256(up)
    assert transfers_logged(clear)[len(before):] == [f"PROT {prot}"]


def early_data_session(srv) -> RawControl:
    c = logged_in(srv)
    c.expect("PBSZ 0", 200)
    c.expect("PROT P", 200)
    return c


def test_data_handshake_done_before_the_transfer_command(clear):
    """With PROT P the server takes the passive data connection and answers its TLS handshake
    as soon as it arrives, before RETR: curl finishes that handshake before it reads further
    control replies (it would otherwise stall 0.2 to 1 s per file). Commands in between
    (SIZE, as curl sends) are answered; the data then arrives intact."""
    c = early_data_session(clear)
    try:
        for _ in range(2):
            port = c.epsv_port()
            c.timeout = 10  # the handshake below must finish without RETR having been sent
            d = c.open_data(port, protect=True)
            assert d.version() == "TLSv1.3" and d.session_reused, d.version()
            assert c.cmd("SIZE f.bin").code == 213
            c.send("RETR f.bin")
            assert c.reply().code == 150
            out = bytearray()
            while chunk := d.recv(1 << 16):
                out += chunk
            d.close()
            assert c.reply().code == 226
            assert bytes(out) == DATA
    finally:
        c.close()


def test_prot_c_after_epsv_gets_a_clear_refusal(clear):
    """PROT C between EPSV and RETR: the connection waits for a TLS handshake the client will
    not make; the transfer is refused with a reply that says why, and the session goes on."""
    c = early_data_session(clear)
    try:
        c.epsv_port()
        c.expect("PROT C", 200)
        c.send("RETR f.bin")
        r = c.reply()
        if r.code == 150:
            r = c.reply()
        assert r.code == 425 and "PROT" in r.text, r
        final, data = retr(c, protect=False)
        assert final.code == 226 and data == DATA, final
    finally:
        c.close()


def test_abor_drops_a_waiting_data_connection(clear):
    """ABOR with no transfer running closes a data connection made after EPSV; the next EPSV
    and RETR work as usual."""
    c = early_data_session(clear)
    try:
        d = c.open_data(c.epsv_port(), protect=True)
        assert c.cmd("ABOR").code == 225
        try:
            assert d.recv(1) == b"", "the data connection stayed open after ABOR"
        except (ssl.SSLError, ConnectionError):
            pass  # closed without close_notify: also closed
        d.close()
        final, data = retr(c, protect=True)
        assert final.code == 226 and data == DATA, final
    finally:
        c.close()


def test_clear_control_connection_without_tls_transfers(clear, peer):
    res = peer.curl(clear, clear.url("f.bin"))
    assert res.rc == 0 and res.out == DATA, res


def test_clear_data_really_unencrypted_with_prot_c(clear):
    """PROT C: the file's bytes travel as they are (no TLS record framing)."""
    c = logged_in(clear)
    try:
        c.expect("PBSZ 0", 200)
        c.expect("PROT C", 200)
        final, data = retr(c, protect=False)
        assert final.code == 226 and data == DATA
        c.expect("PROT P", 200)
        port = c.epsv_port()
        c.send("RETR f.bin")
        assert c.reply().code == 150
        d = c.open_data(port, True)
        assert isinstance(d, ssl.SSLSocket) and d.version()
        out = bytearray()
        while chunk := d.recv(1 << 16):
            out += chunk
        d.close()
        assert c.reply().code == 226 and bytes(out) == DATA
    finally:
        c.close()


# --------------------------------------------------------------------------
# PRIVATE


def test_private_refuses_prot_c(private):
    c = logged_in(private)
    try:
        c.expect("PBSZ 0", 200)
        r = c.cmd("PROT C")
        assert r.code == 534 and "SECURE_DATACONN PRIVATE" in r.text, r
    finally:
        c.close()


@pytest.mark.parametrize("tls", [True, False], ids=["tls-control", "clear-control"])
def test_private_refuses_transfer_before_prot_p(private, tls):
    c = logged_in(private, tls=tls)
    try:
        final, data = retr(c, protect=False)
        assert data is None and final.code == 521, final
        assert "PROT P" in final.text, final
        for line in ("LIST", "STOR up.bin"):
            c.epsv_port()
            r = c.cmd(line)
            assert r.code == 521, f"{line}: {r}"
        if tls:
            c.expect("PBSZ 0", 200)
            c.expect("PROT P", 200)
            final, data = retr(c, protect=True)
            assert final.code == 226 and data == DATA, final
    finally:
        c.close()
    assert not (private.home / "up.bin").exists()


def test_private_curl_and_lftp(private, peer):
    res = peer.curl(private, private.url("f.bin"))  # clear control and data
    assert res.rc != 0 and res.out == b"", res
    assert re.search(r"^< 521 ", res.err, re.M), res
    res = peer.curl(private, "--ssl-reqd", "--insecure", private.url("f.bin"))
    assert res.rc == 0 and res.out == DATA, res
    out = peer.workdir / "private.bin"
    res = peer.lftp(private, [f"get f.bin -o {out}"])
    assert res.rc == 0 and out.read_bytes() == DATA, res
    assert "---> PROT P" in res.err, res


# --------------------------------------------------------------------------
# A protected data connection whose client never starts TLS


def test_stalled_data_handshake_bounded_by_datacttime(ferryd_factory):
    """A client that opens the PROT P data connection but never sends its ClientHello
    (curl after AUTH SSL and a refused PROT C does exactly that) must not hang the
    session: DATACTTIME bounds the wait as for any data connection."""
    import socket
    import time

    srv = ferryd_factory("dataconn-stall", overrides={"SECURE_DATACONN": "PRIVATE",
                                                       "DATACTTIME": "2"})
    (srv.home / "f.bin").write_bytes(DATA)
    c = logged_in(srv)
    try:
        c.expect("PBSZ 0", 200)
        c.expect("PROT P", 200)
        port = c.epsv_port()
        c.send("RETR f.bin")
        assert c.reply().code == 150
        with socket.create_connection(("127.0.0.1", port), timeout=30):  # no TLS from us
            started = time.monotonic()
            c.sock.settimeout(15)
            try:
                r = c.reply()
            except (TimeoutError, socket.timeout):
                pytest.fail("no reply 15 s after the data connection stalled in the TLS "
                            "handshake; DATACTTIME is 2 s")
            assert r.code in (425, 426, 522), r
            assert time.monotonic() - started < 10
        c.sock.settimeout(30)
        c.expect("NOOP", 200)
    finally:
        c.close()

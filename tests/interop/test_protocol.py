"""Protocol and security behaviour checked byte by byte with raw sockets."""

import os
import socket
import ssl

import pytest

from ftpwire import (HOST, ConnectionClosed, RawControl, abort_socket, client_context,
                     close_data, recv_all)

MiB = 1024 * 1024


def login_tls(srv, prot="P") -> RawControl:
    c = RawControl(srv.port)
    assert c.greeting.code == 220, c.greeting
    c.login_tls(srv.user, srv.password, prot)
    return c


def list_over_epsv(c: RawControl, protect: bool = True) -> bytes:
    port = c.epsv_port()
    c.send("NLST")
    d = c.open_data(port, protect)
    r = c.reply()
    assert r.code in (125, 150), r
    data = recv_all(d)
    close_data(d)
    r = c.reply()
    assert r.code == 226, r
    return data


def replies_until_noop_ok(c: RawControl) -> list:
    """Send NOOP and read replies until its 200. Returns the replies before it.
    A clean close (EOF/reset) is returned as the string 'closed'. A hang fails
    through the socket timeout."""
    seen = []
    try:
        c.send("NOOP")
        while True:
            r = c.reply()
            if r.code == 200:
                return seen
            seen.append(r)
    except (ConnectionClosed, BrokenPipeError, ConnectionResetError):
        seen.append("closed")
        return seen


# --------------------------------------------------------------------------
# AUTH TLS pipelining (CVE-2011-0411 style command injection)


INJECTION = "pyftpdlib executes plaintext pipelined after AUTH TLS"


@pytest.mark.ferryd_only(INJECTION)
def test_plaintext_pipelined_after_auth_tls_is_discarded(ferryd):
    c = RawControl(ferryd.port)
    try:
        c.send_raw(b"AUTH TLS\r\nUSER evil\r\n")  # one write, one TCP segment
        r = c.reply()
        assert r.code == 234, r
        c.handshake()  # fails if the server sent more plaintext after the 234
        r = c.cmd("NOOP")
        assert r.code == 200, (f"first reply over TLS must answer NOOP; got {r} "
                               "(the injected plaintext USER was executed)")
        c.login(ferryd.user, ferryd.password)
        assert c.cmd("PWD").code == 257
    finally:
        c.close()


@pytest.mark.ferryd_only(INJECTION)
def test_injected_commands_do_not_log_in(ferryd):
    """Plaintext USER/PASS pipelined after AUTH TLS must not authenticate the session."""
    c = RawControl(ferryd.port)
    try:
        c.send_raw(f"AUTH TLS\r\nUSER {ferryd.user}\r\nPASS {ferryd.password}\r\n".encode())
        assert c.reply().code == 234
        c.handshake()
        r = c.cmd("PWD")
        assert r.code == 530, f"session must not be logged in after injected USER/PASS: {r}"
    finally:
        c.close()


# --------------------------------------------------------------------------
# Line length


@pytest.mark.parametrize("where", ["plaintext", "tls"])
def test_overlong_command_line(ferryd, where):
    c = RawControl(ferryd.port)
    try:
        if where == "tls":
            c.login_tls(ferryd.user, ferryd.password)
        c.send_raw(b"USER " + b"a" * 9995 + b"\r\n")  # 10000 bytes before CRLF
        r = c.reply()
        assert r.code == 500, f"over-long line must get 500, got {r}"
        rest = replies_until_noop_ok(c)
        assert all(x == "closed" or 500 <= x.code < 600 for x in rest), rest
        if "closed" not in rest and where == "tls":
            assert c.cmd("PWD").code == 257  # still logged in, still working
    finally:
        c.close()


# --------------------------------------------------------------------------
# FEAT, PBSZ, PROT, HOST


def feat_lines(c: RawControl) -> list[str]:
    r = c.cmd("FEAT")
    assert r.code == 211, r
    return [ln.strip().upper() for ln in r.lines[1:-1]]


FEATURES = ["AUTH TLS", "PBSZ", "PROT", "EPSV", "EPRT", "MLST", "SIZE", "MDTM",
            "REST STREAM", "UTF8",
            pytest.param("HOST", marks=pytest.mark.ferryd_only("no HOST (RFC 7151)"))]


@pytest.fixture(scope="module")
def feats(ferryd):
    with RawControl(ferryd.port) as c:
        plain = feat_lines(c)
        c.starttls()
        secure = feat_lines(c)
    return plain, secure


@pytest.mark.parametrize("feature", FEATURES)
def test_feat_lists(feats, feature):
    for lines in feats:  # before and after AUTH TLS, before login
        if feature == "AUTH TLS":
            ok = any(ln.split()[0] == "AUTH" and "TLS" in ln.split()[1:] for ln in lines)
        else:
            n = len(feature.split())
            ok = any(ln.split()[:n] == feature.split() for ln in lines)
        assert ok, f"FEAT does not list {feature}: {lines}"


def test_pbsz_0_then_prot_p_and_c(ferryd):
    with RawControl(ferryd.port) as c:
        c.starttls()
        c.login(ferryd.user, ferryd.password)
        c.expect("PBSZ 0", 200)
        c.expect("PROT P", 200)
        (ferryd.home / "prot-check.txt").write_text("x")
        assert b"prot-check.txt" in list_over_epsv(c, protect=True)
        c.expect("PROT C", 200)
        assert b"prot-check.txt" in list_over_epsv(c, protect=False)


@pytest.mark.ferryd_only("pyftpdlib answers 521")
@pytest.mark.parametrize("level", ["S", "E"])
def test_prot_s_and_e_refused(ferryd, level):
    with RawControl(ferryd.port) as c:
        c.login_tls(ferryd.user, ferryd.password, prot="P")
        r = c.cmd(f"PROT {level}")
        assert r.code in (536, 504), r
        # still PROT P: a protected listing works
        assert c.cmd("NOOP").code == 200
        list_over_epsv(c, protect=True)


@pytest.mark.ferryd_only("no HOST (RFC 7151)")
def test_host_before_login(ferryd):
    with RawControl(ferryd.port) as c:
        r = c.cmd(f"HOST {HOST}")
        assert 200 <= r.code < 300, r
        c.login_tls(ferryd.user, ferryd.password)
        assert c.cmd("PWD").code == 257


# --------------------------------------------------------------------------
# Data connection policy


def test_epsv_all_refuses_other_data_commands(ferryd):
    with login_tls(ferryd) as c:
        r = c.cmd("EPSV ALL")
        assert 200 <= r.code < 300, r
        for cmd in ("PASV", "PORT 127,0,0,1,200,10", "EPRT |1|127.0.0.1|51210|"):
            r = c.cmd(cmd)
            assert 500 <= r.code < 600, f"{cmd} after EPSV ALL: {r}"
        (ferryd.home / "epsv-all.txt").write_text("x")
        assert b"epsv-all.txt" in list_over_epsv(c)


@pytest.mark.parametrize("cmd", ["PORT 127,0,0,2,{hi},{lo}", "EPRT |1|127.0.0.2|{port}|"])
def test_port_to_foreign_address_refused(ferryd, cmd):
    """SECURITY (FTP bounce): PORT/EPRT must name the control connection's peer."""
    with socket.create_server((HOST, 0)) as lst, login_tls(ferryd) as c:
        lst.settimeout(5)
        port = lst.getsockname()[1]
        r = c.cmd(cmd.format(hi=port // 256, lo=port % 256, port=port))
        assert 500 <= r.code < 600, f"{cmd} accepted: {r}"
        # The same command naming the real peer works (the refusal is specific).
        real = cmd.replace("127,0,0,2", "127,0,0,1").replace("127.0.0.2", "127.0.0.1")
        r = c.cmd(real.format(hi=port // 256, lo=port % 256, port=port))
        assert r.code == 200, r
        c.send("NLST")
        r = c.reply()
        assert r.code in (125, 150), r
        d, _ = lst.accept()
        d.settimeout(c.timeout)
        d = c.ctx.wrap_socket(d, server_hostname=HOST, session=c.sock.session)
        recv_all(d)
        close_data(d)
        assert c.reply().code == 226


def test_default_type_is_ascii(ferryd):
    """RFC 959: a session starts in TYPE A. lftp relies on it: its `put -a`
    sends no TYPE A to a server it believes is still in the default type."""
    with login_tls(ferryd) as c:
        port = c.epsv_port()
        c.send("STOR default-type.txt")
        d = c.open_data(port, protect=True)
        assert c.reply().code in (125, 150)
        d.sendall(b"one\r\ntwo\r\n")
        close_data(d)
        assert c.reply().code == 226
        assert (ferryd.home / "default-type.txt").read_bytes() == b"one\ntwo\n"


# --------------------------------------------------------------------------
# Interrupted upload


@pytest.mark.ferryd_only("pyftpdlib writes uploads in place")
@pytest.mark.parametrize("prot", ["P", "C"])
def test_interrupted_upload_keeps_old_file(ferryd, prot):
    name = f"precious-{prot}.bin"
    old = os.urandom(3 * MiB)
    (ferryd.home / name).write_bytes(old)
    before = sorted(p.name for p in ferryd.home.iterdir())
    with login_tls(ferryd, prot=prot) as c:
        c.expect("TYPE I", 200)
        port = c.epsv_port()
        c.send(f"STOR {name}")
        d = c.open_data(port, protect=(prot == "P"))
        r = c.reply()
        assert r.code in (125, 150), r
        sent = os.urandom(MiB)
        d.sendall(sent)  # a third of the old size, then the line drops
        abort_socket(d)  # TCP RST, no TLS close_notify
        r = c.reply()
        assert 400 <= r.code < 600, f"an aborted upload must not be reported as done: {r}"
        assert (ferryd.home / name).read_bytes() == old, "interrupted STOR damaged the old file"
        # Only the hidden partial (issue 18: resumable with REST + STOR) may be new, holding
        # a prefix of what was sent; a listing shows nothing new.
        partial = f".ferry-upload-part.{name}"
        after = sorted(p.name for p in ferryd.home.iterdir())
        assert [n for n in after if n != partial] == before, "interrupted STOR left files behind"
        if partial in after:
            kept = (ferryd.home / partial).read_bytes()
            assert kept == sent[:len(kept)]
        port = c.epsv_port()
        c.send("NLST")
        listing = recv_all(c.open_data(port, protect=(prot == "P")))
        assert c.reply().code in (125, 150) and c.reply().code == 226
        assert partial.encode() not in listing and name.encode() in listing
        # The session still works and a complete STOR replaces the file.
        new = os.urandom(MiB // 2)
        port = c.epsv_port()
        c.send(f"STOR {name}")
        d = c.open_data(port, protect=(prot == "P"))
        assert c.reply().code in (125, 150)
        d.sendall(new)
        close_data(d)
        assert c.reply().code == 226
        assert (ferryd.home / name).read_bytes() == new
        assert not (ferryd.home / partial).exists(), "the partial outlived the upload"


@pytest.mark.ferryd_only("the timing of the final reply is ferryd's choice")
@pytest.mark.parametrize("prot", ["P", "C"])
def test_final_reply_does_not_wait_for_client_close(ferryd, prot):
    """After a download the server closes its side (close_notify, FIN) and replies 226 at once;
    it does not hold the reply until the client has closed the data connection too."""
    name = f"no-close-{prot}.bin"
    body = os.urandom(200_000)
    (ferryd.home / name).write_bytes(body)
    held = []
    with login_tls(ferryd, prot=prot) as c:
        c.expect("TYPE I", 200)
        try:
            for i in range(3):
                port = c.epsv_port()
                c.send(f"RETR {name}")
                d = c.open_data(port, protect=(prot == "P"))
                held.append(d)  # read to the end, never closed until the test ends
                assert c.reply().code in (125, 150)
                assert recv_all(d) == body, f"transfer {i + 1}: wrong bytes"
                c.sock.settimeout(5)  # DATACTTIME is 60 s: waiting for our close would time out
                r = c.reply()
                assert r.code == 226, f"transfer {i + 1}: {r}"
        finally:
            for d in held:
                d.close()
        c.expect("NOOP", 200)


# --------------------------------------------------------------------------
# TLS 1.3 on data connections


@pytest.mark.ferryd_only("the stand-in keeps data connections on TLS 1.2")
def test_no_tls13_session_tickets_on_data_connections(ferryd):
    """A TLS 1.3 session ticket sent on a data connection is never read by
    GnuTLS clients such as lftp on upload: they close with unread data, the
    kernel sends a RST, and the upload ends as an error (or truncated).
    Tickets belong on the control connection only."""
    ctx = client_context()
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    data = os.urandom(256 * 1024)
    (ferryd.home / "tickets.bin").write_bytes(data)
    with RawControl(ferryd.port) as c:
        c.starttls(ctx)
        assert c.sock.version() == "TLSv1.3"
        c.login(ferryd.user, ferryd.password)
        c.expect("PBSZ 0", 200)
        c.expect("PROT P", 200)
        c.expect("TYPE I", 200)
        port = c.epsv_port()
        c.send("RETR tickets.bin")
        d = c.open_data(port, protect=True)
        assert d.version() == "TLSv1.3"
        before = d.session
        assert c.reply().code in (125, 150)
        got = recv_all(d)  # up to the server's close_notify
        after = d.session
        close_data(d)
        assert c.reply().code == 226
        assert got == data
        assert after.id == before.id, \
            "the server sent a TLS 1.3 NewSessionTicket on the data connection"

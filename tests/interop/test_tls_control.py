"""EXTENSIONS AUTH_TLS, SECURE_FTP ALLOWED | REQUIRED and TLSPORT: whether and how the
control connection is protected, as curl, lftp, ftplib and raw clients see it."""

import os
import re
import socket
import ssl

import pytest

from conftest import PASSWORD, USER
from ftpwire import ImplicitFTP_TLS, RawControl, RecordingFTP_TLS, client_context, ftp_fetch


@pytest.fixture(scope="module")
def no_auth_tls(ferryd_factory):
    """KEYRING present but EXTENSIONS AUTH_TLS not given, no implicit port."""
    return ferryd_factory("no-auth-tls", implicit=False, overrides={
        "EXTENSIONS": None, "TLSPORT": "0"})


@pytest.fixture(scope="module")
def tls_required(ferryd_factory):
    srv = ferryd_factory("secure-ftp-required", overrides={"SECURE_FTP": "REQUIRED"})
    (srv.home / "f.txt").write_text("protected\n")
    return srv


@pytest.fixture(scope="module")
def tls_allowed(ferryd_factory):
    srv = ferryd_factory("secure-ftp-allowed", overrides={"SECURE_FTP": "ALLOWED"})
    (srv.home / "f.txt").write_text("either way\n")
    return srv


def feat(c: RawControl) -> list[str]:
    r = c.expect("FEAT", 211)
    return [line.strip() for line in r.lines[1:-1]]


# --------------------------------------------------------------------------
# EXTENSIONS AUTH_TLS


def test_auth_tls_offered_with_extensions_auth_tls(tls_allowed):
    c = RawControl(tls_allowed.port)
    try:
        features = feat(c)
        for f in ("AUTH TLS", "PBSZ", "PROT"):
            assert f in features, features
        c.starttls()
        assert c.sock.version() in ("TLSv1.2", "TLSv1.3")
        c.login(USER, PASSWORD)
    finally:
        c.close()


def test_without_extensions_auth_tls_auth_is_502(no_auth_tls, peer):
    assert "EXTENSIONS" not in no_auth_tls.config_path.read_text()
    (no_auth_tls.home / "f.txt").write_text("clear only\n")
    c = RawControl(no_auth_tls.port)
    try:
        features = feat(c)
        assert not any(f.startswith(("AUTH", "PBSZ", "PROT")) for f in features), features
        r = c.cmd("AUTH TLS")
        assert r.code == 502, r
        c.expect("PBSZ 0", 503, 502, 530)
        c.login(USER, PASSWORD)  # still on the clear connection: nothing was upgraded
        assert c.cmd("PWD").code == 257
    finally:
        c.close()
    res = peer.curl(no_auth_tls, "--ssl-reqd", "--insecure", no_auth_tls.url("f.txt"))
    assert res.rc != 0 and res.out == b"", res
    assert re.search(r"^< 502", res.err, re.M), res
    res = peer.curl(no_auth_tls, "--ssl", "--insecure", no_auth_tls.url("f.txt"))  # TLS if offered
    assert res.rc == 0 and res.out == b"clear only\n", res


# --------------------------------------------------------------------------
# SECURE_FTP REQUIRED


REFUSED_IN_CLEAR = ["USER alice", f"PASS {PASSWORD}", "PBSZ 0", "PROT P", "PWD", "CWD /",
                    "PASV", "EPSV", "LIST", "RETR f.txt", "STOR x", "SIZE f.txt", "MKD d",
                    "DELE f.txt", "TYPE I", "CCC", "REIN"]
ALLOWED_IN_CLEAR = {"FEAT": 211, "HELP": 214, "NOOP": 200, "SYST": 215, "OPTS UTF8 ON": 200,
                    "HOST 127.0.0.1": 220}


def test_secure_ftp_required_refuses_commands_before_auth(tls_required):
    c = RawControl(tls_required.port)
    try:
        for line in REFUSED_IN_CLEAR:
            r = c.cmd(line)
            assert r.code == 530, f"{line!r} in clear: {r}"
            assert "send AUTH TLS first (SECURE_FTP REQUIRED)" in r.text, r
        for line, code in ALLOWED_IN_CLEAR.items():
            r = c.cmd(line)
            assert r.code == code, f"{line!r} must be allowed before AUTH: {r}"
        c.starttls()
        c.login(USER, PASSWORD)
        assert c.cmd("PWD").code == 257
        c.expect("QUIT", 221)
    finally:
        c.close()


def test_secure_ftp_required_quit_in_clear(tls_required):
    c = RawControl(tls_required.port)
    try:
        c.expect("QUIT", 221)
    finally:
        c.close()


def test_secure_ftp_required_implicit_port_counts_as_secured(tls_required):
    f = ImplicitFTP_TLS(mode="epsv")
    f.connect("127.0.0.1", tls_required.tls_port)
    try:
        f.login(USER, PASSWORD)
        assert "AUTH" not in f.verbs()
        f.prot_p()
        assert ftp_fetch(f, "f.txt") == b"protected\n"
    finally:
        f.quit()


def test_secure_ftp_required_curl(tls_required, peer):
    res = peer.curl(tls_required, tls_required.url("f.txt"))  # plain ftp://, no TLS asked
    assert res.rc != 0 and res.out == b"", res
    assert "send AUTH TLS first (SECURE_FTP REQUIRED)" in res.err, res
    res = peer.curl(tls_required, "--ssl-reqd", "--insecure", tls_required.url("f.txt"))
    assert res.rc == 0 and res.out == b"protected\n", res
    res = peer.curl(tls_required, "--insecure", tls_required.url("f.txt", implicit=True))
    assert res.rc == 0 and res.out == b"protected\n", res


def test_secure_ftp_required_lftp(tls_required, peer):
    res = peer.lftp(tls_required, ["ls"], timeout=60, settings=["set ftp:ssl-allow no",
                                                           "set ftp:ssl-force no"])
    assert res.rc != 0, res
    assert "SECURE_FTP REQUIRED" in res.err, res
    res = peer.lftp(tls_required, ["cat f.txt"])
    assert res.rc == 0 and res.out == b"protected\n", res


def test_secure_ftp_required_plain_ftplib_refused(tls_required):
    import ftplib
    f = ftplib.FTP(timeout=30)
    f.connect("127.0.0.1", tls_required.port)
    try:
        with pytest.raises(ftplib.error_perm, match="^530 .*SECURE_FTP REQUIRED"):
            f.login(USER, PASSWORD)
    finally:
        f.close()


# --------------------------------------------------------------------------
# SECURE_FTP ALLOWED


def test_secure_ftp_allowed_clear_and_tls_logins(tls_allowed, peer):
    import ftplib
    f = ftplib.FTP(timeout=30)
    f.connect("127.0.0.1", tls_allowed.port)
    try:
        assert f.login(USER, PASSWORD).startswith("230")
        out = bytearray()
        f.retrbinary("RETR f.txt", out.extend)
        assert bytes(out) == b"either way\n"
    finally:
        f.quit()
    res = peer.curl(tls_allowed, tls_allowed.url("f.txt"))
    assert res.rc == 0 and res.out == b"either way\n", res
    assert not re.search(r"^> AUTH", res.err, re.M), res
    t = RecordingFTP_TLS(mode="epsv").connect_login(tls_allowed.port, USER, PASSWORD)
    try:
        assert ftp_fetch(t, "f.txt") == b"either way\n"
    finally:
        t.quit()


# --------------------------------------------------------------------------
# TLSPORT


def listening_ports(pid: int) -> set[int]:
    """TCP ports the process listens on (its socket inodes in /proc/net/tcp[6])."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        m = re.match(r"socket:\[(\d+)\]", target)
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = open(table).read().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # 0A = LISTEN
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


def test_tlsport_n_serves_implicit_tls(tls_allowed, peer):
    assert listening_ports(tls_allowed.proc.pid) == {tls_allowed.port, tls_allowed.tls_port}
    res = peer.curl(tls_allowed, "--insecure", tls_allowed.url("f.txt", implicit=True))
    assert res.rc == 0 and res.out == b"either way\n", res
    assert not re.search(r"^> AUTH", res.err, re.M), res  # TLS from the first byte
    # A clear client on the implicit port gets no clear greeting.
    with socket.create_connection(("127.0.0.1", tls_allowed.tls_port), timeout=10) as s:
        s.sendall(b"USER alice\r\n")
        try:
            got = s.recv(4096)
        except (ConnectionResetError, socket.timeout):
            got = b""
        assert not got.startswith(b"220"), got


def test_tlsport_0_disables_implicit_tls(ferryd_factory, peer):
    srv = ferryd_factory("tlsport-0", implicit=False)
    assert "TLSPORT 0\n" in srv.config_path.read_text()
    assert listening_ports(srv.proc.pid) == {srv.port}, "TLSPORT 0 must open no implicit listener"
    c = RawControl(srv.port)  # explicit TLS is unaffected
    try:
        c.starttls()
        c.login(USER, PASSWORD)
    finally:
        c.close()


def test_tlsport_implicit_session_protects_data_by_default(tls_allowed):
    """Implicit FTPS clients expect protected data without PBSZ/PROT."""
    c = RawControl(tls_allowed.tls_port, implicit=client_context())
    try:
        assert c.greeting.code == 220
        c.login(USER, PASSWORD)
        c.expect("TYPE I", 200)
        port = c.epsv_port()
        c.send("RETR f.txt")
        assert c.reply().code == 150
        d = c.open_data(port, True)
        assert isinstance(d, ssl.SSLSocket)
        data = bytearray()
        while chunk := d.recv(4096):
            data += chunk
        d.close()
        assert c.reply().code == 226 and bytes(data) == b"either way\n"
    finally:
        c.close()

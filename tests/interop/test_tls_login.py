"""SECURE_LOGIN NO_CLIENT_AUTH | REQUIRED | VERIFY_USER, SECURE_PASSWORD REQUIRED | OPTIONAL,
CAFILE and CERTMAP: client-certificate authentication as clients see it.

The certificates come from the client_pki fixture (conftest.py): alice and bob are
signed by the trusted client CA, mallory too but registered nowhere, stranger has
bob's subject but an unknown CA, expired is alice's name with a January 2020 validity,
twin has bob's subject from a second CA that a CAFILE may trust as well.
"""

import re
import ssl

import pytest

from conftest import PASSWORD, free_port, run_config_once
from ftpwire import ConnectionClosed, RawControl, client_context

USERS = ("alice", "bob")


@pytest.fixture(scope="module")
def accounts(tmp_path_factory, pki):
    """A users file with alice and bob (same password); each home holds whoami-<name>."""
    d = tmp_path_factory.mktemp("accounts")
    lines = []
    for u in USERS:
        (d / u).mkdir()
        (d / u / f"whoami-{u}").write_text(u)
        lines.append(f"{u}:{pki['hash']}:{d / u}")
    (d / "users").write_text("\n".join(lines) + "\n")
    return d / "users"


def certmap(tmp_path_factory, name, text):
    p = tmp_path_factory.mktemp(name) / "certmap"
    p.write_text(text)
    return p


def standard_map(client_pki, alice_ports=""):
    """alice by SHA-256 fingerprint, bob by subject and issuer; mallory, stranger and twin
    unmapped."""
    ports = f" ports={alice_ports}" if alice_ports else ""
    bob = client_pki["bob"]
    return (f"# CERTMAP written by test_tls_login.py\n"
            f"alice sha256={client_pki['alice'].fingerprint}{ports}\n"
            f"bob   subject=\"{bob.subject}\" issuer=\"{bob.issuer}\"\n")


@pytest.fixture(scope="module")
def noauth(ferryd_factory):
    return ferryd_factory("login-noauth", overrides={"SECURE_LOGIN": "NO_CLIENT_AUTH"})


@pytest.fixture(scope="module")
def required(ferryd_factory, client_pki):
    return ferryd_factory("login-required", overrides={
        "SECURE_LOGIN": "REQUIRED", "CAFILE": str(client_pki["ca"])})


@pytest.fixture(scope="module")
def verify(ferryd_factory, tmp_path_factory, client_pki, accounts):
    """VERIFY_USER; alice's mapping allows only the explicit (LISTEN) port."""
    port = free_port()
    cm = certmap(tmp_path_factory, "certmap-verify", standard_map(client_pki, alice_ports=str(port)))
    return ferryd_factory("login-verify", port=port, overrides={
        "SECURE_LOGIN": "VERIFY_USER", "CAFILE": str(client_pki["ca"]), "CERTMAP": str(cm),
        "USERS": str(accounts)})


@pytest.fixture(scope="module", params=["VERIFY_USER", "REQUIRED"])
def optional(request, ferryd_factory, tmp_path_factory, client_pki, accounts):
    """SECURE_PASSWORD OPTIONAL with level 2 (VERIFY_USER) and level 1 (REQUIRED) + CERTMAP."""
    cm = certmap(tmp_path_factory, "certmap-optional", standard_map(client_pki))
    srv = ferryd_factory(f"login-optional-{request.param.lower()}", overrides={
        "SECURE_LOGIN": request.param, "SECURE_PASSWORD": "OPTIONAL",
        "CAFILE": str(client_pki["ca"]), "CERTMAP": str(cm), "USERS": str(accounts)})
    srv.level = request.param
    return srv


def cert_ctx(client_pki, who=None, version=None):
    if who is None:
        return client_context(version=version)
    c = client_pki[who]
    return client_context(cert=c.cert, key=c.key, version=version)


def tls_control(srv, ctx, implicit=False) -> RawControl:
    if implicit:
        c = RawControl(srv.tls_port, implicit=ctx)
    else:
        c = RawControl(srv.port)
        c.starttls(ctx)
    return c


def nlst(c: RawControl) -> list[str]:
    c.expect("PBSZ 0", 200)
    c.expect("PROT P", 200)
    port = c.epsv_port()
    c.send("NLST")
    d = c.open_data(port, True)
    assert c.reply().code in (125, 150)
    out = bytearray()
    while chunk := d.recv(65536):
        out += chunk
    d.close()
    assert c.reply().code == 226
    return out.decode().split()


def expect_refused_handshake(srv, ctx, implicit=False) -> str:
    """The TLS handshake (or, on TLS 1.3, the first read after it) must fail before
    the server answers any command. Returns what the client saw."""
    c = None
    try:
        c = tls_control(srv, ctx, implicit)
        r = c.cmd("NOOP")
    except (ssl.SSLError, ConnectionClosed, OSError) as exc:
        return repr(exc)
    finally:
        if c:
            c.close()
    pytest.fail(f"the server accepted the handshake and answered NOOP with {r}")


def log_after(srv, offset):
    return srv.log[offset:]


def wait_log(srv, offset, pattern, deadline=10.0):
    import time
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if re.search(pattern, log_after(srv, offset)):
            return
        time.sleep(0.05)  # poll interval, bounded by the deadline
    pytest.fail(f"server log lacks /{pattern}/ within {deadline}s:\n{log_after(srv, offset)}")


# --------------------------------------------------------------------------
# NO_CLIENT_AUTH


def test_no_client_auth_requests_no_certificate(noauth, peer, client_pki):
    res = peer.s_client(noauth.port)
    assert res.rc == 0, res
    out = res.out.decode(errors="replace")
    assert "No client certificate CA names sent" in out, res
    # Password login works without a certificate, and a certificate is not asked for.
    c = tls_control(noauth, cert_ctx(client_pki, "alice"))
    try:
        c.expect("USER alice", 331)
        c.expect(f"PASS {PASSWORD}", 230)
    finally:
        c.close()
    assert "client certificate" not in noauth.log


# --------------------------------------------------------------------------
# REQUIRED (level 1)


def test_required_requests_certificate_from_cafile(required, peer):
    res = peer.s_client(required.port, "-tls1_2")  # TLS 1.2: the request precedes the failure
    out = res.out.decode(errors="replace")
    m = re.search(r"Acceptable client certificate CA names\n(.*?)\n(Requested|Client Certificate|---)",
                  out, re.S)
    assert m, f"the server did not ask for a client certificate:\n{res}"
    assert "Ferry test client CA" in m.group(1) and "Unknown CA" not in m.group(1), m.group(1)


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_required_accepts_certificate_from_trusted_ca(required, client_pki, version, implicit):
    offset = len(required.log)
    c = tls_control(required, cert_ctx(client_pki, "alice", version), implicit)
    try:
        assert c.greeting.code == 220, c.greeting
        # Level 1 only authenticates the client's TLS end; the password is still needed.
        c.expect("USER alice", 331)
        c.expect(f"PASS {PASSWORD}", 230)
        assert c.cmd("PWD").code == 257
    finally:
        c.close()
    wait_log(required, offset, re.escape(f"client certificate {client_pki['alice'].subject}"))


REFUSED = {  # certificate -> the server's reason in its log
    None: "peer did not return a certificate",
    "stranger": "certificate verify failed",
    "expired": "certificate verify failed",
}


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("who", [None, "stranger", "expired"],
                         ids=["no-cert", "unknown-ca", "expired"])
def test_required_refuses_handshake(required, client_pki, who, version, implicit):
    offset = len(required.log)
    expect_refused_handshake(required, cert_ctx(client_pki, who, version), implicit)
    wait_log(required, offset, r"TLS handshake failed: .*" + re.escape(REFUSED[who]))
    assert "login" not in log_after(required, offset)


def curl_cert(client_pki, who):
    c = client_pki[who]
    return ["--cert", str(c.cert), "--key", str(c.key)]


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_required_curl(required, peer, client_pki, implicit):
    (required.home / "level1.txt").write_text("level 1\n")
    tls = [] if implicit else ["--ssl-reqd"]
    url = required.url("level1.txt", implicit=implicit)
    res = peer.curl(required, *tls, "--insecure", *curl_cert(client_pki, "alice"), url)
    assert res.rc == 0 and res.out == b"level 1\n", res
    res = peer.curl(required, *tls, "--insecure", url)
    assert res.rc != 0 and res.out == b"", res
    assert not re.search(r"^< (230|331)", res.err, re.M), res
    res = peer.curl(required, *tls, "--insecure", *curl_cert(client_pki, "expired"), url)
    assert res.rc != 0 and res.out == b"", res


def test_required_lftp(required, peer, client_pki):
    a = client_pki["alice"]
    res = peer.lftp(required, ["cls -1 /"], settings=[f"set ssl:cert-file {a.cert}",
                                                     f"set ssl:key-file {a.key}"])
    assert res.rc == 0, res
    res = peer.lftp(required, ["cls -1 /"], settings=["set net:max-retries 1"])
    assert res.rc != 0, res
    assert "<--- 230" not in res.err, res


# --------------------------------------------------------------------------
# VERIFY_USER (levels 2 and 3)


def test_verify_user_fingerprint_mapping_logs_in(verify, client_pki):
    c = tls_control(verify, cert_ctx(client_pki, "alice"))
    try:
        c.expect("USER alice", 331)
        c.expect(f"PASS {PASSWORD}", 230)
        assert nlst(c) == ["whoami-alice"]
    finally:
        c.close()


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_verify_user_subject_mapping_logs_in(verify, client_pki, implicit):
    """bob's mapping has no ports=: both server ports accept him."""
    c = tls_control(verify, cert_ctx(client_pki, "bob"), implicit)
    try:
        assert c.greeting.code == 220, c.greeting
        c.expect("USER bob", 331)
        c.expect(f"PASS {PASSWORD}", 230)
        assert nlst(c) == ["whoami-bob"]
    finally:
        c.close()


def expect_421_and_close(c: RawControl, text: str):
    r = c.greeting if c.greeting.code == 421 else c.reply()
    assert r.code == 421 and text in r.text, r
    with pytest.raises((ConnectionClosed, ssl.SSLError, OSError)):
        c.cmd("USER alice")  # nothing more is served


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_verify_user_unregistered_certificate_421(verify, client_pki, implicit):
    """mallory's certificate chains to the CA (level 1 passes) but maps to no user:
    the server says so unprompted right after the handshake and closes."""
    text = "Client certificate is not registered to any user (SECURE_LOGIN VERIFY_USER). Closing."
    if implicit:
        c = RawControl(verify.tls_port, implicit=cert_ctx(client_pki, "mallory"))
    else:
        c = RawControl(verify.port)
        c.expect("AUTH TLS", 234)
        c.handshake(cert_ctx(client_pki, "mallory"))
    try:
        expect_421_and_close(c, text)
    finally:
        c.close()


def test_verify_user_port_not_permitted_421(verify, client_pki):
    """Level 3: alice's mapping says ports=<explicit port>; the implicit port refuses her."""
    c = RawControl(verify.tls_port, implicit=cert_ctx(client_pki, "alice"))
    try:
        expect_421_and_close(c, "User alice may not use this server port (SECURE_LOGIN VERIFY_USER).")
    finally:
        c.close()


def test_verify_user_certificate_of_another_user_530(verify, client_pki):
    c = tls_control(verify, cert_ctx(client_pki, "bob"))
    try:
        r = c.expect("USER alice", 530)
        assert "Your client certificate belongs to user bob, not alice" in r.text, r
        assert c.cmd(f"PASS {PASSWORD}").code in (503, 530)
        assert c.cmd("PWD").code == 530, "logged in as alice with bob's certificate"
        c.expect("USER bob", 331)
        c.expect(f"PASS {PASSWORD}", 230)
    finally:
        c.close()


@pytest.fixture(scope="module")
def two_cas(ferryd_factory, tmp_path_factory, client_pki, accounts):
    """VERIFY_USER with a CAFILE that trusts two CAs; bob is mapped by subject and issuer."""
    d = tmp_path_factory.mktemp("two-cas")
    (d / "cas.pem").write_bytes(client_pki["ca"].read_bytes() + client_pki["second_ca"].read_bytes())
    cm = certmap(tmp_path_factory, "certmap-two-cas", standard_map(client_pki))
    return ferryd_factory("login-two-cas", overrides={
        "SECURE_LOGIN": "VERIFY_USER", "CAFILE": str(d / "cas.pem"), "CERTMAP": str(cm),
        "USERS": str(accounts)})


def test_verify_user_subject_from_another_trusted_ca_is_not_mapped(two_cas, client_pki):
    """issue 10: a subject= mapping holds only for the CA named by issuer=. twin carries bob's
    subject, signed by another CA that CAFILE trusts: the handshake passes (level 1), but the
    certificate is nobody's. Failed before: issuer= was an unknown CERTMAP key (the server did not
    start), and a subject-only mapping let twin in as bob."""
    c = tls_control(two_cas, cert_ctx(client_pki, "twin"))
    try:
        expect_421_and_close(c, "Client certificate is not registered to any user")
    finally:
        c.close()
    c = tls_control(two_cas, cert_ctx(client_pki, "bob"))
    try:
        c.expect("USER bob", 331)
        c.expect(f"PASS {PASSWORD}", 230)
        assert nlst(c) == ["whoami-bob"]
    finally:
        c.close()
    twin = client_pki["twin"]
    assert f"client certificate {twin.subject} issued by {twin.issuer}" in two_cas.log


@pytest.mark.parametrize("who", ["stranger", "expired", None])
def test_verify_user_refuses_untrusted_certificate_even_if_subject_matches(verify, client_pki, who):
    """stranger carries bob's mapped subject, but no trusted CA signed it."""
    offset = len(verify.log)
    expect_refused_handshake(verify, cert_ctx(client_pki, who))
    wait_log(verify, offset, r"TLS handshake failed: .*" + re.escape(REFUSED[who]))


def test_verify_user_curl(verify, peer, client_pki):
    res = peer.curl(verify, "--ssl-reqd", "--insecure", *curl_cert(client_pki, "alice"),
                    verify.url("whoami-alice"))
    assert res.rc == 0 and res.out == b"alice", res
    res = peer.curl(verify, "--ssl-reqd", "--insecure", *curl_cert(client_pki, "mallory"),
                    verify.url("whoami-alice"))
    assert res.rc != 0 and res.out == b"", res
    assert re.search(r"^< 421 Client certificate is not registered", res.err, re.M), res
    res = peer.curl(verify, "--insecure", *curl_cert(client_pki, "alice"),
                    verify.url("whoami-alice", implicit=True))
    assert res.rc != 0 and res.out == b"", res
    assert "may not use this server port" in res.err, res


def test_verify_user_lftp(verify, peer, client_pki):
    b = client_pki["bob"]
    res = peer.lftp(verify, ["cls -1"], user="bob",
                    settings=[f"set ssl:cert-file {b.cert}", f"set ssl:key-file {b.key}"])
    assert res.rc == 0 and res.out.decode().split() == ["whoami-bob"], res
    res = peer.lftp(verify, ["cls -1"], user="alice",
                    settings=[f"set ssl:cert-file {b.cert}", f"set ssl:key-file {b.key}"])
    assert res.rc != 0 and "belongs to user bob, not alice" in res.err, res


# --------------------------------------------------------------------------
# SECURE_PASSWORD


def test_password_required_despite_mapped_certificate(verify, client_pki):
    """SECURE_PASSWORD REQUIRED (the default): the certificate does not replace the password."""
    assert "SECURE_PASSWORD" not in verify.config_path.read_text()
    c = tls_control(verify, cert_ctx(client_pki, "alice"))
    try:
        c.expect("USER alice", 331)
        c.expect("PASS wrong-password", 530)
        assert c.cmd("PWD").code == 530
        c.expect("USER alice", 331)
        c.expect(f"PASS {PASSWORD}", 230)
    finally:
        c.close()


@pytest.mark.parametrize("who", ["alice", "bob"])
def test_password_optional_mapped_certificate_logs_in_with_232(optional, client_pki, who):
    c = tls_control(optional, cert_ctx(client_pki, who))
    try:
        r = c.expect(f"USER {who}", 232)
        assert "logged in" in r.text, r
        assert nlst(c) == [f"whoami-{who}"]
        assert c.cmd(f"PASS {PASSWORD}").code in (202, 503, 230), "PASS after 232"
    finally:
        c.close()


def test_password_optional_other_name_asks_for_password(optional, client_pki):
    c = tls_control(optional, cert_ctx(client_pki, "bob"))
    try:
        if optional.level == "VERIFY_USER":
            assert c.cmd("USER alice").code == 530
        else:  # level 1: the certificate just does not stand in for alice's password
            c.expect("USER alice", 331)
            assert c.cmd("PWD").code == 530
            c.expect(f"PASS {PASSWORD}", 230)
            assert nlst(c) == ["whoami-alice"]
    finally:
        c.close()


def test_password_optional_unmapped_certificate_asks_for_password(optional, client_pki):
    if optional.level == "VERIFY_USER":
        c = tls_control(optional, cert_ctx(client_pki, "mallory"))
        try:
            expect_421_and_close(c, "not registered to any user")
        finally:
            c.close()
        return
    c = tls_control(optional, cert_ctx(client_pki, "mallory"))
    try:
        c.expect("USER alice", 331)
        c.expect(f"PASS {PASSWORD}", 230)
    finally:
        c.close()


def test_password_optional_clear_connection_is_refused(optional):
    """No TLS, no certificate: no login at all, even with the right password and SECURE_FTP
    ALLOWED here (issue 10: SECURE_LOGIN REQUIRED / VERIFY_USER imply TLS for a login; before,
    this clear login got 230)."""
    c = RawControl(optional.port)
    try:
        r = c.expect("USER alice", 530)
        assert "client certificate" in r.text, r
        assert c.cmd(f"PASS {PASSWORD}").code == 503
    finally:
        c.close()


def test_password_optional_curl_without_password(optional, peer, client_pki):
    res = peer.curl(optional, "--ssl-reqd", "--insecure", *curl_cert(client_pki, "alice"),
                    optional.url("whoami-alice"), password="")
    # curl --user alice: sends no password at all once USER gets 232.
    assert res.rc == 0 and res.out == b"alice", res
    assert re.search(r"^< 232 ", res.err, re.M) and not re.search(r"^> PASS", res.err, re.M), res


def test_password_optional_lftp(optional, peer, client_pki):
    a = client_pki["alice"]
    res = peer.lftp(optional, ["cls -1"], password="not-the-password",
                    settings=[f"set ssl:cert-file {a.cert}", f"set ssl:key-file {a.key}"])
    assert res.rc == 0 and res.out.decode().split() == ["whoami-alice"], res
    assert "<--- 232 " in res.err and "---> PASS" not in res.err, res


# --------------------------------------------------------------------------
# Statement combinations refused at start, with file:line


def run_config(pki, tmp_path, client_pki, statements):
    return run_config_once(pki, tmp_path, statements, "login.conf")


BAD_COMBINATIONS = {
    "required-without-cafile": (["SECURE_LOGIN REQUIRED"], 6, "CAFILE"),
    "verify-without-certmap": (["SECURE_LOGIN VERIFY_USER", "CAFILE {ca}"], 6, "CERTMAP"),
    "optional-without-client-auth": (["SECURE_PASSWORD OPTIONAL", "CERTMAP {map}"], 6,
                                     "SECURE_LOGIN"),
    "optional-without-certmap": (["SECURE_LOGIN REQUIRED", "CAFILE {ca}",
                                  "SECURE_PASSWORD OPTIONAL"], 8, "CERTMAP"),
}


@pytest.mark.parametrize("case", sorted(BAD_COMBINATIONS))
def test_incomplete_statement_combinations_fail_the_start(pki, tmp_path, client_pki, case):
    statements, line, needs = BAD_COMBINATIONS[case]
    cm = tmp_path / "certmap"
    cm.write_text(standard_map(client_pki))
    statements = [s.format(ca=client_pki["ca"], map=cm) for s in statements]
    res = run_config(pki, tmp_path, client_pki, statements)
    assert res.returncode != 0, f"started with {statements}"
    assert f"login.conf:{line}:" in res.stderr and needs in res.stderr, res.stderr


def test_bad_certmap_line_fails_the_start(pki, tmp_path, client_pki):
    cm = tmp_path / "certmap"
    cm.write_text(f"alice sha256={client_pki['alice'].fingerprint}\nbob sha256=12:34:XY\n")
    res = run_config(pki, tmp_path, client_pki, ["SECURE_LOGIN VERIFY_USER",
                                                 f"CAFILE {client_pki['ca']}", f"CERTMAP {cm}"])
    assert res.returncode != 0
    assert f"{cm}:2:" in res.stderr and "12:34:XY" in res.stderr, res.stderr


def test_certmap_subject_without_issuer_fails_the_start(pki, tmp_path, client_pki):
    """issue 10: a subject alone could come from any CA in CAFILE; such a line is refused at
    start with file:line. Failed before: the line was accepted and ferryd started."""
    cm = tmp_path / "certmap"
    cm.write_text(f"alice sha256={client_pki['alice'].fingerprint}\n"
                  f"bob subject=\"{client_pki['bob'].subject}\"\n")
    res = run_config(pki, tmp_path, client_pki, ["SECURE_LOGIN VERIFY_USER",
                                                 f"CAFILE {client_pki['ca']}", f"CERTMAP {cm}"])
    assert res.returncode != 0, res.stderr
    assert f"{cm}:2:" in res.stderr and "issuer=" in res.stderr, res.stderr


def test_unreadable_cafile_fails_the_start(pki, tmp_path, client_pki):
    missing = tmp_path / "no-such-ca.pem"
    res = run_config(pki, tmp_path, client_pki, ["SECURE_LOGIN REQUIRED", f"CAFILE {missing}"])
    assert res.returncode != 0
    assert str(missing) in res.stderr, res.stderr

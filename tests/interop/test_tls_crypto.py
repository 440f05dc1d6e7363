"""CIPHERSUITE, TLSMINVERSION, ALPN (ALPACA), TLSSERVERNAME (SNI) and KEYRING/CAFILE reload
on SIGHUP, as TLS clients see them (Python ssl, openssl s_client, curl).

The test server's certificate is ECDSA P-256, so TLS 1.2 suites are ECDHE-ECDSA-* (an RSA
keyring for the suites that need one).
"""

import hashlib
import re
import signal
import socket
import ssl
import subprocess

import pytest

from conftest import HOST, PASSWORD, USER, _tool, free_port, server_argv, wait_until
from ftpwire import RawControl, ResumingFTP_TLS, client_context, ftp_fetch

A128 = "ECDHE-ECDSA-AES128-GCM-SHA256"
A256 = "ECDHE-ECDSA-AES256-GCM-SHA384"
CHACHA = "ECDHE-ECDSA-CHACHA20-POLY1305"


def handshake(port, ctx, server_hostname=HOST, implicit=False):
    """AUTH TLS (or implicit TLS) handshake; returns the connected RawControl or raises."""
    if implicit:
        return RawControl(port, implicit=ctx)
    c = RawControl(port)
    c.expect("AUTH TLS", 234)
    c.sock = ctx.wrap_socket(c.sock, server_hostname=server_hostname)
    c.ctx = ctx
    return c


def tls12(ciphers):
    ctx = client_context(version="1.2")
    ctx.set_ciphers(ciphers)
    return ctx


def refused(port, ctx, **kw) -> str:
    c = None
    try:
        c = handshake(port, ctx, **kw)
        r = c.cmd("NOOP")
    except (ssl.SSLError, OSError) as exc:
        return str(exc)
    except Exception as exc:  # ConnectionClosed
        return repr(exc)
    finally:
        if c:
            c.close()
    pytest.fail(f"handshake accepted (NOOP -> {r}) but should have been refused")


def negotiated(port, ctx, **kw):
    c = handshake(port, ctx, **kw)
    try:
        assert c.cmd("NOOP").code == 200
        return c.sock.version(), c.sock.cipher()[0], c.sock.selected_alpn_protocol()
    finally:
        c.close()


# --------------------------------------------------------------------------
# CIPHERSUITE


@pytest.mark.parametrize("spelling", [A128, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                                      "SSL_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"],
                         ids=["openssl", "iana", "zos"])
def test_ciphersuite_single_tls12_suite(ferryd_factory, peer, spelling):
    srv = ferryd_factory("cipher-one", overrides={"CIPHERSUITE": spelling})
    assert negotiated(srv.port, tls12(f"{A128}:{A256}"))[:2] == ("TLSv1.2", A128)
    assert negotiated(srv.port, tls12(A128))[1] == A128
    why = refused(srv.port, tls12(A256))
    assert "HANDSHAKE_FAILURE" in why.upper() or "handshake failure" in why, why
    refused(srv.tls_port, tls12(CHACHA), implicit=True)
    # The same with openssl s_client and curl.
    res = peer.s_client(srv.port, "-tls1_2", "-cipher", A256)
    assert res.rc != 0 and "Cipher is (NONE)" in res.out.decode(errors="replace"), res
    res = peer.s_client(srv.port, "-tls1_2", "-cipher", A128)
    assert res.rc == 0 and f"Cipher is {A128}" in res.out.decode(errors="replace"), res
    (srv.home / "c.txt").write_text("cipher\n")
    res = peer.curl(srv, "--ssl-reqd", "--insecure", "--tls-max", "1.2", "--ciphers", A256,
                    srv.url("c.txt"))
    assert res.rc != 0 and res.out == b"", res
    res = peer.curl(srv, "--ssl-reqd", "--insecure", "--tls-max", "1.2", "--ciphers", A128,
                    srv.url("c.txt"))
    assert res.rc == 0 and res.out == b"cipher\n", res


@pytest.mark.parametrize("first, second", [(A128, CHACHA), (CHACHA, A128)])
def test_ciphersuite_order_is_the_servers_preference(ferryd_factory, first, second):
    srv = ferryd_factory("cipher-order", extra=[f"CIPHERSUITE {first}", f"CIPHERSUITE {second}"])
    # The client prefers the server's second choice; the server's order wins.
    assert negotiated(srv.port, tls12(f"{second}:{first}"))[1] == first
    assert negotiated(srv.port, tls12(second))[1] == second
    refused(srv.port, tls12(A256))


def test_ciphersuite_tls13_names_only_disable_tls12(ferryd_factory, peer):
    srv = ferryd_factory("cipher-tls13", overrides={"CIPHERSUITE": "TLS_AES_256_GCM_SHA384"})
    refused(srv.port, client_context(version="1.2"))
    assert negotiated(srv.port, client_context())[:2] == ("TLSv1.3", "TLS_AES_256_GCM_SHA384")
    res = peer.s_client(srv.port, "-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256")
    assert res.rc != 0, res
    res = peer.s_client(srv.port, "-tls1_3", "-ciphersuites", "TLS_CHACHA20_POLY1305_SHA256:"
                        "TLS_AES_256_GCM_SHA384")
    assert res.rc == 0 and "Cipher is TLS_AES_256_GCM_SHA384" in res.out.decode(errors="replace"), res


def test_ciphersuite_tls12_list_leaves_tls13_on(ferryd_factory):
    """TLS 1.2 names restrict TLS 1.2 only; TLS 1.3 keeps its (strong) default suites."""
    srv = ferryd_factory("cipher-tls12-only", overrides={"CIPHERSUITE": A256})
    assert negotiated(srv.port, client_context(version="1.3"))[0] == "TLSv1.3"
    assert negotiated(srv.port, client_context(version="1.2"))[1] == A256


@pytest.fixture(scope="module")
def keyrings(pki, tmp_path_factory):
    """KEYRING files by key type: the test PKI's EC P-256 one, and an RSA one (suites with RSA
    key exchange need an RSA certificate)."""
    d = tmp_path_factory.mktemp("rsa")
    subprocess.run([_tool("openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(d / "key.pem"),
                    "-out", str(d / "cert.pem")], capture_output=True, check=True, timeout=60)
    (d / "server.pem").write_bytes((d / "cert.pem").read_bytes() + (d / "key.pem").read_bytes())
    (d / "server.pem").chmod(0o600)
    return {"ec": str(pki["pem"]), "rsa": str(d / "server.pem")}


# TLS 1.2 suites the default leaves out: (suite, key type of the certificate it needs).
NOT_BY_DEFAULT = {
    "cbc": ("ECDHE-ECDSA-AES128-SHA256", "ec"),      # CBC: LUCKY13 and other padding oracles
    "cbc-sha1": ("ECDHE-RSA-AES256-SHA", "rsa"),
    "rsa-kx-gcm": ("AES128-GCM-SHA256", "rsa"),       # RSA key exchange: no forward secrecy
    "rsa-kx-cbc": ("AES128-SHA", "rsa"),
    "ccm8": ("ECDHE-ECDSA-AES128-CCM8", "ec"),        # 8-byte tags
}
# What a TLS 1.2 client gets from the default with each key type.
DEFAULT_AEAD = {"ec": [A256, A128, CHACHA],
                "rsa": ["ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256",
                        "ECDHE-RSA-CHACHA20-POLY1305"]}


@pytest.fixture(scope="module")
def default_by_key(ferryd_factory, keyrings):
    """A server without CIPHERSUITE per key type."""
    return {k: ferryd_factory(f"cipher-default-{k}", overrides={"KEYRING": keyrings[k]},
                              implicit=False) for k in keyrings}


@pytest.mark.parametrize("case", sorted(NOT_BY_DEFAULT))
def test_default_tls12_suites_are_forward_secret_aead(ferryd_factory, keyrings, default_by_key,
                                                       case):
    """A TLS 1.2 client offering only a CBC, an RSA-key-exchange or a CCM8 suite is refused by
    default, and served when CIPHERSUITE names that suite. Fails on the code before the fix
    (issue 13): its default (OpenSSL's HIGH) negotiated every one of them."""
    suite, key = NOT_BY_DEFAULT[case]
    srv = default_by_key[key]
    why = refused(srv.port, tls12(suite))
    assert "HANDSHAKE_FAILURE" in why.upper() or "handshake failure" in why, why
    for aead in DEFAULT_AEAD[key]:  # the default still serves TLS 1.2 clients, with AEAD
        assert negotiated(srv.port, tls12(aead))[:2] == ("TLSv1.2", aead)
    named = ferryd_factory(f"cipher-named-{case}", implicit=False,
                           overrides={"KEYRING": keyrings[key], "CIPHERSUITE": suite})
    assert negotiated(named.port, tls12(suite))[:2] == ("TLSv1.2", suite)


def config_with(pki, tmp_path, statements):
    users = tmp_path / "users"
    users.write_text(f"alice:{pki['hash']}:{tmp_path}\n")
    lines = [f"LISTEN {HOST} {free_port()}", "TLSPORT 0", f"KEYRING {pki['pem']}",
             f"USERS {users}", "EXTENSIONS AUTH_TLS", *statements, "RUNAS root"]
    config = tmp_path / "crypto.conf"
    config.write_text("\n".join(lines) + "\n")
    return config


def run_to_exit(config):
    try:
        return subprocess.run(server_argv(config), capture_output=True, text=True, timeout=30,
                               stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ferryd started with {config.read_text()}", pytrace=False)


BAD_SUITES = {
    "unknown": "NOT-A-CIPHER",
    "unknown-iana": "TLS_ECDHE_ECDSA_WITH_NOTHING",
    "null-openssl": "ECDHE-ECDSA-NULL-SHA",
    "null-zos-sample": "SSL_RSA_WITH_NULL_SHA",  # in z/OS's own sample policy
    "null-iana": "TLS_RSA_WITH_NULL_SHA256",
    "3des-112-bit": "DES-CBC3-SHA",
    "3des-zos-sample": "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "export": "EXP-RC4-MD5",
    "rc4": "RC4-SHA",
    "anonymous-dh": "ADH-AES128-GCM-SHA256",
}


@pytest.mark.parametrize("case", sorted(BAD_SUITES))
def test_weak_or_unknown_ciphersuite_fails_the_start(pki, tmp_path, case):
    name = BAD_SUITES[case]
    config = config_with(pki, tmp_path, [f"CIPHERSUITE {A128}", f"CIPHERSUITE {name}",
                                         "CIPHERSUITE TLS_AES_128_GCM_SHA256"])
    res = run_to_exit(config)
    assert res.returncode != 0, f"started with CIPHERSUITE {name}"
    assert re.search(rf"crypto\.conf:7: CIPHERSUITE {re.escape(name)} is ", res.stderr), res.stderr


# --------------------------------------------------------------------------
# TLSMINVERSION


@pytest.mark.parametrize("minimum, accepted, refused_versions", [
    (None, ["1.2", "1.3"], ["1.0", "1.1"]),
    ("TLSV1.3", ["1.3"], ["1.0", "1.1", "1.2"]),
    ("TLSV1.2", ["1.2", "1.3"], ["1.0", "1.1"]),
    ("TLSV1.1", ["1.1", "1.2", "1.3"], ["1.0"]),
    ("TLSV1.0", ["1.0", "1.1", "1.2", "1.3"], []),
], ids=["default", "1.3", "1.2", "1.1", "1.0"])
def test_tlsminversion(ferryd_factory, peer, minimum, accepted, refused_versions):
    srv = ferryd_factory("tlsmin", overrides={"TLSMINVERSION": minimum})
    for v in accepted:
        assert negotiated(srv.port, client_context(version=v))[0] == f"TLSv{v}".replace(".0", "")
    for v in refused_versions:
        refused(srv.port, client_context(version=v))
        flag = {"1.0": "-tls1", "1.1": "-tls1_1", "1.2": "-tls1_2"}[v]
        res = peer.s_client(srv.port, flag, "-cipher", "DEFAULT:@SECLEVEL=0")
        assert res.rc != 0, res


@pytest.fixture(scope="module")
def legacy_on(ferryd_factory):
    return ferryd_factory("tlsmin-1.0-level", overrides={"TLSMINVERSION": "TLSV1.0"})


@pytest.mark.parametrize("versions", [["-tls1_2"], ["-no_tls1_3"], []],
                         ids=["1.2", "up-to-1.2", "up-to-1.3"])
def test_tls10_does_not_lower_the_security_level_of_newer_clients(legacy_on, peer, versions):
    """issue 10: TLS 1.0/1.1 need OpenSSL's security level 0, but only their own connections
    get it. A client that can speak TLS 1.2 or 1.3 yet offers only SHA-1 signatures (below
    112 bits) is refused even with TLSMINVERSION TLSV1.0. Failed before (1.2 and up-to-1.2): the
    whole context ran at level 0, and that client got a TLS 1.2 session signed with SHA-1
    (up-to-1.3 negotiates TLS 1.3, which has no SHA-1 signatures at any level)."""
    res = peer.s_client(legacy_on.port, *versions, "-sigalgs", "ECDSA+SHA1",
                        "-cipher", "DEFAULT:@SECLEVEL=0")
    assert res.rc != 0, res
    assert not re.search(rb"^(New|Reused), TLSv1", res.out, re.M), res
    # Without the weak offer the same client is served with TLS 1.2 or better.
    res = peer.s_client(legacy_on.port, *versions)
    assert res.rc == 0 and re.search(rb"^New, TLSv1\.[23]", res.out, re.M), res


@pytest.mark.parametrize("flag, version", [("-tls1", "1.0"), ("-tls1_1", "1.1")])
def test_tls10_and_11_clients_still_connect(legacy_on, peer, flag, version):
    """The other half of the test above (passed before too): the old versions' own clients
    still get their connection, with an ECDHE CBC suite."""
    res = peer.s_client(legacy_on.port, flag, "-cipher", "DEFAULT:@SECLEVEL=0")
    assert res.rc == 0, res
    name = f"TLSv{version}".replace(".0", "")
    assert re.search(rf"^\s+Protocol\s+: {re.escape(name)}\n\s+Cipher\s+: ECDHE-ECDSA-AES\d+-SHA$".encode(),
                     res.out, re.M), res
    assert negotiated(legacy_on.port, client_context(version=version))[0] == name


def test_tls12_client_offering_only_cbc_is_refused_with_tls10_on(legacy_on):
    """The CBC suites TLS 1.0/1.1 need are theirs alone: a TLS 1.2 client gets AEAD or
    nothing. Failed before: with TLSMINVERSION TLSV1.0 the CBC suites were in every list."""
    refused(legacy_on.port, tls12("ECDHE-ECDSA-AES128-SHA"))
    assert negotiated(legacy_on.port, client_context(version="1.2"))[1].endswith("GCM-SHA384")


# --------------------------------------------------------------------------
# ALPN (ALPACA)


@pytest.fixture(scope="module")
def plain(ferryd_factory):
    return ferryd_factory("alpn-sni", overrides={"TLSSERVERNAME": "ftp.example.test"})


def alpn_ctx(*protocols):
    ctx = client_context()
    ctx.set_alpn_protocols(list(protocols))
    return ctx


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_alpn_other_protocol_refused(plain, implicit):
    port = plain.tls_port if implicit else plain.port
    why = refused(port, alpn_ctx("http/1.1"), implicit=implicit)
    assert "NO_APPLICATION_PROTOCOL" in why.upper().replace(" ", "_"), why
    refused(port, alpn_ctx("h2", "imap"), implicit=implicit)


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_alpn_ftp_or_none_accepted(plain, implicit):
    port = plain.tls_port if implicit else plain.port
    assert negotiated(port, alpn_ctx("ftp"), implicit=implicit)[2] == "ftp"
    assert negotiated(port, alpn_ctx("http/1.1", "ftp"), implicit=implicit)[2] == "ftp"
    assert negotiated(port, client_context(), implicit=implicit)[2] is None


def test_alpn_s_client(plain, peer):
    res = peer.s_client(plain.port, "-alpn", "http/1.1")
    assert res.rc != 0 and "no application protocol" in res.err, res
    res = peer.s_client(plain.port, "-alpn", "ftp")
    assert res.rc == 0 and "ALPN protocol: ftp" in res.out.decode(errors="replace"), res
    res = peer.s_client(plain.port)
    assert res.rc == 0 and "No ALPN negotiated" in res.out.decode(errors="replace"), res


def test_alpn_checked_on_data_connections(plain):
    """The data port is a TLS endpoint too: a data connection with a foreign ALPN is refused."""
    ctx = alpn_ctx("ftp")
    c = handshake(plain.port, ctx)
    try:
        c.login(USER, PASSWORD)
        c.expect("PBSZ 0", 200)
        c.expect("PROT P", 200)
        port = c.epsv_port()
        c.send("NLST")
        assert c.reply().code == 150
        raw = socket.create_connection((HOST, port), timeout=30)
        with pytest.raises(ssl.SSLError):
            alpn_ctx("http/1.1").wrap_socket(raw, server_hostname=HOST).recv(10)
        raw.close()
        assert c.reply().code in (425, 426, 522)
        assert c.cmd("NOOP").code == 200
    finally:
        c.close()


# --------------------------------------------------------------------------
# TLSSERVERNAME (SNI)


@pytest.mark.parametrize("implicit", [False, True], ids=["explicit", "implicit"])
def test_sni_mismatch_refused(plain, implicit):
    port = plain.tls_port if implicit else plain.port
    if implicit:
        raw = socket.create_connection((HOST, port), timeout=30)
        with pytest.raises(ssl.SSLError, match="(?i)unrecognized.name"):
            client_context().wrap_socket(raw, server_hostname="www.example.test")
        raw.close()
    else:
        why = refused(port, client_context(), server_hostname="www.example.test")
        assert "UNRECOGNIZED_NAME" in why.upper().replace(" ", "_"), why


@pytest.mark.parametrize("name", ["ftp.example.test", "FTP.Example.Test", HOST])
def test_sni_matching_or_absent_accepted(plain, name):
    """An IP address sends no SNI at all (RFC 6066)."""
    assert negotiated(plain.port, client_context(), server_hostname=name)[0]


def test_sni_curl(plain, peer):
    (plain.home / "sni.txt").write_text("sni\n")
    for host, ok in [("ftp.example.test", True), ("other.example.test", False)]:
        res = peer.curl(plain, "--ssl-reqd", "--insecure", "--resolve", f"{host}:{plain.port}:{HOST}",
                        f"ftp://{host}:{plain.port}/sni.txt")
        assert (res.rc == 0 and res.out == b"sni\n") if ok else (res.rc != 0 and res.out == b""), res
    res = peer.s_client(plain.port, "-servername", "other.example.test")
    assert res.rc != 0 and "unrecognized name" in res.err, res
    res = peer.s_client(plain.port, "-noservername")
    assert res.rc == 0, res


# --------------------------------------------------------------------------
# KEYRING and CAFILE reload (SIGHUP)


def make_keyring(d, name):
    openssl = _tool("openssl")
    key, cert = d / f"{name}-key.pem", d / f"{name}-cert.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", f"/CN={name}", "-addext",
                    "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=60)
    der = ssl.PEM_cert_to_DER_cert(cert.read_text())
    return cert.read_bytes(), key.read_bytes(), hashlib.sha256(der).hexdigest()


def replace_file(path, data: bytes):
    tmp = path.with_suffix(".new")
    tmp.write_bytes(data)
    tmp.chmod(0o600)
    tmp.replace(path)


def server_fingerprint(port, implicit=False) -> str:
    c = handshake(port, client_context(), implicit=implicit)
    try:
        return hashlib.sha256(c.sock.getpeercert(binary_form=True)).hexdigest()
    finally:
        c.close()


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_keyring_reload_on_sighup(ferryd_factory, tmp_path, version):
    old_cert, old_key, old_fp = make_keyring(tmp_path, "old")
    new_cert, new_key, new_fp = make_keyring(tmp_path, "new")
    keyring = tmp_path / "keyring.pem"
    replace_file(keyring, old_cert + old_key)
    srv = ferryd_factory(f"keyring-reload-{version}", overrides={
        "KEYRING": str(keyring), "SECURE_SESSION_REUSE": "REQUIRED"})
    (srv.home / "f.bin").write_bytes(b"reload" * 1000)
    assert server_fingerprint(srv.port) == old_fp

    before = ResumingFTP_TLS(mode="epsv", context=client_context(version=version))
    before.connect_login(srv.port, USER, PASSWORD)
    try:
        assert ftp_fetch(before, "f.bin") == b"reload" * 1000
        replace_file(keyring, new_cert + new_key)
        srv.proc.send_signal(signal.SIGHUP)
        wait_until(lambda: server_fingerprint(srv.port) == new_fp,
                   "new sessions did not get the renewed certificate")
        assert server_fingerprint(srv.tls_port, implicit=True) == new_fp
        assert re.search(r"SIGHUP: TLS reloaded", srv.log), srv.log
        # The session opened before the reload keeps working, data resumption included.
        assert before.voidcmd("NOOP").startswith("200")
        assert hashlib.sha256(before.sock.getpeercert(binary_form=True)).hexdigest() == old_fp
        assert ftp_fetch(before, "f.bin") == b"reload" * 1000
        assert before.reused == [True, True]
    finally:
        before.quit()

    # A broken KEYRING on reload is logged; the current certificate stays.
    replace_file(keyring, b"-----BEGIN GARBAGE-----\nnot a key\n-----END GARBAGE-----\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP: TLS not reloaded" in srv.log, "no 'TLS not reloaded' in the log")
    assert srv.alive
    assert server_fingerprint(srv.port) == new_fp
    # A certificate with another certificate's key: refused the same way.
    replace_file(keyring, old_cert + new_key)
    n = srv.log.count("SIGHUP: TLS not reloaded")
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: srv.log.count("SIGHUP: TLS not reloaded") > n, "mismatched key accepted")
    assert server_fingerprint(srv.port) == new_fp
    after = ResumingFTP_TLS(mode="epsv", context=client_context(version=version))
    after.connect_login(srv.port, USER, PASSWORD)
    try:
        assert ftp_fetch(after, "f.bin") == b"reload" * 1000
    finally:
        after.quit()
    # Three SIGHUPs later the server still stops cleanly on SIGTERM (it used to crash on
    # the second signal after a SIGHUP).
    rc = srv.stop()
    assert rc == 0, f"ferryd exited with {rc} on SIGTERM; log:\n{srv.log}"
    srv.proc = None  # stopped on purpose: not a crash for the factory's end-of-module check


def test_cafile_reload_on_sighup(ferryd_factory, tmp_path, client_pki):
    cafile = tmp_path / "client-cas.pem"
    replace_file(cafile, client_pki["ca"].read_bytes())
    srv = ferryd_factory("cafile-reload", overrides={"SECURE_LOGIN": "REQUIRED",
                                                     "CAFILE": str(cafile)})

    def ctx(who):
        c = client_pki[who]
        return client_context(cert=c.cert, key=c.key, version="1.2")

    refused(srv.port, ctx("stranger"))
    negotiated(srv.port, ctx("alice"))
    replace_file(cafile, client_pki["ca"].read_bytes() + client_pki["unknown_ca"].read_bytes())
    srv.proc.send_signal(signal.SIGHUP)

    def stranger_accepted():
        try:
            negotiated(srv.port, ctx("stranger"))
            return True
        except (ssl.SSLError, OSError):
            return False
    wait_until(stranger_accepted, "a certificate from the CA added to CAFILE was not accepted")
    negotiated(srv.port, ctx("alice"))

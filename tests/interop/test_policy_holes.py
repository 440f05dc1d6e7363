"""Issue 10's policy holes, each probed as an attacker or a confused client would.

Every test here but the certificate-login guard fails on the ferryd before issue 10's fixes: a clear USER/PASS logged in
under SECURE_LOGIN REQUIRED; after CCC, REIN let a clear login through SECURE_FTP REQUIRED;
SITE CHMOD set the set-user-ID bit and changed the home folder; created files ignored UMASK
(there was none); a name with CR/LF was created and broke the listing; REST was forgotten
when EPSV or TYPE came between it and RETR.
"""

from __future__ import annotations

import os
import stat

import pytest

from ftpwire import RawControl, recv_all
from test_tls_login import cert_ctx, tls_control
from test_tls_rfclevel import ccc, unwrap


@pytest.fixture(scope="module")
def required_login(ferryd_factory, client_pki):
    return ferryd_factory("holes-login-required", overrides={
        "SECURE_LOGIN": "REQUIRED", "CAFILE": str(client_pki["ca"]), "SECURE_FTP": "ALLOWED"})


@pytest.fixture(scope="module")
def rfc4217_required(ferryd_factory):
    srv = ferryd_factory("holes-rein", overrides={"TLSRFCLEVEL": "RFC4217", "SECURE_FTP": "REQUIRED"})
    (srv.home / "f.txt").write_bytes(b"data\n")
    return srv


@pytest.fixture(scope="module")
def umask077(ferryd_factory):
    return ferryd_factory("holes-umask", overrides={"UMASK": "077"})


def listing(c: RawControl, verb: str = "NLST", prot: str = "P") -> bytes:
    port = c.epsv_port()
    c.send(verb)
    d = c.open_data(port, protect=prot == "P")
    assert c.reply().code in (125, 150)
    out = recv_all(d)
    d.close()
    assert c.reply().code == 226
    return out


def store(c: RawControl, name: str, data: bytes) -> None:
    port = c.epsv_port()
    c.send(f"STOR {name}")
    d = c.open_data(port, protect=True)
    assert c.reply().code in (125, 150)
    d.sendall(data)
    d = d.unwrap()
    d.close()
    r = c.reply()
    assert r.code == 226, r


@pytest.mark.parametrize("password", ["right", "wrong"])
def test_secure_login_required_refuses_a_clear_login(required_login, password):
    """SECURE_LOGIN REQUIRED with SECURE_FTP ALLOWED: a clear USER is refused before any
    password is asked (it could never be tied to a certificate), and PASS gets nowhere."""
    with RawControl(required_login.port) as c:
        r = c.expect(f"USER {required_login.user}", 530)
        assert "client certificate" in r.text and "AUTH TLS" in r.text, r
        pw = required_login.password if password == "right" else "nope"
        assert c.cmd(f"PASS {pw}").code == 503
        assert c.cmd("PWD").code == 530
    assert f"login {required_login.user} (clear" not in required_login.log


def test_secure_login_required_still_logs_in_with_a_certificate(required_login, client_pki):
    c = tls_control(required_login, cert_ctx(client_pki, "alice"))
    try:
        c.login(required_login.user, required_login.password)
        c.expect("PWD", 257)
    finally:
        c.close()


def test_rein_after_ccc_restores_secure_ftp_required(rfc4217_required):
    """CCC, then REIN: the session is back to its pre-login state with every policy in force:
    a clear USER is refused (SECURE_FTP REQUIRED), and AUTH TLS then a login works again."""
    c = RawControl(rfc4217_required.port)
    try:
        c.login_tls(rfc4217_required.user, rfc4217_required.password)
        ccc(c)
        unwrap(c)
        c.expect("PWD", 257)
        c.expect("REIN", 220)
        r = c.expect(f"USER {rfc4217_required.user}", 530)
        assert "SECURE_FTP REQUIRED" in r.text, r
        assert c.cmd(f"PASS {rfc4217_required.password}").code in (503, 530)
        assert c.cmd("RETR f.txt").code == 530
        c.starttls()
        c.login(rfc4217_required.user, rfc4217_required.password)
        c.expect("PWD", 257)
    finally:
        c.close()


def test_site_chmod_sets_no_special_bits_and_not_on_the_home_folder(ferryd):
    (ferryd.home / "tool").write_bytes(b"#!/bin/sh\n")
    os.chmod(ferryd.home / "tool", 0o644)
    home_mode = stat.S_IMODE(os.stat(ferryd.home).st_mode)
    with RawControl(ferryd.port) as c:
        c.login_tls(ferryd.user, ferryd.password)
        for mode in ("4755", "2755", "1777", "6777"):
            r = c.cmd(f"SITE CHMOD {mode} tool")
            assert r.code == 550, r
        assert c.cmd("SITE CHMOD 0777 /").code == 550
        assert c.cmd("SITE CHMOD 0777 .").code == 550
        c.expect("SITE CHMOD 0755 tool", 200)
    assert stat.S_IMODE(os.stat(ferryd.home / "tool").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(ferryd.home).st_mode) == home_mode


def test_umask_applies_to_created_files_and_folders(umask077, ferryd):
    with RawControl(umask077.port) as c:
        c.login_tls(umask077.user, umask077.password)
        store(c, "private.bin", b"secret")
        c.expect("MKD box", 257)
    assert stat.S_IMODE(os.stat(umask077.home / "private.bin").st_mode) == 0o600
    assert stat.S_IMODE(os.stat(umask077.home / "box").st_mode) == 0o700
    with RawControl(ferryd.port) as c:  # the default, 022
        c.login_tls(ferryd.user, ferryd.password)
        store(c, "public.bin", b"hello")
    assert stat.S_IMODE(os.stat(ferryd.home / "public.bin").st_mode) == 0o644


def test_names_with_cr_or_lf_are_refused_and_never_listed(ferryd):
    """A bare CR inside a name (a client may send it: only CRLF ends a line) would split a
    listing line; such names cannot be created, and one made on disk is left out."""
    (ferryd.home / "made\nby-admin").write_bytes(b"x")
    try:
        with RawControl(ferryd.port) as c:
            c.login_tls(ferryd.user, ferryd.password)
            r = c.cmd("MKD evil\rname")
            assert r.code == 550, r
            c.expect("TYPE I", 200)
            port = c.epsv_port()
            r = c.cmd("STOR x\r226 fake")
            assert r.code == 550, r
            for verb in ("NLST", "LIST", "MLSD"):
                out = listing(c, verb)
                assert b"made" not in out and b"by-admin" not in out, (verb, out)
                assert b"evil" not in out
            del port
        assert not [p for p in ferryd.home.iterdir() if "\r" in p.name]
    finally:
        (ferryd.home / "made\nby-admin").unlink()


@pytest.mark.parametrize("order", ["REST,EPSV,TYPE", "EPSV,REST,TYPE", "TYPE,REST,EPSV", "REST,PASV,TYPE"])
def test_rest_survives_data_setup_and_type(ferryd, order):
    """REST then EPSV/PASV/TYPE in any order (as clients send them): RETR starts at the byte
    REST named. Any other command in between clears it (RFC 3659: REST applies to the next
    transfer command)."""
    body = os.urandom(100_000)
    (ferryd.home / "rest.bin").write_bytes(body)
    with RawControl(ferryd.port) as c:
        c.login_tls(ferryd.user, ferryd.password)
        port = None
        for step in order.split(","):
            if step == "REST":
                c.expect("REST 12345", 350)
            elif step == "EPSV":
                port = c.epsv_port()
            elif step == "PASV":
                port = c.pasv_port()
            else:
                c.expect("TYPE I", 200)
        c.send("RETR rest.bin")
        d = c.open_data(port, protect=True)
        assert c.reply().code in (125, 150)
        got = recv_all(d)
        d.close()
        assert c.reply().code == 226
        assert got == body[12345:]
        # REST, then PWD: forgotten.
        c.expect("REST 500", 350)
        c.expect("PWD", 257)
        port = c.epsv_port()
        c.send("RETR rest.bin")
        d = c.open_data(port, protect=True)
        assert c.reply().code in (125, 150)
        assert recv_all(d) == body
        d.close()
        assert c.reply().code == 226

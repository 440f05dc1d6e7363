"""CRLFILE (issue 10): client certificates checked against their CA's revocation list.

carol is signed by the trusted client CA and then revoked; client_pki (conftest.py) holds the
CA's CRL before ("crl_before_revocation") and after ("crl") the revocation. Every test here failed
before CRLFILE existed: the statement was unknown and ferryd refused to start.
"""

import re
import signal
import ssl
import subprocess

import pytest

from conftest import PASSWORD, _tool, run_config_once, wait_until
from ftpwire import ConnectionClosed, RawControl, client_context


def place_crl(directory, data: bytes):
    """The CRL in a folder of its own (not KEYRING's or CAFILE's): the sandbox must allow it."""
    directory.mkdir(exist_ok=True)
    path = directory / "clients.crl"
    tmp = directory / "clients.crl.new"
    tmp.write_bytes(data)
    tmp.chmod(0o644)
    tmp.replace(path)
    return path


def cert_ctx(client_pki, who, version="1.2"):
    c = client_pki[who]
    return client_context(cert=c.cert, key=c.key, version=version)


def login(srv, ctx):
    """Explicit TLS, USER/PASS as alice (the only user): True if logged in, else what failed."""
    c = None
    try:
        c = RawControl(srv.port)
        c.starttls(ctx)
        c.expect("USER alice", 331)
        r = c.cmd(f"PASS {PASSWORD}")
        return True if r.code == 230 else repr(r)
    except (ssl.SSLError, ConnectionClosed, OSError) as exc:
        return repr(exc)
    finally:
        if c:
            c.close()


@pytest.fixture(scope="module", params=["REQUIRED", "VERIFY_USER"])
def revoking(request, ferryd_factory, tmp_path_factory, client_pki):
    d = tmp_path_factory.mktemp("crl")
    crl = place_crl(d / "revocation", client_pki["crl"].read_bytes())
    extra = {}
    if request.param == "VERIFY_USER":
        (d / "certmap").write_text(f"alice sha256={client_pki['alice'].fingerprint}\n"
                                   f"alice sha256={client_pki['carol'].fingerprint}\n")
        extra = {"CERTMAP": str(d / "certmap")}
    return ferryd_factory(f"crl-{request.param.lower()}", overrides={
        "SECURE_LOGIN": request.param, "CAFILE": str(client_pki["ca"]), "CRLFILE": str(crl),
        **extra})


@pytest.mark.parametrize("version", ["1.2", "1.3"])
def test_revoked_certificate_is_refused(revoking, client_pki, version):
    """carol chains to the trusted CA but is on its CRL: the handshake fails (TLS 1.2: with the
    certificate_revoked alert; TLS 1.3 clients may see only the close, as the alert can arrive
    after their first command) and no login happens; alice, on no list, logs in."""
    assert login(revoking, cert_ctx(client_pki, "alice", version)) is True
    offset = len(revoking.log)
    why = login(revoking, cert_ctx(client_pki, "carol", version))
    assert why is not True, "a revoked certificate logged in"
    if version == "1.2":
        assert "REVOKED" in why.upper(), why
    wait_until(lambda: re.search(r"TLS handshake failed: .*certificate revoked", revoking.log[offset:]),
               "no 'certificate revoked' handshake failure logged")
    assert not re.search(r"\] login ", revoking.log[offset:])


def test_crl_reloaded_on_sighup(ferryd_factory, tmp_path, client_pki):
    """SIGHUP re-reads CRLFILE with KEYRING and CAFILE, through the sandbox (the CRL's folder is
    on its read-only list); a broken CRL on reload keeps the lists in force."""
    crl = place_crl(tmp_path / "revocation", client_pki["crl_before_revocation"].read_bytes())
    srv = ferryd_factory("crl-reload", overrides={
        "SECURE_LOGIN": "REQUIRED", "CAFILE": str(client_pki["ca"]), "CRLFILE": str(crl)})
    assert login(srv, cert_ctx(client_pki, "carol")) is True
    place_crl(tmp_path / "revocation", client_pki["crl"].read_bytes())
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: login(srv, cert_ctx(client_pki, "carol")) is not True,
               "carol's certificate still accepted after the new CRL and SIGHUP")
    assert "SIGHUP: TLS reloaded" in srv.log, srv.log
    assert login(srv, cert_ctx(client_pki, "alice")) is True
    n = srv.log.count("SIGHUP: TLS not reloaded")
    place_crl(tmp_path / "revocation", b"-----BEGIN X509 CRL-----\nnot a CRL\n-----END X509 CRL-----\n")
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: srv.log.count("SIGHUP: TLS not reloaded") > n, "a broken CRL was not reported")
    assert srv.alive
    assert login(srv, cert_ctx(client_pki, "carol")) is not True


# --------------------------------------------------------------------------
# Refused at start (fail closed), with file:line or the file's name


def run_config(pki, tmp_path, statements):
    return run_config_once(pki, tmp_path, statements, "crl.conf")


@pytest.mark.parametrize("login_statement", [None, "SECURE_LOGIN NO_CLIENT_AUTH"])
def test_crlfile_without_client_certificates_fails_the_start(pki, tmp_path, client_pki,
                                                             login_statement):
    crl = place_crl(tmp_path / "revocation", client_pki["crl"].read_bytes())
    statements = ([login_statement] if login_statement else []) + [f"CRLFILE {crl}"]
    res = run_config(pki, tmp_path, statements)
    line = 5 + len(statements)
    assert res.returncode != 0
    assert f"crl.conf:{line}: CRLFILE needs SECURE_LOGIN REQUIRED or VERIFY_USER" in res.stderr, \
        res.stderr


def other_ca_crl(client_pki, out):
    """A valid CRL, but of the unknown CA (not in CAFILE)."""
    d = client_pki["dir"]
    subprocess.run([_tool("openssl"), "ca", "-batch", "-gencrl", "-crldays", "2",
                    "-config", str(d / "unknown-ca.cnf"), "-cert", str(d / "unknown-ca.pem"),
                    "-keyfile", str(d / "unknown-ca-key.pem"), "-out", str(out)],
                   cwd=d, check=True, capture_output=True, timeout=60)
    return out.read_bytes()


BAD_CRLS = {
    "missing": (None, "cannot read the CRL file"),
    "empty": (b"", "no CRL in the file"),
    "not-a-crl": (b"just text\n", "no CRL in the file"),
    "damaged": (b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", "a CRL cannot be read"),
    "other-ca": ("other", "is not signed by a CA in CAFILE"),
    "writable-by-others": ("writable", "can be changed by other users"),
}


@pytest.mark.parametrize("case", sorted(BAD_CRLS))
def test_bad_crlfile_fails_the_start(pki, tmp_path, client_pki, case):
    data, message = BAD_CRLS[case]
    folder = tmp_path / "revocation"
    folder.mkdir()
    crl = folder / "clients.crl"
    if data == "other":
        crl.write_bytes(other_ca_crl(client_pki, tmp_path / "other.crl"))
    elif data == "writable":
        crl.write_bytes(client_pki["crl"].read_bytes())
        crl.chmod(0o666)
    elif data is not None:
        crl.write_bytes(data)
    res = run_config(pki, tmp_path, ["SECURE_LOGIN REQUIRED", f"CAFILE {client_pki['ca']}",
                                     f"CRLFILE {crl}"])
    assert res.returncode != 0
    assert str(crl) in res.stderr and message in res.stderr, res.stderr

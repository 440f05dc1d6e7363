"""Fixtures for Ferry's interop tests: a ferryd launcher and real peers (curl, lftp).

The server under test is ``$FERRYD``. For developing the tests without a
working ferryd, ``FERRY_INTEROP_STANDIN=pyftpdlib`` runs this very file as a
small pyftpdlib server that reads the same config file (see ``_standin_main``);
tests marked ``ferryd_only`` are then expected to fail (xfail, not skipped).
CI never sets FERRY_INTEROP_STANDIN, so nothing is skipped there.
STANDIN_LOGLEVEL=10 makes the stand-in log at debug level.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
STANDIN = os.environ.get("FERRY_INTEROP_STANDIN", "")
READY_DEADLINE = 10.0
# What ASan, LSan, UBSan and TSan print when they find something (scripts/sanitize builds ferryd
# and ferry with them). A normal build never prints these; a server log or a client's stderr that
# holds one fails the test, whatever the exit status was.
SANITIZER_REPORT = re.compile(r"ERROR: (?:AddressSanitizer|LeakSanitizer)|runtime error: |"
                              r"WARNING: ThreadSanitizer|SUMMARY: (?:AddressSanitizer|LeakSanitizer|"
                              r"UndefinedBehaviorSanitizer|ThreadSanitizer)")
# SANDBOX written into every ferryd.conf a test does not set it in itself: the sanitizer build's
# CTest sets FERRY_INTEROP_SANDBOX=OFF (tests/CMakeLists.txt says why); empty: ferryd's default.
SANDBOX = os.environ.get("FERRY_INTEROP_SANDBOX", "")
PASV_RANGE_SIZE = 20

USER = "alice"
PASSWORD = "Alice-pw-7781"


def _tool(name: str) -> str:
    """Absolute path of a peer tool; the test fails (never skips) if missing."""
    import pytest

    path = f"/usr/bin/{name}" if os.path.exists(f"/usr/bin/{name}") else shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed: the interop tests need it "
                    f"(apt-get install {name})", pytrace=False)
    return path


# --------------------------------------------------------------------------
# Ports


# One implementation of free ports for the interop tests and the peer harness.
sys.path.insert(0, str(HERE.parent / "peers"))
from peers import free_port, free_port_range  # noqa: E402


# --------------------------------------------------------------------------
# Server


def _read_greeting(sock: socket.socket) -> bytes:
    buf = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed before greeting: {buf!r}")
        buf += chunk
        for line in buf.split(b"\r\n"):
            if line[:4] == b"220 ":
                return buf
            if line[:3].isdigit() and line[3:4] == b" " and line[:3] != b"220":
                raise ConnectionError(f"unexpected greeting: {buf!r}")


@dataclass
class Server:
    name: str
    host: str
    port: int
    tls_port: int
    user: str
    password: str
    home: Path
    outside: Path
    root: Path
    config_path: Path
    log_path: Path
    pasv_range: tuple[int, int]
    argv: list[str]
    ready_header: bytes = b""  # sent first by the readiness probe (a server behind PROXYPROTOCOL)
    proc: subprocess.Popen | None = None
    _log_file: object = field(default=None, repr=False)

    def url(self, path: str = "", implicit: bool = False) -> str:
        scheme, port = ("ftps", self.tls_port) if implicit else ("ftp", self.port)
        return f"{scheme}://{self.host}:{port}/{path.lstrip('/')}"

    @property
    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def start(self) -> None:
        import pytest

        self._log_file = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                     stdout=self._log_file, stderr=self._log_file,
                                     cwd=self.root, start_new_session=True)
        deadline = time.monotonic() + READY_DEADLINE
        pending = [("plain", self.port)] + ([("implicit", self.tls_port)] if self.tls_port else [])
        last = None
        while pending:
            if self.proc.poll() is not None:
                self.stop()
                pytest.fail(f"{self.argv[0]} exited with {self.proc.returncode} during startup; "
                            f"log:\n{self.log}", pytrace=False)
            if time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"server not ready within {READY_DEADLINE}s on {pending} "
                            f"(last error: {last!r}); log:\n{self.log}", pytrace=False)
            kind, port = pending[0]
            try:
                with socket.create_connection((self.host, port), timeout=2) as s:
                    s.settimeout(2)
                    if self.ready_header:
                        s.sendall(self.ready_header)
                    if kind == "implicit":
                        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
                        ctx.check_hostname = False
                        ctx.verify_mode = ssl.CERT_NONE
                        with ctx.wrap_socket(s, server_hostname=self.host) as t:
                            _read_greeting(t)
                    else:
                        _read_greeting(s)
                pending.pop(0)
            except ssl.SSLError as exc:
                if kind == "implicit" and "ALERT" in (exc.reason or ""):
                    # The server answered with a TLS alert (SECURE_LOGIN REQUIRED wants
                    # a client certificate): the implicit listener is up.
                    pending.pop(0)
                    continue
                last = exc
                time.sleep(0.05)  # polling interval, bounded by the deadline above
            except (OSError, ConnectionError) as exc:
                last = exc
                time.sleep(0.05)  # polling interval, bounded by the deadline above

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self._log_file:
            self._log_file.close()
            self._log_file = None
        return self.proc.returncode


_LIVE: list[Server] = []


def wait_until(pred, what: str, deadline: float = 10.0) -> None:
    """Polls pred until it holds; fails the test with `what` when the deadline passes."""
    import pytest

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.05)  # poll interval, bounded by the deadline
    pytest.fail(f"{what} within {deadline}s")


def run_config_once(pki, tmp_path: Path, statements: list[str], name: str):
    """Runs ferryd once with five fixed lines (LISTEN, TLSPORT, KEYRING, USERS, EXTENSIONS), then
    `statements` from line 6, then RUNAS root; for configurations that must be refused at start.
    Returns the finished process (stdout/stderr as text)."""
    import pytest

    users = tmp_path / "users"
    users.write_text(f"alice:{pki['hash']}:{tmp_path}\n")
    lines = [f"LISTEN {HOST} {free_port()}", "TLSPORT 0", f"KEYRING {pki['pem']}",
             f"USERS {users}", "EXTENSIONS AUTH_TLS", *statements, "RUNAS root"]
    config = tmp_path / name
    config.write_text("\n".join(lines) + "\n")
    try:
        return subprocess.run(server_argv(config), capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"ferryd started with {statements}", pytrace=False)


def server_argv(config: Path) -> list[str]:
    import pytest

    if STANDIN == "pyftpdlib":
        return [sys.executable, str(HERE / "conftest.py"), "--standin-pyftpdlib",
                "--config", str(config)]
    if STANDIN:
        pytest.fail(f"unknown FERRY_INTEROP_STANDIN={STANDIN!r} (only 'pyftpdlib')", pytrace=False)
    ferryd = os.environ.get("FERRYD")
    if not ferryd:
        pytest.fail("FERRYD is not set: run through ctest, or set FERRYD=/path/to/ferryd "
                    "(or FERRY_INTEROP_STANDIN=pyftpdlib while developing the tests)",
                    pytrace=False)
    if not os.access(ferryd, os.X_OK):
        pytest.fail(f"FERRYD={ferryd} is not an executable file", pytrace=False)
    return [ferryd, "--config", str(config)]


def _run(argv, **kw) -> subprocess.CompletedProcess:
    kw.setdefault("timeout", 60)
    return subprocess.run(argv, capture_output=True, check=True, **kw)


# --------------------------------------------------------------------------
# Fixtures

import pytest  # noqa: E402  (kept below so the stand-in path can run without pytest plugins)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "ferryd_only(reason): behaviour the pyftpdlib stand-in lacks; "
                   "xfail with FERRY_INTEROP_STANDIN=pyftpdlib, a normal test otherwise")


def pytest_report_header(config):
    if STANDIN:
        return f"ferry interop: STAND-IN server {STANDIN} (development only)"
    return f"ferry interop: FERRYD={os.environ.get('FERRYD', '(unset)')}"


def pytest_collection_modifyitems(config, items):
    if not STANDIN:
        return
    for item in items:
        m = item.get_closest_marker("ferryd_only")
        if m:
            reason = m.args[0] if m.args else "ferryd-specific behaviour"
            item.add_marker(pytest.mark.xfail(reason=f"stand-in {STANDIN}: {reason}",
                                              strict=False))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for srv in _LIVE:
            tail = srv.log[-12000:]
            rep.sections.append((f"server log {srv.name} ({srv.log_path})", tail))


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """Self-signed P-256 certificate for 127.0.0.1/localhost and a users hash."""
    d = tmp_path_factory.mktemp("pki")
    openssl = _tool("openssl")
    _run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
          "-nodes", "-days", "2", "-subj", "/CN=localhost",
          "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
          "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")])
    # An unrelated CA, to show that verification really rejects a wrong chain.
    _run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
          "-nodes", "-days", "2", "-subj", "/CN=other-ca", "-keyout", str(d / "other-key.pem"),
          "-out", str(d / "other-ca.pem")])
    (d / "server.pem").write_bytes((d / "cert.pem").read_bytes() + (d / "key.pem").read_bytes())
    (d / "server.pem").chmod(0o600)
    hashed = _run([openssl, "passwd", "-6", PASSWORD]).stdout.decode().strip()
    assert hashed.startswith("$6$"), hashed
    return {"dir": d, "pem": d / "server.pem", "cert": d / "cert.pem", "hash": hashed,
            "other_ca": d / "other-ca.pem"}


_CLIENT_CA_CNF = """\
[ca]
default_ca = test_ca
[test_ca]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = any
unique_subject = no
copy_extensions = none
x509_extensions = client_ext
[any]
commonName = supplied
organizationName = optional
[client_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
"""


@dataclass
class ClientCert:
    cert: Path
    key: Path
    fingerprint: str  # "AB:CD:..." as `openssl x509 -fingerprint -sha256` prints it
    subject: str      # RFC 2253 as `openssl x509 -subject -nameopt RFC2253` prints it
    #                   and the server compares it ("O=Test,CN=alice": openssl ca
    #                   orders the name CN, O; RFC 2253 writes it last RDN first)
    issuer: str       # the signing CA's name, RFC 2253 likewise


@pytest.fixture(scope="session")
def client_pki(tmp_path_factory):
    """Client certificates made with openssl for SECURE_LOGIN tests.

    Returns a dict: "ca" (PEM of the trusted client CA), "unknown_ca" (another CA's
    PEM) and ClientCert entries: "alice" and "bob" (signed by the CA, valid now),
    "mallory" (signed by the CA, registered nowhere), "stranger" (subject
    O=Test/CN=bob like bob's, but signed by the unknown CA), "expired" (CN=alice, by
    the CA, valid in January 2020 only).
    Also "second_ca" (a second CA a CAFILE may trust too), "twin" (bob's subject, signed
    by the second CA), "carol" (signed by the CA, then revoked), "crl" (the CA's CRL
    listing carol) and "crl_before_revocation" (the CA's CRL listing nobody)."""
    d = tmp_path_factory.mktemp("client-pki")
    openssl = _tool("openssl")

    def make_ca(name, cn):
        _run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
              "-nodes", "-days", "3", "-subj", f"/O=Test/CN={cn}",
              "-keyout", str(d / f"{name}-key.pem"), "-out", str(d / f"{name}.pem")], cwd=d)
        (d / f"{name}.index").write_text("")
        (d / f"{name}.serial").write_text("1000\n")
        cnf = _CLIENT_CA_CNF.replace("index.txt", f"{name}.index").replace(
            "serial = serial", f"serial = {name}.serial")
        (d / f"{name}.cnf").write_text(cnf)

    def issue(name, ca, cn, dates=("-days", "2")):
        key, csr, cert = d / f"{name}-key.pem", d / f"{name}.csr", d / f"{name}.pem"
        _run([openssl, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
              "-subj", f"/O=Test/CN={cn}", "-keyout", str(key), "-out", str(csr)], cwd=d)
        _run([openssl, "ca", "-batch", "-notext", "-config", str(d / f"{ca}.cnf"),
              "-cert", str(d / f"{ca}.pem"), "-keyfile", str(d / f"{ca}-key.pem"),
              "-in", str(csr), "-out", str(cert), *dates], cwd=d)
        out = _run([openssl, "x509", "-in", str(cert), "-noout", "-fingerprint", "-sha256",
                    "-subject", "-issuer", "-nameopt", "RFC2253"], cwd=d).stdout.decode().splitlines()
        fp = out[0].split("=", 1)[1]
        assert len(fp) == 95, out
        subject = out[1].split("=", 1)[1]  # "subject=O=Test,CN=alice"
        assert f"CN={cn}" in subject, out
        issuer = out[2].split("=", 1)[1]  # "issuer=O=Test,CN=Ferry test client CA"
        return ClientCert(cert=cert, key=key, fingerprint=fp, subject=subject, issuer=issuer)

    def gencrl(ca, name):
        _run([openssl, "ca", "-batch", "-gencrl", "-crldays", "2", "-config", str(d / f"{ca}.cnf"),
              "-cert", str(d / f"{ca}.pem"), "-keyfile", str(d / f"{ca}-key.pem"),
              "-out", str(d / name)], cwd=d)
        return d / name

    make_ca("client-ca", "Ferry test client CA")
    make_ca("unknown-ca", "Unknown CA")
    make_ca("second-ca", "Ferry second client CA")
    carol = issue("carol", "client-ca", "carol")
    crl_before = gencrl("client-ca", "client-ca-empty.crl")
    _run([openssl, "ca", "-batch", "-config", str(d / "client-ca.cnf"), "-cert",
          str(d / "client-ca.pem"), "-keyfile", str(d / "client-ca-key.pem"),
          "-revoke", str(carol.cert)], cwd=d)
    crl = gencrl("client-ca", "client-ca.crl")
    return {
        "second_ca": d / "second-ca.pem",
        "twin": issue("twin", "second-ca", "bob"),
        "carol": carol,
        "crl": crl,
        "crl_before_revocation": crl_before,
        "dir": d,
        "ca": d / "client-ca.pem",
        "unknown_ca": d / "unknown-ca.pem",
        "alice": issue("alice", "client-ca", "alice"),
        "bob": issue("bob", "client-ca", "bob"),
        "mallory": issue("mallory", "client-ca", "mallory"),
        "stranger": issue("stranger", "unknown-ca", "bob"),
        "expired": issue("expired", "client-ca", "alice",
                         ("-startdate", "20200101000000Z", "-enddate", "20200201000000Z")),
    }


class ServerFactory:
    """Starts servers for one test module; all are stopped at module end."""

    def __init__(self, tmp_path_factory, pki):
        self.tmp_path_factory = tmp_path_factory
        self.pki = pki
        self.servers: list[Server] = []

    def __call__(self, name: str = "ferryd", *, overrides: dict[str, str | None] | None = None,
                 extra: list[str] = (), implicit: bool = True, port: int | None = None,
                 tls_port: int | None = None, wrapper: list[str] = (), ready_header: bytes = b"") -> Server:
        """overrides: statement -> value; None leaves the statement out of the file.
        port/tls_port: use these (from free_port()) instead of fresh ones, for a
        test that must write a port number into a file before the server starts.
        wrapper: a command the server runs under (e.g. prlimit with its options).
        ready_header: what the readiness probe sends first (a PROXY header, for PROXYPROTOCOL)."""
        root = self.tmp_path_factory.mktemp(name)
        home = root / "home"
        outside = root / "outside"
        home.mkdir()
        outside.mkdir()
        (outside / "secret.txt").write_text("TOP SECRET outside the home folder\n")
        users = root / "users"
        users.write_text(f"{USER}:{self.pki['hash']}:{home}\n")
        port = port or free_port()
        if tls_port is None:
            tls_port = free_port() if implicit else 0
            while tls_port == port:
                tls_port = free_port()
        lo, hi = free_port_range()
        statements = {
            "LISTEN": f"{HOST} {port}",
            "RUNAS": "root",  # the tests run as root and own the homes: say so, as ferryd asks
            "TLSPORT": str(tls_port),
            "KEYRING": str(self.pki["pem"]),
            "USERS": str(users),
            "PASSIVEDATAPORTS": f"{lo} {hi}",
            "EXTENSIONS": "AUTH_TLS",
            "SECURE_FTP": "ALLOWED",
            "SECURE_DATACONN": "CLEAR",
        }
        if SANDBOX:
            statements["SANDBOX"] = SANDBOX
        statements.update(overrides or {})
        config = root / "ferryd.conf"
        config.write_text("; written by tests/interop/conftest.py\n"
                          + "".join(f"{k} {v}\n" for k, v in statements.items()
                                    if v is not None)
                          + "".join(f"{line}\n" for line in extra))
        srv = Server(name=name, host=HOST, port=port, tls_port=tls_port, user=USER,
                     password=PASSWORD, home=home, outside=outside, root=root,
                     config_path=config, log_path=root / "server.log", pasv_range=(lo, hi),
                     argv=[*wrapper, *server_argv(config)], ready_header=ready_header)
        self.servers.append(srv)
        _LIVE.append(srv)
        srv.start()
        return srv

    def close(self) -> list[str]:
        crashed = []
        for srv in self.servers:
            died = srv.proc is not None and not srv.alive
            if died:
                crashed.append(f"{srv.name} exited with {srv.proc.returncode} while tests ran; "
                               f"log:\n{srv.log[-20000:]}")
            srv.stop()
            # A sanitizer report (also one printed at exit, e.g. a leak, after SIGTERM).
            if srv.proc is not None and not died and SANITIZER_REPORT.search(srv.log):
                crashed.append(f"{srv.name}: sanitizer report (exit {srv.proc.returncode}); "
                               f"log:\n{srv.log[-20000:]}")
            if srv in _LIVE:
                _LIVE.remove(srv)
        return crashed


@pytest.fixture(scope="module")
def ferryd_factory(tmp_path_factory, pki):
    factory = ServerFactory(tmp_path_factory, pki)
    yield factory
    crashed = factory.close()
    if crashed:
        pytest.fail("server died or reported a sanitizer finding during the module's tests:\n" + "\n".join(crashed),
                    pytrace=False)


@pytest.fixture(scope="module")
def ferryd(ferryd_factory) -> Server:
    """The default server: explicit TLS allowed, implicit TLS on, PROT C allowed."""
    return ferryd_factory("ferryd")


@pytest.fixture(scope="module")
def big_file(tmp_path_factory):
    """10 MiB of random bytes on disk; returns (path, bytes)."""
    d = tmp_path_factory.mktemp("data")
    data = os.urandom(10 * 1024 * 1024)
    p = d / "random-10MiB.bin"
    p.write_bytes(data)
    return p, data


# --------------------------------------------------------------------------
# Peers


@dataclass
class Result:
    argv: list[str]
    rc: int
    out: bytes
    err: str

    def __str__(self):
        return (f"$ {' '.join(self.argv)}\nexit {self.rc}\n--- stdout ---\n"
                f"{self.out[-4000:].decode(errors='replace')}\n--- stderr ---\n{self.err[-12000:]}")

    __repr__ = __str__


class Peer:
    """Runs curl and lftp with timeouts and an isolated HOME."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.env = dict(os.environ, HOME=str(workdir), LC_ALL="C.UTF-8")
        for k in ("http_proxy", "https_proxy", "ftp_proxy", "all_proxy",
                  "HTTP_PROXY", "HTTPS_PROXY", "FTP_PROXY", "ALL_PROXY"):
            self.env.pop(k, None)

    def run(self, argv: list[str], timeout: float = 90, input: bytes | None = None) -> Result:
        try:
            stdin = {"stdin": subprocess.DEVNULL} if input is None else {"input": input}
            p = subprocess.run(argv, capture_output=True, timeout=timeout, cwd=self.workdir,
                               env=self.env, **stdin)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"timed out after {timeout}s: {' '.join(argv)}\n"
                        f"stderr: {(exc.stderr or b'').decode(errors='replace')[-8000:]}",
                        pytrace=False)
        return Result(argv, p.returncode, p.stdout, p.stderr.decode(errors="replace"))

    # curl: -v so the wire dialogue ("> CMD", "< 123 ...") is in stderr.
    def curl(self, srv: Server, *args: str, user: str | None = None,
             password: str | None = None, timeout: float = 90) -> Result:
        argv = [_tool("curl"), "--silent", "--show-error", "--verbose",
                "--connect-timeout", "10", "--max-time", str(int(timeout) - 10),
                "--user", f"{user or srv.user}:"
                          f"{srv.password if password is None else password}", *args]
        return self.run(argv, timeout=timeout)

    def s_client(self, port: int, *args: str, commands: list[str] = (), starttls: bool = True,
                 timeout: float = 30) -> Result:
        """openssl s_client to 127.0.0.1:port (-starttls ftp unless starttls=False): sends
        `commands` and QUIT (CRLF) after the handshake and runs until the server closes.
        stdout has the handshake summary and the server's replies."""
        argv = [_tool("openssl"), "s_client", "-connect", f"{HOST}:{port}",
                *(["-starttls", "ftp"] if starttls else []), "-crlf", "-ign_eof", *args]
        script = "".join(f"{c}\n" for c in [*commands, "QUIT"]).encode()
        return self.run(argv, timeout=timeout, input=script)

    def lftp(self, srv: Server, commands: list[str], *, implicit: bool = False,
             settings: list[str] = (), user: str | None = None, password: str | None = None,
             timeout: float = 120) -> Result:
        scheme, port = ("ftps", srv.tls_port) if implicit else ("ftp", srv.port)
        script = [
            "set cmd:fail-exit yes",
            "set net:max-retries 1",
            "set net:persist-retries 0",
            "set net:timeout 20",
            "set net:reconnect-interval-base 1",
            "set ftp:ssl-force true",
            "set ftp:ssl-protect-data true",
            "set ssl:verify-certificate no",
            "set ssl:check-hostname no",
            "set xfer:clobber on",
            "set cmd:interactive no",
            *settings,
            f"open -u {user or srv.user},{password or srv.password} -p {port} {scheme}://{srv.host}",
            *commands,
        ]
        path = self.workdir / f"lftp-{time.monotonic_ns()}.script"
        path.write_text("\n".join(script) + "\n")
        return self.run([_tool("lftp"), "--norc", "-d", "-f", str(path)], timeout=timeout)


@pytest.fixture
def peer(tmp_path) -> Peer:
    return Peer(tmp_path)


# --------------------------------------------------------------------------
# Stand-in server (development only): python3 conftest.py --standin-pyftpdlib --config FILE


def _standin_parse(path: str) -> dict:
    schema = {"LISTEN": 2, "TLSPORT": 1, "KEYRING": 1, "USERS": 1, "PASSIVEDATAPORTS": 2,
              "EXTENSIONS": 1, "SECURE_FTP": 1, "SECURE_DATACONN": 1}
    allowed = {"SECURE_FTP": {"ALLOWED", "REQUIRED"},
               "SECURE_DATACONN": {"NEVER", "CLEAR", "PRIVATE"}}
    cfg = {}
    for n, raw in enumerate(Path(path).read_text().splitlines(), 1):
        words = raw.split(";", 1)[0].split()
        if not words:
            continue
        name, args = words[0].upper(), words[1:]

        def bad(msg):
            sys.stderr.write(f"{path}:{n}: {msg}\n")
            sys.exit(2)
        if name not in schema:
            bad(f"unknown statement {words[0]}")
        if len(args) != schema[name]:
            bad(f"{name} takes {schema[name]} value(s)")
        if name in allowed and args[0].upper() not in allowed[name]:
            bad(f"{name} {args[0]}: expected one of {sorted(allowed[name])}")
        ports = {"LISTEN": args[1:], "TLSPORT": args, "PASSIVEDATAPORTS": args}.get(name, [])
        for p in ports:
            if not p.isdigit() or int(p) > 65535:
                bad(f"{name}: {p} is not a port number")
        cfg[name] = args
    return cfg


def _standin_main(argv: list[str]) -> None:
    import crypt
    import logging

    from OpenSSL import SSL
    from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
    from pyftpdlib.handlers import TLS_DTPHandler, TLS_FTPHandler
    from pyftpdlib.ioloop import IOLoop
    from pyftpdlib.servers import FTPServer

    cfg = _standin_parse(argv[argv.index("--config") + 1])
    logging.basicConfig(stream=sys.stderr, level=int(os.environ.get("STANDIN_LOGLEVEL", logging.INFO)),
                        format="standin %(asctime)s %(message)s")

    class Users(DummyAuthorizer):
        hashes: dict = {}

        def validate_authentication(self, username, password, handler):
            h = self.hashes.get(username)
            if not h or crypt.crypt(password, h) != h:
                raise AuthenticationFailed("Login incorrect.")

    auth = Users()
    for line in Path(cfg["USERS"][0]).read_text().splitlines():
        if line.strip():
            name, h, home = line.split(":", 2)
            auth.add_user(name, "", home, perm="elradfmwMT")
            Users.hashes[name] = h

    data_ctx = SSL.Context(SSL.TLS_METHOD)
    data_ctx.use_certificate_chain_file(cfg["KEYRING"][0])
    data_ctx.use_privatekey_file(cfg["KEYRING"][0])
    data_ctx.set_max_proto_version(SSL.TLS1_2_VERSION)

    class DTP(TLS_DTPHandler):
        # OpenSSL's defaults send TLS 1.3 session tickets on data connections;
        # lftp (GnuTLS) never reads them, closes with a RST, and the server loses
        # the end of the upload. Data connections stay on TLS 1.2 here.
        def secure_connection(self, ssl_context):
            super().secure_connection(data_ctx)

        # pyftpdlib closes a data connection that is readable before the
        # transfer command; curl starts the TLS handshake right after connect.
        def readable(self):
            return self._ssl_accepting or super().readable()

        # ... and sends a spurious 226 when a data connection that never
        # carried a transfer (e.g. after RETR -> 550) is closed by the client.
        def handle_close(self):
            if not self._initialized:
                return self.close()
            super().handle_close()

    class Handler(TLS_FTPHandler):
        dtp_handler = DTP
        certfile = cfg["KEYRING"][0]
        authorizer = auth
        lo, hi = map(int, cfg.get("PASSIVEDATAPORTS", ["0", "0"]))
        passive_ports = list(range(lo, hi + 1)) if hi else None
        tls_control_required = cfg.get("SECURE_FTP", ["ALLOWED"])[0].upper() == "REQUIRED"
        tls_data_required = cfg.get("SECURE_DATACONN", ["CLEAR"])[0].upper() == "PRIVATE"

    class ImplicitHandler(Handler):
        def handle(self):
            self.secure_connection(self.ssl_context)
            super().handle()

    ioloop = IOLoop()
    host, port = cfg["LISTEN"]
    FTPServer((host, int(port)), Handler, ioloop=ioloop)
    tls_port = int(cfg.get("TLSPORT", ["0"])[0])
    if tls_port:
        FTPServer((host, tls_port), ImplicitHandler, ioloop=ioloop)
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    ioloop.loop()


if __name__ == "__main__" and "--standin-pyftpdlib" in sys.argv:
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    _standin_main(sys.argv[1:])

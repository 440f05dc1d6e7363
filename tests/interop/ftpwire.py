"""Small FTP/FTPS client helpers for the interop tests (standard library only).

Two layers:
- ``RawControl``: a byte-exact control connection for protocol tests. It never
  reads past the end of the reply it is asked for, so a test can tell exactly
  what the server sent before and after an ``AUTH TLS`` upgrade.
- ``ftplib.FTP_TLS`` subclasses that record the commands they send and can use
  EPSV (passive), EPRT (active) or implicit TLS.

Every socket gets a timeout; nothing here sleeps.
"""

from __future__ import annotations

import ftplib
import hashlib
import re
import socket
import ssl
from dataclasses import dataclass

TIMEOUT = 30.0
HOST = "127.0.0.1"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


TLS_VERSIONS = {"1.0": ssl.TLSVersion.TLSv1, "1.1": ssl.TLSVersion.TLSv1_1,
                "1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


def client_context(cafile: str | None = None, *, cert=None, key=None, version: str | None = None,
                   tickets: bool = True) -> ssl.SSLContext:
    """TLS client context: no verification unless a CA file is given.

    cert/key: a client certificate to present; version: "1.2" or "1.3" pins the
    protocol version; tickets=False asks for no session tickets (TLS 1.2 then
    resumes by session id)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if cafile:
        ctx.load_verify_locations(cafile)
    else:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if cert:
        ctx.load_cert_chain(str(cert), str(key) if key else None)
    if version:
        if version in ("1.0", "1.1"):
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # else OpenSSL 3 refuses to offer them
        import warnings
        with warnings.catch_warnings():  # TLSv1/TLSv1_1 are deprecated: that is the point
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = ctx.maximum_version = TLS_VERSIONS[version]
    if not tickets:
        ctx.options |= ssl.OP_NO_TICKET
    return ctx


# --------------------------------------------------------------------------
# Raw control connection


@dataclass
class Reply:
    code: int
    lines: list[str]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def __str__(self) -> str:  # shows up in assertion messages
        return self.text


class ConnectionClosed(Exception):
    """The server closed the control connection (EOF or reset)."""


class RawControl:
    """One FTP control connection driven line by line.

    Reads are buffered in ``self.buf``; ``reply()`` consumes exactly one
    (possibly multi-line) reply and leaves anything after it in the buffer.
    """

    def __init__(self, port: int, host: str = HOST, timeout: float = TIMEOUT,
                 implicit: ssl.SSLContext | None = None, source: str | None = None,
                 proxy_header: bytes = b""):
        """source: the client address to connect from (data connections use it too).
        proxy_header: sent first, as a load balancer does (PROXYPROTOCOL)."""
        self.timeout = timeout
        self.source = (source, 0) if source else None
        self.sock: socket.socket = socket.create_connection((host, port), timeout=timeout,
                                                            source_address=self.source)
        self.sock.settimeout(timeout)
        if proxy_header:
            self.sock.sendall(proxy_header)
        if implicit is not None:
            self.sock = implicit.wrap_socket(self.sock, server_hostname=host)
        self.buf = b""
        self.ctx: ssl.SSLContext | None = implicit
        self.greeting = self.reply()

    # -- low level
    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode("utf-8") + b"\r\n")

    def _fill(self) -> None:
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLEOFError, BrokenPipeError) as exc:
            raise ConnectionClosed(repr(exc)) from exc
        if not chunk:
            raise ConnectionClosed("EOF")
        self.buf += chunk

    def _line(self) -> str:
        while b"\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise AssertionError("reply line longer than 1 MiB")
            self._fill()
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode("utf-8", "replace")

    def reply(self) -> Reply:
        first = self._line()
        m = re.match(r"^(\d{3})([ -])", first)
        if not m:
            raise AssertionError(f"malformed reply line: {first!r}")
        code, sep = m.group(1), m.group(2)
        lines = [first]
        if sep == "-":
            while True:
                line = self._line()
                lines.append(line)
                if line.startswith(code + " "):
                    break
        return Reply(int(code), lines)

    def cmd(self, line: str) -> Reply:
        self.send(line)
        return self.reply()

    def expect(self, line: str, *codes: int) -> Reply:
        r = self.cmd(line)
        assert r.code in codes, f"{line!r}: expected {codes}, got {r}"
        return r

    # -- TLS
    def starttls(self, ctx: ssl.SSLContext | None = None,
                 session: ssl.SSLSession | None = None) -> None:
        """Send AUTH TLS, require 234, and do the handshake (resuming session if given)."""
        self.expect("AUTH TLS", 234)
        self.handshake(ctx, session)

    def handshake(self, ctx: ssl.SSLContext | None = None,
                  session: ssl.SSLSession | None = None) -> None:
        assert self.buf == b"", f"server sent plaintext after 234: {self.buf!r}"
        self.ctx = ctx or client_context()
        self.sock = self.ctx.wrap_socket(self.sock, server_hostname=HOST, session=session)

    def login(self, user: str, password: str) -> None:
        self.expect(f"USER {user}", 331)
        self.expect(f"PASS {password}", 230)

    def login_tls(self, user: str, password: str, prot: str = "P") -> None:
        if not isinstance(self.sock, ssl.SSLSocket):
            self.starttls()
        self.login(user, password)
        self.expect("PBSZ 0", 200)
        self.expect(f"PROT {prot}", 200)
        self.prot = prot

    # -- data connections
    def epsv_port(self) -> int:
        r = self.expect("EPSV", 229)
        m = re.search(r"\(([^\d])\1\1(\d+)\1\)", r.text)
        assert m, f"unparsable 229 reply: {r}"
        return int(m.group(2))

    def pasv_port(self) -> int:
        r = self.expect("PASV", 227)
        m = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", r.text)
        assert m, f"unparsable 227 reply: {r}"
        h = ".".join(m.group(i) for i in range(1, 5))
        assert h == HOST, f"PASV advertised {h}, expected {HOST}: {r}"
        return int(m.group(5)) * 256 + int(m.group(6))

    def open_data(self, port: int, protect: bool, resume: bool = True,
                  session: ssl.SSLSession | None = None, proxy_header: bytes = b"") -> socket.socket:
        """Connect to a data port; with protect, do the TLS handshake resuming the
        control connection's session (resume=False: a fresh handshake; session:
        resume that session instead, which must belong to self.ctx). proxy_header: sent first."""
        s = socket.create_connection((HOST, port), timeout=self.timeout, source_address=self.source)
        s.settimeout(self.timeout)
        if proxy_header:
            s.sendall(proxy_header)
        if protect:
            if session is None and resume:
                assert isinstance(self.sock, ssl.SSLSocket)
                session = self.sock.session
            s = self.ctx.wrap_socket(s, server_hostname=HOST, session=session)
        return s

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def recv_all(s: socket.socket) -> bytes:
    out = bytearray()
    while True:
        chunk = s.recv(1 << 16)
        if not chunk:
            return bytes(out)
        out += chunk


def close_data(s: socket.socket) -> None:
    """Close a data connection the polite way (close_notify on TLS)."""
    if isinstance(s, ssl.SSLSocket):
        try:
            s = s.unwrap()
        except (OSError, ssl.SSLError):
            pass
    s.close()


def abort_socket(s: socket.socket) -> None:
    """Cut a TCP connection with a RST (SO_LINGER 0), no TLS close_notify."""
    import struct
    raw = s
    if isinstance(s, ssl.SSLSocket):
        # Detach the TCP socket from the TLS object so close() sends no alert.
        raw = socket.socket(fileno=s.detach())
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()


# --------------------------------------------------------------------------
# ftplib


class RecordingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS that records every command sent and can pick the data mode.

    mode: "pasv" (PASV), "epsv" (EPSV), "port" (active PORT), "eprt" (active EPRT).
    """

    def __init__(self, *, mode: str = "pasv", context: ssl.SSLContext | None = None,
                 timeout: float = TIMEOUT):
        super().__init__(context=context or client_context(), timeout=timeout)
        self.sent: list[str] = []
        self.set_mode(mode)

    def set_mode(self, mode: str) -> None:
        assert mode in ("pasv", "epsv", "port", "eprt")
        self.mode = mode
        self.set_pasv(mode in ("pasv", "epsv"))

    def putcmd(self, line):
        self.sent.append(line.split(" ", 1)[0].upper() if line.upper().startswith("PASS ")
                         else line)
        super().putcmd(line)

    def verbs(self) -> list[str]:
        return [c.split(" ", 1)[0].upper() for c in self.sent]

    def makepasv(self):
        if self.mode == "epsv":
            host, port = ftplib.parse229(self.sendcmd("EPSV"), self.sock.getpeername())
            return host, port
        resp = self.sendcmd("PASV")
        host, port = ftplib.parse227(resp)
        assert host == HOST, f"PASV advertised {host}: {resp}"
        return host, port

    def makeport(self):
        sock = socket.create_server((HOST, 0))
        sock.settimeout(self.timeout)
        port = sock.getsockname()[1]
        if self.mode == "eprt":
            self.sendeprt(HOST, port)
        else:
            self.sendport(HOST, port)
        return sock

    def connect_login(self, port: int, user: str, password: str, prot: str = "P"):
        self.connect(HOST, port, timeout=self.timeout)
        self.login(user, password)  # FTP_TLS.login sends AUTH TLS first
        if prot == "P":
            self.prot_p()  # sends PBSZ 0 then PROT P
        else:
            self.voidcmd("PBSZ 0")  # RFC 4217: PBSZ before PROT
            self.prot_c()
        return self


class ResumingFTP_TLS(RecordingFTP_TLS):
    """FTP_TLS whose PROT P data connections resume the control connection's TLS
    session, as servers with SECURE_SESSION_REUSE REQUIRED (vsftpd
    require_ssl_reuse) demand; plain FTP_TLS does not (cpython#63699).
    ``reused`` records SSLSocket.session_reused of each protected data connection."""

    def __init__(self, **kw):
        super().__init__(**kw)
        self.reused: list[bool] = []

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host,
                                            session=self.sock.session)
            self.reused.append(conn.session_reused)
        return conn, size


class ImplicitFTP_TLS(RecordingFTP_TLS):
    """FTP_TLS for implicit TLS: the handshake happens right after connect."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        if host:
            self.host = host
        if port:
            self.port = port
        if timeout != -999:
            self.timeout = timeout
        raw = socket.create_connection((self.host, self.port), self.timeout)
        self.af = raw.family
        self.sock = self.context.wrap_socket(raw, server_hostname=self.host)
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def ftp_store(ftp: ftplib.FTP, name: str, data: bytes) -> str:
    import io
    return ftp.storbinary(f"STOR {name}", io.BytesIO(data), blocksize=1 << 16)


def ftp_fetch(ftp: ftplib.FTP, name: str, rest: int | None = None) -> bytes:
    out = bytearray()
    ftp.retrbinary(f"RETR {name}", out.extend, blocksize=1 << 16, rest=rest)
    return bytes(out)

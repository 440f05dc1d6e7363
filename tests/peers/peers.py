#!/usr/bin/env python3
"""Real third-party FTPS servers ("peers") for Ferry's interop tests and benchmarks.

Four servers, each started as a foreground process on 127.0.0.1 with a given
certificate, user, password, home folder, control port and passive port range,
and stopped (with every process it forked) by the caller:

    import peers
    p = peers.start("vsftpd", cert_pem, key_pem, home, "alice", "pw", 0, 0, 0, tmpdir)
    try:
        ... ftp://alice:pw@127.0.0.1:{p.port}/ ...
    finally:
        p.stop()

Standard library only; runs with Debian's /usr/bin/python3. The binaries of
vsftpd, ProFTPD and Pure-FTPd come from the .debs that ``scripts/install-peers``
unpacks into ``/opt/ferry-peers/root`` (``$FERRY_PEERS_DIR`` overrides the
folder); they are never installed as Debian packages (they conflict, and would
start a system service on port 21). pyftpdlib is Debian's python3-pyftpdlib.

API
---
``start(kind, cert_pem, key_pem, home, user, password, port, pasv_lo, pasv_hi, tmpdir,
        *, host="127.0.0.1", require_prot_p=False, verbose=True, max_sessions=1000,
        ready_timeout=15.0, extra=(), keep_files=False, pyftpdlib_curl_compat=False,
        tls_max=None) -> Peer``

  kind           one of KINDS: "pure-ftpd", "proftpd", "vsftpd", "pyftpdlib".
  cert_pem,      the server certificate (chain) and its private key: a path, or the
  key_pem        PEM text itself. Copied into the peer's private folder. RSA or EC.
  home           the user's home folder (must exist); it is the root "/" the user sees.
  user,password  the one FTP account.
  port           control port (explicit TLS: plain greeting, then AUTH TLS); 0 = a free one.
  pasv_lo,       passive data port range; 0, 0 = a free range of 20 ports.
  pasv_hi
  tmpdir         an existing folder; the peer makes a private folder inside it for its
                 configuration, password files and logs, removed by stop().
  require_prot_p refuse PROT C data connections (default: PROT C allowed, so that the
                 benchmark can measure it; the control connection always needs TLS
                 before USER/PASS).
  verbose        log every command and reply where the server can (vsftpd, ProFTPD,
                 pyftpdlib); turn off for benchmarks.
  max_sessions   concurrent sessions allowed (in total and per client address).
  extra          server-specific additions: vsftpd.conf lines, ProFTPD directives,
                 pure-ftpd command-line arguments, or pyftpdlib handler attributes as
                 "name=python-literal" strings.
  keep_files     keep the private folder after stop() (for post-mortems).
  tls_max        "1.2" caps the server at TLS 1.2 (default None: TLS 1.2 and 1.3). ProFTPD:
                 TLSProtocol; pyftpdlib: the context's maximum; vsftpd and Pure-FTPd (no
                 setting of their own): an OPENSSL_CONF file with MaxProtocol = TLSv1.2.
  pyftpdlib_curl_compat
                 pyftpdlib only: patch two behaviours of stock pyftpdlib 1.5.7 that break
                 curl (see "Caveats"). Off by default: the peer is stock pyftpdlib.
  pyftpdlib_password_hash
                 pyftpdlib only: a crypt(3) hash ("$6$..."); the user's password is checked
                 against it with crypt() at each login, as the other servers check theirs
                 (default None: DummyAuthorizer compares the password in clear).

  Raises PeerError (with the server's output) if the binary is missing, the
  server exits, or no "220 " greeting arrives on the control port within
  ready_timeout seconds.

``Peer`` (the handle): ``.kind .host .port .pasv_range .user .password .home .workdir
  .pid .argv .features``; ``.url(path="", credentials=False)``; ``.alive``;
  ``.pids()`` (every live process of the server: master and sessions, for RSS/CPU
  figures); ``.log()`` (all its log files and its stdout/stderr as one text, also after
  stop); ``.chown_home()`` (give files added to home after start to the session user);
  ``.stop(timeout=10.0)`` (SIGTERM to the whole process session, SIGKILL to what is
  left after the timeout, then removes its files; idempotent; returns the exit status).
  A Peer is also a context manager. Peers still running when Python exits are stopped.

Helpers: ``free_port()``, ``free_port_range(size=20)``, ``make_workdir(prefix)`` (a fresh
folder under /tmp that the session user can traverse; see "Ownership" below),
``FEATURES``, ``KINDS``, ``binary_path(kind)``, ``check_installed()``.

Command line (for benchmarks written in shell): ``python3 peers.py serve KIND --cert C
--key K --home H --user U --password P [--port N] [--pasv LO-HI] [--require-prot-p]
[--quiet] [--tls-max 1.2] [--max-sessions N] [--extra X]... [--pyftpdlib-curl-compat]``
starts a peer, prints one JSON line (kind, host, port, pasv, pid, workdir)
and stops it on SIGTERM/SIGINT. ``python3 peers.py check`` verifies the installation.

Ownership and privileges
------------------------
vsftpd, ProFTPD and Pure-FTPd must be started as root: they authenticate, chroot into
the home folder and then run the session as a real uid. Pure-FTPd refuses uid 0, so all
three map the FTP user to the system user ``ferrytest`` (created by install-peers), and
start() gives the home folder tree to it (chown -R). Files the caller adds to home
later stay the caller's: readable, deletable and renamable by the session, but not
overwritable or appendable -- call ``peer.chown_home()`` after adding them.
vsftpd changes into the home folder *as that user* before it chroots, so every folder
above home must be searchable by ``ferrytest`` (pytest's /tmp/pytest-of-root is not:
use ``make_workdir()``); start() checks this and says so. pyftpdlib runs as the caller
and needs neither.

How each server is configured (explicit TLS on the control port, TLS 1.2 and 1.3 only,
passive ports in the range, the user reads and writes its home, chrooted there)
--------------------------------------------------------------------------------
vsftpd 3.0.3 (Debian 3.0.3-13)
  ``vsftpd <workdir>/vsftpd.conf`` with listen=YES, background=NO. The user is a PAM
  "guest" (virtual) user: ``guest_enable=YES guest_username=ferrytest
  virtual_use_local_privs=YES local_root=<home> chroot_local_user=YES
  allow_writeable_chroot=YES``, authenticated by a per-instance PAM service file
  ``/etc/pam.d/ferry-peer-vsftpd-<token>`` (pam_pwdfile against a SHA-512-crypt file in
  workdir; pam_permit for account), removed on stop -- PAM only reads /etc/pam.d, hence
  that one file outside workdir. TLS: ``ssl_enable=YES force_local_logins_ssl=YES
  require_ssl_reuse=YES ssl_sslv2=NO ssl_sslv3=NO ssl_tlsv1=YES ssl_ciphers=HIGH``
  (vsftpd 3.0.3 has no switch per TLS version; ``ssl_tlsv1=NO`` would only drop TLS 1.0
  and hide "AUTH TLS" from FEAT; OpenSSL 3's default security level refuses TLS 1.0/1.1);
  ``ssl_request_cert`` stays at its default YES (a CertificateRequest is sent, an empty
  answer is accepted). Logs: vsftpd.log (protocol with verbose, transfers).
ProFTPD 1.3.8 (Debian proftpd-core + mod_tls.so from proftpd-mod-crypto)
  ``proftpd -n -c <workdir>/proftpd.conf`` (no daemon; forks per session), ``LoadModule
  mod_tls.c`` from the unpacked ModulePath. Users: ``AuthOrder mod_auth_file.c``,
  ``AuthUserFile`` (passwd format, SHA-512 crypt, uid/gid of ferrytest), ``AuthGroupFile``,
  ``RequireValidShell off``, ``UseFtpUsers off``, ``DefaultRoot ~``. TLS: ``TLSEngine on``,
  ``TLSProtocol TLSv1.2 TLSv1.3``, ``TLSRequired auth`` (``auth+data`` with
  require_prot_p), ``TLSOptions`` left empty so session reuse on data connections is
  required (no NoSessionReuseRequired), ``TLSVerifyClient off``, TLSRSA*/TLSEC*
  certificate directives chosen from the key type. ``TLSRequired auth`` rather than
  ``ctrl`` because mod_tls refuses CCC when TLS is required on the control channel.
  Logs: proftpd.log, tls.log, xfer.log, commands.log (verbose).
Pure-FTPd 1.0.50 (Debian pure-ftpd, privsep build)
  ``pure-ftpd -S 127.0.0.1,<port> -p <lo>:<hi> -l puredb:<workdir>/pureftpd.pdb -E -H -A
  -4 -Y 2 -2 <cert>,<key> -J HIGH -u 1 -c/-C <max_sessions> -O xferlog:<workdir>/xfer.log
  -f none``. The user is a puredb virtual user (password file written here with a
  SHA-512-crypt hash, then ``pure-pw mkdb``), uid/gid of ferrytest, chrooted (-A).
  ``-Y 2``: TLS required on the control connection, PROT C allowed (``-Y 3`` with
  require_prot_p). Pure-FTPd logs only through syslog, disabled here with ``-f none``
  (there is often no /dev/log in CI); log() has its transfer log and stderr only.
pyftpdlib 1.5.7 (Debian python3-pyftpdlib, pyOpenSSL 23)
  ``python3 peers.py --serve-pyftpdlib <workdir>/pyftpdlib.json``: ``TLS_FTPHandler``
  with ``tls_control_required=True`` (``tls_data_required`` = require_prot_p), a
  DummyAuthorizer user with perm "elradfmwMT", ``passive_ports`` = the range, and an
  OpenSSL context: TLS_METHOD, minimum TLS 1.2, no compression, HIGH ciphers, a session
  id context (so resumption works). Runs as the caller. Logs: pyftpdlib.log.

Features (FEATURES[kind]; what the configured server offers to a client)
----------------------------------------------------------------------------
                       vsftpd   ProFTPD  Pure-FTPd  pyftpdlib
  CCC                  no (500) yes      yes(1)     no (500)
  EPSV / EPRT          yes      yes      yes        yes
  MLSD / MLST          no       yes      yes        yes
  REST (RETR + STOR)   yes      yes      yes        yes
  data TLS resumption  required required offered(2) offered(2)
  TLS 1.3 / 1.2        yes      yes      yes        yes     (1.1 and older refused)
  PROT C allowed       yes      yes      yes        yes     (unless require_prot_p)
(1) Pure-FTPd answers "200 Control connection unencrypted", sends close_notify and reads
    no further command until the client's close_notify arrives (curl needs
    --ftp-ssl-ccc-mode active; its default passive mode hangs). ProFTPD works either way.
(2) The server caches sessions and resumes them if the client offers, but accepts a
    full handshake on the data connection too. vsftpd refuses a data connection that
    does not resume with "522 SSL connection failed: session reuse required"; ProFTPD
    with "425 Unable to build data connection: Operation not permitted".

Caveats (behaviour of the real servers, kept on purpose)
--------------------------------------------------------
* pyftpdlib 1.5.7 closes a PROT P data connection whose TLS handshake starts before the
  server has read the transfer command (its DTPHandler treats an early readable socket as
  a client that went away). curl does exactly that (connect + handshake right after the
  EPSV/PASV reply, then RETR/STOR), so stock pyftpdlib fails curl's PROT P transfers;
  lftp and Python's ftplib send the command first and work. ``pyftpdlib_curl_compat=True``
  patches this (and a spurious 226 after an unused data connection is closed) for tools
  that need it, e.g. a curl-based benchmark. A client that wants to work with stock
  pyftpdlib must send RETR/STOR/LIST before starting the data connection's handshake.
* vsftpd 3.0.3 loses the end of an upload over TLS 1.3 ("426 Failure reading network
  stream") when the client closes the data connection without reading what the server
  sent on it: the server's TLS 1.3 NewSessionTicket stays unread, the client's close()
  turns into a TCP RST, and vsftpd's pending reads fail. curl does this (uploads of
  ~100 KiB and more fail against vsftpd with TLS 1.3; fine with TLS 1.2). A client that
  sends close_notify and reads the data connection to its end before closing is not
  affected. ``tls_max="1.2"`` avoids it for tools that cannot.
* TLS 1.3 tickets are single-use. The OpenSSL-based peers send two tickets after the
  control handshake and one more after each resumed data handshake (on the data
  connection). Where resumption is required (vsftpd, ProFTPD), a client that keeps only
  the first control ticket gets its second data connection refused; curl keeps the
  tickets it receives on data connections and can do any number of transfers.
* Pure-FTPd's NLST lists "." and ".." too; its LIST shows numeric uids.
* vsftpd 3.0.3 has neither MLSD nor CCC.
* All peers accept "AUTH SSL" as well as "AUTH TLS" except Pure-FTPd (500 for SSL).
"""

from __future__ import annotations

import argparse
import ast
import atexit
import grp
import json
import os
import pwd
import random
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

PEERS_DIR = Path(os.environ.get("FERRY_PEERS_DIR", "/opt/ferry-peers"))
ROOT = PEERS_DIR / "root"
SYSTEM_USER = "ferrytest"
HOST = "127.0.0.1"
PYTHON = "/usr/bin/python3"
KINDS = ("pure-ftpd", "proftpd", "vsftpd", "pyftpdlib")
PAM_DIR = Path("/etc/pam.d")
PAM_PREFIX = "ferry-peer-vsftpd-"

FEATURES: dict[str, dict[str, bool]] = {
    "vsftpd":    dict(ccc=False, epsv=True, mlsd=False, rest=True, reuse_required=True,
                      tls13=True, prot_c=True),
    "proftpd":   dict(ccc=True, epsv=True, mlsd=True, rest=True, reuse_required=True,
                      tls13=True, prot_c=True),
    "pure-ftpd": dict(ccc=True, epsv=True, mlsd=True, rest=True, reuse_required=False,
                      tls13=True, prot_c=True),
    "pyftpdlib": dict(ccc=False, epsv=True, mlsd=True, rest=True, reuse_required=False,
                      tls13=True, prot_c=True),
}

_BINARIES = {
    "vsftpd": "usr/sbin/vsftpd",
    "proftpd": "usr/sbin/proftpd",
    "pure-ftpd": "usr/sbin/pure-ftpd",
}

_CMD_TIMEOUT = 30  # seconds, for every helper command (openssl, pure-pw)


class PeerError(RuntimeError):
    """A peer could not be configured, started or found."""


# --------------------------------------------------------------------------
# Helpers


def free_port(host: str = HOST) -> int:
    """A TCP port that is free on host right now, below the Linux ephemeral range and apart
    from free_port_range's ports. A port the kernel hands out (bind to 0) lies in the ephemeral
    range, where another test's client socket can take it before the server binds it (seen in
    CI as "Address already in use" at a server's start)."""
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(10000, 20000)
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return port
    raise PeerError("no free port found in 10000-19999")


def free_port_range(size: int = 20, host: str = HOST) -> tuple[int, int]:
    """`size` consecutive ports that are bindable now, below the Linux ephemeral range
    (so that client sockets do not take them meanwhile)."""
    rng = random.Random()
    for _ in range(200):
        lo = rng.randrange(20000, 32000 - size)
        socks = []
        try:
            for p in range(lo, lo + size):
                s = socket.socket()
                socks.append(s)
                s.bind((host, p))
            return lo, lo + size - 1
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise PeerError(f"no free range of {size} ports found")


def make_workdir(prefix: str = "ferry-peer-") -> Path:
    """A new folder under the system temp folder (normally /tmp), mode 0755, so that the
    session user (ferrytest) can traverse it. The caller removes it (shutil.rmtree)."""
    d = Path(tempfile.mkdtemp(prefix=prefix))
    d.chmod(0o755)
    return d


def binary_path(kind: str) -> Path:
    if kind == "pyftpdlib":
        return Path(PYTHON)
    return ROOT / _BINARIES[kind]


def check_installed() -> list[str]:
    """Problems that would stop a peer from starting (empty list: all fine)."""
    problems = []
    for kind, rel in _BINARIES.items():
        if not (ROOT / rel).is_file():
            problems.append(f"{kind}: {ROOT / rel} is missing (run scripts/install-peers as root)")
    if not (ROOT / "usr/lib/proftpd/mod_tls.so").is_file():
        problems.append(f"proftpd: {ROOT}/usr/lib/proftpd/mod_tls.so is missing "
                        "(proftpd-mod-crypto; run scripts/install-peers)")
    if not (ROOT / "usr/bin/pure-pw").is_file():
        problems.append(f"pure-ftpd: {ROOT}/usr/bin/pure-pw is missing")
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        problems.append(f"system user {SYSTEM_USER} does not exist (run scripts/install-peers)")
    if not any(Path(d, "pam_pwdfile.so").exists() for d in
               ("/lib/x86_64-linux-gnu/security", "/usr/lib/x86_64-linux-gnu/security",
                "/lib/security", "/usr/lib/security")):
        problems.append("vsftpd: pam_pwdfile.so is missing (apt-get install libpam-pwdfile)")
    try:
        r = subprocess.run([PYTHON, "-c", "import pyftpdlib.handlers as h, OpenSSL; h.TLS_FTPHandler"],
                           capture_output=True, timeout=_CMD_TIMEOUT)
        if r.returncode:
            problems.append("pyftpdlib: " + r.stderr.decode(errors="replace").strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired) as exc:
        problems.append(f"pyftpdlib: {exc}")
    if not shutil.which("openssl"):
        problems.append("openssl is not installed")
    return problems


def _run(argv: list[str], *, input: bytes | None = None, env=None) -> str:
    try:
        r = subprocess.run(argv, input=input, capture_output=True, timeout=_CMD_TIMEOUT, env=env)
    except subprocess.TimeoutExpired:
        raise PeerError(f"timed out after {_CMD_TIMEOUT}s: {' '.join(map(str, argv))}") from None
    except OSError as exc:
        raise PeerError(f"cannot run {argv[0]}: {exc}") from None
    if r.returncode:
        raise PeerError(f"{' '.join(map(str, argv))} exited with {r.returncode}: "
                        f"{r.stderr.decode(errors='replace').strip()}")
    return r.stdout.decode(errors="replace")


def sha512_crypt(password: str) -> str:
    """A crypt(3) SHA-512 hash ("$6$...") made by openssl (the password goes on stdin)."""
    h = _run(["openssl", "passwd", "-6", "-stdin"], input=password.encode() + b"\n").strip()
    if not h.startswith("$6$"):
        raise PeerError(f"openssl passwd -6 gave {h!r}")
    return h


def _key_type(cert: Path) -> str:
    text = _run(["openssl", "x509", "-in", str(cert), "-noout", "-text"])
    if "id-ecPublicKey" in text:
        return "ec"
    if "rsaEncryption" in text:
        return "rsa"
    raise PeerError(f"{cert}: only RSA and EC certificates are supported by this harness")


def _pem_source(value, what: str) -> bytes:
    if isinstance(value, bytes) and b"-----BEGIN" in value:
        return value
    if isinstance(value, str) and "-----BEGIN" in value:
        return value.encode()
    p = Path(os.fsdecode(value))
    try:
        return p.read_bytes()
    except OSError as exc:
        raise PeerError(f"cannot read the {what} {p}: {exc}") from None


def _session_user() -> tuple[int, int]:
    try:
        pw = pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        raise PeerError(f"system user {SYSTEM_USER} does not exist: run scripts/install-peers "
                        "as root") from None
    return pw.pw_uid, pw.pw_gid


def chown_to_session_user(top: Path) -> None:
    """Gives a folder tree to the system user the servers' sessions run as."""
    _chown_tree(top, *_session_user())


def _chown_tree(top: Path, uid: int, gid: int) -> None:
    os.lchown(top, uid, gid)
    for d, dirs, files in os.walk(top):
        for n in dirs + files:
            os.lchown(os.path.join(d, n), uid, gid)


def _check_traversable(home: Path, uid: int, gid: int) -> None:
    """vsftpd does chdir(home) as the session user: every ancestor needs search (x)."""
    for d in reversed(home.parents):
        st = d.stat()
        mode = st.st_mode
        ok = (mode & stat.S_IXOTH) or (st.st_uid == uid and mode & stat.S_IXUSR) or \
             (st.st_gid == gid and mode & stat.S_IXGRP)
        if not ok:
            raise PeerError(
                f"vsftpd changes into the home folder as user {SYSTEM_USER}, but {d} "
                f"(mode {stat.S_IMODE(mode):04o}, owner uid {st.st_uid}) is not searchable by "
                f"it; put the home folder under a folder made by peers.make_workdir()")


def _read_greeting(sock: socket.socket, deadline: float) -> bytes:
    buf = b""
    while True:
        sock.settimeout(max(0.05, min(2.0, deadline - time.monotonic())))
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError(f"closed before the greeting ended: {buf!r}")
        buf += chunk
        if len(buf) > 65536:
            raise ConnectionError("greeting longer than 64 KiB")
        for line in buf.split(b"\r\n")[:-1] if b"\r\n" in buf else []:
            if line[:4] == b"220 ":
                return buf
            if line[:3].isdigit() and line[3:4] == b" ":
                raise ConnectionError(f"unexpected greeting: {buf!r}")


def _session_pids(sid: int) -> list[int]:
    """Live (non-zombie) processes whose session id is sid."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                data = f.read()
        except OSError:
            continue
        fields = data[data.rfind(b")") + 2:].split()
        # fields[0] = state, [1] = ppid, [2] = pgrp, [3] = session
        if len(fields) > 3 and int(fields[3]) == sid and fields[0] not in (b"Z", b"X"):
            pids.append(int(entry))
    return sorted(pids)


# --------------------------------------------------------------------------
# The handle


_LIVE: set["Peer"] = set()
_LIVE_LOCK = threading.Lock()


class Peer:
    """A running peer server (see the module docstring)."""

    def __init__(self, kind, host, port, pasv_range, user, password, home, workdir, argv,
                 env, keep_files, cleanup_paths):
        self.kind = kind
        self.host = host
        self.port = port
        self.pasv_range = pasv_range
        self.user = user
        self.password = password
        self.home = Path(home)
        self.workdir = Path(workdir)
        self.argv = argv
        self.features = dict(FEATURES[kind])
        self.proc: subprocess.Popen | None = None
        self._env = env
        self._keep_files = keep_files
        self._cleanup_paths = list(cleanup_paths)  # files outside workdir (PAM service)
        self._log_cache: str | None = None
        self._stopped = False
        self._returncode: int | None = None

    def __repr__(self):
        return f"<Peer {self.kind} {self.host}:{self.port} pid={self.pid}>"

    # -- information

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def url(self, path: str = "", credentials: bool = False) -> str:
        from urllib.parse import quote
        cred = f"{quote(self.user, safe='')}:{quote(self.password, safe='')}@" if credentials else ""
        return f"ftp://{cred}{self.host}:{self.port}/{path.lstrip('/')}"

    def pids(self) -> list[int]:
        """The server's live processes: the master and its session processes."""
        if self.proc is None or self._stopped:
            return []
        return _session_pids(self.proc.pid)

    def log(self) -> str:
        """Everything the server logged (its log files and stdout/stderr)."""
        if self._log_cache is not None:
            return self._log_cache
        return self._collect_logs()

    def _collect_logs(self) -> str:
        parts = []
        try:
            files = sorted(p for p in self.workdir.iterdir() if p.suffix == ".log")
        except OSError:
            files = []
        for p in files:
            try:
                text = p.read_text(errors="replace")
            except OSError as exc:
                text = f"(unreadable: {exc})"
            parts.append(f"===== {self.kind} {p.name} =====\n{text}")
        return "\n".join(parts)

    def chown_home(self) -> None:
        """Give the home folder tree to the session user again (after adding files)."""
        if self.kind != "pyftpdlib" and os.geteuid() == 0:
            uid, gid = _session_user()
            _chown_tree(self.home, uid, gid)

    # -- lifecycle

    def _launch(self, ready_timeout: float) -> None:
        out = open(self.workdir / "stdout-stderr.log", "ab")
        try:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=out,
                                         stderr=out, cwd=self.workdir, env=self._env,
                                         start_new_session=True, close_fds=True)
        except OSError as exc:
            raise PeerError(f"cannot start {self.argv[0]}: {exc}") from None
        finally:
            out.close()
        with _LIVE_LOCK:
            _LIVE.add(self)
        deadline = time.monotonic() + ready_timeout
        last: Exception | None = None
        while True:
            rc = self.proc.poll()
            if rc is not None:
                break
            if time.monotonic() > deadline:
                rc = None
                break
            try:
                with socket.create_connection((self.host, self.port), timeout=1.0) as s:
                    _read_greeting(s, deadline)
                return
            except (OSError, ConnectionError) as exc:
                last = exc
                time.sleep(0.05)
        what = (f"exited with status {rc} during startup" if rc is not None else
                f"sent no 220 greeting on {self.host}:{self.port} within {ready_timeout}s "
                f"(last error: {last!r})")
        self.stop()
        raise PeerError(f"{self.kind} ({' '.join(map(str, self.argv))}) {what}\n{self.log()}")

    def stop(self, timeout: float = 10.0) -> int | None:
        """Stop the server and every process it started; remove its files. Idempotent."""
        if self._stopped:
            return self._returncode
        self._stopped = True
        proc = self.proc
        if proc is not None:
            sid = proc.pid
            try:
                os.killpg(sid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            # Sessions that outlive the master (or ignore SIGTERM) are killed.
            deadline = time.monotonic() + timeout
            while True:
                left = _session_pids(sid)
                if not left or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            for pid in _session_pids(sid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.killpg(sid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
            self._returncode = proc.returncode
        self._log_cache = self._collect_logs()
        for p in self._cleanup_paths:
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        if not self._keep_files:
            shutil.rmtree(self.workdir, ignore_errors=True)
        with _LIVE_LOCK:
            _LIVE.discard(self)
        return self._returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@atexit.register
def _stop_all():
    with _LIVE_LOCK:
        live = list(_LIVE)
    for p in live:
        try:
            p.stop(timeout=5)
        except Exception:  # noqa: BLE001 - best effort at exit
            pass


# --------------------------------------------------------------------------
# Configuration templates


def _yes(b: bool) -> str:
    return "YES" if b else "NO"


VSFTPD_CONF = """\
# vsftpd.conf written by Ferry tests/peers/peers.py for one test instance
listen=YES
listen_ipv6=NO
listen_address={host}
listen_port={port}
background=NO
max_clients={max_sessions}
max_per_ip={max_sessions}
anonymous_enable=NO
local_enable=YES
write_enable=YES
local_umask=022
file_open_mode=0666
guest_enable=YES
guest_username={system_user}
virtual_use_local_privs=YES
local_root={home}
chroot_local_user=YES
allow_writeable_chroot=YES
secure_chroot_dir={empty}
pam_service_name={pam_service}
pasv_enable=YES
pasv_min_port={pasv_lo}
pasv_max_port={pasv_hi}
port_enable=YES
connect_from_port_20=NO
dirmessage_enable=NO
hide_ids=NO
ssl_enable=YES
allow_anon_ssl=NO
force_local_logins_ssl=YES
force_local_data_ssl={force_data}
require_ssl_reuse=YES
ssl_sslv2=NO
ssl_sslv3=NO
# "ssl_tlsv1" is vsftpd 3.0.3's only TLS switch: NO would also drop "AUTH TLS" from
# FEAT. TLS 1.0/1.1 are refused by OpenSSL 3's default security level anyway.
ssl_tlsv1=YES
ssl_ciphers=HIGH
rsa_cert_file={cert}
rsa_private_key_file={key}
syslog_enable=NO
xferlog_enable=YES
xferlog_std_format=NO
dual_log_enable=NO
vsftpd_log_file={workdir}/vsftpd.log
log_ftp_protocol={verbose}
"""

VSFTPD_PAM = """\
# PAM service for one vsftpd instance started by Ferry tests/peers/peers.py
# (removed when that instance stops). Users come from a file in {workdir}.
auth    required pam_pwdfile.so pwdfile={workdir}/vsftpd.passwd
account required pam_permit.so
"""

PROFTPD_CONF = """\
# proftpd.conf written by Ferry tests/peers/peers.py for one test instance
ServerType              standalone
ServerName              "Ferry test peer (ProFTPD)"
DefaultServer           on
DefaultAddress          {host}
SocketBindTight         on
Port                    {port}
UseIPv6                 off
User                    {system_user}
Group                   {system_group}
MaxInstances            {max_sessions}
PidFile                 {workdir}/proftpd.pid
ScoreboardFile          {workdir}/proftpd.scoreboard
DelayTable              {workdir}/proftpd.delay
ControlsEngine          off
WtmpLog                 off
UseReverseDNS           off
UseFtpUsers             off
SystemLog               {workdir}/proftpd.log
TransferLog             {workdir}/xfer.log
{command_log}
AuthOrder               mod_auth_file.c
AuthUserFile            {workdir}/proftpd.passwd
AuthGroupFile           {workdir}/proftpd.group
RequireValidShell       off
DefaultRoot             ~
PassivePorts            {pasv_lo} {pasv_hi}
AllowOverwrite          on
AllowStoreRestart       on
AllowRetrieveRestart    on
Umask                   022

ModulePath              {module_path}
LoadModule              mod_tls.c
TLSEngine               on
TLSLog                  {workdir}/tls.log
TLSProtocol             {tls_protocol}
TLSCipherSuite          HIGH
{cert_directives}
TLSRequired             {tls_required}
TLSVerifyClient         off
# TLSOptions is left empty: NoSessionReuseRequired is NOT set, so a PROT P data
# connection must resume the control connection's TLS session.
"""


OPENSSL_CNF = """\
# OpenSSL configuration written by Ferry tests/peers/peers.py: caps the TLS version of
# a server that has no setting of its own for it.
openssl_conf = ferry_peer_init
[ferry_peer_init]
ssl_conf = ferry_peer_ssl
[ferry_peer_ssl]
system_default = ferry_peer_tls
[ferry_peer_tls]
MinProtocol = TLSv1.2
MaxProtocol = TLSv1.2
"""


def _openssl_env(c: dict) -> dict | None:
    """vsftpd and Pure-FTPd have no TLS-version setting: cap it with OPENSSL_CONF."""
    if c["tls_max"] != "1.2":
        return None
    cnf = c["workdir"] / "openssl.cnf"
    cnf.write_text(OPENSSL_CNF)
    return dict(os.environ, OPENSSL_CONF=str(cnf))


def _build_vsftpd(c: dict) -> tuple[list[str], dict | None, list[Path]]:
    uid, gid = _session_user()
    _check_traversable(c["home"], uid, gid)
    wd: Path = c["workdir"]
    empty = wd / "empty"
    empty.mkdir(mode=0o755)
    pw = wd / "vsftpd.passwd"
    pw.write_text(f"{c['user']}:{sha512_crypt(c['password'])}\n")
    pw.chmod(0o600)
    token = wd.name.replace("/", "_")
    service = f"{PAM_PREFIX}{token}"
    pam_file = PAM_DIR / service
    pam_file.write_text(VSFTPD_PAM.format(workdir=wd))
    conf = wd / "vsftpd.conf"
    conf.write_text(VSFTPD_CONF.format(
        host=c["host"], port=c["port"], max_sessions=c["max_sessions"], system_user=SYSTEM_USER,
        home=c["home"], empty=empty, pam_service=service, pasv_lo=c["pasv_lo"],
        pasv_hi=c["pasv_hi"], force_data=_yes(c["require_prot_p"]), cert=c["cert"],
        key=c["key"], workdir=wd, verbose=_yes(c["verbose"]))
        + "".join(f"{line}\n" for line in c["extra"]))
    conf.chmod(0o600)
    return [str(binary_path("vsftpd")), str(conf)], _openssl_env(c), [pam_file]


def _build_proftpd(c: dict) -> tuple[list[str], dict | None, list[Path]]:
    uid, gid = _session_user()
    wd: Path = c["workdir"]
    group_name = grp.getgrgid(gid).gr_name
    pw = wd / "proftpd.passwd"
    pw.write_text(f"{c['user']}:{sha512_crypt(c['password'])}:{uid}:{gid}:Ferry test user:"
                  f"{c['home']}:/usr/sbin/nologin\n")
    pw.chmod(0o600)
    gr = wd / "proftpd.group"
    gr.write_text(f"{group_name}:x:{gid}:\n")
    gr.chmod(0o600)
    kt = _key_type(c["cert"])
    prefix = "TLSECCertificate" if kt == "ec" else "TLSRSACertificate"
    cert_directives = (f"{prefix}File {c['cert']}\n{prefix}KeyFile {c['key']}")
    conf = wd / "proftpd.conf"
    conf.write_text(PROFTPD_CONF.format(
        host=c["host"], port=c["port"], system_user=SYSTEM_USER, system_group=group_name,
        max_sessions=c["max_sessions"], workdir=wd,
        command_log=(f"ExtendedLog {wd}/commands.log ALL" if c["verbose"] else ""),
        pasv_lo=c["pasv_lo"], pasv_hi=c["pasv_hi"], module_path=ROOT / "usr/lib/proftpd",
        cert_directives=cert_directives,
        tls_required="auth+data" if c["require_prot_p"] else "auth",
        tls_protocol="TLSv1.2" if c["tls_max"] == "1.2" else "TLSv1.2 TLSv1.3")
        + "".join(f"{line}\n" for line in c["extra"]))
    conf.chmod(0o600)
    env = dict(os.environ, LD_LIBRARY_PATH=str(ROOT / "usr/lib/proftpd"))
    return [str(binary_path("proftpd")), "-n", "-c", str(conf)], env, []


def _build_pure_ftpd(c: dict) -> tuple[list[str], dict | None, list[Path]]:
    uid, gid = _session_user()
    wd: Path = c["workdir"]
    pw = wd / "pureftpd.passwd"
    # user:hash:uid:gid:gecos:home/./:(quota, ratio, bandwidth, ... fields left empty)
    pw.write_text(f"{c['user']}:{sha512_crypt(c['password'])}:{uid}:{gid}::"
                  f"{c['home']}/./::::::::::::\n")
    pw.chmod(0o600)
    pdb = wd / "pureftpd.pdb"
    _run([str(ROOT / "usr/bin/pure-pw"), "mkdb", str(pdb), "-f", str(pw)])
    argv = [str(binary_path("pure-ftpd")),
            "-S", f"{c['host']},{c['port']}",
            "-p", f"{c['pasv_lo']}:{c['pasv_hi']}",
            "-l", f"puredb:{pdb}",
            "-E",                     # no anonymous logins
            "-H",                     # no reverse DNS
            "-A",                     # chroot everyone
            "-4",                     # IPv4 only
            "-Y", "3" if c["require_prot_p"] else "2",  # TLS required on control (+data)
            "-2", f"{c['cert']},{c['key']}",
            "-J", "HIGH",
            "-u", "1",                # lowest uid allowed to log in (ferrytest is a system uid)
            "-c", str(c["max_sessions"]),
            "-C", str(c["max_sessions"]),
            "-O", f"xferlog:{wd}/xfer.log",
            "-f", "none",             # no syslog
            *c["extra"]]
    return argv, _openssl_env(c), []


def _build_pyftpdlib(c: dict) -> tuple[list[str], dict | None, list[Path]]:
    wd: Path = c["workdir"]
    handler_attrs = {}
    for item in c["extra"]:
        name, _, value = item.partition("=")
        handler_attrs[name.strip()] = ast.literal_eval(value.strip())
    cfg = {k: str(v) if isinstance(v, Path) else v for k, v in c.items()
           if k in ("host", "port", "pasv_lo", "pasv_hi", "user", "password", "home", "cert",
                    "key", "require_prot_p", "verbose", "max_sessions", "curl_compat",
                    "tls_max", "password_hash")}
    cfg["handler_attrs"] = handler_attrs
    cfg_file = wd / "pyftpdlib.json"
    cfg_file.write_text(json.dumps(cfg))
    cfg_file.chmod(0o600)
    argv = [PYTHON, str(Path(__file__).resolve()), "--serve-pyftpdlib", str(cfg_file)]
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", PYTHONUNBUFFERED="1")
    return argv, env, []


_BUILDERS = {"vsftpd": _build_vsftpd, "proftpd": _build_proftpd,
             "pure-ftpd": _build_pure_ftpd, "pyftpdlib": _build_pyftpdlib}


# --------------------------------------------------------------------------
# start()


def start(kind: str, cert_pem, key_pem, home, user: str, password: str, port: int,
          pasv_lo: int, pasv_hi: int, tmpdir, *, host: str = HOST, require_prot_p: bool = False,
          verbose: bool = True, max_sessions: int = 1000, ready_timeout: float = 15.0,
          extra=(), keep_files: bool = False, pyftpdlib_curl_compat: bool = False,
          tls_max: str | None = None, pyftpdlib_password_hash: str | None = None) -> Peer:
    """Start one peer server and wait for its greeting (see the module docstring)."""
    if kind not in KINDS:
        raise PeerError(f"unknown peer kind {kind!r}; expected one of {', '.join(KINDS)}")
    if kind != "pyftpdlib":
        if os.geteuid() != 0:
            raise PeerError(f"{kind} must be started as root (it authenticates, chroots and "
                            f"switches to user {SYSTEM_USER})")
        if not binary_path(kind).is_file():
            raise PeerError(f"{kind}: {binary_path(kind)} is missing; run scripts/install-peers "
                            "as root")
    for ch in (user + password):
        if ch in ":\r\n\0":
            raise PeerError("user and password must not contain ':', CR, LF or NUL "
                            "(they go into passwd-format files)")
    if not user:
        raise PeerError("an empty user name is not supported")
    home = Path(home).resolve()
    if not home.is_dir():
        raise PeerError(f"home folder {home} does not exist")
    tmpdir = Path(tmpdir)
    if not tmpdir.is_dir():
        raise PeerError(f"tmpdir {tmpdir} does not exist")
    if not port:
        port = free_port(host)
    if not pasv_lo and not pasv_hi:
        pasv_lo, pasv_hi = free_port_range(20, host)
    if not (0 < pasv_lo <= pasv_hi < 65536):
        raise PeerError(f"bad passive port range {pasv_lo}-{pasv_hi}")
    if tls_max not in (None, "1.2", "1.3"):
        raise PeerError(f"tls_max must be None, '1.2' or '1.3', not {tls_max!r}")
    if tls_max == "1.3":
        tls_max = None

    workdir = Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=tmpdir))
    workdir.chmod(0o755)
    try:
        cert = workdir / "cert.pem"
        key = workdir / "key.pem"
        cert.write_bytes(_pem_source(cert_pem, "certificate"))
        key.touch(mode=0o600)
        key.write_bytes(_pem_source(key_pem, "private key"))
        key.chmod(0o600)
        if kind != "pyftpdlib":
            uid, gid = _session_user()
            _chown_tree(home, uid, gid)
        c = dict(kind=kind, host=host, port=port, pasv_lo=pasv_lo, pasv_hi=pasv_hi, user=user,
                 password=password, home=home, workdir=workdir, cert=cert, key=key,
                 require_prot_p=require_prot_p, verbose=verbose, max_sessions=max_sessions,
                 extra=list(extra), curl_compat=pyftpdlib_curl_compat, tls_max=tls_max,
                 password_hash=pyftpdlib_password_hash)
        argv, env, cleanup = _BUILDERS[kind](c)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    peer = Peer(kind, host, port, (pasv_lo, pasv_hi), user, password, home, workdir, argv,
                env, keep_files, cleanup)
    try:
        peer._launch(ready_timeout)
    except BaseException:
        peer.stop()
        raise
    return peer


# --------------------------------------------------------------------------
# pyftpdlib server process: python3 peers.py --serve-pyftpdlib CONFIG.json


def _serve_pyftpdlib(cfg_path: str) -> None:
    import logging
    import warnings

    warnings.simplefilter("ignore", DeprecationWarning)
    from OpenSSL import SSL
    from pyftpdlib.authorizers import AuthenticationFailed, DummyAuthorizer
    from pyftpdlib.handlers import TLS_FTPHandler
    from pyftpdlib.servers import FTPServer

    cfg = json.loads(Path(cfg_path).read_text())
    logging.basicConfig(stream=sys.stderr,
                        level=logging.DEBUG if cfg["verbose"] else logging.INFO,
                        format="%(asctime)s pyftpdlib[%(process)d] %(message)s")

    ctx = SSL.Context(SSL.TLS_METHOD)
    ctx.set_min_proto_version(SSL.TLS1_2_VERSION)
    if cfg["tls_max"] == "1.2":
        ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
    ctx.set_options(SSL.OP_NO_COMPRESSION)
    ctx.set_cipher_list(b"HIGH:!aNULL")
    ctx.use_certificate_chain_file(cfg["cert"])
    ctx.use_privatekey_file(cfg["key"])
    ctx.check_privatekey()
    ctx.set_session_id(b"ferry-peer-pyftpdlib")

    auth, secret = DummyAuthorizer(), cfg["password"]
    if cfg.get("password_hash"):
        import crypt  # Python 3.11 still has it (deprecated); pyftpdlib has no hashing authorizer

        class CryptAuthorizer(DummyAuthorizer):
            def validate_authentication(self, username, password, handler):
                stored = self.user_table.get(username, {}).get("pwd", "")
                if not stored or crypt.crypt(password, stored) != stored:
                    raise AuthenticationFailed("Authentication failed.")

        auth, secret = CryptAuthorizer(), cfg["password_hash"]
    auth.add_user(cfg["user"], secret, cfg["home"], perm="elradfmwMT")

    class Handler(TLS_FTPHandler):
        pass

    if cfg["curl_compat"]:
        from pyftpdlib.handlers import TLS_DTPHandler

        class CurlCompatDTP(TLS_DTPHandler):
            # Stock pyftpdlib closes a data connection that turns readable before the
            # transfer command has arrived ("client went away"); curl starts its TLS
            # handshake right after connecting, so keep reading while that handshake runs.
            def readable(self):
                return self._ssl_accepting or super().readable()

            # ... and it answers 226 when a data connection that never carried a transfer
            # (e.g. after "550" to RETR) is closed by the client: an extra reply.
            def handle_close(self):
                if not self._initialized:
                    return self.close()
                return super().handle_close()

        Handler.dtp_handler = CurlCompatDTP

    Handler.ssl_context = ctx
    Handler.certfile = cfg["cert"]
    Handler.keyfile = cfg["key"]
    Handler.authorizer = auth
    Handler.tls_control_required = True
    Handler.tls_data_required = bool(cfg["require_prot_p"])
    Handler.passive_ports = list(range(cfg["pasv_lo"], cfg["pasv_hi"] + 1))
    Handler.banner = "pyftpdlib (Ferry test peer) ready."
    for name, value in cfg["handler_attrs"].items():
        setattr(Handler, name, value)

    server = FTPServer((cfg["host"], cfg["port"]), Handler)
    server.max_cons = cfg["max_sessions"]
    server.max_cons_per_ip = cfg["max_sessions"]

    def _term(*_):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _term)
    server.serve_forever(handle_exit=True)


# --------------------------------------------------------------------------
# Command line


def _main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="peers.py", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    sub.add_parser("check", help="verify that the peers are installed")
    s = sub.add_parser("serve", help="start one peer until SIGTERM/SIGINT")
    s.add_argument("kind", choices=KINDS)
    s.add_argument("--cert", required=True)
    s.add_argument("--key", required=True)
    s.add_argument("--home", required=True)
    s.add_argument("--user", required=True)
    s.add_argument("--password", required=True)
    s.add_argument("--host", default=HOST)
    s.add_argument("--port", type=int, default=0)
    s.add_argument("--pasv", default="0-0", help="LO-HI (default: a free range of 20)")
    s.add_argument("--tmpdir", default=None)
    s.add_argument("--require-prot-p", action="store_true")
    s.add_argument("--quiet", action="store_true", help="no per-command logging")
    s.add_argument("--max-sessions", type=int, default=1000)
    s.add_argument("--extra", action="append", default=[])
    s.add_argument("--pyftpdlib-curl-compat", action="store_true")
    s.add_argument("--tls-max", choices=["1.2", "1.3"], default=None)
    a = ap.parse_args(argv)
    if a.cmd == "check":
        problems = check_installed()
        for p in problems:
            print(p, file=sys.stderr)
        if not problems:
            print("all peers installed: " + ", ".join(KINDS))
        return 1 if problems else 0
    lo, _, hi = a.pasv.partition("-")
    own_tmp = a.tmpdir is None
    tmpdir = Path(a.tmpdir) if a.tmpdir else Path(tempfile.mkdtemp(prefix="ferry-peers-"))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        p = start(a.kind, a.cert, a.key, a.home, a.user, a.password, a.port, int(lo), int(hi),
                  tmpdir, host=a.host, require_prot_p=a.require_prot_p, verbose=not a.quiet,
                  max_sessions=a.max_sessions, extra=a.extra,
                  pyftpdlib_curl_compat=a.pyftpdlib_curl_compat, tls_max=a.tls_max)
    except PeerError as exc:
        print(f"peers.py: {exc}", file=sys.stderr)
        if own_tmp:
            shutil.rmtree(tmpdir, ignore_errors=True)
        return 1
    print(json.dumps({"kind": p.kind, "host": p.host, "port": p.port,
                      "pasv": list(p.pasv_range), "pid": p.pid, "workdir": str(p.workdir)}),
          flush=True)
    try:
        while not stop.wait(0.5):
            if not p.alive:
                print(f"peers.py: {a.kind} exited\n{p.log()[-4000:]}", file=sys.stderr)
                return 1
    finally:
        p.stop()
        if own_tmp:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--serve-pyftpdlib":
        _serve_pyftpdlib(sys.argv[2])
    else:
        sys.exit(_main(sys.argv[1:]))

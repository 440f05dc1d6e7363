#!/usr/bin/python3
"""Ferry's benchmark: ferryd against vsftpd, ProFTPD, Pure-FTPd and pyftpdlib in one run.

Run it through bench/run (see the README). Standard library only (Debian's /usr/bin/python3);
needs root (the peers chroot and switch users), curl, openssl, the peers installed by
scripts/install-peers, a built ferryd and a built ftps_load (bench/ftps_load.cpp).

In one run on 127.0.0.1 it starts every server with equivalent settings -- explicit TLS
required before login, PROT P and PROT C allowed, a passive port range, the same EC P-256
certificate, the same SHA-512-crypt password hash (pyftpdlib gets a crypt() authorizer, see
tests/peers/peers.py), and one home folder under one temporary folder for all -- and measures
each with the same clients:

  (a) PROT P download and upload of a big file with curl (--ssl-reqd -k), PROT C download
      (--ftp-ssl-control): MB/s (10^6 bytes) of the data phase, median of --runs;
  (b) 4 KiB files in one session, one PROT P data connection per file (ftps_load files),
      files/s and how many data connections resumed the TLS session;
  (c) sessions/s: connect, AUTH TLS, USER/PASS, PWD, QUIT with 8 workers (ftps_load sessions);
  (d) server PSS per idle logged-in TLS session at 100, 1,000 and 10,000 sessions
      (idle_sessions.py, summed over all of the server's processes);
  (e) the machine's limits: openssl speed -evp aes-256-gcm / aes-128-gcm (16 KiB blocks),
      one TLS 1.3 AES-256-GCM stream and one TCP stream over loopback (ftps_load);
  (f) server CPU per GiB moved and per session: utime+stime (+ cutime+cstime, which holds
      the CPU of session processes that have exited) of the server's processes from /proc,
      before and after each measurement;
  (g) the clients: `ferry get` against curl, a PROT P download of the big file from every
      server to /dev/null, each timed from its process's start to its end. From (a) also
      curl's time to the first byte (time_pretransfer: connect, TLS, login, EPSV, the data
      connection and its TLS handshake, RETR);
  (h) lftp (GnuTLS) fetching small files in one session, one PROT P data connection each:
      ms per file (a session with 20 or 100 files against one with a single file).

Writes RESULTS.md (a markdown table with absolute figures and ratios to the best peer) and
RESULTS.json (every raw figure). Every process it starts is stopped at the end, also on an
error or Ctrl-C, and every wait is bounded.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "peers"))
sys.path.insert(0, str(HERE))
import idle_sessions  # noqa: E402
import peers  # noqa: E402

HOST = "127.0.0.1"
USER = "bench"
PASSWORD = "Bench-pw-4711"
ALL_SERVERS = ("ferryd", "vsftpd", "proftpd", "pure-ftpd", "pyftpdlib")
PASV_SIZE = 100
CLK_TCK = os.sysconf("SC_CLK_TCK")
GIB = 1 << 30
MISSING = "—"

DISPLAY = {"ferryd": "ferryd", "vsftpd": "vsftpd", "proftpd": "ProFTPD",
           "pure-ftpd": "Pure-FTPd", "pyftpdlib": "pyftpdlib"}


class BenchError(RuntimeError):
    pass


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_size(text: str) -> int:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?", text.strip(), re.I)
    if not m:
        raise argparse.ArgumentTypeError(f"bad size {text!r} (e.g. 1G, 64M, 4096)")
    mult = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[m.group(2).upper()]
    return int(float(m.group(1)) * mult)


def run_cmd(argv, timeout: float, what: str, env=None,
            stdout=subprocess.PIPE) -> subprocess.CompletedProcess:
    """Runs a client to completion within timeout seconds (killed otherwise). The result's
    client_cpu is the CPU seconds the client used (from this process's RUSAGE_CHILDREN: only
    run_cmd and Reaper wait for children, never at the same time)."""
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        r = subprocess.run([str(a) for a in argv], stdout=stdout, stderr=subprocess.PIPE,
                           timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r.client_cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    except subprocess.TimeoutExpired:
        raise BenchError(f"{what}: no result within {timeout:.0f} s (killed)") from None
    except OSError as exc:
        raise BenchError(f"{what}: cannot run {argv[0]}: {exc}") from None
    if r.returncode:
        err = (r.stderr.decode(errors="replace").strip()
               or (r.stdout or b"").decode(errors="replace"))
        raise BenchError(f"{what}: exit status {r.returncode}: {err[-2000:]}")
    return r


# ------------------------------------------------------------------------------------------
# Server processes: CPU time from /proc
#
# A server's CPU time is utime+stime+cutime+cstime summed over its process tree (the master and
# its descendants, zombies included): a session process that exits and is reaped by its parent
# moves its time into the parent's cutime/cstime. A session process whose parent exits without
# reaping it (vsftpd's session processes do) is re-parented; this process makes itself a child
# subreaper, so such orphans become its children, and Reaper collects their CPU time with
# wait4() while only one server is being measured.


def _proc_stat(pid: int):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2:].split()


def _all_procs() -> dict[int, tuple[int, bytes, int]]:
    """pid -> (ppid, state, utime+stime+cutime+cstime ticks) for every process."""
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            f = _proc_stat(int(entry))
            if f is not None and len(f) > 14:
                ticks = int(f[11]) + int(f[12]) + int(f[13]) + int(f[14])
                out[int(entry)] = (int(f[1]), f[0], ticks)
    return out


def tree_procs(root: int, procs=None) -> dict[int, tuple[bytes, int]]:
    """root and its descendants (zombies too): pid -> (state, CPU ticks)."""
    procs = procs if procs is not None else _all_procs()
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = {}, [root] if root in procs else []
    while todo:
        p = todo.pop()
        if p not in out:
            out[p] = procs[p][1:]
            todo.extend(children.get(p, []))
    return out


class Reaper:
    """Collects the CPU time of orphaned server processes re-parented to this process."""

    def __init__(self):
        self.enabled = False
        self.protected: set[int] = set()  # server masters: subprocess/peers reap those
        self.cpu = 0.0
        try:
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            self.enabled = libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass

    def orphans(self, procs=None) -> dict[int, bytes]:
        me = os.getpid()
        procs = procs if procs is not None else _all_procs()
        return {pid: st for pid, (ppid, st, _) in procs.items()
                if ppid == me and pid not in self.protected}

    def reap(self) -> None:
        """Only called while no client subprocess runs (they are waited for by run_cmd)."""
        for pid, st in self.orphans().items():
            if st != b"Z":
                continue
            try:
                got, _, ru = os.wait4(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if got:
                self.cpu += ru.ru_utime + ru.ru_stime


REAPER: Reaper | None = None


def cpu_begin(srv) -> tuple[float, set[int]]:
    REAPER.reap()
    REAPER.cpu = 0.0
    procs = tree_procs(srv.sid)
    return sum(t for _, t in procs.values()) / CLK_TCK, set(procs)


def cpu_end(srv, begin: tuple[float, set[int]], timeout: float = 10.0) -> float:
    """CPU seconds the server used since cpu_begin. First waits (bounded) until the session
    processes the measurement created have exited and been reaped."""
    cpu0, baseline = begin
    deadline = time.monotonic() + timeout
    while True:
        procs = _all_procs()
        if (set(tree_procs(srv.sid, procs)) <= baseline and
                not any(st != b"Z" for st in REAPER.orphans(procs).values())):
            break
        if time.monotonic() > deadline:
            break
        time.sleep(0.02)
    REAPER.reap()
    return sum(t for _, t in tree_procs(srv.sid).values()) / CLK_TCK + REAPER.cpu - cpu0


class Server:
    """ferryd or a peer, as the measurements see it."""

    name: str
    port: int

    @property
    def sid(self) -> int: ...
    @property
    def alive(self) -> bool: ...
    def stop(self) -> None: ...
    def log_tail(self) -> str: ...

    def pids(self) -> list[int]:
        """The server's live processes (master and session processes), for memory figures."""
        return sorted(p for p, (st, _) in tree_procs(self.sid).items() if st not in (b"Z", b"X"))


class FerrydServer(Server):
    def __init__(self, binary: Path, workdir: Path, pem: Path, home: Path, pw_hash: str,
                 pasv: tuple[int, int]):
        self.name = "ferryd"
        self.binary = binary
        self.dir = workdir / "ferryd"
        self.dir.mkdir()
        self.port = peers.free_port()
        self.pasv = pasv
        users = self.dir / "users"
        users.write_text(f"{USER}:{pw_hash}:{home}\n")
        users.chmod(0o600)
        self.config = self.dir / "ferryd.conf"
        self.config.write_text(
            "; written by bench/bench.py: the peers' settings (explicit TLS required before\n"
            "; login, PROT P and PROT C allowed, passive range, EC P-256 certificate; sessions run\n"
            "; as the peers' system user, who owns the shared home)\n"
            f"LISTEN {HOST} {self.port}\nRUNAS {peers.SYSTEM_USER}\nTLSPORT 0\nKEYRING {pem}\nUSERS {users}\n"
            f"EXTENSIONS AUTH_TLS\nPASSIVEDATAPORTS {self.pasv[0]} {self.pasv[1]}\n"
            f"INACTIVE {IDLE_LIMIT}\nSECURE_FTP REQUIRED\nSECURE_DATACONN CLEAR\n"
            # Every client comes from 127.0.0.1, thousands of sessions at once (the peers' limits
            # are raised alike).
            "MAXSESSIONS 0\nMAXSESSIONSPERHOST 0\n")
        self.log_path = self.dir / "ferryd.log"
        self.proc = None

    def start(self, ready_timeout: float = 15.0) -> None:
        with open(self.log_path, "ab") as out:
            self.proc = subprocess.Popen([str(self.binary), "--config", str(self.config)],
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         cwd=self.dir, start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"ferryd exited with {self.proc.returncode} at startup:\n"
                                 f"{self.log_tail()}")
            try:
                with socket.create_connection((HOST, self.port), timeout=2) as s:
                    s.settimeout(2)
                    if s.recv(4096).startswith(b"220"):
                        return
            except OSError as exc:
                last = exc
            time.sleep(0.05)
        raise BenchError(f"ferryd sent no greeting within {ready_timeout:.0f} s ({last!r}):\n"
                         f"{self.log_tail()}")

    @property
    def sid(self) -> int:
        return self.proc.pid

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        if self.proc is None or self.proc.returncode is not None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue

    def log_tail(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-3000:]
        except OSError:
            return ""


class PeerServer(Server):
    def __init__(self, peer: peers.Peer):
        self.peer = peer
        self.name = peer.kind
        self.port = peer.port

    @property
    def sid(self) -> int:
        return self.peer.pid

    @property
    def alive(self) -> bool:
        return self.peer.alive

    def stop(self) -> None:
        self.peer.stop()

    def log_tail(self) -> str:
        return self.peer.log()[-3000:]


IDLE_LIMIT = 600  # seconds: every server closes a control connection idle this long

PEER_EXTRA = {
    # The same idle limit everywhere (ferryd: INACTIVE). ProFTPD's DelayEngine pads every login
    # to hide timing; off, for a fair sessions/s.
    "vsftpd": [f"idle_session_timeout={IDLE_LIMIT}"],
    "proftpd": ["DelayEngine off", f"TimeoutIdle {IDLE_LIMIT}"],
    "pure-ftpd": ["-I", str(IDLE_LIMIT // 60)],
    "pyftpdlib": [f"timeout={IDLE_LIMIT}"],
}


# ------------------------------------------------------------------------------------------
# Measurements


def curl_version() -> str:
    r = run_cmd(["curl", "--version"], 10, "curl --version")
    return r.stdout.decode().splitlines()[0]


def curl_transfer(srv: Server, mode: str, cfg, run: int) -> dict:
    """One curl transfer of the big file: mode down-p, up-p or down-c."""
    url = f"ftp://{HOST}:{srv.port}/"
    argv = ["curl", "-sS", "-v", "-k", "--user", f"{USER}:{PASSWORD}", "--ftp-pasv",
            "--max-time", str(int(cfg.size / 5e6) + 120),
            "-w", "\n%{size_download} %{size_upload} %{time_pretransfer} %{time_total}\n"]
    up_name = None
    if mode == "down-p":
        argv += ["--ssl-reqd", "-o", "/dev/null", url + "big.bin"]
    elif mode == "down-c":
        argv += ["--ftp-ssl-control", "-o", "/dev/null", url + "big.bin"]
    else:
        up_name = f"up-{srv.name}-{run}.bin"
        argv += ["--ssl-reqd", "-T", str(cfg.home / "big.bin"), url + up_name]
        if srv.name == "vsftpd":
            # vsftpd 3.0.3 loses the end of curl's uploads over TLS 1.3 (tests/peers/peers.py).
            argv[1:1] = ["--tls-max", "1.2"]
    begin = cpu_begin(srv)
    try:
        r = run_cmd(argv, cfg.size / 5e6 + 180, f"curl {mode}")
        cpu = cpu_end(srv, begin)
        last = r.stdout.decode().strip().splitlines()[-1].split()
        down, up, pre, total = int(last[0]), int(last[1]), float(last[2]), float(last[3])
        moved = up if mode == "up-p" else down
        if moved != cfg.size:
            raise BenchError(f"curl {mode}: moved {moved} bytes, expected {cfg.size}")
        if up_name:
            got = (cfg.home / up_name).stat().st_size
            if got != cfg.size:
                raise BenchError(f"curl {mode}: the server stored {got} bytes of {cfg.size}")
        tls = re.findall(r"SSL connection using (\S+) / (\S+)", r.stderr.decode(errors="replace"))
        return {"mb_per_s": moved / 1e6 / max(total - pre, 1e-6), "bytes": moved,
                "seconds": total - pre, "total_seconds": total, "cpu_s": cpu,
                "cpu_s_per_gib": cpu / (moved / GIB), "client_cpu_s": r.client_cpu,
                "server_busy": cpu / max(total, 1e-6),
                "client_busy": r.client_cpu / max(total, 1e-6),
                "tls": sorted({f"{v} {c}" for v, c in tls})}
    finally:
        if up_name:
            try:
                (cfg.home / up_name).unlink()
            except FileNotFoundError:
                pass


CLIENTS = ("ferry", "curl")


def client_download(srv: Server, client: str, cfg) -> dict:
    """(g) One PROT P download of the big file by `client` (ferry or curl) to /dev/null, timed
    from the start of the client's process to its end: both pay process start, connect, TLS and
    login (well under 1% of a 1 GiB transfer), neither pays a file system. The byte count each
    client reports (ferry -v, curl -w) must be the file's size."""
    if client == "ferry":
        argv = [cfg.ferry, "-v", "--fingerprint", cfg.fingerprint, "--no-progress", "--no-netrc", "get",
                f"ftp://{USER}:{PASSWORD}@{HOST}:{srv.port}/big.bin", "-"]
    else:
        argv = ["curl", "-sS", "-k", "--ssl-reqd", "--ftp-pasv", "--user", f"{USER}:{PASSWORD}",
                "-o", "/dev/null", "-w", "%{size_download} bytes in\n",
                f"ftp://{HOST}:{srv.port}/big.bin"]
    begin = cpu_begin(srv)
    t0 = time.monotonic()
    r = run_cmd(argv, cfg.size / 5e6 + 180, f"{client} download",
                stdout=subprocess.DEVNULL if client == "ferry" else subprocess.PIPE)
    wall = time.monotonic() - t0
    cpu = cpu_end(srv, begin)
    said = (r.stderr if client == "ferry" else r.stdout).decode(errors="replace")
    got = re.findall(r"(\d+) bytes in", said)
    if not got or int(got[-1]) != cfg.size:
        raise BenchError(f"{client} download: moved {got[-1] if got else 'no'} bytes, expected "
                         f"{cfg.size}")
    return {"mb_per_s": cfg.size / 1e6 / wall, "seconds": wall, "client_cpu_s": r.client_cpu,
            "client_cpu_s_per_gib": r.client_cpu / (cfg.size / GIB), "server_busy": cpu / wall,
            "client_busy": r.client_cpu / wall}


def lftp_session(srv: Server, cfg, names: list[str]) -> float:
    """One lftp session fetching `names` from /small, one PROT P data connection per file;
    returns its wall time. Every file must arrive whole."""
    out = cfg.work / "lftp-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    (cfg.work / "lftp-home").mkdir(exist_ok=True)
    script = "; ".join([
        "set cmd:fail-exit yes", "set net:max-retries 1", "set net:timeout 20",
        "set ftp:ssl-force true", "set ftp:ssl-protect-data true", "set ftp:prefer-epsv yes",
        # lftp reads its CA file again for every data connection: the server's certificate
        # alone, not the system bundle (5 ms of lftp's CPU a file)
        f"set ssl:ca-file {cfg.cert}", "set ssl:verify-certificate no",
        f"open -u {USER},{PASSWORD} -p {srv.port} ftp://{HOST}", "cd /small",
        f"mget -O {out} {' '.join(names)}"])
    env = dict(os.environ, HOME=str(cfg.work / "lftp-home"))
    t0 = time.monotonic()
    run_cmd(["lftp", "--norc", "-c", script], 60 + len(names), "lftp mget", env=env)
    wall = time.monotonic() - t0
    got = sorted(p.name for p in out.iterdir() if p.stat().st_size == 4096)
    if got != sorted(names):
        raise BenchError(f"lftp mget: {len(got)} of {len(names)} files arrived whole")
    return wall


def lftp_files_test(srv: Server, cfg) -> dict:
    """(h) lftp (GnuTLS) fetching small files in one session: ms per file, from one session
    with one file and one with cfg.lftp_files (their difference leaves out process start, TLS
    and login). GnuTLS writes the end of a handshake in several segments; a server that delays
    its ACKs makes it wait 40 ms on every data connection."""
    names = [f"file-{i:05d}" for i in range(cfg.lftp_files)]
    one = lftp_session(srv, cfg, names[:1])
    begin = cpu_begin(srv)
    many = lftp_session(srv, cfg, names)
    cpu = cpu_end(srv, begin)
    return {"ms_per_file": max(many - one, 0.0) * 1000 / (len(names) - 1), "files": len(names),
            "seconds": many, "seconds_one": one, "server_busy": cpu / many}


def load_client(cfg, srv: Server, mode_args: list, timeout: float, what: str) -> dict:
    argv = [cfg.load, *mode_args, "--host", HOST, "--port", srv.port, "--user", USER,
            "--password", PASSWORD]
    t0 = time.monotonic()
    r = run_cmd(argv, timeout, what)
    res = json.loads(r.stdout.decode().strip().splitlines()[-1])
    res["client_cpu_s"] = r.client_cpu
    res["wall_seconds"] = time.monotonic() - t0
    return res


def files_test(srv: Server, cfg) -> dict:
    begin = cpu_begin(srv)
    res = load_client(cfg, srv, ["files", "--count", cfg.files, "--dir", "/small"],
                      60 + cfg.files * 0.5, "ftps_load files")
    cpu = cpu_end(srv, begin)
    res["cpu_ms_per_file"] = cpu * 1000 / cfg.files
    res["client_cpu_ms_per_file"] = res["client_cpu_s"] * 1000 / cfg.files
    res["server_busy"] = cpu / res["wall_seconds"]
    res["client_busy"] = res["client_cpu_s"] / res["wall_seconds"]
    return res


def sessions_test(srv: Server, cfg) -> dict:
    begin = cpu_begin(srv)
    res = load_client(cfg, srv, ["sessions", "--workers", 8, "--seconds", cfg.session_seconds],
                      cfg.session_seconds + 120, "ftps_load sessions")
    cpu = cpu_end(srv, begin, timeout=30)
    if res["sessions"] == 0:
        raise BenchError("ftps_load sessions: no session completed")
    res["cpu_ms_per_session"] = cpu * 1000 / res["sessions"]
    res["client_cpu_ms_per_session"] = res["client_cpu_s"] * 1000 / res["sessions"]
    res["server_busy"] = cpu / res["wall_seconds"]
    res["client_busy"] = res["client_cpu_s"] / res["wall_seconds"]
    return res


def openssl_speed(cipher: str, seconds: int) -> float:
    r = run_cmd(["openssl", "speed", "-evp", cipher, "-bytes", "16384", "-seconds", seconds, "-mr"],
                seconds * 4 + 60, f"openssl speed {cipher}")
    for line in r.stdout.decode().splitlines():
        if line.startswith("+F:"):
            return float(line.split(":")[-1]) / 1e6
    raise BenchError(f"openssl speed {cipher}: no +F line in {r.stdout.decode()[-500:]}")


# ------------------------------------------------------------------------------------------
# Setup


def make_pki(d: Path) -> tuple[Path, Path, Path, str]:
    d.mkdir()
    cert, key, pem = d / "cert.pem", d / "key.pem", d / "server.pem"
    run_cmd(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-days", "2", "-subj", "/CN=localhost",
             "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
             "-keyout", key, "-out", cert], 60, "openssl req")
    pem.write_bytes(cert.read_bytes() + key.read_bytes())
    pem.chmod(0o600)
    return cert, key, pem, peers.sha512_crypt(PASSWORD)


def make_files(home: Path, size: int, files: int) -> None:
    home.mkdir(mode=0o755)
    block = os.urandom(1 << 20)
    with open(home / "big.bin", "wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n
    small = home / "small"
    small.mkdir(mode=0o755)
    for i in range(files):
        (small / f"file-{i:05d}").write_bytes(os.urandom(4096))


# ------------------------------------------------------------------------------------------
# Report


def median_of(runs: list[dict], key: str):
    vals = [r[key] for r in runs if key in r]
    return statistics.median(vals) if vals else None


def fmt_size(n: int) -> str:
    for unit, mult in (("GiB", GIB), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= mult and n % mult == 0:
            return f"{n // mult:,} {unit}"
    return f"{n:,} bytes"


def fmt_num(v: float) -> str:
    if v is None:
        return MISSING
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    if v >= 1:
        return f"{v:.2f}"
    return f"{v:.3f}"


FIGURES = [
    # key, header, higher-is-better, table
    ("download_p", "PROT P download MB/s", True, 1),
    ("upload_p", "PROT P upload MB/s", True, 1),
    ("download_c", "PROT C download MB/s", True, 1),
    ("files", "4 KiB files/s", True, 1),
    ("curl_ttfb", "curl PROT P time to first byte ms", False, 1),
    ("lftp_file", "lftp ms/file", False, 1),
    ("sessions", "sessions/s", True, 1),
    ("cpu_download_p", "CPU s/GiB PROT P down", False, 2),
    ("cpu_upload_p", "CPU s/GiB PROT P up", False, 2),
    ("cpu_download_c", "CPU s/GiB PROT C down", False, 2),
    ("cpu_session", "CPU ms/session", False, 2),
]


def figures_of(s: dict) -> dict:
    """The headline figure of each measurement (medians), or None if it is missing."""
    out = {}
    for key in ("download_p", "upload_p", "download_c"):
        runs = s.get(key, {}).get("runs", [])
        out[key] = median_of(runs, "mb_per_s")
        out["cpu_" + key] = median_of(runs, "cpu_s_per_gib")
    for client in CLIENTS:
        runs = s.get(f"client_{client}", {}).get("runs", [])
        out[f"client_{client}"] = median_of(runs, "mb_per_s")
        out[f"client_{client}_cpu"] = median_of(runs, "client_cpu_s_per_gib")
    out["files"] = median_of(s.get("files", {}).get("runs", []), "per_second")
    out["curl_ttfb"] = median_of([{"ms": (r["total_seconds"] - r["seconds"]) * 1000}
                                  for r in s.get("download_p", {}).get("runs", [])], "ms")
    out["lftp_file"] = median_of(s.get("lftp_files", {}).get("runs", []), "ms_per_file")
    out["sessions"] = median_of(s.get("sessions", {}).get("runs", []), "per_second")
    out["cpu_session"] = median_of(s.get("sessions", {}).get("runs", []), "cpu_ms_per_session")
    for step in s.get("idle", []):
        out[f"idle_{step['sessions']}"] = step.get("pss_per_session_kib")
    return out


def render(results: dict) -> str:
    meta = results["meta"]
    servers = meta["servers"]
    figs = {name: figures_of(results["servers"].get(name, {})) for name in servers}
    peer_names = [n for n in servers if n != "ferryd"]

    def best(key, higher):
        vals = [figs[p].get(key) for p in peer_names if figs[p].get(key) is not None]
        if not vals:
            return None
        return max(vals) if higher else min(vals)

    def cell(name, key, higher):
        v = figs[name].get(key)
        if v is None:
            return MISSING
        b = best(key, higher)
        if not b:
            return fmt_num(v)
        return f"{fmt_num(v)} ({v / b:.2f}×)"

    idle_counts = meta["idle_counts"]
    lines = []
    load = meta["load_average"]
    # Only the load at the start says whether others were busy: the benchmark loads the machine
    # itself later (8 session workers, thousands of idle-session processes).
    busy = load["before"][0] > 1.5
    busy_note = " -- a busy machine: figures are depressed and noisy" if busy else ""
    lines.append(f"# Ferry benchmark: {meta['date']}")
    lines.append("")
    lines.append(f"Loopback 127.0.0.1, {meta['cpu']} ({meta['cores']} cores), Linux "
                 f"{meta['kernel']}, {meta['openssl']}, {meta['curl']}. "
                 f"Big file {fmt_size(meta['size'])}, {meta['files']} files of 4 KiB, sessions "
                 f"{meta['session_seconds']:g} s with 8 workers, medians of {meta['runs']} "
                 f"run(s){' (tiny configuration)' if meta['tiny'] else ''}. Load average "
                 f"(1/5/15 min) at the start: {' '.join(f'{x:.2f}' for x in load['before'])}, "
                 f"before the idle-session test: "
                 f"{' '.join(f'{x:.2f}' for x in load.get('before_idle', []))}, at the end: "
                 f"{' '.join(f'{x:.2f}' for x in load['after'])} (the later figures include the "
                 f"benchmark's own load: 8 session workers, thousands of session processes)"
                 f"{busy_note}.")
    lines.append("")
    lines.append("Each cell: the absolute figure and, in brackets, its ratio to the best peer's "
                 "(vsftpd, ProFTPD, Pure-FTPd, pyftpdlib). ↑ higher is better, ↓ lower is "
                 "better. "
                 "MB = 10^6 bytes.")
    lines.append("")
    lines.append("## Throughput and rates")
    lines.append("")
    t1 = [f for f in FIGURES if f[3] == 1]
    lines.append("| server | " + " | ".join(f"{h} {'↑' if hi else '↓'}" for _, h, hi, _ in t1)
                 + " | data TLS resumed |")
    lines.append("|---" * (len(t1) + 2) + "|")
    for name in servers:
        files_runs = results["servers"].get(name, {}).get("files", {}).get("runs", [])
        resumed = (f"{files_runs[-1]['resumed']}/{files_runs[-1]['files']}" if files_runs
                   else MISSING)
        lines.append(f"| {DISPLAY[name]} | " + " | ".join(cell(name, k, hi) for k, _, hi, _ in t1)
                     + f" | {resumed} |")
    lines.append("")
    lines.append("## Server costs")
    lines.append("")
    t2 = [f for f in FIGURES if f[3] == 2]
    idle_heads = [f"idle PSS KiB/session at {n:,} ↓" for n in idle_counts]
    lines.append("| server | " + " | ".join(f"{h} {'↑' if hi else '↓'}" for _, h, hi, _ in t2)
                 + " | " + " | ".join(idle_heads) + " |")
    lines.append("|---" * (len(t2) + len(idle_counts) + 1) + "|")
    skipped_notes = []
    for name in servers:
        row = [cell(name, k, hi) for k, _, hi, _ in t2]
        steps = {st["sessions"]: st for st in results["servers"].get(name, {}).get("idle", [])}
        for n in idle_counts:
            st = steps.get(n)
            if st and "skipped" in st:
                skipped_notes.append(f"{DISPLAY[name]} at {n:,} idle sessions: {st['skipped']}")
                word = "skipped" if st["skipped"].startswith("not attempted") else "failed"
                row.append(f"{word} [{len(skipped_notes)}]")
            else:
                row.append(cell(name, f"idle_{n}", False))
        lines.append(f"| {DISPLAY[name]} | " + " | ".join(row) + " |")
    lines.append("")
    lines.append("## The clients: ferry against curl")
    lines.append("")
    lines.append("PROT P download of the big file from each server to /dev/null, "
                 "MB/s from the client process's start to its end (connect, TLS and login "
                 "included), median of the runs; ferry/curl is the ratio in the same run. "
                 "Client CPU s/GiB: the client's own CPU time.")
    lines.append("")
    lines.append("| server | ferry MB/s ↑ | curl MB/s ↑ | ferry/curl ↑ | ferry CPU s/GiB ↓ "
                 "| curl CPU s/GiB ↓ |")
    lines.append("|---" * 6 + "|")
    for name in servers:
        f = figs[name]
        fe, cu = f.get("client_ferry"), f.get("client_curl")
        ratio = f"{fe / cu:.2f}×" if fe and cu else MISSING
        lines.append(f"| {DISPLAY[name]} | {fmt_num(fe)} | {fmt_num(cu)} | {ratio} | "
                     f"{fmt_num(f.get('client_ferry_cpu'))} | "
                     f"{fmt_num(f.get('client_curl_cpu'))} |")
    lines.append("")
    lines.append("## Who was busy")
    lines.append("")
    lines.append("CPU time of the server / of the client (curl, ftps_load or ferry) during each "
                 "measurement, as a share of one core (the machine has two); median over the runs. "
                 "A figure near "
                 "100% marks a single-threaded process that was the bottleneck.")
    lines.append("")
    busy_cols = (("download_p", "PROT P download"), ("upload_p", "PROT P upload"),
                 ("download_c", "PROT C download"), ("files", "4 KiB files"),
                 ("sessions", "sessions (8 workers)"), ("client_ferry", "ferry download"))
    lines.append("| server | " + " | ".join(h for _, h in busy_cols) + " |")
    lines.append("|---" * (len(busy_cols) + 1) + "|")
    for name in servers:
        row = []
        for key, _ in busy_cols:
            runs = results["servers"].get(name, {}).get(key, {}).get("runs", [])
            sb, cb = median_of(runs, "server_busy"), median_of(runs, "client_busy")
            row.append(MISSING if sb is None or cb is None else f"{sb:.0%} / {cb:.0%}")
        lines.append(f"| {DISPLAY[name]} | " + " | ".join(row) + " |")
    lines.append("")
    lim = results["limits"]
    lines.append("## The machine's limits (same run)")
    lines.append("")
    lines.append("| figure | MB/s |")
    lines.append("|---|---|")
    names = {"aes-256-gcm": "`openssl speed -evp aes-256-gcm`, 16 KiB blocks, one core",
             "aes-128-gcm": "`openssl speed -evp aes-128-gcm`, 16 KiB blocks, one core",
             "tls-stream": "one TLS 1.3 AES-256-GCM stream over loopback, OpenSSL both ends "
                           "(ftps_load tls-stream)",
             "tcp-stream": "one TCP stream over loopback (ftps_load tcp-stream)"}
    for key, label in names.items():
        lines.append(f"| {label} | {fmt_num(lim.get(key, {}).get('median'))} |")
    tls_limit = lim.get("tls-stream", {}).get("median")
    if "ferryd" in servers and tls_limit:
        f = figs["ferryd"]
        parts = []
        for key, label in (("download_p", "PROT P download"), ("upload_p", "PROT P upload"),
                           ("client_ferry", "ferry's download from ferryd")):
            if f.get(key):
                parts.append(f"{label} {f[key] / tls_limit:.0%}")
        if parts:
            lines.append("")
            lines.append("ferryd against the raw TLS stream: " + ", ".join(parts) + ".")
    notes = list(skipped_notes and [f"[{i + 1}] {t}" for i, t in enumerate(skipped_notes)] or [])
    notes += meta.get("notes", [])
    tls_seen = {}
    for name in servers:
        for key in ("download_p", "upload_p"):
            for r in results["servers"].get(name, {}).get(key, {}).get("runs", []):
                for t in r.get("tls", []):
                    tls_seen.setdefault(t, set()).add(f"{DISPLAY[name]} {key.replace('_p', '')}")
    for t, who in sorted(tls_seen.items()):
        notes.append(f"curl negotiated {t} for: {', '.join(sorted(who))}.")
    errors = []
    for name in servers:
        for e in results["servers"].get(name, {}).get("errors", []):
            errors.append(f"{DISPLAY[name]}: {e}")
    if notes:
        lines.append("")
        lines.append("## Notes")
        lines.append("")
        lines.extend(f"- {n}" for n in notes)
    if errors:
        lines.append("")
        lines.append(f"## Errors ({MISSING} = figure missing)")
        lines.append("")
        lines.extend(f"- {e}" for e in errors)
    return "\n".join(lines) + "\n"


def check_table(md: str, servers: list[str], idle_counts: list[int]) -> list[str]:
    """What makes the table incomplete: a missing server row, a missing figure, a skipped
    ferryd step (a peer may be skipped at a step it cannot hold: the table says so)."""
    problems = []
    tables = [t for t in re.split(r"\n## ", md) if "| server |" in t]
    if len(tables) != 4:
        return [f"expected 4 tables with server rows, found {len(tables)}"]
    for t in tables:
        rows = {}
        for line in t.splitlines():
            if line.startswith("| ") and not line.startswith("| server") :
                cells = [c.strip() for c in line.strip().strip("|").split("|")]
                rows[cells[0]] = cells[1:]
        for name in servers:
            cells = rows.get(DISPLAY[name])
            if cells is None:
                problems.append(f"no row for {DISPLAY[name]}")
                continue
            if any(c == MISSING or not c for c in cells):
                problems.append(f"{DISPLAY[name]}: a figure is missing: {cells}")
            if any(c.startswith("failed") for c in cells):
                problems.append(f"{DISPLAY[name]}: an idle-session step failed: {cells}")
            if name == "ferryd" and any(c.startswith("skipped") for c in cells):
                problems.append(f"ferryd: an idle-session step was skipped: {cells}")
    return problems


# ------------------------------------------------------------------------------------------
# Main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=parse_size, default=None, help="big file size (default 1G)")
    ap.add_argument("--runs", type=int, default=None, help="runs per figure (default 3)")
    ap.add_argument("--servers", default=",".join(ALL_SERVERS))
    ap.add_argument("--tiny", action="store_true",
                    help="64 MiB file, 100 files, 2 s session test, 100 idle sessions, 1 run")
    ap.add_argument("--files", type=int, default=None, help="small files (default 1000)")
    ap.add_argument("--session-seconds", type=float, default=None, help="default 20")
    ap.add_argument("--idle", default=None, help="idle session counts (default 100,1000,10000)")
    ap.add_argument("--ferryd", default=os.environ.get("FERRYD") or str(REPO / "build/ferryd"))
    ap.add_argument("--ferry", default=os.environ.get("FERRY") or str(REPO / "build/ferry"),
                    help="the ferry client measured in (g)")
    ap.add_argument("--load", default=os.environ.get("FTPS_LOAD")
                    or str(REPO / "build/bench/ftps_load"))
    ap.add_argument("--out", default=None,
                    help="results prefix (default bench/results/latest, --tiny: bench/results/tiny)"
                    "; writes PREFIX.md and PREFIX.json")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 unless the table has every server row and every figure")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--render", metavar="JSON",
                    help="only rewrite the tables from a results JSON (to JSON's .md) and print them")
    cfg = ap.parse_args()
    if cfg.render:
        results = json.loads(Path(cfg.render).read_text())
        md = render(results)
        Path(cfg.render).with_suffix(".md").write_text(md)
        print(md)
        problems = check_table(md, results["meta"]["servers"], results["meta"]["idle_counts"])
        for p in problems:
            print(f"bench: incomplete table: {p}", file=sys.stderr)
        return 1 if cfg.check and problems else 0
    tiny = cfg.tiny
    cfg.size = cfg.size or (64 << 20 if tiny else GIB)
    cfg.runs = cfg.runs or (1 if tiny else 3)
    cfg.files = cfg.files or (100 if tiny else 1000)
    # Few: a server that stalls lftp costs 40+ ms a file.
    cfg.lftp_files = min(cfg.files, 20 if tiny else 100)
    cfg.session_seconds = cfg.session_seconds or (2.0 if tiny else 20.0)
    idle_counts = sorted(int(x) for x in (cfg.idle or ("100" if tiny else "100,1000,10000"))
                         .split(","))
    out = Path(cfg.out or (HERE / "results" / ("tiny" if tiny else "latest")))
    servers = [s.strip() for s in cfg.servers.split(",") if s.strip()]
    for s in servers:
        if s not in ALL_SERVERS:
            ap.error(f"unknown server {s!r}; choose from {', '.join(ALL_SERVERS)}")

    problems = []
    if os.geteuid() != 0:
        problems.append("run as root: vsftpd, ProFTPD and Pure-FTPd chroot and switch users")
    for tool in ("curl", "openssl", "lftp"):
        if not shutil.which(tool):
            problems.append(f"{tool} is not installed")
    if "ferryd" in servers and not os.access(cfg.ferryd, os.X_OK):
        problems.append(f"ferryd not found at {cfg.ferryd}: build it (cmake --build build) or pass "
                        "--ferryd PATH")
    if not os.access(cfg.ferry, os.X_OK):
        problems.append(f"ferry not found at {cfg.ferry}: build it (cmake --build build --target "
                        "ferry) or pass --ferry PATH")
    if not os.access(cfg.load, os.X_OK):
        problems.append(f"ftps_load not found at {cfg.load}: build it (cmake --build build "
                        "--target ftps_load) or pass --load PATH")
    if any(s in peers.KINDS for s in servers):
        problems += [p for p in peers.check_installed()
                     if p.split(":")[0] in servers or not p.split(":")[0] in peers.KINDS]
    if problems:
        for p in problems:
            print(f"bench: {p}", file=sys.stderr)
        return 2

    # Every descriptor the idle-session test needs, for this process and the servers it starts
    # (they inherit it): a session may take several in a server (socket, folder, timers).
    want_fds = max(65536, max(idle_counts) * 4 + 4096)
    idle_sessions.raise_nofile(want_fds)
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)

    def on_term(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started with it ignored

    global REAPER
    REAPER = Reaper()
    started: list[Server] = []
    work = peers.make_workdir("ferry-bench-")
    results = {"meta": {}, "limits": {}, "servers": {n: {"errors": []} for n in servers}}
    cfg.load = str(Path(cfg.load).resolve())
    cfg.ferry = str(Path(cfg.ferry).resolve())
    cfg.home = work / "home"
    cfg.work = work
    status = 0
    try:
        cpu = "unknown CPU"
        try:
            for line in open("/proc/cpuinfo"):
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        except OSError:
            pass
        meta = results["meta"]
        meta.update(date=datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), cpu=cpu,
                    cores=os.cpu_count(), kernel=platform.release(),
                    openssl=run_cmd(["openssl", "version"], 10, "openssl").stdout.decode().strip(),
                    curl=curl_version().split(" (")[0], size=cfg.size, runs=cfg.runs,
                    files=cfg.files, session_seconds=cfg.session_seconds,
                    idle_counts=idle_counts, tiny=tiny, servers=servers,
                    load_average={"before": list(os.getloadavg())}, notes=[])
        log(f"load average {os.getloadavg()}; preparing {work}")
        cert, key, pem, pw_hash = make_pki(work / "pki")
        cfg.cert = cert
        # ferry pins the certificate (curl's -k checks nothing; a pin is ferry's cheapest check)
        fp = run_cmd(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"], 30,
                     "openssl x509").stdout.decode().strip().split("=", 1)[1]
        cfg.fingerprint = "SHA256:" + fp
        make_files(cfg.home, cfg.size, cfg.files)
        (work / "peers").mkdir(mode=0o755)

        # -- start every server
        by_name: dict[str, Server] = {}
        for name in servers:
            try:
                pasv = peers.free_port_range(PASV_SIZE)
                if name == "pure-ftpd":
                    # Pure-FTPd allows at most half as many sessions as it has passive ports.
                    size = 2 * (max(idle_counts) + 200)
                    pasv = ((10000, 10000 + size - 1) if size > 10000
                            else peers.free_port_range(size))
                if name == "ferryd":
                    peers.chown_to_session_user(cfg.home)  # RUNAS that user, as the peers do
                    srv = FerrydServer(Path(cfg.ferryd).resolve(), work, pem, cfg.home, pw_hash,
                                       pasv)
                    started.append(srv)
                    srv.start()
                else:
                    p = peers.start(name, cert, key, cfg.home, USER, PASSWORD, 0,
                                    *pasv, work / "peers",
                                    verbose=False, max_sessions=max(idle_counts) + 200,
                                    extra=PEER_EXTRA.get(name, ()),
                                    pyftpdlib_curl_compat=(name == "pyftpdlib"),
                                    pyftpdlib_password_hash=pw_hash)
                    srv = PeerServer(p)
                    started.append(srv)
                by_name[name] = srv
                REAPER.protected.add(srv.sid)
                results["servers"][name]["passive_ports"] = list(pasv)
                log(f"{name} listening on {HOST}:{srv.port} (pid {srv.sid}), passive ports "
                    f"{pasv[0]}-{pasv[1]}")
            except (BenchError, peers.PeerError) as exc:
                results["servers"][name]["errors"].append(f"did not start: {exc}")
                log(f"{name} did not start: {exc}")
        meta["notes"] += [
            "All servers: explicit TLS (AUTH TLS) required before USER/PASS, PROT P and PROT C "
            "allowed, EPSV with a passive range of 100 ports, one EC P-256 certificate, one home "
            f"folder, a {IDLE_LIMIT} s idle limit; TLS 1.2 and 1.3 offered, the client picks 1.3. "
            "Pure-FTPd gets a passive range twice the largest idle-session count (it refuses "
            "sessions beyond half its range).",
            "Pure-FTPd sends no TLS 1.3 session tickets, so its PROT P data connections cannot "
            "resume the control session over TLS 1.3 (they do over TLS 1.2); the others resume.",
            "Uploads to vsftpd use TLS 1.2 (curl --tls-max 1.2): vsftpd 3.0.3 loses the end of "
            "curl's TLS 1.3 uploads (see tests/peers/peers.py).",
            "Every server checks the same SHA-512-crypt hash (pyftpdlib through a crypt() "
            "authorizer). pyftpdlib runs with the curl-compatibility patch of "
            "tests/peers/peers.py; ProFTPD with DelayEngine off.",
            "Server CPU: utime+stime+cutime+cstime over the server's process tree from /proc, "
            "before and after each measurement, plus the CPU of session processes orphaned by "
            "their parent (bench.py is their subreaper and reaps them with wait4).",
            f"Descriptor limit (RLIMIT_NOFILE) of the servers and the clients: {nofile[0]:,}"
            + ("" if nofile[0] >= want_fds else
               f" (the benchmark asked for {want_fds:,}; this machine does not let even root raise "
               "the hard limit: no CAP_SYS_RESOURCE)") + ".",
            "Idle sessions: ftps-style logins by bench/idle_sessions.py (AUTH TLS, USER/PASS, PBSZ "
            "0, PROT P, TLS 1.3), PSS summed over all the server's processes, minus the idle "
            "server's.",
        ]

        def measure(name, label, fn):
            srv = by_name.get(name)
            if srv is None:
                return None
            if not srv.alive:
                msg = f"{label}: the server is not running any more:\n{srv.log_tail()}"
                if msg not in results["servers"][name]["errors"]:
                    results["servers"][name]["errors"].append(msg)
                return None
            try:
                return fn(srv)
            except (BenchError, OSError, ValueError, KeyError, IndexError) as exc:
                results["servers"][name]["errors"].append(f"{label}: {exc}")
                log(f"{name} {label} FAILED: {exc}")
                return None

        # -- (e) the machine's limits
        speed_seconds = 1 if tiny else 3
        stream_bytes = cfg.size
        lim = results["limits"]
        for r in range(cfg.runs):
            for cipher in ("aes-256-gcm", "aes-128-gcm"):
                lim.setdefault(cipher, {"runs": []})["runs"].append(
                    openssl_speed(cipher, speed_seconds))
            for mode in ("tls-stream", "tcp-stream"):
                res = json.loads(run_cmd([cfg.load, mode, "--bytes", stream_bytes],
                                         stream_bytes / 20e6 + 60, f"ftps_load {mode}")
                                 .stdout.decode().strip().splitlines()[-1])
                lim.setdefault(mode, {"runs": []})["runs"].append(res["mb_per_s"])
        for v in lim.values():
            v["median"] = statistics.median(v["runs"])
        log("limits: " + ", ".join(f"{k} {v['median']:.0f} MB/s" for k, v in lim.items()))

        # -- (a) + (f) big file transfers, interleaved across servers run by run
        for r in range(cfg.runs):
            for name in servers:
                for key, mode in (("download_p", "down-p"), ("upload_p", "up-p"),
                                  ("download_c", "down-c")):
                    res = measure(name, f"curl {mode} run {r + 1}",
                                  lambda srv: curl_transfer(srv, mode, cfg, r))
                    if res:
                        results["servers"][name].setdefault(key, {"runs": []})["runs"].append(res)
                        log(f"{name} {mode} run {r + 1}: {res['mb_per_s']:.0f} MB/s, "
                            f"{res['cpu_s_per_gib']:.2f} CPU s/GiB")
        # -- (b) small files
        for r in range(cfg.runs):
            for name in servers:
                res = measure(name, f"files run {r + 1}", lambda srv: files_test(srv, cfg))
                if res:
                    results["servers"][name].setdefault("files", {"runs": []})["runs"].append(res)
                    log(f"{name} files run {r + 1}: {res['per_second']:.0f} files/s, "
                        f"{res['resumed']}/{res['files']} resumed")
        # -- (h) lftp, small files
        for r in range(cfg.runs):
            for name in servers:
                res = measure(name, f"lftp files run {r + 1}",
                              lambda srv: lftp_files_test(srv, cfg))
                if res:
                    results["servers"][name].setdefault(
                        "lftp_files", {"runs": []})["runs"].append(res)
                    log(f"{name} lftp files run {r + 1}: {res['ms_per_file']:.1f} ms/file")
        # -- (c) + (f) sessions
        for r in range(cfg.runs):
            for name in servers:
                res = measure(name, f"sessions run {r + 1}", lambda srv: sessions_test(srv, cfg))
                if res:
                    results["servers"][name].setdefault(
                        "sessions", {"runs": []})["runs"].append(res)
                    log(f"{name} sessions run {r + 1}: {res['per_second']:.0f}/s, "
                        f"{res['cpu_ms_per_session']:.2f} CPU ms/session")
        # -- (g) the clients against each server; which goes first alternates run by run, as
        # the second of two transfers from the same server tends to be the faster one
        for r in range(cfg.runs):
            for name in servers:
                for client in (CLIENTS if r % 2 == 0 else CLIENTS[::-1]):
                    res = measure(name, f"{client} download run {r + 1}",
                                  lambda srv: client_download(srv, client, cfg))
                    if res:
                        results["servers"][name].setdefault(
                            f"client_{client}", {"runs": []})["runs"].append(res)
                        log(f"{name} {client} download run {r + 1}: {res['mb_per_s']:.0f} MB/s, "
                            f"client {res['client_cpu_s_per_gib']:.2f} CPU s/GiB")
        # -- (d) idle sessions; each server is stopped after its turn (frees its processes)
        meta["load_average"]["before_idle"] = list(os.getloadavg())
        for name in servers:
            srv = by_name.get(name)
            base_procs = len(srv.pids()) if srv else 0

            def idle(srv):
                log(f"{name}: idle sessions {idle_counts}")
                return idle_sessions.measure(
                    srv.pids, HOST, srv.port, USER, PASSWORD, idle_counts,
                    timeout=120 + max(idle_counts) * 0.15, parallel=4, idle_timeout=IDLE_LIMIT,
                    log=log)
            steps = measure(name, "idle sessions", idle)
            if steps is not None:
                results["servers"][name]["idle"] = steps
                for st in steps:
                    if "skipped" in st and (name == "ferryd" or not st["skipped"].startswith(
                            "not attempted")):
                        results["servers"][name]["errors"].append(
                            f"idle sessions at {st['sessions']}: {st['skipped']}")
            if srv is not None:
                # The sessions are closed: wait (bounded) for the session processes to go.
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and srv.alive and len(srv.pids()) > base_procs:
                    REAPER.reap()
                    time.sleep(0.1)
                REAPER.reap()
                if not srv.alive:
                    results["servers"][name]["errors"].append(
                        f"the server died during the run:\n{srv.log_tail()}")
                srv.stop()
                REAPER.reap()
    except KeyboardInterrupt:
        log("interrupted: stopping every server")
        status = 130
    except Exception as exc:  # noqa: BLE001 - report, clean up, fail
        log(f"benchmark failed: {exc}\n{traceback.format_exc()}")
        status = 1
    finally:
        for srv in started:
            try:
                srv.stop()
            except Exception as exc:  # noqa: BLE001 - keep stopping the others
                log(f"stopping {srv.name}: {exc}")
        if REAPER is not None:
            REAPER.protected.clear()
            REAPER.reap()
        if not cfg.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"kept {work}")
    if status == 130:
        return status
    results["meta"].setdefault("load_average", {})["after"] = list(os.getloadavg())
    if "servers" not in results["meta"]:
        return status or 1
    md = render(results)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(f"{out}.md").write_text(md)
    Path(f"{out}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    print(md)
    log(f"wrote {out}.md and {out}.json")
    problems = check_table(md, servers, idle_counts)
    if cfg.check and problems:
        for p in problems:
            print(f"bench: incomplete table: {p}", file=sys.stderr)
        return 1
    return status or (1 if problems else 0)


if __name__ == "__main__":
    sys.exit(main())

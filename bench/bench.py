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
      one TLS 1.3 AES-256-GCM stream and one TCP stream over loopback (ftps_load), and the TLS
      stream with its receiver writing to the disk and to the uploads' tmpfs;
  (f) server CPU per GiB moved and per session: utime+stime (+ cutime+cstime, which holds
      the CPU of session processes that have exited) of the server's processes from /proc,
      before and after each measurement;
  (g) the clients: `ferry get` against curl and lftp, a PROT P download of the big file from every
      server to /dev/null, each timed from its process's start to its end, median of
      --client-runs (6: one download swings by a third from run to run). From (a) also
      curl's time to the first byte (time_pretransfer: connect, TLS, login, EPSV, the data
      connection and its TLS handshake, RETR);
  (h) lftp (GnuTLS) fetching small files in one session, one PROT P data connection each:
      ms per file (a session with 20 or 100 files against one with a single file);
  (i) many busy sessions (issue 17, ftps_load busy): 200 and 1,000 sessions logged in first,
      then for --busy-seconds each loops RETR/STOR of a 4 KiB and a 1 MiB file (PROT P):
      aggregate MB/s, files/s, p50/p99 ms per file, sessions held, server CPU per GiB during
      the window; and 50 sessions downloading the big file at once: per-session MB/s and
      their max/min (fairness). A step the machine cannot take is skipped and says why; every
      step waits (bounded) for the machine to be quiet first.

--steps runs some of the measurements only (default all).

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
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
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
# The measurements, in the order they run (--steps picks some): (e) limits, (a) transfers,
# (b) files, (h) lftp, (c) sessions, (g) clients, (i) busy, (d) idle (stops every server).
STEPS = ("limits", "transfers", "files", "lftp", "sessions", "clients", "busy", "idle")
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


TMPFS_DIR = "tmpfs"  # a tmpfs mounted in the home: uploads without a disk behind them


def curl_transfer(srv: Server, mode: str, cfg, run: int) -> dict:
    """One curl transfer of the big file: mode down-p, up-p, up-p-tmpfs or down-c."""
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
        if mode == "up-p-tmpfs":
            up_name = f"{TMPFS_DIR}/{up_name}"
        argv += ["--ssl-reqd", "-T", str(cfg.home / "big.bin"), url + up_name]
        # Every upload starts with no dirty pages waiting for the disk: otherwise the write-back
        # of what earlier steps wrote throttles whichever server comes next.
        os.sync()
        if srv.name == "vsftpd":
            # vsftpd 3.0.3 loses the end of curl's uploads over TLS 1.3 (tests/peers/peers.py).
            argv[1:1] = ["--tls-max", "1.2"]
    begin = cpu_begin(srv)
    try:
        r = run_cmd(argv, cfg.size / 5e6 + 180, f"curl {mode}")
        cpu = cpu_end(srv, begin)
        last = r.stdout.decode().strip().splitlines()[-1].split()
        down, up, pre, total = int(last[0]), int(last[1]), float(last[2]), float(last[3])
        moved = up if up_name else down
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


CLIENTS = ("ferry", "curl", "lftp")


def client_download(srv: Server, client: str, cfg) -> dict:
    """(g) One PROT P download of the big file by `client` (ferry, curl or lftp) to /dev/null,
    timed from the start of the client's process to its end: all pay process start, connect, TLS
    and login (well under 1% of a 1 GiB transfer), none pays a file system. The byte count each
    client reports (ferry -v, curl -w, lftp's cmd:verbose) must be the file's size."""
    env = None
    if client == "ferry":
        argv = [cfg.ferry, "-v", "--fingerprint", cfg.fingerprint, "--no-progress", "--no-netrc", "get",
                f"ftp://{USER}:{PASSWORD}@{HOST}:{srv.port}/big.bin", "-"]
    elif client == "curl":
        argv = ["curl", "-sS", "-k", "--ssl-reqd", "--ftp-pasv", "--user", f"{USER}:{PASSWORD}",
                "-o", "/dev/null", "-w", "%{size_download} bytes in\n",
                f"ftp://{HOST}:{srv.port}/big.bin"]
    else:
        argv, env = lftp_command(srv, cfg, ["set cmd:verbose yes", "set xfer:clobber yes"],
                                 ["get big.bin -o /dev/null"])
    begin = cpu_begin(srv)
    t0 = time.monotonic()
    r = run_cmd(argv, cfg.size / 5e6 + 180, f"{client} download", env=env,
                stdout=subprocess.DEVNULL if client == "ferry" else subprocess.PIPE)
    wall = time.monotonic() - t0
    cpu = cpu_end(srv, begin)
    said = (r.stderr if client == "ferry" else r.stdout).decode(errors="replace")
    got = re.findall(r"(\d+) bytes (?:in|transferred)", said)
    if not got or int(got[-1]) != cfg.size:
        raise BenchError(f"{client} download: moved {got[-1] if got else 'no'} bytes, expected "
                         f"{cfg.size}")
    return {"mb_per_s": cfg.size / 1e6 / wall, "seconds": wall, "client_cpu_s": r.client_cpu,
            "client_cpu_s_per_gib": r.client_cpu / (cfg.size / GIB), "server_busy": cpu / wall,
            "client_busy": r.client_cpu / wall}


def lftp_command(srv: Server, cfg, settings: list[str], commands: list[str]) -> tuple[list, dict]:
    """argv and environment of one lftp session (PROT P, EPSV, the benchmark's own HOME) that
    applies `settings`, logs in to srv and runs `commands`."""
    (cfg.work / "lftp-home").mkdir(exist_ok=True)
    script = "; ".join([
        "set cmd:fail-exit yes", "set net:max-retries 1", "set net:timeout 20",
        "set ftp:ssl-force true", "set ftp:ssl-protect-data true", "set ftp:prefer-epsv yes",
        # lftp reads its CA file again for every data connection: the server's certificate
        # alone, not the system bundle (5 ms of lftp's CPU a file)
        f"set ssl:ca-file {cfg.cert}", "set ssl:verify-certificate no", *settings,
        f"open -u {USER},{PASSWORD} -p {srv.port} ftp://{HOST}", *commands])
    return ["lftp", "--norc", "-c", script], dict(os.environ, HOME=str(cfg.work / "lftp-home"))


def lftp_session(srv: Server, cfg, names: list[str]) -> float:
    """One lftp session fetching `names` from /small, one PROT P data connection per file;
    returns its wall time. Every file must arrive whole."""
    out = cfg.work / "lftp-out"
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    argv, env = lftp_command(srv, cfg, [], ["cd /small", f"mget -O {out} {' '.join(names)}"])
    t0 = time.monotonic()
    run_cmd(argv, 60 + len(names), "lftp mget", env=env)
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


# ------------------------------------------------------------------------------------------
# (i) Many busy sessions (issue 17)

BUSY_SMALL = 4 << 10   # the small file of the busy step
BUSY_MEDIUM = 1 << 20  # and the medium one
BUSY_DIR = "busy"      # under home: small, medium (downloads) and the uploads busy-<s>-<k>-*
# Per busy session, for the checks before a step: server memory (ProFTPD's ~1.7 MiB PSS, the
# largest) and client memory (a thread with its buffers), tasks (vsftpd: three processes, and
# the client's thread), descriptors (a single-process server: control, data, listener).
BUSY_KIB_PER_SESSION = 4 * 1024
BUSY_RESERVE_KIB = 2 * 1024 * 1024
BUSY_TASKS_PER_SESSION = 4
BUSY_FDS_PER_SESSION = 3
# Uploads can go no faster than the TLS stream over loopback (~1.1 GB/s here); an upper bound
# of what a window can write to the disk, which must stay free above a reserve.
BUSY_UPLOAD_BOUND = 1.5e9
BUSY_DISK_RESERVE = 2 * GIB


def busy_tls_args(srv: Server) -> list:
    """ProFTPD 1.3.8 over TLS 1.3 hands out two single-use tickets at login and none on upload
    data connections, and refuses a data connection that does not resume with a fresh one: a
    session mixing RETR and STOR is refused its fifth file. Its busy sessions use TLS 1.2
    (session IDs, reusable); every other server's use TLS 1.3."""
    return ["--tls12"] if srv.name == "proftpd" else []


def clean_busy_uploads(cfg) -> None:
    for f in (cfg.home / BUSY_DIR).glob("busy-*"):
        try:
            f.unlink()
        except FileNotFoundError:
            pass


def busy_precheck(cfg, sessions: int, uploads: bool) -> str | None:
    """Why the machine cannot take a busy step of `sessions` now (None: it can)."""
    need = sessions * BUSY_KIB_PER_SESSION
    avail = idle_sessions.mem_available_kib() - BUSY_RESERVE_KIB
    if need > avail:
        return (f"not attempted: ~{need / 1048576:.1f} GiB needed for {sessions:,} sessions, "
                f"{max(avail, 0) / 1048576:.1f} GiB available above a "
                f"{BUSY_RESERVE_KIB / 1048576:.0f} GiB reserve")
    tasks = idle_sessions.tasks_now() + sessions * BUSY_TASKS_PER_SESSION
    if tasks > idle_sessions.tasks_max() - 4096:
        return (f"not attempted: ~{tasks:,} tasks with {sessions:,} sessions; the kernel allows "
                f"{idle_sessions.tasks_max():,} and 4,096 are kept for the rest of the machine")
    nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if nofile < sessions * BUSY_FDS_PER_SESSION + 256:
        return (f"not attempted: {sessions:,} sessions need ~{sessions * BUSY_FDS_PER_SESSION + 256:,} "
                f"descriptors, RLIMIT_NOFILE is {nofile:,}")
    if uploads:
        free = shutil.disk_usage(cfg.home).free
        want = cfg.busy_seconds * BUSY_UPLOAD_BOUND + BUSY_DISK_RESERVE
        if free < want:
            return (f"not attempted: {free / GIB:.1f} GiB free under {cfg.home}, the uploads of "
                    f"{cfg.busy_seconds:g} s may need up to {want / GIB:.1f} GiB with the reserve")
    return None


def server_cpu_now(srv: Server) -> float:
    """CPU seconds of the server's processes now, live sampling: its tree and the session
    processes orphaned to this process (vsftpd's), zombies included."""
    procs = _all_procs()
    me = os.getpid()
    roots = [srv.sid] + [pid for pid, (ppid, _, _) in procs.items()
                         if ppid == me and pid not in REAPER.protected]
    seen: dict[int, tuple[bytes, int]] = {}
    for root in roots:
        seen.update(tree_procs(root, procs))
    return sum(t for _, t in seen.values()) / CLK_TCK


def run_busy_client(srv: Server, cfg, args: list, timeout: float) -> dict:
    """Runs `ftps_load busy ARGS` against srv; samples the server's CPU when the client says
    its window starts and ends (stderr), so that the figure leaves out the ramp-up (logins)
    and the end (QUIT, session processes exiting). Killed after timeout seconds."""
    argv = [str(a) for a in [cfg.load, "busy", *args, *busy_tls_args(srv), "--host", HOST,
                             "--port", srv.port, "--user", USER, "--password", PASSWORD]]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    marks: dict[str, tuple[float, float]] = {}
    other: list[str] = []
    out: list[bytes] = []
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE)
    except OSError as exc:
        raise BenchError(f"ftps_load busy: cannot run {argv[0]}: {exc}") from None
    REAPER.protected.add(proc.pid)  # waited for here, never by the Reaper
    try:
        reader = threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)
        reader.start()
        deadline = t0 + timeout
        sel = selectors.DefaultSelector()
        sel.register(proc.stderr, selectors.EVENT_READ)
        pending = b""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BenchError(f"ftps_load busy: no result within {timeout:.0f} s (killed)")
            if not sel.select(min(left, 1.0)):
                continue
            data = os.read(proc.stderr.fileno(), 65536)
            if not data:
                break
            pending += data
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                text = line.decode(errors="replace")
                if "window start" in text:
                    marks["start"] = (time.monotonic(), server_cpu_now(srv))
                elif "window end" in text:
                    marks["end"] = (time.monotonic(), server_cpu_now(srv))
                else:
                    other.append(text)
        sel.close()
        rc = proc.wait(timeout=max(deadline - time.monotonic(), 1.0))
        reader.join(timeout=10)
    except subprocess.TimeoutExpired:
        raise BenchError(f"ftps_load busy: no result within {timeout:.0f} s (killed)") from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        REAPER.protected.discard(proc.pid)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic() - t0
    text = b"".join(out).decode(errors="replace").strip()
    if rc or not text:
        raise BenchError(f"ftps_load busy: exit status {rc}: {' '.join(other)[-2000:]}")
    res = json.loads(text.splitlines()[-1])
    res["client_cpu_s"] = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    res["wall_seconds"] = wall
    if "start" in marks and "end" in marks:
        res["cpu_window_s"] = marks["end"][1] - marks["start"][1]
    return res


def cpu_times() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)  # idle + iowait
    total = sum(f[:8])  # guest time is already in user
    return total - idle, total


QUIET_BUSY = 0.10      # the machine is quiet when under a tenth of its CPUs was busy ...
QUIET_WINDOW = 2.0     # ... over this many seconds
QUIET_LIMIT = 120.0    # waited for at most this long (--quiet-wait)


def wait_quiet(limit: float) -> dict:
    """Waits (bounded) until the whole machine has been quiet over a window: what an earlier
    step left running (thousands of session processes closing, their sockets' teardown, page
    write-back) otherwise lands on whichever server goes next. Returns how long it waited and the
    busy share of the last window."""
    t0 = time.monotonic()
    while True:
        b0, t0_j = cpu_times()
        time.sleep(QUIET_WINDOW)
        b1, t1_j = cpu_times()
        busy = (b1 - b0) / max(t1_j - t0_j, 1)
        waited = time.monotonic() - t0
        if busy < QUIET_BUSY or waited >= limit:
            return {"waited_s": waited, "machine_busy": busy, "quiet": busy < QUIET_BUSY}


def busy_test(srv: Server, cfg, sessions: int, big: bool) -> dict:
    """(i) `sessions` busy sessions against srv for cfg.busy_seconds: small and medium files
    both ways, or (big) the big file downloaded again and again. Returns ftps_load's figures
    with the headline ones flattened, or {"sessions": n, "skipped": why}."""
    why = busy_precheck(cfg, sessions, not big)
    if why:
        return {"sessions": sessions, "skipped": why}
    clean_busy_uploads(cfg)
    quiet = None
    if cfg.quiet_wait > 0:
        quiet = wait_quiet(cfg.quiet_wait)
        log(f"{srv.name}: the machine {'was quiet' if quiet['quiet'] else 'was still busy'} "
            f"({quiet['machine_busy']:.0%} of its CPUs) after {quiet['waited_s']:.0f} s")
    if big:
        args = ["--big", "/big.bin", "--big-size", cfg.size]
    else:
        args = ["--dir", f"/{BUSY_DIR}", "--small-size", BUSY_SMALL, "--medium-size", BUSY_MEDIUM]
    ramp = 60 + 0.2 * sessions
    args += ["--sessions", sessions, "--seconds", cfg.busy_seconds, "--ramp-timeout", ramp,
             "--timeout", 30]
    begin = cpu_begin(srv)
    try:
        res = run_busy_client(srv, cfg, args, ramp + cfg.busy_seconds + 60)
        # The sessions end after the window: wait (bounded) for their processes to go.
        res["cpu_s"] = cpu_end(srv, begin, timeout=60 + sessions * 0.05)
    finally:
        clean_busy_uploads(cfg)
    if res["logged_in"] == 0:
        raise BenchError(f"ftps_load busy: no session logged in: {res.get('first_error')}")
    gib = res["bytes"] / GIB
    cpu = res.get("cpu_window_s")
    res["cpu_s_per_gib"] = cpu / gib if cpu is not None and gib > 0 else None
    res["server_busy"] = cpu / res["seconds"] if cpu is not None else None
    res["client_busy"] = res["client_cpu_s"] / res["wall_seconds"]
    if quiet is not None:
        res["before"] = quiet
    per = res["per_session_mb_per_s"]
    res["min_mb_per_s"], res["max_mb_per_s"], res["fairness"] = per["min"], per["max"], per["ratio"]
    if not big:
        for size in ("small", "medium"):
            for q in ("p50_ms", "p99_ms"):
                res[f"{size}_{q}"] = res["by_kind"][size][q]
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
    busy = home / BUSY_DIR
    busy.mkdir(mode=0o755)
    (busy / "small").write_bytes(os.urandom(BUSY_SMALL))
    (busy / "medium").write_bytes(os.urandom(BUSY_MEDIUM))


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
    ("upload_p_tmpfs", "PROT P upload to tmpfs MB/s", True, 1),
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
    for key in ("download_p", "upload_p", "upload_p_tmpfs", "download_c"):
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


BUSY_FILES_COLS = [
    # figure, header (the sizes filled in), higher is better (None: no ratio)
    ("mb_per_s", "MB/s", True),
    ("files_per_s", "files/s", True),
    ("small_p50_ms", "{small} p50 ms", False),
    ("small_p99_ms", "{small} p99 ms", False),
    ("medium_p50_ms", "{medium} p50 ms", False),
    ("medium_p99_ms", "{medium} p99 ms", False),
    ("cpu_s_per_gib", "server CPU s/GiB", False),
]
BUSY_BIG_COLS = [
    ("mb_per_s", "MB/s", True),
    ("min_mb_per_s", "per-session MB/s min", True),
    ("max_mb_per_s", "per-session MB/s max", None),
    ("fairness", "max/min", False),
    ("cpu_s_per_gib", "server CPU s/GiB", False),
]
BUSY_FAIRNESS_GOAL = 1.5  # issue 17: max/min per-session throughput at most this


def tls_version(described: str | None) -> str | None:
    """'TLSv1.3 TLS_AES_256_GCM_SHA384' -> '1.3'."""
    m = re.match(r"TLSv(\d\.\d)", described or "")
    return m.group(1) if m else None


def plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def busy_entry(results: dict, name: str, key: str) -> dict:
    """One server's busy step `key` ("200", "big"): medians of its figures over the runs, held
    (the fewest over the runs), errors (all runs), first_error; or skipped / failed."""
    e = results["servers"].get(name, {}).get("busy", {}).get(key)
    if not e:
        return {}
    runs = e.get("runs", [])
    out = {"sessions": e.get("sessions")}
    if not runs:
        if "skipped" in e:
            out["skipped"] = e["skipped"]
        elif "failed" in e:
            out["failed"] = e["failed"]
        return out
    for fig, _, _ in BUSY_FILES_COLS + BUSY_BIG_COLS:
        vals = [r[fig] for r in runs if r.get(fig) is not None]
        out[fig] = statistics.median(vals) if vals else None
    out["held"] = min(r["held"] for r in runs)
    out["errors"] = sum(r["errors"] for r in runs)
    out["first_error"] = next((r["first_error"] for r in runs if r.get("first_error")), None)
    out["tls"] = runs[-1].get("control_tls")
    out["not_quiet"] = [r["before"] for r in runs if not r.get("before", {}).get("quiet", True)]
    return out


def render_busy(results: dict, notes: list[str]) -> list[str]:
    """The "Many busy sessions" section; appends its numbered notes to `notes` (shared with
    the idle-session table's)."""
    meta = results["meta"]
    servers = meta["servers"]
    counts = meta.get("busy_counts", [])
    keys = [str(n) for n in counts] + (["big"] if meta.get("busy_big") else [])
    if not keys:
        return []
    small, medium = fmt_size(meta["busy_small"]), fmt_size(meta["busy_medium"])
    peer_names = [n for n in servers if n != "ferryd"]
    lines = ["## Many busy sessions", ""]
    runs = meta.get("busy_runs", 1)
    lines.append(
        f"Every session logs in first (AUTH TLS, PBSZ 0, PROT P; not timed), then for "
        f"{meta['busy_seconds']:g} s loops RETR {small}, STOR {small}, RETR {medium}, STOR "
        f"{medium} (its own upload names; session i starts at step i mod 4), one PROT P data "
        "connection per file offering the session's TLS session (`ftps_load busy`). MB/s: every "
        "byte moved within the window, both directions; time per file: from EPSV to the 226; "
        "server CPU: its CPU time during the window per GiB moved. Held: sessions that logged in "
        "and ran the whole window without an error. TLS: the version of the sessions' control and "
        "data connections (ProFTPD's are TLS 1.2: over TLS 1.3 it refuses a session's fifth file "
        "when RETR and STOR mix, as it hands out two single-use tickets at login, none on uploads, "
        "and requires a fresh one). Ratios are to the best peer at the same session count among "
        "those that held every session over ferryd's TLS version (TLS 1.2 resumption skips the "
        "key exchange that TLS 1.3 resumption repeats)"
        + (f"; medians of {runs} runs" if runs > 1 else "") + "."
        + (f" Every step starts once the machine is quiet: under {QUIET_BUSY:.0%} of its CPUs busy "
           f"over {QUIET_WINDOW:g} s (waited for at most {meta['quiet_wait']:g} s), so no server "
           "pays for what the step before it left running." if meta.get("quiet_wait") else ""))
    lines.append("")

    def table(cols, keys_here, fmt_head):
        head = [f"{h.format(small=small, medium=medium)} {'' if hi is None else '↑' if hi else '↓'}"
                .strip() for _, h, hi in cols]
        lines.append("| server | sessions | held | TLS | " + " | ".join(head) + " |")
        lines.append("|---" * (len(cols) + 4) + "|")
        for key in keys_here:
            ents = {name: busy_entry(results, name, key) for name in servers}
            ferryd_tls = tls_version(ents.get("ferryd", {}).get("tls"))
            ok_peers = [p for p in peer_names
                        if ents[p].get("held") is not None and ents[p]["held"] == ents[p]["sessions"]
                        and (ferryd_tls is None or tls_version(ents[p].get("tls")) == ferryd_tls)]
            for name in servers:
                e = ents[name]
                n = e.get("sessions") or (meta["busy_big"] if key == "big" else int(key))
                if "skipped" in e or "failed" in e or not e:
                    why = e.get("skipped") or e.get("failed") or "not measured"
                    notes.append(f"{DISPLAY[name]} at {n:,} busy sessions"
                                 f"{' (the big file)' if key == 'big' else ''}: {why}")
                    word = "skipped" if why.startswith("not attempted") else "failed"
                    lines.append(f"| {DISPLAY[name]} | {n:,} | {word} [{len(notes)}] | {MISSING} | "
                                 + " | ".join(MISSING for _ in cols) + " |")
                    continue
                held = f"{e['held']:,}/{n:,}"
                busy_marks = ""  # on the first figure: the held cell's notes are errors
                for q in e.get("not_quiet", []):
                    notes.append(f"{DISPLAY[name]} at {n:,} busy sessions"
                                 f"{' (the big file)' if key == 'big' else ''}: started on a "
                                 f"machine still {q['machine_busy']:.0%} busy after "
                                 f"{q['waited_s']:.0f} s of waiting")
                    busy_marks += f" [{len(notes)}]"
                if e["errors"]:
                    notes.append(f"{DISPLAY[name]} at {n:,} busy sessions"
                                 f"{' (the big file)' if key == 'big' else ''}: {e['errors']:,} "
                                 f"error(s); the first: {e['first_error']}")
                    held += f" [{len(notes)}]"
                row = []
                for fig, _, hi in cols:
                    v = e.get(fig)
                    if v is None:
                        row.append(MISSING)
                        continue
                    vals = [ents[p][fig] for p in ok_peers if ents[p].get(fig) is not None]
                    b = (max(vals) if hi else min(vals)) if vals and hi is not None else None
                    row.append(f"{fmt_num(v)} ({v / b:.2f}×)" if b else fmt_num(v))
                row[0] += busy_marks
                lines.append(f"| {DISPLAY[name]} | {n:,} | {held} | {tls_version(e.get('tls')) or MISSING} | "
                             + " | ".join(row) + " |")
        lines.append("")

    file_keys = [k for k in keys if k != "big"]
    if file_keys:
        table(BUSY_FILES_COLS, file_keys, None)
    if "big" in keys:
        lines.append(
            f"Fairness: {meta['busy_big']:,} sessions each download the big file "
            f"({fmt_size(meta['size'])}) again and again for {meta['busy_seconds']:g} s, all "
            "starting together; per session, the bytes it received within the window / the "
            f"window. Issue 17's goal: max/min ≤ {BUSY_FAIRNESS_GOAL}.")
        lines.append("")
        table(BUSY_BIG_COLS, ["big"], None)
    tls = sorted({t for n in servers for k in keys
                  for t in [busy_entry(results, n, k).get("tls")] if t})
    if tls:
        lines.append("Control and data TLS of the busy sessions: " + "; ".join(tls) + ".")
        lines.append("")
    return lines[:-1]


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
                 f"run(s){' (tiny configuration)' if meta['tiny'] else ''}"
                 + (f"; busy sessions: {', '.join(f'{n:,}' for n in meta['busy_counts'])} for "
                    f"{meta['busy_seconds']:g} s" if meta.get("busy_counts") else "")
                 + (f", {meta['busy_big']:,} downloading the big file" if meta.get("busy_big")
                    else "")
                 + (f". Steps run: {', '.join(meta['steps'])}"
                    if meta.get("steps") and list(meta["steps"]) != list(STEPS) else "")
                 + f". Load average "
                 f"(1/5/15 min) at the start: {' '.join(f'{x:.2f}' for x in load['before'])}, "
                 + (f"before the busy-session step: "
                    f"{' '.join(f'{x:.2f}' for x in load['before_busy'])}, "
                    if load.get("before_busy") and meta.get("busy_counts") else "")
                 + f"before the idle-session test: "
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
    lines.append("## The clients: ferry against curl and lftp")
    lines.append("")
    lines.append("PROT P download of the big file from each server to /dev/null, "
                 "MB/s from the client process's start to its end (connect, TLS and login "
                 "included), median of "
                 f"{plural(meta.get('client_runs', meta['runs']), 'run')}; ferry/curl and "
                 "ferry/lftp are ratios of those medians. Which client goes first rotates run by "
                 "run. Client CPU s/GiB: the client's own CPU time.")
    lines.append("")
    lines.append("| server | ferry MB/s ↑ | curl MB/s ↑ | lftp MB/s ↑ | ferry/curl ↑ | ferry/lftp ↑ "
                 "| ferry CPU s/GiB ↓ | curl CPU s/GiB ↓ | lftp CPU s/GiB ↓ |")
    lines.append("|---" * 9 + "|")
    for name in servers:
        f = figs[name]
        fe, cu, lf = f.get("client_ferry"), f.get("client_curl"), f.get("client_lftp")
        ratios = [f"{fe / other:.2f}×" if fe and other else MISSING for other in (cu, lf)]
        lines.append(f"| {DISPLAY[name]} | {fmt_num(fe)} | {fmt_num(cu)} | {fmt_num(lf)} | "
                     f"{' | '.join(ratios)} | "
                     + " | ".join(fmt_num(f.get(f"client_{c}_cpu")) for c in CLIENTS) + " |")
    busy_lines = render_busy(results, skipped_notes)
    if busy_lines:
        lines.append("")
        lines.extend(busy_lines)
    lines.append("")
    lines.append("## Who was busy")
    lines.append("")
    lines.append("CPU time of the server / of the client (curl, ftps_load or ferry) during each "
                 "measurement, as a share of one core (the machine has two); median over the runs. "
                 "A figure near "
                 "100% marks a single-threaded process that was the bottleneck.")
    lines.append("")
    busy_cols = (("download_p", "PROT P download"), ("upload_p", "PROT P upload"),
                 ("upload_p_tmpfs", "PROT P upload to tmpfs"),
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
             "tls-stream-to-disk": "the same stream, its receiver writing every 256 KiB it reads "
                                   "to a file on the benchmark's disk (ftps_load tls-stream --to)",
             "tls-stream-to-tmpfs": "the same, writing to a file in the uploads' tmpfs",
             "tcp-stream": "one TCP stream over loopback (ftps_load tcp-stream)"}
    for key, label in names.items():
        lines.append(f"| {label} | {fmt_num(lim.get(key, {}).get('median'))} |")
    tls_limit = lim.get("tls-stream", {}).get("median")
    if "ferryd" in servers and tls_limit:
        f = figs["ferryd"]
        parts = []
        for key, label in (("download_p", "PROT P download"), ("upload_p", "PROT P upload"),
                           ("upload_p_tmpfs", "PROT P upload to tmpfs"),
                           ("client_ferry", "ferry's download from ferryd")):
            if f.get(key):
                parts.append(f"{label} {f[key] / tls_limit:.0%}")
        disk_limit = lim.get("tls-stream-to-disk", {}).get("median")
        if f.get("upload_p") and disk_limit:
            parts.append(f"PROT P upload against the stream written to disk {f['upload_p'] / disk_limit:.0%}")
        tmpfs_limit = lim.get("tls-stream-to-tmpfs", {}).get("median")
        if f.get("upload_p_tmpfs") and tmpfs_limit:
            parts.append("PROT P upload to tmpfs against the stream written to tmpfs "
                         f"{f['upload_p_tmpfs'] / tmpfs_limit:.0%}")
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


def check_table(md: str, servers: list[str], idle_counts: list[int], steps=STEPS,
                busy_counts=(), busy_big: int = 0) -> list[str]:
    """What makes the table incomplete: a missing server row, a missing figure, a skipped
    ferryd step (a peer may be skipped at a step it cannot hold: the table says so). The four
    tables of the other steps are checked when every one of those steps ran (--steps); the busy
    tables when busy ran: a row per server and session count with every figure, and ferryd
    holding every session without an error."""
    problems = []
    chunks = re.split(r"\n## ", md)
    busy_chunk = next((c for c in chunks if c.startswith("Many busy sessions")), None)
    if all(s in steps for s in STEPS if s != "busy"):
        tables = [t for t in chunks if "| server |" in t and t is not busy_chunk]
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
    if "busy" not in steps or not (busy_counts or busy_big):
        return problems
    if busy_chunk is None:
        return problems + ["no \"Many busy sessions\" table"]
    # One table per kind: the files table (rows per session count), then the big-file table.
    tables = re.split(r"\n(?=\| server \| sessions \|)", busy_chunk)[1:]
    want = ([("files", list(busy_counts))] if busy_counts else []) + (
        [("big file", [busy_big])] if busy_big else [])
    if len(tables) != len(want):
        return problems + [f"expected {len(want)} busy-session tables, found {len(tables)}"]
    for (kind, counts), t in zip(want, tables):
        rows = {}
        for line in t.splitlines()[2:]:
            if not line.startswith("| "):
                break
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows[(cells[0], cells[1])] = cells[2:]
        for n in counts:
            for name in servers:
                what = f"{DISPLAY[name]} at {n:,} busy sessions ({kind})"
                cells = rows.get((DISPLAY[name], f"{n:,}"))
                if cells is None:
                    problems.append(f"no row for {what}")
                    continue
                held = cells[0]  # then TLS and the figures
                if held.startswith("failed"):
                    problems.append(f"{what}: the step failed")
                elif held.startswith("skipped"):
                    if name == "ferryd":
                        problems.append(f"{what}: the step was skipped")
                elif any(c == MISSING or not c for c in cells):
                    problems.append(f"{what}: a figure is missing: {cells}")
                elif name == "ferryd" and held != f"{n:,}/{n:,}":
                    problems.append(f"{what}: held {held}, not every session without an error")
    return problems


# ------------------------------------------------------------------------------------------
# Main


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=parse_size, default=None, help="big file size (default 1G)")
    ap.add_argument("--runs", type=int, default=None, help="runs per figure (default 3)")
    ap.add_argument("--servers", default=",".join(ALL_SERVERS))
    ap.add_argument("--tiny", action="store_true",
                    help="64 MiB file, 100 files, 2 s session test, 100 idle sessions, 10 busy "
                    "sessions and 5 big downloads for 2 s, 1 run")
    ap.add_argument("--files", type=int, default=None, help="small files (default 1000)")
    ap.add_argument("--session-seconds", type=float, default=None, help="default 20")
    ap.add_argument("--idle", default=None, help="idle session counts (default 100,1000,10000)")
    ap.add_argument("--busy", default=None,
                    help="busy session counts (default 200,1000; --tiny: 10): small and medium "
                    "files both ways, PROT P")
    ap.add_argument("--busy-seconds", type=float, default=None,
                    help="window of each busy step (default 15; --tiny: 2)")
    ap.add_argument("--busy-big", type=int, default=None,
                    help="sessions downloading the big file at once, for fairness (default 50; "
                    "--tiny: 5; 0: none)")
    ap.add_argument("--client-runs", type=int, default=None,
                    help="runs of the clients step (default 6, --tiny: 1): a single download "
                    "here swings by a third from run to run, more than the clients differ; a "
                    "multiple of 3 has each client go first equally often")
    ap.add_argument("--quiet-wait", type=float, default=None,
                    help=f"before each busy step, wait at most this long for the machine to be "
                    f"quiet (under {QUIET_BUSY:.0%} of its CPUs busy over {QUIET_WINDOW:g} s; "
                    f"default {QUIET_LIMIT:g}, --tiny: 0 = do not wait, as CI runs other tests "
                    "beside it)")
    ap.add_argument("--busy-runs", type=int, default=None,
                    help="runs of every busy step (default 1; figures are medians)")
    ap.add_argument("--steps", default=",".join(STEPS),
                    help=f"the measurements to make (default all: {','.join(STEPS)})")
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
        m = results["meta"]
        problems = check_table(md, m["servers"], m["idle_counts"], m.get("steps", STEPS),
                               m.get("busy_counts", []), m.get("busy_big", 0))
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
    busy_counts = sorted({int(x) for x in (cfg.busy or ("10" if tiny else "200,1000")).split(",")
                          if x.strip()})
    cfg.busy_seconds = cfg.busy_seconds or (2.0 if tiny else 15.0)
    cfg.busy_big = (5 if tiny else 50) if cfg.busy_big is None else cfg.busy_big
    cfg.busy_runs = cfg.busy_runs or 1
    cfg.client_runs = cfg.client_runs or (1 if tiny else 6)
    if cfg.quiet_wait is None:
        cfg.quiet_wait = 0.0 if tiny else QUIET_LIMIT
    steps = [x.strip() for x in cfg.steps.split(",") if x.strip()]
    for x in steps:
        if x not in STEPS:
            ap.error(f"unknown step {x!r}; choose from {', '.join(STEPS)}")
    if any(n < 1 for n in busy_counts) or cfg.busy_big < 0 or cfg.busy_seconds <= 0:
        ap.error("--busy, --busy-big and --busy-seconds must be positive")
    busy_steps = ([str(n) for n in busy_counts] + (["big"] if cfg.busy_big else [])
                  if "busy" in steps else [])
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
    # Sessions at once a server must allow (in total and from 127.0.0.1), and its passive range:
    # one port for each busy session's data connection, four times over, as ferryd lets one
    # user's sessions hold a quarter of PASSIVEDATAPORTS at most (the same range for every
    # server); Pure-FTPd refuses sessions beyond half its range.
    busy_most = max([int(k) for k in busy_steps if k != "big"] + [cfg.busy_big if busy_steps else 0])
    max_sessions = max(idle_counts + [busy_most]) + 200
    pasv_size = max(PASV_SIZE, 4 * busy_most)
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
    mounted: list[Path] = []
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
                    idle_counts=idle_counts, tiny=tiny, servers=servers, steps=steps,
                    busy_counts=busy_counts if "busy" in steps else [],
                    busy_seconds=cfg.busy_seconds, busy_big=cfg.busy_big if busy_steps else 0,
                    busy_runs=cfg.busy_runs, client_runs=cfg.client_runs,
                    quiet_wait=cfg.quiet_wait,
                    busy_small=BUSY_SMALL, busy_medium=BUSY_MEDIUM,
                    load_average={"before": list(os.getloadavg())}, notes=[])
        log(f"load average {os.getloadavg()}; preparing {work}")
        cert, key, pem, pw_hash = make_pki(work / "pki")
        cfg.cert = cert
        # ferry pins the certificate (curl's -k checks nothing; a pin is ferry's cheapest check)
        fp = run_cmd(["openssl", "x509", "-in", cert, "-noout", "-fingerprint", "-sha256"], 30,
                     "openssl x509").stdout.decode().strip().split("=", 1)[1]
        cfg.fingerprint = "SHA256:" + fp
        make_files(cfg.home, cfg.size, cfg.files)
        # Uploads also go to a tmpfs folder inside the home, where no disk sits behind the page
        # cache: what an upload costs without the file system's write-back (every server sees it,
        # chrooted or not: it is mounted before they start).
        tmpfs = cfg.home / TMPFS_DIR
        tmpfs.mkdir()
        run_cmd(["mount", "-t", "tmpfs", "-o", f"size={2 * cfg.size + 64 * 2**20},mode=0755",
                 "ferry-bench", str(tmpfs)], 30, "mount tmpfs")
        mounted.append(tmpfs)
        (work / "peers").mkdir(mode=0o755)

        # -- start every server
        by_name: dict[str, Server] = {}
        for name in servers:
            try:
                pasv = peers.free_port_range(pasv_size)
                if name == "pure-ftpd":
                    # Pure-FTPd allows at most half as many sessions as it has passive ports.
                    size = max(2 * max_sessions, pasv_size)
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
                                    verbose=False, max_sessions=max_sessions,
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
            f"allowed, EPSV with a passive range of {pasv_size:,} ports, one EC P-256 certificate, "
            f"one home folder, a {IDLE_LIMIT} s idle limit, {max_sessions:,} sessions allowed "
            "(also from one address); TLS 1.2 and 1.3 offered, the client picks 1.3. "
            + (f"The range is four times the most busy sessions ({busy_most:,}): ferryd lets one "
               "user's sessions hold a quarter of it at most. " if pasv_size > PASV_SIZE else "")
            + "Pure-FTPd gets a passive range twice the sessions allowed (it refuses "
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
        for r in range(cfg.runs if "limits" in steps else 0):
            for cipher in ("aes-256-gcm", "aes-128-gcm"):
                lim.setdefault(cipher, {"runs": []})["runs"].append(
                    openssl_speed(cipher, speed_seconds))
            for mode in ("tls-stream", "tls-stream-to-disk", "tls-stream-to-tmpfs", "tcp-stream"):
                argv = [cfg.load, mode.split("-to-")[0], "--bytes", stream_bytes]
                if mode.endswith("-to-disk"):
                    argv += ["--to", str(cfg.work / "stream-sink.bin")]
                    os.sync()  # as before every upload
                elif mode.endswith("-to-tmpfs"):
                    argv += ["--to", str(cfg.home / TMPFS_DIR / "stream-sink.bin")]
                res = json.loads(run_cmd(argv, stream_bytes / 20e6 + 60, f"ftps_load {mode}")
                                 .stdout.decode().strip().splitlines()[-1])
                lim.setdefault(mode, {"runs": []})["runs"].append(res["mb_per_s"])
        for v in lim.values():
            v["median"] = statistics.median(v["runs"])
        if lim:
            log("limits: " + ", ".join(f"{k} {v['median']:.0f} MB/s" for k, v in lim.items()))

        # -- (a) + (f) big file transfers, interleaved across servers run by run
        for r in range(cfg.runs if "transfers" in steps else 0):
            for name in servers:
                for key, mode in (("download_p", "down-p"), ("upload_p", "up-p"),
                                  ("upload_p_tmpfs", "up-p-tmpfs"), ("download_c", "down-c")):
                    res = measure(name, f"curl {mode} run {r + 1}",
                                  lambda srv: curl_transfer(srv, mode, cfg, r))
                    if res:
                        results["servers"][name].setdefault(key, {"runs": []})["runs"].append(res)
                        log(f"{name} {mode} run {r + 1}: {res['mb_per_s']:.0f} MB/s, "
                            f"{res['cpu_s_per_gib']:.2f} CPU s/GiB")
        # -- (b) small files
        for r in range(cfg.runs if "files" in steps else 0):
            for name in servers:
                res = measure(name, f"files run {r + 1}", lambda srv: files_test(srv, cfg))
                if res:
                    results["servers"][name].setdefault("files", {"runs": []})["runs"].append(res)
                    log(f"{name} files run {r + 1}: {res['per_second']:.0f} files/s, "
                        f"{res['resumed']}/{res['files']} resumed")
        # -- (h) lftp, small files
        for r in range(cfg.runs if "lftp" in steps else 0):
            for name in servers:
                res = measure(name, f"lftp files run {r + 1}",
                              lambda srv: lftp_files_test(srv, cfg))
                if res:
                    results["servers"][name].setdefault(
                        "lftp_files", {"runs": []})["runs"].append(res)
                    log(f"{name} lftp files run {r + 1}: {res['ms_per_file']:.1f} ms/file")
        # -- (c) + (f) sessions
        for r in range(cfg.runs if "sessions" in steps else 0):
            for name in servers:
                res = measure(name, f"sessions run {r + 1}", lambda srv: sessions_test(srv, cfg))
                if res:
                    results["servers"][name].setdefault(
                        "sessions", {"runs": []})["runs"].append(res)
                    log(f"{name} sessions run {r + 1}: {res['per_second']:.0f}/s, "
                        f"{res['cpu_ms_per_session']:.2f} CPU ms/session")
        # -- (g) the clients against each server; which goes first alternates run by run, as
        # the second of two transfers from the same server tends to be the faster one
        for r in range(cfg.client_runs if "clients" in steps else 0):
            for name in servers:
                for client in CLIENTS[r % len(CLIENTS):] + CLIENTS[:r % len(CLIENTS)]:
                    res = measure(name, f"{client} download run {r + 1}",
                                  lambda srv: client_download(srv, client, cfg))
                    if res:
                        results["servers"][name].setdefault(
                            f"client_{client}", {"runs": []})["runs"].append(res)
                        log(f"{name} {client} download run {r + 1}: {res['mb_per_s']:.0f} MB/s, "
                            f"client {res['client_cpu_s_per_gib']:.2f} CPU s/GiB")
        # -- (d) idle sessions, before the busy sessions: after those a server's heap holds what
        # 1,000 transfers left, and idle sessions would reuse it instead of adding to the PSS
        meta["load_average"]["before_idle"] = list(os.getloadavg())
        for name in (servers if "idle" in steps else []):
            srv = by_name.get(name)
            base_procs = len(srv.pids()) if srv else 0

            def idle(srv):
                log(f"{name}: idle sessions {idle_counts}")
                return idle_sessions.measure(
                    srv.pids, HOST, srv.port, USER, PASSWORD, idle_counts,
                    timeout=120 + max(idle_counts) * 0.15, parallel=4, idle_timeout=IDLE_LIMIT,
                    log=log)
            idle_steps = measure(name, "idle sessions", idle)  # not `steps`: main's list of steps
            if idle_steps is not None:
                results["servers"][name]["idle"] = idle_steps
                for st in idle_steps:
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
        # -- (i) many busy sessions: every server at one count before the next count; a step
        # the machine cannot take, or one after a step where the server held fewer than half its
        # sessions, is skipped
        meta["load_average"]["before_busy"] = list(os.getloadavg())
        held_too_few: dict[str, str] = {}
        for r in range(cfg.busy_runs):
            for key in busy_steps:
                big = key == "big"
                n = cfg.busy_big if big else int(key)
                for name in servers:
                    label = (f"busy {n} sessions, the big file" if big else
                             f"busy {n} sessions") + f" run {r + 1}"
                    if name in held_too_few and not big:
                        res = {"sessions": n, "skipped": held_too_few[name]}
                    else:
                        log(f"{name}: {label}")
                        res = measure(name, label, lambda srv: busy_test(srv, cfg, n, big))
                    entry = results["servers"][name].setdefault("busy", {}).setdefault(
                        key, {"sessions": n, "runs": []})
                    if res is None:
                        entry.setdefault("failed", f"{label}: see Errors")
                        continue
                    if "skipped" in res:
                        entry["skipped"] = res["skipped"]
                        log(f"{name} {label}: {res['skipped']}")
                        continue
                    entry["runs"].append(res)
                    if not big and res["held"] * 2 < n:
                        held_too_few[name] = (f"not attempted: it held {res['held']:,} of {n:,} "
                                              f"busy sessions")
                    log(f"{name} {label}: {res['mb_per_s']:.0f} MB/s, "
                        + ("" if big else f"{res['files_per_s']:.0f} files/s, ")
                        + f"held {res['held']}/{n}, {res['errors']} errors, per-session "
                        f"max/min {res['fairness'] or float('nan'):.2f}"
                        + (f", first error: {res['first_error']}" if res["errors"] else ""))
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
        for m in mounted:
            subprocess.run(["umount", "-l", str(m)], check=False, timeout=30)
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
    problems = check_table(md, servers, idle_counts, steps, results["meta"]["busy_counts"],
                           results["meta"]["busy_big"])
    if cfg.check and problems:
        for p in problems:
            print(f"bench: incomplete table: {p}", file=sys.stderr)
        return 1
    return status or (1 if problems else 0)


if __name__ == "__main__":
    sys.exit(main())

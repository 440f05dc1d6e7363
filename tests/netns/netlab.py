"""netlab: small Linux network-namespace laboratory for Ferry's firewall scenarios.

A Lab owns a set of network namespaces named ``<prefix><short>`` (prefix ``fy<pid>-``
by default), the veth links between them, the nftables rulesets loaded into them, the
processes started inside them and the packet captures taken in them. ``Lab.close()``
removes all of it and is safe to call more than once; ``clean_stale()`` removes what
an earlier run (a dead process) left behind.

Rules this module keeps:
  * nothing is ever configured in the root network namespace: every ``ip``/``nft``/
    ``sysctl`` runs as ``ip -n NS`` or ``ip netns exec NS``; veth pairs are created
    directly inside the namespaces (``ip -n A link add ... peer ... netns B``);
  * every subprocess has a timeout;
  * processes are stopped by their own pid (process group of a child we started),
    and the pids still inside our namespaces (``ip netns pids``) are ended by pid.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

IP = "/usr/sbin/ip" if os.path.exists("/usr/sbin/ip") else "/sbin/ip"
NFT = "/usr/sbin/nft"
TCPDUMP = "/usr/bin/tcpdump" if os.path.exists("/usr/bin/tcpdump") else "/usr/sbin/tcpdump"
PYTHON = "/usr/bin/python3"
PREFIX_RE = re.compile(r"^fy(\d+)-")
CMD_TIMEOUT = 20


def file_sha256(path: Path) -> str:
    """SHA-256 of a file, read a MiB at a time (transfers are checked with it)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


class LabError(RuntimeError):
    pass


def sh(argv: list[str], *, timeout: float = CMD_TIMEOUT, check: bool = True,
       input: bytes | str | None = None) -> subprocess.CompletedProcess:
    """Run argv with a timeout; raise LabError with the output when it fails."""
    if isinstance(input, str):
        input = input.encode()
    try:
        p = subprocess.run(argv, input=input, capture_output=True, timeout=timeout,
                           stdin=None if input is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"timed out after {timeout}s: {' '.join(argv)}") from exc
    if check and p.returncode != 0:
        raise LabError(f"exit {p.returncode}: {' '.join(argv)}\n"
                       f"{p.stdout.decode(errors='replace')}{p.stderr.decode(errors='replace')}")
    return p


def list_namespaces() -> list[str]:
    out = sh([IP, "netns", "list"]).stdout.decode()
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _kill_pids_in(ns: str) -> None:
    """End every process still inside namespace ns (only our own processes live there)."""
    for attempt, sig in enumerate((signal.SIGTERM, signal.SIGKILL, signal.SIGKILL)):
        p = sh([IP, "netns", "pids", ns], check=False)
        pids = [int(x) for x in p.stdout.decode().split() if x.isdigit()]
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline and any(_pid_alive(pid) for pid in pids):
            time.sleep(0.05)


def delete_namespace(ns: str) -> None:
    _kill_pids_in(ns)
    sh([IP, "netns", "del", ns], check=False)


def clean_stale(prefix_base: str = "fy") -> list[str]:
    """Delete namespaces named fy<pid>-* whose creating process <pid> is gone."""
    removed = []
    for ns in list_namespaces():
        m = PREFIX_RE.match(ns)
        if not m or not ns.startswith(prefix_base):
            continue
        pid = int(m.group(1))
        if pid == os.getpid() or _pid_alive(pid):
            continue
        delete_namespace(ns)
        removed.append(ns)
    return removed


# --------------------------------------------------------------------------
# Processes


@dataclass
class Proc:
    ns: str
    argv: list[str]
    log_path: Path
    popen: subprocess.Popen
    _log: object = field(default=None, repr=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    @property
    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, grace: float = 5) -> int | None:
        if self.popen.poll() is None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.popen.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.popen.wait(timeout=10)
        if self._log:
            self._log.close()
            self._log = None
        return self.popen.returncode


@dataclass
class Result:
    argv: list[str]
    rc: int
    out: bytes
    err: str
    seconds: float

    @property
    def text(self) -> str:
        return self.out.decode(errors="replace") + self.err

    def __str__(self):
        return (f"$ {' '.join(self.argv)}\nexit {self.rc} after {self.seconds:.1f}s\n"
                f"--- stdout ---\n{self.out[-4000:].decode(errors='replace')}\n"
                f"--- stderr ---\n{self.err[-12000:]}")

    __repr__ = __str__


# --------------------------------------------------------------------------
# Captures


@dataclass
class Capture:
    proc: Proc
    path: Path

    def stop(self) -> bytes:
        # tcpdump can lag behind a fast transfer on a busy machine, and on SIGINT it stops
        # without reading what is still queued for it (counted nowhere as dropped). With -U it
        # writes packet by packet: wait (at most 5 s) until the file stops growing.
        deadline, last = time.monotonic() + 5, -1
        while time.monotonic() < deadline:
            size = self.path.stat().st_size if self.path.exists() else 0
            if size == last:
                break
            last = size
            time.sleep(0.25)
        # SIGINT makes tcpdump flush and close the file.
        self.proc.stop(signal.SIGINT, grace=5)
        m = re.search(r"(\d+) packets? dropped by kernel", self.proc.log)
        if m and int(m.group(1)):
            raise LabError(f"tcpdump lost {m.group(1)} packets: the capture is incomplete\n{self.proc.log}")
        return self.path.read_bytes() if self.path.exists() else b""


@dataclass
class Segment:
    src: str
    dst: str
    sport: int
    dport: int
    payload: bytes


def pcap_segments(data: bytes) -> list[Segment]:
    """IPv4/TCP segments of a classic pcap file (Ethernet, Linux SLL or SLL2 link types)."""
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise LabError(f"not a pcap file (magic {magic.hex()})")
    linktype = struct.unpack(endian + "I", data[20:24])[0] & 0x0FFFFFFF
    off, out = 24, []
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        pkt = data[off + 16:off + 16 + incl]
        off += 16 + incl
        if linktype == 1:          # Ethernet
            l3, ethertype = 14, pkt[12:14]
            if ethertype == b"\x81\x00":
                l3, ethertype = 18, pkt[16:18]
        elif linktype == 113:      # Linux cooked v1
            l3, ethertype = 16, pkt[14:16]
        elif linktype == 276:      # Linux cooked v2
            l3, ethertype = 20, pkt[0:2]
        elif linktype == 101:      # raw IP
            l3, ethertype = 0, b"\x08\x00"
        else:
            raise LabError(f"pcap link type {linktype} not supported")
        if ethertype != b"\x08\x00" or len(pkt) < l3 + 20:
            continue
        ip = pkt[l3:]
        ihl = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0] or len(ip)  # 0 with TSO: take what we have
        if ip[9] != 6 or len(ip) < ihl + 20:
            continue
        tcp = ip[ihl:min(len(ip), total)]
        doff = (tcp[12] >> 4) * 4
        out.append(Segment(src=".".join(map(str, ip[12:16])), dst=".".join(map(str, ip[16:20])),
                           sport=struct.unpack("!H", tcp[0:2])[0],
                           dport=struct.unpack("!H", tcp[2:4])[0], payload=tcp[doff:]))
    return out


# --------------------------------------------------------------------------
# The lab

_PROBE = r"""
import socket, sys, time
mode, host, port, timeout = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
if mode == "connect":
    s = socket.socket()
    s.settimeout(timeout)
    try:
        s.connect((host, port))
        print("open")
    except socket.timeout:
        print("timeout")
    except ConnectionRefusedError:
        print("refused")
    except OSError as e:
        print("unreachable" if e.errno in (101, 113) else "error %d" % e.errno)
elif mode == "greeting":
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2) as s:
                s.settimeout(2)
                buf = b""
                while b"\n" not in buf:
                    chunk = s.recv(512)
                    if not chunk:
                        break
                    buf += chunk
                if buf.startswith(b"220"):
                    print("ready")
                    sys.exit(0)
                last = buf
        except OSError as e:
            last = e
        time.sleep(0.05)
    print("not ready: %r" % (last,))
    sys.exit(1)
"""


class Lab:
    def __init__(self, workdir: Path, prefix: str | None = None):
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.prefix = prefix or f"fy{os.getpid()}-"
        self.namespaces: list[str] = []
        self.procs: list[Proc] = []
        self._seq = 0

    # names -----------------------------------------------------------------
    def ns(self, short: str) -> str:
        return self.prefix + short

    def _unique(self, stem: str) -> str:
        self._seq += 1
        return f"{self._seq:03d}-{stem}"

    # topology --------------------------------------------------------------
    def add_ns(self, short: str, *, router: bool = False) -> str:
        name = self.ns(short)
        if name in list_namespaces():  # left over by this very pid (e.g. a crashed fixture)
            delete_namespace(name)
        sh([IP, "netns", "add", name])
        self.namespaces.append(name)
        sh([IP, "-n", name, "link", "set", "lo", "up"])
        if router:
            self.sysctl(short, "net.ipv4.ip_forward", "1")
        return name

    def sysctl(self, short: str, key: str, value: str) -> None:
        sh([IP, "netns", "exec", self.ns(short), "sysctl", "-q", "-w", f"{key}={value}"])

    def link(self, a: str, ifa: str, b: str, ifb: str) -> None:
        """A veth pair ifa (in a) <-> ifb (in b), created inside the namespaces."""
        sh([IP, "-n", self.ns(a), "link", "add", ifa, "type", "veth",
            "peer", "name", ifb, "netns", self.ns(b)])
        sh([IP, "-n", self.ns(a), "link", "set", ifa, "up"])
        sh([IP, "-n", self.ns(b), "link", "set", ifb, "up"])

    def addr(self, short: str, ifname: str, cidr: str) -> None:
        sh([IP, "-n", self.ns(short), "addr", "add", cidr, "dev", ifname])

    def route(self, short: str, dst: str, via: str) -> None:
        sh([IP, "-n", self.ns(short), "route", "replace", dst, "via", via])

    # nftables --------------------------------------------------------------
    def nft(self, short: str, ruleset: str) -> None:
        """Load a ruleset (nft -f -) into the namespace; checked first with nft -c."""
        ns = self.ns(short)
        (self.workdir / self._unique(f"{short}.nft")).write_text(ruleset)
        sh([IP, "netns", "exec", ns, NFT, "-c", "-f", "-"], input=ruleset)
        sh([IP, "netns", "exec", ns, NFT, "-f", "-"], input=ruleset)

    def nft_flush(self, short: str) -> None:
        sh([IP, "netns", "exec", self.ns(short), NFT, "flush", "ruleset"])

    def nft_list(self, short: str) -> str:
        return sh([IP, "netns", "exec", self.ns(short), NFT, "list", "ruleset"]).stdout.decode()

    def counter(self, short: str, comment: str) -> int:
        """Packets counted by the rule carrying comment "<comment>" (0 if absent)."""
        for line in self.nft_list(short).splitlines():
            if f'comment "{comment}"' in line:
                m = re.search(r"counter packets (\d+)", line)
                return int(m.group(1)) if m else 0
        raise LabError(f"no rule with comment {comment!r} in {self.ns(short)}:\n{self.nft_list(short)}")

    # processes -------------------------------------------------------------
    def exec_argv(self, short: str, argv: list[str]) -> list[str]:
        return [IP, "netns", "exec", self.ns(short), *argv]

    def run(self, short: str, argv: list[str], *, timeout: float = 60, env: dict | None = None,
            cwd: Path | None = None) -> Result:
        """Run argv inside the namespace and wait (bounded); never raises on exit status.
        On timeout the whole process group is killed and rc is -9."""
        full = self.exec_argv(short, argv)
        t0 = time.monotonic()
        p = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env=env, cwd=cwd, start_new_session=True)
        try:
            out, err = p.communicate(timeout=timeout)
            rc = p.returncode
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            out, err = p.communicate(timeout=10)
            rc = -9
            err += f"\n[netlab: killed after {timeout}s]".encode()
        return Result(full, rc, out, err.decode(errors="replace"), time.monotonic() - t0)

    def spawn(self, short: str, argv: list[str], *, name: str, env: dict | None = None,
              cwd: Path | None = None) -> Proc:
        log_path = self.workdir / self._unique(f"{name}.log")
        log = open(log_path, "ab")
        full = self.exec_argv(short, argv)
        popen = subprocess.Popen(full, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                 env=env, cwd=cwd, start_new_session=True)
        proc = Proc(self.ns(short), full, log_path, popen, log)
        self.procs.append(proc)
        return proc

    def probe(self, short: str, host: str, port: int, timeout: float = 2.0) -> str:
        """From inside `short`, try a TCP connect: open | refused | timeout | unreachable."""
        r = self.run(short, [PYTHON, "-c", _PROBE, "connect", host, str(port), str(timeout)],
                     timeout=timeout + 15)
        if r.rc != 0:
            raise LabError(str(r))
        return r.out.decode().strip()

    def wait_greeting(self, short: str, host: str, port: int, deadline: float = 10) -> None:
        r = self.run(short, [PYTHON, "-c", _PROBE, "greeting", host, str(port), str(deadline)],
                     timeout=deadline + 15)
        if r.rc != 0:
            raise LabError(f"no FTP greeting from {host}:{port} in {self.ns(short)}: {r}")

    def capture(self, short: str, ifname: str, *, bpf: str = "tcp") -> Capture:
        """tcpdump -w on an interface of `short`; returns once tcpdump is listening."""
        path = self.workdir / self._unique(f"{short}-{ifname}.pcap")
        proc = self.spawn(short, [TCPDUMP, "-i", ifname, "-n", "-s", "0", "-U", "--immediate-mode", "-B", "32768", "-Z", "root",
                                  "-w", str(path), bpf], name=f"tcpdump-{short}-{ifname}")
        deadline = time.monotonic() + 10
        while "listening on" not in proc.log:
            if not proc.alive or time.monotonic() > deadline:
                proc.stop()
                raise LabError(f"tcpdump did not start: {proc.log}")
            time.sleep(0.05)
        return Capture(proc, path)

    # teardown --------------------------------------------------------------
    def close(self) -> list[str]:
        """Stop every process, then delete every namespace. Returns problems found."""
        problems = []
        for proc in reversed(self.procs):
            try:
                proc.stop()
            except Exception as exc:  # keep going: the namespaces must go regardless
                problems.append(f"stopping {proc.argv}: {exc}")
        self.procs.clear()
        for ns in reversed(self.namespaces):
            try:
                delete_namespace(ns)
            except Exception as exc:
                problems.append(f"deleting {ns}: {exc}")
        left = [ns for ns in list_namespaces() if ns in self.namespaces]
        if left:
            problems.append(f"namespaces left behind: {left}")
        self.namespaces.clear()
        return problems

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

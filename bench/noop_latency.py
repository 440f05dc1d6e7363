#!/usr/bin/env python3
"""NOOP round trip of a logged-in session while others load ferryd (issue 10).

Four loads, each measured for --seconds:
  guessing  16 connections guess passwords without pause (yescrypt hashes by default, as the
            issue measured: 90 ms each), reconnecting when ferryd closes them;
  listing   another session lists a 100,000-file folder again and again (LIST, read to the end);
  size      another session sends SIZE of a 64 MiB file in TYPE A (which reads the whole file to
            count its line ends) again and again;
  slowfs    another session sends SIZE, MDTM and CWD into a slow file system again and again: a
            FUSE mount (tests/interop/slow_fs.py; root, /dev/fuse and python3-fusepy) whose
            getattr and open take --slow-delay (150 ms).
Meanwhile logged-in TLS sessions (one per core: ferryd puts sessions on its event threads in
turn, so one of them shares the loaded session's thread) send NOOP in turn every 20 ms; the
script prints the round trip's
median, p99 and maximum per load. Loopback only.

    bench/noop_latency.py --ferryd build/ferryd [--seconds 20] [--hash yescrypt|sha512] [--only LOAD]

Not a test: the figures depend on the machine (put them in the README with the date).
"""
from __future__ import annotations

import argparse
import ctypes
import os
import re
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "interop"))

HOST = "127.0.0.1"
USER, PASSWORD = "alice", "bench-Password-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def make_hash(method: str) -> str:
    crypt = ctypes.CDLL("libcrypt.so.1")
    prefix = {"yescrypt": b"$y$", "sha512": b"$6$"}[method]
    setting = ctypes.create_string_buffer(256)
    if not crypt.crypt_gensalt_rn(prefix, 0, None, 0, setting, len(setting)):
        sys.exit(f"crypt_gensalt_rn({prefix!r}) failed")
    crypt.crypt.restype = ctypes.c_char_p
    return crypt.crypt(PASSWORD.encode(), setting.value).decode()


class Control:
    """A control connection reading one reply at a time (multi-line aware)."""

    def __init__(self, port: int, timeout: float = 30):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.buf = b""
        self.greeting = self.reply()

    def reply(self) -> tuple[int, str]:
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            text = line.decode(errors="replace")
            lines.append(text)
            if re.match(r"^\d{3} ", text) and (len(lines) == 1 or text[:3] == lines[0][:3]):
                return int(text[:3]), "\n".join(lines)

    def cmd(self, line: str) -> tuple[int, str]:
        self.sock.sendall(line.encode() + b"\r\n")
        return self.reply()

    def starttls(self):
        assert self.cmd("AUTH TLS")[0] == 234
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=HOST)

    def login(self):
        self.starttls()
        assert self.cmd(f"USER {USER}")[0] == 331
        code, text = self.cmd(f"PASS {PASSWORD}")
        assert code == 230, text
        assert self.cmd("PBSZ 0")[0] == 200
        assert self.cmd("PROT C")[0] == 200


def guesser(port: int, stop: threading.Event, counts: list):
    while not stop.is_set():
        try:
            c = Control(port)
            if c.greeting[0] != 220:
                c.sock.close()
                continue
            while not stop.is_set():
                c.cmd(f"USER {USER}")
                code, _ = c.cmd("PASS wrong-guess")
                counts[0] += 1
                if code == 421:
                    break
            c.sock.close()
        except OSError:
            pass


def lister(port: int, stop: threading.Event, counts: list):
    c = Control(port)
    c.login()
    while not stop.is_set():
        code, text = c.cmd("EPSV")
        dport = int(re.search(r"\|\|\|(\d+)\|", text).group(1))
        c.sock.sendall(b"LIST many\r\n")
        with socket.create_connection((HOST, dport), timeout=60) as d:
            assert c.reply()[0] == 150
            n = 0
            while chunk := d.recv(1 << 20):
                n += len(chunk)
        assert c.reply()[0] == 226
        counts[0] += 1
        counts[1] = n


def sizer(port: int, stop: threading.Event, counts: list):
    c = Control(port)
    c.login()
    assert c.cmd("TYPE A")[0] == 200
    while not stop.is_set():
        code, text = c.cmd("SIZE big.txt")
        assert code == 213, text
        counts[0] += 1


def slow_user(port: int, stop: threading.Event, counts: list):
    c = Control(port)
    c.login()
    while not stop.is_set():
        for line, want in (("SIZE slow/file.txt", 213), ("MDTM slow/file.txt", 213), ("CWD slow/sub", 250),
                           ("CWD /", 250)):
            code, text = c.cmd(line)
            assert code == want, f"{line}: {text}"
            counts[0] += 1


def measure(port: int, seconds: float) -> list[float]:
    # ferryd spreads sessions over one event thread per core in turn: as many consecutive
    # sessions as cores, asked in turn, so that one of them shares the loaded session's thread.
    sessions = []
    for _ in range(os.cpu_count() or 1):
        c = Control(port)
        c.login()
        sessions.append(c)
    rtts = []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        c = sessions[i % len(sessions)]
        i += 1
        t = time.perf_counter()
        assert c.cmd("NOOP")[0] == 200
        rtts.append(time.perf_counter() - t)
        time.sleep(0.02)  # the sampling interval
    for c in sessions:
        c.cmd("QUIT")
    return rtts


def summary(rtts: list[float]) -> str:
    ms = sorted(r * 1000 for r in rtts)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"NOOP n={len(ms)} median {statistics.median(ms):.2f} ms, p99 {p99:.2f} ms, max {ms[-1]:.2f} ms"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ferryd", default=str(Path(__file__).resolve().parent.parent / "build/ferryd"))
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--hash", choices=["yescrypt", "sha512"], default="yescrypt")
    ap.add_argument("--guessers", type=int, default=16)
    ap.add_argument("--files", type=int, default=100_000)
    ap.add_argument("--slow-delay", type=float, default=0.15, help="slowfs: seconds per getattr and open")
    ap.add_argument("--only", choices=["guessing", "listing", "size", "slowfs"])
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ferry-noop-"))
    mount = None
    try:
        home = work / "home"
        (home / "many").mkdir(parents=True)
        for i in range(args.files):
            (home / "many" / f"file-{i:06d}-with-a-longer-name.txt").touch()
        if args.only in (None, "size"):
            line = b"a line of text that SIZE in TYPE A counts, 64 bytes with its LF\n"
            with open(home / "big.txt", "wb") as f:
                f.write(line * ((64 << 20) // len(line)))  # just the limit SIZE in TYPE A accepts
        if args.only in (None, "slowfs"):
            from slow_fs import SlowMount
            (work / "slow-source" / "sub").mkdir(parents=True)
            (work / "slow-source" / "file.txt").write_text("slow\n")
            mount = SlowMount(work / "slow-source", home / "slow", args.slow_delay)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                        "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", str(work / "key.pem"),
                        "-out", str(work / "cert.pem")], check=True, capture_output=True)
        pem = work / "server.pem"
        pem.write_bytes((work / "cert.pem").read_bytes() + (work / "key.pem").read_bytes())
        pem.chmod(0o600)
        users = work / "users"
        users.write_text(f"{USER}:{make_hash(args.hash)}:{home}\n")
        users.chmod(0o600)
        port = free_port()
        # No limits in the way of the load: the point is what the load does to others.
        # (Older ferryd builds, measured for comparison, know neither statement.)
        known = subprocess.run([args.ferryd, "--help-config"], capture_output=True).stdout
        limits = "MAXSESSIONSPERHOST 0\nLOGINATTEMPTS 0\n" if b"LOGINATTEMPTS" in known else ""
        (work / "ferryd.conf").write_text(
            f"LISTEN {HOST} {port}\nRUNAS root\nTLSPORT 0\nKEYRING {pem}\nUSERS {users}\nEXTENSIONS AUTH_TLS\n{limits}")
        log = open(work / "ferryd.log", "wb")
        proc = subprocess.Popen([args.ferryd, "--config", str(work / "ferryd.conf")], stdout=log, stderr=log)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    Control(port).sock.close()
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sys.exit("ferryd did not start; see " + str(work / "ferryd.log"))
                    time.sleep(0.05)
            print(f"ferryd {args.ferryd}, {os.cpu_count()} CPUs, hash {args.hash}, {args.seconds:.0f} s per load")
            print(f"idle:      {summary(measure(port, min(5.0, args.seconds)))}")
            if args.only in (None, "guessing"):
                stop, counts = threading.Event(), [0]
                threads = [threading.Thread(target=guesser, args=(port, stop, counts), daemon=True)
                           for _ in range(args.guessers)]
                for t in threads:
                    t.start()
                time.sleep(1)  # let the guessing start
                r = measure(port, args.seconds)
                stop.set()
                print(f"guessing:  {summary(r)} ({args.guessers} connections, {counts[0]} guesses)")
                for t in threads:
                    t.join(timeout=30)
            if args.only in (None, "listing"):
                stop, counts = threading.Event(), [0, 0]
                t = threading.Thread(target=lister, args=(port, stop, counts), daemon=True)
                t.start()
                time.sleep(1)
                r = measure(port, args.seconds)
                stop.set()
                t.join(timeout=120)
                print(f"listing:   {summary(r)} ({counts[0]} listings of {args.files:,} files, "
                      f"{counts[1]:,} bytes each)")
            for name, load, what in (("size", sizer, "SIZE in TYPE A of a 64 MiB file"),
                                     ("slowfs", slow_user, f"commands on a {args.slow_delay * 1000:.0f} ms file system")):
                if args.only not in (None, name):
                    continue
                stop, counts = threading.Event(), [0]
                t = threading.Thread(target=load, args=(port, stop, counts), daemon=True)
                t.start()
                time.sleep(1)
                r = measure(port, args.seconds)
                stop.set()
                t.join(timeout=120)
                print(f"{name + ':':<10} {summary(r)} ({counts[0]} {what})")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=10)
            log.close()
    finally:
        if mount:
            mount.stop()  # before the folder goes: the mount is inside it
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

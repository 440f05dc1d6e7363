#!/usr/bin/env python3
"""Server memory per idle, logged-in TLS session.

Opens N control connections to an FTPS server (AUTH TLS, USER/PASS, PBSZ 0, PROT P), leaves them
idle, and reads the server's PSS and RSS from /proc/PID/smaps_rollup before and after.
Usage: idle_sessions.py --pid PID --port PORT --user U --password P [--count N ...]
Prints one line per count: sessions, total PSS KiB, PSS KiB per session, RSS KiB per session.
"""
import argparse
import resource
import socket
import ssl
import sys
import time


def memory_kib(pid):
    pss = rss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    return pss, rss


def read_reply(sock_file):
    line = sock_file.readline()
    code = line[:3]
    if line[3:4] == b"-":
        while True:
            line = sock_file.readline()
            if line[:4] == code + b" " or not line:
                break
    return int(code)


def open_session(host, port, user, password, ctx, deadline):
    s = socket.create_connection((host, port), timeout=max(1.0, deadline - time.monotonic()))
    f = s.makefile("rb")
    if read_reply(f) != 220:
        raise RuntimeError("no greeting")
    s.sendall(b"AUTH TLS\r\n")
    if read_reply(f) != 234:
        raise RuntimeError("AUTH refused")
    t = ctx.wrap_socket(s, server_hostname=host)
    tf = t.makefile("rb")
    for cmd, want in ((f"USER {user}", 331), (f"PASS {password}", 230), ("PBSZ 0", 200), ("PROT P", 200)):
        t.sendall(cmd.encode() + b"\r\n")
        got = read_reply(tf)
        if got != want:
            raise RuntimeError(f"{cmd.split()[0]} -> {got}")
    return t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--count", type=int, action="append")
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    counts = sorted(a.count or [100, 1000])
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, counts[-1] + 256)), hard))
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + a.timeout
    base_pss, base_rss = memory_kib(a.pid)
    sessions = []
    print("sessions  server_pss_kib  pss_per_session_kib  rss_per_session_kib")
    for n in counts:
        while len(sessions) < n:
            if time.monotonic() > deadline:
                sys.exit("timed out")
            sessions.append(open_session(a.host, a.port, a.user, a.password, ctx, deadline))
        time.sleep(0.5)  # let the server finish the last replies
        pss, rss = memory_kib(a.pid)
        print(f"{n:8d}  {pss:14d}  {(pss - base_pss) / n:19.1f}  {(rss - base_rss) / n:19.1f}", flush=True)
    for s in sessions:
        s.close()


if __name__ == "__main__":
    main()

"""Slow clients for test_slow_clients.py, run as their own process (their threads and this
interpreter's lock must not slow the fast client the test measures).

--sessions TLS sessions (PROT P, resumed data connections) from --addresses loopback source
addresses, logged in as --users round-robin, each downloading --file and reading its data
connection at --rate bytes a second through a small receive buffer (so that the server sees the
trickle, not one big buffer filling once). Prints "ready N" when every session is reading, runs
until standard input closes, then prints one JSON object: sessions, errors, and the plaintext
bytes each session read while the test ran.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "interop"))
from ftpwire import HOST, RawControl  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--sessions", type=int, default=500)
    ap.add_argument("--addresses", type=int, default=20)
    ap.add_argument("--users", required=True, help="comma-separated user names")
    ap.add_argument("--password", required=True)
    ap.add_argument("--file", required=True)
    ap.add_argument("--rate", type=int, default=1024)
    a = ap.parse_args()
    users = a.users.split(",")

    stop = threading.Event()
    reading = threading.Semaphore(0)
    setup = threading.Semaphore(16)  # logins at once: a handshake storm is not what is measured
    errors: list[str] = []
    read_since_ready = [0] * a.sessions
    ready_at = [0.0]

    def session(i: int) -> None:
        try:
            with setup:
                c = RawControl(a.port, timeout=60, source=f"127.0.0.{2 + i % a.addresses}")
                c.login_tls(users[i % len(users)], a.password)
                c.expect("TYPE I", 200)
                port = c.epsv_port()
                raw = socket.socket()
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
                raw.settimeout(60)
                raw.bind((c.source[0], 0))
                raw.connect((HOST, port))
                c.send(f"RETR {a.file}")
                data = c.ctx.wrap_socket(raw, server_hostname=HOST, session=c.sock.session)
                assert c.reply().code == 150
            reading.release()
            tick = time.monotonic()
            while not stop.is_set():
                chunk = data.recv(a.rate)
                if not chunk:
                    raise AssertionError("the download ended early")
                if ready_at[0]:
                    read_since_ready[i] += len(chunk)
                tick += len(chunk) / a.rate
                stop.wait(max(0.0, tick - time.monotonic()))  # the pace: rate bytes a second
            c.close()
            data.close()
        except Exception as exc:  # noqa: BLE001 - every failure is reported
            errors.append(f"session {i}: {exc!r}")
            reading.release()

    threads = [threading.Thread(target=session, args=(i,), daemon=True) for i in range(a.sessions)]
    for t in threads:
        t.start()
    for _ in threads:
        reading.acquire()
    ready_at[0] = time.monotonic()
    print(f"ready {a.sessions - len(errors)}", flush=True)
    sys.stdin.read()  # until the test closes it
    elapsed = time.monotonic() - ready_at[0]
    stop.set()
    for t in threads:
        t.join(timeout=30)
    print(json.dumps({"sessions": a.sessions, "errors": errors, "seconds": round(elapsed, 2),
                      "min_bytes": min(read_since_ready), "max_bytes": max(read_since_ready),
                      "total_bytes": sum(read_since_ready)}), flush=True)


if __name__ == "__main__":
    main()

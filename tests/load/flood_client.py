"""Connection flood for test_flood.py, run as its own process so that its busy loop cannot delay
the test's latency probe (one interpreter, one GIL).

Opens --count connections as fast as it can, round-robin over --addresses loopback source
addresses (127.0.0.2 up), in four kinds: garbage lines on the control port, AUTH TLS then half a
ClientHello (a stalled handshake), half a ClientHello on the implicit-TLS port, and silence. It
holds what the server accepts until --hold seconds after the last connect, reading and
discarding, then closes everything and prints one JSON object of counts on stdout.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import selectors
import socket
import ssl
import time


def client_hello() -> bytes:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--tls-port", type=int, required=True)
    ap.add_argument("--count", type=int, default=5000)
    ap.add_argument("--addresses", type=int, default=20)
    ap.add_argument("--hold", type=float, default=5.0)
    ap.add_argument("--deadline", type=float, default=60.0)
    a = ap.parse_args()

    hello = client_hello()
    rng = os.urandom(1 << 16)
    payloads = [
        b"".join([b"\x00\xff\xfe garbage\r\n", rng[:300], b"\r\n", b"A" * 5000, b"\r\n",
                  b"USER\r\nPASS\r\nRETR ../../etc/passwd\r\n"]),
        b"AUTH TLS\r\n" + hello[: len(hello) // 2],
        hello[: len(hello) // 2],
        b"",
    ]
    counts = {"opened": 0, "connect_failed": 0, "sent": 0, "got_421": 0, "got_other_reply": 0,
              "closed_by_server": 0, "reset_by_server": 0}
    sel = selectors.DefaultSelector()
    conns: dict[socket.socket, dict] = {}
    start = time.monotonic()
    end = start + a.deadline

    def service(timeout: float) -> None:
        for key, mask in sel.select(timeout):
            s, st = key.fileobj, key.data
            if mask & selectors.EVENT_WRITE and not st["connected"]:
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    counts["connect_failed"] += 1
                    sel.unregister(s)
                    s.close()
                    del conns[s]
                    continue
                st["connected"] = True
                if st["payload"]:
                    try:
                        s.send(st["payload"])  # small: the socket buffer takes it whole
                        counts["sent"] += 1
                    except OSError:
                        pass
                sel.modify(s, selectors.EVENT_READ, st)
            elif mask & selectors.EVENT_READ:
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    data, st["reset"] = b"", True
                except OSError:
                    data = b""
                if data:
                    if not st["replied"]:
                        st["replied"] = True
                        # A stalled TLS handshake gets nothing; a refused connection gets 421
                        # as its first bytes (before any greeting).
                        counts["got_421" if data.startswith(b"421") else "got_other_reply"] += 1
                    continue
                counts["reset_by_server" if st.get("reset") else "closed_by_server"] += 1
                sel.unregister(s)
                s.close()
                del conns[s]

    for i in range(a.count):
        kind = i % 4
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.bind((f"127.0.0.{2 + i % a.addresses}", 0))
        rc = s.connect_ex(("127.0.0.1", a.tls_port if kind == 2 else a.port))
        if rc not in (0, errno.EINPROGRESS):
            counts["connect_failed"] += 1
            s.close()
            continue
        counts["opened"] += 1
        st = {"payload": payloads[kind], "connected": False, "replied": False}
        conns[s] = st
        sel.register(s, selectors.EVENT_WRITE, st)
        if i % 64 == 63:
            service(0)  # keep up with the connections already made
    flooded = time.monotonic() - start
    hold_until = min(end, time.monotonic() + a.hold)
    while time.monotonic() < hold_until:
        service(0.05)
    counts["held_at_end"] = len(conns)
    counts["flood_seconds"] = round(flooded, 3)
    for s in list(conns):
        sel.unregister(s)
        s.close()
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    main()

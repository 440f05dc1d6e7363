"""PROXYPROTOCOL (issue 15) on loopback: this test plays the load balancer, at 127.0.0.1, and
writes the PROXY headers HAProxy would; 127.0.0.2 is a host that is not the balancer. The
clients the headers name (198.51.100.x) are never connected to. tests/netns/test_scale_out.py
runs the same with HAProxy itself in front of three nodes.

What is asserted is what a client or the operator sees: replies, bytes, closed connections
and the server's log.
"""
from __future__ import annotations

import hashlib
import re
import socket
import ssl
import struct
import time

import pytest

from conftest import HOST, PASSWORD, USER, wait_until
from ftpwire import ConnectionClosed, RawControl, client_context, close_data, recv_all

BALANCER = "127.0.0.1"
STRANGER = "127.0.0.2"
CLIENT = "198.51.100.7"
OTHER_CLIENT = "198.51.100.8"


def v1(client: str, port: int = 40000, dport: int = 21) -> bytes:
    return f"PROXY TCP4 {client} 203.0.113.1 {port} {dport}\r\n".encode()


def v2(client: str, port: int = 40000, dport: int = 21) -> bytes:
    addresses = socket.inet_aton(client) + socket.inet_aton("203.0.113.1") + struct.pack(">HH", port, dport)
    return b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x21, 0x11]) + struct.pack(">H", len(addresses)) + addresses


V2_LOCAL = b"\r\n\r\n\x00\r\nQUIT\n" + bytes([0x20, 0x00, 0, 0])
PROBE = v1("192.0.2.250")  # the readiness probe's own made-up client


@pytest.fixture(scope="module")
def balanced(ferryd_factory):
    """ferryd behind 'the balancer' 127.0.0.1, TLS required on control and data."""
    return ferryd_factory("balanced", overrides={
        "PROXYPROTOCOL": f"FROM {BALANCER}/32",
        "SECURE_FTP": "REQUIRED",
        "SECURE_DATACONN": "PRIVATE",
        "DATACTTIME": "3",
        "MAXSESSIONSPERHOST": "3",
        "LOGINATTEMPTS": "2 300",
    }, ready_header=PROBE)


def closed_without_reply(s: socket.socket) -> bool:
    s.settimeout(10)
    try:
        return s.recv(100) == b""
    except ConnectionResetError:
        return True


def test_a_relayed_client_transfers_and_is_the_client_in_the_log(balanced):
    payload = bytes(range(256)) * 4096
    with RawControl(balanced.port, proxy_header=v1(CLIENT, 41001)) as c:
        assert c.greeting.code == 220
        c.login_tls(USER, PASSWORD)
        c.expect("TYPE I", 200)
        # Upload and download, each data connection with a v2 header naming the same client.
        port = c.epsv_port()
        c.send("STOR relayed.bin")
        d = c.open_data(port, protect=True, proxy_header=v2(CLIENT, 41002, port))
        assert c.reply().code == 150
        d.sendall(payload)
        close_data(d)
        assert c.reply().code == 226
        port = c.epsv_port()
        c.send("RETR relayed.bin")
        d = c.open_data(port, protect=True, proxy_header=v2(CLIENT, 41003, port))
        assert c.reply().code == 150
        got = recv_all(d)
        close_data(d)
        assert c.reply().code == 226
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()
    assert (balanced.home / "relayed.bin").read_bytes() == payload
    wait_until(lambda: f"connect from {CLIENT}:41001 via {BALANCER}" in balanced.log, "the relayed client in the log")


def test_a_data_connection_for_another_client_is_refused(balanced):
    with RawControl(balanced.port, proxy_header=v1(CLIENT)) as c:
        c.login_tls(USER, PASSWORD)
        (balanced.home / "f.txt").write_text("for the control client only\n")
        port = c.epsv_port()
        c.send("RETR f.txt")
        # Through the balancer, but for another client: closed before any byte of the file.
        thief = socket.create_connection((HOST, port), timeout=10)
        thief.sendall(v2(OTHER_CLIENT, 42000, port))
        assert closed_without_reply(thief)
        # The control client's own connection still gets the file.
        d = c.open_data(port, protect=True, proxy_header=v2(CLIENT, 42001, port))
        assert c.reply().code == 150
        assert recv_all(d) == b"for the control client only\r\n"  # TYPE A
        close_data(d)
        assert c.reply().code == 226
    wait_until(lambda: f"from an address other than {CLIENT}, the last from {OTHER_CLIENT}" in balanced.log,
               "the refused data connection logged with the client its header named")


def test_port_must_name_the_relayed_client(balanced):
    with RawControl(balanced.port, proxy_header=v1(CLIENT)) as c:
        c.login_tls(USER, PASSWORD)
        # The balancer's own address is not the client's: an FTP bounce through it is refused.
        r = c.cmd("PORT 127,0,0,1,200,10")
        assert r.code == 501 and CLIENT in r.text, r
        assert c.cmd("PORT 198,51,100,7,200,10").code == 200
        assert c.cmd("EPRT |1|198.51.100.9|51210|").code == 501


def test_only_the_balancer_may_connect_and_only_with_a_header(balanced):
    # From another host, even with a well-formed header: closed, not a word.
    s = socket.create_connection((HOST, balanced.port), timeout=10, source_address=(STRANGER, 0))
    s.sendall(v1(CLIENT))
    assert closed_without_reply(s)
    # From the balancer, but FTP straight away: closed at the first byte that is no header.
    s = socket.create_connection((HOST, balanced.port), timeout=10)
    s.sendall(b"USER alice\r\n")
    assert closed_without_reply(s)
    # Half a header and then nothing: closed when the header's 5 s are over.
    s = socket.create_connection((HOST, balanced.port), timeout=10)
    s.sendall(b"PROXY TCP4 198.51")
    start = time.monotonic()
    assert closed_without_reply(s)
    assert 4 <= time.monotonic() - start < 9
    # Logged once per kind per 10 s (a flood is not a flood of lines): the stranger, and the
    # balancer's connection without a header.
    wait_until(lambda: "not from a balancer (PROXYPROTOCOL FROM)" in balanced.log
               and "no PROXY protocol header" in balanced.log, "the refusals logged")


def test_a_health_check_gets_the_greeting_and_no_session(balanced):
    before = balanced.log.count("connect from")
    s = socket.create_connection((HOST, balanced.port), timeout=10)
    s.sendall(V2_LOCAL)
    s.settimeout(10)
    assert s.recv(100).startswith(b"220 ")
    assert s.recv(100) == b""
    # A session started after it is logged, and it is the only new one.
    with RawControl(balanced.port, proxy_header=v1("198.51.100.99", 43999)) as c:
        assert c.greeting.code == 220
    wait_until(lambda: "connect from 198.51.100.99:43999" in balanced.log, "the next session logged")
    assert balanced.log.count("connect from") == before + 1


def test_limits_and_lockouts_count_the_relayed_clients(balanced):
    a, b = "198.51.100.21", "198.51.100.22"
    # MAXSESSIONSPERHOST 3: the fourth session of client a is refused, b's is not, though
    # every connection comes from the same balancer.
    held = [RawControl(balanced.port, proxy_header=v1(a, 44000 + i)) for i in range(3)]
    try:
        with RawControl(balanced.port, proxy_header=v1(a, 44010)) as extra:
            assert extra.greeting.code == 421 and "MAXSESSIONSPERHOST" in extra.greeting.text, extra.greeting
        with RawControl(balanced.port, proxy_header=v1(b, 44020)) as other:
            assert other.greeting.code == 220
    finally:
        for c in held:
            c.close()
    # LOGINATTEMPTS 2: two bad passwords from a lock a out; b still logs in.
    for i in range(2):
        with RawControl(balanced.port, proxy_header=v1(a, 44100 + i)) as c:
            c.starttls()
            c.expect(f"USER {USER}", 331)
            c.expect("PASS wrong", 530, 421)  # the second failure reaches the limit
    wait_until(lambda: greeting_code(balanced.port, a) == 421, "client a locked out")
    with RawControl(balanced.port, proxy_header=v1(b, 44200)) as c:
        c.login_tls(USER, PASSWORD)


def greeting_code(port: int, client: str) -> int:
    try:
        with RawControl(port, proxy_header=v1(client, 45000)) as c:
            return c.greeting.code
    except ConnectionClosed:
        return 0


def test_implicit_tls_client_hello_in_the_headers_segment(balanced):
    """A balancer often sends its header and the client's first bytes in one segment: the header
    is read without taking any byte of the ClientHello behind it."""
    ctx = client_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=HOST)
    s = socket.create_connection((HOST, balanced.tls_port), timeout=10)
    s.settimeout(10)
    first = True
    while True:
        try:
            tls.do_handshake()
            break
        except ssl.SSLWantReadError:
            out = outgoing.read()
            s.sendall((v2(CLIENT, 46000, balanced.tls_port) if first else b"") + out)
            first = False
            data = s.recv(65536)
            assert data, "closed during the handshake"
            incoming.write(data)
    s.sendall(outgoing.read())
    greeting = b""
    while b"\r\n" not in greeting:
        try:
            greeting += tls.read(4096)
        except ssl.SSLWantReadError:
            incoming.write(s.recv(65536))
    assert greeting.startswith(b"220 ")
    s.close()
    wait_until(lambda: re.search(rf"connect from {re.escape(CLIENT)}:46000 via {BALANCER} \(implicit TLS\)",
                                 balanced.log), "the implicit session logged with its client")

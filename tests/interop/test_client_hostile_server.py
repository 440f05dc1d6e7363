"""ferry facing a hostile FTPS server (issue 10, "The client, facing a hostile server").

The server here is a small scripted FTPS server (explicit AUTH TLS) that lists names meant to
hurt: dot-files, a name with an escape sequence, one with a line break, "..", and sends a
reply larger than 1 MiB when asked. Each test fails on the ferry before issue 10: mget '*'
fetched dot-files and wrote a file whose name held an escape sequence, ls printed the escape
sequence to the terminal, and the giant reply was read to its end.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
from pathlib import Path

import pytest

from conftest import HOST
from test_client_peers import Ferry, ferry_bin  # noqa: F401  (fixture)

ESC_NAME = "\x1b]0;owned\x07evil.txt"
FILES = {
    "good.txt": b"good\n",
    ".hidden": b"hidden\n",
    ESC_NAME: b"escape\n",
    "two\rlines.txt": b"cr\n",
}


class HostileServer(threading.Thread):
    """One-session-at-a-time FTPS server; `giant_reply` makes PWD answer with 2 MiB."""

    def __init__(self, pki, giant_reply: bool = False):
        super().__init__(daemon=True)
        self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.ctx.load_cert_chain(str(pki["pem"]))
        self.listener = socket.create_server((HOST, 0))
        self.listener.settimeout(30)
        self.port = self.listener.getsockname()[1]
        self.giant_reply = giant_reply
        self.stop = False
        self.errors: list[str] = []

    def run(self):
        while not self.stop:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            try:
                self.session(conn)
            except (OSError, ssl.SSLError) as exc:
                self.errors.append(repr(exc))
            finally:
                conn.close()

    def send_data(self, data_listener, prot_p: bool, payload: bytes) -> None:
        """Accepts the data connection, sends payload (TLS with close_notify under PROT P), closes."""
        d, _ = data_listener.accept()
        if prot_p:
            d = self.ctx.wrap_socket(d, server_side=True)
        d.sendall(payload)
        if prot_p:
            d = d.unwrap()
        d.close()
        data_listener.close()

    def session(self, conn):
        conn.settimeout(30)
        f = conn
        send = lambda s: f.sendall(s.encode("utf-8", "surrogateescape") + b"\r\n")  # noqa: E731
        send("220 hostile ready")
        buf = b""
        data_listener = None
        prot_p = False
        while True:
            while b"\r\n" not in buf:
                chunk = f.recv(4096)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            cmd, _, arg = line.decode("utf-8", "replace").partition(" ")
            cmd = cmd.upper()
            if cmd == "AUTH":
                send("234 go")
                f = self.ctx.wrap_socket(conn, server_side=True)
            elif cmd == "USER":
                send("331 pw")
            elif cmd == "PASS":
                send("230 in")
            elif cmd == "FEAT":
                send("211-Features:\r\n EPSV\r\n211 End")
            elif cmd == "PWD":
                if self.giant_reply:
                    f.sendall(b"257-" + b"x" * 100 + b"\r\n" + (b" " + b"y" * 1000 + b"\r\n") * 2100 + b"257 \"/\"\r\n")
                else:
                    send('257 "/"')
            elif cmd == "PROT":
                prot_p = arg.strip().upper() == "P"
                send("200 ok")
            elif cmd in ("EPSV", "PASV"):
                data_listener = socket.create_server((HOST, 0))
                data_listener.settimeout(30)
                port = data_listener.getsockname()[1]
                if cmd == "EPSV":
                    send(f"229 Entering Extended Passive Mode (|||{port}|)")
                else:
                    send(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")
            elif cmd in ("LIST", "NLST", "RETR", "SIZE"):
                if cmd == "SIZE":
                    name = arg
                    send(f"213 {len(FILES[name])}" if name in FILES else "550 no")
                    continue
                if cmd == "RETR" and arg not in FILES:
                    send("550 no such file")
                    continue
                send("150 here")
                if cmd == "RETR":
                    payload = FILES[arg]
                else:
                    lines = [f"-rw-r--r-- 1 ftp ftp {len(b)} Jan 01 2026 {n}" for n, b in FILES.items()]
                    lines.append("drwxr-xr-x 2 ftp ftp 4096 Jan 01 2026 ..")
                    payload = "\r\n".join(lines).encode("utf-8") + b"\r\n"
                self.send_data(data_listener, prot_p, payload)
                send("226 done")
            elif cmd == "QUIT":
                send("221 bye")
                return
            else:
                send("200 ok")


@pytest.fixture
def hostile(pki):
    servers = []

    def start(cls=None, **kw):  # cls: another scripted server class taking pki (test_mirror.py)
        s = (cls or HostileServer)(pki, **kw)
        s.start()
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop = True
        try:
            s.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() in the thread
        except OSError:
            pass
        s.listener.close()
        s.join(timeout=10)


def url(s: HostileServer) -> str:
    return f"ftp://u:p@{HOST}:{s.port}/"


def test_mget_star_takes_no_dot_files_nor_names_with_control_characters(hostile, ferry_bin, tmp_path):
    s = hostile()
    f = Ferry(ferry_bin, tmp_path)
    r = f("--insecure", url(s), input="mget *\n")
    made = sorted(p.name for p in tmp_path.iterdir() if p.is_file() and not p.name.startswith("lftp"))
    assert "good.txt" in made, r
    assert (tmp_path / "good.txt").read_bytes() == b"good\n"
    assert ".hidden" not in made, f"mget '*' fetched a dot-file: {made}"
    assert not [n for n in made if any(ord(c) < 32 for c in n)], f"a control character reached a file name: {made}"
    assert "\x1b" not in r.err and "\x1b" not in r.out, "an escape sequence reached the terminal"
    assert "skipping the server's name" in r.err, r
    assert not list(tmp_path.parent.glob("evil*")), "wrote outside the target folder"


def test_ls_shows_no_escape_sequences(hostile, ferry_bin, tmp_path):
    s = hostile()
    r = Ferry(ferry_bin, tmp_path)("--insecure", "ls", url(s))
    assert r.rc == 0, r
    assert "good.txt" in r.out
    assert "\x1b" not in r.out and "\x07" not in r.out and "\r" not in r.out, repr(r.out)
    assert "\\x1b]0;owned\\x07evil.txt" in r.out, repr(r.out)


def test_a_reply_larger_than_1_mib_ends_the_session(hostile, ferry_bin, tmp_path):
    s = hostile(giant_reply=True)
    r = Ferry(ferry_bin, tmp_path)("--insecure", url(s), input="pwd\n", timeout=60)
    assert r.rc != 0, r
    assert "longer than 1 MiB" in r.err, r.err[-2000:]


def test_part_file_symlink_is_not_followed(hostile, ferry_bin, tmp_path):
    """A symlink planted as good.txt's partial download file is not written through."""
    s = hostile()
    victim = tmp_path.parent / f"victim-{os.getpid()}.txt"
    victim.write_bytes(b"do not touch\n")
    try:
        work = tmp_path / "w"
        work.mkdir()
        (work / "good.txt.ferry-part").symlink_to(victim)
        r = Ferry(ferry_bin, work)("--insecure", "get", url(s) + "good.txt", str(work / "good.txt"))
        assert victim.read_bytes() == b"do not touch\n", r
        assert r.rc != 0 or (work / "good.txt").read_bytes() == b"good\n", r
    finally:
        victim.unlink()

"""A protocol fuzzer against a live ferryd (issue 12, "hostile input").

Grammar-aware: each case is a session made of valid FTP steps, mutated: commands out of order,
wrong and huge arguments, binary bytes, several commands pipelined in one write, AUTH TLS in
the middle (with a real handshake, one cut short, or none), CCC, REIN and ABOR anywhere, data
connections opened and dropped at every point (before, during and instead of the transfer),
and sessions that end abruptly (close, reset, half a command). After each case a fresh login
must work; at the end ferryd must still run, hold no more descriptors than when it started
(once its sessions have timed out), and its log must hold no sanitizer report (checked by the
fixture). A reply that does not come within DATACTTIME plus a margin is a hang and fails.

FERRY_PROTOCOL_FUZZ_SECONDS bounds the run (default 20; the sanitizer stage runs it longer),
FERRY_PROTOCOL_FUZZ_SEED replays one run: the seed and the failing case's steps are printed.
"""

from __future__ import annotations

import os
import random
import socket
import ssl
import struct
import time
from pathlib import Path

import pytest

from conftest import HOST, PASSWORD, USER, wait_until
from ftpwire import client_context

SECONDS = float(os.environ.get("FERRY_PROTOCOL_FUZZ_SECONDS", "20"))
SEED = int(os.environ.get("FERRY_PROTOCOL_FUZZ_SEED", str(random.randrange(1 << 31))))
DATACTTIME = 2
# A reply later than this is a hang: DATACTTIME bounds every wait inside the server.
REPLY_LIMIT = DATACTTIME + 7.0

VERBS = ["USER", "PASS", "ACCT", "QUIT", "REIN", "AUTH", "PBSZ", "PROT", "CCC", "NOOP", "SYST", "FEAT", "OPTS",
         "HELP", "STAT", "HOST", "TYPE", "MODE", "STRU", "ALLO", "SITE", "PWD", "CWD", "CDUP", "MKD", "RMD", "DELE",
         "RNFR", "RNTO", "SIZE", "MDTM", "MFMT", "MLST", "REST", "PASV", "EPSV", "PORT", "EPRT", "ABOR", "LIST",
         "NLST", "MLSD", "RETR", "STOR", "APPE", "STOU", "XPWD", "XCWD", "XMKD", "XRMD", "XCUP", "NOPE", "AUTHX"]
TRANSFERS = ["RETR", "STOR", "APPE", "STOU", "LIST", "NLST", "MLSD"]


class Hang(AssertionError):
    pass


class Case:
    """One fuzzed session; `steps` is its transcript for a failure message."""

    def __init__(self, srv, rng: random.Random):
        self.srv, self.rng = srv, rng
        self.steps: list[str] = []
        self.sock: socket.socket | None = None
        self.buf = b""
        self.data: socket.socket | None = None
        self.tls = False  # TLS on the control connection (an unwrapped SSLSocket stays one)

    # -- the wire
    def note(self, what: str) -> None:
        self.steps.append(what if len(what) < 200 else what[:200] + f"... ({len(what)} bytes)")

    def connect(self) -> None:
        implicit = self.rng.random() < 0.25
        self.note(f"connect {'implicit TLS' if implicit else 'plain'}")
        s = socket.create_connection((HOST, self.srv.tls_port if implicit else self.srv.port), timeout=REPLY_LIMIT)
        if implicit:
            s = client_context().wrap_socket(s, server_hostname=HOST)
        self.sock, self.tls = s, implicit
        self.reply()

    def send(self, data: bytes) -> None:
        self.note(f"> {data!r}")
        self.sock.sendall(data)

    def reply(self) -> int | None:
        """Reads one whole reply; None when the server closed the connection."""
        deadline = time.monotonic() + REPLY_LIMIT
        while True:
            while b"\n" not in self.buf:
                if time.monotonic() > deadline:
                    raise Hang(f"no reply within {REPLY_LIMIT} s")
                try:
                    chunk = self.sock.recv(65536)
                except socket.timeout as exc:
                    raise Hang(f"no reply within {REPLY_LIMIT} s") from exc
                except (ConnectionError, ssl.SSLError, OSError):
                    self.note("< (connection failed)")
                    return None
                if not chunk:
                    self.note("< (closed)")
                    return None
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            self.note(f"< {line[:120]!r}")
            if len(line) >= 4 and line[:3].isdigit() and line[3:4] == b" ":
                return int(line[:3])
            # a line of a multi-line reply, or 1xx followed by the final one: keep reading
            if len(line) >= 4 and line[:3].isdigit() and line[3:4] == b" " and line[:1] == b"1":
                continue

    def command(self, line: bytes) -> int | None:
        self.send(line + b"\r\n")
        code = self.reply()
        while code is not None and 100 <= code < 200:  # a preliminary reply: the final one follows
            code = self.reply()
        return code

    # -- mutations
    def argument(self, verb: str) -> bytes:
        r = self.rng.random()
        if r < 0.35:
            return self.valid_argument(verb)
        if r < 0.45:
            return b"x" * self.rng.choice([300, 4090, 5000, 70000])
        if r < 0.55:
            return bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(1, 40))).replace(b"\n", b"")
        if r < 0.62:
            return b"\xff\xf4\xff\xf2" + b"ABOR"  # Telnet IP + Synch around a verb
        if r < 0.70:
            return self.rng.choice([b"-1", b"18446744073709551616", b"99999999999999999999999", b"0x10", b" ", b""])
        if r < 0.78:
            return self.rng.choice([b"../../../../etc/passwd", b"/..", b"a/../../b", b"%2e%2e/%2e%2e", b"//x//y/",
                                    b"\"q\"uote", b"a\rb", b"*", b"[", b"~root"])
        if r < 0.86:
            return self.rng.choice([b"|1|127.0.0.1|1|", b"|2|::1|22|", b"|9|x|y|", b"1,2,3,4,5,6", b"127,0,0,1,0,0",
                                    b"300,0,0,1,1,1", b"|||", b"a,b,c,d,e,f"])
        return self.valid_argument(verb) + b" " + self.valid_argument(verb)

    def valid_argument(self, verb: str) -> bytes:
        rng = self.rng
        table = {
            "USER": [USER.encode(), b"anonymous", b"root"], "PASS": [PASSWORD.encode(), b"wrong"],
            "AUTH": [b"TLS", b"SSL", b"TLS-C", b"TLS-P", b"GSSAPI"], "PBSZ": [b"0", b"1"], "PROT": [b"P", b"C", b"S", b"E"],
            "TYPE": [b"A", b"I", b"L 8", b"E"], "MODE": [b"S", b"B"], "STRU": [b"F", b"R"], "OPTS": [b"UTF8 ON", b"MLST size;"],
            "REST": [b"0", b"3", b"100000"], "EPSV": [b"", b"1", b"2", b"ALL"], "SITE": [b"HELP", b"CHMOD 600 f.txt"],
            "MFMT": [b"20200101000000 f.txt"], "HOST": [b"localhost"], "HELP": [b"RETR", b""],
            "PORT": [b"127,0,0,1,200,1"], "EPRT": [b"|1|127.0.0.1|51201|"],
        }
        if verb in table:
            return rng.choice(table[verb])
        return rng.choice([b"f.txt", b"dir", b"new.bin", b".", b"dir/sub", b"missing", b""])

    # -- steps
    def step(self) -> bool:
        """One step; False when the session is over."""
        r = self.rng.random()
        if r < 0.45:
            verb = self.rng.choice(VERBS)
            if self.rng.random() < 0.1:
                verb = verb.lower()
            arg = self.argument(verb.upper())
            code = self.command(verb.encode() + (b" " + arg if arg else b""))
            return self.follow(verb.upper(), code)
        if r < 0.55:  # pipelined: several commands in one write, replies read afterwards
            lines = [self.rng.choice([b"NOOP", b"PWD", b"TYPE I", b"SYST", b"USER " + USER.encode(),
                                      b"PASS " + PASSWORD.encode(), b"EPSV", b"STAT"]) for _ in range(self.rng.randrange(2, 6))]
            self.send(b"\r\n".join(lines) + b"\r\n")
            for _ in lines:
                code = self.reply()
                while code is not None and 100 <= code < 200:
                    code = self.reply()
                if code is None:
                    return False
            return True
        if r < 0.63:
            return self.auth_tls()
        if r < 0.80:
            return self.data_step()
        if r < 0.87:
            verb = self.rng.choice(["ABOR", "REIN", "CCC", "QUIT"])
            return self.follow(verb, self.command(verb.encode()))
        return self.end_abruptly()

    def follow(self, verb: str, code: int | None) -> bool:
        """What a real client does after a reply that changes the connection: the TLS handshake
        after 234, the end of TLS after CCC's 200 and after REIN's 220 at RFC4217. False when
        the session is over."""
        if code is None or code == 421 or verb == "QUIT":
            return False
        secure = self.tls
        if verb == "AUTH" and code == 234 and not secure:
            return self.handshake()
        if secure and ((verb == "CCC" and code == 200) or (verb == "REIN" and code == 220)):
            return self.leave_tls()
        return True

    def handshake(self) -> bool:
        self.buf = b""
        try:
            self.sock = client_context().wrap_socket(self.sock, server_hostname=HOST)
            self.tls = True
            self.note("-- TLS")
        except (ssl.SSLError, OSError):
            self.note("-- TLS failed")
            return False
        return True

    def auth_tls(self) -> bool:
        if self.tls:
            return self.command(b"AUTH TLS") is not None
        mode = self.rng.choice(["handshake", "handshake", "cut", "none", "pipelined"])
        if mode == "pipelined":
            self.send(b"AUTH TLS\r\nUSER mallory\r\n")
        else:
            self.send(b"AUTH TLS\r\n")
        code = self.reply()
        if code != 234:
            return code is not None
        if mode == "none":  # carry on in clear: the server expects a ClientHello
            return self.command(b"NOOP") is not None
        if mode == "cut":  # half a ClientHello, then the end
            self.send(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + bytes(20))
            self.sock.close()
            return False
        return self.handshake()

    def leave_tls(self) -> bool:
        try:
            self.sock = self.sock.unwrap()
            self.tls = False
            self.note("-- TLS ended")
            return True
        except (ssl.SSLError, OSError, ValueError):
            return False

    def data_step(self) -> bool:
        verb = self.rng.choice(["EPSV", "PASV"])
        self.send(verb.encode() + b"\r\n")
        code = self.reply()
        if code is None:
            return False
        if code not in (227, 229):
            return True
        port = self.srv.pasv_range[0]
        line = self.steps[-1]
        try:
            if code == 229:
                port = int(line.split("|||")[1].split("|")[0])
            else:
                nums = line.split("(")[1].split(")")[0].split(",")
                port = int(nums[4]) * 256 + int(nums[5])
        except (IndexError, ValueError):
            return True
        # "never" costs DATACTTIME (the server waits for the connection, then 425): rarer.
        when = self.rng.choices(["before", "never", "drop-before", "after-150"], weights=[4, 1, 3, 4])[0]
        transfer = self.rng.choice(TRANSFERS)
        arg = b" " + self.valid_argument(transfer) if transfer not in ("LIST", "NLST", "MLSD", "STOU") else b""
        data = None
        if when in ("before", "drop-before"):
            data = self.open_data(port)
            if when == "drop-before" and data:
                self.drop(data)
                data = None
        self.send(transfer.encode() + arg + b"\r\n")
        code = self.reply()
        if code is None:
            return False
        if 100 <= code < 200:
            if data is None and when == "after-150":
                data = self.open_data(port)
            if data is not None:
                self.move(data, transfer)
            code = self.reply()
            while code is not None and 100 <= code < 200:
                code = self.reply()
            if code is None:
                return False
        if data is not None:
            self.drop(data)
        return True

    def open_data(self, port: int) -> socket.socket | None:
        try:
            s = socket.create_connection((HOST, port), timeout=REPLY_LIMIT)
            self.note(f"-- data connection to {port}")
            return s
        except OSError:
            self.note(f"-- data connection to {port} failed")
            return None

    def move(self, data: socket.socket, transfer: str) -> None:
        how = self.rng.choice(["all", "some", "junk", "nothing"])
        self.note(f"-- data: {how}")
        try:
            if transfer in ("STOR", "APPE", "STOU"):
                if how == "all":
                    data.sendall(os.urandom(self.rng.randrange(0, 200000)))
                    data.shutdown(socket.SHUT_WR)
                elif how in ("some", "junk"):
                    data.sendall(b"\x16\x03\x01" + os.urandom(self.rng.randrange(1, 5000)))
            else:
                if how == "all":
                    data.settimeout(REPLY_LIMIT)
                    while data.recv(65536):
                        pass
                elif how == "some":
                    data.recv(100)
        except OSError:
            pass
        if how != "all":
            self.drop(data)

    def drop(self, s: socket.socket) -> None:
        try:
            if self.rng.random() < 0.5:  # a reset instead of a FIN
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        except OSError:
            pass

    def end_abruptly(self) -> bool:
        how = self.rng.choice(["close", "reset", "half-line", "huge-unterminated"])
        self.note(f"-- end: {how}")
        try:
            if how == "half-line":
                self.sock.sendall(b"RETR f.t")
            elif how == "huge-unterminated":
                self.sock.sendall(b"A" * 100000)
            if how == "reset":
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()
        return False

    def close(self) -> None:
        try:
            if self.sock:
                self.sock.close()
        except OSError:
            pass

    def log_in(self) -> bool:
        """Most cases start logged in (sometimes under TLS), so that the steps reach the file and
        data commands instead of stopping at 530."""
        if not self.tls and self.rng.random() < 0.4:
            self.send(b"AUTH TLS\r\n")
            if self.reply() != 234 or not self.handshake():
                return False
        return self.command(b"USER " + USER.encode()) == 331 and self.command(b"PASS " + PASSWORD.encode()) == 230

    def run(self, steps: int) -> None:
        self.connect()
        if self.rng.random() < 0.75 and not self.log_in():
            self.close()
            return
        for _ in range(steps):
            if not self.step():
                break
        self.close()


def fresh_login_works(srv) -> bool:
    with socket.create_connection((HOST, srv.port), timeout=REPLY_LIMIT) as s:
        f = s.makefile("rb")
        if not f.readline().startswith(b"220"):
            return False
        s.sendall(f"USER {USER}\r\nPASS {PASSWORD}\r\n".encode())
        first, second = f.readline(), f.readline()
        s.sendall(b"QUIT\r\n")
        return first.startswith(b"331") and second.startswith(b"230")


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_live_server_survives_fuzzed_sessions(ferryd_factory):
    srv = ferryd_factory("fuzzed", overrides={
        "DATACTTIME": str(DATACTTIME), "INACTIVE": "5", "LOGINTIMEOUT": "5",
        # Every login from 127.0.0.1: no address lockout, many sessions at once.
        "LOGINATTEMPTS": "0", "MAXSESSIONSPERHOST": "0", "SECURE_DATACONN": "CLEAR",
        "TLSRFCLEVEL": "RFC4217",  # CCC accepted: the control connection goes back to clear
    })
    (srv.home / "f.txt").write_bytes(os.urandom(300000))
    (srv.home / "dir" / "sub").mkdir(parents=True)
    baseline = descriptors(srv.proc.pid)
    print(f"protocol fuzz: seed {SEED}, {SECONDS} s (FERRY_PROTOCOL_FUZZ_SEED={SEED} replays it)")
    rng = random.Random(SEED)
    end = time.monotonic() + SECONDS
    cases = 0
    while time.monotonic() < end:
        case = Case(srv, rng)
        try:
            case.run(rng.randrange(1, 25))
        except Hang as exc:
            pytest.fail(f"seed {SEED} case {cases}: {exc}; steps:\n" + "\n".join(case.steps), pytrace=False)
        except (ConnectionError, ssl.SSLError, OSError):
            pass  # the server closed on us: allowed, as long as it serves the next one
        finally:
            case.close()
        cases += 1
        assert srv.alive, f"seed {SEED} case {cases}: ferryd died; steps:\n" + "\n".join(case.steps) + "\n" + srv.log[-5000:]
        if not fresh_login_works(srv):
            pytest.fail(f"seed {SEED} case {cases}: no fresh login after it; steps:\n" + "\n".join(case.steps),
                        pytrace=False)
    print(f"protocol fuzz: {cases} cases")
    assert cases > 0
    # Sessions still open end by INACTIVE/LOGINTIMEOUT/DATACTTIME; then every descriptor they
    # held must be back.
    wait_until(lambda: descriptors(srv.proc.pid) <= baseline, f"ferryd back to {baseline} descriptors "
               f"(seed {SEED})", deadline=30)
    assert srv.alive

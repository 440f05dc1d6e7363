"""balancer_lab: several ferryd nodes behind HAProxy, in network namespaces (issue 15).

    client c 203.0.113.2 (+ .3) --pub-- 203.0.113.1 lb (HAProxy; router, masquerade to pub)
                                           10.20.1.1 --n1-- 10.20.1.2 n1 (ferryd, passive 50000-50099)
                                           10.20.2.1 --n2-- 10.20.2.2 n2 (ferryd, passive 50100-50199)
                                           10.20.3.1 --n3-- 10.20.3.2 n3 (ferryd, passive 50200-50299)

The client reaches the site as ftp://203.0.113.1:21/ (ftps://203.0.113.1:990/ with implicit TLS).
HAProxy runs in ``lb`` with the configuration that ``ferryd haproxy-config`` prints (control
ports balanced over the nodes, each node's passive range forwarded to that node only, PROXY v2
to every node); the nodes trust PROXY headers from 10.20.0.0/16 only, advertise 203.0.113.1 in
PASV replies and serve the same folder (the namespaces share the file system: one folder is the
"shared storage"). Active-mode data connections leave through lb's masquerade (counter
``fy-masq``). ``lb`` also holds 10.30.1.1, an address outside PROXYPROTOCOL FROM, for direct
connections the nodes must refuse.

Built on netlab (namespaces, processes, teardown) and fwlab (curl/lftp/ferry runners, reply
parsing): ``BalancedNet`` is a ``fwlab.Net`` whose server is the balancer. Probes that no FTP
client can make (a third address in PORT, a data connection from another address, hand-made
PROXY headers, TLS resumption across nodes) are functions of this module named ``remote_*``,
run inside a namespace by ``Balancer.remote`` (a python3 subprocess that imports this module).
"""

from __future__ import annotations

import dataclasses
import ftplib
import hashlib
import json
import os
import re
import socket
import ssl
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import fwlab
import netlab

HERE = Path(__file__).resolve().parent

PUBLIC = "203.0.113.1"       # the balancer's public address (the site's address)
CLIENT = "203.0.113.2"       # the client
CLIENT2 = "203.0.113.3"      # a second address of the client namespace (another client)
THIRD = "203.0.113.9"        # an address nobody has (FTP bounce target)
UNTRUSTED = "10.30.1.1"      # an address of lb outside PROXYPROTOCOL FROM
TRUSTED = "10.20.0.0/16"     # PROXYPROTOCOL FROM
CONTROL_PORT = 21
TLS_PORT = 990
PASV_BASE, PASV_SIZE = 50000, 100
DATA_TIMEOUT = 5             # ferryd DATACTTIME
USER = "alice"               # the same account as fwlab's (its runners log in with it)
PASSWORD = "Alice-pw-7781"


def node_addr(k: int) -> str:
    return f"10.20.{k}.2"


def node_gw(k: int) -> str:
    return f"10.20.{k}.1"


def node_ports(k: int) -> tuple[int, int]:
    lo = PASV_BASE + PASV_SIZE * (k - 1)
    return lo, lo + PASV_SIZE - 1


def node_of_port(port: int) -> int:
    """The node whose passive range holds port (0 if none)."""
    k = (port - PASV_BASE) // PASV_SIZE + 1
    return k if port >= PASV_BASE and 1 <= k <= 9 else 0


def proxy_v1(src: str, dst: str, sport: int, dport: int) -> bytes:
    return f"PROXY TCP4 {src} {dst} {sport} {dport}\r\n".encode()


PROXY_V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_v2(src: str, dst: str, sport: int, dport: int) -> bytes:
    """A PROXY v2 header: command PROXY, TCP over IPv4."""
    body = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    return PROXY_V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def proxy_v2_local() -> bytes:
    """A PROXY v2 header with command LOCAL (what HAProxy's health checks send): the receiver
    must use the connection's own endpoints."""
    return PROXY_V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack("!H", 0)


# --------------------------------------------------------------------------
# The network, the nodes and the balancer


@dataclass
class Node:
    k: int
    root: Path
    config: Path
    events: Path               # JSONLOG
    statements: list[str]
    proc: netlab.Proc
    meant_to_stop: bool = False   # a test kills or drains it

    @property
    def addr(self) -> str:
        return node_addr(self.k)

    @property
    def short(self) -> str:
        return f"n{self.k}"

    @property
    def log(self) -> str:
        return self.proc.log

    def event_list(self) -> list[dict]:
        out = []
        try:
            text = self.events.read_text(errors="replace")
        except OSError:
            return out
        for line in text.splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
        return out


class Balancer:
    """The topology above with `nodes` node namespaces (1..3); nothing runs until
    start_nodes()/start_haproxy()."""

    def __init__(self, lab: netlab.Lab, pki: dict, tmp: Path, nodes: int = 3):
        self.lab, self.pki, self.tmp, self.count = lab, pki, Path(tmp), nodes
        self.nodes: dict[int, Node] = {}
        self.haproxy: netlab.Proc | None = None
        self.haproxy_cfg: str = ""
        self.home = self.tmp / "shared"       # every node serves this folder
        self.home.mkdir(parents=True, exist_ok=True)
        self.users = self.tmp / "users"
        self.users.write_text(f"{USER}:{pki['hash']}:{self.home}\n")
        self.ticket_key = self.tmp / "ticket.key"
        self.ticket_key.write_bytes(os.urandom(48))
        self.ticket_key.chmod(0o600)
        self._build()

    def _build(self) -> None:
        lab = self.lab
        lab.add_ns("c")
        lab.add_ns("lb", router=True)
        lab.link("c", "eth0", "lb", "pub")
        lab.addr("c", "eth0", f"{CLIENT}/24")
        lab.addr("c", "eth0", f"{CLIENT2}/24")
        lab.addr("lb", "pub", f"{PUBLIC}/24")
        lab.route("c", "default", PUBLIC)
        for k in range(1, self.count + 1):
            lab.add_ns(f"n{k}")
            lab.link("lb", f"n{k}", f"n{k}", "eth0")
            lab.addr("lb", f"n{k}", f"{node_gw(k)}/24")
            lab.addr(f"n{k}", "eth0", f"{node_addr(k)}/24")
            lab.route(f"n{k}", "default", node_gw(k))
        lab.addr("lb", "n1", f"{UNTRUSTED}/32")
        # Connections the nodes open towards the client side (active data) leave as 203.0.113.1.
        lab.nft("lb", """table ip fylb {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "pub" counter masquerade comment "fy-masq"
  }
}
""")

    # nodes -------------------------------------------------------------------
    def node_statements(self, k: int, *, proxy: bool = True, ticket_key: Path | None | bool = True,
                        extra: tuple[str, ...] = ()) -> list[str]:
        lo, hi = node_ports(k)
        st = [
            f"LISTEN 0.0.0.0 {CONTROL_PORT}",
            f"TLSPORT {TLS_PORT}",
            "RUNAS root",
            f"KEYRING {self.pki['pem']}",
            f"USERS {self.users}",
            "EXTENSIONS AUTH_TLS",
            "SECURE_FTP REQUIRED",
            "SECURE_DATACONN PRIVATE",
            f"DATACTTIME {DATA_TIMEOUT}",
            f"PASSIVEDATAPORTS {lo} {hi}",
            f"PASSIVEADDRESS {PUBLIC}",
        ]
        if proxy:
            st.append(f"PROXYPROTOCOL FROM {TRUSTED}")
        if ticket_key is True:
            st.append(f"TICKETKEYFILE {self.ticket_key}")
        elif ticket_key:
            st.append(f"TICKETKEYFILE {ticket_key}")
        return st + list(extra)

    def start_node(self, k: int, *extra: str, proxy: bool = True,
                   ticket_key: Path | None | bool = True) -> Node:
        """ferryd in namespace n<k>; returns once it greets (through a PROXY header of its own
        when proxy: a bare connection gets no greeting)."""
        n = sum(1 for p in self.lab.procs if f"ferryd-n{k}" in p.log_path.name) + 1
        root = self.tmp / f"node{k}-{n}"
        root.mkdir(parents=True)
        events = root / "events.jsonl"
        statements = self.node_statements(k, proxy=proxy, ticket_key=ticket_key,
                                          extra=(f"JSONLOG {events}", *extra))
        config = root / "ferryd.conf"
        config.write_text(f"; node {k}: written by tests/netns/balancer_lab.py\n" + "\n".join(statements) + "\n")
        proc = self.lab.spawn(f"n{k}", [fwlab.ferryd_path(), "--config", str(config), "--verbose"],
                              name=f"ferryd-n{k}", cwd=root)
        node = Node(k, root, config, events, statements, proc)
        self.nodes[k] = node
        try:
            if proxy:
                r = self.remote(f"n{k}", "wait_greeting", host=node.addr, port=CONTROL_PORT,
                                source=node.addr, header=proxy_v1(node.addr, node.addr, 40000, CONTROL_PORT).hex(),
                                deadline=10)
                if not r["ready"]:
                    raise netlab.LabError(f"no greeting: {r}")
            else:
                self.lab.wait_greeting(f"n{k}", node.addr, CONTROL_PORT, deadline=10)
        except netlab.LabError as exc:
            raise netlab.LabError(f"ferryd on node {k} did not start: {exc}\nlog:\n{proc.log[-6000:]}") from None
        return node

    def start_nodes(self, *extra: str, proxy: bool = True, ticket_key: Path | None | bool = True,
                    nodes: list[int] | None = None) -> list[Node]:
        return [self.start_node(k, *extra, proxy=proxy, ticket_key=ticket_key)
                for k in (nodes or range(1, self.count + 1))]

    def logs(self) -> str:
        return "\n".join(n.log for n in self.nodes.values())

    # the balancer ------------------------------------------------------------
    def generate_haproxy_config(self, nodes: list[int] | None = None, tls_port: bool = True) -> str:
        """`ferryd haproxy-config` for the nodes (all by default)."""
        argv = [fwlab.ferryd_path(), "haproxy-config", "--public", PUBLIC, "--port", str(CONTROL_PORT)]
        for k in nodes or range(1, self.count + 1):
            lo, hi = node_ports(k)
            argv += ["--node", f"{node_addr(k)}:{lo}-{hi}"]
        if tls_port:
            argv += ["--tls-port", str(TLS_PORT)]
        r = netlab.sh(argv, timeout=20)
        return r.stdout.decode()

    def start_haproxy(self, cfg: str | None = None) -> netlab.Proc:
        """haproxy -f CFG -db in lb (the generated configuration unless cfg is given);
        returns once it listens on the control port."""
        self.haproxy_cfg = cfg if cfg is not None else self.generate_haproxy_config()
        path = self.tmp / "haproxy.cfg"
        path.write_text(self.haproxy_cfg)
        haproxy = fwlab._tool("haproxy")
        check = self.lab.run("lb", [haproxy, "-c", "-f", str(path)], timeout=20)
        if check.rc != 0:
            raise netlab.LabError(f"haproxy -c rejects the configuration:\n{check}\n--- haproxy.cfg ---\n"
                                  f"{self.haproxy_cfg}")
        self.haproxy = self.lab.spawn("lb", [haproxy, "-f", str(path), "-db"], name="haproxy", cwd=self.tmp)
        deadline = time.monotonic() + 10
        while not self.listening("lb", PUBLIC, CONTROL_PORT):
            if not self.haproxy.alive or time.monotonic() > deadline:
                raise netlab.LabError(f"haproxy did not start:\n{self.haproxy.log}\n--- haproxy.cfg ---\n"
                                      f"{self.haproxy_cfg}")
            time.sleep(0.05)
        return self.haproxy

    def stop_all(self) -> None:
        """Stop haproxy and every node (SIGTERM, then SIGKILL after 5 s)."""
        if self.haproxy:
            self.haproxy.stop()
            self.haproxy = None
        for node in self.nodes.values():
            node.meant_to_stop = True
            node.proc.stop()
        self.nodes.clear()

    def listening(self, short: str, addr: str, port: int) -> bool:
        r = self.lab.run(short, ["ss", "-Hltn", f"sport = :{port}"], timeout=10)
        return any(f"{addr}:{port}" in line or f"*:{port}" in line or f"0.0.0.0:{port}" in line
                   for line in r.out.decode().splitlines())

    # clients -----------------------------------------------------------------
    def net(self):
        """A fwlab.Net whose server is the site behind the balancer (curl, lftp, ferry runners)."""
        first = self.nodes[min(self.nodes)] if self.nodes else None
        server = fwlab.Server(first.proc, first.config, self.home, first.statements) if first else None
        return BalancedNet(lab=self.lab, pki=self.pki, tmp=self.tmp, server_fw=False, server_ns="lb",
                           server=server, bal=self)

    def remote(self, short: str, fn: str, *, timeout: float = 60, **kw):
        """remote_<fn>(**kw) of this module, run in namespace `short`; its JSON result."""
        r = self.lab.run(short, [netlab.PYTHON, "-c", _BOOT, str(HERE), fn, json.dumps(kw)], timeout=timeout)
        if r.rc != 0:
            raise netlab.LabError(f"remote_{fn} in {self.lab.ns(short)} failed:\n{r}")
        return json.loads(r.out.decode().strip().splitlines()[-1])


@dataclass
class BalancedNet(fwlab.Net):
    """fwlab.Net whose server is the site behind the balancer: fwlab's curl/lftp/ferry
    runners, upload/download/roundtrip and reply parsers work on it unchanged."""
    bal: Balancer | None = None

    def url(self, path: str = "") -> str:
        return f"ftp://{PUBLIC}:{CONTROL_PORT}/{path}"

    def implicit_url(self, path: str = "") -> str:
        return f"ftps://{PUBLIC}:{TLS_PORT}/{path}"

    def lftp(self, commands, settings=(), timeout: float = 60):
        # fwlab's script opens ftp://198.51.100.2 first; lftp connects lazily, so this
        # second `open` names the site before any connection is made.
        return super().lftp([f"open -u {USER},{PASSWORD} -p {CONTROL_PORT} ftp://{PUBLIC}", *commands],
                            settings, timeout=timeout)

    def server_log(self) -> str:
        return self.bal.logs()

    def view(self, name: str) -> "BalancedNet":
        """A copy with its own client folder (password file, HOME, lftp scripts) for a client
        that runs beside others."""
        d = self.tmp / name
        d.mkdir(parents=True, exist_ok=True)
        return dataclasses.replace(self, tmp=d)


def nodes_used(res) -> list[int]:
    """Nodes that served a client run, from the ports of its PASV/EPSV replies."""
    return [node_of_port(p) for p in fwlab.ports_used(res)]


# --------------------------------------------------------------------------
# Probes run inside a namespace (Balancer.remote): plain sockets and ftplib, JSON results

_BOOT = ("import json, sys; sys.path.insert(0, sys.argv[1]); import balancer_lab as b; "
         "print(json.dumps(getattr(b, 'remote_' + sys.argv[2])(**json.loads(sys.argv[3]))))")


def _client_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class _FTPS(ftplib.FTP_TLS):
    """FTP_TLS that offers a saved TLS session on AUTH TLS."""
    offer_session = None

    def auth(self):
        resp = self.voidcmd("AUTH TLS")
        self.sock = self.context.wrap_socket(self.sock, server_hostname=self.host, session=self.offer_session)
        self.file = self.sock.makefile(mode="r", encoding=self.encoding)
        return resp


def _login(host: str, port: int, source: str, ctx: ssl.SSLContext, session=None) -> _FTPS:
    ftp = _FTPS(context=ctx, timeout=15, source_address=(source, 0))
    ftp.offer_session = session
    ftp.connect(host, port)
    ftp.login(USER, PASSWORD)
    ftp.prot_p()
    return ftp


def _epsv_port(ftp: ftplib.FTP) -> int:
    resp = ftp.sendcmd("EPSV")
    m = re.search(r"\(\|\|\|(\d+)\|\)", resp)
    if not m:
        raise ftplib.error_reply(resp)
    return int(m.group(1))


def _err(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _read_line(sock: socket.socket, timeout: float) -> tuple[str, bool]:
    """(first line or all that came, closed?) within timeout."""
    sock.settimeout(timeout)
    buf, closed = b"", False
    try:
        while b"\n" not in buf:
            chunk = sock.recv(4096)
            if not chunk:
                closed = True
                break
            buf += chunk
    except socket.timeout:
        pass
    except ConnectionResetError:
        closed = True
    return buf.decode(errors="replace"), closed


def remote_connect(host: str, port: int, source: str | None = None, send_hex: str = "",
                   wait: float = 8.0) -> dict:
    """Connect (from source), send bytes, read until a line arrives, the peer closes or `wait`
    passes."""
    t0 = time.monotonic()
    try:
        s = socket.create_connection((host, port), timeout=5,
                                     source_address=(source, 0) if source else None)
    except OSError as exc:
        return {"connected": False, "error": _err(exc), "data": "", "closed": True, "seconds": 0.0}
    with s:
        if send_hex:
            s.sendall(bytes.fromhex(send_hex))
        s.settimeout(wait)
        data, closed = b"", False
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline:
                s.settimeout(max(0.01, deadline - time.monotonic()))
                chunk = s.recv(4096)
                if not chunk:
                    closed = True
                    break
                data += chunk
                if b"\n" in data:   # a reply line: enough
                    break
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
        return {"connected": True, "data": data.decode(errors="replace"), "closed": closed,
                "seconds": round(time.monotonic() - t0, 2)}


def remote_wait_greeting(host: str, port: int, source: str, header: str, deadline: float) -> dict:
    """Until deadline: connect from source, send header (hex), wait for a 220."""
    end, last = time.monotonic() + deadline, None
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, port), timeout=2, source_address=(source, 0)) as s:
                s.sendall(bytes.fromhex(header))
                line, _ = _read_line(s, 2)
                if line.startswith("220"):
                    return {"ready": True}
                last = line
        except OSError as exc:
            last = _err(exc)
        time.sleep(0.05)
    return {"ready": False, "last": last}


def remote_sessions(host: str, port: int, sources: list[str]) -> list[dict]:
    """Open control connections from each source in turn, all kept open until the last one
    has its first reply; each one's first line and whether the server closed it."""
    held, out = [], []
    try:
        for src in sources:
            try:
                s = socket.create_connection((host, port), timeout=5, source_address=(src, 0))
            except OSError as exc:
                out.append({"source": src, "reply": "", "closed": True, "error": _err(exc)})
                continue
            held.append(s)
            line, closed = _read_line(s, 10)
            if line.startswith("421") and not closed:
                _, closed = _read_line(s, 5)
            out.append({"source": src, "reply": line.strip(), "closed": closed})
    finally:
        for s in held:
            s.close()
    return out


def remote_bad_logins(host: str, port: int, source: str, count: int) -> list[str]:
    """count logins with a wrong password (TLS first), one connection each; the replies."""
    out = []
    for _ in range(count):
        ftp = _FTPS(context=_client_context(), timeout=15, source_address=(source, 0))
        try:
            ftp.connect(host, port)
            ftp.login(USER, PASSWORD + "-wrong")
            out.append("logged in")
        except ftplib.all_errors as exc:
            out.append(str(exc))
        finally:
            ftp.close()
    return out


def _active_download(ftp: _FTPS, name: str, command: str, addr: str) -> dict:
    """RETR name over an active data connection announced with `command` (PORT or EPRT) for
    addr; the listening socket is the client's own."""
    peers: list = []

    class Listener(socket.socket):
        def accept(self):
            conn, peer = super().accept()
            peers.append(peer)
            return conn, peer

    def makeport():
        sock = Listener(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((addr, 0))
        sock.listen(1)
        p = sock.getsockname()[1]
        if command == "PORT":
            ftp.voidcmd("PORT " + ",".join(addr.split(".") + [str(p >> 8), str(p & 255)]))
        else:
            ftp.voidcmd(f"EPRT |1|{addr}|{p}|")
        return sock

    ftp.set_pasv(False)
    ftp.makeport = makeport
    h = hashlib.sha256()
    try:
        resp = ftp.retrbinary(f"RETR {name}", h.update)
        return {"reply": resp, "sha256": h.hexdigest(), "peer": peers[0][0] if peers else ""}
    except ftplib.all_errors as exc:
        return {"reply": _err(exc), "sha256": "", "peer": peers[0][0] if peers else ""}


def remote_port_checks(host: str, port: int, source: str, third: str, name: str) -> dict:
    """PORT and EPRT naming a third address (must be refused), then active downloads with
    PORT and EPRT naming the client's own address."""
    ctx = _client_context()
    ftp = _login(host, port, source, ctx)
    out = {}
    p = 50505
    for label, cmd in (("port_third", "PORT " + ",".join(third.split(".") + [str(p >> 8), str(p & 255)])),
                       ("eprt_third", f"EPRT |1|{third}|{p}|")):
        try:
            out[label] = ftp.sendcmd(cmd)
        except ftplib.all_errors as exc:
            out[label] = str(exc)
    out["port_own"] = _active_download(ftp, name, "PORT", source)
    out["eprt_own"] = _active_download(ftp, name, "EPRT", source)
    try:
        ftp.quit()
    except ftplib.all_errors:
        pass
    return out


def remote_steal(host: str, port: int, client: str, thief: str, name: str) -> dict:
    """A session from `client` asks for EPSV; `thief` connects to that port first and tries a
    TLS handshake and a read; then the client connects, sends RETR and reads."""
    ctx = _client_context()
    ftp = _login(host, port, client, ctx)
    dport = _epsv_port(ftp)
    out: dict = {"port": dport}

    def steal():
        t0 = time.monotonic()
        try:
            s = socket.create_connection((host, dport), timeout=10, source_address=(thief, 0))
        except OSError as exc:
            out["thief"] = "connect: " + _err(exc)
            return
        out["thief_connected"] = True
        try:
            with ctx.wrap_socket(s, server_hostname=host) as t:
                t.settimeout(10)
                data = t.recv(1 << 16)
                out["thief"] = f"read {len(data)} bytes"
                out["thief_bytes"] = len(data)
        except (OSError, ssl.SSLError) as exc:
            out["thief"] = _err(exc)
        finally:
            s.close()
            out["thief_seconds"] = round(time.monotonic() - t0, 2)

    th = threading.Thread(target=steal)
    th.start()
    th.join(4)   # refused at once (early accept), or still waiting for ferryd to accept at RETR
    h = hashlib.sha256()
    try:
        ftp.voidcmd("TYPE I")
        conn = socket.create_connection((host, dport), timeout=15, source_address=(client, 0))
        out["retr"] = ftp.sendcmd(f"RETR {name}")
        if out["retr"].startswith("1"):
            with ctx.wrap_socket(conn, server_hostname=host) as t:
                while data := t.recv(1 << 16):
                    h.update(data)
                t.unwrap()
            out["final"] = ftp.voidresp()
            out["sha256"] = h.hexdigest()
    except ftplib.all_errors as exc:
        out.setdefault("retr", "")
        out["final"] = _err(exc)
    th.join(15)
    try:
        ftp.quit()
    except ftplib.all_errors:
        pass
    return out


def remote_resume(host: str, port: int, source: str, tries: int) -> list[dict]:
    """One control connection, then `tries` more, each offering the TLS session (ticket) the
    first one received; for each: the node's passive port (EPSV) and whether TLS resumed."""
    ctx = _client_context()
    out, session = [], None
    for i in range(tries + 1):
        try:
            ftp = _login(host, port, source, ctx, session)
            dport = _epsv_port(ftp)
            out.append({"port": dport, "node": node_of_port(dport), "reused": ftp.sock.session_reused,
                        "offered": session is not None})
            if i == 0:
                session = ftp.sock.session
            ftp.quit()
        except ftplib.all_errors as exc:
            out.append({"error": _err(exc), "offered": session is not None})
    return out

"""fwlab: the firewall scenarios' network, firewalls, server and clients (issue 5).

Every test gets a fresh laboratory (``lab`` fixture): network namespaces named
``fy<pid>-<n>-<short>``, veth links and nftables rulesets built by ``netlab``; the
finalizer stops every process and deletes every namespace, even when the test fails.
Namespaces left by an earlier run whose process is gone are removed at session start.

Addresses (they exist only inside the namespaces):

    client c 10.1.0.2 --lan-- 10.1.0.1 fc 198.51.100.1 --wan-- 198.51.100.2 ...
      "server public":       ... s (ferryd) 198.51.100.2
      "server behind a firewall": ... fs 198.51.100.2 --lan-- 10.2.0.1 / 10.2.0.2 s (ferryd)

So the server is always reached as ftp://198.51.100.2:21/ (TEST-NET-2 is the "public"
transit net); the control port is the real port 21 because the FTP conntrack helper
(dynamic filtering, scenario 5) is bound to it.

The server under test is $FERRYD; the Ferry client is $FERRY (or build*/ferry).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import netlab

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

CLIENT = "10.1.0.2"
CLIENT_GW = "10.1.0.1"
FC_PUBLIC = "198.51.100.1"       # the client firewall's public (masquerade) address
SERVER_PUBLIC = "198.51.100.2"   # the server, or its firewall's public address
SERVER_PRIVATE = "10.2.0.2"
SERVER_GW = "10.2.0.1"
CONTROL_PORT = 21
PASV_LO, PASV_HI = 30000, 30009  # the range the static filters permit (and the DNAT publishes)
OUTSIDE_PORT = 31005             # a port no rule permits
DATA_TIMEOUT = 5                 # ferryd DATACTTIME: blocked data connections fail fast
CLIENT_TIMEOUT = 5               # connect/net timeout given to curl, lftp and ferry

USER = "alice"
PASSWORD = "Alice-pw-7781"



def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tool(name: str) -> str:
    for d in ("/usr/bin", "/usr/sbin", "/bin", "/sbin"):
        if os.access(f"{d}/{name}", os.X_OK):
            return f"{d}/{name}"
    path = shutil.which(name)
    if not path:
        pytest.fail(f"{name} is not installed: the firewall scenarios need it "
                    f"(scripts/install-deps with FERRY_WITH_TESTS=1)", pytrace=False)
    return path


def ferryd_path() -> str:
    path = os.environ.get("FERRYD")
    if not path:
        for cand in (REPO / "build" / "ferryd",):
            if os.access(cand, os.X_OK):
                return str(cand)
        pytest.fail("FERRYD is not set: run through ctest or set FERRYD=/path/to/ferryd", pytrace=False)
    if not os.access(path, os.X_OK):
        pytest.fail(f"FERRYD={path} is not an executable file", pytrace=False)
    return path


def ferry_path() -> str:
    path = os.environ.get("FERRY")
    if path:
        if not os.access(path, os.X_OK):
            pytest.fail(f"FERRY={path} is not an executable file", pytrace=False)
        return path
    for cand in (REPO / "build" / "ferry", REPO / "build-client" / "ferry"):
        if os.access(cand, os.X_OK):
            return str(cand)
    pytest.fail("the ferry client is not built: set FERRY=/path/to/ferry (ctest sets it when "
                "the ferry target exists)", pytrace=False)


# --------------------------------------------------------------------------
# Firewall rulesets (nftables). Every rule that matters carries a counter and a
# comment, so a test can show which rule a packet met:
#   fy-est   established traffic        fy-rel   RELATED (pinholes the FTP helper opened)
#   fy-ctl   new control connections    fy-pasv  new passive data connections (static rule)
#   fy-drop  everything else that was dropped


def _helper_block(iif: str) -> str:
    return f"""
  ct helper ftp-std {{ type "ftp" protocol tcp; }}
  chain helpers {{
    type filter hook prerouting priority filter; policy accept;
    iifname "{iif}" tcp dport {CONTROL_PORT} ct helper set "ftp-std" comment "fy-helper"
  }}"""


def client_firewall(*, nat: bool = True, filtering: str = "none",
                    ports: tuple[int, int] = (PASV_LO, PASV_HI)) -> str:
    """The client's router fc: lan = the client's private net, wan = the public net.

    filtering: "none"     NAT only;
               "static"   default drop, established/related, new to port 21 and `ports`;
               "dynamic"  default drop, established/related, new to port 21, the FTP
                          conntrack helper on port 21 (pinholes for what it reads in clear);
               "noactive" accept, but drop new connections from the server side (wan)
                          toward the client side (active-mode data connections)."""
    out = []
    if nat:
        out.append("""table ip fynat {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade comment "fy-masq"
  }
}""")
    if filtering in ("static", "dynamic"):
        helper = _helper_block("lan") if filtering == "dynamic" else ""
        pasv = (f'    iifname "lan" oifname "wan" tcp dport {ports[0]}-{ports[1]} ct state new '
                f'counter accept comment "fy-pasv"\n') if filtering == "static" else ""
        out.append(f"""table inet fyfilter {{{helper}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established counter accept comment "fy-est"
    ct state related counter accept comment "fy-rel"
    iifname "lan" oifname "wan" tcp dport {CONTROL_PORT} ct state new counter accept comment "fy-ctl"
{pasv}    counter drop comment "fy-drop"
  }}
}}""")
    elif filtering == "noactive":
        out.append("""table inet fyfilter {
  chain forward {
    type filter hook forward priority filter; policy accept;
    iifname "wan" oifname "lan" ct state new counter drop comment "fy-drop"
  }
}""")
    elif filtering != "none":
        raise ValueError(filtering)
    return "\n".join(out) + "\n"


def server_firewall(*, filtering: str = "none", ports: tuple[int, int] = (PASV_LO, PASV_HI),
                    publish_range: bool = True) -> str:
    """The server's router fs: DNAT of the control port (and the passive range when
    publish_range) to the private server, masquerade outbound; filtering as above,
    seen from the server side (new connections from wan to the server only)."""
    dnat_range = (f'    iifname "wan" tcp dport {ports[0]}-{ports[1]} dnat to {SERVER_PRIVATE} '
                  f'comment "fy-dnat-pasv"\n') if publish_range else ""
    out = [f"""table ip fynat {{
  chain prerouting {{
    type nat hook prerouting priority dstnat; policy accept;
    iifname "wan" tcp dport {CONTROL_PORT} dnat to {SERVER_PRIVATE} comment "fy-dnat-ctl"
{dnat_range}  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    oifname "wan" masquerade comment "fy-masq"
  }}
}}"""]
    if filtering in ("static", "dynamic"):
        helper = _helper_block("wan") if filtering == "dynamic" else ""
        pasv = (f'    iifname "wan" oifname "lan" ip daddr {SERVER_PRIVATE} tcp dport {ports[0]}-{ports[1]} '
                f'ct state new counter accept comment "fy-pasv"\n') if filtering == "static" else ""
        out.append(f"""table inet fyfilter {{{helper}
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established counter accept comment "fy-est"
    ct state related counter accept comment "fy-rel"
    iifname "wan" oifname "lan" ip daddr {SERVER_PRIVATE} tcp dport {CONTROL_PORT} ct state new counter accept comment "fy-ctl"
{pasv}    counter drop comment "fy-drop"
  }}
}}""")
    elif filtering != "none":
        raise ValueError(filtering)
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# A built network with a server and clients


@dataclass
class Server:
    proc: netlab.Proc
    config: Path
    home: Path
    statements: list[str]

    @property
    def log(self) -> str:
        return self.proc.log


@dataclass
class Net:
    lab: netlab.Lab
    pki: dict
    tmp: Path
    server_fw: bool           # is the server behind its own firewall (fs)?
    server_ns: str = "s"
    server: Server | None = None
    _servers: list[Server] = field(default_factory=list)

    # server ---------------------------------------------------------------
    def start_server(self, *extra: str) -> Server:
        """Start ferryd in the server namespace (stopping a running one) with the
        scenario's statements `extra` added to the common TLS-required base."""
        self.stop_server()
        n = len(self._servers) + 1
        root = self.tmp / f"ferryd{n}"
        home = root / "home"
        home.mkdir(parents=True)
        users = root / "users"
        users.write_text(f"{USER}:{self.pki['hash']}:{home}\n")
        statements = [
            f"LISTEN 0.0.0.0 {CONTROL_PORT}",
            "RUNAS root",
            "TLSPORT 0",
            f"KEYRING {self.pki['pem']}",
            f"USERS {users}",
            "EXTENSIONS AUTH_TLS",
            "SECURE_FTP REQUIRED",
            "SECURE_DATACONN PRIVATE",
            f"DATACTTIME {DATA_TIMEOUT}",
            *extra,
        ]
        config = root / "ferryd.conf"
        config.write_text("; written by tests/netns/conftest.py\n" + "\n".join(statements) + "\n")
        proc = self.lab.spawn(self.server_ns, [ferryd_path(), "--config", str(config), "--verbose"],
                              name="ferryd", cwd=root)
        srv = Server(proc, config, home, statements)
        self._servers.append(srv)
        self.server = srv
        try:
            # Readiness is checked from inside the server's own namespace (no firewall there).
            self.lab.wait_greeting(self.server_ns, "127.0.0.1", CONTROL_PORT, deadline=10)
        except netlab.LabError as exc:
            pytest.fail(f"ferryd did not start: {exc}\nlog:\n{proc.log}", pytrace=False)
        return srv

    def stop_server(self) -> None:
        if self.server is not None:
            if not self.server.proc.alive:
                pytest.fail(f"ferryd died (exit {self.server.proc.popen.returncode}); log:\n"
                            f"{self.server.log[-8000:]}", pytrace=False)
            self.server.proc.stop()
            self.server = None

    def server_log(self) -> str:
        return self.server.log if self.server else ""

    # client runs -------------------------------------------------------------
    def client_env(self) -> dict:
        home = self.tmp / "client-home"
        home.mkdir(exist_ok=True)
        env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
        env.update(HOME=str(home), LC_ALL="C.UTF-8")
        return env

    def run_client(self, argv: list[str], timeout: float = 60) -> netlab.Result:
        return self.lab.run("c", argv, timeout=timeout, env=self.client_env(), cwd=self.tmp)

    def url(self, path: str = "") -> str:
        return f"ftp://{SERVER_PUBLIC}:{CONTROL_PORT}/{path}"

    def curl_argv(self, *args: str, timeout: float = 60) -> list[str]:
        return [_tool("curl"), "--silent", "--show-error", "--verbose", "--ssl-reqd", "--insecure",
                "--connect-timeout", str(CLIENT_TIMEOUT), "--max-time", str(int(timeout) - 15),
                "--user", f"{USER}:{PASSWORD}", *args]

    def curl(self, *args: str, timeout: float = 60) -> netlab.Result:
        return self.run_client(self.curl_argv(*args, timeout=timeout), timeout=timeout)

    def lftp(self, commands: list[str], settings: list[str] = (), timeout: float = 60) -> netlab.Result:
        script = [
            "set cmd:fail-exit yes",
            "set cmd:interactive no",
            f"set net:timeout {CLIENT_TIMEOUT}",
            "set net:max-retries 1",
            "set net:persist-retries 0",
            "set net:reconnect-interval-base 1",
            "set ftp:ssl-force true",
            "set ftp:ssl-protect-data true",
            "set ftp:ssl-protect-list true",
            "set ssl:verify-certificate no",
            "set ssl:check-hostname no",
            "set xfer:clobber on",
            *settings,
            f"open -u {USER},{PASSWORD} -p {CONTROL_PORT} ftp://{SERVER_PUBLIC}",
            *commands,
        ]
        path = self.tmp / f"lftp-{time.monotonic_ns()}.script"
        path.write_text("\n".join(script) + "\n")
        return self.run_client([_tool("lftp"), "--norc", "-d", "-f", str(path)], timeout=timeout)

    def ferry(self, *args: str, timeout: float = 60) -> netlab.Result:
        pw = self.tmp / "ferry-password"
        pw.write_text(PASSWORD + "\n")
        pw.chmod(0o600)
        argv = [ferry_path(), "--insecure", "--no-netrc", "--no-progress", "-v",
                "--timeout", str(CLIENT_TIMEOUT), "--user", USER, "--password-file", str(pw), *args]
        return self.run_client(argv, timeout=timeout)


def build_net(lab: netlab.Lab, pki: dict, tmp: Path, *, server_fw: bool, client_nat: bool = True) -> Net:
    """Namespaces, links, addresses and routes (no firewall rules yet: see fc()/fs())."""
    lab.add_ns("c")
    lab.add_ns("fc", router=True)
    lab.add_ns("s")
    lab.link("c", "eth0", "fc", "lan")
    lab.addr("c", "eth0", f"{CLIENT}/24")
    lab.addr("fc", "lan", f"{CLIENT_GW}/24")
    lab.route("c", "default", CLIENT_GW)
    if server_fw:
        lab.add_ns("fs", router=True)
        lab.link("fc", "wan", "fs", "wan")
        lab.addr("fc", "wan", f"{FC_PUBLIC}/24")
        lab.addr("fs", "wan", f"{SERVER_PUBLIC}/24")
        lab.link("fs", "lan", "s", "eth0")
        lab.addr("fs", "lan", f"{SERVER_GW}/24")
        lab.addr("s", "eth0", f"{SERVER_PRIVATE}/24")
        lab.route("s", "default", SERVER_GW)
    else:
        lab.link("fc", "wan", "s", "eth0")
        lab.addr("fc", "wan", f"{FC_PUBLIC}/24")
        lab.addr("s", "eth0", f"{SERVER_PUBLIC}/24")
        if not client_nat:  # a routed (not NATed) client network
            lab.route("s", "10.1.0.0/24", FC_PUBLIC)
    return Net(lab=lab, pki=pki, tmp=tmp, server_fw=server_fw)


# --------------------------------------------------------------------------
# Reading client output (curl -v, lftp -d and ferry -v all show the dialogue)

_SENT = re.compile(r"^(?:> |---> |>>> )([A-Z]{3,4}\b[^\r\n]*)", re.M)
_REPLY = re.compile(r"^(?:< |<--- |<<< )(\d{3})([ -][^\r\n]*)", re.M)


def sent(res: netlab.Result, verb: str) -> list[str]:
    return [c for c in _SENT.findall(res.err + res.out.decode(errors="replace"))
            if c.split()[0].upper() == verb]


def replies(res: netlab.Result) -> list[tuple[int, str]]:
    return [(int(c), t[1:]) for c, t in _REPLY.findall(res.err + res.out.decode(errors="replace"))]


def reply_codes(res: netlab.Result) -> list[int]:
    return [c for c, _ in replies(res)]


def pasv_targets(res: netlab.Result) -> list[tuple[str, int]]:
    """(address, port) of each 227 reply the client received."""
    out = []
    for code, text in replies(res):
        if code == 227:
            m = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", text)
            if m:
                n = list(map(int, m.groups()))
                out.append((".".join(map(str, n[:4])), n[4] * 256 + n[5]))
    return out


def epsv_ports(res: netlab.Result) -> list[int]:
    out = []
    for code, text in replies(res):
        if code == 229:
            m = re.search(r"\(\|\|\|(\d+)\|\)", text)
            if m:
                out.append(int(m.group(1)))
    return out


def tool_of(res: netlab.Result) -> str:
    """"curl", "lftp" or "ferry": the program a Result ran (argv is ip netns exec NS prog ...)."""
    return os.path.basename(res.argv[4])


def control_was_fine(res: netlab.Result) -> None:
    """The control connection worked: TLS, login and PROT P all accepted."""
    codes = reply_codes(res)
    assert 234 in codes, f"AUTH TLS not accepted:\n{res}"
    assert 230 in codes, f"login failed (the failure must be the data connection's):\n{res}"
    assert "PROT P" in sent(res, "PROT"), f"PROT P not sent:\n{res}"


# --------------------------------------------------------------------------
# Transfers: the same data-connection method, spelled for each client

# Methods: "pasv" (PASV, the reply's address used as given), "pasv-ignore" (PASV, the
# reply's address ignored: PASSIVEIGNOREADDR), "epsv", "active" (PORT), "eprt" (EPRT);
# ccc=True adds CCC after login (TLSRFCLEVEL RFC4217 on both sides).

def curl_options(method: str, ccc: bool = False) -> list[str]:
    opts = {
        # curl >= 7.74 ignores the PASV address by default: ask for the classic behaviour.
        "pasv": ["--disable-epsv", "--no-ftp-skip-pasv-ip"],
        "pasv-ignore": ["--disable-epsv", "--ftp-skip-pasv-ip"],
        "epsv": ["--ftp-pasv"],
    }[method]
    if ccc:
        opts += ["--ftp-ssl-ccc", "--ftp-ssl-ccc-mode", "active"]
    return opts


def lftp_settings(method: str, ccc: bool = False) -> list[str]:
    # lftp's ftp:fix-pasv-address (on by default) replaces a private PASV address by the
    # server's when the server is public: switched off so that "pasv" means the classic PASV.
    base = {
        "pasv": ["set ftp:passive-mode on", "set ftp:prefer-epsv no",
                 "set ftp:fix-pasv-address no", "set ftp:ignore-pasv-address no"],
        "pasv-ignore": ["set ftp:passive-mode on", "set ftp:prefer-epsv no",
                        "set ftp:ignore-pasv-address yes"],
        "epsv": ["set ftp:passive-mode on", "set ftp:prefer-epsv yes"],
        "active": ["set ftp:passive-mode off", "set ftp:auto-passive-mode no",
                   "set ftp:prefer-epsv no"],
        "eprt": ["set ftp:passive-mode off", "set ftp:auto-passive-mode no",
                 "set ftp:prefer-epsv yes"],
    }[method]
    return base + (["set ftp:ssl-use-ccc yes"] if ccc else [])


def ferry_options(method: str, ccc: bool = False) -> list[str]:
    opts = {
        "pasv": ["--passive"],
        "pasv-ignore": ["--passive", "--ignore-pasv-addr"],
        "epsv": ["--passive", "--epsv"],
        "active": ["--active"],
        "eprt": ["--active", "--epsv"],
    }[method]
    return opts + (["--ccc"] if ccc else [])


@dataclass
class Transfer:
    up: netlab.Result
    down: netlab.Result | None

    @property
    def results(self) -> list[netlab.Result]:
        return [r for r in (self.up, self.down) if r is not None]

    def __str__(self):
        return "\n\n".join(str(r) for r in self.results)


def upload(net: Net, client: str, method: str, src: Path, name: str, *, ccc: bool = False,
           timeout: float = 60) -> netlab.Result:
    if client == "curl":
        return net.curl(*curl_options(method, ccc), "--upload-file", str(src), net.url(name),
                        timeout=timeout)
    if client == "lftp":
        return net.lftp([f"put {src} -o {name}"], lftp_settings(method, ccc), timeout=timeout)
    if client == "ferry":
        return net.ferry(*ferry_options(method, ccc), "put", str(src), net.url(name), timeout=timeout)
    raise ValueError(client)


def download(net: Net, client: str, method: str, name: str, dst: Path, *, ccc: bool = False,
             timeout: float = 60) -> netlab.Result:
    if client == "curl":
        return net.curl(*curl_options(method, ccc), "--output", str(dst), net.url(name),
                        timeout=timeout)
    if client == "lftp":
        return net.lftp([f"get {name} -o {dst}"], lftp_settings(method, ccc), timeout=timeout)
    if client == "ferry":
        return net.ferry(*ferry_options(method, ccc), "get", net.url(name), str(dst), timeout=timeout)
    raise ValueError(client)


def roundtrip(net: Net, client: str, method: str, payload: Path, *, ccc: bool = False) -> Transfer:
    """A PROT P upload then download of payload; both must succeed and match by SHA-256,
    with the data connections made by `method` (checked in the client's dialogue)."""
    name = f"{client}-{method}{'-ccc' if ccc else ''}.bin"
    want = sha256(payload.read_bytes())
    up = upload(net, client, method, payload, name, ccc=ccc)
    assert up.rc == 0, f"upload with {client} ({method}{', CCC' if ccc else ''}) failed:\n{up}"
    stored = net.server.home / name
    assert stored.exists() and sha256(stored.read_bytes()) == want, \
        f"uploaded file differs on the server:\n{up}"
    dst = net.tmp / f"{name}.down"
    down = download(net, client, method, name, dst, ccc=ccc)
    assert down.rc == 0, f"download with {client} ({method}{', CCC' if ccc else ''}) failed:\n{down}"
    assert dst.exists() and sha256(dst.read_bytes()) == want, f"downloaded file differs:\n{down}"
    t = Transfer(up, down)
    for r in t.results:
        assert_method_used(r, method)
        assert "PROT P" in sent(r, "PROT"), f"data not protected (no PROT P):\n{r}"
        if ccc:
            assert sent(r, "CCC") and 200 in reply_codes(r), f"CCC not accepted:\n{r}"
    log = net.server_log()
    for what in (f"upload /{name}", f"download /{name}"):
        lines = [line for line in log.splitlines() if what in line]
        assert lines and all("PROT P" in line and line.rstrip().endswith("-> 226") for line in lines), \
            f"ferryd did not log a protected, complete {what}:\n{log[-4000:]}"
    return t


def assert_method_used(r: netlab.Result, method: str) -> None:
    verbs = {"pasv": "PASV", "pasv-ignore": "PASV", "epsv": "EPSV", "active": "PORT", "eprt": "EPRT"}
    want = verbs[method]
    assert sent(r, want), f"{want} was not used:\n{r}"
    others = {"PASV", "EPSV", "PORT", "EPRT"} - {want}
    used = [v for v in others if sent(r, v)]
    assert not used, f"{method}: the client also used {used} (fell back?):\n{r}"


def attempt(net: Net, client: str, method: str, payload: Path, *, ccc: bool = False) -> netlab.Result:
    """An upload expected to fail; returns its result for the caller to judge."""
    return upload(net, client, method, payload, f"{client}-{method}-blocked.bin", ccc=ccc, timeout=60)


# --------------------------------------------------------------------------
# Checks shared by the scenarios (test_scenarios.py and test_ferry.py)


def assert_client_is_natted(net):
    """The client firewall masquerades: ferryd saw the firewall's public address, and the
    server has no way back to the client's private network."""
    log = net.server_log()
    assert f"connect from {FC_PUBLIC}:" in log, f"ferryd did not see the NAT address:\n{log}"
    assert f"connect from {CLIENT}" not in log, log
    assert net.lab.probe(net.server_ns, CLIENT, 1024) == "unreachable"


def assert_server_is_hidden(net):
    """The server lives in a private network: the client cannot reach it but through the DNAT."""
    assert net.lab.probe("c", SERVER_PRIVATE, CONTROL_PORT) == "unreachable"
    assert net.lab.probe("c", SERVER_PUBLIC, CONTROL_PORT) == "open"


def assert_blocked_by(net, fw: str, before: int, res):
    """The transfer failed because firewall `fw` dropped the data connection: its drop
    counter moved, the client said so (timeout), and the control connection was fine."""
    control_was_fine(res)
    assert res.rc != 0, f"the transfer should have been blocked:\n{res}"
    dropped = net.lab.counter(fw, "fy-drop") - before
    assert dropped > 0, f"firewall {fw} dropped nothing: the failure is not the firewall's\n{res}"
    text = res.text.lower()
    if tool_of(res) == "curl":
        # 28: operation timeout (the data SYNs were dropped); curl says "timeout"/"time-out".
        assert res.rc == 28, f"curl should time out on the data connection:\n{res}"
    elif tool_of(res) == "ferry":
        # Ferry names the cause and the way out, e.g. "cannot open the data connection (EPSV,
        # 198.51.100.2 port N): no answer within 5 s (DATACTTIME). A firewall may block ..."
        assert "data connection" in text and "firewall" in text and "within" in text, res
    else:
        assert "timeout" in text or "timed out" in text or "425" in text, res
    assert res.seconds < 45, f"a blocked data connection must fail in bounded time:\n{res}"


def assert_private_address_fails(res):
    """PASV named the server's private address and the client tried it: no route there."""
    control_was_fine(res)
    assert res.rc != 0, f"plain PASV should fail when the reply names a private address:\n{res}"
    targets = pasv_targets(res)
    assert targets and targets[0][0] == SERVER_PRIVATE, f"the PASV reply should name {SERVER_PRIVATE}:\n{res}"
    assert SERVER_PRIVATE in res.err.split("227", 1)[1], f"the client did not try {SERVER_PRIVATE}:\n{res}"
    if tool_of(res) == "curl":
        assert res.rc == 7, f"curl should fail to connect (exit 7):\n{res}"
    else:
        assert "no route to host" in res.text.lower() or "unreachable" in res.text.lower(), res
    assert res.seconds < 45, res


def ports_used(res) -> list[int]:
    return [p for _, p in pasv_targets(res)] + epsv_ports(res)


def assert_static_filter_present(net, target=SERVER_PUBLIC):
    """Ports outside the permitted range are dropped (timeout), not refused by the host."""
    before = net.lab.counter("fc", "fy-drop")
    assert net.lab.probe("c", target, OUTSIDE_PORT) == "timeout"
    assert net.lab.counter("fc", "fy-drop") > before
    assert net.lab.probe("c", target, PASV_LO + 5) == "refused"  # permitted, nobody listening


def assert_both_filters_present(net):
    assert_static_filter_present(net)
    before = net.lab.counter("fs", "fy-drop")
    # The server firewall drops what its rules do not name, e.g. new connections out of
    # the server's network (without it fc would answer with a reset: "refused").
    assert net.lab.probe("s", FC_PUBLIC, OUTSIDE_PORT) == "timeout"
    assert net.lab.counter("fs", "fy-drop") > before

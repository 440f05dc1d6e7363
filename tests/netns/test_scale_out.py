"""Scale-out behind HAProxy (issue 15): three ferryd nodes behind `haproxy` with the PROXY
protocol, every address check on the real client address. The network is balancer_lab's:

    c 203.0.113.2/.3 -- 203.0.113.1 lb (haproxy, ferryd haproxy-config) -- 10.20.K.2 nK (ferryd)

Each test builds its own network, starts the nodes and haproxy with the configuration that
`ferryd haproxy-config` prints, and tears everything down (conftest's `lab`), even on failure.
"""

from __future__ import annotations

import concurrent.futures
import os
import re
import signal
import time
from pathlib import Path

import pytest

import fwlab
from balancer_lab import (CLIENT, CLIENT2, CONTROL_PORT, PUBLIC, THIRD, TLS_PORT, UNTRUSTED, Balancer,
                          node_addr, node_gw, node_of_port, node_ports, nodes_used, proxy_v1,
                          proxy_v2, proxy_v2_local)
from fwlab import sent
from netlab import file_sha256

# --------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def balancer(lab, pki, tmp_path):
    """balancer(nodes=3) -> Balancer (nothing started). On teardown: every node that was not
    meant to stop must still be running, and the haproxy configuration and log are printed
    (pytest shows them when the test failed)."""
    made: list[Balancer] = []

    def make(nodes: int = 3) -> Balancer:
        b = Balancer(lab, pki, tmp_path / f"site{len(made) + 1}", nodes=nodes)
        made.append(b)
        return b

    yield make
    died = []
    for b in made:
        print(f"--- haproxy.cfg ---\n{b.haproxy_cfg}\n--- haproxy log ---\n{b.haproxy.log if b.haproxy else ''}")
        for node in b.nodes.values():
            if not node.proc.alive and not node.meant_to_stop:
                died.append(f"node {node.k} (exit {node.proc.popen.returncode}):\n{node.log[-6000:]}")
    if died:
        pytest.fail("ferryd died during the test: " + "\n".join(died), pytrace=False)


@pytest.fixture
def site(balancer) -> Balancer:
    """Three nodes sharing one folder and one ticket key, behind haproxy."""
    b = balancer(3)
    b.start_nodes("SHUTDOWNGRACE 30")
    b.start_haproxy()
    return b


def write_random(path: Path, size: int) -> str:
    path.write_bytes(os.urandom(size))
    return file_sha256(path)


def sessions_by_id(log: str) -> dict[str, dict]:
    """ferryd's log per session id: its connect line and whether it logged in."""
    out: dict[str, dict] = {}
    for line in log.splitlines():
        m = re.search(r"\[(\d+)\] (connect from .*|login .*)$", line)
        if not m:
            continue
        s = out.setdefault(m.group(1), {"connect": "", "login": False})
        if m.group(2).startswith("connect"):
            s["connect"] = m.group(2)
        else:
            s["login"] = True
    return out


def assert_sessions_from(b: Balancer, client: str = CLIENT) -> None:
    """Every session that logged in on any node came from the real client address, via the
    balancer's address on that node's link (ferryd's log: "connect from C:P via 10.20.K.1")."""
    logged_in = 0
    for node in b.nodes.values():
        for sid, s in sessions_by_id(node.log).items():
            if not s["login"]:
                continue
            logged_in += 1
            assert re.match(rf"connect from {re.escape(client)}:\d+ via {re.escape(node_gw(node.k))}\b",
                            s["connect"]), f"node {node.k} session {sid}: {s['connect']!r}\n{node.log[-4000:]}"
    assert logged_in, "no session logged in on any node"


def small_download(net, name: str, dst: Path, method: str = "epsv"):
    return fwlab.download(net, "curl", method, name, dst, timeout=45)


# --------------------------------------------------------------------------
# The generated configuration


def haproxy_sections(cfg: str) -> dict[str, list[str]]:
    """"frontend ctl" -> its lines (comments and blank lines dropped)."""
    sections: dict[str, list[str]] = {}
    cur = None
    for raw in cfg.splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        if not raw[:1].isspace():
            cur = " ".join(line.split())
            sections[cur] = []
        elif cur:
            sections[cur].append(" ".join(line.split()))
    return sections


def haproxy_route(sections: dict[str, list[str]], bind: str) -> tuple[list[str], list[str]]:
    """(server lines, settings in force) for what listens on `bind` (a frontend and its
    default_backend, or a listen section; defaults sections included in the settings)."""
    defaults = [ln for name, lines in sections.items() if name.split()[0] == "defaults" for ln in lines]
    for name, lines in sections.items():
        if name.split()[0] not in ("frontend", "listen") or \
                not any(ln.split()[:2] == ["bind", bind] for ln in lines):
            continue
        if name.startswith("listen"):
            body = lines
        else:
            backend = next((ln.split()[1] for ln in lines if ln.startswith("default_backend ")), None)
            assert backend, f"{name} binds {bind} but has no default_backend"
            body = sections.get(f"backend {backend}", [])
        return [ln for ln in body if ln.startswith("server ")], defaults + lines + body
    raise AssertionError(f"nothing binds {bind}")


def test_generated_haproxy_config_forwards_each_passive_range_to_its_node(balancer):
    """`ferryd haproxy-config`: control ports balanced (leastconn, health checks, redispatch,
    retries) over every node with PROXY v2; each passive range forwarded to its node only.
    (haproxy -c accepts it: every other test starts haproxy with it.)"""
    cfg = balancer(3).generate_haproxy_config()
    sections = haproxy_sections(cfg)
    for port in (CONTROL_PORT, TLS_PORT):
        servers, settings = haproxy_route(sections, f"{PUBLIC}:{port}")
        assert sorted(s.split()[2] for s in servers) == [f"{node_addr(k)}:{port}" for k in (1, 2, 3)], cfg
        for s in servers:
            assert "send-proxy-v2" in s.split() and re.search(r"\bcheck\b", s) and \
                re.search(r"\binter 1s\b", s) and re.search(r"\bfall 2\b", s) and re.search(r"\brise 2\b", s), s
        for want in ("mode tcp", "balance leastconn", "option redispatch", "retries 3"):
            assert want in settings, f"port {port}: no {want!r} in force:\n{cfg}"
    for k in (1, 2, 3):
        lo, hi = node_ports(k)
        servers, settings = haproxy_route(sections, f"{PUBLIC}:{lo}-{hi}")
        assert len(servers) == 1, f"range {lo}-{hi} must go to node {k} only:\n{cfg}"
        assert servers[0].split()[2] == node_addr(k), f"range {lo}-{hi} goes to {servers[0]}:\n{cfg}"
        assert "send-proxy-v2" in servers[0].split(), servers[0]
        assert "mode tcp" in settings, cfg


# --------------------------------------------------------------------------
# 1. Many clients at once, PROT P, byte-exact, spread over the nodes


def test_curl_lftp_ferry_transfer_through_the_balancer_at_once(site):
    net = site.net()
    jobs = []
    for i in range(12):
        client = ("curl", "lftp", "ferry")[i % 3]
        method = ("epsv", "pasv")[(i // 3) % 2]
        jobs.append((f"j{i:02d}-{client}-{method}", client, method))
    jobs.append(("j12-curl-implicit", "curl-implicit", "epsv"))
    src_dir = site.tmp / "sources"
    src_dir.mkdir()
    want = {name: write_random(src_dir / name, (1 << 20) + 4096 * i) for i, (name, _, _) in enumerate(jobs)}

    def run(job):
        name, client, method = job
        v = net.view(name)
        src, dst = src_dir / name, v.tmp / "copy.bin"
        if client == "curl-implicit":
            up = v.curl("--ftp-pasv", "--upload-file", str(src), v.implicit_url(name), timeout=90)
            down = v.curl("--ftp-pasv", "--output", str(dst), v.implicit_url(name), timeout=90) if up.rc == 0 else None
        else:
            up = fwlab.upload(v, client, method, src, name, timeout=90)
            down = fwlab.download(v, client, method, name, dst, timeout=90) if up.rc == 0 else None
        return job, up, down, dst

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        results = list(pool.map(run, jobs))
    took = time.monotonic() - t0
    used: dict[str, set[int]] = {}
    for (name, client, method), up, down, dst in results:
        assert up.rc == 0, f"{name}: upload failed:\n{up}"
        assert down is not None and down.rc == 0, f"{name}: download failed:\n{down}"
        assert file_sha256(site.home / name) == want[name], f"{name}: the stored file differs:\n{up}"
        assert dst.exists() and file_sha256(dst) == want[name], f"{name}: the downloaded file differs:\n{down}"
        for r in (up, down):
            assert "PROT P" in sent(r, "PROT"), f"{name}: no PROT P:\n{r}"
            if client != "curl-implicit":
                fwlab.assert_method_used(r, method)
            ns = nodes_used(r)
            assert ns and all(ns), f"{name}: no passive port of a node's range in the replies:\n{r}"
            used.setdefault(name, set()).update(ns)
            # Every node advertises the balancer's address.
            assert all(a == PUBLIC for a, _ in fwlab.pasv_targets(r)), f"{name}: PASV names another address:\n{r}"
    nodes = set().union(*used.values())
    assert len(nodes) >= 2, f"every session landed on node(s) {nodes}: {used}"
    log = site.logs()
    for name, _, _ in jobs:
        for what in (f"upload /{name}", f"download /{name}"):
            lines = [ln for ln in log.splitlines() if what in ln]
            assert len(lines) == 1 and "PROT P" in lines[0] and lines[0].rstrip().endswith("-> 226"), \
                f"ferryd did not log one protected, complete {what}: {lines}"
    assert_sessions_from(site)
    print(f"{len(jobs)} clients, {2 * len(jobs)} transfers in {took:.1f} s; nodes per job: {used}")


# --------------------------------------------------------------------------
# 2. PORT/EPRT: the real client address is known


def test_port_naming_a_third_address_is_refused_and_own_address_works(site):
    want = write_random(site.home / "active.bin", 300_000)
    masq = site.lab.counter("lb", "fy-masq")
    r = site.remote("c", "port_checks", host=PUBLIC, port=CONTROL_PORT, source=CLIENT, third=THIRD, name="active.bin")
    for what in ("port_third", "eprt_third"):
        assert r[what][:1] == "5", f"{what}: a data address other than the client's must get 5xx: {r}"
        assert "10.20." not in r[what], f"{what}: the reply names the balancer's address: {r}"
    for what in ("port_own", "eprt_own"):
        assert r[what]["reply"].startswith("226"), f"{what}: the active download failed: {r}\n{site.logs()[-4000:]}"
        assert r[what]["sha256"] == want, f"{what}: the downloaded data differ: {r}"
        # The node's connection to the client left through the balancer's masquerade.
        assert r[what]["peer"] == PUBLIC, f"{what}: the data connection came from {r[what]['peer']}: {r}"
    assert site.lab.counter("lb", "fy-masq") - masq >= 2, "active data did not pass lb's masquerade"
    assert_sessions_from(site)


# --------------------------------------------------------------------------
# 3. PASSIVEDATACONN: a passive data connection from another client address


def test_passive_data_connection_from_another_address_is_refused(site):
    want = write_random(site.home / "steal.bin", 400_000)
    r = site.remote("c", "steal", host=PUBLIC, port=CONTROL_PORT, client=CLIENT, thief=CLIENT2, name="steal.bin")
    k = node_of_port(r["port"])
    assert k in site.nodes, r
    assert r.get("thief_connected"), f"the thief's connection did not even reach the balancer: {r}"
    assert not r.get("thief_bytes"), f"the thief received data: {r}"
    # The real client then gets its file (ferryd keeps waiting for the client's own connection) or a 425.
    if r.get("retr", "").startswith("1"):
        assert r.get("final", "").startswith("226") and r.get("sha256") == want, f"the client's transfer: {r}"
    else:
        assert r.get("retr", "").startswith("425") or "425" in r.get("final", ""), f"the client's transfer: {r}"
    log = site.nodes[k].log
    assert re.search(rf"refused 1 data connection\(s\) from an address other than {re.escape(CLIENT)}, "
                     rf"the last from {re.escape(CLIENT2)}\b", log), \
        f"node {k} did not log the refusal: {r}\n{log[-4000:]}"
    assert_sessions_from(site)


# --------------------------------------------------------------------------
# 4. MAXSESSIONSPERHOST counts the real clients


def test_per_host_limit_counts_real_clients_not_the_balancer(balancer):
    b = balancer(1)
    b.start_nodes("MAXSESSIONSPERHOST 2")
    b.start_haproxy(b.generate_haproxy_config(nodes=[1]))
    r = b.remote("c", "sessions", host=PUBLIC, port=CONTROL_PORT, sources=[CLIENT, CLIENT, CLIENT, CLIENT2, CLIENT2])
    codes = [s["reply"][:3] for s in r]
    assert codes == ["220", "220", "421", "220", "220"], \
        f"third session from {CLIENT} must get 421, {CLIENT2}'s sessions 220: {r}\n{b.logs()[-4000:]}"
    assert r[2]["closed"], f"the refused session was not closed: {r}"
    log = b.nodes[1].log
    assert re.search(rf"refused {re.escape(CLIENT)}\b", log), f"the refusal does not name {CLIENT}:\n{log[-4000:]}"
    assert not re.search(r"refused 10\.20\.", log), f"ferryd refused the balancer:\n{log[-4000:]}"
    # The counter follows the real clients: with those closed, 203.0.113.2 is welcome again.
    r = b.remote("c", "sessions", host=PUBLIC, port=CONTROL_PORT, sources=[CLIENT, CLIENT])
    assert [s["reply"][:3] for s in r] == ["220", "220"], r


def test_login_lockout_counts_real_clients_not_the_balancer(balancer):
    """LOGINATTEMPTS: failed logins lock out the client that made them, not the balancer."""
    b = balancer(1)
    b.start_nodes("LOGINATTEMPTS 2 300")
    b.start_haproxy(b.generate_haproxy_config(nodes=[1]))
    bad = b.remote("c", "bad_logins", host=PUBLIC, port=CONTROL_PORT, source=CLIENT, count=2)
    # The failure that reaches the limit may be answered 421 (closing) instead of 530.
    assert bad[0].startswith("530") and bad[1][:3] in ("530", "421"), f"wrong passwords: {bad}"
    r = b.remote("c", "sessions", host=PUBLIC, port=CONTROL_PORT, sources=[CLIENT, CLIENT2])
    assert [s["reply"][:3] for s in r] == ["421", "220"], \
        f"{CLIENT} must be locked out, {CLIENT2} welcome: {r}\n{b.logs()[-4000:]}"


# --------------------------------------------------------------------------
# 5. A node killed


def test_killed_node_new_sessions_still_succeed(site):
    """Six sessions at once right after a SIGKILL, before two failed health checks (1 s apart)
    can mark the node down: leastconn sends some to the dead node, haproxy retries and
    redispatches them."""
    body = b"small file\n" * 100
    (site.home / "small.txt").write_bytes(body)
    net = site.net()
    victim = site.nodes[2]
    victim.meant_to_stop = True
    victim.proc.stop(signal.SIGKILL)
    assert site.lab.probe("lb", victim.addr, CONTROL_PORT) == "refused"

    def session(i):
        v = net.view(f"after-kill-{i}")
        return small_download(v, "small.txt", v.tmp / "small.txt"), v.tmp / "small.txt"

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(session, range(6)))
    landed = []
    for i, (r, dst) in enumerate(results):
        assert r.rc == 0 and dst.read_bytes() == body, f"session {i} after the kill failed:\n{r}"
        assert r.seconds < 20, f"session {i} took {r.seconds:.1f} s:\n{r}"
        landed += nodes_used(r)
    assert len(landed) == 6 and set(landed) <= {1, 3}, f"sessions landed on {landed}"
    # The generated health checks (inter 1s fall 2) mark the node down.
    deadline = time.monotonic() + 6
    while not re.search(r"Server \S+/\S*2 is DOWN", site.haproxy.log) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert re.search(r"Server \S+/\S*2 is DOWN", site.haproxy.log), f"haproxy did not mark node 2 down:\n{site.haproxy.log}"


# --------------------------------------------------------------------------
# 6. A drained node


def test_drained_node_finishes_its_transfer_and_stops(balancer):
    # The server limits the download (DOWNLOADRATE): a client-side limit would leave ferryd
    # done at once, the file sitting in haproxy's and the kernel's socket buffers.
    site = balancer(3)
    site.start_nodes("SHUTDOWNGRACE 30", "DOWNLOADRATE 1M")
    site.start_haproxy()
    size = 6 << 20
    want = write_random(site.home / "big.bin", size)
    (site.home / "small.txt").write_bytes(b"x" * 1000)
    net = site.net()
    dst = net.tmp / "big.copy"
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        big = pool.submit(net.curl, "--ftp-pasv", "--output", str(dst), net.url("big.bin"),
                          timeout=90)
        deadline, k = time.monotonic() + 15, None
        while k is None and time.monotonic() < deadline and not big.done():
            k = next((n.k for n in site.nodes.values() if "RETR big.bin" in n.log), None)
            time.sleep(0.1)
        assert k, f"the download did not start: {big.result() if big.done() else site.logs()[-3000:]}"
        node = site.nodes[k]
        node.meant_to_stop = True
        time.sleep(1)
        t_term = time.monotonic()
        os.killpg(node.proc.pid, signal.SIGTERM)
        # The listeners close at once: HAProxy's health check sees the node down.
        states = {}
        while time.monotonic() - t_term < 3:
            states = {p: site.lab.probe("lb", node.addr, p, timeout=1) for p in (CONTROL_PORT, TLS_PORT)}
            if set(states.values()) == {"refused"}:
                break
            time.sleep(0.1)
        assert set(states.values()) == {"refused"}, f"node {k} still accepts after SIGTERM: {states}\n{node.log[-3000:]}"
        assert node.proc.alive, f"node {k} exited before its transfer finished:\n{node.log[-3000:]}"
        landed = []
        for i in range(4):
            d = net.tmp / f"small-{i}"
            r = small_download(net, "small.txt", d)
            assert r.rc == 0 and d.read_bytes() == b"x" * 1000, f"new session {i} during the drain failed:\n{r}"
            landed += nodes_used(r)
        assert landed and k not in landed, f"new sessions landed on the draining node {k}: {landed}"
        down = rf"Server \S+/\S*{k} is DOWN"
        deadline = time.monotonic() + 6
        while not re.search(down, site.haproxy.log) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert re.search(down, site.haproxy.log), f"haproxy's checks did not see node {k} down:\n{site.haproxy.log}"
        res = big.result(timeout=80)
    finally:
        pool.shutdown(wait=True)
    assert res.rc == 0, f"the transfer on the drained node failed:\n{res}"
    assert nodes_used(res) == [k], res
    assert file_sha256(dst) == want, "the drained node's download differs"
    assert res.seconds > 4.5, f"the download was not rate-limited ({res.seconds:.1f} s): the test proves nothing"
    try:
        node.proc.popen.wait(timeout=15)
    except Exception:
        pass
    assert not node.proc.alive, f"node {k} did not exit after its transfer:\n{node.log[-3000:]}"
    assert node.proc.popen.returncode == 0, f"node {k} exited {node.proc.popen.returncode}:\n{node.log[-3000:]}"
    log = node.log.splitlines()
    done = [i for i, ln in enumerate(log) if "download /big.bin" in ln]
    term = [i for i, ln in enumerate(log) if "signal 15" in ln]
    assert done and log[done[0]].rstrip().endswith("-> 226"), f"node {k} did not log a complete download:\n{node.log[-3000:]}"
    # The transfer was still running when SIGTERM came (ferryd logged the signal first).
    assert term and term[0] < done[0], f"node {k}: no SIGTERM logged before the download ended:\n{node.log[-3000:]}"


# --------------------------------------------------------------------------
# 7. TLS resumption across nodes (TICKETKEYFILE)


def _resume(b: Balancer) -> list[dict]:
    r = b.remote("c", "resume", host=PUBLIC, port=CONTROL_PORT, source=CLIENT, tries=4)
    assert all("error" not in e for e in r), f"a control connection failed: {r}\n{b.logs()[-4000:]}"
    assert not r[0]["reused"], f"the first connection cannot resume: {r}"
    first = r[0]["node"]
    assert any(e["node"] != first for e in r[1:]), f"no later connection landed on another node than {first}: {r}"
    return r


def test_tls_session_resumes_on_another_node_with_a_shared_ticket_key(site):
    r = _resume(site)
    first = r[0]["node"]
    assert all(e["reused"] for e in r[1:]), f"a connection did not resume the first one's TLS session: {r}"
    other = next(e["node"] for e in r[1:] if e["node"] != first)
    node = site.nodes[other]
    events = [e for e in node.event_list() if e.get("event") == "tls" and e.get("link") == "control"]
    assert any(e.get("resumed") for e in events), f"node {other} logged no resumed control handshake: {events}"
    assert any("TLS" in ln and "resumed" in ln for ln in node.log.splitlines()), \
        f"node {other}'s log has no line saying the TLS session resumed:\n{node.log[-3000:]}"


def test_tls_session_does_not_resume_across_nodes_with_different_keys(balancer):
    b = balancer(3)
    for k in (1, 2, 3):
        key = b.tmp / f"ticket-{k}.key"
        key.write_bytes(os.urandom(48))
        key.chmod(0o600)
        b.start_node(k, ticket_key=key)
    b.start_haproxy()
    r = _resume(b)
    first = r[0]["node"]
    for e in r[1:]:
        if e["node"] == first:
            assert e["reused"], f"the ticket's own node {first} did not resume it: {r}"
        else:
            assert not e["reused"], f"node {e['node']} resumed node {first}'s ticket with another key: {r}"


# --------------------------------------------------------------------------
# 8. Direct connections: only the balancer, with a header


def test_direct_connections_to_a_node_are_closed_without_a_greeting(site):
    n1 = node_addr(1)
    lb = node_gw(1)
    v2 = proxy_v2(CLIENT, n1, 40000, CONTROL_PORT)
    # what: (namespace, source, port, bytes sent, expected: "220" | "now" (closed at once) |
    #        "timeout" (closed when the 5 s header timeout ends))
    cases = {
        "untrusted source, valid v2 header": ("lb", UNTRUSTED, CONTROL_PORT, v2, "now"),
        "untrusted source, no header": ("lb", UNTRUSTED, CONTROL_PORT, b"", "now"),
        "client straight to the node, v1 header": ("c", CLIENT, CONTROL_PORT,
                                                   proxy_v1(CLIENT, n1, 40001, CONTROL_PORT), "now"),
        "balancer, no header": ("lb", lb, CONTROL_PORT, b"", "timeout"),
        "balancer, implicit TLS port, no header": ("lb", lb, TLS_PORT, b"", "timeout"),
        "balancer, not a PROXY header": ("lb", lb, CONTROL_PORT, b"USER alice\r\n", "now"),
        "balancer, truncated v2 header": ("lb", lb, CONTROL_PORT, v2[:20], "timeout"),
        "balancer, v1 header": ("lb", lb, CONTROL_PORT, proxy_v1("198.51.100.77", n1, 40077, CONTROL_PORT), "220"),
        "balancer, v2 header": ("lb", lb, CONTROL_PORT, proxy_v2("198.51.100.78", n1, 40078, CONTROL_PORT), "220"),
        "balancer, v2 LOCAL header": ("lb", "10.20.1.1", CONTROL_PORT, proxy_v2_local(), "220"),
    }

    def run(item):
        what, (ns, src, port, data, _) = item
        return what, site.remote(ns, "connect", host=n1, port=port, source=src, send_hex=data.hex(), wait=9)

    with concurrent.futures.ThreadPoolExecutor(max_workers=len(cases)) as pool:
        got = dict(pool.map(run, cases.items()))
    for what, r in got.items():
        expected = cases[what][4]
        assert r["connected"], f"{what}: {r}"
        if expected == "220":
            assert r["data"].startswith("220"), f"{what}: a trusted balancer's header must be accepted: {r}"
        else:
            assert r["data"] == "" and r["closed"], f"{what}: must be closed without a reply: {r}"
            if expected == "timeout":
                assert 3.5 <= r["seconds"] <= 7.5, f"{what}: closed after {r['seconds']} s (header timeout 5 s): {r}"
            else:
                assert r["seconds"] < 3, f"{what}: closed only after {r['seconds']} s: {r}"
    log = site.nodes[1].log
    for addr, port in (("198.51.100.77", 40077), ("198.51.100.78", 40078)):
        assert f"connect from {addr}:{port} via {lb}" in log, f"header address {addr} not logged:\n{log[-4000:]}"
    # LOCAL (health checks): the connection's own endpoints count, not an empty address.
    assert "connect from 0.0.0.0" not in log, f"a LOCAL header's connection logged as 0.0.0.0:\n{log[-4000:]}"

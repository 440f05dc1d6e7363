"""METRICS: ferryd's Prometheus endpoint, scraped as Prometheus would (HTTP GET /metrics) and read
with Debian's python3-prometheus-client parser, around real FTPS sessions.

Counters are compared before and after what a test does (the module's servers are shared by its
tests); every wait polls with a deadline (wait_until), none sleeps.
"""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import HOST, PASSWORD, USER, free_port, run_config_once, server_argv, wait_until
from ftpwire import RawControl, ResumingFTP_TLS, ftp_fetch, ftp_store

pytestmark = pytest.mark.ferryd_only("METRICS is ferryd's own")

WAIT = 15.0
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# urllib without the environment's proxies: the endpoint is on loopback.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Scrape:
    """One scrape, parsed by prometheus_client; scrape(name, **labels) is a sample's value."""

    def __init__(self, text: str):
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = {(s.name, frozenset(s.labels.items())): s.value
                        for f in self.families.values() for s in f.samples}

    def __call__(self, name: str, **labels: str) -> float:
        key = (name, frozenset(labels.items()))
        assert key in self.samples, f"no sample {name}{labels} in the scrape:\n{self.text}"
        return self.samples[key]


def get(port: int, path: str = "/metrics", method: str = "GET"):
    req = urllib.request.Request(f"http://{HOST}:{port}{path}", method=method)
    return OPENER.open(req, timeout=10)


def scrape(port: int) -> Scrape:
    with get(port) as r:
        assert r.status == 200
        assert r.headers["Content-Type"] == CONTENT_TYPE
        assert r.headers["Connection"] == "close"
        body = r.read()
        assert int(r.headers["Content-Length"]) == len(body)
    return Scrape(body.decode("utf-8"))


def listening_ports(pid: int) -> set[int]:
    """The TCP ports process pid listens on (its socket inodes in /proc/net/tcp{,6}, state 0A)."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:
                ports.add(int(f[1].rsplit(":", 1)[1], 16))
    return ports


@pytest.fixture(scope="module")
def metered(ferryd_factory):
    """A ferryd with METRICS on a loopback port; returns (server, metrics port)."""
    port = free_port()
    srv = ferryd_factory("metered", overrides={"METRICS": f"{HOST} {port}"})
    return srv, port


def test_a_fresh_server_exposes_every_family_typed_and_at_zero(ferryd_factory):
    port = free_port()
    srv = ferryd_factory("fresh", overrides={"METRICS": f"{HOST} {port}"})
    m = scrape(port)
    types = {name: f.type for name, f in m.families.items()}
    assert types == {
        "ferry_build_info": "gauge", "process_start_time_seconds": "gauge",
        "ferry_sessions_open": "gauge", "ferry_sessions": "counter",
        "ferry_logins": "counter", "ferry_login_refusals": "counter",
        "ferry_transfers": "counter", "ferry_transfer_bytes": "counter",
        "ferry_transfers_incomplete": "counter",
        "ferry_tls_handshakes": "counter", "ferry_tls_handshake_failures": "counter",
        "ferry_data_connections_refused": "counter",
        "ferry_passive_ports_in_use": "gauge", "ferry_throttled_transfers": "gauge",
        "ferry_ccc": "counter", "ferry_connections_refused": "counter",
        "ferry_file_digests": "counter",
    }, m.text
    for f in m.families.values():
        assert f.documentation, f"{f.name} has no HELP"
    # Every series a dashboard draws exists from the start, at zero (the server's readiness
    # probe opened and closed sessions, so the session and control TLS counters may not be).
    for d in ("download", "upload", "listing"):
        for p in ("clear", "tls"):
            assert m("ferry_transfers_total", direction=d, protection=p) == 0
            assert m("ferry_transfer_bytes_total", direction=d, protection=p) == 0
    for reason in ("bounce", "stealing", "reuse_required", "policy", "tls_failed", "no_port", "timeout"):
        assert m("ferry_data_connections_refused_total", reason=reason) == 0
    for reason in ("password", "user_options", "certificate", "lockout", "limits", "policy"):
        assert m("ferry_login_refusals_total", reason=reason) == 0
    assert m("ferry_logins_total", result="ok") == 0
    for source in ("computed", "cached"):
        assert m("ferry_file_digests_total", source=source) == 0
    assert m("ferry_logins_total", result="refused") == 0
    for s in ("full", "resumed"):  # the probe's implicit TLS handshake is a control one
        assert m("ferry_tls_handshakes_total", connection="control", session=s) >= 0
        assert m("ferry_tls_handshakes_total", connection="data", session=s) == 0
    version = subprocess.run([server_argv(Path("unused"))[0], "--version"], capture_output=True,
                             text=True, timeout=30).stdout.split()[-1]
    assert m("ferry_build_info", version=version) == 1
    started = m("process_start_time_seconds")
    assert time.time() - 120 < started <= time.time(), started
    assert listening_ports(srv.proc.pid) == {srv.port, srv.tls_port, port}


def test_tls_upload_and_download_count_one_transfer_each_and_their_bytes(metered):
    srv, port = metered
    download = os.urandom(300_001)
    upload = os.urandom(200_003)
    (srv.home / "known.bin").write_bytes(download)
    before = scrape(port)
    ftp = ResumingFTP_TLS().connect_login(srv.port, USER, PASSWORD, prot="P")
    try:
        assert ftp_fetch(ftp, "known.bin") == download
        ftp_store(ftp, "up.bin", upload)
        ftp.quit()
    finally:
        ftp.close()
    assert (srv.home / "up.bin").read_bytes() == upload

    def delta(m: Scrape, name: str, **labels: str) -> float:
        return m(name, **labels) - before(name, **labels)

    expected = {
        ("ferry_transfers_total", ("download", "tls")): 1,
        ("ferry_transfers_total", ("upload", "tls")): 1,
        ("ferry_transfer_bytes_total", ("download", "tls")): len(download),
        ("ferry_transfer_bytes_total", ("upload", "tls")): len(upload),
    }

    def grown(m: Scrape) -> dict:
        return {(n, dp): delta(m, n, direction=dp[0], protection=dp[1]) for n, dp in expected}

    last = {}

    def settled() -> bool:
        last["m"] = scrape(port)
        return grown(last["m"]) == expected

    # The counters move when each transfer's end is logged, about when its 226 goes out.
    wait_until(settled, f"transfer counters grown by {expected} (last: {grown(last['m']) if last else None})",
               WAIT)
    after = last["m"]
    for d in ("download", "upload", "listing"):
        assert delta(after, "ferry_transfers_total", direction=d, protection="clear") == 0
    assert delta(after, "ferry_transfers_total", direction="listing", protection="tls") == 0
    assert delta(after, "ferry_transfers_incomplete_total") == 0
    assert delta(after, "ferry_logins_total", result="ok") == 1
    assert delta(after, "ferry_logins_total", result="refused") == 0
    assert delta(after, "ferry_sessions_total") == 1
    assert delta(after, "ferry_tls_handshakes_total", connection="control", session="full") == 1
    # Each PROT P data connection resumed the control connection's session.
    assert ftp.reused == [True, True]
    assert delta(after, "ferry_tls_handshakes_total", connection="data", session="resumed") == 2
    assert delta(after, "ferry_tls_handshakes_total", connection="data", session="full") == 0


def test_a_wrong_password_counts_a_refused_login(metered):
    srv, port = metered
    before = scrape(port)
    with RawControl(srv.port) as c:
        c.starttls()
        c.expect(f"USER {USER}", 331)
        c.expect("PASS not-the-password", 530)
        c.expect("QUIT", 221)
    last = {}

    def refused() -> bool:
        last["m"] = scrape(port)
        return last["m"]("ferry_logins_total", result="refused") > before("ferry_logins_total", result="refused")

    wait_until(refused, "ferry_logins_total{result=\"refused\"} to grow", WAIT)
    after = last["m"]
    assert after("ferry_logins_total", result="refused") - before("ferry_logins_total", result="refused") == 1
    assert (after("ferry_login_refusals_total", reason="password")
            - before("ferry_login_refusals_total", reason="password")) == 1
    assert after("ferry_logins_total", result="ok") == before("ferry_logins_total", result="ok")


def test_connections_refused_by_a_limit_and_a_bounce_are_counted(ferryd_factory):
    """MAXSESSIONSPERHOST 1: a second connection gets 421 and counts as limits; a PORT naming
    another host counts as a bounce refusal of a data connection."""
    port = free_port()
    srv = ferryd_factory("metered-limits", overrides={"METRICS": f"{HOST} {port}", "MAXSESSIONSPERHOST": "1"})
    before = scrape(port)
    with RawControl(srv.port) as c:
        c.login_tls(USER, PASSWORD, prot="C")
        with socket.create_connection((HOST, srv.port), timeout=10) as second:
            assert second.recv(200).startswith(b"421 ")
        assert c.cmd("PORT 10,9,8,7,4,1").code == 501
        after = scrape(port)
        c.expect("QUIT", 221)
    for reason, grew in (("limits", 1), ("lockout", 0), ("descriptors", 0)):
        assert (after("ferry_connections_refused_total", reason=reason)
                - before("ferry_connections_refused_total", reason=reason)) == grew, reason
    assert (after("ferry_data_connections_refused_total", reason="bounce")
            - before("ferry_data_connections_refused_total", reason="bounce")) == 1


def test_sessions_open_goes_back_when_the_sessions_quit(metered):
    srv, port = metered
    # The earlier tests' sessions (and the readiness probe's) have all been closed by now.
    wait_until(lambda: scrape(port)("ferry_sessions_open") == 0, "no session open", WAIT)
    base = 0
    controls = [RawControl(srv.port) for _ in range(3)]
    try:
        controls[0].login_tls(USER, PASSWORD)
        wait_until(lambda: scrape(port)("ferry_sessions_open") == base + 3, "ferry_sessions_open +3", WAIT)
        # A passive listener shows in the gauge while it is open.
        ports_base = scrape(port)("ferry_passive_ports_in_use")
        controls[0].epsv_port()
        assert scrape(port)("ferry_passive_ports_in_use") == ports_base + 1
        for c in controls:
            c.expect("QUIT", 221)
    finally:
        for c in controls:
            c.close()
    wait_until(lambda: scrape(port)("ferry_sessions_open") == base, f"ferry_sessions_open back to {base}", WAIT)
    assert scrape(port)("ferry_passive_ports_in_use") == ports_base


def test_only_get_and_head_of_metrics_are_answered(metered):
    _, port = metered
    with pytest.raises(urllib.error.HTTPError) as e:
        get(port, "/other")
    assert e.value.code == 404
    assert e.value.headers["Connection"] == "close"
    with pytest.raises(urllib.error.HTTPError) as e:
        get(port, "/metrics", method="POST")
    assert e.value.code == 405
    assert e.value.headers["Allow"] == "GET, HEAD"
    with get(port, "/metrics?name[]=ferry_sessions_open") as r:  # Prometheus' params
        assert r.status == 200 and b"\nferry_sessions_open " in r.read()
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("HEAD", "/metrics")
        r = conn.getresponse()
        assert r.status == 200
        assert r.headers["Content-Type"] == CONTENT_TYPE
        assert int(r.headers["Content-Length"]) > 1000
        assert r.read() == b""
    finally:
        conn.close()


def raw_exchange(port: int, data: bytes) -> tuple[bytes, float]:
    """Sends data, reads until the endpoint closes; returns what came and how long it took."""
    start = time.monotonic()
    with socket.create_connection((HOST, port), timeout=20) as s:
        s.sendall(data)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out, time.monotonic() - start


def test_a_head_past_8_KiB_is_refused_with_431(metered):
    _, port = metered
    out, _ = raw_exchange(port, b"GET /metrics HTTP/1.1\r\nX-Pad: " + b"a" * 9000 + b"\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 431 "), out[:200]
    out, _ = raw_exchange(port, b"\x16\x03\x01 not http\r\n\r\n")
    assert out.startswith(b"HTTP/1.1 400 "), out[:200]


def test_a_silent_client_is_closed_after_5_s(metered):
    _, port = metered
    out, took = raw_exchange(port, b"GET /metrics HTTP/1.1\r\n")  # the head never ends
    assert out == b""
    assert 4.5 <= took < 7.5, took  # 5 s, with room for a busy machine
    scrape(port)  # the endpoint still answers


def test_at_most_16_connections_are_held(metered):
    _, port = metered
    held = [socket.create_connection((HOST, port), timeout=20) for _ in range(16)]
    try:
        extra = socket.create_connection((HOST, port), timeout=20)
        start = time.monotonic()
        assert extra.recv(100) == b""  # closed at once, unanswered
        assert time.monotonic() - start < 3
        extra.close()
        # The held ones are still served when they speak.
        held[0].sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert held[0].recv(100).startswith(b"HTTP/1.1 200 OK")
    finally:
        for s in held:
            s.close()

    def answers() -> bool:
        try:
            scrape(port)
            return True
        except (OSError, http.client.HTTPException):
            return False

    wait_until(answers, "the endpoint to answer again once the 16 closed", WAIT)


def test_a_server_without_METRICS_listens_on_its_FTP_ports_only(ferryd_factory):
    srv = ferryd_factory("unmetered")
    assert listening_ports(srv.proc.pid) == {srv.port, srv.tls_port}


def test_a_busy_METRICS_port_stops_the_start_naming_it(pki, tmp_path):
    with socket.create_server((HOST, 0)) as busy:
        port = busy.getsockname()[1]
        res = run_config_once(pki, tmp_path, [f"METRICS {HOST} {port}"], "busy.conf")
    assert res.returncode != 0
    assert f"cannot listen on {HOST} port {port} (METRICS)" in res.stderr, res.stderr


def test_a_reload_keeps_the_endpoint_and_says_a_change_needs_a_restart(ferryd_factory):
    port, other = free_port(), free_port()
    srv = ferryd_factory("reloaded", overrides={"METRICS": f"{HOST} {port}"})
    srv.config_path.write_text(srv.config_path.read_text().replace(f"METRICS {HOST} {port}",
                                                                   f"METRICS {HOST} {other}"))
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: "SIGHUP: configuration reloaded" in srv.log, "the reload", WAIT)
    assert f"METRICS changed to {HOST} {other}: kept as at start ({HOST} {port})" in srv.log
    scrape(port)
    assert listening_ports(srv.proc.pid) == {srv.port, srv.tls_port, port}
    # Back to what it started with: nothing to warn about.
    srv.config_path.write_text(srv.config_path.read_text().replace(f"METRICS {HOST} {other}",
                                                                   f"METRICS {HOST} {port}"))
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: srv.log.count("SIGHUP: configuration reloaded") == 2, "the second reload", WAIT)
    assert srv.log.count("METRICS changed") == 1, srv.log

"""JSONLOG (issue 14): one JSON object a line per event, with what other servers do not record:
TLS version and cipher of control and data connections, whether each data connection resumed
the control session, CCC, the passive address advertised, bytes and duration, and the reason
for every refusal.

Real ferryd on 127.0.0.1 (a thief's data connection comes from 127.0.0.2, also loopback); every
line of the log must parse with json.loads. Waits poll with a deadline (wait_until).
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket

import pytest

from conftest import HOST, PASSWORD, USER, wait_until
from ftpwire import RawControl, recv_all
from test_tls_rfclevel import ccc, unwrap

pytestmark = pytest.mark.ferryd_only("the event log is ferryd's own")

WAIT = 15.0
TLS = ["--ssl-reqd", "--insecure"]


def events(path) -> list[dict]:
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    assert text == "" or text.endswith("\n"), f"unterminated line: {text[-200:]!r}"
    out = []
    for line in text.splitlines():
        e = json.loads(line)  # every line is one whole JSON object
        assert isinstance(e, dict) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["time"]), line
        out.append(e)
    return out


def of(evts, name, **match):
    return [e for e in evts if e["event"] == name and all(e.get(k) == v for k, v in match.items())]


@pytest.fixture(scope="module")
def logged(ferryd_factory, tmp_path_factory):
    d = tmp_path_factory.mktemp("jsonlog")
    path = d / "events.json"
    srv = ferryd_factory("jsonlog", overrides={"JSONLOG": str(path), "TLSRFCLEVEL": "RFC4217"})
    return srv, path


def test_a_curl_session_logs_start_tls_login_transfers_and_end(logged, peer, tmp_path):
    """A curl upload and download over explicit TLS with PROT P: one session each with
    session_start, tls (control, version, cipher), login ok by password, a transfer with exact
    bytes, the data connection's TLS version and cipher, data_resumed true (curl resumes), the
    EPSV port advertised, and session_end; the session number ties them together."""
    srv, path = logged
    data = os.urandom(200 * 1024)
    src = tmp_path / "up.bin"
    src.write_bytes(data)
    assert peer.curl(srv, *TLS, "-T", str(src), srv.url("up.bin")).rc == 0
    out = tmp_path / "down.bin"
    assert peer.curl(srv, *TLS, "-o", str(out), srv.url("up.bin")).rc == 0 and out.read_bytes() == data
    wait_until(lambda: len(of(events(path), "transfer", path="/up.bin")) >= 2
               and len(of(events(path), "session_end", user=USER)) >= 2, "two transfers and session ends", WAIT)
    evts = events(path)
    for direction in ("upload", "download"):
        [t] = of(evts, "transfer", direction=direction, path="/up.bin")
        assert (t["user"], t["client"], t["bytes"], t["result"], t["code"]) == (USER, HOST, len(data), "complete", 226), t
        assert t["protection"] == "tls" and t["data_tls"].startswith("TLSv1.") and t["data_cipher"], t
        assert t["data_resumed"] is True and t["ccc"] is False and t["control"].startswith("TLSv1."), t
        assert t["data"] == "passive" and re.fullmatch(r"\|\|\|\d+\|", t["advertised"]), t
        assert t["seconds"] >= 0
        sid = t["session"]
        mine = [e for e in evts if e.get("session") == sid]
        names = [e["event"] for e in mine]
        assert names[0] == "session_start" and names[-1] == "session_end", names
        assert names.index("tls") < names.index("login") < names.index("transfer"), names
        [tls] = of(mine, "tls")
        assert tls["link"] == "control" and tls["version"] == t["control"] and tls["cipher"] and tls["resumed"] is False
        [login] = of(mine, "login")
        assert (login["result"], login["method"], login["user"]) == ("ok", "password", USER), login
        assert mine[0]["implicit_tls"] is False and mine[0]["server_port"] == srv.port
        assert mine[-1]["reason"] == "quit"


def test_refusals_carry_their_reason(logged):
    """A wrong password (login refused, reason password), a PORT naming another host (bounce),
    and a passive data connection from 127.0.0.2 (stealing) each leave an event with its reason,
    while the client's own transfer after the thief goes on and is logged."""
    srv, path = logged
    with RawControl(srv.port) as c:
        c.starttls()
        c.expect(f"USER {USER}", 331)
        assert c.cmd("PASS not-the-password").code == 530
    with RawControl(srv.port) as c:
        c.login_tls(USER, PASSWORD, prot="C")
        assert c.cmd("PORT 10,9,8,7,4,1").code == 501
        port = c.epsv_port()
        thief = socket.create_connection((HOST, port), timeout=5, source_address=("127.0.0.2", 0))
        c.send("NLST")
        d = c.open_data(port, protect=False)
        assert c.reply().code in (125, 150)
        recv_all(d)
        d.close()
        assert c.reply().code == 226
        thief.close()
        c.expect("QUIT", 221)
    wait_until(lambda: of(events(path), "refusal", reason="stealing"), "the stealing refusal", WAIT)
    evts = events(path)
    [bad] = of(evts, "login", result="refused")
    assert (bad["user"], bad["reason"], bad["client"]) == (USER, "password", HOST), bad
    [bounce] = of(evts, "refusal", reason="bounce")
    assert "10.9.8.7" in bounce["detail"] and bounce["user"] == USER, bounce
    [steal] = of(evts, "refusal", reason="stealing")
    assert steal["count"] == 1 and steal["session"] == bounce["session"], steal
    listing = [t for t in of(evts, "transfer", direction="listing") if t["session"] == steal["session"]]
    assert listing and listing[0]["result"] == "complete" and listing[0]["protection"] == "clear"


def test_ccc_and_a_names_bytes_are_logged_as_valid_json(logged):
    """After CCC the event log says so (a ccc event; the transfer has ccc true and control
    "cleared"); a file whose name holds quotes, a backslash and a byte that is not UTF-8 is one
    line with the name escaped, \\ufffd for the stray byte."""
    srv, path = logged
    name = b'odd "name" \\x\xe9.txt'
    with open(os.path.join(str(srv.home).encode(), name), "wb") as f:
        f.write(b"payload")
    with RawControl(srv.port) as c:
        c.login_tls(USER, PASSWORD, prot="P")
        session = c.sock.session
        ccc(c)
        unwrap(c)
        port = c.epsv_port()
        c.send("MLSD")
        d = c.open_data(port, protect=True, session=session)
        assert c.reply().code in (125, 150)
        listing = recv_all(d)
        d.close()
        assert c.reply().code == 226 and b"payload" not in listing
        c.expect("QUIT", 221)
    wait_until(lambda: of(events(path), "ccc"), "the ccc event", WAIT)
    evts = events(path)
    [cleared] = of(evts, "ccc")
    [t] = [e for e in of(evts, "transfer") if e["session"] == cleared["session"]]
    assert (t["ccc"], t["control"], t["protection"], t["data_resumed"]) == (True, "cleared", "tls", True), t
    # The name as a download request: the log line stays one valid JSON line.
    with RawControl(srv.port) as c:
        c.login_tls(USER, PASSWORD, prot="C")
        port = c.epsv_port()
        c.send_raw(b"RETR " + name + b"\r\n")
        d = c.open_data(port, protect=False)
        assert c.reply().code in (125, 150)
        assert recv_all(d) == b"payload"
        d.close()
        assert c.reply().code == 226
        c.expect("QUIT", 221)
    wait_until(lambda: of(events(path), "transfer", direction="download", bytes=7), "the odd download", WAIT)
    [odd] = of(events(path), "transfer", direction="download", bytes=7)
    assert odd["path"] == '/odd "name" \\x\ufffd.txt', odd


def test_reuse_required_refusal_and_logrotate(ferryd_factory, tmp_path):
    """SECURE_SESSION_REUSE REQUIRED: a PROT P data connection with a full handshake gets 522 and
    a refusal event reuse_required. After logrotate's rename and SIGHUP the next events go to a
    new file (0600) and the rotated one gets no more."""
    path = tmp_path / "events.json"
    srv = ferryd_factory("jsonlog-reuse", overrides={"JSONLOG": str(path), "SECURE_SESSION_REUSE": "REQUIRED"})
    with RawControl(srv.port) as c:
        c.login_tls(USER, PASSWORD, prot="P")
        port = c.epsv_port()
        c.send("NLST")
        try:
            d = c.open_data(port, protect=True, resume=False)
            d.close()
        except (OSError, ConnectionError):
            pass
        replies = [c.reply().code]
        if replies[0] in (125, 150):
            replies.append(c.reply().code)
        assert replies[-1] == 522, replies
    wait_until(lambda: of(events(path), "refusal", reason="reuse_required"), "the reuse refusal", WAIT)
    # The session's end is logged after the socket closes; count only once every session has ended.
    wait_until(lambda: len(of(events(path), "session_end")) == len(of(events(path), "session_start")),
               "every session's end to be logged", WAIT)

    rotated = tmp_path / "events.json.1"
    path.rename(rotated)
    count = len(events(rotated))
    reloads = srv.log.count("SIGHUP: configuration reloaded")
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: srv.log.count("SIGHUP: configuration reloaded") > reloads, "the reload to be logged", WAIT)
    with RawControl(srv.port) as c:
        c.login_tls(USER, PASSWORD)
        c.expect("QUIT", 221)
    wait_until(lambda: of(events(path), "session_end"), "events in the new file", WAIT)
    assert [e["event"] for e in events(path)][:3] == ["session_start", "tls", "login"]
    assert len(events(rotated)) == count
    assert path.stat().st_mode & 0o777 == 0o600

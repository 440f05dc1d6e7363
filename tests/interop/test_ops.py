"""Operating ferryd (issue 14): `ferryd check-config`, `ferryd user add|del|passwd|list` and the
XFERLOG transfer log in the standard xferlog format.

Each test runs the real ferryd binary (FERRYD); servers listen on 127.0.0.1 only and are stopped
by the module's ServerFactory. No test sleeps: every wait polls with a deadline (wait_until).
"""
from __future__ import annotations

import datetime
import os
import re
import signal
import subprocess
from pathlib import Path

import pytest

from conftest import HOST, free_port, server_argv, wait_until
from ftpwire import RawControl

pytestmark = pytest.mark.ferryd_only("ferryd's own command line and log format")

WAIT = 15.0
MiB = 1024 * 1024
TLS = ["--ssl-reqd", "--insecure"]  # explicit FTPS: AUTH TLS, PBSZ 0, PROT P


def ferryd_bin() -> str:
    return server_argv(Path("unused"))[0]


def run_ferryd(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([ferryd_bin(), *args], input=stdin, capture_output=True, timeout=30)


def server_keywords() -> list[str]:
    """The statements `ferryd --help-config` lists (the one schema table)."""
    out = run_ferryd("--help-config").stdout.decode()
    return [line.split()[0] for line in out.splitlines() if line and not line.startswith(" ")]


# --------------------------------------------------------------------------------------------
# check-config


def test_check_config_prints_every_statement_and_exits_zero(pki, tmp_path):
    """A good configuration: exit 0, nothing bound (the LISTEN port stays free), and stdout lists
    every statement of --help-config with its effective value: the ones in the file with their
    file:line, the others as "default" with the default value. Fails today: ferryd has no
    check-config (CLI11 refuses the unknown argument, exit != 0)."""
    users = tmp_path / "users"
    users.write_text(f"alice:{pki['hash']}:{tmp_path}\n")
    users.chmod(0o600)
    port = free_port()
    conf = tmp_path / "ok.conf"
    conf.write_text(f"; comment\nLISTEN {HOST} {port}\nKEYRING {pki['pem']}\nUSERS users\n"
                    "EXTENSIONS AUTH_TLS\nSECURE_FTP REQUIRED\nINACTIVE 120\nRUNAS root\n")
    res = run_ferryd("check-config", str(conf))
    out, err = res.stdout.decode(), res.stderr.decode()
    assert res.returncode == 0, f"exit {res.returncode}\n{out}\n{err}"
    shown = {}
    for line in out.splitlines():
        if line.startswith(";"):
            continue
        m = re.match(r"^([A-Z_0-9]+) +(.*?) +; (default|\S+:\d+)$", line)
        assert m, f"unparsable line {line!r}"
        shown.setdefault(m.group(1), []).append((m.group(2), m.group(3)))
    keywords = server_keywords()
    assert len(keywords) > 30 and "XFERLOG" in keywords
    assert sorted(shown) == sorted(keywords), "check-config must list exactly the statements of --help-config"
    assert shown["LISTEN"] == [(f"{HOST} {port}", f"{conf}:2")]
    assert shown["INACTIVE"] == [("120", f"{conf}:7")]
    assert shown["SECURE_FTP"] == [("REQUIRED", f"{conf}:6")]
    assert shown["DATACTTIME"] == [("60", "default")]
    assert shown["UMASK"] == [("022", "default")]
    assert f"{conf}: OK" in err
    # Nothing was bound: the port is still free.
    import socket
    with socket.socket() as s:
        s.bind((HOST, port))


def test_check_config_reports_every_problem_with_file_and_line(pki, tmp_path):
    """A configuration with three wrong statements and a missing KEYRING file: exit 1, and stderr
    has each problem with its file:line (not only the first, as a failing start would)."""
    conf = tmp_path / "bad.conf"
    conf.write_text(f"LISTEN {HOST} {free_port()}\nINACTIVE soon\nNOSUCH 1\nUMASK 999\nUSERS users\nRUNAS root\n")
    (tmp_path / "users").write_text("")
    res = run_ferryd("check-config", str(conf))
    err = res.stderr.decode()
    assert res.returncode == 1, err
    for line in (2, 3, 4):
        assert re.search(rf"^error: {re.escape(str(conf))}:{line}: ", err, re.M), f"no problem for line {line}:\n{err}"
    assert "3 problem(s)" in err
    # Statements right, a file wrong: named with the statement's line.
    conf.write_text(f"LISTEN {HOST} {free_port()}\nUSERS users\nKEYRING missing.pem\nXFERLOG nodir/xferlog\nRUNAS root\n")
    res = run_ferryd("check-config", str(conf))
    err = res.stderr.decode()
    assert res.returncode == 1, err
    assert re.search(rf"^error: {re.escape(str(conf))}:3: KEYRING: ", err, re.M), err
    assert re.search(rf"^error: {re.escape(str(conf))}:4: XFERLOG: .*nodir", err, re.M), err


# --------------------------------------------------------------------------------------------
# ferryd user


def _login_code(srv, user: str, password: str) -> int:
    """The reply code to PASS after AUTH TLS (230 logged in, 530 refused)."""
    with RawControl(srv.port, timeout=WAIT) as c:
        c.starttls()
        c.expect(f"USER {user}", 331)
        return c.cmd(f"PASS {password}").code


def test_user_add_passwd_del_with_reload(ferryd_factory, tmp_path):
    """`ferryd user add` (password on stdin) writes a yescrypt line to a new 0600 users file and
    the user logs in over TLS; `passwd` changes it: after SIGHUP the old password gets 530 and the
    new one 230; `del` removes it: after SIGHUP its login gets 530. Comments survive, mode 0640
    is kept, `list` shows the users, and a duplicate add or an unknown del is an error (exit 2).
    Fails today: ferryd has no `user` command."""
    users = tmp_path / "users"
    home = tmp_path / "home"
    (home / "carol").mkdir(parents=True)
    r = run_ferryd("user", "--users", str(users), "add", "keeper", "-d", str(home), stdin=b"Keeper-pw-1\n")
    assert r.returncode == 0, r.stderr.decode()
    assert users.stat().st_mode & 0o777 == 0o600
    users.write_text("# managed by ferryd user\n" + users.read_text())
    users.chmod(0o640)
    r = run_ferryd("user", "add", "carol", "--home", str(home / "carol"), "--users", str(users),
                   stdin=b"Carol-old-pw\n")
    assert r.returncode == 0, r.stderr.decode()
    text = users.read_text()
    assert text.startswith("# managed by ferryd user\nkeeper:$y$"), text
    assert re.search(r"^carol:\$y\$[^:]+:" + re.escape(str(home / "carol")) + "$", text, re.M), text
    assert users.stat().st_mode & 0o777 == 0o640
    listed = run_ferryd("user", "list", "--users", str(users)).stdout.decode()
    assert listed.split("\n")[:2] == [f"keeper\t{home}", f"carol\t{home / 'carol'}"], listed
    dup = run_ferryd("user", "add", "carol", "-d", str(home), "--users", str(users), stdin=b"x\n")
    assert dup.returncode == 2 and "already exists" in dup.stderr.decode()
    bad = run_ferryd("user", "add", "bad:name", "-d", str(home), "--users", str(users), stdin=b"x\n")
    assert bad.returncode == 2
    unknown = run_ferryd("user", "del", "nobody", "--users", str(users))
    assert unknown.returncode == 2 and "nobody" in unknown.stderr.decode()
    assert users.read_text() == text, "a refused command changed the file"

    srv = ferryd_factory("users-cli", overrides={"USERS": str(users)})
    with RawControl(srv.port, timeout=WAIT) as c:
        c.login_tls("carol", "Carol-old-pw")
        c.expect("PWD", 257)

    reloads = srv.log.count("SIGHUP: configuration reloaded")
    r = run_ferryd("user", "passwd", "carol", "--config", str(srv.config_path), stdin=b"Carol-new-pw\n")
    assert r.returncode == 0, r.stderr.decode()
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: srv.log.count("SIGHUP: configuration reloaded") > reloads, "the reload to be logged", WAIT)
    assert _login_code(srv, "carol", "Carol-old-pw") == 530
    assert _login_code(srv, "carol", "Carol-new-pw") == 230

    reloads = srv.log.count("SIGHUP: configuration reloaded")
    r = run_ferryd("user", "del", "carol", "--users", str(users))
    assert r.returncode == 0, r.stderr.decode()
    assert "carol" not in users.read_text() and users.read_text().startswith("# managed by ferryd user\nkeeper:")
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: srv.log.count("SIGHUP: configuration reloaded") > reloads, "the reload to be logged", WAIT)
    assert _login_code(srv, "carol", "Carol-new-pw") == 530
    assert _login_code(srv, "keeper", "Keeper-pw-1") == 230


# --------------------------------------------------------------------------------------------
# XFERLOG

# xferlog(5), as wu-ftpd wrote it and vsftpd (xferlog_std_format) and ProFTPD (TransferLog) write it:
# current-time transfer-time remote-host file-size filename transfer-type special-action-flag
# direction access-mode username service-name authentication-method authenticated-user-id
# completion-status
XFERLOG_LINE = re.compile(
    r"^(?P<time>(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
    r"[ 123]\d \d\d:\d\d:\d\d \d{4}) "
    r"(?P<seconds>\d+) (?P<host>\S+) (?P<size>\d+) (?P<filename>\S+) (?P<type>[ab]) "
    r"(?P<action>[CUT]+|_) (?P<direction>[oi]) (?P<mode>[agr]) (?P<user>\S+) (?P<service>\S+) "
    r"(?P<auth_method>[01]) (?P<auth_user>\S+) (?P<status>[ci])$")


def parse_xferlog(path: Path) -> list[dict]:
    entries = []
    text = path.read_text() if path.exists() else ""
    assert text == "" or text.endswith("\n"), f"unterminated line in {path}: {text!r}"
    for line in text.splitlines():
        m = XFERLOG_LINE.match(line)
        assert m, f"not an xferlog(5) line: {line!r}"
        e = m.groupdict()
        e["when"] = datetime.datetime.strptime(e["time"], "%a %b %d %H:%M:%S %Y")
        e["seconds"], e["size"] = int(e["seconds"]), int(e["size"])
        entries.append(e)
    return entries


def test_xferlog_lines_for_curl_uploads_downloads_aborts_and_logrotate(ferryd_factory, peer, tmp_path):
    """XFERLOG file: after a curl upload (a name with spaces), its download and a download cut
    short (curl --max-time under --limit-rate), the file holds three lines the strict xferlog(5)
    parser accepts: times near now, 127.0.0.1, exact byte counts, the name with '_' for spaces,
    b, _, i/o, r, alice, ftp 0 *, and c, c, i. After logrotate's rename and SIGHUP a new file is
    started and the rotated one is not written to. Fails today: XFERLOG is an unknown statement
    and ferryd does not start."""
    log_dir = tmp_path / "log"
    log_dir.mkdir()
    xferlog = log_dir / "xferlog"
    srv = ferryd_factory("xferlog", overrides={"XFERLOG": str(xferlog)})
    before = datetime.datetime.now().replace(microsecond=0)
    data = os.urandom(300 * 1024)
    src = tmp_path / "my report.bin"
    src.write_bytes(data)
    up = peer.curl(srv, *TLS, "-T", str(src), srv.url("my%20report.bin"), timeout=60)
    assert up.rc == 0, up
    out = tmp_path / "down.bin"
    down = peer.curl(srv, *TLS, "-o", str(out), srv.url("my%20report.bin"), timeout=60)
    assert down.rc == 0 and out.read_bytes() == data, down
    (srv.home / "big.bin").write_bytes(os.urandom(8 * MiB))
    cut = peer.curl(srv, *TLS, "--limit-rate", "256K", "--max-time", "1", "-o", str(tmp_path / "cut.bin"),
                    srv.url("big.bin"), timeout=30)
    assert cut.rc == 28, cut  # operation timed out: the download was cut short
    wait_until(lambda: len(parse_xferlog(xferlog)) >= 3, "three xferlog lines", WAIT)
    entries = parse_xferlog(xferlog)
    assert len(entries) == 3, entries
    after = datetime.datetime.now() + datetime.timedelta(seconds=1)
    for e in entries:
        assert before <= e["when"] <= after, e
        assert e["seconds"] >= 1
        assert (e["host"], e["type"], e["action"], e["mode"], e["user"]) == (HOST, "b", "_", "r", "alice"), e
        assert (e["service"], e["auth_method"], e["auth_user"]) == ("ftp", "0", "*"), e
    upl, dl, ab = entries
    assert (upl["direction"], upl["size"], upl["filename"], upl["status"]) == ("i", len(data), "/my_report.bin", "c")
    assert (dl["direction"], dl["size"], dl["filename"], dl["status"]) == ("o", len(data), "/my_report.bin", "c")
    assert (ab["direction"], ab["filename"], ab["status"]) == ("o", "/big.bin", "i")
    assert 0 < ab["size"] < 8 * MiB, ab

    # logrotate: rename, SIGHUP, and the next transfer goes to a new file.
    rotated = log_dir / "xferlog.1"
    xferlog.rename(rotated)
    reloads = srv.log.count("SIGHUP: configuration reloaded")
    srv.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: srv.log.count("SIGHUP: configuration reloaded") > reloads, "the reload to be logged", WAIT)
    again = peer.curl(srv, *TLS, "-o", str(out), srv.url("my%20report.bin"), timeout=60)
    assert again.rc == 0, again
    wait_until(lambda: len(parse_xferlog(xferlog)) == 1, "a line in the new xferlog", WAIT)
    assert parse_xferlog(xferlog)[0]["status"] == "c"
    assert len(parse_xferlog(rotated)) == 3
    assert xferlog.stat().st_mode & 0o777 == 0o600

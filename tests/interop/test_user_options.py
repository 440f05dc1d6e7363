"""Per-user options in the users file (issue 14): `name:hash:home:options` with readonly,
download=RATE, upload=RATE, sha256=FINGERPRINT and from=SUBNET; `ferryd user add --options`
writes them and `ferryd check-config` reports a wrong one with its file:line.

Servers listen on 127.0.0.1 only; every wait has a deadline. The options hold whatever the
password: a refused login looks to the client like a wrong password (530), the log says why.
"""
from __future__ import annotations

import ftplib
import io
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HOST, PASSWORD, server_argv
from ftpwire import RawControl, RecordingFTP_TLS, client_context, sha256

pytestmark = pytest.mark.ferryd_only("the users file is ferryd's own")

MiB = 1024 * 1024
SIZE = 3 * MiB  # 3 s at 1 MiB/s: long enough for a 10% bound, short enough for CI


def users_file(tmp_path_factory, name, pki, entries: dict[str, str]):
    """A users file of name -> options (all with the suite's password), each with its own home."""
    d = tmp_path_factory.mktemp(name)
    lines = []
    for user, options in entries.items():
        (d / user).mkdir()
        lines.append(f"{user}:{pki['hash']}:{d / user}" + (f":{options}" if options else ""))
    (d / "users").write_text("# per-user options\n" + "\n".join(lines) + "\n")
    return d


def session(srv, user, prot="P", context=None):
    ftp = RecordingFTP_TLS(mode="epsv", context=context)
    return ftp.connect_login(srv.port, user, PASSWORD, prot)


def login_code(srv, user, ctx=None) -> int:
    with RawControl(srv.port) as c:
        c.starttls(ctx)
        c.expect(f"USER {user}", 331)
        return c.cmd(f"PASS {PASSWORD}").code


def timed(f):
    start = time.monotonic()
    result = f()
    return result, time.monotonic() - start


# --------------------------------------------------------------------------------------------
# readonly


@pytest.fixture(scope="module")
def readonly_server(ferryd_factory, tmp_path_factory, pki):
    d = users_file(tmp_path_factory, "readonly-users", pki, {"reader": "readonly", "writer": ""})
    for user in ("reader", "writer"):
        (d / user / "report.txt").write_bytes(b"the original report\n")
        (d / user / "old").mkdir()
    return ferryd_factory("readonly", overrides={"USERS": str(d / "users")}), d


def test_a_readonly_user_reads_but_changes_nothing(readonly_server):
    """reader downloads and lists; STOR over an existing file, APPE, STOU, DELE, MKD, RMD,
    RNFR, MFMT and SITE CHMOD get 550 and the folder is exactly as before. writer, in the
    same server with the same folder permissions, may do all of it."""
    srv, d = readonly_server
    home = d / "reader"
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None) for p in home.iterdir()}
    ftp = session(srv, "reader")
    try:
        out = bytearray()
        assert ftp.retrbinary("RETR report.txt", out.extend).startswith("226")
        assert bytes(out) == b"the original report\n"
        assert sorted(ftp.nlst()) == ["old", "report.txt"]
        refused = {
            "STOR": lambda: ftp.storbinary("STOR report.txt", io.BytesIO(b"overwritten")),
            "APPE": lambda: ftp.storbinary("APPE report.txt", io.BytesIO(b"appended")),
            "STOU": lambda: ftp.storbinary("STOU", io.BytesIO(b"unique")),
            "DELE": lambda: ftp.delete("report.txt"),
            "MKD": lambda: ftp.mkd("new"),
            "RMD": lambda: ftp.rmd("old"),
            "RNFR": lambda: ftp.rename("report.txt", "moved.txt"),
            "MFMT": lambda: ftp.voidcmd("MFMT 20200101000000 report.txt"),
            "SITE CHMOD": lambda: ftp.voidcmd("SITE CHMOD 0777 report.txt"),
        }
        for verb, call in refused.items():
            with pytest.raises(ftplib.error_perm) as exc:
                call()
            assert str(exc.value).startswith("550") and "read-only" in str(exc.value), (verb, exc.value)
        assert ftp.voidcmd("NOOP").startswith("200"), "the session goes on after the refusals"
    finally:
        ftp.quit()
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes() if p.is_file() else None) for p in home.iterdir()}
    assert after == before

    ftp = session(srv, "writer")
    try:
        ftp.storbinary("STOR report.txt", io.BytesIO(b"new report"))
        ftp.mkd("new")
        ftp.rename("report.txt", "new/report.txt")
        ftp.rmd("old")
    finally:
        ftp.quit()
    assert (d / "writer" / "new" / "report.txt").read_bytes() == b"new report"
    assert not (d / "writer" / "old").exists()


# --------------------------------------------------------------------------------------------
# download= and upload=


@pytest.fixture(scope="module")
def rated_server(ferryd_factory, tmp_path_factory, pki):
    """Global DOWNLOADRATE 256K: slow gets 1 MiB/s both ways, free none at all (0)."""
    d = users_file(tmp_path_factory, "rated-users", pki,
                   {"slow": "download=1M,upload=1024K", "free": "download=0", "plain": ""})
    data = os.urandom(SIZE)
    for user in ("slow", "free", "plain"):
        (d / user / "three.bin").write_bytes(data)
    srv = ferryd_factory("rated", overrides={"USERS": str(d / "users"), "DOWNLOADRATE": "256K"})
    return srv, d, data


def test_a_users_rates_replace_the_global_ones(rated_server):
    """slow's download=1M and upload=1024K hold within 10% (3 MiB in 2.7–3.3 s each way), free's
    download=0 lifts the global 256K limit (3 MiB in well under the 12 s it would take), and
    every byte arrives."""
    srv, d, data = rated_server
    ftp = session(srv, "slow")
    try:
        out = bytearray()
        resp, secs = timed(lambda: ftp.retrbinary("RETR three.bin", out.extend, blocksize=1 << 16))
        assert resp.startswith("226") and sha256(out) == sha256(data)
        assert 2.7 <= secs <= 3.3, f"3 MiB at download=1M took {secs:.2f} s"
        resp, secs = timed(lambda: ftp.storbinary("STOR up.bin", io.BytesIO(data), blocksize=1 << 16))
        assert resp.startswith("226") and sha256((d / "slow" / "up.bin").read_bytes()) == sha256(data)
        assert 2.7 <= secs <= 3.3, f"3 MiB at upload=1024K took {secs:.2f} s"
    finally:
        ftp.quit()
    ftp = session(srv, "free")
    try:
        out = bytearray()
        _, secs = timed(lambda: ftp.retrbinary("RETR three.bin", out.extend, blocksize=1 << 16))
    finally:
        ftp.quit()
    assert sha256(out) == sha256(data) and secs < 2.0, f"download=0 still paced: {secs:.2f} s"


def test_a_user_without_rates_keeps_the_global_one(rated_server):
    """plain has no option: the global DOWNLOADRATE 256K holds (1 MiB of the file in 3.6–4.4 s)."""
    srv, _, data = rated_server
    ftp = session(srv, "plain")
    try:
        ftp.voidcmd("TYPE I")
        conn = ftp.transfercmd("RETR three.bin")
        got = bytearray()
        start = time.monotonic()
        while len(got) < MiB:
            chunk = conn.recv(65536)
            assert chunk, "the data connection closed early"
            got += chunk
        secs = time.monotonic() - start
        conn.close()
        ftp.abort()
    finally:
        ftp.close()
    assert bytes(got[:MiB]) == data[:MiB]
    assert 3.6 <= secs <= 4.4, f"1 MiB at 256K took {secs:.2f} s"


# --------------------------------------------------------------------------------------------
# from= and sha256=


def test_from_limits_where_a_user_may_log_in_from(ferryd_factory, tmp_path_factory, pki):
    """near (from=127.0.0.0/8) logs in over loopback; far (from=10.0.0.0/8 and 192.168.0.0/16)
    gets 530 with the right password, and the log says which address was outside."""
    d = users_file(tmp_path_factory, "from-users", pki,
                   {"near": "from=127.0.0.0/8", "far": "from=10.0.0.0/8,from=192.168.0.0/16"})
    srv = ferryd_factory("from", overrides={"USERS": str(d / "users")})
    assert login_code(srv, "near") == 230
    assert login_code(srv, "far") == 530
    assert re.search(r"login of far refused: 127\.0\.0\.1 is outside the user's from= subnets", srv.log), srv.log[-2000:]


def test_sha256_binds_a_user_to_one_client_certificate(ferryd_factory, tmp_path_factory, pki, client_pki):
    """SECURE_LOGIN REQUIRED with the client CA: carol (sha256= of alice's certificate) logs in
    with that certificate only; bob's, trusted by the same CA, gets 530 for carol, and dave
    without the option logs in with either."""
    fp = client_pki["alice"].fingerprint
    d = users_file(tmp_path_factory, "cert-users", pki, {"carol": f"sha256={fp}", "dave": ""})
    srv = ferryd_factory("bound", overrides={"USERS": str(d / "users"), "SECURE_LOGIN": "REQUIRED",
                                             "CAFILE": str(client_pki["ca"])})

    def ctx(who):
        return client_context(cert=client_pki[who].cert, key=client_pki[who].key)

    assert login_code(srv, "carol", ctx("alice")) == 230
    assert login_code(srv, "carol", ctx("bob")) == 530
    assert "is not the user's sha256=" in srv.log
    assert login_code(srv, "dave", ctx("alice")) == 230
    assert login_code(srv, "dave", ctx("bob")) == 230


# --------------------------------------------------------------------------------------------
# ferryd user add --options, ferryd check-config


def run_ferryd(*args: str, stdin: bytes = b"") -> subprocess.CompletedProcess:
    return subprocess.run([server_argv(Path("unused"))[0], *args], input=stdin, capture_output=True, timeout=30)


def test_user_add_writes_options_and_check_config_reports_them(pki, tmp_path):
    """`ferryd user add -o readonly,download=1M` writes the fourth field and `user list` shows it;
    a wrong option is refused (exit 2) with the file unchanged. check-config gives a wrong option
    in a hand-edited file as error file:line, and warns of sha256= while no certificate is asked for."""
    users, home = tmp_path / "users", tmp_path / "home"
    home.mkdir()
    r = run_ferryd("user", "--users", str(users), "add", "reader", "-d", str(home),
                   "-o", "readonly,download=1M", stdin=b"Reader-pw-1\n")
    assert r.returncode == 0, r.stderr.decode()
    assert re.search(rf"^reader:\$y\$[^:]+:{re.escape(str(home))}:readonly,download=1M$", users.read_text(), re.M)
    listed = run_ferryd("user", "list", "--users", str(users)).stdout.decode()
    assert listed.splitlines()[0] == f"reader\t{home}\treadonly,download=1M", listed
    text = users.read_text()
    bad = run_ferryd("user", "--users", str(users), "add", "other", "-d", str(home),
                     "-o", "download=fast", stdin=b"x\n")
    assert bad.returncode == 2 and "download" in bad.stderr.decode(), bad.stderr.decode()
    assert users.read_text() == text

    conf = tmp_path / "ferryd.conf"
    conf.write_text(f"LISTEN {HOST} 2121\nUSERS users\nRUNAS root\n")
    users.write_text(text + f"bound:{pki['hash']}:{home}:sha256={'AB:' * 31}AB\n")
    res = run_ferryd("check-config", str(conf))
    assert res.returncode == 0, res.stderr.decode()
    assert re.search(r'^warning: .*"bound" has sha256= but SECURE_LOGIN is NO_CLIENT_AUTH', res.stderr.decode(), re.M)
    users.write_text(text + f"typo:{pki['hash']}:{home}:readonly,uplaod=1M\n")
    res = run_ferryd("check-config", str(conf))
    assert res.returncode == 1
    assert re.search(rf"^error: {re.escape(str(users))}:2: .*uplaod", res.stderr.decode(), re.M), res.stderr.decode()

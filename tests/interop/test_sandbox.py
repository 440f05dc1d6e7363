"""ferryd's process model (issue 10): started as root it binds its listeners, then serves as the
RUNAS user with no capability but CAP_NET_BIND_SERVICE (and that only for ACTIVEDATAPORT 20),
NO_NEW_PRIVS, Landlock and a seccomp allow-list, in every thread; started unprivileged it applies
what it can and says what it could not.

What is asserted is what an administrator or client sees: the start refused with the reason,
the process's credentials in /proc, the owner of an uploaded file on disk, a 550 for a file the
service user may not read. The tests create a real system user and remove it afterwards.
Landlock's and seccomp's effects inside the process are asserted in tests/unit/sandbox_test.cpp.
"""
from __future__ import annotations

import grp
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import HOST, PASSWORD, USER, Server, ServerFactory, free_port, free_port_range, server_argv
from ftpwire import RawControl, close_data, recv_all

CAP_NET_BIND_SERVICE = 1 << 10
DEADLINE = 20.0


def task_status(pid: int) -> list[dict[str, str]]:
    """/proc status of every thread of pid."""
    out = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        fields = {}
        for line in (task / "status").read_text().splitlines():
            key, _, value = line.partition(":")
            fields[key] = value.strip()
        out.append(fields)
    return out


def assert_confined(pid: int, uid: int, caps: int, groups: set[int] | None = None) -> None:
    threads = task_status(pid)
    assert len(threads) > 2, "the worker threads should be running"
    for t in threads:
        name = t["Name"]
        assert t["Uid"].split() == [str(uid)] * 4, (name, t["Uid"])
        for key in ("CapEff", "CapPrm", "CapBnd"):
            assert int(t[key], 16) == caps, (name, key, t[key])
        assert int(t["CapAmb"], 16) == 0 and int(t["CapInh"], 16) == 0, (name, t["CapAmb"], t["CapInh"])
        assert t["NoNewPrivs"] == "1", (name, t["NoNewPrivs"])
        assert t["Seccomp"] == "2", (name, t["Seccomp"])  # 2: a filter
        if groups is not None:
            assert set(map(int, t["Groups"].split())) == groups, (name, t["Groups"])


@pytest.fixture(scope="module")
def service_user():
    """A system user with a supplementary group, created for this module and removed after."""
    name = f"ferryt{os.getpid() % 100000}"
    extra = name + "g"
    subprocess.run(["groupadd", "--system", extra], check=True, timeout=30, capture_output=True)
    try:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--user-group", "--groups", extra, name], check=True, timeout=30, capture_output=True)
        try:
            pw = pwd.getpwnam(name)
            yield {"name": name, "uid": pw.pw_uid, "gid": pw.pw_gid, "extra": grp.getgrnam(extra).gr_gid}
        finally:
            subprocess.run(["userdel", name], timeout=30, capture_output=True, check=True)
    finally:
        subprocess.run(["groupdel", extra], timeout=30, capture_output=True)


@pytest.fixture(scope="module")
def runas_factory(service_user, tmp_path_factory, pki):
    """Servers that run as service_user: stopped before the user is removed."""
    factory = ServerFactory(tmp_path_factory, pki)
    yield factory
    crashed = factory.close()
    if crashed:
        pytest.fail("server died during the module's tests:\n" + "\n".join(crashed), pytrace=False)


@pytest.fixture
def open_base():
    """A folder the service user can reach (pytest's own folders are root's, mode 0700)."""
    base = Path(tempfile.mkdtemp(prefix="ferry-sandbox-", dir="/tmp"))
    base.chmod(0o755)
    yield base
    shutil.rmtree(base, ignore_errors=True)


def users_file(path: Path, home: Path, hashed: str) -> Path:
    path.write_text(f"{USER}:{hashed}:{home}\n")
    path.chmod(0o600)
    return path


def upload(c: RawControl, name: str, data: bytes) -> None:
    d = c.open_data(c.epsv_port(), protect=True)
    c.expect(f"STOR {name}", 150)
    d.sendall(data)
    close_data(d)
    assert c.reply().code == 226


def test_runas_user_serves_every_session_as_that_user(service_user, runas_factory, pki, tmp_path, open_base):
    """Fails on the code before issue 10: RUNAS was an unknown statement (the start failed), and
    ferryd served as root with every capability."""
    u = service_user
    home = open_base / "home"
    home.mkdir()
    os.chown(home, u["uid"], u["gid"])
    secret = home / "root-only.txt"
    secret.write_bytes(b"only root may read this\n")
    secret.chmod(0o600)
    users = users_file(tmp_path / "users", home, pki["hash"])
    srv = runas_factory("runas", overrides={"RUNAS": u["name"], "USERS": str(users)})
    assert_confined(srv.proc.pid, u["uid"], CAP_NET_BIND_SERVICE, {u["gid"], u["extra"]})
    assert re.search(rf"sandbox: user {u['name']} \(uid {u['uid']}\), .*Landlock ABI \d+ \(1 folder\(s\) read-write",
                     srv.log), srv.log
    # The test's TLS files sit in root's 0700 folders: the service user could not re-read them.
    assert re.search(r"sandbox: not applied: /\S+/pki\d* is not reachable by uid \d+ \(a SIGHUP reload", srv.log), srv.log
    with RawControl(srv.port) as c:
        c.login_tls(USER, PASSWORD)
        c.expect("TYPE I", 200)
        upload(c, "up.txt", b"uploaded as the service user\n")
        st = (home / "up.txt").stat()
        assert (st.st_uid, st.st_gid) == (u["uid"], u["gid"]) and st.st_mode & 0o777 == 0o644
        assert (home / "up.txt").read_bytes() == b"uploaded as the service user\n"
        # The kernel's permissions apply: the service user cannot read root's 0600 file.
        d = c.open_data(c.epsv_port(), protect=True)
        r = c.cmd("RETR root-only.txt")
        assert r.code == 550, r
        d.close()


def test_activedataport_ephemeral_keeps_no_capability(service_user, runas_factory, pki, tmp_path, open_base):
    """Without ACTIVEDATAPORT 20 nothing needs a privileged port: no capability at all, not even
    in the bounding set. Fails on the code before issue 10 (unknown RUNAS; full capabilities)."""
    u = service_user
    home = open_base / "home"
    home.mkdir()
    os.chown(home, u["uid"], u["gid"])
    users = users_file(tmp_path / "users", home, pki["hash"])
    srv = runas_factory("nocaps", overrides={"RUNAS": u["name"], "USERS": str(users),
                                               "ACTIVEDATAPORT": "EPHEMERAL"})
    assert_confined(srv.proc.pid, u["uid"], 0)
    assert re.search(r"sandbox: user .*capabilities: none, no_new_privs, Landlock ABI", srv.log), srv.log


def test_runas_root_still_drops_capabilities_and_confines(ferryd_factory):
    """RUNAS root keeps uid 0 but not root's powers. Fails on the code before issue 10: RUNAS
    was unknown, and the process kept every capability without NO_NEW_PRIVS or seccomp."""
    srv = ferryd_factory("runas-root")  # the factory writes RUNAS root
    assert_confined(srv.proc.pid, 0, CAP_NET_BIND_SERVICE)
    assert re.search(r"sandbox: .*Landlock ABI \d+ .*seccomp allow-list", srv.log), srv.log
    with RawControl(srv.port) as c:  # and it still serves
        c.login_tls(USER, PASSWORD)
        c.expect("PWD", 257)


def write_config(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def test_root_without_runas_or_with_an_unknown_user_is_refused(pki, tmp_path, open_base):
    """Fails on the code before issue 10: with no RUNAS ferryd served as root, and RUNAS was an
    unknown statement."""
    users = users_file(tmp_path / "users", open_base, pki["hash"])
    base = [f"LISTEN {HOST} {free_port()}", "TLSPORT 0", f"KEYRING {pki['pem']}", f"USERS {users}"]
    try:
        pwd.getpwnam("ferry")
        has_ferry = True
    except KeyError:
        has_ferry = False
    config = write_config(tmp_path / "unknown.conf", [*base, "RUNAS nosuchuser-ferry"])
    res = subprocess.run(server_argv(config), capture_output=True, text=True, timeout=30,
                         stdin=subprocess.DEVNULL)
    assert res.returncode == 2 and f"{config}:5: RUNAS nosuchuser-ferry: no such user" in res.stderr, res.stderr
    if not has_ferry:
        config = write_config(tmp_path / "none.conf", base)
        res = subprocess.run(server_argv(config), capture_output=True, text=True, timeout=30,
                             stdin=subprocess.DEVNULL)
        assert res.returncode == 2, res
        assert "no RUNAS statement and no user 'ferry'" in res.stderr and "RUNAS root" in res.stderr, res.stderr


def test_started_unprivileged_applies_what_it_can(pki, service_user, open_base):
    """Started as an ordinary user, ferryd cannot switch users, says so, and still sets
    NO_NEW_PRIVS, Landlock and seccomp. Fails on the code before issue 10 (RUNAS unknown; no
    NO_NEW_PRIVS, no seccomp)."""
    u = service_user
    for p in (open_base,):
        os.chown(p, u["uid"], u["gid"])
    home = open_base / "home"
    home.mkdir()
    (home / "hello.txt").write_bytes(b"hello from an unprivileged ferryd\n")
    pem = open_base / "server.pem"
    pem.write_bytes(Path(pki["pem"]).read_bytes())
    users = users_file(open_base / "users", home, pki["hash"])
    for p in (home, home / "hello.txt", pem, users):
        os.chown(p, u["uid"], u["gid"])
    pem.chmod(0o600)
    port = free_port()
    lo, hi = free_port_range()
    config = write_config(open_base / "ferryd.conf", [
        f"LISTEN {HOST} {port}", "TLSPORT 0", f"KEYRING {pem}", f"USERS {users}", "EXTENSIONS AUTH_TLS",
        f"PASSIVEDATAPORTS {lo} {hi}", "RUNAS root"])
    os.chown(config, u["uid"], u["gid"])
    argv = ["setpriv", f"--reuid={u['uid']}", f"--regid={u['gid']}", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--", *server_argv(config)]
    srv = Server(name="unprivileged", host=HOST, port=port, tls_port=0, user=USER, password=PASSWORD,
                 home=home, outside=open_base, root=open_base, config_path=config,
                 log_path=open_base / "server.log", pasv_range=(lo, hi), argv=argv)
    srv.start()
    try:
        assert_confined(srv.proc.pid, u["uid"], 0)
        assert "sandbox: not applied: RUNAS root: not started as root" in srv.log, srv.log
        assert re.search(r"sandbox: capabilities: none, no_new_privs, Landlock ABI \d+ \(1 folder", srv.log), srv.log
        with RawControl(srv.port) as c:
            c.login_tls(USER, PASSWORD)
            c.expect("TYPE I", 200)
            d = c.open_data(c.epsv_port(), protect=True)
            c.expect("RETR hello.txt", 150)
            assert recv_all(d) == b"hello from an unprivileged ferryd\n"
            close_data(d)
            assert c.reply().code == 226
    finally:
        srv.stop()


def test_serve_started_as_root_serves_the_folder_as_its_owner(service_user, open_base, tmp_path):
    """`ferryd serve DIR` run by root serves DIR with its owner's rights; a folder of root's needs
    --runas root said out loud. Fails on the code before issue 10: serve ran every session as
    root (the upload below was root's) and served root's folders without asking."""
    u = service_user
    share = open_base / "share"
    share.mkdir()
    os.chown(share, u["uid"], u["gid"])
    env = dict(os.environ, FERRYD_STATE_DIR=str(tmp_path / "state"))
    refused = subprocess.run([os.environ["FERRYD"], "serve", str(tmp_path), "--address", HOST, "--port", "0",
                              "--tlsport", "0"], capture_output=True, text=True, timeout=30, env=env,
                             stdin=subprocess.DEVNULL)
    assert refused.returncode == 2 and "belongs to root: serve it with --runas root" in refused.stderr, refused
    port = free_port()
    proc = subprocess.Popen([os.environ["FERRYD"], "serve", str(share), "--address", HOST, "--port", str(port),
                             "--tlsport", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out = ""
        while "Stop with Ctrl-C" not in out:
            line = proc.stdout.readline().decode()
            assert line, f"ferryd serve exited: {proc.stderr.read()!r}"
            out += line
        password = re.search(r"password\s+(\S+)", out).group(1)
        with RawControl(port) as c:
            c.login_tls("ferry", password)
            c.expect("TYPE I", 200)
            upload(c, "mine.txt", b"owned by the folder's owner\n")
        # Checked after a session has run: the worker threads start just after the banner.
        assert_confined(proc.pid, u["uid"], CAP_NET_BIND_SERVICE)
        st = (share / "mine.txt").stat()
        assert (st.st_uid, st.st_gid) == (u["uid"], u["gid"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

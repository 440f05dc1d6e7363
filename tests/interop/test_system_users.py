"""System users through PAM (issue 10, SYSTEMUSERS ON): a system user logs in with the password
the system knows for them, is confined to their home folder, and every file operation runs with
their uid, gid and supplementary groups, so the kernel allows and refuses exactly what it would
for that user's shell; virtual users keep working beside them.

The module creates real system users (useradd, passwords by chpasswd), a PAM service file of its
own under /etc/pam.d, and an unprivileged RUNAS user, and removes them all afterwards. What is
asserted is what a user or administrator sees: replies, file owners and bytes on disk, the
process's credentials in /proc. Every test fails on the code before this work: SYSTEMUSERS,
PAMSERVICE, SYSTEMHOMES and SYSTEMMINUID were unknown statements, so the server did not start.
"""
from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import PASSWORD, USER, ServerFactory, server_argv
from ftpwire import RawControl, close_data, recv_all
from test_sandbox import task_status

CAP_NET_BIND_SERVICE, CAP_SETGID, CAP_SETUID = 1 << 10, 1 << 6, 1 << 7
TAG = f"fsu{os.getpid() % 100000}"


def run(*argv: str, input: str | None = None) -> None:
    subprocess.run(list(argv), check=True, timeout=30, capture_output=True, text=True, input=input)


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    """Users, groups, homes and a PAM service for this module; all removed at its end."""
    if os.geteuid() != 0:
        pytest.fail("system users need root (CI runs as root)", pytrace=False)
    base = Path(tempfile.mkdtemp(prefix="ferry-sysusers-", dir="/tmp"))
    base.chmod(0o755)
    homes = base / "homes"
    homes.mkdir(mode=0o755)
    pam_file = Path(f"/etc/pam.d/ferryd-{TAG}")
    pam_file.write_text("@include common-auth\n@include common-account\n")
    users, groups = [], []
    info = {"base": base, "homes": homes, "pam": pam_file.name}
    try:
        shared = f"{TAG}g"
        run("groupadd", shared)
        groups.append(shared)
        info["shared_gid"] = grp.getgrnam(shared).gr_gid

        def add(key, *opts, home=None, password=None):
            name = f"{TAG}{key}"
            argv = ["useradd", "--shell", "/bin/sh", "--user-group", *opts, name]
            if home:
                argv[1:1] = ["--create-home", "--home-dir", str(home)]
            else:
                argv[1:1] = ["--no-create-home"]
            run(*argv)
            users.append(name)
            if password:
                run("chpasswd", input=f"{name}:{password}\n")
            if home:
                os.chmod(home, 0o700)
            pw = pwd.getpwnam(name)
            info[key] = {"name": name, "uid": pw.pw_uid, "gid": pw.pw_gid, "home": home, "password": password}

        add("svc", "--system")  # RUNAS: the unprivileged service user
        add("a", "--groups", shared, home=homes / "a", password="Pw-a-4471")
        add("b", home=homes / "b", password="Pw-b-9202")
        add("low", "--system", home=homes / "low", password="Pw-low-118")  # uid below 1000
        (base / "elsewhere").mkdir(mode=0o755)
        add("out", home=base / "elsewhere" / "out", password="Pw-out-353")  # home outside SYSTEMHOMES
        # The virtual user's home belongs to the service user.
        vhome = base / "virtual"
        vhome.mkdir()
        os.chown(vhome, info["svc"]["uid"], info["svc"]["gid"])
        info["virtual_home"] = vhome
        yield info
    finally:
        for name in users:
            subprocess.run(["userdel", name], timeout=30, capture_output=True)
        for name in groups:
            subprocess.run(["groupdel", name], timeout=30, capture_output=True)
        pam_file.unlink(missing_ok=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def srv(system, tmp_path_factory, pki):
    """One server for the module, as the service user, with system users on."""
    factory = ServerFactory(tmp_path_factory, pki)
    users = system["base"] / "users"
    users.write_text(f"{USER}:{pki['hash']}:{system['virtual_home']}\n")
    users.chmod(0o600)
    server = factory("sysusers", overrides={
        "RUNAS": system["svc"]["name"], "USERS": str(users), "SANDBOX": "ON", "SYSTEMUSERS": "ON",
        "PAMSERVICE": system["pam"], "SYSTEMHOMES": str(system["homes"]), "ACTIVEDATAPORT": "EPHEMERAL"})
    yield server
    crashed = factory.close()
    if crashed:
        pytest.fail("server died during the module's tests:\n" + "\n".join(crashed), pytrace=False)


def login(srv, user: str, password: str) -> RawControl:
    c = RawControl(srv.port)
    c.login_tls(user, password)
    c.expect("TYPE I", 200)
    return c


def upload(c: RawControl, name: str, data: bytes) -> int:
    d = c.open_data(c.epsv_port(), protect=True)
    r = c.cmd(f"STOR {name}")
    if r.code != 150:
        d.close()
        return r.code
    d.sendall(data)
    close_data(d)
    return c.reply().code


def download(c: RawControl, name: str) -> tuple[int, bytes]:
    d = c.open_data(c.epsv_port(), protect=True)
    r = c.cmd(f"RETR {name}")
    if r.code != 150:
        d.close()
        return r.code, b""
    data = recv_all(d)
    close_data(d)
    return c.reply().code, data


def test_a_system_users_files_carry_that_users_rights(system, srv):
    """Uploads, folders and renames belong to the user; a root-owned file readable by one of the
    user's supplementary groups is served, a root-only file and a root-owned folder refuse, as
    they would to the user's shell. The server itself runs as the unprivileged RUNAS user, which
    could read none of this (the home is the user's, mode 0700)."""
    a = system["a"]
    home: Path = a["home"]
    group_file = home / "group-only.txt"
    group_file.write_bytes(b"for the shared group\n")
    os.chown(group_file, 0, system["shared_gid"])
    group_file.chmod(0o640)
    root_file = home / "root-only.txt"
    root_file.write_bytes(b"root's\n")
    root_file.chmod(0o600)
    locked = home / "locked"
    locked.mkdir(mode=0o755)
    (locked / "keep.txt").write_bytes(b"stays\n")  # root's folder and file
    with login(srv, a["name"], a["password"]) as c:
        assert "/" in c.expect("PWD", 257).text
        data = os.urandom(100_000)
        assert upload(c, "mine.bin", data) == 226
        st = (home / "mine.bin").stat()
        assert (st.st_uid, st.st_gid) == (a["uid"], a["gid"]) and (home / "mine.bin").read_bytes() == data
        c.expect("MKD made", 257)
        assert (home / "made").stat().st_uid == a["uid"]
        c.expect("RNFR mine.bin", 350)
        c.expect("RNTO made/moved.bin", 250)
        assert (home / "made" / "moved.bin").stat().st_uid == a["uid"]
        assert download(c, "made/moved.bin") == (226, data)
        assert download(c, "group-only.txt") == (226, b"for the shared group\n")
        assert download(c, "root-only.txt")[0] == 550
        # root's folder: no delete, no upload, no new folder, whatever the service user may do.
        assert c.cmd("DELE locked/keep.txt").code == 550
        assert upload(c, "locked/new.txt", b"x") in (550, 553)
        assert c.cmd("MKD locked/sub").code == 550
        assert sorted(p.name for p in locked.iterdir()) == ["keep.txt"]
        assert (locked / "keep.txt").read_bytes() == b"stays\n"


def test_each_user_is_kept_apart_from_another(system, srv):
    """User b's folder inside a's home, mode 0700, is closed to a (the kernel decides: same server
    process, different rights); b's own session reads b's home and nothing of a's."""
    a, b = system["a"], system["b"]
    private = a["home"] / "b-private"
    private.mkdir(mode=0o700)
    (private / "note.txt").write_bytes(b"b's note\n")
    os.chown(private / "note.txt", b["uid"], b["gid"])
    os.chown(private, b["uid"], b["gid"])
    (b["home"] / "own.txt").write_bytes(b"b's own file\n")
    os.chown(b["home"] / "own.txt", b["uid"], b["gid"])
    with login(srv, a["name"], a["password"]) as ca, login(srv, b["name"], b["password"]) as cb:
        assert download(ca, "b-private/note.txt")[0] == 550
        assert ca.cmd("CWD b-private").code == 550
        assert download(cb, "own.txt") == (226, b"b's own file\n")
        # b is confined to b's home: a's files are not reachable by any path.
        assert download(cb, "../a/group-only.txt")[0] == 550
        assert download(cb, f"{a['home']}/mine.bin")[0] == 550
    # a virtual user beside them is served as the RUNAS user, as before.
    with login(srv, USER, PASSWORD) as c:
        assert upload(c, "v.txt", b"virtual\n") == 226
        st = (system["virtual_home"] / "v.txt").stat()
        assert (st.st_uid, st.st_gid) == (system["svc"]["uid"], system["svc"]["gid"])


@pytest.mark.parametrize("who, password, logged", [
    ("a", "wrong-password", "system login of {name} refused: PAM: Authentication failure"),
    ("low", None, "below SYSTEMMINUID 1000"),
    ("out", None, "is not below SYSTEMHOMES"),
    ("root", "whatever", "system login of root refused"),
    ("nosuchuser", "whatever", "system login of {tag}nosuchuser refused"),
])
def test_refused_logins_get_530_and_the_reason_only_in_the_log(system, srv, who, password, logged):
    """A wrong password, a service account (uid below SYSTEMMINUID), a home outside SYSTEMHOMES,
    root and an unknown name: the same 530 for each, the reason in the server's log only."""
    if who in system:
        name = system[who]["name"]
        password = password or system[who]["password"]
    else:
        name = who if who == "root" else TAG + who
    with RawControl(srv.port) as c:
        c.starttls()
        c.expect(f"USER {name}", 331)
        r = c.cmd(f"PASS {password}")
        assert r.code == 530, r
    assert logged.format(name=name, tag=TAG) in srv.log, srv.log[-3000:]


def test_the_process_keeps_only_the_identity_capabilities(system, srv):
    """Every thread runs as the RUNAS user with CAP_SETUID and CAP_SETGID only (what taking a
    user's file rights needs), NO_NEW_PRIVS and the seccomp filter; the PAM broker is a separate
    process."""
    svc = system["svc"]
    want = CAP_SETUID | CAP_SETGID
    for t in task_status(srv.proc.pid):
        assert t["Uid"].split() == [str(svc["uid"])] * 4, t["Uid"]
        assert int(t["CapEff"], 16) == want and int(t["CapPrm"], 16) == want, (t["Name"], t["CapEff"])
        assert t["NoNewPrivs"] == "1" and t["Seccomp"] == "2", t
    assert f"system users: PAM service {system['pam']}, homes below {system['homes']}" in srv.log


def test_system_users_need_the_sandbox(system, tmp_path, pki):
    """Without seccomp nothing would narrow CAP_SETUID: SYSTEMUSERS ON with SANDBOX OFF is refused
    at start, with the statement's file and line."""
    config = tmp_path / "nosandbox.conf"
    config.write_text(f"LISTEN 127.0.0.1 0\nTLSPORT 0\nKEYRING {pki['pem']}\nRUNAS root\nSANDBOX OFF\n"
                      f"SYSTEMUSERS ON\n")
    res = subprocess.run(server_argv(config), capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    assert res.returncode == 2 and f"{config}:6: SYSTEMUSERS ON needs SANDBOX ON" in res.stderr, res.stderr

"""The Debian package (issue 14), end to end on this machine: build it with cpack, install it with
dpkg, start ferryd exactly as the installed systemd unit would (its ExecStart line, under its
User=, Group=, capabilities and no_new_privs, reproduced with setpriv: systemd itself does not
run in CI), download and upload with curl over TLS, stop it, then remove and purge the package
and check that nothing it made is left.

Needs root (dpkg, a system user); installs system-wide, so CTest runs it alone (RUN_SERIAL).
Every step is bounded in time, and the package is purged in a finally whatever failed.
"""
from __future__ import annotations

import grp
import os
import pwd
import re
import secrets
import shlex
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

BUILD = Path(os.environ.get("FERRY_BUILD_DIR", Path(__file__).resolve().parents[2] / "build"))
PACKAGE = "ferry"
USER = "ferry"
PASSWORD = "Pkg-test-" + secrets.token_hex(8)
INSTALLED = [Path("/usr/bin/ferryd"), Path("/usr/bin/ferry"), Path("/usr/share/man/man8/ferryd.8"),
             Path("/usr/share/man/man1/ferry.1"), Path("/usr/share/man/man5/ferryd.conf.5"),
             Path("/usr/share/doc/ferry/examples/ferryd.conf"), Path("/usr/lib/systemd/system/ferryd.service")]
CONFFILE = Path("/etc/ferry/ferryd.conf")


def run(argv, timeout=60, check=True, **kw):
    res = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, stdin=kw.pop("stdin", subprocess.DEVNULL),
                         **kw)
    if check and res.returncode != 0:
        raise AssertionError(f"{shlex.join(map(str, argv))} exited {res.returncode}\n{res.stdout}\n{res.stderr}")
    return res


def known(package: str) -> bool:
    """Installed, or removed with its conffiles left (dpkg -r without -P)."""
    return run(["dpkg-query", "-W", package], check=False).returncode == 0


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def group_exists(name: str) -> bool:
    try:
        grp.getgrnam(name)
        return True
    except KeyError:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unit_settings(text: str) -> dict[str, list[str]]:
    """key -> values of the [Service] section, in order (systemd's syntax, no continuation lines)."""
    out: dict[str, list[str]] = {}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;":
            continue
        if line.startswith("["):
            section = line
            continue
        if section == "[Service]":
            key, _, value = line.partition("=")
            out.setdefault(key.strip(), []).append(value.strip())
    return out


def setpriv_argv(unit: dict[str, list[str]]) -> list[str]:
    """The unit's User=, Group=, AmbientCapabilities=, CapabilityBoundingSet= and
    NoNewPrivileges= as setpriv options, so ferryd starts with the credentials systemd gives it."""
    (user,) = unit["User"]
    (group,) = unit.get("Group", [user])
    argv = ["setpriv", f"--reuid={user}", f"--regid={group}", "--init-groups"]
    caps = lambda key: [c.lower().removeprefix("cap_") for v in unit.get(key, []) for c in v.split()]
    ambient, bounding = caps("AmbientCapabilities"), caps("CapabilityBoundingSet")
    if ambient:
        spec = ",".join("+" + c for c in ambient)
        argv += [f"--inh-caps={spec}", f"--ambient-caps={spec}"]
    if "CapabilityBoundingSet" in unit:
        argv.append("--bounding-set=" + ",".join(["-all"] + ["+" + c for c in bounding]))
    if unit.get("NoNewPrivileges", ["no"])[-1] in ("yes", "true", "1", "on"):
        argv.append("--no-new-privs")
    return argv + ["--"]


def wait_for(predicate, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    """The package, built by cpack from the build folder into a scratch folder."""
    if os.geteuid() != 0:
        pytest.fail("the package test needs root (dpkg -i, a system user)", pytrace=False)
    for tool in ("cpack", "dpkg", "dpkg-shlibdeps", "curl", "openssl", "setpriv", "man"):
        assert shutil.which(tool), f"{tool} is missing: FERRY_WITH_TESTS=1 scripts/install-deps"
    assert not known(PACKAGE), (f"the package '{PACKAGE}' is already on this machine; this test installs and "
                                f"purges it: remove it first (dpkg -P {PACKAGE})")
    out = tmp_path_factory.mktemp("deb")
    run(["cpack", "-G", "DEB", "-B", str(out)], timeout=300, cwd=BUILD)
    debs = list(out.glob(f"{PACKAGE}_*.deb"))
    assert len(debs) == 1, list(out.iterdir())
    return debs[0]


def test_package_installs_serves_as_its_unit_and_is_removed_cleanly(deb):
    # The control data: computed library dependencies, the maintainer scripts, the conffile.
    fields = run(["dpkg-deb", "-f", str(deb), "Package", "Depends"]).stdout
    assert re.search(r"^Package: ferry$", fields, re.M), fields
    depends = fields.split("Depends:", 1)[1]
    for lib in ("libssl3", "libc6", "libseccomp2", "libpam0g", "adduser"):
        assert lib in depends, f"{lib} not in Depends (dpkg-shlibdeps): {depends}"
    control = run(["dpkg-deb", "-I", str(deb)]).stdout
    for script in ("postinst", "prerm", "postrm", "conffiles"):
        assert re.search(rf"\b{script}\b", control), control
    assert run(["dpkg-deb", "-I", str(deb), "conffiles"]).stdout.split() == [str(CONFFILE)]

    user_before = user_exists(USER)
    work = Path(tempfile.mkdtemp(prefix="ferry-package-"))
    server = None
    try:
        run(["dpkg", "-i", str(deb)], timeout=180)

        # Files in place, the service user and its folders made by postinst.
        for path in INSTALLED + [CONFFILE]:
            assert path.is_file(), f"{path} is not installed"
        for page in ("ferryd.conf", "ferryd", "ferry"):
            assert run(["man", "-w", page], timeout=30).stdout.strip(), page
        pw = pwd.getpwnam(USER)
        assert pw.pw_uid < 1000 and pw.pw_shell == "/usr/sbin/nologin", pw
        assert grp.getgrgid(pw.pw_gid).gr_name == USER
        etc = Path("/etc/ferry").stat()
        assert (etc.st_uid, etc.st_gid, stat.S_IMODE(etc.st_mode)) == (0, pw.pw_gid, 0o750)
        log_dir = Path("/var/log/ferry").stat()
        assert (log_dir.st_uid, log_dir.st_gid) == (pw.pw_uid, pw.pw_gid)

        # The manual lists every statement the installed ferryd knows (generated from its table).
        help_config = run(["/usr/bin/ferryd", "--help-config"]).stdout
        statements = re.findall(r"^([A-Z_0-9]+) ", help_config, re.M)
        assert len(statements) >= 20, help_config
        page = Path("/usr/share/man/man5/ferryd.conf.5").read_text()
        missing = [s for s in statements if f"\\fB{s}\\fR" not in page]
        assert not missing, f"ferryd.conf(5) lacks: {missing}"

        unit_path = Path("/usr/lib/systemd/system/ferryd.service")
        unit_text = unit_path.read_text()
        if shutil.which("systemd-analyze"):
            res = run(["systemd-analyze", "verify", str(unit_path)], timeout=60, check=False)
            assert res.returncode == 0 and "ferryd.service" not in res.stderr, res.stderr
        unit = unit_settings(unit_text)
        for key, want in [("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"), ("Restart", "on-failure"),
                          ("ExecReload", "/bin/kill -HUP $MAINPID"), ("User", USER)]:
            assert unit.get(key) == [want], (key, unit.get(key))

        # A configuration from the installed one (its secure values kept), in a folder the
        # service user can read: a local port, no implicit-TLS port, a certificate made here.
        work.chmod(0o755)
        port = free_port()
        conf = work / "ferryd.conf"
        lines = []
        for line in CONFFILE.read_text().splitlines():
            word = line.split(";")[0].split()
            if word and word[0] == "LISTEN":
                line = f"LISTEN 127.0.0.1 {port}"
            elif word and word[0] == "TLSPORT":
                line = "TLSPORT 0"
            lines.append(line)
        conf.write_text("\n".join(lines) + "\n")
        run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(work / "server.pem"), "-out", str(work / "server.pem")])
        home = work / "home"
        home.mkdir()
        payload = secrets.token_bytes(3 * 1024 * 1024 + 17)
        (home / "payload.bin").write_bytes(payload)
        for p in (home, home / "payload.bin"):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        run(["/usr/bin/ferryd", "user", "add", "alice", "-d", str(home), "--users", str(work / "users"),
             "--password-stdin"], stdin=None, input=PASSWORD + "\n")
        # As the installed config's comment says: root:ferry 0640, read at start and on reload.
        for name in ("server.pem", "users", "ferryd.conf"):
            os.chown(work / name, 0, pw.pw_gid)
            (work / name).chmod(0o640)
        as_unit = setpriv_argv(unit)
        check = run(as_unit + ["/usr/bin/ferryd", "check-config", str(conf)], check=False)
        assert check.returncode == 0, check.stderr
        assert "insecure" not in check.stderr, f"the installed example is not the secure values:\n{check.stderr}"

        # ExecStart exactly as written, the configuration path replaced by ours.
        (exec_start,) = unit["ExecStart"]
        argv = shlex.split(exec_start)
        assert str(CONFFILE) in argv, exec_start
        argv = [str(conf) if a == str(CONFFILE) else a for a in argv]
        log_path = work / "ferryd.log"
        with open(log_path, "wb") as log:
            server = subprocess.Popen(as_unit + argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      cwd="/", env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
        ready = f"listening on 127.0.0.1:{port}"
        wait_for(lambda: server.poll() is not None or ready in log_path.read_text(), 30, ready)
        assert server.poll() is None, log_path.read_text()
        # The unit's credentials fit ferryd's process model: its start log reports the sandbox
        # applied, and nothing about the user or capabilities it could not apply.
        start_log = log_path.read_text()
        assert re.search(r"sandbox: .*no_new_privs", start_log), start_log
        assert not [line for line in start_log.splitlines() if "sandbox: not applied" in line
                    and re.search(r"capabilit|RUNAS|user", line)], start_log

        # It runs as the unit's user with no_new_privs, and keeps at most CAP_NET_BIND_SERVICE.
        status = Path(f"/proc/{server.pid}/status").read_text()
        uids = re.search(r"^Uid:\s+(.*)$", status, re.M).group(1).split()
        assert set(map(int, uids)) == {pw.pw_uid}, status
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
        eff = int(re.search(r"^CapEff:\s+(\w+)$", status, re.M).group(1), 16)
        assert eff & ~(1 << 10) == 0, f"capabilities beyond CAP_NET_BIND_SERVICE: {eff:#x}"

        # A TLS download and upload (the example requires TLS and session reuse on data).
        url = f"ftp://127.0.0.1:{port}"
        curl = ["curl", "--silent", "--show-error", "--ssl-reqd", "-k", "--max-time", "60",
                "--user", f"alice:{PASSWORD}"]
        run(curl + [f"{url}/payload.bin", "-o", str(work / "got.bin")], timeout=90)
        assert (work / "got.bin").read_bytes() == payload
        (work / "up.bin").write_bytes(payload[::-1])
        run(curl + ["-T", str(work / "up.bin"), f"{url}/up.bin"], timeout=90)
        uploaded = home / "up.bin"
        assert uploaded.read_bytes() == payload[::-1]
        assert uploaded.stat().st_uid == pw.pw_uid

        # SIGTERM: ferryd exits 0 within the unit's TimeoutStopSec.
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=45) == 0, log_path.read_text()
        server = None
        xferlog = Path("/var/log/ferry/xferlog").read_text()
        assert "/payload.bin b _ o r alice" in xferlog and "/up.bin b _ i r alice" in xferlog, xferlog

        # dpkg -r: the programs, manuals and unit go; the conffile, user and logs stay.
        run(["dpkg", "-r", PACKAGE], timeout=120)
        left = [str(p) for p in INSTALLED if p.exists()]
        assert not left, f"left after dpkg -r: {left}"
        assert CONFFILE.is_file() and user_exists(USER)

        # dpkg -P: the configuration, /etc/ferry, /var/log/ferry and the user it made go too.
        run(["dpkg", "-P", PACKAGE], timeout=120)
        assert not known(PACKAGE)
        for path in (CONFFILE, Path("/etc/ferry"), Path("/var/log/ferry")):
            assert not path.exists(), f"{path} left after dpkg -P"
        # A ferry user made before the package (not by postinst) is not the package's to remove.
        assert user_exists(USER) == user_before and group_exists(USER) == user_before
    finally:
        if server is not None and server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        if known(PACKAGE):
            subprocess.run(["dpkg", "-P", PACKAGE], capture_output=True, timeout=120)
        shutil.rmtree(work, ignore_errors=True)

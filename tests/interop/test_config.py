"""ferryd refuses a bad configuration: non-zero exit, "FILE:LINE:" on stderr, nothing served."""

import socket
import subprocess
import time

import pytest

from conftest import HOST, free_port, free_port_range, server_argv


def good_statements(pki, tmp_path):
    users = tmp_path / "users"
    users.write_text(f"alice:{pki['hash']}:{tmp_path}\n")
    lo, hi = free_port_range()
    return [
        "; Ferry test configuration",
        "",
        f"LISTEN {HOST} {free_port()}",
        "RUNAS root",
        "TLSPORT 0            ; implicit TLS off",
        f"KEYRING {pki['pem']}",
        f"USERS {users}",
        f"PASSIVEDATAPORTS {lo} {hi}",
        "EXTENSIONS AUTH_TLS",
        "SECURE_FTP ALLOWED",
        "SECURE_DATACONN CLEAR",
    ]


def run_ferryd(config, timeout=30):
    try:
        return subprocess.run(server_argv(config), capture_output=True, text=True,
                              timeout=timeout, stdin=subprocess.DEVNULL, cwd=config.parent)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"ferryd did not exit within {timeout}s on {config}; it must refuse a bad "
                    f"configuration at startup. stderr: {exc.stderr!r}", pytrace=False)


BAD = {
    # name: (line number in the file, replacement statement)
    "unknown-statement": (5, "FROBNICATE YES"),
    "bad-keyword-value": (9, "SECURE_FTP SOMETIMES"),
    "port-out-of-range": (3, f"LISTEN {HOST} 70000"),
    "port-not-a-number": (7, "PASSIVEDATAPORTS 4000 lots"),
    "missing-value": (10, "SECURE_DATACONN"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_config_names_file_and_line(pki, tmp_path, case):
    line, statement = BAD[case]
    lines = good_statements(pki, tmp_path)
    lines[line - 1] = statement
    config = tmp_path / "bad.conf"
    config.write_text("\n".join(lines) + "\n")
    listen_port = next((int(ln.split()[2]) for ln in lines if ln.startswith("LISTEN ")
                        and int(ln.split()[2]) < 65536), None)

    res = run_ferryd(config)
    assert res.returncode != 0, f"exit 0 on a bad config; stderr:\n{res.stderr}"
    assert f"bad.conf:{line}:" in res.stderr, \
        f"stderr must name bad.conf:{line}: for {statement!r}; got:\n{res.stderr}"
    if listen_port is not None:
        with socket.socket() as s:  # nothing left listening on the control port
            s.settimeout(2)
            assert s.connect_ex((HOST, listen_port)) != 0


def test_good_config_with_comments_starts(pki, tmp_path):
    """Control: the same file without the error is accepted (so the failures
    above are caused by the bad line, not by the rest of the file)."""
    lines = good_statements(pki, tmp_path)
    config = tmp_path / "good.conf"
    config.write_text("\n".join(lines) + "\n")
    port = int(lines[2].split()[2])
    log = tmp_path / "good.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen(server_argv(config), stdin=subprocess.DEVNULL,
                                stdout=logf, stderr=logf, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 10
        greeting = b""
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with socket.create_connection((HOST, port), timeout=2) as s:
                    s.settimeout(5)
                    greeting = s.recv(1024)
                    break
            except OSError:
                time.sleep(0.05)  # poll interval, bounded by the deadline
        assert greeting.startswith(b"220"), \
            f"no 220 greeting within 10 s; exit={proc.poll()} log:\n{log.read_text(errors='replace')}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_missing_config_file(tmp_path):
    config = tmp_path / "does-not-exist.conf"
    res = run_ferryd(config)
    assert res.returncode != 0
    assert "does-not-exist.conf" in res.stderr, res.stderr

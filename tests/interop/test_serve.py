"""`ferryd serve DIR`: the one-command job of the README. It must print how to connect, and the
printed curl command line must work as printed (certificate verified, TLS required)."""
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HOST, free_port

DEADLINE = 15


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "share"
    folder.mkdir()
    (folder / "hello.txt").write_bytes(b"served by ferryd\n")
    port, tls_port = free_port(), free_port()
    env = dict(os.environ, FERRYD_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.Popen([os.environ["FERRYD"], "serve", str(folder), "--address", HOST,
                             "--port", str(port), "--tlsport", str(tls_port), "--runas", "root"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            start_new_session=True)
    out = b""
    deadline = time.monotonic() + DEADLINE
    try:
        while b"Stop with Ctrl-C" not in out:
            assert time.monotonic() < deadline, f"no connection help printed: {out!r}"
            assert proc.poll() is None, f"ferryd serve exited: {proc.stderr.read()!r}"
            line = proc.stdout.readline()
            out += line
        yield {"out": out.decode(), "folder": folder, "port": port, "tls_port": tls_port,
               "state": tmp_path / "state", "proc": proc}
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_serve_prints_credentials_fingerprint_and_commands(served):
    out = served["out"]
    assert f"{HOST}:{served['port']}" in out
    assert re.search(r"user\s+ferry", out)
    assert re.search(r"password\s+\S{12,}", out)
    assert re.search(r"fingerprint\s+SHA256(:[0-9A-F]{2}){32}", out)
    pem = served["state"] / "serve.pem"
    assert pem.exists() and (pem.stat().st_mode & 0o777) == 0o600
    openssl_fp = subprocess.run(["openssl", "x509", "-in", str(pem), "-noout", "-fingerprint", "-sha256"],
                                capture_output=True, text=True, timeout=30, check=True).stdout
    assert openssl_fp.split("=", 1)[1].strip() in out


def test_printed_curl_command_downloads_with_verification(served, tmp_path):
    line = next(l.strip() for l in served["out"].splitlines() if l.strip().startswith("curl "))
    argv = line.split() + ["-sS", "-o", str(tmp_path / "got")]
    argv[-4] = argv[-4] + "hello.txt"  # the URL printed ends with '/'
    assert argv[-4].startswith("ftp://"), argv
    r = subprocess.run(argv, capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "got").read_bytes() == b"served by ferryd\n"


def test_printed_ferry_command_lists_with_the_pinned_fingerprint(served):
    """The ferry line pins the printed fingerprint: it lists the folder, and the same command
    with another fingerprint is refused."""
    line = next(l.strip() for l in served["out"].splitlines() if l.strip().startswith("ferry "))
    argv = line.split()
    argv[0] = str(Path(os.environ.get("FERRY") or Path(os.environ["FERRY_BUILD_DIR"]) / "ferry"))
    env = dict(os.environ, HOME=str(served["state"]))
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode == 0, r.stderr
    assert "hello.txt" in r.stdout.split()
    i = argv.index("--fingerprint") + 1
    argv[i] = "SHA256:" + ":".join(["00"] * 32)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert r.returncode != 0 and "pinned" in r.stderr, r.stderr


def test_serve_requires_tls_for_login(served):
    import socket
    with socket.create_connection((HOST, served["port"]), timeout=10) as s:
        f = s.makefile("rb")
        assert f.readline().startswith(b"220")
        s.sendall(b"USER ferry\r\n")
        reply = f.readline()
    assert reply.startswith(b"530") and b"AUTH TLS" in reply


def test_serve_refuses_a_missing_folder(tmp_path):
    r = subprocess.run([os.environ["FERRYD"], "serve", str(tmp_path / "nope")], capture_output=True,
                       text=True, timeout=30, env=dict(os.environ, FERRYD_STATE_DIR=str(tmp_path)))
    assert r.returncode != 0 and "is not a folder" in r.stderr

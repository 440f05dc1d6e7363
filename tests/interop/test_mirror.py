"""`ferry mirror` (issue 16, client part) against ferryd and the peers, and a hostile server.

A small tree (nested folders, an empty file, a 1 MiB file, names with spaces, an empty folder)
is mirrored down from each server and compared byte for byte and mtime for mtime; a second run
must transfer nothing (its summary line says so). Against ferryd: an upload mirror (-R), --delete,
--dry-run, -P, --exclude/--include. Against a throttled peer: a mirror killed mid-file leaves
nothing under the final name, and the next run resumes (REST) to identical bytes. Against a
scripted server listing "../evil" and friends: nothing is written outside LOCALDIR.
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HOST
from test_client_hostile_server import HostileServer, hostile  # noqa: F401  (fixture)
from test_client_peers import (  # noqa: F401  (fixtures)
    FERRYD_OVERRIDES, MIB, THROTTLE, Ferry, _peer_target, _start_peer, explain, ferry, interrupt_when_written,
    ferry_bin, peer_workdir, server)

TREE_MTIME = 1_600_000_000 + 7  # 2020-09-13 12:26:47 UTC: not "now", and odd seconds
SUMMARY = re.compile(r"^(\d+) files transferred, (\d+) bytes, (\d+) skipped, (\d+) deleted, (\d+) failed$",
                     re.M)


def make_tree(root: Path, big: bytes) -> None:
    files = {
        "empty": b"",
        "big.bin": big,
        "name with spaces.txt": b"spaces\n",
        "a/one.txt": b"one\n",
        "a/b/two words.txt": b"two\n" * 100,
        "a/b/c/three.txt": b"three\n",
    }
    for rel, data in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    (root / "empty folder").mkdir(exist_ok=True)
    for i, p in enumerate(sorted(x for x in root.rglob("*") if x.is_file())):
        os.utime(p, (TREE_MTIME, TREE_MTIME + i))


def snapshot(root: Path) -> dict[str, tuple]:
    """rel path -> ("dir",) or ("file", sha256, mtime seconds)."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root).as_posix()
        if p.is_dir():
            out[rel] = ("dir",)
        else:
            out[rel] = ("file", hashlib.sha256(p.read_bytes()).hexdigest(), int(p.stat().st_mtime))
    return out


def summary(r) -> tuple[int, ...]:
    m = SUMMARY.search(r.out)
    assert m, f"no summary line\n{r}"
    return tuple(int(x) for x in m.groups())


@pytest.fixture(scope="module")
def big() -> bytes:
    return os.urandom(MIB)


# --------------------------------------------------------------------------
# Download from every server


def test_mirror_down_from_each_server(server, ferry, big, tmp_path):
    src = server.home / "tree"
    make_tree(src, big)
    server.chown_home()
    dst = tmp_path / "copy"
    r = ferry("--insecure", "mirror", server.url("tree"), dst, target=server)
    assert r.rc == 0, explain(server, r)
    assert snapshot(dst) == snapshot(src), "the copy differs" + explain(server, r)
    assert summary(r) == (6, MIB + 7 + 4 + 400 + 6, 0, 0, 0), explain(server, r)
    assert not list(dst.rglob("*.ferry-part"))

    again = ferry("--insecure", "mirror", server.url("tree"), dst, target=server)
    assert again.rc == 0, explain(server, again)
    assert summary(again) == (0, 0, 6, 0, 0), "the second run transferred something" + explain(server, again)
    assert snapshot(dst) == snapshot(src)


def test_parallel_mirror_from_each_server(server, ferry, big, tmp_path):
    """-P 3: the second and third sessions offer the first one's TLS session. Servers that take a
    ticket once (ProFTPD, vsftpd) must still serve every file; ferryd resumes both (ferry -v says
    "session resumed" on their control connections)."""
    src = server.home / "par tree"
    make_tree(src, big)
    for i in range(6):
        (src / f"extra {i}.dat").write_bytes(os.urandom(20_000 + i))
    server.chown_home()
    dst = tmp_path / "copy"
    r = ferry("-v", "--insecure", "mirror", "-P", "3", server.url("par tree"), dst, target=server)
    assert r.rc == 0, explain(server, r)
    assert snapshot(dst) == snapshot(src), "the copy differs" + explain(server, r)
    controls = re.findall(r"^--- TLS (.*); server certificate", r.err, re.M)
    assert len(controls) == 3, controls
    if server.kind == "ferryd":
        assert ["session resumed" in c for c in controls] == [False, True, True], r.err


def test_mirror_in_batch_mode(server, ferry, big, tmp_path):
    """The same command at the prompt / in a batch: mirror REMOTEDIR LOCALDIR."""
    src = server.home / "batch tree"
    make_tree(src, big)
    server.chown_home()
    dst = tmp_path / "batch copy"
    r = ferry("--insecure", server.url(), input=f'mirror "batch tree" "{dst}"\n', target=server)
    assert r.rc == 0, explain(server, r)
    assert snapshot(dst) == snapshot(src), explain(server, r)


# --------------------------------------------------------------------------
# ferryd: upload, --delete, --dry-run, -P, filters


@pytest.fixture(scope="module")
def fd(ferryd_factory):
    srv = ferryd_factory("ferryd-mirror", overrides=FERRYD_OVERRIDES)

    class T:
        home = srv.home
        kind = "ferryd"

        @staticmethod
        def url(path=""):
            return f"ftp://{srv.user}:{srv.password}@{srv.host}:{srv.port}/{path}"

        @staticmethod
        def log():
            return srv.log

    return T


def test_mirror_up_to_ferryd(fd, ferry, big, tmp_path):
    src = tmp_path / "local tree"
    make_tree(src, big)
    r = ferry("--insecure", "mirror", "-R", src, fd.url("up"), target=fd)
    assert r.rc == 0, explain(fd, r)
    assert snapshot(fd.home / "up") == snapshot(src), "the server's folder differs" + explain(fd, r)
    assert summary(r)[0] == 6
    again = ferry("--insecure", "mirror", "-R", src, fd.url("up"), target=fd)
    assert again.rc == 0 and summary(again) == (0, 0, 6, 0, 0), explain(fd, again)

    # --delete on upload: files and folders absent locally go.
    (src / "a" / "b" / "c" / "three.txt").unlink()
    (src / "a" / "b" / "c").rmdir()
    r = ferry("--insecure", "mirror", "-R", "--delete", src, fd.url("up"), target=fd)
    assert r.rc == 0 and summary(r)[3] == 2, explain(fd, r)
    assert snapshot(fd.home / "up") == snapshot(src)


def test_upload_follows_links_inside_the_tree_only(fd, ferry, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_bytes(b"secret\n")
    src = tmp_path / "linked"
    (src / "real").mkdir(parents=True)
    (src / "real" / "data.txt").write_bytes(b"data\n")
    (src / "alias.txt").symlink_to("real/data.txt")           # inside: sent as a file
    (src / "out-dir").symlink_to(outside)                     # outside: not followed
    (src / "out-file.txt").symlink_to(outside / "secret.txt")
    r = ferry("--insecure", "mirror", "-R", src, fd.url("linked"), target=fd)
    assert r.rc == 0, explain(fd, r)
    remote = fd.home / "linked"
    assert sorted(p.relative_to(remote).as_posix() for p in remote.rglob("*")) == \
        ["alias.txt", "real", "real/data.txt"], explain(fd, r)
    assert (remote / "alias.txt").read_bytes() == b"data\n"
    assert "out-dir" in r.err and "out-file.txt" in r.err, "no note about the links left out" + explain(fd, r)


def test_delete_and_dry_run(fd, ferry, big, tmp_path):
    src = fd.home / "del"
    make_tree(src, big)
    dst = tmp_path / "copy"
    assert ferry("--insecure", "mirror", fd.url("del"), dst).rc == 0
    (src / "a" / "one.txt").unlink()
    (src / "new.txt").write_bytes(b"new\n")

    before = snapshot(dst)
    r = ferry("--insecure", "mirror", "--dry-run", "--delete", fd.url("del"), dst, target=fd)
    assert r.rc == 0, explain(fd, r)
    assert "transfer new.txt" in r.out and "delete a/one.txt" in r.out, explain(fd, r)
    assert snapshot(dst) == before, "--dry-run changed the local folder"

    r = ferry("--insecure", "mirror", fd.url("del"), dst, target=fd)
    assert r.rc == 0 and (dst / "a" / "one.txt").exists(), "deleted without --delete" + explain(fd, r)
    r = ferry("--insecure", "mirror", "--delete", fd.url("del"), dst, target=fd)
    assert r.rc == 0 and summary(r)[3] == 1, explain(fd, r)
    assert not (dst / "a" / "one.txt").exists()
    assert snapshot(dst) == snapshot(src)


def test_parallel_sessions(fd, ferry, big, tmp_path):
    src = fd.home / "par"
    make_tree(src, big)
    for i in range(12):
        (src / f"f{i:02}.dat").write_bytes(os.urandom(50_000 + i))
    dst = tmp_path / "copy"
    r = ferry("-v", "--insecure", "mirror", "-P", "3", fd.url("par"), dst, target=fd)
    assert r.rc == 0, explain(fd, r)
    assert len(re.findall(r"^>>> ?PASS", r.err, re.M)) == 3, "not three sessions" + explain(fd, r)
    assert snapshot(dst) == snapshot(src)


def test_include_exclude(fd, ferry, big, tmp_path):
    src = fd.home / "filt"
    make_tree(src, big)
    dst = tmp_path / "copy"
    r = ferry("--insecure", "mirror", "--exclude", "b", "--exclude", "*.bin", "--include", "*.txt",
              fd.url("filt"), dst, target=fd)
    assert r.rc == 0, explain(fd, r)
    files = sorted(p.relative_to(dst).as_posix() for p in dst.rglob("*") if p.is_file())
    assert files == ["a/one.txt", "name with spaces.txt"], explain(fd, r)


def test_bad_usage_is_a_clear_error(ferry, tmp_path):
    r = ferry("mirror", "-P", "0", "ftp://127.0.0.1:1/x", tmp_path / "d")
    assert r.rc == 2 and "--parallel" in r.err and "range 1 to 16" in r.err
    r = ferry("mirror", "ftp://127.0.0.1:1/x")
    assert r.rc == 2
    # Checked before connecting (port 1 would give exit status 3).
    r = ferry("mirror", "-R", tmp_path / "missing", "ftp://127.0.0.1:1/x")
    assert r.rc == 2 and "is not a local folder" in r.err, r
    (tmp_path / "file").write_text("x")
    r = ferry("mirror", "ftp://127.0.0.1:1/x", tmp_path / "file")
    assert r.rc == 2 and "is not a local folder" in r.err, r
    r = ferry("mirror", "http://127.0.0.1/x", tmp_path / "d")
    assert r.rc == 2 and "ftp" in r.err, r


def test_failed_files_are_listed_with_a_nonzero_status(fd, ferry, tmp_path):
    src = fd.home / "fail"
    src.mkdir()
    (src / "ok.txt").write_bytes(b"ok\n")
    (src / "blocked.txt").write_bytes(b"no\n")
    dst = tmp_path / "copy"
    dst.mkdir()
    # The destination cannot hold blocked.txt: a folder sits where its temp file would go.
    (dst / ".blocked.txt.ferry-part").mkdir()
    r = ferry("--insecure", "mirror", fd.url("fail"), dst, target=fd)
    assert r.rc == 1, explain(fd, r)
    assert summary(r)[0] == 1 and summary(r)[4] == 1
    assert "blocked.txt" in r.err.split("failed:")[-1]
    assert (dst / "ok.txt").read_bytes() == b"ok\n"


# --------------------------------------------------------------------------
# Interrupted and resumed


def test_interrupted_mirror_resumes(pki, peer_workdir, ferry, big_file, tmp_path):
    kind = "pure-ftpd"
    p = _start_peer(kind, pki, peer_workdir, f"{kind}-mirror-slow", **THROTTLE[kind])
    t = _peer_target(p)
    try:
        _, data = big_file
        tree = t.home / "slow"
        tree.mkdir()
        (tree / "big.bin").write_bytes(data)
        os.utime(tree / "big.bin", (TREE_MTIME, TREE_MTIME))
        t.chown_home()
        dst = tmp_path / "copy"
        part = dst / ".big.bin.ferry-part"
        interrupt_when_written(ferry, ["--insecure", "mirror", t.url("slow"), dst], part, MIB, signal.SIGKILL)
        assert not (dst / "big.bin").exists(), "a half-written file under its final name"
        partial = part.stat().st_size
        assert MIB <= partial < len(data)
        r = ferry("-v", "--insecure", "mirror", t.url("slow"), dst, target=t, timeout=120)
        assert r.rc == 0, explain(t, r)
        rest = re.findall(r"^>>> ?REST (\d+)", r.err, re.M)
        assert rest and int(rest[0]) == partial, "not resumed at the partial size" + explain(t, r)
        assert (dst / "big.bin").read_bytes() == data
        assert int((dst / "big.bin").stat().st_mtime) == TREE_MTIME
        assert not part.exists()
    finally:
        p.stop()


# --------------------------------------------------------------------------
# Hostile listings

EVIL_NAMES = ["../evil", "..", ".", "/tmp/abs-evil", "a/../../evil2", "x\x1b]0;t\x07y"]


class Scripted(HostileServer):
    """A small scripted FTPS server (explicit AUTH TLS, MLSD); subclasses say what it lists.
    The listener and the accept loop are the hostile server's; the dialogue is below."""

    feat = "211-Features:\r\n EPSV\r\n MLST type*;size*;modify*;\r\n211 End"

    def __init__(self, pki):
        super().__init__(pki)
        self.retrieved: list[str] = []
        self.commands: list[str] = []

    def listing(self, cwd: str) -> list[str]:
        return []

    def content(self, path: str) -> bytes:
        return b"EVIL\n"

    def hash_reply(self, path: str) -> str:
        return "502 no HASH"

    def session(self, conn):
        conn.settimeout(30)
        f = conn
        send = lambda s: f.sendall(s.encode("utf-8", "surrogateescape") + b"\r\n")  # noqa: E731
        send("220 scripted ready")
        buf = b""
        data_listener = None
        prot_p = False
        cwd = "/"
        while True:
            while b"\r\n" not in buf:
                chunk = f.recv(4096)
                if not chunk:
                    return
                buf += chunk
            line, buf = buf.split(b"\r\n", 1)
            cmd, _, arg = line.decode("utf-8", "replace").partition(" ")
            cmd = cmd.upper()
            self.commands.append(f"{cmd} {arg}".strip())
            if cmd == "AUTH":
                send("234 go")
                f = self.ctx.wrap_socket(conn, server_side=True)
            elif cmd == "USER":
                send("331 pw")
            elif cmd == "PASS":
                send("230 in")
            elif cmd == "FEAT":
                send(self.feat)
            elif cmd == "PWD":
                send(f'257 "{cwd}"')
            elif cmd == "CWD":
                cwd = arg if arg.startswith("/") else "/" + arg
                send("250 ok")
            elif cmd == "PROT":
                prot_p = arg.strip().upper() == "P"
                send("200 ok")
            elif cmd == "HASH":
                send(self.hash_reply(arg))
            elif cmd == "OPTS" and arg.upper().startswith("HASH"):
                send("200 SHA-256")
            elif cmd in ("EPSV", "PASV"):
                data_listener = socket.create_server((HOST, 0))
                data_listener.settimeout(30)
                port = data_listener.getsockname()[1]
                if cmd == "EPSV":
                    send(f"229 Entering Extended Passive Mode (|||{port}|)")
                else:
                    send(f"227 Entering Passive Mode (127,0,0,1,{port >> 8},{port & 255})")
            elif cmd in ("MLSD", "RETR"):
                if cmd == "RETR":
                    self.retrieved.append(arg)
                send("150 here")
                payload = (self.content(arg) if cmd == "RETR"
                           else "\r\n".join(self.listing(cwd)).encode("utf-8") + b"\r\n")
                self.send_data(data_listener, prot_p, payload)
                send("226 done")
            elif cmd == "QUIT":
                send("221 bye")
                return
            else:
                send("200 ok")


class HostileMlsd(Scripted):
    """MLSD listings that name paths outside the mirror's folder."""

    def listing(self, cwd: str) -> list[str]:
        fact = "size=5;modify=20200101000000;"
        if cwd == "/tree":
            lines = [f"type=file;{fact} {n}" for n in EVIL_NAMES]
            lines += [f"type=file;{fact} ok.txt", "type=dir;modify=20200101000000; sub",
                      "type=cdir; .", "type=pdir; .."]
            return lines
        if cwd == "/tree/sub":
            return [f"type=file;{fact} ../../evil3", f"type=file;{fact} fine.txt",
                    "type=OS.unix=symlink;modify=20200101000000; link"]
        return []


@pytest.fixture
def scripted(hostile):
    """Starts a scripted server class (stopped at the test's end): the hostile server's fixture."""
    return hostile


def test_hostile_listing_writes_nothing_outside(scripted, ferry_bin, tmp_path):
    s = scripted(HostileMlsd)
    work = tmp_path / "work"
    work.mkdir()
    dst = work / "inner" / "dest"
    dst.parent.mkdir()
    f = Ferry(ferry_bin, work)
    before = {p for p in tmp_path.rglob("*")}
    r = f("--insecure", "mirror", f"ftp://u:p@{HOST}:{s.port}/tree", dst)
    assert r.rc == 0, str(r)
    written = {p for p in tmp_path.rglob("*")} - before
    outside = [p for p in written if dst not in p.parents and p != dst]
    assert not outside, f"written outside LOCALDIR: {outside}\n{r}"
    assert sorted(p.relative_to(dst).as_posix() for p in written if p.is_file()) == \
        ["ok.txt", "sub/fine.txt"], str(r)
    assert not Path("/tmp/abs-evil").exists()
    assert all(x.endswith(("/tree/ok.txt", "/tree/sub/fine.txt")) for x in s.retrieved), s.retrieved
    assert "../evil" in r.err and "symbolic link" in r.err, "no warning about the skipped names\n" + str(r)
    assert "\x1b" not in r.err, "the escape sequence reached the terminal"


# --------------------------------------------------------------------------
# --verify

VERIFY_FILES = {"good.txt": b"good\n" * 10, "flaky.txt": b"flaky\n" * 20, "bad.txt": b"bad\n" * 30}


class HashServer(Scripted):
    """HASH in FEAT; flaky.txt's first HASH is wrong, bad.txt's always."""

    feat = "211-Features:\r\n EPSV\r\n MLST type*;size*;modify*;\r\n HASH SHA-256*;SHA-1\r\n211 End"

    def __init__(self, pki):
        super().__init__(pki)
        self.hashes: dict[str, int] = {}

    def listing(self, cwd: str) -> list[str]:
        if cwd != "/v":
            return []
        return [f"type=file;size={len(b)};modify=20200101000000; {n}" for n, b in VERIFY_FILES.items()]

    def content(self, path: str) -> bytes:
        return VERIFY_FILES[path.rsplit("/", 1)[-1]]

    def hash_reply(self, path: str) -> str:
        name = path.rsplit("/", 1)[-1]
        data = VERIFY_FILES[name]
        self.hashes[name] = self.hashes.get(name, 0) + 1
        digest = hashlib.sha256(data).hexdigest()
        if name == "bad.txt" or (name == "flaky.txt" and self.hashes[name] == 1):
            digest = hashlib.sha256(b"something else").hexdigest()
        return f"213 SHA-256 0-{len(data)} {digest} {path}"


def test_verify_retries_a_mismatch_once_then_fails_the_file(scripted, ferry_bin, tmp_path):
    s = scripted(HashServer)
    dst = tmp_path / "copy"
    r = Ferry(ferry_bin, tmp_path)("--insecure", "mirror", "--verify", f"ftp://u:p@{HOST}:{s.port}/v", dst)
    assert r.rc == 1, str(r)
    assert "OPTS HASH SHA-256" in s.commands
    assert summary(r)[0] == 2 and summary(r)[4] == 1, str(r)
    assert (dst / "good.txt").read_bytes() == VERIFY_FILES["good.txt"]
    assert (dst / "flaky.txt").read_bytes() == VERIFY_FILES["flaky.txt"]
    assert not (dst / "bad.txt").exists() and not (dst / ".bad.txt.ferry-part").exists()
    assert s.retrieved.count("/v/flaky.txt") == 2 and s.retrieved.count("/v/good.txt") == 1
    assert s.retrieved.count("/v/bad.txt") == 2 and s.hashes["bad.txt"] == 2
    assert "bad.txt" in r.err.split("failed:")[-1], str(r)


def test_checksum_mode_skips_same_bytes_with_another_time(scripted, ferry_bin, tmp_path):
    s = scripted(HashServer)
    dst = tmp_path / "copy"
    dst.mkdir()
    (dst / "good.txt").write_bytes(VERIFY_FILES["good.txt"])                   # same bytes, other time
    (dst / "flaky.txt").write_bytes(b"X" * len(VERIFY_FILES["flaky.txt"]))     # same size, other bytes
    r = Ferry(ferry_bin, tmp_path)("--insecure", "mirror", "--checksum", f"ftp://u:p@{HOST}:{s.port}/v", dst)
    assert r.rc == 0, str(r)
    assert summary(r)[:3] == (2, len(VERIFY_FILES["flaky.txt"]) + len(VERIFY_FILES["bad.txt"]), 1), str(r)
    assert "/v/good.txt" not in s.retrieved
    assert int((dst / "good.txt").stat().st_mtime) == 1577836800  # 20200101000000, the listing's time
    for name, data in VERIFY_FILES.items():
        assert (dst / name).read_bytes() == data


def test_progress_line_on_a_terminal(pki, peer_workdir, ferry, tmp_path):
    """On a terminal: one line redrawn in place (files, bytes, rate, ETA); the summary after it."""
    import pty

    kind = "pure-ftpd"
    p = _start_peer(kind, pki, peer_workdir, f"{kind}-mirror-progress", **THROTTLE[kind])
    t = _peer_target(p)
    try:
        tree = t.home / "prog"
        tree.mkdir()
        (tree / "a.bin").write_bytes(os.urandom(3 * MIB))
        (tree / "b.bin").write_bytes(os.urandom(MIB))
        t.chown_home()
        master, slave = pty.openpty()
        proc = subprocess.Popen(ferry.argv("--insecure", "mirror", t.url("prog"), tmp_path / "copy"),
                                cwd=ferry.workdir, env=ferry.env, stdin=subprocess.DEVNULL,
                                stdout=slave, stderr=subprocess.PIPE)
        os.close(slave)
        out = b""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
        os.close(master)
        proc.wait(timeout=30)
        text = out.decode(errors="replace")
        assert proc.returncode == 0, text + proc.stderr.read().decode(errors="replace")
        frames = [f for f in text.split("\r") if f.startswith("mirror: ")]
        assert frames, f"no progress line: {text!r}"
        assert any(re.search(r"mirror: [01]/2 files .*MiB/4\.0 MiB .*/s .*ETA \d+:\d\d", f) for f in frames), text
        assert "\n" not in "".join(frames).strip(), "the progress line scrolled"
        # The line is wiped before the summary, which starts at the line's beginning.
        assert re.search(r"\r *\r2 files transferred, 4194304 bytes", text), repr(text[-300:])
    finally:
        p.stop()


def test_mirror_up_to_each_server(server, ferry, big, tmp_path):
    """Upload mirror: the server's folder holds the same bytes and times; a second run moves nothing."""
    src = tmp_path / "up tree"
    make_tree(src, big)
    r = ferry("-v", "--insecure", "mirror", "-R", src, server.url("uploaded"), target=server)
    assert r.rc == 0, explain(server, r)
    assert summary(r)[0] == 6
    remote = server.home / "uploaded"
    got = snapshot(remote)
    want = snapshot(src)
    assert {k: v[:2] for k, v in got.items()} == {k: v[:2] for k, v in want.items()}, explain(server, r)
    # The times are set (MFMT, or vsftpd's two-argument MDTM): the same on the server, and a
    # second run moves nothing.
    assert r.sent("MFMT") or r.sent(r"MDTM \d{14}"), explain(server, r)
    assert got == want, "the times differ" + explain(server, r)
    again = ferry("--insecure", "mirror", "-R", src, server.url("uploaded"), target=server)
    assert again.rc == 0 and summary(again)[:3] == (0, 0, 6), explain(server, again)


class LoopingServer(Scripted):
    """Every folder lists a file and a folder "loop": a link to itself, reported as a folder."""

    def listing(self, cwd: str) -> list[str]:
        return ["type=file;size=5;modify=20200101000000; f.txt", "type=dir;modify=20200101000000; loop"]


def test_a_folder_loop_on_the_server_ends(scripted, ferry_bin, tmp_path):
    s = scripted(LoopingServer)
    dst = tmp_path / "copy"
    r = Ferry(ferry_bin, tmp_path)("--insecure", "mirror", f"ftp://u:p@{HOST}:{s.port}/top", dst, timeout=120)
    assert r.rc == 0, str(r)
    assert "levels deep" in r.err
    assert (dst / "f.txt").read_bytes() == b"EVIL\n"
    assert summary(r)[0] == 65  # f.txt at the top and in each of the 64 levels


def test_get_verify_keeps_the_old_file_when_the_hash_differs(scripted, ferry_bin, tmp_path):
    """get --verify: the server's SHA-256 (HASH) decides before the download replaces anything."""
    s = scripted(HashServer)
    run = Ferry(ferry_bin, tmp_path)
    dst = tmp_path / "kept.txt"
    dst.write_bytes(b"the file that was here")
    r = run("--insecure", "get", "--verify", f"ftp://u:p@{HOST}:{s.port}/v/bad.txt", dst)
    assert r.rc == 1, str(r)
    assert "differs from the server's" in r.err, str(r)
    assert dst.read_bytes() == b"the file that was here"
    assert not list(tmp_path.glob("*.ferry-*"))
    good = tmp_path / "good.txt"
    r = run("--insecure", "get", "--verify", f"ftp://u:p@{HOST}:{s.port}/v/good.txt", good)
    assert r.rc == 0, str(r)
    assert good.read_bytes() == VERIFY_FILES["good.txt"]
    assert "OPTS HASH SHA-256" in s.commands

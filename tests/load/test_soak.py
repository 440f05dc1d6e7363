"""Soak (issue 12): many TLS sessions at once for minutes, doing what users do (uploads,
overwrites, downloads with and without REST, listings, renames, deletes, reconnects), every
byte checked with SHA-256 on the wire and on disk. Zero errors and zero corrupted files; the
server's RSS at the end within 10% of its value after warm-up (the first two fifths of the
time); its descriptors back to the idle count once the sessions are gone.

FERRY_SOAK_SESSIONS (200) and FERRY_SOAK_SECONDS (120 in CI) make it longer on demand.
"""

from __future__ import annotations

import ftplib
import hashlib
import io
import os
import random
import threading
import time

from conftest import (HOST, PASSWORD, client_address, figure, free_port_range, descriptors,
                      raise_fd_limit, rss_kib, wait_until)
from ftpwire import ResumingFTP_TLS

SESSIONS = int(os.environ.get("FERRY_SOAK_SESSIONS", "200"))
SECONDS = float(os.environ.get("FERRY_SOAK_SECONDS", "120"))
ADDRESSES = 8  # 127.0.0.2-9: 25 sessions each at 200, under MAXSESSIONSPERHOST's 50
FILES = 8
SIZES = [0, 1, 1000, 17 * 1024, 64 * 1024 + 3, 300 * 1024, 1024 * 1024 + 7]
SHARED = {f"shared-{n}.bin": os.urandom(size) for n, size in enumerate([4096, 200 * 1024, 2 << 20])}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class SoakSession:
    """One client: its own folder in its user's home, the files it expects there (name ->
    SHA-256), and counts. Runs until `stop`; every failure is recorded, then it reconnects."""

    def __init__(self, index: int, srv, user: str, home, stop: threading.Event):
        self.index, self.srv, self.user, self.stop = index, srv, user, stop
        self.folder = f"s{index:03d}"
        self.disk = home / self.folder
        self.rng = random.Random(index)
        self.expected: dict[str, str] = {}
        self.ops = self.bytes_up = self.bytes_down = self.sessions = self.unresumed = 0
        self.errors: list[str] = []
        self.ftp: ResumingFTP_TLS | None = None
        self.serial = 0
        self.parked = threading.Event()

    # -- session
    def connect(self) -> None:
        f = ResumingFTP_TLS(mode=self.rng.choice(["pasv", "epsv"]))
        f.connect(HOST, self.srv.port, timeout=60,
                  source_address=(client_address(self.index % ADDRESSES), 0))
        f.login(self.user, PASSWORD)
        f.prot_p()
        if self.sessions == 0:
            f.mkd(self.folder)
        f.cwd(self.folder)
        self.ftp = f
        self.sessions += 1

    def disconnect(self) -> None:
        f, self.ftp = self.ftp, None
        if f is None:
            return
        try:
            f.quit()
        except (OSError, EOFError, ftplib.Error):
            f.close()

    def check_resumed(self) -> None:
        # Every PROT P data connection resumes the control session (SECURE_SESSION_REUSE).
        self.unresumed += self.ftp.reused.count(False)
        self.ftp.reused.clear()
        self.ftp.sent.clear()

    # -- operations
    def new_name(self) -> str:
        self.serial += 1
        return f"f{self.serial:05d}.bin"

    def upload(self, name: str | None = None) -> None:
        if name is None:
            # At most FILES files per folder: the mix stays the same from start to end, so the
            # server's memory after warm-up can be compared with its memory at the end.
            name = self.new_name() if len(self.expected) < FILES else self.rng.choice(sorted(self.expected))
        data = os.urandom(self.rng.choice(SIZES))
        resp = self.ftp.storbinary(f"STOR {name}", io.BytesIO(data), blocksize=1 << 16)
        assert resp.startswith("226"), resp
        self.expected[name] = sha(data)
        self.bytes_up += len(data)

    def overwrite(self) -> None:
        if self.expected:
            self.upload(self.rng.choice(sorted(self.expected)))

    def download(self) -> None:
        if not self.expected:
            return
        name = self.rng.choice(sorted(self.expected))
        out = bytearray()
        self.ftp.retrbinary(f"RETR {name}", out.extend, blocksize=1 << 16)
        assert sha(out) == self.expected[name], f"{name}: downloaded bytes differ"
        self.bytes_down += len(out)

    def download_shared(self) -> None:
        name = self.rng.choice(sorted(SHARED))
        out = bytearray()
        self.ftp.retrbinary(f"RETR ../{name}", out.extend, blocksize=1 << 16)
        assert out == SHARED[name], f"{name}: downloaded bytes differ"
        self.bytes_down += len(out)

    def resume_download(self) -> None:
        name = f"../{self.rng.choice(sorted(SHARED))}"
        data = SHARED[name[3:]]
        rest = self.rng.randrange(len(data))
        out = bytearray()
        self.ftp.retrbinary(f"RETR {name}", out.extend, blocksize=1 << 16, rest=rest)
        assert out == data[rest:], f"{name} from {rest}: downloaded bytes differ"
        self.bytes_down += len(out)

    def listing(self) -> None:
        names = {n for n, facts in self.ftp.mlsd(facts=["type", "size"]) if facts["type"] == "file"}
        assert names == set(self.expected), f"MLSD lists {sorted(names)}, expected {sorted(self.expected)}"

    def rename(self) -> None:
        if self.expected:
            old = self.rng.choice(sorted(self.expected))
            new = self.new_name()
            self.ftp.rename(old, new)
            self.expected[new] = self.expected.pop(old)

    def delete(self) -> None:
        if self.expected:
            name = self.rng.choice(sorted(self.expected))
            self.ftp.delete(name)
            del self.expected[name]

    def reconnect(self) -> None:
        self.disconnect()
        self.connect()

    def run(self) -> None:
        ops = [(self.upload, 20), (self.overwrite, 5), (self.download, 20),
               (self.download_shared, 10), (self.resume_download, 5), (self.listing, 10),
               (self.rename, 8), (self.delete, 10), (self.reconnect, 2)]
        funcs = [f for f, _ in ops]
        weights = [w for _, w in ops]
        while not self.stop.is_set():
            if PARK.is_set():
                self.parked.set()
                while PARK.is_set() and not self.stop.is_set():
                    time.sleep(0.01)  # parked until the RSS reading is taken
                self.parked.clear()
            op = self.rng.choices(funcs, weights)[0]
            try:
                if self.ftp is None:
                    self.connect()
                op()
                self.check_resumed()
                self.ops += 1
            except Exception as exc:  # noqa: BLE001 - every failure is counted and reported
                self.errors.append(f"session {self.index} ({self.user}) {op.__name__}: {exc!r}")
                self.disconnect()
                if len(self.errors) > 5:
                    return
                # What the server has is the truth after a failure; the test fails anyway.
        self.disconnect()


PARK = threading.Event()
# ferryd gives its free heap back after a second without transfers, checked once a second
# (server::give_back_free_heap): at most two seconds after the last transfer of the parking.
QUIET = 2.5


def parked_rss(sessions: list[SoakSession], pid: int) -> int:
    PARK.set()
    try:
        wait_until(lambda: all(s.parked.is_set() or s.errors for s in sessions),
                   "every soak session parked between operations", deadline=60)
        time.sleep(QUIET)
        return rss_kib(pid)
    finally:
        PARK.clear()


def test_soak_tls_sessions_lose_nothing_and_leak_nothing(ferryd_factory, many_users):
    raise_fd_limit(4 * SESSIONS + 1024)
    users_file, homes = many_users
    for home in homes.values():
        for name, data in SHARED.items():
            (home / name).write_bytes(data)
    lo, hi = free_port_range(2 * SESSIONS)
    srv = ferryd_factory("soak", overrides={
        "USERS": str(users_file), "PASSIVEDATAPORTS": f"{lo} {hi}",
        "SECURE_FTP": "REQUIRED", "SECURE_DATACONN": "PRIVATE",
        "SECURE_SESSION_REUSE": "REQUIRED"})
    pid = srv.proc.pid
    _, idle_fds = descriptors(pid)

    stop = threading.Event()
    names = sorted(homes)
    sessions = [SoakSession(i, srv, names[i % len(names)], homes[names[i % len(names)]], stop)
                for i in range(SESSIONS)]
    threads = [threading.Thread(target=s.run, name=f"soak-{s.index}", daemon=True)
               for s in sessions]
    start = time.monotonic()
    for t in threads:
        t.start()
    wait_until(lambda: all(s.sessions or s.errors for s in sessions),
               f"{SESSIONS} sessions logged in", deadline=60)
    # RSS is read with every session parked between two operations (logged in, nothing in
    # flight) at each fifth of the time: the same state each time. Warm-up is the first two
    # fifths (the allocator's arenas settle: the first reading is the lowest); growth from the
    # second reading to the last is what the soak left behind.
    readings = []
    for fifth in range(1, 6):
        time.sleep(max(0.0, start + fifth * SECONDS / 5 - time.monotonic()))  # the soak's own clock
        readings.append(parked_rss(sessions, pid))
    rss_warm, rss_end = readings[1], readings[-1]
    stop.set()
    for t in threads:
        t.join(timeout=120)
    elapsed = time.monotonic() - start
    assert not any(t.is_alive() for t in threads), "a soak session did not stop"

    errors = [e for s in sessions for e in s.errors]
    assert not errors, f"{len(errors)} errors, first ones:\n" + "\n".join(errors[:20])
    assert sum(s.unresumed for s in sessions) == 0, "a PROT P data connection did not resume"
    # Bytes on disk: each session's folder holds exactly the files it expects, byte for byte.
    corrupted = []
    for s in sessions:
        on_disk = {p.name: sha(p.read_bytes()) for p in s.disk.iterdir()}
        if on_disk != s.expected:
            corrupted.append(f"{s.disk}: {sorted(set(on_disk.items()) ^ set(s.expected.items()))[:4]}")
    assert not corrupted, "files differ from what was uploaded:\n" + "\n".join(corrupted[:20])
    for home in homes.values():
        for name, data in SHARED.items():
            assert (home / name).read_bytes() == data

    wait_until(lambda: descriptors(pid) == (0, idle_fds),
               f"ferryd back to no connections and its idle {idle_fds} other descriptors "
               f"(now {descriptors(pid)})", deadline=30)
    growth = (rss_end - rss_warm) / rss_warm
    ops = sum(s.ops for s in sessions)
    figure("soak", sessions=SESSIONS, seconds=round(elapsed), operations=ops,
           logins=sum(s.sessions for s in sessions),
           mib_up=round(sum(s.bytes_up for s in sessions) / 2**20),
           mib_down=round(sum(s.bytes_down for s in sessions) / 2**20),
           errors=len(errors), corrupted=len(corrupted), rss_parked_kib=readings, rss_growth=f"{growth:+.1%}", idle_fds=idle_fds)
    # Under a sanitizer RSS is mostly shadow memory and quarantine: the races and leaks are what
    # that run is for (scripts/sanitize thread runs this file).
    if not os.environ.get("FERRY_INTEROP_SANITIZED"):
        assert abs(growth) <= 0.10, f"RSS {rss_warm} KiB after warm-up, {rss_end} KiB at the end"
    assert srv.alive

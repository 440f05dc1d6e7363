#!/usr/bin/python3
"""A slow file system: a read-only FUSE mirror of a folder whose getattr and open each take
--delay seconds (a hung NFS server, a spun-down disk). For test_slow_disk.py and
bench/noop_latency.py; needs root, /dev/fuse and python3-fusepy (scripts/install-deps).

    slow_fs.py SOURCE MOUNTPOINT --delay 0.15 [--delay-file FILE] [--events FILE]

--delay-file: the delay is read from FILE at each call instead (none while it is missing), so a
test can let ferryd start (it walks its homes) before the file system turns slow.
--events: each slow call appends "getattr /path" or "open /path" to FILE as it starts, so a test
knows the server is waiting on this file system without guessing how long to sleep.
The mount ends on SIGTERM (libfuse unmounts); use SlowMount from Python to get that bounded.
"""
from __future__ import annotations

import argparse
import errno
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path


def serve(source: str, mountpoint: str, delay: float, delay_file: str | None, events: str | None) -> None:
    from fusepy import FUSE, FuseOSError, Operations

    lock = threading.Lock()

    def slow(op: str, path: str) -> None:
        if path == "/":
            return  # the mount point itself stays quick: mount checks and parent lookups
        seconds = delay if op != "read" else 0.0
        # Reads are quick unless the .read file beside delay_file says otherwise.
        file = delay_file if op != "read" else (delay_file and delay_file + ".read")
        if file:
            try:
                seconds = float(Path(file).read_text())
            except (OSError, ValueError):
                return
        if seconds <= 0:
            return
        if events:
            with lock, open(events, "a") as f:
                f.write(f"{op} {path}\n")
        time.sleep(seconds)

    def real(path: str) -> str:
        return os.path.join(source, path.lstrip("/"))

    class SlowFS(Operations):
        def getattr(self, path, fh=None):
            slow("getattr", path)
            try:
                st = os.lstat(real(path))
            except OSError as e:
                raise FuseOSError(e.errno)
            return {k: getattr(st, k) for k in ("st_mode", "st_nlink", "st_uid", "st_gid", "st_size",
                                                 "st_atime", "st_mtime", "st_ctime")}

        def readdir(self, path, fh):
            return [".", ".."] + os.listdir(real(path))

        def open(self, path, flags):
            slow("open", path)
            if flags & (os.O_WRONLY | os.O_RDWR):
                raise FuseOSError(errno.EROFS)
            return os.open(real(path), os.O_RDONLY)

        def read(self, path, size, offset, fh):
            slow("read", path)
            return os.pread(fh, size, offset)

        def release(self, path, fh):
            os.close(fh)
            return 0

    # No caching in the kernel: every access reaches getattr/open (and so waits).
    FUSE(SlowFS(), mountpoint, foreground=True, nothreads=False, ro=True, fsname="ferry-slowfs",
         attr_timeout=0, entry_timeout=0, negative_timeout=0)


def mounted(mountpoint: Path) -> bool:
    # /proc/self/mountinfo, not os.path.ismount: a stat of a dead FUSE mount can hang or fail.
    target = str(mountpoint.resolve())
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == target for line in f)


class SlowMount:
    """Runs slow_fs.py SOURCE MOUNTPOINT in a child process; stop() ends it in every case."""

    def __init__(self, source: Path, mountpoint: Path, delay: float, events: Path | None = None,
                 delay_file: Path | None = None, ready_timeout: float = 10):
        self.mountpoint = mountpoint
        self.events = events
        self.delay_file = delay_file
        mountpoint.mkdir(parents=True, exist_ok=True)
        argv = ["/usr/bin/python3", __file__, str(source), str(mountpoint), "--delay", str(delay)]
        if events:
            argv += ["--events", str(events)]
        if delay_file:
            argv += ["--delay-file", str(delay_file)]
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + ready_timeout
        while not mounted(mountpoint):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"slow_fs.py did not mount {mountpoint} within {ready_timeout} s "
                                   f"(exit {self.proc.returncode})")
            time.sleep(0.02)  # polling interval, bounded by the deadline above

    def set_delay(self, seconds: float, op: str = "") -> None:
        """With delay_file: from the next call on, each getattr and open (op "read": each read)
        takes seconds."""
        target = self.delay_file if op != "read" else Path(str(self.delay_file) + ".read")
        tmp = target.with_suffix(".new")
        tmp.write_text(str(seconds))
        tmp.replace(target)  # atomic: a call never reads half a number

    def wait_event(self, line: str, timeout: float) -> None:
        """Waits until a slow call named line ("open /f") has started."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if line in self.events.read_text().splitlines():
                    return
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"no slow call {line!r} within {timeout} s")
            time.sleep(0.01)  # polling interval, bounded by the deadline above

    def stop(self) -> None:
        # SIGTERM: libfuse leaves its loop and unmounts; pending requests fail (ENOTCONN) once the
        # process is gone, so nothing waits on this mount afterwards.
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if mounted(self.mountpoint):
            subprocess.run(["umount", "-l", str(self.mountpoint)], timeout=10, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("source")
    ap.add_argument("mountpoint")
    ap.add_argument("--delay", type=float, default=0.15)
    ap.add_argument("--delay-file")
    ap.add_argument("--events")
    a = ap.parse_args()
    serve(os.path.abspath(a.source), a.mountpoint, a.delay, a.delay_file, a.events)
    sys.exit(0)

"""Slow clients (issue 12): 500 TLS sessions reading their downloads at 1 KiB/s beside one
client downloading at full speed; the fast one keeps at least 80% of its solo throughput, and
every slow one keeps being served.

What a slow session costs the host's kernel is bounded too: ferryd queues at most two pieces
(512 KiB) unsent on a download (data_channel::limit_unsent). Without that bound the kernel let
each slow download's send buffer grow to about 3 MiB on loopback; 500 of them held 1.6 GB, past
this machine's TCP memory-pressure threshold, and the packet drops that followed stalled one
fast download in three for seconds (141-220 MB/s against 900 alone). Earlier CI failures of this
test, put down to the shared VM's drift at the time, were this.

The downloads alone and beside the slow sessions take turns: four rounds of two alone, then the
500 slow sessions start and two run beside them, then the slow sessions end, so both kinds see
every phase of the shared 2-core VM. Of the eight of each, the second best is compared: a
neighbour's burst can halve any single download whatever ferryd does, and one download can also
come out a third faster than the rest; the second best drops one such spike on either side,
while a ferryd that let slow sessions starve the fast one would still slow every download beside
them, the two best included.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from conftest import LOAD_DIR, PASSWORD, descriptors, figure, free_port_range, raise_fd_limit, wait_until

SLOW = 500
RATE = 1024
BIG = 1 << 30  # the fast client's file: about a second at full speed
ROUNDS = 4  # each: downloads alone, then the slow sessions start and downloads run beside them
PER_ROUND = 2
KERNEL_PER_SLOW = 1024 * 1024  # bytes of TCP memory a slow session may hold, both ends together


def tcp_memory() -> int:
    """The host's TCP socket buffers, in bytes (/proc/net/sockstat counts pages)."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1]) * os.sysconf("SC_PAGE_SIZE")
    raise AssertionError("no TCP line in /proc/net/sockstat")


def second_best(speeds: list[float]) -> float:
    return sorted(speeds)[-2]


def fast_download(srv, user: str) -> float:
    """curl, PROT P, into /dev/null: bytes per second as curl measured them."""
    r = subprocess.run(["curl", "-sS", "--ssl-reqd", "-k", "--max-time", "60", "-u",
                        f"{user}:{PASSWORD}", f"ftp://{srv.host}:{srv.port}/big.bin",
                        "-o", "/dev/null", "-w", "%{size_download} %{speed_download}"],
                       capture_output=True, text=True, timeout=90)
    assert r.returncode == 0, r.stderr
    size, speed = r.stdout.split()
    assert int(size) == BIG, r.stdout
    return float(speed)


def test_slow_clients_do_not_slow_a_fast_one(ferryd_factory, many_users):
    raise_fd_limit(4 * SLOW + 1024)
    users_file, homes = many_users
    names = sorted(homes)
    for home in homes.values():
        with open(home / "big.bin", "wb") as f:
            f.truncate(BIG)  # sparse: the disk is not what is measured
    lo, hi = free_port_range(200)
    srv = ferryd_factory("slow", overrides={
        "USERS": str(users_file), "PASSIVEDATAPORTS": f"{lo} {hi}",
        "SECURE_FTP": "REQUIRED", "SECURE_DATACONN": "PRIVATE"})
    pid = srv.proc.pid
    _, idle_fds = descriptors(pid)

    solo: list[float] = []
    busy: list[float] = []
    rounds = []
    held: list[int] = []  # TCP memory while only the slow sessions run, after each round's downloads
    for _ in range(ROUNDS):
        solo += [fast_download(srv, names[0]) for _ in range(PER_ROUND)]
        slow = subprocess.Popen([sys.executable, str(LOAD_DIR / "slow_readers.py"), "--port", str(srv.port),
                                 "--sessions", str(SLOW), "--users", ",".join(names[1:]),
                                 "--password", PASSWORD, "--file", "big.bin", "--rate", str(RATE)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        try:
            ready = slow.stdout.readline()  # bounded: every socket in slow_readers has a timeout
            assert ready.startswith("ready"), (ready, slow.stderr.read() if slow.poll() is not None else "")
            busy += [fast_download(srv, names[0]) for _ in range(PER_ROUND)]
            held.append(tcp_memory())
            out, err = slow.communicate(input="", timeout=120)
        finally:
            if slow.poll() is None:
                slow.kill()
                slow.wait(timeout=10)
        assert slow.returncode == 0, err
        result = json.loads(out)
        assert not result["errors"], result["errors"][:10]
        assert int(ready.split()[1]) == SLOW
        rounds.append(result)
        # The round's slow sessions are gone before the next downloads alone.
        wait_until(lambda: descriptors(pid) == (0, idle_fds),
                   f"ferryd back to no connections (now {descriptors(pid)})", deadline=60)
    share = second_best(busy) / second_best(solo)
    median_share = statistics.median(busy) / statistics.median(solo)
    figure("slow_clients", slow_sessions=SLOW, slow_rate_bps=RATE,
           solo_mb_s=round(second_best(solo) / 1e6), busy_mb_s=round(second_best(busy) / 1e6), share=f"{share:.0%}",
           best_solo_mb_s=round(max(solo) / 1e6), best_busy_mb_s=round(max(busy) / 1e6),
           median_solo_mb_s=round(statistics.median(solo) / 1e6),
           median_busy_mb_s=round(statistics.median(busy) / 1e6), median_share=f"{median_share:.0%}",
           slow_min_bytes=min(r["min_bytes"] for r in rounds), slow_seconds=min(r["seconds"] for r in rounds),
           tcp_kib_per_slow_session=round(max(held) / SLOW / 1024))
    assert max(held) <= SLOW * KERNEL_PER_SLOW, f"TCP memory with {SLOW} slow sessions: {held} bytes"
    assert share >= 0.80, f"fast client: {busy} B/s beside the slow ones, {solo} alone"
    # Every slow session kept moving while the fast one ran (at least half its pace).
    for r in rounds:
        assert r["min_bytes"] >= 0.5 * RATE * r["seconds"], r
    assert srv.alive

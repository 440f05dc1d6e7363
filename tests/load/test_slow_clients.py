"""Slow clients (issue 12): 500 TLS sessions reading their downloads at 1 KiB/s beside one
client downloading at full speed; the fast one keeps at least 80% of its solo throughput, and
every slow one keeps being served.

Throughput is compared second-best against second-best (of 7 downloads alone, 7 beside the slow
sessions): on this shared 2-core VM a neighbour's burst can halve any single download whatever
ferryd does (the same binary measured 56% and 85% by medians in two runs), and one download in
seven can also come out a third faster than the rest (1,347 MB/s against 1,030 and 1,072 in a CI
run, which failed the best-against-best comparison at 78% with medians at 100%). The second best
drops one such spike on either side, while a ferryd that let slow sessions starve the fast one
would still slow every download beside them, the two best included.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from conftest import LOAD_DIR, PASSWORD, descriptors, figure, free_port_range, raise_fd_limit, wait_until

SLOW = 500
RATE = 1024
BIG = 1 << 30  # the fast client's file: about a second at full speed
RUNS = 7  # downloads alone and beside the slow sessions: the second best of each is compared


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

    solo = [fast_download(srv, names[0]) for _ in range(RUNS)]
    slow = subprocess.Popen([sys.executable, str(LOAD_DIR / "slow_readers.py"), "--port", str(srv.port),
                             "--sessions", str(SLOW), "--users", ",".join(names[1:]),
                             "--password", PASSWORD, "--file", "big.bin", "--rate", str(RATE)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        ready = slow.stdout.readline()  # bounded: every socket in slow_readers has a timeout
        assert ready.startswith("ready"), (ready, slow.stderr.read() if slow.poll() is not None else "")
        busy = [fast_download(srv, names[0]) for _ in range(RUNS)]
        out, err = slow.communicate(input="", timeout=120)
    finally:
        if slow.poll() is None:
            slow.kill()
            slow.wait(timeout=10)
    assert slow.returncode == 0, err
    result = json.loads(out)
    share = second_best(busy) / second_best(solo)
    median_share = statistics.median(busy) / statistics.median(solo)
    figure("slow_clients", slow_sessions=SLOW, slow_rate_bps=RATE,
           solo_mb_s=round(second_best(solo) / 1e6), busy_mb_s=round(second_best(busy) / 1e6), share=f"{share:.0%}",
           best_solo_mb_s=round(max(solo) / 1e6), best_busy_mb_s=round(max(busy) / 1e6),
           median_solo_mb_s=round(statistics.median(solo) / 1e6),
           median_busy_mb_s=round(statistics.median(busy) / 1e6), median_share=f"{median_share:.0%}",
           slow_min_bytes=result["min_bytes"], slow_seconds=result["seconds"])
    assert not result["errors"], result["errors"][:10]
    assert int(ready.split()[1]) == SLOW
    assert share >= 0.80, f"fast client: {busy} B/s beside the slow ones, {solo} alone"
    # Every slow session kept moving while the fast one ran (at least half its pace).
    assert result["min_bytes"] >= 0.5 * RATE * result["seconds"], result
    wait_until(lambda: descriptors(pid) == (0, idle_fds),
               f"ferryd back to no connections and its idle {idle_fds} other descriptors "
               f"(now {descriptors(pid)})", deadline=60)
    assert srv.alive

#!/usr/bin/python3
"""Scale-out benchmark (issue 15): aggregate PROT P download throughput of --clients parallel
curl clients, straight to one ferryd node and through HAProxy to 1, 2 and 3 nodes.

The network is the one of tests/netns/test_scale_out.py (tests/netns/balancer_lab.py), made
here and removed at the end: a client namespace (203.0.113.2), the balancer namespace lb
(203.0.113.1, haproxy with the configuration `ferryd haproxy-config` prints, PROXY v2) and
three node namespaces (10.20.K.2) serving one shared folder that holds a --size file of random
bytes. "direct" is node 1 without PROXYPROTOCOL, reached through lb as a plain router (the
same links, no haproxy); the others go through haproxy to the first N nodes (leastconn). Each
run starts --clients curl downloads of the file at once (EPSV, PROT P, written to /dev/null,
the byte count checked) and times them from the first start to the last end; before timing,
one download per configuration is written to disk and checked by SHA-256. The configurations
alternate in order over --runs runs; medians. Writes PREFIX.md and PREFIX.json (default
bench/results/scale_out).

    sudo bench/scale_out.py [--clients 8] [--size 256M] [--runs 3]

Needs root (namespaces), haproxy, curl and a built ferryd (FERRYD or build/ferryd). Addresses
exist only inside the namespaces; every process is bounded in time and stopped at the end.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import datetime
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "netns"))
sys.path.insert(0, str(HERE))
import balancer_lab as bl  # noqa: E402
import netlab  # noqa: E402
from bench import make_pki, parse_size, peers  # noqa: E402


def curl_argv(host: str, clients_timeout: float) -> list[str]:
    return ["curl", "--silent", "--show-error", "--ssl-reqd", "--insecure", "--ftp-pasv",
            "--connect-timeout", "10", "--max-time", str(int(clients_timeout)),
            "--user", f"{bl.USER}:{bl.PASSWORD}", "--write-out", "%{size_download}"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--size", type=parse_size, default=256 << 20)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ferryd", default=os.environ.get("FERRYD") or str(REPO / "build/ferryd"))
    ap.add_argument("--out", default=str(HERE / "results" / "scale_out"))
    cfg = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/scale_out.py: run as root (network namespaces)", file=sys.stderr)
        return 2
    if not shutil.which("haproxy"):
        print("bench/scale_out.py: haproxy is not installed (apt-get install haproxy)", file=sys.stderr)
        return 2
    os.environ["FERRYD"] = cfg.ferryd
    work = Path(tempfile.mkdtemp(prefix="ferry-scale-out-bench-"))
    lab = netlab.Lab(work / "lab")
    try:
        _, _, pem, _ = make_pki(work / "pki")
        pki = {"pem": pem, "hash": peers.sha512_crypt(bl.PASSWORD)}
        site = bl.Balancer(lab, pki, work / "site", nodes=3)
        block = os.urandom(1 << 20)
        with open(site.home / "big.bin", "wb") as f:
            for left in range(cfg.size, 0, -len(block)):
                f.write(block[:min(left, len(block))])
        want = netlab.file_sha256(site.home / "big.bin")
        # Each download gets 3x the time of one at 20 MB/s shared by all clients, plus a minute.
        limit = cfg.clients * cfg.size / 20e6 * 3 + 60

        def start(how: str) -> str:
            """Start the servers for configuration `how`; returns the host the clients use."""
            site.stop_all()
            if how == "direct":
                site.start_node(1, proxy=False)
                return bl.node_addr(1)
            n = int(how.split()[0])
            site.start_nodes(nodes=list(range(1, n + 1)))
            site.start_haproxy(site.generate_haproxy_config(nodes=list(range(1, n + 1))))
            return bl.PUBLIC

        def one(host: str, dest: str) -> tuple[int, float]:
            argv = [*curl_argv(host, limit), "--output", dest, f"ftp://{host}:{bl.CONTROL_PORT}/big.bin"]
            r = lab.run("c", argv, timeout=limit + 30)
            if r.rc != 0:
                raise RuntimeError(f"curl exited {r.rc}: {r.text[-2000:]}")
            return int(r.out.decode().strip() or 0), r.seconds

        configs = ["direct", "1 node", "2 nodes", "3 nodes"]
        runs: dict[str, list[float]] = {c: [] for c in configs}
        cpu: dict[str, list[float]] = {c: [] for c in configs}   # haproxy's CPU seconds per run
        for run in range(cfg.runs):
            order = configs if run % 2 == 0 else list(reversed(configs))
            for how in order:
                host = start(how)
                if run == 0:  # one download to disk, checked, before timing
                    copy = work / "copy.bin"
                    one(host, str(copy))
                    if netlab.file_sha256(copy) != want:
                        raise RuntimeError(f"{how}: the downloaded copy differs from the file")
                    copy.unlink()
                cpu0 = cpu_seconds(site.haproxy)
                t0 = time.monotonic()
                with concurrent.futures.ThreadPoolExecutor(max_workers=cfg.clients) as pool:
                    got = list(pool.map(lambda _: one(host, "/dev/null"), range(cfg.clients)))
                took = time.monotonic() - t0
                cpu[how].append(cpu_seconds(site.haproxy) - cpu0)
                bad = [n for n, _ in got if n != cfg.size]
                if bad:
                    raise RuntimeError(f"{how}: downloads of {bad} bytes, not {cfg.size}")
                used = sorted({n.k for n in site.nodes.values() if "download /big.bin" in n.log})
                runs[how].append(took)
                print(f"run {run + 1}: {how}: {took:.2f} s, {cfg.clients * cfg.size / 1e6 / took:.0f} MB/s "
                      f"(nodes that served: {used})", flush=True)
        site.stop_all()

        total = cfg.clients * cfg.size
        med = {k: statistics.median(v) for k, v in runs.items()}
        direct = total / med["direct"]
        md = ["# Scale-out: aggregate throughput through HAProxy with 1, 2 and 3 ferryd nodes", "",
              f"{datetime.date.today()}, {os.cpu_count()} cores, haproxy {haproxy_version()}; {cfg.clients} curl clients "
              f"at once, each downloading the same {cfg.size / 2**20:.0f} MiB file with PROT P (EPSV, TLS 1.3), "
              "client, balancer and nodes in network namespaces of this one machine (veth links). "
              "\"direct\": node 1 without PROXYPROTOCOL, reached through the balancer namespace as a router "
              "(no haproxy); the others: haproxy with `ferryd haproxy-config`'s configuration (leastconn, PROXY v2) "
              "in front of the first N nodes. Wall time from the first client's start to the last one's end, "
              f"medians of {cfg.runs} runs (order alternating); every byte count checked, one copy per "
              "configuration checked by SHA-256. `bench/scale_out.py`.", "",
              "| path | s | aggregate MB/s | runs, MB/s | against direct | haproxy CPU s |",
              "|---|---|---|---|---|---|"]
        for how in configs:
            rate = total / med[how]
            label = how if how == "direct" else f"haproxy, {how}"
            spread = ", ".join(f"{total / t / 1e6:.0f}" for t in runs[how])
            hcpu = f"{statistics.median(cpu[how]):.2f}" if how != "direct" else "-"
            md.append(f"| {label} | {med[how]:.2f} | {rate / 1e6:.0f} | {spread} | {rate / direct:.2f}x | {hcpu} |")
        md += ["", f"Client, haproxy and nodes share the same {os.cpu_count()} cores: more nodes add no CPU, so the "
               "ratios show the cost of the balancer path, not scaling. \"haproxy CPU s\": the CPU time haproxy "
               f"used to relay the {total / 2**30:.0f} GiB of a run (user + system, /proc).", ""]
        Path(cfg.out + ".md").write_text("\n".join(md))
        Path(cfg.out + ".json").write_text(json.dumps({"clients": cfg.clients, "size": cfg.size,
                                                       "cores": os.cpu_count(), "runs": runs,
                                                       "haproxy_cpu_seconds": cpu}, indent=1) + "\n")
        print("\n".join(md))
        return 0
    except (RuntimeError, netlab.LabError) as exc:
        print(f"bench/scale_out.py: {exc}", file=sys.stderr)
        return 1
    finally:
        lab.close()
        shutil.rmtree(work, ignore_errors=True)


def cpu_seconds(proc) -> float:
    """User + system CPU seconds of a running process (all its threads); 0 without one."""
    if proc is None:
        return 0.0
    try:
        fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def haproxy_version() -> str:
    try:
        out = subprocess.run(["haproxy", "-v"], capture_output=True, timeout=10).stdout.decode()
        return out.split()[2] if out.startswith("HAProxy version") else "?"
    except (OSError, subprocess.TimeoutExpired, IndexError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())

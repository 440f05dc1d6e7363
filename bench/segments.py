#!/usr/bin/python3
"""Segmented download benchmark (issue 16): `ferry get --segments N` against one stream over a
link with added delay, as on a long fat network.

Three network namespaces made here (and removed at the end): client, router, server. The router
sends every packet it forwards through a delay line (bench/delay_link.cpp, a TUN device: this
VM's kernel has no netem) that holds it --delay/2 ms, so the round trip gains --delay ms;
ferryd in the server namespace serves a file of --size bytes (default 1 GiB, random), ferry in the other
in the client namespace fetches it with PROT P, once as one stream and once with --segments N, alternating over
--runs runs; every copy is compared with the file (SHA-256). Writes PREFIX.md and PREFIX.json
(default bench/results/segments).

    sudo bench/segments.py [--size 1G] [--segments 4] [--delay 50] [--runs 3]

Needs root (namespaces, TUN), a built ferryd, ferry and delay_link (cmake --build build). Addresses are inside the namespaces only.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO / "tests" / "netns"))
sys.path.insert(0, str(HERE))
import netlab  # noqa: E402
from bench import PASSWORD, USER, make_pki, parse_size  # noqa: E402

CLIENT, CLIENT_GW, SERVER_GW, SERVER, PORT = "10.77.1.2", "10.77.1.1", "10.77.2.1", "10.77.2.2", 2121
MTU = 9000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=parse_size, default=1 << 30)
    ap.add_argument("--segments", type=int, default=4)
    ap.add_argument("--delay", type=float, default=50.0, help="added round-trip delay, ms")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--ferryd", default=os.environ.get("FERRYD") or str(REPO / "build/ferryd"))
    ap.add_argument("--ferry", default=os.environ.get("FERRY") or str(REPO / "build/ferry"))
    ap.add_argument("--delay-link", default=str(REPO / "build/bench/delay_link"))
    ap.add_argument("--out", default=str(HERE / "results" / "segments"))
    cfg = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/segments.py: run as root (network namespaces, TUN)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="ferry-segments-bench-"))
    lab = netlab.Lab(work / "lab")
    try:
        _, _, pem, pw_hash = make_pki(work / "pki")
        home = work / "home"
        home.mkdir()
        block = os.urandom(1 << 20)
        with open(home / "big.bin", "wb") as f:
            for left in range(cfg.size, 0, -len(block)):
                f.write(block[:min(left, len(block))])
        want = netlab.file_sha256(home / "big.bin")
        (work / "users").write_text(f"{USER}:{pw_hash}:{home}\n")
        (work / "ferryd.conf").write_text(
            f"LISTEN {SERVER} {PORT}\nRUNAS root\nTLSPORT 0\nKEYRING {pem}\nUSERS {work / 'users'}\n"
            "EXTENSIONS AUTH_TLS\nSECURE_FTP REQUIRED\nSECURE_DATACONN PRIVATE\nPASSIVEDATAPORTS 40000 40100\n")
        (work / "password").write_text(PASSWORD + "\n")
        (work / "password").chmod(0o600)

        # client c -- router r -- server s; r forwards every packet through the delay line.
        lab.add_ns("c")
        lab.add_ns("r", router=True)
        lab.add_ns("s")
        lab.link("c", "eth0", "r", "lan")
        lab.link("r", "wan", "s", "eth0")
        lab.addr("c", "eth0", f"{CLIENT}/24")
        lab.addr("r", "lan", f"{CLIENT_GW}/24")
        lab.addr("r", "wan", f"{SERVER_GW}/24")
        lab.addr("s", "eth0", f"{SERVER}/24")
        lab.route("c", "default", CLIENT_GW)
        lab.route("s", "default", SERVER_GW)
        ready = work / "delay-ready"
        lab.spawn("r", [cfg.delay_link, f"{cfg.delay / 2:g}", "dly0", str(ready)], name="delay")
        deadline = time.monotonic() + 10
        while not ready.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the delay line did not start")
            time.sleep(0.05)
        r = lab.ns("r")
        for argv in (["link", "set", "dly0", "up", "txqueuelen", "100000"],
                     ["rule", "add", "iif", "lan", "lookup", "100", "pref", "100"],
                     ["rule", "add", "iif", "wan", "lookup", "100", "pref", "101"],
                     ["route", "add", "default", "dev", "dly0", "table", "100"]):
            netlab.sh([netlab.IP, "-n", r, *argv])
        for key in ("net.ipv4.conf.all.rp_filter", "net.ipv4.conf.dly0.rp_filter"):
            lab.sysctl("r", key, "0")
        # Large packets: a few thousand a second through the Python delay line, not a hundred thousand.
        for short, ifs in (("c", ["eth0"]), ("r", ["lan", "wan", "dly0"]), ("s", ["eth0"])):
            for ifname in ifs:
                netlab.sh([netlab.IP, "-n", lab.ns(short), "link", "set", ifname, "mtu", str(MTU)])
        lab.spawn("s", [cfg.ferryd, "--config", str(work / "ferryd.conf")], name="ferryd", cwd=work)
        lab.wait_greeting("s", SERVER, PORT, deadline=15)

        results: dict[str, list[float]] = {"one stream": [], f"--segments {cfg.segments}": []}
        for run in range(cfg.runs):
            order = list(results) if run % 2 == 0 else list(reversed(list(results)))
            for how in order:
                dest = work / "copy.bin"
                dest.unlink(missing_ok=True)
                extra = ["--segments", str(cfg.segments)] if how.startswith("--") else []
                argv = [cfg.ferry, "--insecure", "--no-netrc", "--no-progress", "--user", USER,
                        "--password-file", str(work / "password"), "get", *extra,
                        f"ftp://{SERVER}:{PORT}/big.bin", str(dest)]
                t0 = time.monotonic()
                r = lab.run("c", argv, timeout=cfg.size / 1e6 + 300)
                took = time.monotonic() - t0
                if r.rc != 0:
                    raise RuntimeError(f"{how}: ferry exited {r.rc}: {r.text[-2000:]}")
                if netlab.file_sha256(dest) != want:
                    raise RuntimeError(f"{how}: the copy differs from the file")
                results[how].append(took)
                print(f"run {run + 1}: {how}: {took:.2f} s, {cfg.size / 1e6 / took:.1f} MB/s", flush=True)
        med = {k: statistics.median(v) for k, v in results.items()}
        one = med["one stream"]
        md = [f"# Segmented download: ferry get --segments {cfg.segments} against one stream", "",
              f"{datetime.date.today()}, {os.cpu_count()} cores; ferryd and ferry in two network namespaces joined "
              f"through a router namespace whose delay line (a TUN device) adds {cfg.delay:g} ms to the round trip "
              f"({cfg.delay / 2:g} ms each way; MTU {MTU}); "
              f"PROT P, a {cfg.size / 2**20:.0f} MiB file written to disk and checked by SHA-256; wall time of ferry "
              f"(connect and login included), medians of {cfg.runs} runs. `bench/segments.py`.", "",
              "| download | s | MB/s | against one stream |", "|---|---|---|---|"]
        for how, t in med.items():
            md.append(f"| {how} | {t:.2f} | {cfg.size / 1e6 / t:.1f} | {one / t:.2f}x |")
        md.append("")
        Path(cfg.out + ".md").write_text("\n".join(md))
        Path(cfg.out + ".json").write_text(json.dumps({"size": cfg.size, "delay_ms": cfg.delay,
                                                       "segments": cfg.segments, "runs": results}, indent=1) + "\n")
        print("\n".join(md))
        return 0
    except (RuntimeError, netlab.LabError) as exc:
        print(f"bench/segments.py: {exc}", file=sys.stderr)
        return 1
    finally:
        lab.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

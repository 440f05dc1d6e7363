#!/usr/bin/python3
"""Mirror benchmark (issue 16): `ferry mirror -P 4` against `lftp mirror --parallel=4`.

One ferryd on 127.0.0.1 (the settings of bench.py: explicit TLS before login, PROT P, the same
EC P-256 certificate) serves a tree of --files files (default 2,000; sizes 1 KiB to 4 MiB,
log-uniform, in folders of 100) made from a fixed seed. Each client, in alternating order
over --runs runs, mirrors it into an empty folder (first run) and then again into the same
folder (no-change run: nothing may be transferred); the copies are compared with the source
byte for byte. Writes PREFIX.md and PREFIX.json (default bench/results/mirror).

    sudo bench/mirror.py [--files 2000] [--runs 3] [--parallel 4] [--ferryd P] [--ferry P]

Needs root (ferryd runs its sessions as the peers' system user, as in bench.py), lftp and a
built ferryd and ferry. Every process is bounded in time and stopped at the end.
"""
from __future__ import annotations

import argparse
import datetime
import filecmp
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import bench  # noqa: E402
from bench import HOST, PASSWORD, USER, BenchError, FerrydServer, make_pki, peers, run_cmd  # noqa: E402


def make_tree(root: Path, files: int, seed: int = 16) -> int:
    """files files under root/dNN/, sizes 1 KiB * 2^U(0, 12); returns the total bytes."""
    rng = random.Random(seed)
    block = rng.randbytes(4 << 20)
    total = 0
    for i in range(files):
        folder = root / f"d{i // 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        size = int(1024 * 2 ** rng.uniform(0, 12))
        start = rng.randrange(0, len(block) - size + 1)
        (folder / f"file {i:05d}.bin").write_bytes(block[start:start + size])
        total += size
    return total


def same_tree(a: Path, b: Path) -> list[str]:
    """Relative paths that differ (missing, extra, other bytes); empty when a and b are equal."""
    diffs: list[str] = []

    def walk(cmp: filecmp.dircmp, rel: str) -> None:
        diffs.extend(f"{rel}{n}" for n in cmp.left_only + cmp.right_only + cmp.funny_files)
        _, mismatch, errors = filecmp.cmpfiles(cmp.left, cmp.right, cmp.common_files, shallow=False)
        diffs.extend(f"{rel}{n}" for n in mismatch + errors)
        for name, sub in cmp.subdirs.items():
            walk(sub, f"{rel}{name}/")
    walk(filecmp.dircmp(a, b), "")
    return diffs


def ferry_mirror(cfg, srv, dest: Path) -> tuple[float, str]:
    argv = [cfg.ferry, "--fingerprint", cfg.fingerprint, "--no-progress", "--no-netrc", "mirror",
            "-P", str(cfg.parallel), f"ftp://{USER}:{PASSWORD}@{HOST}:{srv.port}/tree", str(dest)]
    t0 = time.monotonic()
    r = run_cmd(argv, 900, "ferry mirror")
    return time.monotonic() - t0, (r.stdout + r.stderr).decode(errors="replace")


def lftp_mirror(cfg, srv, dest: Path) -> tuple[float, str]:
    script = "; ".join([
        "set cmd:fail-exit yes", "set net:max-retries 1", "set net:timeout 20",
        "set ftp:ssl-force true", "set ftp:ssl-protect-data true", "set ftp:prefer-epsv yes",
        f"set ssl:ca-file {cfg.cert}", "set ssl:verify-certificate no",
        f"open -u {USER},{PASSWORD} -p {srv.port} ftp://{HOST}",
        f"mirror --parallel={cfg.parallel} /tree {dest}"])
    env = dict(os.environ, HOME=str(cfg.work / "lftp-home"))
    (cfg.work / "lftp-home").mkdir(exist_ok=True)
    t0 = time.monotonic()
    r = run_cmd(["lftp", "--norc", "-c", script], 900, "lftp mirror", env=env)
    return time.monotonic() - t0, (r.stdout + r.stderr).decode(errors="replace")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--ferryd", default=os.environ.get("FERRYD") or str(bench.REPO / "build/ferryd"))
    ap.add_argument("--ferry", default=os.environ.get("FERRY") or str(bench.REPO / "build/ferry"))
    ap.add_argument("--out", default=str(HERE / "results" / "mirror"))
    cfg = ap.parse_args()
    if os.geteuid() != 0:
        print("bench/mirror.py: run as root (ferryd's sessions run as the peers' user)", file=sys.stderr)
        return 2
    bench.REAPER = bench.Reaper()
    work = Path(tempfile.mkdtemp(prefix="ferry-mirror-bench-"))
    os.chmod(work, 0o755)
    cfg.work = work
    srv = None
    try:
        cfg.cert, _, pem, pw_hash = make_pki(work / "pki")
        fp = run_cmd(["openssl", "x509", "-in", cfg.cert, "-noout", "-fingerprint", "-sha256"], 30,
                     "openssl x509").stdout.decode().strip().split("=", 1)[1]
        cfg.fingerprint = "SHA256:" + fp
        home = work / "home"
        home.mkdir(mode=0o755)
        total = make_tree(home / "tree", cfg.files)
        peers.chown_to_session_user(home)
        srv = FerrydServer(Path(cfg.ferryd).resolve(), work, pem, home, pw_hash, peers.free_port_range(64))
        srv.start()
        results: dict[str, dict[str, list[float]]] = {"ferry": {"first": [], "again": []},
                                                      "lftp": {"first": [], "again": []}}
        clients = {"ferry": ferry_mirror, "lftp": lftp_mirror}
        for run in range(cfg.runs):
            order = ["ferry", "lftp"] if run % 2 == 0 else ["lftp", "ferry"]
            for name in order:
                dest = work / f"{name}-copy"
                shutil.rmtree(dest, ignore_errors=True)
                first, _ = clients[name](cfg, srv, dest)
                diffs = same_tree(home / "tree", dest)
                if diffs:
                    raise BenchError(f"{name} mirror: {len(diffs)} files differ, e.g. {diffs[:3]}")
                again, said = clients[name](cfg, srv, dest)
                if name == "ferry" and "0 files transferred" not in said:
                    raise BenchError(f"ferry mirror moved files on the no-change run:\n{said[-500:]}")
                results[name]["first"].append(first)
                results[name]["again"].append(again)
                bench.log(f"run {run + 1}: {name} mirror {first:.2f} s, again {again:.2f} s")
        med = {n: {k: statistics.median(v) for k, v in r.items()} for n, r in results.items()}
        md = [f"# Mirror: ferry mirror -P {cfg.parallel} against lftp mirror --parallel={cfg.parallel}", "",
              f"{datetime.date.today()}, {os.cpu_count()} cores; ferryd on 127.0.0.1, PROT P; a tree of "
              f"{cfg.files} files ({total / 1e6:.0f} MB, 1 KiB to 4 MiB) in {(cfg.files + 99) // 100} folders; "
              f"medians of {cfg.runs} runs, clients alternating. `bench/mirror.py`.", "",
              "| client | first mirror, s | MB/s | no-change run, s |", "|---|---|---|---|"]
        for n in ("ferry", "lftp"):
            md.append(f"| {n} | {med[n]['first']:.2f} | {total / 1e6 / med[n]['first']:.0f} | "
                      f"{med[n]['again']:.2f} |")
        md += ["", f"ferry / lftp (time ratio, below 1 is faster): first {med['ferry']['first'] / med['lftp']['first']:.2f}, "
               f"no-change {med['ferry']['again'] / med['lftp']['again']:.2f}.", ""]
        Path(cfg.out + ".md").write_text("\n".join(md))
        Path(cfg.out + ".json").write_text(json.dumps({"files": cfg.files, "bytes": total, "parallel": cfg.parallel,
                                                       "runs": results}, indent=1) + "\n")
        print("\n".join(md))
        return 0
    except BenchError as exc:
        print(f"bench/mirror.py: {exc}", file=sys.stderr)
        return 1
    finally:
        if srv:
            srv.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

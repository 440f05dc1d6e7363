#!/usr/bin/env python3
"""Server memory per idle, logged-in TLS session.

Opens N control connections to an FTPS server (AUTH TLS, USER/PASS, PBSZ 0, PROT P), leaves them
idle, and reads the server's PSS and RSS from /proc/PID/smaps_rollup before and after. For a
server that forks a process per session (vsftpd, ProFTPD, Pure-FTPd) the figure is the sum over
all its processes: give every --pid, or --tree to add each --pid's descendants (PSS shares the
pages those processes have in common, so the sum is the real cost).

Usage: idle_sessions.py --pid PID [--pid PID ...] [--tree] --port PORT --user U --password P
                        [--count N ...] [--parallel 4] [--reserve-mib 3072]
Prints one line per count: sessions, total PSS KiB, PSS KiB per session, RSS KiB per session,
or why the step was skipped (the server refused more sessions, or the machine would run out of
memory: a step is only attempted when the last step's cost per session says it fits).

bench/bench.py imports measure() from here.
"""
from __future__ import annotations

import argparse
import os
import resource
import select
import socket
import ssl
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor


def memory_kib(pids) -> tuple[int, int]:
    """(PSS, RSS) in KiB summed over pids (an int or an iterable); vanished processes count 0."""
    if isinstance(pids, int):
        pids = [pids]
    pss = rss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
                    elif line.startswith("Rss:"):
                        rss += int(line.split()[1])
        except (FileNotFoundError, ProcessLookupError):
            continue
    return pss, rss


def _stat_fields(pid: int) -> list[bytes] | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rfind(b")") + 2:].split()


def tree_pids(roots) -> list[int]:
    """The live (non-zombie) processes among roots and all their descendants."""
    children: dict[int, list[int]] = {}
    alive = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = _stat_fields(int(entry))
        if not fields or fields[0] in (b"Z", b"X"):
            continue
        alive.add(int(entry))
        children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [r for r in roots if r in alive]
    seen = set()
    while todo:
        p = todo.pop()
        if p in seen:
            continue
        seen.add(p)
        out.append(p)
        todo.extend(children.get(p, []))
    return sorted(out)


def fd_usage(pids) -> str:
    """'N of M descriptors' for the server process holding the most descriptors."""
    best = None
    for pid in pids:
        try:
            n = len(os.listdir(f"/proc/{pid}/fd"))
            with open(f"/proc/{pid}/limits") as f:
                lim = next((line.split()[3] for line in f
                            if line.startswith("Max open files")), "?")
        except (OSError, StopIteration, IndexError):
            continue
        if best is None or n > best[1]:
            best = (pid, n, lim)
    if best is None:
        return ""
    return f"server process {best[0]} holds {best[1]} descriptors, its limit is {best[2]}"


def mem_available_kib() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def tasks_now() -> int:
    """Processes and threads on the machine now (each takes a pid)."""
    with open("/proc/loadavg") as f:
        return int(f.read().split()[3].split("/")[1])


def tasks_max() -> int:
    limits = []
    for name in ("/proc/sys/kernel/pid_max", "/proc/sys/kernel/threads-max"):
        try:
            with open(name) as f:
                limits.append(int(f.read()))
        except (OSError, ValueError):
            pass
    return min(limits) if limits else 1 << 22


def read_reply(sock_file) -> tuple[int, str]:
    """(code, last line) of one reply."""
    line = sock_file.readline()
    if not line:
        raise RuntimeError("connection closed")
    code = line[:3]
    if line[3:4] == b"-":
        while True:
            line = sock_file.readline()
            if line[:4] == code + b" " or not line:
                break
    try:
        return int(code), line.decode(errors="replace").strip()
    except ValueError:
        raise RuntimeError(f"bad reply {line!r}") from None


def open_session(host, port, user, password, ctx, deadline):
    s = socket.create_connection((host, port), timeout=max(1.0, min(60.0, deadline - time.monotonic())))
    try:
        f = s.makefile("rb")
        code, text = read_reply(f)
        if code != 220:
            raise RuntimeError(f"greeting: {text}")
        s.sendall(b"AUTH TLS\r\n")
        code, text = read_reply(f)
        if code != 234:
            raise RuntimeError(f"AUTH TLS -> {text}")
        t = ctx.wrap_socket(s, server_hostname=host)
    except BaseException:
        s.close()
        raise
    try:
        tf = t.makefile("rb")
        for cmd, want in ((f"USER {user}", 331), (f"PASS {password}", 230), ("PBSZ 0", 200),
                          ("PROT P", 200)):
            t.sendall(cmd.encode() + b"\r\n")
            got, text = read_reply(tf)
            if got != want:
                raise RuntimeError(f"{cmd.split()[0]} -> {text}")
    except BaseException:
        t.close()
        raise
    return t


def raise_nofile(n: int) -> None:
    """Lets this process (and what it starts later) hold n descriptors; root may raise the hard
    limit up to fs.nr_open."""
    try:
        with open("/proc/sys/fs/nr_open") as f:
            n = min(n, int(f.read()))
    except (OSError, ValueError):
        pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= n:
        return
    if hard < n and os.geteuid() == 0:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (n, n))
            return
        except (ValueError, OSError):
            pass
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n), hard))


def lost_sessions(sessions) -> int:
    """Sessions the server has spoken on or closed while they were idle (a 421 on an idle
    timeout, or EOF); TLS records that carry no data (a late session ticket) do not count."""
    poller = select.poll()
    by_fd = {}
    lost = 0
    for t in sessions:
        fd = t.fileno()
        if fd < 0:
            lost += 1
            continue
        by_fd[fd] = t
        poller.register(fd, select.POLLIN | select.POLLPRI)
    for fd, _ in poller.poll(0):
        t = by_fd[fd]
        timeout = t.gettimeout()
        t.setblocking(False)
        try:
            t.recv(1)  # data or b"" (EOF): the session is not idle any more
            lost += 1
        except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
            pass
        except OSError:
            lost += 1
        finally:
            try:
                t.settimeout(timeout)
            except OSError:
                pass
    return lost


def measure(pids_fn, host, port, user, password, counts, *, timeout=600.0, parallel=4,
            reserve_kib=4 * 1024 * 1024, client_kib_per_session=64, reserve_tasks=4096,
            idle_timeout=600.0, log=None):
    """Opens sessions up to each count in turn and measures the server's memory.

    pids_fn() returns the server's processes now. Returns one dict per count: sessions,
    pss_kib (total), pss_per_session_kib, rss_per_session_kib, processes, open_seconds; or
    sessions and skipped (why: "not attempted: ..." or what failed).

    A step is attempted only if the last step says the machine can hold it: its memory per
    session leaves reserve_kib free, its processes per session (a forking server needs one to
    three) leave reserve_tasks pids (kernel.pid_max is often 32,768), and at its rate of new
    sessions the oldest session would still be well within idle_timeout (the server's idle
    limit, seconds) when the step is complete. A step fails if sessions cannot be opened, if
    opening runs into 90% of idle_timeout, or if the server closed any idle session. Every
    session is closed before returning. Bounded by timeout seconds in all."""
    counts = sorted(counts)
    raise_nofile(counts[-1] * 2 + 1024)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    base_pids = pids_fn()
    base_pss, base_rss = memory_kib(base_pids)
    task_limit = tasks_max() - reserve_tasks
    sessions: list = []
    lock = threading.Lock()
    results = []
    stop_reason = None
    first_open = None
    try:
        for n in counts:
            if stop_reason:
                results.append({"sessions": n, "skipped": stop_reason})
                continue
            if results and "pss_per_session_kib" in results[-1]:
                # Attempt the step only if the machine can hold it (no swap here: an OOM kill
                # would take the whole benchmark, or someone else's work, with it).
                # PSS, not RSS: the RSS of forked processes counts their shared pages each time.
                last = results[-1]
                per = max(last["pss_per_session_kib"], 1.0)
                more = n - len(sessions)
                need = more * (per + client_kib_per_session)
                avail = mem_available_kib() - reserve_kib
                procs = (last["processes"] - len(base_pids)) / last["sessions"]
                need_tasks = int(more * procs)
                rate = last["opened"] / max(last["open_seconds"], 1e-3)
                # Twice the linear estimate: a server's cost per new session grows with the
                # sessions it holds (process tables, scoreboards).
                age = time.monotonic() - first_open + 2 * more / rate
                if need > avail:
                    stop_reason = (f"not attempted: ~{need / 1048576:.1f} GiB more needed "
                                   f"({per:.0f} KiB/session), {max(avail, 0) / 1048576:.1f} GiB "
                                   f"available above a {reserve_kib / 1048576:.0f} GiB reserve")
                elif tasks_now() + need_tasks > task_limit:
                    stop_reason = (f"not attempted: {procs:.0f} server processes per session, "
                                   f"~{tasks_now() + need_tasks:,} tasks in all; the kernel allows "
                                   f"{tasks_max():,} (kernel.pid_max) and {reserve_tasks:,} are "
                                   f"kept for the rest of the machine")
                elif age > 0.75 * idle_timeout:
                    stop_reason = (f"not attempted: the server took {last['open_seconds']:.0f} s "
                                   f"for its last {last['opened']:,} sessions ({rate:.0f}/s); "
                                   f"{more:,} more would take ~{2 * more / rate:.0f} s or longer, "
                                   f"so its first sessions would near its {idle_timeout:.0f} s "
                                   f"idle limit before the step is complete")
                if stop_reason:
                    results.append({"sessions": n, "skipped": stop_reason})
                    continue
            failure: list[str] = []
            step_start = time.monotonic()
            if first_open is None:
                first_open = step_start

            def one(_):
                if failure:
                    return
                now = time.monotonic()
                if now > deadline:
                    failure.append(f"timed out after {timeout:.0f} s")
                    return
                if now - first_open > 0.9 * idle_timeout:
                    failure.append(f"after {now - first_open:.0f} s only {len(sessions):,} sessions "
                                   f"were open: the first would reach the server's "
                                   f"{idle_timeout:.0f} s idle limit")
                    return
                if mem_available_kib() < reserve_kib:
                    failure.append("stopped: free memory fell below the reserve")
                    return
                if tasks_now() > task_limit:
                    failure.append("stopped: the machine's pids (kernel.pid_max) ran low")
                    return
                try:
                    t = open_session(host, port, user, password, ctx, deadline)
                except Exception as exc:  # noqa: BLE001 - reported as the step's result
                    with lock:
                        failure.append(f"session {len(sessions) + 1} failed: {exc!r}")
                    return
                with lock:
                    sessions.append(t)

            todo = n - len(sessions)
            with ThreadPoolExecutor(max_workers=max(1, parallel)) as pool:
                list(pool.map(one, range(todo)))
            open_seconds = time.monotonic() - step_start
            if not failure:
                time.sleep(1.0)  # let the server finish the last replies
                lost = lost_sessions(sessions)
                if lost:
                    failure.append(f"the server closed or spoke on {lost:,} of {len(sessions):,} "
                                   f"idle sessions (idle limit?) within "
                                   f"{time.monotonic() - first_open:.0f} s")
            if failure:
                fds = fd_usage(pids_fn())
                stop_reason = failure[0] + (f" ({fds})" if fds else "")
                results.append({"sessions": n, "skipped": stop_reason})
                if log:
                    log(f"  {n} sessions: {stop_reason}")
                continue
            pss, rss = memory_kib(pids_fn())
            r = {"sessions": n, "pss_kib": pss, "pss_per_session_kib": (pss - base_pss) / n,
                 "rss_per_session_kib": (rss - base_rss) / n, "processes": len(pids_fn()),
                 "opened": todo, "open_seconds": open_seconds}
            results.append(r)
            if log:
                log(f"  {n} sessions: {r['pss_per_session_kib']:.1f} KiB PSS each "
                    f"({r['processes']} server processes; {todo} opened in {open_seconds:.0f} s)")
    finally:
        for s in sessions:
            try:
                s.close()
            except OSError:
                pass
    return results


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pid", type=int, action="append", required=True)
    ap.add_argument("--tree", action="store_true", help="add each --pid's descendants")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--user", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--count", type=int, action="append")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--reserve-mib", type=int, default=4096)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--idle-timeout", type=float, default=600,
                    help="the server's idle limit in seconds (default 600)")
    a = ap.parse_args()
    counts = sorted(a.count or [100, 1000])

    def pids():
        return tree_pids(a.pid) if a.tree else a.pid

    print("sessions  server_pss_kib  pss_per_session_kib  rss_per_session_kib")
    for r in measure(pids, a.host, a.port, a.user, a.password, counts, timeout=a.timeout,
                     parallel=a.parallel, reserve_kib=a.reserve_mib * 1024,
                     idle_timeout=a.idle_timeout):
        if "skipped" in r:
            print(f"{r['sessions']:8d}  skipped: {r['skipped']}", flush=True)
        else:
            print(f"{r['sessions']:8d}  {r['pss_kib']:14d}  {r['pss_per_session_kib']:19.2f}  "
                  f"{r['rss_per_session_kib']:19.1f}", flush=True)


if __name__ == "__main__":
    main()

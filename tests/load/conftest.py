"""Fixtures for the load tests (issue 12): the interop tests' own, loaded from
tests/interop/conftest.py (ferryd launcher, certificates, sanitizer-report checks), plus
what only load needs: more users, more client addresses, the server's RSS and descriptors.

The load tests run one at a time (CTest RUN_SERIAL): each measures the whole machine.
"""

from __future__ import annotations

import importlib.util
import os
import resource
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
INTEROP = HERE.parent / "interop"
sys.path.insert(0, str(INTEROP))  # ftpwire, and peers through the interop conftest

_spec = importlib.util.spec_from_file_location("ferry_interop_conftest", INTEROP / "conftest.py")
_interop = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _interop
_spec.loader.exec_module(_interop)
# Fixtures and hooks are found by name in this module.
globals().update({k: v for k, v in vars(_interop).items() if not k.startswith("__")})

import pytest  # noqa: E402

LOAD_DIR = Path(__file__).resolve().parent  # (HERE above is now the interop folder's)


def client_address(i: int) -> str:
    """The i-th extra loopback client address, 127.0.0.2 upwards (all of 127/8 is local)."""
    return f"127.0.{2 + i // 250}.{2 + i % 250}" if i >= 250 else f"127.0.0.{2 + i}"


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError(f"no VmRSS for {pid}")


def descriptors(pid: int) -> tuple[int, int]:
    """(connections, others) among pid's open descriptors: TCP sockets in any state but LISTEN,
    and everything else (listeners, files, epoll, eventfds, the log). A server at rest has no
    connections, and the others are its idle count, which a connection just closed by a client
    (the ready-probe's, say) does not disturb."""
    tcp_state = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for row in f:
                cols = row.split()
                tcp_state[cols[9]] = cols[3]  # inode -> state (0A: LISTEN)
    connections = others = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            continue  # closed meanwhile
        if target.startswith("socket:[") and tcp_state.get(target[8:-1], "0A") != "0A":
            connections += 1
        else:
            others += 1
    return connections, others


def raise_fd_limit(want: int) -> None:
    """This process opens thousands of sockets; the servers it starts inherit the limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            pytest.fail(f"the load tests need {want} descriptors; the hard limit is {hard}",
                        pytrace=False)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def figure(name: str, **values) -> None:
    """One line of figures for the README's Reliability section; CTest shows it (pytest -s)."""
    print(f"\nFIGURE {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()), flush=True)


@pytest.fixture(scope="module")
def many_users(tmp_path_factory, pki):
    """A USERS file with 20 users (user00..user19, the interop password), each with a home."""
    root = tmp_path_factory.mktemp("users")
    users = {}
    lines = []
    for n in range(20):
        name = f"user{n:02d}"
        home = root / name
        home.mkdir()
        users[name] = home
        lines.append(f"{name}:{pki['hash']}:{home}\n")
    path = root / "users"
    path.write_text("".join(lines))
    return path, users

"""pytest fixtures for the firewall-traversal scenarios (tests/netns): see fwlab.py."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path

import pytest

import fwlab
import netlab
from fwlab import (PASSWORD, SERVER_PRIVATE, SERVER_PUBLIC, _tool, build_net, client_firewall,
                   server_firewall)

_lab_numbers = itertools.count(1)

# --------------------------------------------------------------------------
# Session-wide checks and material


def pytest_sessionstart(session):
    if os.geteuid() == 0:
        netlab.clean_stale()


@pytest.fixture(scope="session", autouse=True)
def _requirements():
    if os.geteuid() != 0:
        pytest.fail("the firewall scenarios need root (network namespaces, nftables)", pytrace=False)
    for t in ("ip", "nft", "tcpdump", "curl", "lftp", "openssl"):
        _tool(t)
    yield
    netlab.clean_stale()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    openssl = _tool("openssl")
    subprocess.run([openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=ferry-netns",
                    "-addext", f"subjectAltName=IP:{SERVER_PUBLIC},IP:{SERVER_PRIVATE}",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    (d / "server.pem").write_bytes((d / "cert.pem").read_bytes() + (d / "key.pem").read_bytes())
    (d / "server.pem").chmod(0o600)
    hashed = subprocess.run([openssl, "passwd", "-6", PASSWORD], check=True, capture_output=True,
                            timeout=60).stdout.decode().strip()
    return {"pem": d / "server.pem", "hash": hashed}


@pytest.fixture(scope="session")
def payload(tmp_path_factory) -> Path:
    """2 MiB of random bytes: large enough for many data segments, quick to move."""
    p = tmp_path_factory.mktemp("payload") / "random.bin"
    p.write_bytes(os.urandom(2 * 1024 * 1024))
    return p


@pytest.fixture
def lab(tmp_path, request):
    lab = netlab.Lab(tmp_path / "lab", prefix=f"fy{os.getpid()}-{next(_lab_numbers)}-")
    yield lab
    problems = lab.close()
    if problems:
        pytest.fail("teardown: " + "; ".join(problems), pytrace=False)


@pytest.fixture
def net_factory(lab, pki, tmp_path):
    """net_factory(server_fw=..., client_nat=...) -> Net; everything is torn down by `lab`."""
    nets = []

    def make(**kw) -> "fwlab.Net":
        n = build_net(lab, pki, tmp_path, **kw)
        nets.append(n)
        return n

    yield make
    for n in nets:
        if n.server and not n.server.proc.alive:
            pytest.fail(f"ferryd died during the test (exit {n.server.proc.popen.returncode}); "
                        f"log:\n{n.server.log[-8000:]}", pytrace=False)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and "lab" in item.funcargs:
        lab = item.funcargs["lab"]
        for proc in lab.procs:
            if "ferryd" in proc.log_path.name:
                rep.sections.append((f"ferryd log ({proc.log_path})", proc.log[-12000:]))
        for short in ("fc", "fs"):
            ns = lab.ns(short)
            if ns in lab.namespaces:
                try:
                    rep.sections.append((f"nft ruleset {ns}", lab.nft_list(short)))
                except netlab.LabError:
                    pass


# --------------------------------------------------------------------------
# The scenarios' networks (each test gets its own; see fwlab.py for the addresses).
# Scenario 6 is scenario 5's network seen by a client that does not know the firewalls.


@pytest.fixture
def s1(net_factory):
    net = net_factory(server_fw=False)
    net.lab.nft("fc", client_firewall(nat=True, filtering="none"))
    net.start_server()
    return net


@pytest.fixture
def s2(net_factory):
    net = net_factory(server_fw=True)
    net.lab.nft("fc", client_firewall(nat=True, filtering="none"))
    net.lab.nft("fs", server_firewall(filtering="none"))
    return net


@pytest.fixture
def s3(net_factory):
    net = net_factory(server_fw=False)
    net.lab.nft("fc", client_firewall(nat=True, filtering="static"))
    return net


@pytest.fixture
def s4(net_factory):
    net = net_factory(server_fw=True)
    net.lab.nft("fc", client_firewall(nat=True, filtering="static"))
    net.lab.nft("fs", server_firewall(filtering="static"))
    return net


@pytest.fixture
def s5(net_factory):
    net = net_factory(server_fw=True)
    net.lab.nft("fc", client_firewall(nat=True, filtering="dynamic"))
    # No published passive range: only the helper can open (and NAT) data connections.
    net.lab.nft("fs", server_firewall(filtering="dynamic", publish_range=False))
    net.start_server("TLSRFCLEVEL RFC4217")
    return net


@pytest.fixture
def s7(net_factory):
    net = net_factory(server_fw=False, client_nat=False)  # routed: PORT names a reachable address
    net.lab.nft("fc", client_firewall(nat=False, filtering="noactive"))
    net.start_server()
    return net

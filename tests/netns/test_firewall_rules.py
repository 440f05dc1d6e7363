"""The administrator's path: `ferryd --config FILE firewall-rules` prints the nftables rules
a firewall needs; loaded into a firewall, they make scenario 3 (static filter) work.

Two ways an administrator uses them, both tested:
  * router: the printed accept rules (control port, PASSIVEDATAPORTS) become the forward
    filter of the client's NAT firewall (default drop, established/related accepted);
  * host:   the printed table is loaded as it is on the server host, the administrator
    adding the usual base (established/related, loopback, then drop).
"""

from __future__ import annotations

import re
import subprocess

import pytest

from fwlab import (OUTSIDE_PORT, PASV_HI, PASV_LO, SERVER_PUBLIC, client_firewall, ferryd_path,
                   ports_used, roundtrip)

RANGE = f"PASSIVEDATAPORTS {PASV_LO} {PASV_HI}"


def firewall_rules(config) -> str:
    p = subprocess.run([ferryd_path(), "--config", str(config), "firewall-rules"],
                       capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr.decode()
    return p.stdout.decode()


def nft_part(text: str) -> str:
    """The nftables table of the output (up to the iptables section)."""
    m = re.search(r"^table inet \w+ \{\n.*?^\}\n", text, re.M | re.S)
    assert m, f"no nftables table in the output:\n{text}"
    return m.group(0)


def input_accept_rules(table: str) -> list[str]:
    m = re.search(r"chain input \{\n(.*?)\n  \}", table, re.S)
    assert m, table
    rules = [line.strip() for line in m.group(1).splitlines()]
    return [r for r in rules if " accept" in r and not r.startswith("type ")]


@pytest.mark.parametrize("where", ["router", "host"])
def test_firewall_rules_make_scenario_3_work(net_factory, payload, where):
    net = net_factory(server_fw=False)
    srv = net.start_server(RANGE)
    text = firewall_rules(srv.config)
    table = nft_part(text)
    rules = input_accept_rules(table)
    # What the output must say for this config: the control port and the passive range.
    assert any(re.search(r"tcp dport \{ 21 \}", r) for r in rules), text
    assert any(f"tcp dport {PASV_LO}-{PASV_HI}" in r for r in rules), text
    assert f"iptables -A INPUT -p tcp --dport {PASV_LO}:{PASV_HI}" in text, text

    if where == "router":
        net.lab.nft("fc", client_firewall(nat=True, filtering="none"))
        forward = "\n".join(f'    iifname "lan" oifname "wan" {r}' for r in rules)
        net.lab.nft("fc", f"""table inet fyadmin {{
  chain forward {{
    type filter hook forward priority filter; policy drop;
    ct state established,related accept
{forward}
    counter drop comment "fy-drop"
  }}
}}
""")
        fw = "fc"
    else:
        net.lab.nft("fc", client_firewall(nat=True, filtering="none"))
        net.lab.nft("s", table)  # verbatim
        net.lab.nft("s", """add rule inet ferryd input ct state established,related accept
add rule inet ferryd input iif "lo" accept
add rule inet ferryd input counter drop comment "fy-drop"
""")
        fw = "s"

    # The filter is real: a port the rules do not name is dropped, not refused.
    before = net.lab.counter(fw, "fy-drop")
    assert net.lab.probe("c", SERVER_PUBLIC, OUTSIDE_PORT) == "timeout"
    assert net.lab.counter(fw, "fy-drop") > before
    for method in ("pasv", "epsv"):
        t = roundtrip(net, "curl", method, payload)
        ports = [p for r in t.results for p in ports_used(r)]
        assert ports and all(PASV_LO <= p <= PASV_HI for p in ports), t
    roundtrip(net, "lftp", "epsv", payload)


def test_firewall_rules_without_passivedataports_say_so(net_factory):
    """Without PASSIVEDATAPORTS the rules must open the kernel's whole ephemeral range and
    tell the administrator to set a range instead."""
    net = net_factory(server_fw=False)
    srv = net.start_server()
    text = firewall_rules(srv.config)
    assert "tcp dport 32768-60999" in nft_part(text), text
    assert "PASSIVEDATAPORTS" in text, text

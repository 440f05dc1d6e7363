"""The firewall seed's scenarios with the Ferry client (`ferry`, $FERRY) against ferryd.

Same networks as test_scenarios.py (fixtures s1..s7 in conftest.py). Ferry differs from
the classic clients in one deliberate way: a PASV reply naming an address other than the
server's is reported and replaced by the server's address (PASSIVEIGNOREADDR is in effect
a fallback), so the seed's "plain PASV fails" cases become "works, with a warning that
names the private address and the fix".
"""

from __future__ import annotations

import re

import pytest

from fwlab import (CLIENT, OUTSIDE_PORT, PASV_HI, PASV_LO, SERVER_PRIVATE, SERVER_PUBLIC,
                   assert_blocked_by, assert_both_filters_present, assert_client_is_natted,
                   assert_server_is_hidden, assert_static_filter_present, attempt,
                   control_was_fine, pasv_targets, ports_used, roundtrip, sent)

RANGE = f"PASSIVEDATAPORTS {PASV_LO} {PASV_HI}"


def private_address_warning(res) -> bool:
    return bool(re.search(rf"warning: .*PASV reply names .*{re.escape(SERVER_PRIVATE)}", res.err))


# Scenario 1 ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["pasv", "epsv"])
def test_ferry_s1_client_nat_passive_works(s1, method, payload):
    t = roundtrip(s1, "ferry", method, payload)
    assert not any(private_address_warning(r) for r in t.results), t
    assert_client_is_natted(s1)


# Scenario 2 ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["epsv", "pasv-ignore"])
def test_ferry_s2_both_nat_epsv_and_ignore_address_work(s2, method, payload):
    s2.start_server(RANGE)
    t = roundtrip(s2, "ferry", method, payload)
    assert all(PASV_LO <= p <= PASV_HI for r in t.results for p in ports_used(r)), t
    assert_client_is_natted(s2)
    assert_server_is_hidden(s2)


def test_ferry_s2_plain_pasv_private_address_is_reported_and_replaced(s2, payload):
    """The reply names 10.2.0.2 (server behind NAT without PASSIVEADDRESS): the classic
    clients fail (test_scenarios); ferry says why and connects to the server's address."""
    s2.start_server(RANGE)
    t = roundtrip(s2, "ferry", "pasv", payload)
    for r in t.results:
        assert {a for a, _ in pasv_targets(r)} == {SERVER_PRIVATE}, r
        assert private_address_warning(r), f"ferry should say the PASV address is unusable:\n{r}"
        assert "PASSIVEADDRESS" in r.err, f"the warning should name the server-side fix:\n{r}"


def test_ferry_s2_plain_pasv_with_passiveaddress(s2, payload):
    s2.start_server(RANGE, f"PASSIVEADDRESS {SERVER_PUBLIC}")
    t = roundtrip(s2, "ferry", "pasv", payload)
    for r in t.results:
        assert {a for a, _ in pasv_targets(r)} == {SERVER_PUBLIC}, r
        assert not private_address_warning(r), r


# Scenario 3 ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["pasv", "epsv"])
def test_ferry_s3_static_filter_passive_range_works(s3, method, payload):
    s3.start_server(RANGE)
    assert_static_filter_present(s3)
    t = roundtrip(s3, "ferry", method, payload)
    assert all(PASV_LO <= p <= PASV_HI for r in t.results for p in ports_used(r)), t


@pytest.mark.parametrize("method", ["pasv", "epsv"])
def test_ferry_s3_without_passivedataports_data_is_blocked(s3, method, payload):
    s3.start_server()
    before = s3.lab.counter("fc", "fy-drop")
    res = attempt(s3, "ferry", method, payload)
    ports = ports_used(res)
    assert ports and all(not PASV_LO <= p <= PASV_HI for p in ports), res
    assert_blocked_by(s3, "fc", before, res)


# Scenario 4 ---------------------------------------------------------------------------

def test_ferry_s4_both_static_epsv_works(s4, payload):
    s4.start_server(RANGE)
    assert_both_filters_present(s4)
    t = roundtrip(s4, "ferry", "epsv", payload)
    assert all(PASV_LO <= p <= PASV_HI for r in t.results for p in ports_used(r)), t


def test_ferry_s4_plain_pasv_private_address_is_reported_and_replaced(s4, payload):
    s4.start_server(RANGE)
    t = roundtrip(s4, "ferry", "pasv", payload)
    assert all(private_address_warning(r) for r in t.results), t


def test_ferry_s4_ports_outside_the_permitted_range_are_blocked(s4, payload):
    s4.start_server(f"PASSIVEDATAPORTS {OUTSIDE_PORT} {OUTSIDE_PORT + 4}")
    before = s4.lab.counter("fc", "fy-drop")
    res = attempt(s4, "ferry", "epsv", payload)
    assert_blocked_by(s4, "fc", before, res)


# Scenario 5 ---------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["pasv", "epsv"])
def test_ferry_s5_dynamic_filter_blocks_tls_passive(s5, method, payload):
    before = s5.lab.counter("fc", "fy-drop")
    res = attempt(s5, "ferry", method, payload)
    assert_blocked_by(s5, "fc", before, res)
    assert s5.lab.counter("fc", "fy-rel") == 0 and s5.lab.counter("fs", "fy-rel") == 0


@pytest.mark.parametrize("method", ["pasv", "epsv"])
def test_ferry_s5_ccc_makes_it_work_and_data_stays_encrypted(s5, method, payload):
    wan = s5.lab.capture("fc", "wan")
    try:
        t = roundtrip(s5, "ferry", method, payload, ccc=True)
    finally:
        wan_bytes = wan.stop()
    for fw in ("fc", "fs"):
        assert s5.lab.counter(fw, "fy-rel") >= 2, f"{fw}: the helper opened no pinhole"
    if method == "pasv":
        assert b"227 Entering Passive Mode (198,51,100,2," in wan_bytes
        # The firewall rewrote the address: no warning about a private address.
        assert not any(private_address_warning(r) for r in t.results), t
    else:
        assert b"229 Entering Extended Passive Mode (|||" in wan_bytes
    data = payload.read_bytes()
    for off in range(0, len(data) - 32, len(data) // 64):
        assert data[off:off + 32] not in wan_bytes, f"file bytes at {off} crossed in clear"


# Scenario 6 ---------------------------------------------------------------------------

def test_ferry_s6_probe_finds_ccc(s5):
    """Unknown firewalls (scenario 5's network): `ferry probe` tries each method with short
    timeouts, finds that only CCC gets through and recommends it."""
    res = s5.ferry("probe", s5.url(""), timeout=150)
    out = res.out.decode(errors="replace")
    assert res.rc == 0, f"probe should succeed when a method works:\n{res}"

    def verdict(label: str) -> str:
        m = re.search(rf"^\s*{re.escape(label)}\s+(works|FAILS)\b", out, re.M)
        assert m, f"probe printed no line for {label!r}:\n{out}"
        return m.group(1)

    for label in ("EPSV", "PASV", "PASV + PASSIVEIGNOREADDR"):
        assert verdict(label) == "FAILS", f"{label} cannot pass the dynamic filter:\n{out}"
    assert "works" in (verdict("CCC, then EPSV"), verdict("CCC, then PASV")), out
    rec = out.split("Recommended settings:", 1)[-1]
    assert "TLSRFCLEVEL" in rec or "--ccc" in rec or "CCC" in rec, f"CCC not recommended:\n{out}"
    assert res.seconds < 120, res


def test_ferry_s6_probe_recommends_epsv_for_nat(s2):
    """The same doctor on scenario 2's network (NAT only) recommends EPSV."""
    s2.start_server(RANGE)
    res = s2.ferry("probe", s2.url(""), timeout=150)
    out = res.out.decode(errors="replace")
    assert res.rc == 0, res
    assert re.search(r"^\s*EPSV\s+works", out, re.M), out
    assert re.search(r"^\s*PASV\s+FAILS", out, re.M), out
    assert "EPSV4 TRUE" in out.split("Recommended settings:", 1)[-1], out


# Scenario 7 ---------------------------------------------------------------------------

def test_ferry_s7_active_fails_with_a_clear_error(s7, payload):
    before = s7.lab.counter("fc", "fy-drop")
    res = attempt(s7, "ferry", "active", payload)
    control_was_fine(res)
    assert res.rc != 0, res
    assert sent(res, "PORT") and all(p.startswith(f"PORT {CLIENT.replace('.', ',')},")
                                     for p in sent(res, "PORT")), res
    assert s7.lab.counter("fc", "fy-drop") > before, "the firewall dropped nothing"
    msg = res.err.lower()
    assert "active" in msg and "passive" in msg, f"ferry should name active mode and the fix:\n{res}"
    assert res.seconds < 30, f"not a clear, prompt error (took {res.seconds:.0f}s):\n{res}"


@pytest.mark.parametrize("method", ["pasv", "epsv"])
def test_ferry_s7_passive_works(s7, method, payload):
    roundtrip(s7, "ferry", method, payload)
    assert s7.lab.counter("fc", "fy-drop") == 0


def test_ferry_s7_active_works_once_the_rule_is_gone(s7, payload):
    s7.lab.nft_flush("fc")
    roundtrip(s7, "ferry", "active", payload)
    roundtrip(s7, "ferry", "eprt", payload)

"""`ferry get --segments N` (issue 16) against ferryd and the peers.

Where the server offers RANG (ferryd, ProFTPD) the file arrives in N ranges over N logged-in
sessions, each range asked for with its own RANG (ferry -v shows them), and the bytes are the
file's; where it does not, ferry says so and fetches it as one stream. No temporary file is left
either way, and a failed segmented download leaves the file that was there. A server that answers
RANG but sends other bytes (ProFTPD 1.3.8) is noticed, and the file is fetched as one stream.
"""
from __future__ import annotations

import hashlib
import os
import re

import pytest

from test_client_peers import (  # noqa: F401  (fixtures)
    MIB, explain, ferry, ferry_bin, peer_workdir, server)

SIZE = 5 * MIB + 12345  # four ranges of at least 1 MiB, not a multiple of anything


@pytest.fixture(scope="module")
def payload() -> bytes:
    return os.urandom(SIZE)


def test_segments_from_each_server(server, ferry, payload, tmp_path):
    (server.home / "seg.bin").write_bytes(payload)
    server.chown_home()
    dst = tmp_path / "seg.bin"
    r = ferry("--insecure", "-v", "get", "--segments", "4", server.url("seg.bin"), dst, target=server)
    assert r.rc == 0, "get --segments failed" + explain(server, r)
    assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(payload).digest(), \
        "the segmented download differs from the file" + explain(server, r)
    assert not list(tmp_path.glob("*.ferry-*")), "a temporary file was left"
    ranges = re.findall(r"^>>> RANG (\d+) (\d+)$", r.err, re.M)
    if ranges:
        spans = sorted((int(a), int(b)) for a, b in ranges)
        assert len(spans) == 4, spans
        assert spans[0][0] == 0 and spans[-1][1] == SIZE - 1, spans
        assert all(spans[i + 1][0] == spans[i][1] + 1 for i in range(3)), spans
        assert len(re.findall(r"^>>> PASS", r.err, re.M)) == 4, "not one session per range" + explain(server, r)
        if server.kind == "ferryd":
            assert "did not send the byte ranges" not in r.err, r.err
        if server.kind == "proftpd":
            # ProFTPD 1.3.8 answers RANG with 350 but sends other bytes than it promised; ferry
            # notices (a range longer than asked) and fetches the file as one stream.
            assert "did not send the byte ranges" in r.err, r.err
    else:
        assert server.kind not in ("ferryd", "proftpd"), "no RANG sent to a server that has it" + explain(server, r)
        assert "One stream" in r.err, r.err


def test_segments_refused_by_the_server_keep_the_existing_file(server, ferry, tmp_path):
    if server.kind != "ferryd":
        pytest.skip("one server is enough for the failure path")
    dst = tmp_path / "keep.bin"
    dst.write_bytes(b"the file that was here")
    r = ferry("--insecure", "get", "--segments", "3", server.url("no-such-file.bin"), dst, target=server)
    assert r.rc != 0
    assert dst.read_bytes() == b"the file that was here"
    assert not list(tmp_path.glob("*.ferry-*"))


def test_bad_segment_counts_are_usage_errors(ferry, tmp_path):
    for n in ("0", "17", "two"):
        r = ferry("--insecure", "get", "--segments", n, "ftp://127.0.0.1:1/x", tmp_path / "x")
        assert r.rc == 2, r
        assert not (tmp_path / "x").exists()


def test_segments_verified_by_the_servers_hash(server, ferry, payload, tmp_path):
    if server.kind != "ferryd":
        pytest.skip("HASH: ferryd (the peers' HASH is tested in test_hash.py and test_mirror.py)")
    (server.home / "seg.bin").write_bytes(payload)
    dst = tmp_path / "seg.bin"
    r = ferry("--insecure", "-v", "get", "--segments", "3", "--verify", server.url("seg.bin"), dst, target=server)
    assert r.rc == 0, "get --segments --verify failed" + explain(server, r)
    assert ">>> HASH " in r.err and "matches the server's" in r.err, r.err
    assert hashlib.sha256(dst.read_bytes()).digest() == hashlib.sha256(payload).digest()

"""HASH (draft-bryan-ftpext-hash) with OPTS HASH and RANG, and the X* digest commands (issue 16).

What a client checking its transfers sees: the digest of the bytes on the server's disk in the
reply (compared with hashlib/zlib here), the algorithm chosen with OPTS HASH, byte ranges with
RANG (which RETR honours too), refusals with the right codes, HASHCOMMANDS FALSE switching it
all off, and the cache: a second HASH of an unchanged file is answered without reading it
(ferry_file_digests_total{source="cached"}), a changed one is read again.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import zlib

import pytest

from conftest import HOST, PASSWORD, USER
from ftpwire import RawControl, recv_all
from peers import free_port
from test_metrics import scrape

pytestmark = pytest.mark.ferryd_only("HASH and its cache are ferryd's own")

DATA = bytes((i * 31 + i // 7) % 256 for i in range(300_000))


@pytest.fixture(scope="module")
def hashing(ferryd_factory):
    """A ferryd with METRICS (to see the cache) and a file to hash; returns (server, metrics port)."""
    port = free_port()
    srv = ferryd_factory("hashing", overrides={"METRICS": f"{HOST} {port}"})
    (srv.home / "data.bin").write_bytes(DATA)
    (srv.home / "empty").write_bytes(b"")
    (srv.home / "folder").mkdir()
    (srv.home / "a 1 2").write_bytes(b"a file whose name ends in two numbers")
    (srv.outside / "secret").write_bytes(b"outside the home")
    return srv, port


def session(srv) -> RawControl:
    c = RawControl(srv.port)
    c.login_tls(USER, PASSWORD)
    return c


def said(r) -> str:
    """A one-line reply's text after its code."""
    assert len(r.lines) == 1, r
    return r.lines[0][4:]


def hash_reply(c: RawControl, name: str):
    """HASH name -> (algorithm, start, end, hex); the reply names the file as asked."""
    r = c.expect(f"HASH {name}", 213)
    algo, span, hexdigest, echoed = said(r).split(" ", 3)
    start, end = (int(x) for x in span.split("-"))
    assert echoed == name, r
    return algo, start, end, hexdigest


def test_feat_advertises_hash_with_the_current_algorithm_starred(hashing):
    srv, _ = hashing
    with session(srv) as c:
        feat = c.expect("FEAT", 211).text.splitlines()
        assert " HASH SHA-1;SHA-256*;SHA-512;MD5" in feat, feat
        assert " RANG STREAM" in feat, feat
        c.expect("OPTS HASH SHA-512", 200)
        feat = c.expect("FEAT", 211).text.splitlines()
        assert " HASH SHA-1;SHA-256;SHA-512*;MD5" in feat, feat


@pytest.mark.parametrize("algo,fn", [("SHA-256", hashlib.sha256), ("SHA-512", hashlib.sha512),
                                     ("SHA-1", hashlib.sha1), ("MD5", hashlib.md5)])
def test_hash_of_a_file_in_each_algorithm(hashing, algo, fn):
    srv, _ = hashing
    with session(srv) as c:
        assert said(c.expect(f"OPTS HASH {algo.lower()}", 200)) == algo
        assert said(c.expect("OPTS HASH", 200)) == algo
        assert hash_reply(c, "data.bin") == (algo, 0, len(DATA), fn(DATA).hexdigest())
        assert hash_reply(c, "empty") == (algo, 0, 0, fn(b"").hexdigest())


def test_opts_hash_refuses_an_unknown_algorithm_and_keeps_the_current_one(hashing):
    srv, _ = hashing
    with session(srv) as c:
        r = c.expect("OPTS HASH SHA-3", 501)
        assert "SHA-256" in said(r), r
        assert said(c.expect("OPTS HASH", 200)) == "SHA-256"


def test_rang_limits_hash_and_retr_and_is_used_once(hashing):
    srv, _ = hashing
    with session(srv) as c:
        c.expect("RANG 1000 1999", 350)
        assert hash_reply(c, "data.bin") == ("SHA-256", 1000, 2000, hashlib.sha256(DATA[1000:2000]).hexdigest())
        # The range was for that one command; the next HASH covers the whole file.
        assert hash_reply(c, "data.bin")[1:3] == (0, len(DATA))
        # A range past the end stops at the end of the file.
        c.expect(f"RANG {len(DATA) - 10} {len(DATA) + 500}", 350)
        assert hash_reply(c, "data.bin")[1:3] == (len(DATA) - 10, len(DATA))
        c.expect(f"RANG {len(DATA) + 1} {len(DATA) + 5}", 350)
        c.expect("HASH data.bin", 501)
        # RETR sends exactly the range (end inclusive).
        c.expect("TYPE I", 200)
        c.expect("RANG 5 104", 350)
        port = c.epsv_port()
        c.send("RETR data.bin")
        d = c.open_data(port, protect=True)
        assert c.reply().code in (125, 150)
        assert recv_all(d) == DATA[5:105]
        d.close()
        assert c.reply().code == 226
        # RANG 1 0 clears a range.
        c.expect("RANG 10 20", 350)
        c.expect("RANG 1 0", 350)
        assert hash_reply(c, "data.bin")[1:3] == (0, len(DATA))
        c.expect("RANG 20 10", 501)
        c.expect("RANG ten twenty", 501)


def test_an_upload_after_rang_is_refused_and_leaves_the_file(hashing):
    srv, _ = hashing
    with session(srv) as c:
        c.expect("TYPE I", 200)
        c.expect("RANG 0 9", 350)
        c.expect("STOR data.bin", 503)
    assert (srv.home / "data.bin").read_bytes() == DATA


@pytest.mark.parametrize("verb,digest", [
    ("XSHA256", lambda b: hashlib.sha256(b).hexdigest()),
    ("XSHA512", lambda b: hashlib.sha512(b).hexdigest()),
    ("XSHA1", lambda b: hashlib.sha1(b).hexdigest()),
    ("XMD5", lambda b: hashlib.md5(b).hexdigest()),
    ("XCRC", lambda b: f"{zlib.crc32(b):08x}"),
])
def test_the_x_commands_give_the_digest_of_a_file_or_a_range(hashing, verb, digest):
    srv, _ = hashing
    with session(srv) as c:
        assert said(c.expect(f"{verb} data.bin", 250)) == digest(DATA)
        # NAME START END: bytes [START, END).
        assert said(c.expect(f"{verb} data.bin 100 4196", 250)) == digest(DATA[100:4196])
        # A file whose name ends in two numbers is that file, not a range.
        assert said(c.expect(f"{verb} a 1 2", 250)) == digest((srv.home / "a 1 2").read_bytes())
        c.expect(f"{verb} data.bin 10 {len(DATA) + 1}", 501)


@pytest.mark.parametrize("command,code", [
    ("HASH missing", 550), ("HASH folder", 553), ("HASH ../outside/secret", 550),
    ("XSHA256 missing", 550), ("XMD5 folder", 550), ("XCRC ../../outside/secret", 550),
])
def test_digests_of_what_is_not_a_file_in_the_home_are_refused(hashing, command, code):
    srv, _ = hashing
    with session(srv) as c:
        c.expect(command, code)
        c.expect("NOOP", 200)


def test_digests_need_a_login(hashing):
    srv, _ = hashing
    with RawControl(srv.port) as c:
        c.starttls()
        c.expect("HASH data.bin", 530)
        c.expect("XSHA256 data.bin", 530)


def test_the_cache_answers_an_unchanged_file_and_rereads_a_changed_one(hashing):
    srv, port = hashing
    path = srv.home / "cached.bin"
    path.write_bytes(DATA)
    before = scrape(port)
    with session(srv) as c:
        c.expect("OPTS HASH MD5", 200)
        first = hash_reply(c, "cached.bin")
        second = hash_reply(c, "cached.bin")
        assert first == second == ("MD5", 0, len(DATA), hashlib.md5(DATA).hexdigest())
        mid = scrape(port)
        assert mid("ferry_file_digests_total", source="computed") == before("ferry_file_digests_total", source="computed") + 1
        assert mid("ferry_file_digests_total", source="cached") == before("ferry_file_digests_total", source="cached") + 1
        # New bytes, same size, the old modification time put back: read again, new digest.
        st = path.stat()
        changed = bytes(reversed(DATA))
        path.write_bytes(changed)
        os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
        assert hash_reply(c, "cached.bin") == ("MD5", 0, len(DATA), hashlib.md5(changed).hexdigest())
        after = scrape(port)
        assert after("ferry_file_digests_total", source="computed") == mid("ferry_file_digests_total", source="computed") + 1


def test_hashcommands_false_refuses_and_hides_them(ferryd_factory):
    srv = ferryd_factory("nohash", overrides={"HASHCOMMANDS": "FALSE"})
    (srv.home / "f").write_bytes(b"x")
    with session(srv) as c:
        feat = c.expect("FEAT", 211).text
        assert "HASH" not in feat and "XSHA" not in feat and "XCRC" not in feat, feat
        assert " RANG STREAM" in feat.splitlines(), feat  # RANG still limits RETR
        for command in ("HASH f", "XSHA256 f", "XCRC f", "OPTS HASH SHA-1"):
            c.expect(command, 502)


@pytest.fixture(scope="module")
def proftpd_digest(pki):
    """ProFTPD with mod_digest (its HASH, XSHA256, ... implementation) serving DATA as data.bin."""
    import peers
    workdir = peers.make_workdir("ferry-hash-proftpd-")  # one the peers' session user can enter
    home = workdir / "home"
    home.mkdir()
    (home / "data.bin").write_bytes(DATA)
    try:
        p = peers.start("proftpd", pki["cert"], pki["dir"] / "key.pem", home, USER, PASSWORD, 0, 0, 0, workdir,
                        extra=["LoadModule mod_digest.c", "DigestEngine on", "DigestAlgorithms all"])
    except peers.PeerError as exc:
        pytest.fail(f"proftpd did not start: {exc}", pytrace=False)
    yield p
    p.stop()
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.parametrize("algo", ["SHA-256", "SHA-512", "SHA-1", "MD5"])
def test_hash_replies_match_proftpd_mod_digest_word_for_word(hashing, proftpd_digest, algo):
    """The same file on ferryd and on ProFTPD (mod_digest): the same 213 reply, so a client
    written for one reads the other."""
    srv, _ = hashing
    lines = []
    for port in (srv.port, proftpd_digest.port):
        with RawControl(port) as c:
            c.login_tls(USER, PASSWORD)
            c.expect(f"OPTS HASH {algo}", 200)
            r = c.expect("HASH data.bin", 213)
            lines.append(r.lines[-1])
            # ProFTPD's X forms answer "250-Computing ..." then the hex; the last line is the digest.
            verb = {"SHA-256": "XSHA256", "SHA-512": "XSHA512", "SHA-1": "XSHA1", "MD5": "XMD5"}[algo]
            lines.append(c.expect(f"{verb} data.bin", 250).lines[-1][4:].lower())
    assert lines[0] == lines[2], lines
    assert lines[1] == lines[3], lines

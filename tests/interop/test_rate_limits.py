"""DOWNLOADRATE and UPLOADRATE (issue 14): a 1 MiB/s limit keeps a 5 MiB transfer between 4.5
and 5.5 s, for downloads in clear (sendfile) and under TLS and for uploads, with every byte
intact; listings are not limited, and a server without the statements does not pace at all."""

import io
import os
import time

import pytest

from ftpwire import RecordingFTP_TLS, sha256

MiB = 1024 * 1024
SIZE = 5 * MiB


@pytest.fixture(scope="module")
def limited(ferryd_factory):
    srv = ferryd_factory("limited", overrides={"DOWNLOADRATE": "1M", "UPLOADRATE": "1024K"})
    data = os.urandom(SIZE)
    (srv.home / "five.bin").write_bytes(data)
    for n in range(200):
        (srv.home / f"entry-{n:03d}.txt").write_text("x")
    return srv, data


def session(srv, prot="P"):
    return RecordingFTP_TLS(mode="epsv").connect_login(srv.port, srv.user, srv.password, prot)


def timed(f):
    start = time.monotonic()
    result = f()
    return result, time.monotonic() - start


@pytest.mark.parametrize("prot", ["P", "C"])  # C: the kernel's sendfile path
def test_a_download_keeps_to_downloadrate(limited, prot):
    srv, data = limited
    ftp = session(srv, prot)
    try:
        out = bytearray()
        resp, secs = timed(lambda: ftp.retrbinary("RETR five.bin", out.extend, blocksize=1 << 16))
        assert resp.startswith("226"), resp
    finally:
        ftp.quit()
    assert sha256(out) == sha256(data)
    assert 4.5 <= secs <= 5.5, f"5 MiB at 1 MiB/s took {secs:.2f} s"


def test_an_upload_keeps_to_uploadrate(limited):
    srv, data = limited
    ftp = session(srv)
    try:
        resp, secs = timed(lambda: ftp.storbinary("STOR up.bin", io.BytesIO(data), blocksize=1 << 16))
        assert resp.startswith("226"), resp
    finally:
        ftp.quit()
    assert sha256((srv.home / "up.bin").read_bytes()) == sha256(data)
    assert 4.5 <= secs <= 5.5, f"5 MiB at 1 MiB/s took {secs:.2f} s"


def test_listings_and_unlimited_servers_are_not_paced(limited, ferryd):
    srv, _ = limited
    ftp = session(srv)
    try:
        names, secs = timed(lambda: [n for n, _ in ftp.mlsd()])
        assert len(names) >= 200 and secs < 1.0, (len(names), secs)
    finally:
        ftp.quit()
    # The default server (no DOWNLOADRATE): the same 5 MiB in well under the limited time.
    (ferryd.home / "five.bin").write_bytes(os.urandom(SIZE))
    ftp = session(ferryd)
    try:
        out = bytearray()
        _, secs = timed(lambda: ftp.retrbinary("RETR five.bin", out.extend, blocksize=1 << 16))
    finally:
        ftp.quit()
    assert len(out) == SIZE and secs < 2.0, secs

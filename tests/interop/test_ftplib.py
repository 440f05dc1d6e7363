"""Interop with Python's ftplib.FTP_TLS (explicit AUTH TLS and implicit TLS)."""

import ftplib
import os
import ssl

import pytest

from ftpwire import (HOST, ImplicitFTP_TLS, RecordingFTP_TLS, ftp_fetch,
                     ftp_store, recv_all, sha256)

MiB = 1024 * 1024


def connect(srv, mode="pasv", prot="P") -> RecordingFTP_TLS:
    return RecordingFTP_TLS(mode=mode).connect_login(srv.port, srv.user, srv.password, prot)


@pytest.fixture
def ftp(ferryd):
    f = connect(ferryd)
    yield f
    try:
        f.quit()
    except (OSError, EOFError, ftplib.Error):
        f.close()


def roundtrip(ftp, srv, name, data):
    resp = ftp_store(ftp, name, data)
    assert resp.startswith("226"), resp
    on_disk = (srv.home / name).read_bytes()
    assert len(on_disk) == len(data)
    assert sha256(on_disk) == sha256(data), "uploaded file differs on disk"
    got = ftp_fetch(ftp, name)
    assert len(got) == len(data)
    assert sha256(got) == sha256(data), "downloaded file differs"


@pytest.mark.parametrize("mode", ["pasv", "epsv", "port", "eprt"])
def test_binary_10mib_roundtrip_prot_p(ferryd, big_file, mode):
    _, data = big_file
    f = connect(ferryd, mode=mode)
    try:
        assert isinstance(f.sock, ssl.SSLSocket)
        roundtrip(f, ferryd, f"big-{mode}.bin", data)
        verbs = f.verbs()
        assert "AUTH" in verbs and "PBSZ" in verbs and "PROT" in verbs
        assert verbs.count(mode.upper()) == 2, verbs  # one per transfer
        assert f.sent[f.verbs().index("PROT")] == "PROT P"
    finally:
        f.quit()


def test_binary_prot_c_clear_data(ferryd):
    data = os.urandom(2 * MiB + 17)
    f = connect(ferryd, prot="C")
    try:
        roundtrip(f, ferryd, "clear.bin", data)
        assert "PROT C" in f.sent
    finally:
        f.quit()


def test_implicit_tls_roundtrip(ferryd, big_file):
    _, data = big_file
    f = ImplicitFTP_TLS(mode="epsv")
    f.connect(HOST, ferryd.tls_port)
    try:
        assert f.welcome.startswith("220"), f.welcome
        assert isinstance(f.sock, ssl.SSLSocket)
        f.login(ferryd.user, ferryd.password)
        assert "AUTH" not in f.verbs(), "implicit TLS must not need AUTH TLS"
        f.prot_p()
        roundtrip(f, ferryd, "implicit.bin", data)
    finally:
        f.quit()


def ascii_payload() -> bytes:
    """About 1 MiB of text lines of varying length, LF-terminated (the on-disk form)."""
    lines = []
    size = 0
    i = 0
    while size < MiB:
        line = (f"line {i} " + "x" * (i * 7 % 201)).encode()
        lines.append(line)
        size += len(line) + 1
        i += 1
    return b"\n".join(lines) + b"\n\nlast line without end"


def test_ascii_upload_converts_crlf_to_lf(ftp, ferryd):
    text_lf = ascii_payload()
    wire = text_lf.replace(b"\n", b"\r\n")
    ftp.voidcmd("TYPE A")
    conn = ftp.transfercmd("STOR ascii-up.txt")
    conn.sendall(wire)
    conn.unwrap()
    conn.close()
    assert ftp.voidresp().startswith("226")
    on_disk = (ferryd.home / "ascii-up.txt").read_bytes()
    assert b"\r" not in on_disk, "TYPE A upload left CR bytes on disk"
    assert on_disk == text_lf


def test_ascii_download_converts_lf_to_crlf(ftp, ferryd):
    text_lf = ascii_payload()
    (ferryd.home / "ascii-down.txt").write_bytes(text_lf)
    ftp.voidcmd("TYPE A")
    conn = ftp.transfercmd("RETR ascii-down.txt")
    got = recv_all(conn)
    conn.unwrap()
    conn.close()
    assert ftp.voidresp().startswith("226")
    assert got == text_lf.replace(b"\n", b"\r\n")
    # and binary mode gives the bytes unchanged
    ftp.voidcmd("TYPE I")
    assert ftp_fetch(ftp, "ascii-down.txt") == text_lf


def test_listings_list_nlst_mlsd(ftp, ferryd):
    d = ferryd.home / "listing"
    d.mkdir()
    (d / "alpha.txt").write_bytes(b"a" * 10)
    (d / "beta.bin").write_bytes(b"b" * 12345)
    (d / "naïve café.txt").write_bytes(b"utf8")
    (d / "sub").mkdir()
    names = {"alpha.txt", "beta.bin", "naïve café.txt", "sub"}

    ftp.cwd("/listing")
    lines = []
    ftp.retrlines("LIST", lines.append)
    assert len(lines) == 4, lines
    for n in names:
        assert any(line.endswith(" " + n) for line in lines), (n, lines)
    assert [ln for ln in lines if ln.endswith(" sub")][0].startswith("d"), lines
    assert [ln for ln in lines if ln.endswith(" beta.bin")][0].startswith("-"), lines
    assert any(" 12345 " in ln for ln in lines if ln.endswith(" beta.bin")), lines

    nlst = [os.path.basename(n) for n in ftp.nlst()]
    assert set(nlst) == names, nlst

    facts = dict(ftp.mlsd("/listing", facts=["type", "size"]))
    assert set(facts) - {".", ".."} == names, facts
    assert facts["beta.bin"]["type"] == "file"
    assert facts["beta.bin"]["size"] == "12345"
    assert facts["sub"]["type"] == "dir"
    assert facts["naïve café.txt"]["size"] == "4"


def test_mkd_rmd_dele_rename(ftp, ferryd):
    resp = ftp.sendcmd("MKD newdir")
    assert resp.startswith("257") and '"/newdir"' in resp, resp
    assert (ferryd.home / "newdir").is_dir()
    ftp.cwd("newdir")
    assert ftp.pwd() == "/newdir"
    ftp_store(ftp, "f.txt", b"hello\n")
    assert (ferryd.home / "newdir" / "f.txt").read_bytes() == b"hello\n"

    assert ftp.sendcmd("RNFR f.txt").startswith("350")
    assert ftp.sendcmd("RNTO g.txt").startswith("250")
    assert not (ferryd.home / "newdir" / "f.txt").exists()
    assert (ferryd.home / "newdir" / "g.txt").read_bytes() == b"hello\n"

    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("RNFR does-not-exist")

    assert ftp.sendcmd("DELE g.txt").startswith("250")
    assert not (ferryd.home / "newdir" / "g.txt").exists()
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("DELE g.txt")

    ftp.cwd("/")
    assert ftp.sendcmd("RMD newdir").startswith("250")
    assert not (ferryd.home / "newdir").exists()
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("RMD newdir")


def test_size_and_mdtm(ftp, ferryd):
    p = ferryd.home / "stamped.bin"
    p.write_bytes(os.urandom(54321))
    stamp = 1614834367  # 2021-03-04 05:06:07 UTC
    os.utime(p, (stamp, stamp))
    ftp.voidcmd("TYPE I")
    assert ftp.sendcmd("SIZE stamped.bin") == "213 54321"
    assert ftp.size("stamped.bin") == 54321
    resp = ftp.sendcmd("MDTM stamped.bin")
    assert resp.startswith("213 20210304050607"), resp
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("SIZE missing.bin")
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.sendcmd("MDTM missing.bin")


def test_rest_resume_download(ftp, ferryd, big_file):
    _, data = big_file
    (ferryd.home / "resume.bin").write_bytes(data)
    offset = 3 * MiB + 123
    tail = ftp_fetch(ftp, "resume.bin", rest=offset)
    assert "REST 3145851" in ftp.sent
    assert len(tail) == len(data) - offset
    assert sha256(data[:offset] + tail) == sha256(data)


def test_wrong_password_is_refused_with_530(ferryd):
    f = RecordingFTP_TLS()
    f.connect(HOST, ferryd.port)
    try:
        with pytest.raises(ftplib.error_perm, match="^530"):
            f.login(ferryd.user, "wrong-" + ferryd.password)
        with pytest.raises(ftplib.error_perm, match="^530"):
            f.login("nobody", ferryd.password)
    finally:
        f.close()


def test_paths_outside_home_are_refused(ftp, ferryd):
    secret = (ferryd.outside / "secret.txt").read_bytes()
    host_passwd = open("/etc/passwd", "rb").read()
    os.symlink(ferryd.outside, ferryd.home / "link-out")
    os.symlink("/etc/passwd", ferryd.home / "passwd-link")

    for path in ["../outside/secret.txt", "/../outside/secret.txt",
                 "../../../../../../../../../../etc/passwd", "/etc/passwd",
                 "link-out/secret.txt", "passwd-link"]:
        got = bytearray()
        with pytest.raises(ftplib.error_perm, match="^550"):
            ftp.retrbinary(f"RETR {path}", got.extend)
        assert secret not in got and host_passwd not in got, path

    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.cwd("link-out")
    assert ftp.pwd() == "/"
    ftp.cwd("..")  # CDUP at the virtual root stays there (or is refused)
    assert ftp.pwd() == "/"

    with pytest.raises(ftplib.error_perm, match="^5"):
        ftp_store(ftp, "link-out/planted.txt", b"planted")
    assert not (ferryd.outside / "planted.txt").exists()
    with pytest.raises(ftplib.error_perm, match="^5"):
        ftp_store(ftp, "../outside/planted2.txt", b"planted")
    assert not (ferryd.outside / "planted2.txt").exists()

    lines = []
    try:
        ftp.retrlines("LIST link-out", lines.append)
    except ftplib.error_perm:
        pass
    assert not any("secret.txt" in ln for ln in lines), lines
    assert (ferryd.outside / "secret.txt").read_bytes() == secret

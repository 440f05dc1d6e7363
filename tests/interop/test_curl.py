"""Interop with curl: explicit FTPS (--ssl-reqd), implicit FTPS (ftps://).

curl 7.88 (Debian 12) cannot do active-mode FTPS, so active mode is covered by
test_lftp.py and test_ftplib.py. Every run uses -v, so the FTP dialogue is in
stderr ("> CMD" sent, "< 123 text" received) and the tests check it.
"""

import os
import re

from ftpwire import sha256

MiB = 1024 * 1024
TLS = ["--ssl-reqd", "--insecure"]  # explicit FTPS: AUTH, PBSZ 0, PROT P


def sent(res, verb):
    """Commands curl sent, e.g. sent(res, 'PROT') -> ['PROT P']."""
    return re.findall(rf"^> ({verb}\b.*?)\r?$", res.err, re.M)


def replies(res):
    return [int(c) for c in re.findall(r"^< (\d{3})[ -]", res.err, re.M)]


def reply_to(res, command):
    """Code of the first reply after curl sent `command` (exact line)."""
    lines = res.err.splitlines()
    for i, line in enumerate(lines):
        if line.rstrip("\r") == f"> {command}":
            for later in lines[i + 1:]:
                m = re.match(r"^< (\d{3}) ", later)
                if m:
                    return int(m.group(1))
    raise AssertionError(f"curl never sent {command!r}:\n{res}")


def ok(res):
    assert res.rc == 0, str(res)
    return res


def test_upload_download_10mib_explicit_epsv(ferryd, peer, big_file):
    path, data = big_file
    up = ok(peer.curl(ferryd, *TLS, "-T", str(path), ferryd.url("curl-big.bin")))
    assert sent(up, "AUTH")[-1] in ("AUTH TLS", "AUTH SSL") and 234 in replies(up), up
    assert sent(up, "PROT") == ["PROT P"], up
    assert sent(up, "EPSV"), up
    assert sha256((ferryd.home / "curl-big.bin").read_bytes()) == sha256(data)

    out = peer.workdir / "down.bin"
    down = ok(peer.curl(ferryd, *TLS, "-o", str(out), ferryd.url("curl-big.bin")))
    assert sent(down, "TYPE") == ["TYPE I"], down
    assert 226 in replies(down), down
    assert sha256(out.read_bytes()) == sha256(data)


def test_several_files_in_one_session(ferryd, peer):
    """curl fetches three files over one control connection, each on its own PROT P data
    connection (the second and third reuse the session)."""
    files = {f"many-{i}.bin": os.urandom(4096 + i) for i in range(3)}
    for name, data in files.items():
        (ferryd.home / name).write_bytes(data)
    outs = [peer.workdir / f"got-{name}" for name in files]
    args = []
    for name, out in zip(files, outs):
        args += ["-o", str(out), ferryd.url(name)]
    res = ok(peer.curl(ferryd, *TLS, *args))
    assert len(sent(res, "AUTH")) == 1 and len(sent(res, "RETR")) == 3, res
    for out, data in zip(outs, files.values()):
        assert out.read_bytes() == data


def test_upload_download_pasv(ferryd, peer, big_file):
    path, data = big_file
    ok(peer.curl(ferryd, *TLS, "--disable-epsv", "-T", str(path), ferryd.url("curl-pasv.bin")))
    assert sha256((ferryd.home / "curl-pasv.bin").read_bytes()) == sha256(data)
    out = peer.workdir / "down.bin"
    down = ok(peer.curl(ferryd, *TLS, "--disable-epsv", "-o", str(out),
                        ferryd.url("curl-pasv.bin")))
    assert sent(down, "PASV") and not sent(down, "EPSV"), down
    assert 227 in replies(down), down
    assert sha256(out.read_bytes()) == sha256(data)


def test_implicit_ftps(ferryd, peer, big_file):
    path, data = big_file
    up = ok(peer.curl(ferryd, "--insecure", "-T", str(path),
                      ferryd.url("curl-implicit.bin", implicit=True)))
    assert not sent(up, "AUTH"), "implicit TLS must not send AUTH"
    assert sent(up, "PROT") == ["PROT P"], up
    assert sha256((ferryd.home / "curl-implicit.bin").read_bytes()) == sha256(data)
    out = peer.workdir / "down.bin"
    ok(peer.curl(ferryd, "--insecure", "-o", str(out),
                 ferryd.url("curl-implicit.bin", implicit=True)))
    assert sha256(out.read_bytes()) == sha256(data)


def test_prot_c_control_only(ferryd, peer):
    """--ftp-ssl-control: TLS on the control connection, PROT C data."""
    data = os.urandom(MiB + 3)
    src = peer.workdir / "clear.bin"
    src.write_bytes(data)
    up = ok(peer.curl(ferryd, "--ftp-ssl-control", "--insecure", "-T", str(src),
                      ferryd.url("curl-clear.bin")))
    assert sent(up, "PROT") == ["PROT C"], up
    assert (ferryd.home / "curl-clear.bin").read_bytes() == data
    out = peer.workdir / "down.bin"
    ok(peer.curl(ferryd, "--ftp-ssl-control", "--insecure", "-o", str(out),
                 ferryd.url("curl-clear.bin")))
    assert out.read_bytes() == data


def test_verified_certificate(ferryd, peer, pki):
    """The certificate chain from KEYRING is served and verifies against its CA."""
    (ferryd.home / "verified.txt").write_bytes(b"verified\n")
    res = ok(peer.curl(ferryd, "--ssl-reqd", "--cacert", str(pki["cert"]),
                       ferryd.url("verified.txt")))
    assert res.out == b"verified\n"
    # With another CA (and without --insecure) the same transfer must fail:
    # proves the check above really verified something.
    bad = peer.curl(ferryd, "--ssl-reqd", "--cacert", str(pki["other_ca"]),
                    ferryd.url("verified.txt"))
    assert bad.rc == 60, str(bad)  # CURLE_PEER_FAILED_VERIFICATION
    assert bad.out == b""


def test_ascii_mode_line_ends(ferryd, peer):
    """curl converts LF<->CRLF itself in ASCII mode, so the wire carries CRLF:
    the server must store LF (upload) and send CRLF (download)."""
    text = b"".join(b"line %d %s\n" % (i, b"y" * (i % 77)) for i in range(20000))
    nlines = text.count(b"\n")
    src = peer.workdir / "text.txt"
    src.write_bytes(text)
    up = ok(peer.curl(ferryd, *TLS, "-w", "up=%{size_upload}\n", "-T", str(src),
                      ferryd.url("curl-ascii.txt;type=a")))
    assert sent(up, "TYPE") == ["TYPE A"], up
    assert f"up={len(text) + nlines}".encode() in up.out, "curl did not send CRLF"
    assert (ferryd.home / "curl-ascii.txt").read_bytes() == text, "server kept CR on disk"

    (ferryd.home / "curl-ascii-down.txt").write_bytes(text)
    out = peer.workdir / "down.txt"
    down = ok(peer.curl(ferryd, *TLS, "-w", "down=%{size_download}\n", "-o", str(out),
                        ferryd.url("curl-ascii-down.txt;type=a")))
    assert sent(down, "TYPE") == ["TYPE A"], down
    assert f"down={len(text) + nlines}".encode() in down.out, \
        "server did not send CRLF line ends in TYPE A"
    assert out.read_bytes() == text


def test_listings(ferryd, peer):
    d = ferryd.home / "curl-list"
    d.mkdir()
    (d / "one.txt").write_bytes(b"1" * 111)
    (d / "two.bin").write_bytes(b"2" * 2222)
    (d / "subdir").mkdir()
    names = {"one.txt", "two.bin", "subdir"}

    res = ok(peer.curl(ferryd, *TLS, ferryd.url("curl-list/")))
    assert sent(res, "LIST"), res
    lines = res.out.decode().splitlines()
    assert len(lines) == 3 and all(any(ln.endswith(" " + n) for ln in lines) for n in names), lines
    assert next(ln for ln in lines if ln.endswith(" subdir")).startswith("d"), lines

    res = ok(peer.curl(ferryd, *TLS, "--list-only", ferryd.url("curl-list/")))
    assert sent(res, "NLST"), res
    assert {os.path.basename(n) for n in res.out.decode().splitlines()} == names

    res = ok(peer.curl(ferryd, *TLS, "-X", "MLSD", ferryd.url("curl-list/")))
    assert sent(res, "MLSD"), res
    entries = {}
    for line in res.out.decode().splitlines():
        facts, name = line.split(" ", 1)
        entries[name] = {k.lower(): v for k, v in
                         (f.split("=", 1) for f in facts.rstrip(";").split(";"))}
    assert set(entries) - {".", ".."} == names, entries
    assert entries["two.bin"]["type"] == "file" and entries["two.bin"]["size"] == "2222"
    assert entries["subdir"]["type"] == "dir"


def test_mkd_rename_dele_rmd_via_quote(ferryd, peer):
    (ferryd.home / "q-src.txt").write_bytes(b"quote\n")
    res = ok(peer.curl(ferryd, *TLS, "-Q", "MKD q-dir", "-Q", "RNFR q-src.txt",
                       "-Q", "RNTO q-dir/q-dst.txt", "--head", ferryd.url("")))
    assert reply_to(res, "MKD q-dir") == 257, res
    assert reply_to(res, "RNFR q-src.txt") == 350, res
    assert reply_to(res, "RNTO q-dir/q-dst.txt") == 250, res
    assert (ferryd.home / "q-dir" / "q-dst.txt").read_bytes() == b"quote\n"
    assert not (ferryd.home / "q-src.txt").exists()

    res = ok(peer.curl(ferryd, *TLS, "-Q", "DELE q-dir/q-dst.txt", "-Q", "RMD q-dir", "--head",
                       ferryd.url("")))
    assert reply_to(res, "DELE q-dir/q-dst.txt") == 250, res
    assert reply_to(res, "RMD q-dir") == 250, res
    assert not (ferryd.home / "q-dir").exists()

    # Failing quote commands make curl fail with "quote error" (21).
    for cmd in ("DELE q-dir/q-dst.txt", "RMD q-dir", "RNFR nothing-here"):
        res = peer.curl(ferryd, *TLS, "-Q", cmd, "--head", ferryd.url(""))
        assert res.rc == 21 and reply_to(res, cmd) == 550, str(res)


def test_size_mdtm_head(ferryd, peer):
    p = ferryd.home / "curl-stamp.bin"
    p.write_bytes(b"z" * 98765)
    stamp = 1614834367  # Thu, 04 Mar 2021 05:06:07 GMT
    os.utime(p, (stamp, stamp))
    res = ok(peer.curl(ferryd, *TLS, "--head", ferryd.url("curl-stamp.bin")))
    assert sent(res, "SIZE") and sent(res, "MDTM"), res
    head = res.out.decode()
    assert "Content-Length: 98765" in head, head
    assert "Last-Modified: Thu, 04 Mar 2021 05:06:07 GMT" in head, head


def test_rest_resume_download(ferryd, peer, big_file):
    _, data = big_file
    (ferryd.home / "curl-resume.bin").write_bytes(data)
    out = peer.workdir / "partial.bin"
    offset = 4 * MiB + 5
    out.write_bytes(data[:offset])
    res = ok(peer.curl(ferryd, *TLS, "--continue-at", "-", "-o", str(out),
                       ferryd.url("curl-resume.bin")))
    assert sent(res, "REST") == [f"REST {offset}"], res
    assert 350 in replies(res), res
    assert sha256(out.read_bytes()) == sha256(data)


def test_wrong_password_530(ferryd, peer):
    res = peer.curl(ferryd, *TLS, ferryd.url(""), password="not-" + ferryd.password)
    assert res.rc == 67, str(res)  # CURLE_LOGIN_DENIED
    assert 530 in replies(res), res
    assert res.out == b""


def test_no_access_outside_home(ferryd, peer):
    secret = (ferryd.outside / "secret.txt").read_bytes()
    host_passwd = open("/etc/passwd", "rb").read()
    link = ferryd.home / "curl-link-out"
    if not link.is_symlink():
        os.symlink(ferryd.outside, link)
    for path in ["../outside/secret.txt", "../../../../../../../../../../etc/passwd",
                 "curl-link-out/secret.txt"]:
        for method in ("nocwd", "multicwd"):
            res = peer.curl(ferryd, *TLS, "--path-as-is", "--ftp-method", method,
                            ferryd.url(path))
            assert res.rc != 0, str(res)
            assert secret not in res.out and host_passwd not in res.out, path
            assert 550 in replies(res), str(res)

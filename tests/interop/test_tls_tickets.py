"""Session-ticket key rotation (issue 10), as `openssl s_client -sess_out/-sess_in` sees it.

With TLSTIMEOUT t, ferryd encrypts tickets with one key for 2t seconds, still opens the previous
key's tickets for one more period (and hands out a ticket under the current key), and refuses
older ones. The key's name is the first 16 bytes of every ticket, so a client can see a rotation.

Failed before: ferryd used OpenSSL's built-in ticket key for its whole life, so the key name never
changed and the test timed out waiting for the first rotation.
"""

import re
import time

import pytest


TLSTIMEOUT = 3           # seconds; a key encrypts for 6 s
PERIOD = 2 * TLSTIMEOUT


def session(peer, srv, tmp_path, resume=None):
    """One TLS 1.2 AUTH TLS connection (QUIT after the handshake). resume: a session file to
    offer. Returns (reused, ticket key name in hex, the session file written)."""
    out = tmp_path / f"sess-{time.monotonic_ns()}.pem"
    args = ["-tls1_2", "-sess_out", str(out)] + (["-sess_in", str(resume)] if resume else [])
    res = peer.s_client(srv.port, *args, timeout=20)
    text = res.out.decode(errors="replace")
    assert res.rc == 0 and re.search(r"^(New|Reused), TLSv1\.2", text, re.M), res
    reused = re.search(r"^Reused, TLSv1\.2", text, re.M) is not None
    return reused, ticket_key_name(text), out


def ticket_key_name(text) -> str:
    """The key name of the ticket in s_client's session summary (a renewed one after a
    resumption), from its hex dump."""
    m = re.search(r"TLS session ticket:\n((?:\s+[0-9a-f]{4} - .*\n)+)", text)
    assert m, f"no session ticket in the session:\n{text}"
    hexdump = "".join(re.sub(r"^\s+[0-9a-f]{4} - ", "", line)[:48] for line in m.group(1).splitlines())
    return re.sub(r"[^0-9a-f]", "", hexdump)[:32]


def until_rotation(peer, srv, tmp_path, name, deadline):
    """Fresh sessions until one's ticket is under a key other than `name`: returns the last
    session under `name` (made just before the rotation) and the new key's name."""
    last = None
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        reused, key, path = session(peer, srv, tmp_path)
        assert not reused
        if key != name:
            assert last is not None, "the key changed before the first poll"
            return last, key
        last = path
        time.sleep(0.1)  # poll interval, bounded by the deadline
    pytest.fail(f"the ticket key {name} was still in use after {deadline}s "
                f"(TLSTIMEOUT {TLSTIMEOUT}: a new key is due every {PERIOD}s)")


def test_ticket_keys_rotate_and_old_tickets_stop_resuming(ferryd_factory, peer, tmp_path):
    srv = ferryd_factory("tickets", overrides={"TLSTIMEOUT": str(TLSTIMEOUT)})
    reused, first_key, first = session(peer, srv, tmp_path)
    assert not reused
    reused, key, _ = session(peer, srv, tmp_path, resume=first)
    assert reused and key == first_key, "a fresh ticket does not resume under the same key"

    # First rotation: a ticket of the previous period still resumes, and comes back renewed
    # under the new key.
    previous, second_key = until_rotation(peer, srv, tmp_path, first_key, PERIOD + 10)
    reused, key, _ = session(peer, srv, tmp_path, resume=previous)
    assert reused, "a ticket of the previous period did not resume"
    assert key == second_key, f"the resumed ticket was not renewed under the current key ({key})"

    # Second rotation: the first period's key is gone; its ticket gets a full handshake.
    previous, third_key = until_rotation(peer, srv, tmp_path, second_key, PERIOD + 10)
    assert third_key != first_key
    reused, key, _ = session(peer, srv, tmp_path, resume=previous)
    assert reused and key == third_key
    reused, key, _ = session(peer, srv, tmp_path, resume=first)
    assert not reused, "a ticket from two periods ago still resumed"
    assert key == third_key

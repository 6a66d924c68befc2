"""Two bugs found from outside, over real TCP.

(a) Several sessions storing flags on and expunging one mailbox at once:
    a STORE naming messages another session expunged changes the others
    and answers OK (RFC 2180 4.2.1, as Dovecot does); FETCH skips them
    with ``OK [EXPUNGEISSUED]``; COPY stays all-or-nothing (``NO``).
(b) SEARCH FROM/TO/CC/BCC match the normalised addr-spec (comments and
    folding removed), the display name and the raw header text.
"""

from __future__ import annotations

import random
import threading

import pytest

from conftest import started_server
from imap_raw import RawIMAP, quote

CLIENTS = 10
ROUNDS = 25


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("races")))
    yield server
    server.stop()


def connect(srv) -> RawIMAP:
    c = RawIMAP(srv.port)
    c.login()
    return c


def fill(c: RawIMAP, name: str, count: int) -> None:
    c.ok(b"CREATE " + quote(name))
    for i in range(count):
        c.append(name, b"Subject: m%d\r\nMessage-ID: <%d@race>\r\n\r\nbody %d\r\n" % (i, i, i))


def test_store_on_messages_expunged_by_another_session_is_ok(srv):
    a, b = connect(srv), connect(srv)
    try:
        fill(a, "Stale", 4)
        a.select("Stale")
        b.select("Stale")
        a.ok("STORE 1 +FLAGS (\\Deleted)")
        assert a.ok("EXPUNGE").numbers(b"EXPUNGE") == [1]
        r = b.command("STORE 1:3 +FLAGS (\\Flagged)")
        assert r.ok, r.tagged
        assert r.numbers(b"EXPUNGE") == [], "no EXPUNGE during STORE"
        flagged = {seq for seq, items in r.fetches() if b"\\Flagged" in items["FLAGS"]}
        assert flagged == {2, 3}, r.untagged
        r = b.command("FETCH 1:3 (UID FLAGS)")
        assert r.ok and r.code == "EXPUNGEISSUED", r.tagged
        assert sorted(r.fetch_map()) == [2, 3]
        r = b.command("COPY 1:2 Stale")
        assert r.status == "NO" and r.code == "EXPUNGEISSUED", r.tagged
        # COPY may announce the expunge; if it did not, NOOP does
        assert r.numbers(b"EXPUNGE") + b.ok("NOOP").numbers(b"EXPUNGE") == [1]
        r = b.ok("FETCH 1:* FLAGS")
        assert [b"\\Flagged" in items["FLAGS"] for _s, items in r.fetches()] == [True, True, False]
        assert b.ok("FETCH 1:* FLAGS").tagged.split()[1] == b"OK"
    finally:
        a.close()
        b.close()


def test_uid_store_on_expunged_messages_is_ok(srv):
    a, b = connect(srv), connect(srv)
    try:
        fill(a, "StaleUid", 3)
        a.select("StaleUid")
        b.select("StaleUid")
        uids = [int(x) for x in a.ok("UID SEARCH ALL").search()]
        a.ok(f"UID STORE {uids[0]} +FLAGS.SILENT (\\Deleted)")
        a.ok("EXPUNGE")
        r = b.command(f"UID STORE {uids[0]}:{uids[-1]} +FLAGS (\\Seen)")
        assert r.ok, r.tagged
        assert sorted(int(items["UID"]) for _s, items in r.fetches()) == uids[1:]
    finally:
        a.close()
        b.close()


def test_ten_clients_storing_and_expunging_one_mailbox(srv):
    seed = connect(srv)
    fill(seed, "Race", 120)
    seed.close()
    failures: list = []
    barrier = threading.Barrier(CLIENTS)

    def client(n: int) -> None:
        rng = random.Random(n)
        try:
            c = connect(srv)
        except Exception as e:  # pragma: no cover - reported below
            failures.append(f"client {n} could not connect: {e!r}")
            barrier.abort()
            return
        try:
            c.select("Race")
            barrier.wait(timeout=30)
            for _ in range(ROUNDS):
                exists = len(c.ok("UID SEARCH ALL").search())
                if not exists:
                    break
                lo = rng.randint(1, exists)
                hi = min(exists, lo + rng.randint(0, 5))
                action = rng.random()
                if action < 0.3:
                    command = f"STORE {lo}:{hi} +FLAGS (\\Deleted)"
                elif action < 0.45:
                    command = "EXPUNGE"
                elif action < 0.7:
                    command = f"STORE {lo}:{hi} FLAGS (\\Seen \\Flagged)"
                elif action < 0.85:
                    command = f"FETCH {lo}:{hi} (UID FLAGS)"
                else:
                    command = f"UID STORE 1:* -FLAGS.SILENT (\\Seen)"
                r = c.command(command)
                if not r.ok:
                    failures.append(f"client {n}: {command} -> {r.tagged!r}")
            c.ok("LOGOUT")
        except Exception as e:
            failures.append(f"client {n}: {e!r}")
        finally:
            c.close()

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "clients did not finish in time"
    assert not failures, failures[:5]
    # everyone agrees on what is left
    a, b = connect(srv), connect(srv)
    try:
        a.select("Race")
        b.select("Race")
        assert a.ok("UID SEARCH ALL").search() == b.ok("UID SEARCH ALL").search()
        assert a.ok("UID SEARCH DELETED").search() == b.ok("UID SEARCH DELETED").search()
    finally:
        a.close()
        b.close()


# -- (b) address search ---------------------------------------------------------------------
ADDRESS_MESSAGES = [
    b"From: <user-from (comment)@ (comment) domain.org>\r\nTo: plain@example.org\r\n"
    b"Subject: commented\r\n\r\nbody\r\n",
    b"From: \"Doe, Jane\" <jane.doe@example.net>\r\nTo: Team: one@example.com,\r\n"
    b"   two (second) @ example.com;\r\nCc: \"john smith\"@example.org\r\nSubject: group\r\n\r\nbody\r\n",
    b"From: =?UTF-8?Q?J=C3=B6rg_M=C3=BCller?= <joerg@example.de>\r\nTo: bob@example.org\r\n"
    b"Bcc: hidden@example.org\r\nSubject: encoded\r\n\r\nbody\r\n",
]


@pytest.fixture(scope="module")
def addr(srv):
    c = connect(srv)
    c.ok("CREATE Addr")
    for m in ADDRESS_MESSAGES:
        c.append("Addr", m)
    c.select("Addr", examine=True)
    yield c
    c.close()


@pytest.mark.parametrize("criteria,expected", [
    ("FROM user-from@domain.org", [1]),       # the addr-spec without comments and spaces
    ("FROM USER-FROM@DOMAIN.ORG", [1]),
    ("FROM user-from", [1]),
    ('FROM "(comment)"', [1]),                # the raw header text
    ("FROM jane.doe@example.net", [2]),
    ('FROM "Doe, Jane"', [2]),                # the display name
    ("TO two@example.com", [2]),              # inside a group, folded, with a comment
    ("TO one@example.com", [2]),
    ('CC "john smith@example.org"', [2]),     # quoted local part, unquoted
    ('FROM "Jörg Müller"', [3]),              # decoded display name
    ("FROM joerg@example.de", [3]),
    ("BCC hidden@example.org", [3]),
    ("TO example.org", [1, 3]),
    ("FROM nobody@example.org", []),
    ("NOT FROM user-from@domain.org", [2, 3]),
])
def test_address_keys_match_the_normalised_address(addr, criteria, expected):
    r = addr.command(b"SEARCH CHARSET UTF-8 " + criteria.encode("utf-8"))
    assert r.ok, r.tagged
    assert r.search() == expected, criteria

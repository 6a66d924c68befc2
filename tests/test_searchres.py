"""SEARCHRES (RFC 5182) and ESEARCH's PARTIAL (RFC 5267 4.4 / RFC 9394) over
real TCP: SEARCH RETURN (SAVE) and "$" in FETCH, STORE, COPY, MOVE,
SEARCH, UID EXPUNGE and their UID forms; "$" kept as UIDs across expunges,
reset by SELECT/EXAMINE/CLOSE/UNSELECT; imaplib using "$"."""

from __future__ import annotations

import imaplib

import pytest

from conftest import started_server
from imap_raw import RawIMAP, parse


def message(i: int) -> bytes:
    return b"Subject: m%d\r\nFrom: a@example.org\r\n\r\nbody %d\r\n" % (i, i)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("searchres")))
    yield server
    server.stop()


_folders = iter(range(1000))


@pytest.fixture
def box(srv):
    """A fresh folder of 8 messages whose UIDs differ from sequence numbers
    (UID 1 and 2 are expunged): seq n has UID n + 2; seqs 2, 4, 6 (UIDs 4, 6,
    8) are \\Flagged."""
    name = f"Res{next(_folders)}"
    c = RawIMAP(srv.port)
    c.login()
    c.ok("CREATE " + name)
    for i in range(10):
        c.append(name, message(i), flags="\\Flagged" if i in (3, 5, 7) else "",
                 date=f"{i + 1:02d}-Jan-2024 10:00:00 +0000")
    c.select(name)
    c.ok("STORE 1:2 +FLAGS (\\Deleted)")
    c.ok("EXPUNGE")
    c.name = name
    yield c
    c.close()


def esearch(r) -> list:
    lines = r.lines(b"ESEARCH")
    assert len(lines) == 1, r.untagged
    return parse(lines[0])[2:]


def fetched_uids(r) -> list:
    return sorted(int(items["UID"]) for _, items in r.fetches())


def test_capability(box):
    assert b" SEARCHRES" in box.ok("CAPABILITY").lines(b"CAPABILITY")[0]


def test_dollar_before_any_save_is_empty(box):
    r = box.ok("FETCH $ (UID FLAGS)")
    assert r.fetches() == []
    assert box.ok("SEARCH $").search() == []
    assert box.ok("UID SEARCH UID $").search() == []
    assert box.ok("SEARCH NOT $").search() == list(range(1, 9))


def test_save_alone_answers_nothing_then_dollar_names_the_result(box):
    r = box.ok("SEARCH RETURN (SAVE) FLAGGED")
    assert r.untagged == []  # RETURN (SAVE) alone: no ESEARCH
    assert fetched_uids(box.ok("FETCH $ (UID)")) == [4, 6, 8]
    assert fetched_uids(box.ok("UID FETCH $ (FLAGS)")) == [4, 6, 8]
    assert box.ok("SEARCH $").search() == [2, 4, 6]
    assert box.ok("UID SEARCH $").search() == [4, 6, 8]
    assert box.ok("UID SEARCH UID $ SEEN").search() == []
    assert box.ok("SEARCH OR $ 1").search() == [1, 2, 4, 6]
    assert box.ok("SEARCH NOT $").search() == [1, 3, 5, 7, 8]


def test_store_copy_move_and_uid_expunge_with_dollar(box):
    box.ok("UID SEARCH RETURN (SAVE) 2:4")  # sequence numbers 2..4 -> UIDs 4, 5, 6
    r = box.ok("STORE $ +FLAGS (\\Seen)")
    assert sorted(seq for seq, _ in r.fetches()) == [2, 3, 4]
    assert box.ok("SEARCH SEEN").search() == [2, 3, 4]
    box.ok("CREATE " + box.name + "Copy")
    r = box.ok("COPY $ " + box.name + "Copy")
    assert r.code.startswith("COPYUID") and r.code.split()[2] == "4:6"
    box.ok("UID STORE $ +FLAGS (\\Deleted)")
    r = box.ok("UID EXPUNGE $")
    assert r.numbers(b"EXPUNGE") == [4, 3, 2]
    # the expunged messages left "$": it is empty now, not stale
    assert box.ok("FETCH $ UID").fetches() == []
    box.ok("SEARCH RETURN (SAVE) FLAGGED")
    r = box.ok("MOVE $ " + box.name + "Copy")
    assert r.code_value("COPYUID") is not None or any(c.startswith("COPYUID") for c in r.codes())
    assert box.ok("SEARCH FLAGGED").search() == []
    with RawIMAP(box.sock.getpeername()[1]) as other:
        other.login()
        other.select(box.name + "Copy", examine=True)
        assert other.ok("SEARCH ALL").search() == [1, 2, 3, 4]


def test_dollar_follows_expunges_by_another_session(box, srv):
    box.ok("SEARCH RETURN (SAVE) 1:4")  # UIDs 3..6
    with RawIMAP(srv.port) as other:
        other.login()
        other.select(box.name)
        other.ok("UID STORE 4 +FLAGS (\\Deleted)")
        other.ok("EXPUNGE")
    r = box.ok("NOOP")
    assert r.numbers(b"EXPUNGE") == [2]
    assert fetched_uids(box.ok("FETCH $ UID")) == [3, 5, 6]
    assert box.ok("SEARCH $").search() == [1, 2, 3]


@pytest.mark.parametrize("options,saved", [
    ("SAVE MIN", [3]), ("SAVE MAX", [10]), ("SAVE MIN MAX", [3, 10]), ("SAVE MIN COUNT", list(range(3, 11))),
    ("SAVE ALL MAX", list(range(3, 11))), ("SAVE PARTIAL 2:3", [4, 5]), ("SAVE PARTIAL -1:-2", [9, 10]),
])
def test_what_save_keeps_with_other_options(box, options, saved):
    box.ok(f"SEARCH RETURN ({options}) ALL")
    assert fetched_uids(box.ok("UID FETCH $ UID")) == saved


def test_sort_return_save(box):
    r = box.ok("SORT RETURN (SAVE MIN) (REVERSE ARRIVAL) UTF-8 FLAGGED")
    assert esearch(r) == [[b"TAG", b"t%d" % box._n], b"MIN", b"6"]
    assert fetched_uids(box.ok("UID FETCH $ UID")) == [8]


def test_reset_by_select_examine_close_and_unselect(box):
    for reset in ("SELECT " + box.name, "EXAMINE " + box.name, "CLOSE", "UNSELECT"):
        box.ok("SELECT " + box.name)
        box.ok("SEARCH RETURN (SAVE) FLAGGED")
        assert len(box.ok("FETCH $ UID").fetches()) == 3
        box.ok(reset)
        if reset in ("CLOSE", "UNSELECT"):
            assert box.command("FETCH $ UID").status == "BAD"  # no mailbox: not allowed at all
            box.ok("SELECT " + box.name)
        assert box.ok("FETCH $ UID").fetches() == [], reset


def test_pipelined_save_then_use(box):
    box.send(b"p1 SEARCH RETURN (SAVE) FLAGGED\r\np2 FETCH $ (UID)\r\np3 UID STORE $ +FLAGS.SILENT (\\Seen)\r\n")
    assert box.read_until_tagged(b"p1").ok
    assert fetched_uids(box.read_until_tagged(b"p2")) == [4, 6, 8]
    assert box.read_until_tagged(b"p3").ok
    assert box.ok("SEARCH SEEN").search() == [2, 4, 6]


@pytest.mark.parametrize("options,expected", [
    ("PARTIAL 1:3", [b"PARTIAL", [b"1:3", b"1:3"]]),
    ("PARTIAL 3:1", [b"PARTIAL", [b"3:1", b"1:3"]]),
    ("PARTIAL -1:-2", [b"PARTIAL", [b"-1:-2", b"7:8"]]),
    ("PARTIAL -2:-1", [b"PARTIAL", [b"-2:-1", b"7:8"]]),
    ("PARTIAL 7:100", [b"PARTIAL", [b"7:100", b"7:8"]]),
    ("PARTIAL 9:10", [b"PARTIAL", [b"9:10", None]]),
    ("PARTIAL -9:-20", [b"PARTIAL", [b"-9:-20", None]]),
    ("COUNT PARTIAL 2:2", [b"COUNT", b"8", b"PARTIAL", [b"2:2", b"2"]]),
])
def test_partial_windows(box, options, expected):
    r = box.ok(f"SEARCH RETURN ({options}) ALL")
    assert esearch(r)[1:] == expected


def test_partial_with_uid_search_and_sort(box):
    r = box.ok("UID SEARCH RETURN (PARTIAL 1:2) FLAGGED")
    assert esearch(r)[1:] == [b"UID", b"PARTIAL", [b"1:2", b"4,6"]]
    r = box.ok("UID SORT RETURN (PARTIAL 1:3) (REVERSE ARRIVAL) UTF-8 ALL")
    assert esearch(r)[1:] == [b"UID", b"PARTIAL", [b"1:3", b"10,9,8"]]
    r = box.ok("SORT RETURN (PARTIAL -1:-2 MIN) (REVERSE ARRIVAL) UTF-8 ALL")
    assert esearch(r)[1:] == [b"MIN", b"8", b"PARTIAL", [b"-1:-2", b"2,1"]]


@pytest.mark.parametrize("bad", [
    "FETCH $,1 UID", "FETCH 1,$ UID", "FETCH $:3 UID", "UID FETCH $$ UID", "SEARCH $1", "STORE $:* +FLAGS (\\Seen)",
    "SEARCH RETURN (SAVE SAVEX) ALL", "SEARCH RETURN (PARTIAL) ALL", "SEARCH RETURN (PARTIAL 0:5) ALL",
    "SEARCH RETURN (PARTIAL 1:-5) ALL", "SEARCH RETURN (PARTIAL -1:5) ALL", "SEARCH RETURN (PARTIAL 1:2 ALL) ALL",
    "SEARCH RETURN (ALL PARTIAL 1:2) ALL", "SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL",
    "SEARCH RETURN (PARTIAL 1:4294967296) ALL", "SEARCH RETURN (PARTIAL 1) ALL", "SEARCH RETURN (PARTIAL a:b) ALL",
    "SORT RETURN (PARTIAL 0:1) (ARRIVAL) UTF-8 ALL", "SELECT INBOX (QRESYNC (1 1 $))",
])
def test_malformed_is_bad_and_the_connection_stays_usable(box, bad):
    box.ok("SEARCH RETURN (SAVE) FLAGGED")
    r = box.command(bad)
    assert r.status == "BAD", (bad, r.tagged)
    assert fetched_uids(box.ok("FETCH $ UID")) == [4, 6, 8]


def test_imaplib_uses_dollar(srv, box):
    c = imaplib.IMAP4("127.0.0.1", srv.port)
    try:
        c.login("demo", "demo")
        c.select(box.name)
        typ, data = c.search(None, "RETURN", "(SAVE)", "FLAGGED")
        assert typ == "OK"
        typ, data = c.fetch("$", "(UID)")
        assert typ == "OK" and len([d for d in data if d]) == 3
        typ, data = c.uid("STORE", "$", "+FLAGS", "(\\Answered)")
        assert typ == "OK"
        typ, data = c.search(None, "ANSWERED")
        assert data[0].split() == [b"2", b"4", b"6"]
    finally:
        c.logout()

"""SEARCH and UID SEARCH over real TCP: every search key of RFC 3501 6.4.4.

The mailbox "Search" is built once per module so that UIDs differ from
sequence numbers (its first message is expunged) and exactly messages 5 and
6 are \\Recent for the module's connection (5 is \\Seen, so only 6 is NEW).

  seq  flags                 internal date   Date: header (sent)          from / subject
  1    \\Seen \\Answered $Label1 05-Jan-2024   01-Jan-2024 23:30 -0500      alice / Quarterly report
  2    \\Flagged               06-Jan-2024     02-Jan-2024                  Jörg Müller (2047) / Grüße aus Köln (2047)
  3    \\Draft                 07-Jan-2024     03-Jan-2024                  bob / Lunch plans (multipart, large)
  4    \\Deleted \\Seen         07-Jan-2024 23:59:59  (none)               carol / Re: Quarterly report
  5    \\Seen (recent)         08-Jan-2024     05-Jan-2024                  dave / Meeting (quoted-printable body)
  6    (recent)               09-Jan-2024     06-Jan-2024                  alice / Lunch tomorrow
"""

from __future__ import annotations

import datetime
import imaplib

import pytest
from imapclient import IMAPClient

from conftest import started_server
from imap_raw import RawIMAP, literal


def msg(headers: list, body: bytes) -> bytes:
    return b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body


M1 = msg([b"From: Alice Example <alice@example.org>", b"To: Bob <bob@example.org>",
          b"Cc: carol@example.net", b"Subject: Quarterly report",
          b"Date: Mon, 01 Jan 2024 23:30:00 -0500", b"Message-ID: <m1@example.org>"],
         b"The numbers are in. Revenue grew.\r\n")
M2 = msg([b"From: =?ISO-8859-1?Q?J=F6rg_M=FCller?= <joerg@example.de>", b"To: alice@example.org",
          b"Bcc: secret@example.com", b"Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=",
          b"Date: Tue, 02 Jan 2024 10:00:00 +0000", b"X-Priority: 1", b"Message-ID: <m2@example.de>"],
         b"Hallo zusammen.\r\n")
M3 = msg([b"From: bob@example.org", b"To: alice@example.org", b"Subject: Lunch plans",
          b"Date: Wed, 03 Jan 2024 11:00:00 +0000", b"Message-ID: <m3@example.org>", b"MIME-Version: 1.0",
          b'Content-Type: multipart/mixed; boundary="b3"'],
         b"--b3\r\nContent-Type: text/plain\r\n\r\n" + b"Lorem ipsum dolor sit amet.\r\n" * 100
         + b"\r\n--b3\r\nContent-Type: text/plain\r\n\r\nThe attachmentword is here.\r\n\r\n--b3--\r\n")
M4 = msg([b"From: Carol <carol@example.net>", b"To: alice@example.org", b"Subject: Re: Quarterly report",
          b"Message-ID: <m4@example.net>"],
         b"short\r\n")
M5 = msg([b"From: Dave <dave@example.com>", b"To: alice@example.org", b"Subject: Meeting",
          b"Date: Fri, 05 Jan 2024 09:00:00 +0000", b"Message-ID: <m5@example.com>", b"MIME-Version: 1.0",
          b"Content-Type: text/plain; charset=utf-8", b"Content-Transfer-Encoding: quoted-printable"],
         b"Caf=C3=A9 meeting at ten.\r\n")
M6 = msg([b"From: Alice Example <alice@example.org>", b"To: Dave <dave@example.com>", b"Subject: Lunch tomorrow",
          b"Date: Sat, 06 Jan 2024 12:00:00 +0000", b"Message-ID: <m6@example.org>"],
         b"See you.\r\n")

SEEDED = [  # (message, flags, internal date), in mailbox order after the expunge
    (M1, "\\Seen \\Answered $Label1", "05-Jan-2024 12:00:00 +0000"),
    (M2, "\\Flagged", "06-Jan-2024 12:00:00 +0000"),
    (M3, "\\Draft", "07-Jan-2024 00:00:00 +0000"),
    (M4, "\\Deleted \\Seen", "07-Jan-2024 23:59:59 +0000"),
]
LATER = [
    (M5, "\\Seen", "08-Jan-2024 12:00:00 +0000"),
    (M6, "", "09-Jan-2024 12:00:00 +0000"),
]
ALL = [1, 2, 3, 4, 5, 6]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("search")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def conn(srv):
    with RawIMAP(srv.port) as seed:
        seed.login()
        seed.ok("CREATE Search")
        gone = seed.append("Search", b"Subject: expunged\r\n\r\ngone\r\n", flags="\\Deleted")
        for m, flags, date in SEEDED:
            seed.append("Search", m, flags=flags, date=date)
        seed.select("Search")  # takes \Recent of everything so far
        assert seed.ok(f"UID EXPUNGE {gone.code.split()[2]}").numbers(b"EXPUNGE") == [1]
        seed.ok("LOGOUT")
    with RawIMAP(srv.port) as other:
        other.login()
        for m, flags, date in LATER:
            other.append("Search", m, flags=flags, date=date)
    c = RawIMAP(srv.port)
    c.login()
    r = c.select("Search")
    assert r.numbers(b"EXISTS") == [6] and r.numbers(b"RECENT") == [2]
    yield c
    c.close()


@pytest.fixture(scope="module")
def uid_of(conn):
    found = conn.ok("FETCH 1:* UID").fetch_map()
    return {seq: int(items["UID"]) for seq, items in found.items()}


@pytest.fixture(scope="module")
def sizes(conn):
    found = conn.ok("FETCH 1:* RFC822.SIZE").fetch_map()
    return {seq: int(items["RFC822.SIZE"]) for seq, items in found.items()}


def search(conn, criteria) -> list:
    text = criteria.encode() if isinstance(criteria, str) else criteria
    r = conn.command(b"SEARCH " + text)
    assert r.ok, (criteria, r.tagged)
    return sorted(r.search())


def test_uids_differ_from_sequence_numbers(uid_of):
    assert all(uid != seq for seq, uid in uid_of.items())


# -- flags and session state ------------------------------------------------------------
@pytest.mark.parametrize("criteria,expected", [
    ("ALL", ALL),
    ("ANSWERED", [1]), ("UNANSWERED", [2, 3, 4, 5, 6]),
    ("DELETED", [4]), ("UNDELETED", [1, 2, 3, 5, 6]),
    ("DRAFT", [3]), ("UNDRAFT", [1, 2, 4, 5, 6]),
    ("FLAGGED", [2]), ("UNFLAGGED", [1, 3, 4, 5, 6]),
    ("SEEN", [1, 4, 5]), ("UNSEEN", [2, 3, 6]),
    ("RECENT", [5, 6]), ("NEW", [6]), ("OLD", [1, 2, 3, 4]),
    ("KEYWORD $Label1", [1]), ("UNKEYWORD $Label1", [2, 3, 4, 5, 6]),
    ("KEYWORD NeverUsed", []), ("UNKEYWORD NeverUsed", ALL),
    ("seen", [1, 4, 5]), ("Flagged", [2]),  # keys are case-insensitive
])
def test_flag_keys(conn, criteria, expected):
    assert search(conn, criteria) == expected


# -- header keys ------------------------------------------------------------------------
@pytest.mark.parametrize("criteria,expected", [
    ("FROM alice", [1, 6]), ("FROM ALICE", [1, 6]), ('FROM "Alice Example"', [1, 6]),
    ("FROM example.de", [2]), ("FROM joerg@", [2]), ("FROM nobody", []),
    ("TO bob", [1]), ("TO dave@example.com", [6]), ("TO ALICE@EXAMPLE.ORG", [2, 3, 4, 5]),
    ("CC carol", [1]), ("CC nobody", []),
    ("BCC secret", [2]), ("BCC SECRET@example.com", [2]),
    ("SUBJECT quarterly", [1, 4]), ('SUBJECT "Re: QUARTERLY"', [4]), ("SUBJECT lunch", [3, 6]),
    ("HEADER X-Priority 1", [2]), ('HEADER x-priority ""', [2]), ('HEADER "Message-ID" "@example.org"', [1, 3, 6]),
    ('HEADER Date ""', [1, 2, 3, 5, 6]), ("HEADER X-Missing something", []),
])
def test_header_keys(conn, criteria, expected):
    assert search(conn, criteria) == expected


@pytest.mark.parametrize("key,text,expected", [
    ("FROM", "Jörg", [2]),
    ("FROM", "müller", [2]),
    ("SUBJECT", "Köln", [2]),
    ("SUBJECT", "grüße aus", [2]),
    ("HEADER Subject", "Grüße", [2]),
    ("BODY", "Café", [5]),
    ("TEXT", "café meeting", [5]),
])
def test_rfc2047_and_utf8_with_charset_literal(conn, key, text, expected):
    data = text.encode("utf-8")
    r = conn.command(b"SEARCH CHARSET UTF-8 " + key.encode() + b" " + literal(data, plus=True))
    assert r.ok, r.tagged
    assert sorted(r.search()) == expected


def test_utf8_search_with_synchronising_literal(conn):
    r = conn.command_with_literals(["SEARCH CHARSET UTF-8 SUBJECT ", "köln".encode("utf-8")])
    assert r.ok and sorted(r.search()) == [2]


def test_us_ascii_charset(conn):
    assert search(conn, "CHARSET US-ASCII SUBJECT lunch") == [3, 6]
    assert search(conn, b"CHARSET US-ASCII SUBJECT " + literal(b"Quarterly", plus=True)) == [1, 4]
    r = conn.command_with_literals(["SEARCH CHARSET US-ASCII FROM ", b"dave"])
    assert r.ok and r.search() == [5]
    assert search(conn, 'CHARSET "us-ascii" TO bob') == [1]


def test_body_and_text(conn):
    assert search(conn, "BODY revenue") == [1]
    assert search(conn, "BODY REVENUE") == [1]
    assert search(conn, "BODY attachmentword") == [3]
    assert search(conn, "BODY quarterly") == []  # only in the Subject headers
    assert search(conn, "TEXT quarterly") == [1, 4]
    assert search(conn, "TEXT revenue") == [1]
    assert search(conn, 'TEXT "m3@example.org"') == [3]
    assert search(conn, "BODY zzznothere") == []


# -- sizes ------------------------------------------------------------------------------
def test_larger_and_smaller(conn, sizes):
    big = sizes[3]
    assert big > max(s for q, s in sizes.items() if q != 3)
    assert search(conn, f"LARGER {big - 1}") == [3]
    assert search(conn, f"LARGER {big}") == []  # strictly larger
    assert search(conn, f"SMALLER {big}") == [1, 2, 4, 5, 6]
    assert search(conn, f"SMALLER {big + 1}") == ALL
    smallest = min(sizes.values())
    assert search(conn, f"SMALLER {smallest}") == []
    assert search(conn, "LARGER 0") == ALL
    assert search(conn, f"LARGER {sizes[1] - 1} SMALLER {sizes[1] + 1}") == [s for s in ALL if sizes[s] == sizes[1]]


# -- dates ----------------------------------------------------------------------------------
@pytest.mark.parametrize("criteria,expected", [
    ("BEFORE 07-Jan-2024", [1, 2]),
    ("BEFORE 5-Jan-2024", []),
    ("ON 07-Jan-2024", [3, 4]),  # 00:00:00 and 23:59:59 are both that day
    ("ON 7-jan-2024", [3, 4]),
    ('ON "07-Jan-2024"', [3, 4]),
    ("SINCE 07-Jan-2024", [3, 4, 5, 6]),
    ("SINCE 8-Jan-2024", [5, 6]),
    ("SINCE 10-Jan-2024", []),
    ("SINCE 06-Jan-2024 BEFORE 08-Jan-2024", [2, 3, 4]),
    ("SENTBEFORE 03-Jan-2024", [1, 2]),
    ("SENTON 01-Jan-2024", [1]),  # Date: 01-Jan 23:30 -0500, time and zone disregarded
    ("SENTON 02-Jan-2024", [2]),
    ("SENTSINCE 05-Jan-2024", [5, 6]),
    ("SENTSINCE 01-Jan-2024", [1, 2, 3, 5, 6]),  # message 4 has no Date: header
    ("NOT SENTSINCE 01-Jan-2024", [4]),
])
def test_date_keys(conn, criteria, expected):
    assert search(conn, criteria) == expected


# -- sets and UIDs ------------------------------------------------------------------------------
@pytest.mark.parametrize("criteria,expected", [
    ("2:4", [2, 3, 4]), ("4:2", [2, 3, 4]), ("2,4:*", [2, 4, 5, 6]), ("*", [6]), ("5:*", [5, 6]),
    ("1,3,5", [1, 3, 5]), ("1:* UNSEEN", [2, 3, 6]), ("NOT 2:5", [1, 6]),
])
def test_sequence_sets(conn, criteria, expected):
    assert search(conn, criteria) == expected


def test_uid_key_and_uid_search(conn, uid_of):
    u = uid_of
    assert search(conn, f"UID {u[2]}:{u[4]}") == [2, 3, 4]
    assert search(conn, f"UID {u[1]},{u[6]}") == [1, 6]
    assert search(conn, "UID *") == [6]
    assert search(conn, f"UID {u[6] + 50}:*") == [6]  # * is the largest UID in use
    assert search(conn, f"UID {u[6] + 50}") == []
    r = conn.ok("UID SEARCH SEEN")
    assert sorted(r.search()) == [u[1], u[4], u[5]]
    r = conn.ok("UID SEARCH 1:2")  # a bare set is still sequence numbers
    assert sorted(r.search()) == [u[1], u[2]]
    r = conn.ok(f"UID SEARCH UID {u[3]}:*")
    assert sorted(r.search()) == [u[3], u[4], u[5], u[6]]
    r = conn.ok("UID SEARCH KEYWORD NeverUsed")
    assert r.search() == []


# -- boolean structure ----------------------------------------------------------------------------
@pytest.mark.parametrize("criteria,expected", [
    ("OR FLAGGED DRAFT", [2, 3]),
    ("NOT SEEN", [2, 3, 6]),
    ("NOT NOT SEEN", [1, 4, 5]),
    ("(SEEN ANSWERED)", [1]),
    ("OR (SEEN ANSWERED) DRAFT", [1, 3]),
    ("NOT (OR SEEN FLAGGED)", [3, 6]),
    ("OR OR ANSWERED FLAGGED DRAFT", [1, 2, 3]),
    ("OR ANSWERED OR FLAGGED DRAFT", [1, 2, 3]),
    ("SEEN UNDELETED", [1, 5]),
    ("((SEEN) (UNDELETED))", [1, 5]),
    ("OR FROM alice SUBJECT meeting", [1, 5, 6]),
    ("NOT FROM alice NOT FROM bob", [2, 4, 5]),
    ("OR 1 UID 1:*", ALL),
    ("SUBJECT lunch NOT 6", [3]),
])
def test_boolean_combinations(conn, criteria, expected):
    assert search(conn, criteria) == expected


def test_empty_result_still_sends_search_response(conn):
    r = conn.ok("SEARCH FROM nobody-at-all")
    assert r.untagged == [b"* SEARCH\r\n"]
    r = conn.ok("UID SEARCH DRAFT FLAGGED")
    assert r.untagged == [b"* SEARCH\r\n"]


def test_search_response_format(conn):
    r = conn.ok("SEARCH UNSEEN")
    assert r.untagged == [b"* SEARCH 2 3 6\r\n"]


def test_search_does_not_change_flags(conn):
    before = conn.ok("FETCH 1:* FLAGS").fetch_map()
    search(conn, "TEXT revenue")
    search(conn, "BODY attachmentword")
    assert conn.ok("FETCH 1:* FLAGS").fetch_map() == before


# -- other clients -------------------------------------------------------------------------------
def test_imapclient_search(srv, conn, uid_of):
    c = IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10)
    try:
        c.login("demo", "demo")
        c.select_folder("Search", readonly=True)
        assert sorted(c.search(["FROM", "alice"])) == [uid_of[1], uid_of[6]]
        assert sorted(c.search(["SUBJECT", "Köln"], charset="UTF-8")) == [uid_of[2]]
        assert sorted(c.search(["SINCE", datetime.date(2024, 1, 8)])) == [uid_of[5], uid_of[6]]
        assert c.search(["NOT", "ALL"]) == []
    finally:
        c.logout()


def test_imaplib_search(srv, conn):
    c = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
    try:
        c.login("demo", "demo")
        c.select("Search", readonly=True)
        typ, data = c.search(None, "UNSEEN")
        assert typ == "OK" and data == [b"2 3 6"]
        typ, data = c.search("UTF-8", "SUBJECT", '"Quarterly"')
        assert typ == "OK" and data == [b"1 4"]
        typ, data = c.search(None, "KEYWORD", "NeverUsed")
        assert typ == "OK" and data == [b""]
    finally:
        c.logout()

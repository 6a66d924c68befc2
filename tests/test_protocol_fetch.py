"""FETCH over real TCP: every data item of RFC 3501 6.4.5, byte for byte.

The messages are appended once per module into the mailbox "Fetch"; tests
that only read use an EXAMINEd connection, tests about \\Seen use their own
mailbox.
"""

from __future__ import annotations

import datetime
import os
import re

import pytest
from imapclient import IMAPClient

from conftest import ServerProcess, copy_sample, run_cli, started_server
from imap_raw import Atom, RawIMAP

# -- the test messages ---------------------------------------------------------------
SIMPLE_HEADER = (
    b"Return-Path: <alice@example.org>\r\n"
    b"Received: from mx2.example.net by mx.example.org;\r\n"
    b"\tMon, 1 Jan 2024 10:00:02 +0000\r\n"
    b"X-Custom: one\r\n"
    b"From: \"Alice Q. Example\" <alice@example.org>\r\n"
    b"Sender: Secretary <sec@example.org>\r\n"
    b"Reply-To: replies@example.org\r\n"
    b"To: Bob <bob@example.org>, carol@example.net\r\n"
    b"Cc: Team: dave@example.com, \"Eve E.\" <eve@example.com>;\r\n"
    b"Received: from client.example.com by mx2.example.net;\r\n"
    b"\tMon, 1 Jan 2024 10:00:01 +0000\r\n"
    b"Subject: Quarterly report\r\n"
    b" (folded)\r\n"
    b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
    b"Message-ID: <simple-1@example.org>\r\n"
    b"In-Reply-To: <parent@example.org>\r\n"
    b"x-custom: two\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n"
    b"Content-Transfer-Encoding: 8bit\r\n"
    b"\r\n"
)
SIMPLE_BODY = b"Line one of the body.\r\nLine two with caf\xc3\xa9.\r\nLine three.\r\n"
SIMPLE = SIMPLE_HEADER + SIMPLE_BODY

EIGHTBIT_SUBJECT = b"Gr\xfc\xdfe aus K\xf6ln"  # raw Latin-1 bytes, not RFC 2047 encoded
EIGHTBIT = (
    b"From: J\xf6rg <joerg@example.org>\r\n"
    b"To: bob@example.org\r\n"
    b"Subject: " + EIGHTBIT_SUBJECT + b"\r\n"
    b"Date: Wed, 03 Jan 2024 12:00:00 +0000\r\n"
    b"\r\n"
    b"Body\r\n"
)

PART1_MIME = b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
PART1_BODY = b"Plain part text.\r\n"
INNER_HEADER = (
    b"From: Carol <carol@example.net>\r\n"
    b"To: Alice <alice@example.org>\r\n"
    b"Subject: Inner message\r\n"
    b"Date: Mon, 01 Jan 2024 08:00:00 +0000\r\n"
    b"Message-ID: <inner-1@example.net>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
    b"\r\n"
)
INNER1_MIME = b"Content-Type: text/plain; charset=utf-8\r\n\r\n"
INNER1_BODY = b"Inner plain.\r\n"
INNER2_MIME = b"Content-Type: text/html; charset=utf-8\r\n\r\n"
INNER2_BODY = b"<p>Inner html.</p>\r\n"
INNER_BODY = (
    b"--inner\r\n" + INNER1_MIME + INNER1_BODY + b"\r\n"
    b"--inner\r\n" + INNER2_MIME + INNER2_BODY + b"\r\n"
    b"--inner--\r\n"
)
INNER = INNER_HEADER + INNER_BODY
PART2_MIME = b"Content-Type: message/rfc822\r\nContent-Description: forwarded\r\n\r\n"
PART3_MIME = (
    b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
    b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n"
    b"\r\n"
)
PART3_BODY = b"AAECAwQFBgcICQ==\r\n"
MULTI_HEADER = (
    b"From: Alice <alice@example.org>\r\n"
    b"To: Bob <bob@example.org>\r\n"
    b"Subject: Multipart with attachment\r\n"
    b"Date: Tue, 02 Jan 2024 09:30:00 +0100\r\n"
    b"Message-ID: <multi-1@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
    b"\r\n"
)
MULTI_BODY = (
    b"This is a multi-part message in MIME format.\r\n"
    b"--outer\r\n" + PART1_MIME + PART1_BODY + b"\r\n"
    b"--outer\r\n" + PART2_MIME + INNER + b"\r\n"
    b"--outer\r\n" + PART3_MIME + PART3_BODY + b"\r\n"
    b"--outer--\r\n"
)
MULTI = MULTI_HEADER + MULTI_BODY

QUOTING = (
    b'From: "Doe, \\"JD\\" John" <jd@example.org>\r\n'
    b"To: undisclosed-recipients:;\r\n"
    b'Subject: say "hi" \\ then =?UTF-8?Q?caf=C3=A9?=\r\n'
    b"\r\n"
    b"quoting\r\n"
)
BARE = b"From: bare@example.org\r\n\r\nno other headers\r\n"

SIMPLE_DATE = "01-Jan-2024 10:00:05 +0000"
MULTI_DATE = "02-Jan-2024 09:30:00 +0100"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("fetch")))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def uids(srv):
    """Append the messages to "Fetch": {name: uid}."""
    with RawIMAP(srv.port) as c:
        c.login()
        c.ok("CREATE Fetch")
        out = {}
        for name, msg, flags, date in (("simple", SIMPLE, "\\Flagged", SIMPLE_DATE),
                                       ("eightbit", EIGHTBIT, "\\Seen", ""),
                                       ("multi", MULTI, "\\Answered $Label1", MULTI_DATE),
                                       ("quoting", QUOTING, "", ""),
                                       ("bare", BARE, "", "")):
            r = c.append("Fetch", msg, flags=flags, date=date)
            out[name] = int(r.code.split()[2])
        c.ok("LOGOUT")
    return out


@pytest.fixture(scope="module")
def ro(srv, uids):
    """A connection with "Fetch" EXAMINEd (so nothing it fetches sets \\Seen)."""
    c = RawIMAP(srv.port)
    c.login()
    c.select("Fetch", examine=True)
    yield c
    c.close()


def fetch_one(c: RawIMAP, uid: int, items: str) -> dict:
    r = c.ok(f"UID FETCH {uid} {items}")
    found = r.fetches()
    assert len(found) == 1, r.untagged
    return found[0][1]


def body_item(items: dict, prefix: str = "BODY[") -> bytes:
    keys = [k for k in items if k.startswith(prefix)]
    assert len(keys) == 1, items.keys()
    return items[keys[0]]


# -- simple attributes -----------------------------------------------------------------
def test_flags_uid_internaldate_size(ro, uids):
    items = fetch_one(ro, uids["simple"], "(FLAGS UID INTERNALDATE RFC822.SIZE)")
    assert set(items) == {"FLAGS", "UID", "INTERNALDATE", "RFC822.SIZE"}
    assert b"\\Flagged" in items["FLAGS"]
    assert int(items["UID"]) == uids["simple"]
    assert int(items["RFC822.SIZE"]) == len(SIMPLE)
    stamp = items["INTERNALDATE"]
    assert re.fullmatch(rb"[ \d]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}", stamp), stamp
    when = datetime.datetime.strptime(stamp.decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    assert when == datetime.datetime(2024, 1, 1, 10, 0, 5, tzinfo=datetime.timezone.utc)


def test_internaldate_keeps_the_appended_instant(ro, uids):
    stamp = fetch_one(ro, uids["multi"], "INTERNALDATE")["INTERNALDATE"]
    when = datetime.datetime.strptime(stamp.decode().strip(), "%d-%b-%Y %H:%M:%S %z")
    assert when == datetime.datetime(2024, 1, 2, 9, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))


def test_keyword_in_flags(ro, uids):
    flags = fetch_one(ro, uids["multi"], "FLAGS")["FLAGS"]
    assert {b"\\Answered", b"$Label1"} <= set(flags)


@pytest.mark.parametrize("macro,expected", [
    ("ALL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}),
    ("FAST", {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}),
    ("FULL", {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}),
])
def test_fetch_macros(ro, uids, macro, expected):
    r = ro.ok(f"FETCH 1 {macro}")
    items = r.fetch_map()[1]
    assert set(items) == expected


def test_uid_fetch_always_includes_uid(ro, uids):
    r = ro.ok(f"UID FETCH {uids['simple']}:{uids['multi']} FLAGS")
    found = r.fetch_map()
    assert sorted(int(v["UID"]) for v in found.values()) == [uids["simple"], uids["eightbit"], uids["multi"]]
    assert sorted(found) == [1, 2, 3]


def test_uid_fetch_of_missing_uids_returns_nothing(ro, uids):
    r = ro.ok(f"UID FETCH {max(uids.values()) + 100}:{max(uids.values()) + 200} FLAGS")
    assert r.fetches() == []


def test_uid_fetch_star_is_the_last_message(ro, uids):
    r = ro.ok(f"UID FETCH {max(uids.values()) + 100}:* UID")
    assert [int(v["UID"]) for _, v in r.fetches()] == [max(uids.values())]


def test_fetch_sequence_sets(ro, uids):
    for spec, seqs in (("1:*", [1, 2, 3, 4, 5]), ("*", [5]), ("3:1", [1, 2, 3]), ("1,3", [1, 3]), ("2:2", [2]),
                       ("4:*", [4, 5])):
        r = ro.ok(f"FETCH {spec} UID")
        assert sorted(r.fetch_map()) == seqs, spec


# -- ENVELOPE -------------------------------------------------------------------------
def test_envelope_full(ro, uids):
    env = fetch_one(ro, uids["simple"], "ENVELOPE")["ENVELOPE"]
    assert env == [
        b"Mon, 01 Jan 2024 10:00:00 +0000",
        b"Quarterly report (folded)",
        [[b"Alice Q. Example", None, b"alice", b"example.org"]],
        [[b"Secretary", None, b"sec", b"example.org"]],
        [[None, None, b"replies", b"example.org"]],
        [[b"Bob", None, b"bob", b"example.org"], [None, None, b"carol", b"example.net"]],
        [[None, None, b"Team", None], [None, None, b"dave", b"example.com"],
         [b"Eve E.", None, b"eve", b"example.com"], [None, None, None, None]],
        None,
        b"<parent@example.org>",
        b"<simple-1@example.org>",
    ]


def test_envelope_defaults_sender_and_reply_to_to_from(ro, uids):
    env = fetch_one(ro, uids["multi"], "ENVELOPE")["ENVELOPE"]
    alice = [[b"Alice", None, b"alice", b"example.org"]]
    assert env[0] == b"Tue, 02 Jan 2024 09:30:00 +0100"
    assert env[1] == b"Multipart with attachment"
    assert env[2] == env[3] == env[4] == alice
    assert env[5] == [[b"Bob", None, b"bob", b"example.org"]]
    assert env[6] is None and env[7] is None and env[8] is None
    assert env[9] == b"<multi-1@example.org>"


def test_envelope_with_raw_8bit_header_is_sent_as_literal(ro, uids):
    r = ro.ok(f"UID FETCH {uids['eightbit']} ENVELOPE")
    (wire,) = r.untagged
    # 8-bit bytes cannot be in a quoted string: they must arrive as a literal, intact
    assert b"{%d}\r\n%s" % (len(EIGHTBIT_SUBJECT), EIGHTBIT_SUBJECT) in wire
    env = r.fetches()[0][1]["ENVELOPE"]
    assert env[1] == EIGHTBIT_SUBJECT
    assert env[2] == [[b"J\xf6rg", None, b"joerg", b"example.org"]]


def test_envelope_quoting_and_encoded_words(ro, uids):
    r = ro.ok(f"UID FETCH {uids['quoting']} ENVELOPE")
    env = r.fetches()[0][1]["ENVELOPE"]
    assert env[0] is None  # no Date:
    # encoded-words are not decoded in the ENVELOPE; quotes and backslashes survive
    assert env[1] == b'say "hi" \\ then =?UTF-8?Q?caf=C3=A9?='
    assert env[2] == [[b'Doe, "JD" John', None, b"jd", b"example.org"]]
    assert env[5] == [[None, None, b"undisclosed-recipients", None], [None, None, None, None]]
    assert env[9] is None


def test_envelope_and_bodystructure_of_minimal_message(ro, uids):
    items = fetch_one(ro, uids["bare"], "(ENVELOPE BODYSTRUCTURE)")
    bare = [[None, None, b"bare", b"example.org"]]
    assert items["ENVELOPE"] == [None, None, bare, bare, bare, None, None, None, None, None]
    body = b"no other headers\r\n"
    n = norm(items["BODYSTRUCTURE"], True)
    assert n[:2] == [b"TEXT", b"PLAIN"]
    assert n[2][0] == b"CHARSET" and n[2][1].upper() == b"US-ASCII"  # the RFC 2045 default
    assert n[3:8] == [None, None, b"7BIT", len(body), 1]


# -- BODY[...] sections -----------------------------------------------------------------
def test_body_whole_message(ro, uids):
    items = fetch_one(ro, uids["simple"], "BODY[]")
    assert items["BODY[]"] == SIMPLE
    assert "FLAGS" not in items  # read-only: no \Seen change to report


def test_body_header_and_text(ro, uids):
    items = fetch_one(ro, uids["simple"], "(BODY.PEEK[HEADER] BODY.PEEK[TEXT])")
    assert items["BODY[HEADER]"] == SIMPLE_HEADER
    assert items["BODY[TEXT]"] == SIMPLE_BODY


def test_rfc822_items(ro, uids):
    items = fetch_one(ro, uids["simple"], "(RFC822 RFC822.HEADER RFC822.TEXT RFC822.SIZE)")
    assert items["RFC822"] == SIMPLE
    assert items["RFC822.HEADER"] == SIMPLE_HEADER
    assert items["RFC822.TEXT"] == SIMPLE_BODY
    assert int(items["RFC822.SIZE"]) == len(SIMPLE)


def test_header_fields_repeated_and_folded_byte_for_byte(ro, uids):
    items = fetch_one(ro, uids["simple"], "BODY.PEEK[HEADER.FIELDS (x-custom RECEIVED)]")
    key = next(iter(items.keys() - {"UID"}))
    assert key.startswith("BODY[HEADER.FIELDS (") and key.endswith(")]")
    assert items[key] == (
        b"Received: from mx2.example.net by mx.example.org;\r\n"
        b"\tMon, 1 Jan 2024 10:00:02 +0000\r\n"
        b"X-Custom: one\r\n"
        b"Received: from client.example.com by mx2.example.net;\r\n"
        b"\tMon, 1 Jan 2024 10:00:01 +0000\r\n"
        b"x-custom: two\r\n"
        b"\r\n"
    )


def test_header_fields_folded_subject(ro, uids):
    items = fetch_one(ro, uids["simple"], "BODY.PEEK[HEADER.FIELDS (Subject)]")
    assert body_item(items) == b"Subject: Quarterly report\r\n (folded)\r\n\r\n"


def test_header_fields_missing_field_gives_blank_line(ro, uids):
    items = fetch_one(ro, uids["simple"], "BODY.PEEK[HEADER.FIELDS (X-Not-There)]")
    assert body_item(items) == b"\r\n"


def test_header_fields_not(ro, uids):
    items = fetch_one(ro, uids["simple"], "BODY.PEEK[HEADER.FIELDS.NOT (Received X-CUSTOM subject Content-Type)]")
    expected = (
        b"Return-Path: <alice@example.org>\r\n"
        b"From: \"Alice Q. Example\" <alice@example.org>\r\n"
        b"Sender: Secretary <sec@example.org>\r\n"
        b"Reply-To: replies@example.org\r\n"
        b"To: Bob <bob@example.org>, carol@example.net\r\n"
        b"Cc: Team: dave@example.com, \"Eve E.\" <eve@example.com>;\r\n"
        b"Date: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
        b"Message-ID: <simple-1@example.org>\r\n"
        b"In-Reply-To: <parent@example.org>\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n"
    )
    assert body_item(items) == expected


def test_header_fields_with_8bit_value(ro, uids):
    r = ro.ok(f"UID FETCH {uids['eightbit']} BODY.PEEK[HEADER.FIELDS (SUBJECT FROM)]")
    expected = b"From: J\xf6rg <joerg@example.org>\r\nSubject: " + EIGHTBIT_SUBJECT + b"\r\n\r\n"
    assert b"{%d}\r\n" % len(expected) + expected in r.untagged[0]
    assert body_item(r.fetches()[0][1]) == expected


def test_body_1_of_single_part_message_is_its_body(ro, uids):
    items = fetch_one(ro, uids["simple"], "BODY.PEEK[1]")
    assert items["BODY[1]"] == SIMPLE_BODY


@pytest.mark.parametrize("section,expected", [
    ("TEXT", MULTI_BODY),
    ("HEADER", MULTI_HEADER),
    ("1", PART1_BODY),
    ("1.MIME", PART1_MIME),
    ("2", INNER),
    ("2.MIME", PART2_MIME),
    ("2.HEADER", INNER_HEADER),
    ("2.TEXT", INNER_BODY),
    ("2.1", INNER1_BODY),
    ("2.1.MIME", INNER1_MIME),
    ("2.2", INNER2_BODY),
    ("2.2.MIME", INNER2_MIME),
    ("2.HEADER.FIELDS (SUBJECT)", b"Subject: Inner message\r\n\r\n"),
    ("2.HEADER.FIELDS.NOT (FROM TO DATE MESSAGE-ID MIME-VERSION CONTENT-TYPE)", b"Subject: Inner message\r\n\r\n"),
    ("3", PART3_BODY),
    ("3.MIME", PART3_MIME),
])
def test_multipart_sections(ro, uids, section, expected):
    r = ro.ok(f"UID FETCH {uids['multi']} BODY.PEEK[{section}]")
    items = r.fetches()[0][1]
    assert f"BODY[{section}]" in items, items.keys()
    assert items[f"BODY[{section}]"] == expected


# -- partial fetches ------------------------------------------------------------------
def test_partial_whole_message(ro, uids):
    items = fetch_one(ro, uids["simple"], "BODY.PEEK[]<0.20>")
    assert items["BODY[]<0>"] == SIMPLE[:20]
    items = fetch_one(ro, uids["simple"], "BODY.PEEK[]<7.30>")
    assert items["BODY[]<7>"] == SIMPLE[7:37]


def test_partial_of_section_and_past_the_end(ro, uids):
    items = fetch_one(ro, uids["simple"], "BODY.PEEK[TEXT]<5.10>")
    assert items["BODY[TEXT]<5>"] == SIMPLE_BODY[5:15]
    items = fetch_one(ro, uids["simple"], f"BODY.PEEK[TEXT]<{len(SIMPLE_BODY) - 4}.100>")
    assert items[f"BODY[TEXT]<{len(SIMPLE_BODY) - 4}>"] == SIMPLE_BODY[-4:]
    items = fetch_one(ro, uids["simple"], f"BODY.PEEK[TEXT]<{len(SIMPLE_BODY) + 10}.5>")
    assert items[f"BODY[TEXT]<{len(SIMPLE_BODY) + 10}>"] == b""


def test_partial_of_mime_part(ro, uids):
    items = fetch_one(ro, uids["multi"], "BODY.PEEK[2.1]<6.5>")
    assert items["BODY[2.1]<6>"] == INNER1_BODY[6:11]


def test_several_sections_in_one_fetch(ro, uids):
    items = fetch_one(ro, uids["multi"], "(BODY.PEEK[1] BODY.PEEK[3] RFC822.SIZE BODY.PEEK[2.HEADER])")
    assert items["BODY[1]"] == PART1_BODY
    assert items["BODY[3]"] == PART3_BODY
    assert items["BODY[2.HEADER]"] == INNER_HEADER
    assert int(items["RFC822.SIZE"]) == len(MULTI)


# -- BODY / BODYSTRUCTURE -------------------------------------------------------------
def _num(v):
    return int(v) if isinstance(v, Atom) and v.isdigit() else v


def _params(p):
    if p is None:
        return None
    return [x.upper() if i % 2 == 0 else x for i, x in enumerate(p)]


def norm(body, extensible: bool):
    """Case-normalise the parts of a body structure that are case-insensitive."""
    if isinstance(body[0], list):  # multipart
        i = 0
        kids = []
        while isinstance(body[i], list):
            kids.append(norm(body[i], extensible))
            i += 1
        ext = list(body[i + 1:])  # params, disposition, language, location
        if ext:
            ext[0] = _params(ext[0])
        if len(ext) > 1 and isinstance(ext[1], list):
            ext[1] = [ext[1][0].upper(), _params(ext[1][1])]
        return kids + [body[i].upper()] + ext
    out = [body[0].upper(), body[1].upper(), _params(body[2]), body[3], body[4], body[5].upper(), _num(body[6])]
    rest = list(body[7:])
    if out[0] == b"MESSAGE" and out[1] == b"RFC822":
        out += [rest[0], norm(rest[1], extensible), _num(rest[2])]
        rest = rest[3:]
    elif out[0] == b"TEXT":
        out.append(_num(rest[0]))
        rest = rest[1:]
    if rest:  # md5, disposition, language, location
        disp = rest[1] if len(rest) > 1 else None
        if isinstance(disp, list):
            disp = [disp[0].upper(), _params(disp[1])]
        rest = [rest[0], disp] + rest[2:]
    return out + rest


def test_bodystructure_single_part(ro, uids):
    bs = fetch_one(ro, uids["simple"], "BODYSTRUCTURE")["BODYSTRUCTURE"]
    lines = SIMPLE_BODY.count(b"\r\n")
    n = norm(bs, True)
    assert n[:8] == [b"TEXT", b"PLAIN", [b"CHARSET", b"utf-8"], None, None, b"8BIT", len(SIMPLE_BODY), lines]
    assert all(x is None for x in n[8:])  # no MD5, disposition, language or location


def test_body_single_part_has_no_extension_data(ro, uids):
    body = fetch_one(ro, uids["simple"], "BODY")["BODY"]
    assert norm(body, False) == [b"TEXT", b"PLAIN", [b"CHARSET", b"utf-8"], None, None, b"8BIT",
                                 len(SIMPLE_BODY), SIMPLE_BODY.count(b"\r\n")]


def _inner_envelope():
    carol = [[b"Carol", None, b"carol", b"example.net"]]
    return [b"Mon, 01 Jan 2024 08:00:00 +0000", b"Inner message", carol, carol, carol,
            [[b"Alice", None, b"alice", b"example.org"]], None, None, None, b"<inner-1@example.net>"]


def test_bodystructure_multipart(ro, uids):
    bs = fetch_one(ro, uids["multi"], "BODYSTRUCTURE")["BODYSTRUCTURE"]
    n = norm(bs, True)
    part1, part2, part3, subtype = n[0], n[1], n[2], n[3]
    assert subtype == b"MIXED"
    assert n[4] == [b"BOUNDARY", b"outer"]
    assert part1[:8] == [b"TEXT", b"PLAIN", [b"CHARSET", b"us-ascii"], None, None, b"7BIT",
                         len(PART1_BODY), 1]
    assert part2[:7] == [b"MESSAGE", b"RFC822", None, None, b"forwarded", b"7BIT", len(INNER)]
    assert part2[7] == _inner_envelope()
    inner = part2[8]
    assert inner[0][:8] == [b"TEXT", b"PLAIN", [b"CHARSET", b"utf-8"], None, None, b"7BIT", len(INNER1_BODY), 1]
    assert inner[1][:8] == [b"TEXT", b"HTML", [b"CHARSET", b"utf-8"], None, None, b"7BIT", len(INNER2_BODY), 1]
    assert inner[2] == b"ALTERNATIVE"
    assert inner[3] == [b"BOUNDARY", b"inner"]
    assert part2[9] == INNER.count(b"\r\n")
    assert part3[:7] == [b"APPLICATION", b"OCTET-STREAM", [b"NAME", b"data.bin"], None, None, b"BASE64",
                         len(PART3_BODY)]
    assert part3[7] is None  # MD5
    assert part3[8] == [b"ATTACHMENT", [b"FILENAME", b"data.bin"]]


def test_body_multipart_without_extension_data(ro, uids):
    body = fetch_one(ro, uids["multi"], "BODY")["BODY"]
    n = norm(body, False)
    assert len(n) == 4 and n[3] == b"MIXED"
    assert n[0] == [b"TEXT", b"PLAIN", [b"CHARSET", b"us-ascii"], None, None, b"7BIT", len(PART1_BODY), 1]
    assert n[1][:8] == [b"MESSAGE", b"RFC822", None, None, b"forwarded", b"7BIT", len(INNER), _inner_envelope()]
    assert len(n[1]) == 10 and n[1][9] == INNER.count(b"\r\n")
    assert len(n[1][8]) == 3 and n[1][8][2] == b"ALTERNATIVE"
    assert n[2] == [b"APPLICATION", b"OCTET-STREAM", [b"NAME", b"data.bin"], None, None, b"BASE64",
                    len(PART3_BODY)]


# -- \Seen -----------------------------------------------------------------------------
@pytest.fixture
def rw(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        name = "SeenBox"
        if c.command(f"CREATE {name}").ok:
            c.append(name, SIMPLE)
        c.select(name)
        c.ok("STORE 1 -FLAGS.SILENT (\\Seen)")
        yield c


@pytest.mark.parametrize("item", ["BODY[]", "BODY[TEXT]", "BODY[1]", "BODY[HEADER]", "RFC822", "RFC822.TEXT",
                                  "BODY[]<0.10>"])
def test_non_peek_fetch_sets_seen_and_reports_flags(rw, item):
    r = rw.ok(f"FETCH 1 {item}")
    items = r.fetch_map()[1]
    assert b"\\Seen" in items.get("FLAGS", []), f"{item}: FLAGS with \\Seen must be reported: {r.untagged!r}"
    assert b"\\Seen" in rw.ok("FETCH 1 FLAGS").fetch_map()[1]["FLAGS"]


@pytest.mark.parametrize("item", ["BODY.PEEK[]", "BODY.PEEK[TEXT]", "BODY.PEEK[1]", "RFC822.HEADER", "RFC822.SIZE",
                                  "ENVELOPE", "BODYSTRUCTURE", "BODY", "INTERNALDATE", "BODY.PEEK[]<0.10>"])
def test_peek_and_metadata_do_not_set_seen(rw, item):
    r = rw.ok(f"FETCH 1 {item}")
    for _, items in r.fetches():
        assert b"\\Seen" not in items.get("FLAGS", [])
    assert b"\\Seen" not in rw.ok("FETCH 1 FLAGS").fetch_map()[1]["FLAGS"]


def test_fetch_flags_together_with_seen_setting_item(rw):
    r = rw.ok("FETCH 1 (FLAGS BODY[TEXT])")
    flags = [v["FLAGS"] for _, v in r.fetches() if "FLAGS" in v]
    assert flags and b"\\Seen" in flags[-1], r.untagged  # the last word on FLAGS includes \Seen


def test_already_seen_message_fetch(rw):
    rw.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
    r = rw.ok("FETCH 1 BODY[]")
    assert r.fetch_map()[1]["BODY[]"] == SIMPLE


# -- stored form: bare LF files, files without size fields ----------------------------------
BARE_LF = b"From: lf@example.org\nSubject: bare LF\nDate: Thu, 04 Jan 2024 10:00:00 +0000\n\nline 1\nline 2\n"


def _as_crlf(data: bytes) -> bytes:
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def test_rfc822_size_counts_crlf_for_bare_lf_delivery(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        c.ok("CREATE BareLF")
        done = run_cli("deliver", "demo", "--folder", "BareLF", stdin=BARE_LF, root=srv.root)
        assert done.returncode == 0, done.stderr
        c.select("BareLF")
        items = c.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODYSTRUCTURE)").fetch_map()[1]
        expected = _as_crlf(BARE_LF)
        assert int(items["RFC822.SIZE"]) == len(expected)
        assert items["BODY[]"] == expected
        assert len(items["BODY[HEADER]"]) + len(items["BODY[TEXT]"]) == int(items["RFC822.SIZE"])
        assert items["BODY[TEXT]"] == b"line 1\r\nline 2\r\n"
        assert _num(items["BODYSTRUCTURE"][6]) == len(b"line 1\r\nline 2\r\n")


def test_rfc822_size_for_file_without_size_fields(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        c.ok("CREATE NoSizes")
        folder = os.path.join(srv.root, "demo", ".NoSizes")
        mixed = b"From: mixed@example.org\r\nSubject: mixed endings\n\r\nfirst\nsecond\r\nthird\n"
        path = os.path.join(folder, "cur", "1704103200.M1P1.testhost:2,S")
        with open(path, "wb") as f:
            f.write(mixed)
        os.utime(path, (1704103200, 1704103200))
        c.select("NoSizes")
        items = c.ok("FETCH 1 (RFC822.SIZE RFC822 FLAGS INTERNALDATE)").fetch_map()[1]
        assert int(items["RFC822.SIZE"]) == len(_as_crlf(mixed))
        assert items["RFC822"] == _as_crlf(mixed)
        assert b"\\Seen" in items["FLAGS"]
        assert items["INTERNALDATE"] == b"01-Jan-2024 10:00:00 +0000"


def test_nul_byte_is_never_sent_in_a_literal(srv):
    # RFC 3501 9: literal = "{" number "}" CRLF *CHAR8, and CHAR8 excludes %x00
    with RawIMAP(srv.port) as c:
        c.login()
        c.ok("CREATE NulBox")
        done = run_cli("deliver", "demo", "--folder", "NulBox",
                       stdin=b"Subject: nul\r\n\r\nab\x00cd\r\n", root=srv.root)
        assert done.returncode == 0, done.stderr
        c.select("NulBox")
        r = c.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[] BODY.PEEK[TEXT] RFC822.TEXT)")
        (wire,) = r.untagged
        assert b"\x00" not in wire
        items = r.fetch_map()[1]
        assert len(items["BODY[]"]) == int(items["RFC822.SIZE"])


# -- other clients ------------------------------------------------------------------------
def test_imapclient_fetch(srv, uids):
    c = IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10)
    try:
        c.login("demo", "demo")
        c.select_folder("Fetch", readonly=True)
        data = c.fetch([uids["simple"], uids["multi"]], ["BODY.PEEK[]", "RFC822.SIZE", "ENVELOPE", "FLAGS"])
        assert data[uids["simple"]][b"BODY[]"] == SIMPLE
        assert data[uids["multi"]][b"RFC822.SIZE"] == len(MULTI)
        env = data[uids["simple"]][b"ENVELOPE"]
        assert env.subject == b"Quarterly report (folded)"
        assert env.from_[0].mailbox == b"alice" and env.from_[0].host == b"example.org"
        assert b"\\Flagged" in data[uids["simple"]][b"FLAGS"]
    finally:
        c.logout()


# -- the bundled sample Maildir (bare-LF files, W= sizes, a 1.2 MB message) ----------------------
@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    root = tmp_path_factory.mktemp("sample")
    copy_sample(str(root))
    server = ServerProcess(str(root))
    server.add_users()
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize("folder", ["", ".Drafts", ".Junk"])
def test_sample_sizes_are_crlf_lengths_of_the_files(sample, folder):
    directory = os.path.join(sample.root, "demo", folder)
    on_disk = []
    for sub in ("cur", "new"):
        for entry in os.listdir(os.path.join(directory, sub)):
            with open(os.path.join(directory, sub, entry), "rb") as f:
                on_disk.append(_as_crlf(f.read()))
    with RawIMAP(sample.port, timeout=30) as c:
        c.login()
        c.select(folder[1:] or "INBOX", examine=True)
        found = c.ok("FETCH 1:* (RFC822.SIZE BODY.PEEK[])").fetch_map()
    assert len(found) == len(on_disk)
    for seq, items in found.items():
        assert int(items["RFC822.SIZE"]) == len(items["BODY[]"]), seq
    assert sorted(v["BODY[]"] for v in found.values()) == sorted(on_disk)

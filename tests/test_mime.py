"""Tests for pushimapd.storage.mime (FETCH sections, ENVELOPE, BODYSTRUCTURE, SEARCH helpers).

Expected sizes are counted by hand from the messages below: bodies are CRLF,
the CRLF in front of a boundary line belongs to the boundary, and a text
part's line count is the number of line breaks in its body.
"""

import datetime
import random

import pytest

from pushimapd.commands.fetch_structure import bodystructure, envelope
from pushimapd.storage.addresses import parse_addresses
from pushimapd.storage.maildir.reader import MessageReader
from pushimapd.storage.mime import ParsedMessage, decode_rfc2047, normalize_crlf


def crlf(*lines: bytes) -> bytes:
    return b"".join(line + b"\r\n" for line in lines)


def parse(raw: bytes) -> ParsedMessage:
    return ParsedMessage(normalize_crlf(raw))


# --------------------------------------------------------------- normalize_crlf

def test_normalize_crlf_bare_lf_and_mixes():
    assert normalize_crlf(b"a\nb\r\nc\n") == b"a\r\nb\r\nc\r\n"
    assert normalize_crlf(b"\n\n") == b"\r\n\r\n"
    assert normalize_crlf(b"no newline") == b"no newline"
    assert normalize_crlf(b"") == b""


def test_normalize_crlf_idempotent_and_keeps_lone_cr():
    for raw in [b"a\nb\r\nc", b"x\r\r\ny\n", b"lone\rcr\n", b"\r\n\n\r\n"]:
        once = normalize_crlf(raw)
        assert normalize_crlf(once) == once
    assert normalize_crlf(b"lone\rcr\n") == b"lone\rcr\r\n"
    already = crlf(b"Subject: x", b"", b"body")
    assert normalize_crlf(already) == already


# --------------------------------------------------------------- plain message

PLAIN = crlf(
    b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)",
    b"From: Terry Gray <gray@cac.washington.edu>",
    b"Subject: IMAP4rev1 WG mtg summary and minutes",
    b"To: imap@cac.washington.edu",
    b"cc: minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>",
    b"Message-Id: <B27397-0100000@cac.washington.edu>",
    b"MIME-Version: 1.0",
    b"",
    b"Hello Joe, do you think we can meet at 3:30 tomorrow?",
    b"Second line.",
)
PLAIN_HEADER_LEN = PLAIN.index(b"\r\n\r\n") + 4


def test_plain_sections():
    m = ParsedMessage(PLAIN)
    body = b"Hello Joe, do you think we can meet at 3:30 tomorrow?\r\nSecond line.\r\n"
    assert m.section((), None) == PLAIN
    assert m.section((), "HEADER") == PLAIN[:PLAIN_HEADER_LEN]
    assert m.section((), "HEADER").endswith(b"MIME-Version: 1.0\r\n\r\n")
    assert m.section((), "TEXT") == body
    assert m.section((1,), None) == body
    assert m.section((1,), "MIME") == PLAIN[:PLAIN_HEADER_LEN]
    assert m.section((), "header") == m.section((), "HEADER")  # case-insensitive


def test_plain_missing_parts_are_none():
    m = ParsedMessage(PLAIN)
    assert m.section((2,), None) is None
    assert m.section((0,), None) is None
    assert m.section((1, 1), None) is None
    assert m.section((1,), "HEADER") is None  # part 1 is not message/rfc822
    assert m.section((1,), "TEXT") is None
    assert m.section((), "MIME") is None


def test_plain_envelope_rfc3501_example():
    m = ParsedMessage(PLAIN)
    assert envelope(m) == (
        b'("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'(("Terry Gray" NIL "gray" "cac.washington.edu")) '
        b'((NIL NIL "imap" "cac.washington.edu")) '
        b'((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) '
        b'NIL NIL "<B27397-0100000@cac.washington.edu>")'
    )


def test_plain_bodystructure():
    m = ParsedMessage(PLAIN)
    # 53 + 2 + 12 + 2 = 69 octets, 2 lines
    assert bodystructure(m, False) == b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 69 2)'
    assert bodystructure(m, True) == (
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 69 2 NIL NIL NIL NIL)'
    )


def test_plain_sent_date_and_header_values():
    m = ParsedMessage(PLAIN)
    assert m.sent_date() == datetime.date(1996, 7, 17)
    assert m.header_values("SUBJECT") == ["IMAP4rev1 WG mtg summary and minutes"]
    assert m.header_values("cc") == ["minutes@CNRI.Reston.VA.US, John Klensin <KLENSIN@MIT.EDU>"]
    assert m.header_values("x-missing") == []
    assert "3:30 tomorrow" in m.search_text()


def test_sent_date_uses_own_timezone_and_handles_garbage():
    late = parse(crlf(b"Date: Mon, 31 Dec 2001 23:30:00 -1100", b"", b"x"))
    assert late.sent_date() == datetime.date(2001, 12, 31)  # 2002-01-01 in UTC
    assert parse(crlf(b"Date: not a date", b"", b"x")).sent_date() is None
    assert parse(crlf(b"Subject: no date", b"", b"x")).sent_date() is None
    assert parse(crlf(b"Date: \xff\xfe", b"", b"x")).sent_date() is None


# --------------------------------------------------------------- RFC 3501 BODYSTRUCTURE example shape

RFC_EXAMPLE = crlf(
    b"MIME-Version: 1.0",
    b'Content-Type: MULTIPART/MIXED; BOUNDARY="xyz"',
    b"",
    b"--xyz",
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII",
    b"",
    b"Hello,",
    b"this is text.",
    b"--xyz",
    b"Content-Type: TEXT/PLAIN; CHARSET=US-ASCII; NAME=cc.diff",
    b"Content-ID: <960723163407.20117h@cac.washington.edu>",
    b"Content-Description: Compiled diff",
    b"Content-Transfer-Encoding: BASE64",
    b"",
    b"aGVsbG8K",
    b"--xyz--",
)


def test_rfc3501_bodystructure_example_shape():
    m = ParsedMessage(RFC_EXAMPLE)
    # part 1 = "Hello,\r\nthis is text." = 21 octets, 1 line break; part 2 = 8 octets
    assert bodystructure(m, False) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 21 1)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII" "NAME" "cc.diff") '
        b'"<960723163407.20117h@cac.washington.edu>" "Compiled diff" "BASE64" 8 0) "MIXED")'
    )
    assert m.section((1,), None) == b"Hello,\r\nthis is text."
    assert m.section((2,), None) == b"aGVsbG8K"
    assert m.section((3,), None) is None
    assert "hello\n" in m.search_text()  # base64 part decoded


# --------------------------------------------------------------- multipart/alternative

ALTERNATIVE = crlf(
    b"From: a@example.org",
    b"Subject: alt",
    b"Content-Type: multipart/alternative; boundary=\"=_alt\"",
    b"",
    b"This is a multi-part message in MIME format.",
    b"",
    b"--=_alt",
    b"Content-Type: text/plain; charset=\"iso-8859-1\"",
    b"Content-Transfer-Encoding: quoted-printable",
    b"",
    b"Gr=FC=DFe",
    b"",
    b"--=_alt",
    b"Content-Type: text/html; charset=utf-8",
    b"Content-Language: en, de",
    b"",
    b"<p>Hi</p>",
    b"--=_alt--",
    b"epilogue",
)


def test_alternative_sections():
    m = ParsedMessage(ALTERNATIVE)
    assert m.section((1,), None) == b"Gr=FC=DFe\r\n"  # the blank line before the boundary stays
    assert m.section((2,), None) == b"<p>Hi</p>"
    assert m.section((1,), "MIME") == crlf(
        b"Content-Type: text/plain; charset=\"iso-8859-1\"",
        b"Content-Transfer-Encoding: quoted-printable",
        b"",
    )
    assert m.section((2,), "MIME") == crlf(
        b"Content-Type: text/html; charset=utf-8", b"Content-Language: en, de", b"")
    assert m.section((3,), None) is None
    text = m.section((), "TEXT")
    assert text.startswith(b"This is a multi-part") and text.endswith(b"--=_alt--\r\nepilogue\r\n")


def test_alternative_bodystructure():
    m = ParsedMessage(ALTERNATIVE)
    assert bodystructure(m, True) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "QUOTED-PRINTABLE" 11 1 NIL NIL NIL NIL)'
        b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 9 0 NIL NIL ("en" "de") NIL)'
        b' "ALTERNATIVE" ("BOUNDARY" "=_alt") NIL NIL NIL)'
    )
    assert bodystructure(m, False) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "iso-8859-1") NIL NIL "QUOTED-PRINTABLE" 11 1)'
        b'("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 9 0) "ALTERNATIVE")'
    )


def test_alternative_search_text_decodes_qp_and_charset():
    text = ParsedMessage(ALTERNATIVE).search_text()
    assert "Grüße" in text
    assert "<p>Hi</p>" in text
    assert "multi-part message" not in text  # the preamble is not a part


# --------------------------------------------------------------- nested multipart/mixed with attachments

NESTED = crlf(
    b"From: Sender <sender@example.org>",
    b"To: rcpt@example.org",
    b"Subject: nested",
    b"Content-Type: multipart/mixed; boundary=outer",
    b"",
    b"--outer",
    b"Content-Type: multipart/alternative; boundary=inner",
    b"",
    b"--inner",
    b"Content-Type: text/plain",
    b"",
    b"plain body",
    b"--inner",
    b"Content-Type: text/html",
    b"",
    b"<b>html body</b>",
    b"--inner--",
    b"",
    b"--outer",
    b"Content-Type: application/pdf; name=\"doc.pdf\"",
    b"Content-Disposition: attachment; filename=\"doc.pdf\"",
    b"Content-Transfer-Encoding: base64",
    b"Content-Location: http://example.org/doc.pdf",
    b"Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==",
    b"",
    b"JVBERi0xLjQK",
    b"--outer",
    b"Content-Type: image/png",
    b"Content-Disposition: inline",
    b"Content-Transfer-Encoding: base64",
    b"",
    b"iVBORw0KGgo=",
    b"--outer--",
)


def test_nested_sections():
    m = ParsedMessage(NESTED)
    assert m.section((1, 1), None) == b"plain body"
    assert m.section((1, 2), None) == b"<b>html body</b>"
    assert m.section((1, 2), "MIME") == b"Content-Type: text/html\r\n\r\n"
    assert m.section((1,), None) == crlf(
        b"--inner", b"Content-Type: text/plain", b"", b"plain body",
        b"--inner", b"Content-Type: text/html", b"", b"<b>html body</b>", b"--inner--",
    )
    assert m.section((1,), "MIME") == b"Content-Type: multipart/alternative; boundary=inner\r\n\r\n"
    assert m.section((2,), None) == b"JVBERi0xLjQK"
    assert m.section((3,), None) == b"iVBORw0KGgo="
    assert m.section((1, 3), None) is None
    assert m.section((4,), None) is None
    assert m.section((2, 1), None) is None
    assert m.section((1, 1, 1), None) is None


def test_nested_bodystructure():
    m = ParsedMessage(NESTED)
    assert bodystructure(m, True) == (
        b'((("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 10 0 NIL NIL NIL NIL)'
        b'("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 16 0 NIL NIL NIL NIL)'
        b' "ALTERNATIVE" ("BOUNDARY" "inner") NIL NIL NIL)'
        b'("APPLICATION" "PDF" ("NAME" "doc.pdf") NIL NIL "BASE64" 12 "Q2hlY2sgSW50ZWdyaXR5IQ=="'
        b' ("attachment" ("FILENAME" "doc.pdf")) NIL "http://example.org/doc.pdf")'
        b'("IMAGE" "PNG" NIL NIL NIL "BASE64" 12 NIL ("inline" NIL) NIL NIL)'
        b' "MIXED" ("BOUNDARY" "outer") NIL NIL NIL)'
    )
    assert bodystructure(m, False) == (
        b'((("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 10 0)'
        b'("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 16 0) "ALTERNATIVE")'
        b'("APPLICATION" "PDF" ("NAME" "doc.pdf") NIL NIL "BASE64" 12)'
        b'("IMAGE" "PNG" NIL NIL NIL "BASE64" 12) "MIXED")'
    )


def test_nested_search_text_skips_attachments():
    text = ParsedMessage(NESTED).search_text()
    assert "plain body" in text and "html body" in text
    assert "PDF" not in text and "JVBER" not in text


# --------------------------------------------------------------- message/rfc822 containing multipart

INNER = crlf(
    b"From: Inner Person <inner@example.net>",
    b"Subject: inner subject",
    b"Message-ID: <inner@example.net>",
    b"Content-Type: multipart/mixed; boundary=ib",
    b"",
    b"--ib",
    b"Content-Type: text/plain; charset=us-ascii",
    b"",
    b"inner text",
    b"--ib",
    b"Content-Type: application/octet-stream",
    b"",
    b"BINARY",
    b"--ib--",
)
FORWARD = crlf(
    b"From: outer@example.com",
    b"Subject: Fwd: inner subject",
    b"Content-Type: multipart/mixed; boundary=ob",
    b"",
    b"--ob",
    b"",
    b"see attached",
    b"--ob",
    b"Content-Type: message/rfc822",
    b"Content-Disposition: attachment",
    b"",
) + INNER + crlf(b"--ob--")


def test_rfc822_sections():
    m = ParsedMessage(FORWARD)
    inner = INNER[:-2]  # the CRLF in front of "--ob--" belongs to the boundary
    inner_header_len = INNER.index(b"\r\n\r\n") + 4
    assert m.section((1,), None) == b"see attached"
    assert m.section((1,), "MIME") == b"\r\n"
    assert m.section((2,), None) == inner
    assert m.section((2,), "MIME") == crlf(
        b"Content-Type: message/rfc822", b"Content-Disposition: attachment", b"")
    assert m.section((2,), "HEADER") == INNER[:inner_header_len]
    assert m.section((2,), "TEXT") == inner[inner_header_len:]
    assert m.section((2,), "HEADER.FIELDS", ("Subject", "message-id")) == crlf(
        b"Subject: inner subject", b"Message-ID: <inner@example.net>", b"")
    assert m.section((2, 1), None) == b"inner text"
    assert m.section((2, 2), None) == b"BINARY"
    assert m.section((2, 1), "MIME") == b"Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    assert m.section((2, 3), None) is None
    assert m.section((2, 1), "HEADER") is None
    assert m.section((1,), "HEADER") is None


def test_rfc822_bodystructure():
    m = ParsedMessage(FORWARD)
    inner_size = len(INNER) - 2
    inner_lines = INNER.count(b"\n") - 1
    inner_env = (
        b'(NIL "inner subject" (("Inner Person" NIL "inner" "example.net"))'
        b' (("Inner Person" NIL "inner" "example.net")) (("Inner Person" NIL "inner" "example.net"))'
        b' NIL NIL NIL NIL "<inner@example.net>")'
    )
    assert envelope(m).startswith(b'(NIL "Fwd: inner subject" ((NIL NIL "outer" "example.com"))')
    assert bodystructure(m, False) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 12 0)'
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" %d ' % inner_size + inner_env +
        b' (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 0)'
        b'("APPLICATION" "OCTET-STREAM" NIL NIL NIL "7BIT" 6) "MIXED") %d) "MIXED")' % inner_lines
    )
    assert bodystructure(m, True) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 12 0 NIL NIL NIL NIL)'
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" %d ' % inner_size + inner_env +
        b' (("TEXT" "PLAIN" ("CHARSET" "us-ascii") NIL NIL "7BIT" 10 0 NIL NIL NIL NIL)'
        b'("APPLICATION" "OCTET-STREAM" NIL NIL NIL "7BIT" 6 NIL NIL NIL NIL)'
        b' "MIXED" ("BOUNDARY" "ib") NIL NIL NIL)'
        b' %d NIL ("attachment" NIL) NIL NIL) "MIXED" ("BOUNDARY" "ob") NIL NIL NIL)' % inner_lines
    )


def test_rfc822_search_text_includes_inner_text():
    text = ParsedMessage(FORWARD).search_text()
    assert "see attached" in text and "inner text" in text and "BINARY" not in text


def test_top_level_message_rfc822_numbering():
    raw = crlf(b"Content-Type: message/rfc822", b"") + crlf(
        b"Subject: enclosed", b"", b"enclosed body")
    m = ParsedMessage(raw)
    assert m.section((1,), None) == crlf(b"Subject: enclosed", b"", b"enclosed body")
    assert m.section((1,), "HEADER") == b"Subject: enclosed\r\n\r\n"
    assert m.section((1,), "TEXT") == b"enclosed body\r\n"
    assert m.section((1, 1), None) == b"enclosed body\r\n"  # non-multipart inner: its body
    assert m.section((1, 2), None) is None
    assert bodystructure(m, False) == (
        b'("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 36 (NIL "enclosed" NIL NIL NIL NIL NIL NIL NIL NIL)'
        b' ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 15 1) 3)'
    )


def test_multipart_digest_defaults_to_message_rfc822():
    raw = crlf(
        b"Content-Type: multipart/digest; boundary=d",
        b"",
        b"--d",
        b"",
        b"Subject: one",
        b"",
        b"first",
        b"--d--",
    )
    m = ParsedMessage(raw)
    assert bodystructure(m, False) == (
        b'(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 21 (NIL "one" NIL NIL NIL NIL NIL NIL NIL NIL)'
        b' ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 5 0) 2) "DIGEST")'
    )
    assert m.section((1,), "HEADER") == b"Subject: one\r\n\r\n"
    assert m.section((1, 1), None) == b"first"


# --------------------------------------------------------------- HEADER.FIELDS byte-exactness

RECEIVED = crlf(
    b"Received: from a.example by b.example;",
    b"\tMon, 1 Jan 2001 00:00:00 +0000",
    b"X-Other: 1",
    b"RECEIVED: from c.example by d.example; Tue, 2 Jan 2001 00:00:00 +0000",
    b"subject:   Spaced  Out  ",
    b"received: third",
    b"",
    b"body",
)


def test_header_fields_repeated_received_exact():
    m = ParsedMessage(RECEIVED)
    assert m.section((), "HEADER.FIELDS", ("Received",)) == crlf(
        b"Received: from a.example by b.example;",
        b"\tMon, 1 Jan 2001 00:00:00 +0000",
        b"RECEIVED: from c.example by d.example; Tue, 2 Jan 2001 00:00:00 +0000",
        b"received: third",
        b"",
    )
    assert m.section((), "HEADER.FIELDS", ("SUBJECT", "x-other")) == crlf(
        b"X-Other: 1", b"subject:   Spaced  Out  ", b"")


def test_header_fields_not_exact():
    m = ParsedMessage(RECEIVED)
    assert m.section((), "HEADER.FIELDS.NOT", ("received", "X-OTHER")) == crlf(
        b"subject:   Spaced  Out  ", b"")
    assert m.section((), "HEADER.FIELDS.NOT", ()) == m.section((), "HEADER")


def test_header_fields_no_match_is_blank_line():
    m = ParsedMessage(RECEIVED)
    assert m.section((), "HEADER.FIELDS", ("x-nope",)) == b"\r\n"
    assert m.section((), "HEADER.FIELDS", ()) == b"\r\n"


def test_header_values_unfolded_all_occurrences():
    m = ParsedMessage(RECEIVED)
    assert m.header_values("received") == [
        "from a.example by b.example;\tMon, 1 Jan 2001 00:00:00 +0000",
        "from c.example by d.example; Tue, 2 Jan 2001 00:00:00 +0000",
        "third",
    ]
    assert m.header_values("Subject") == ["Spaced  Out"]
    assert envelope(m).startswith(b'(NIL "Spaced  Out" NIL')


# --------------------------------------------------------------- 8-bit headers and RFC 2047

EIGHT_BIT = crlf(
    b"From: J\xc3\xb6rg M\xc3\xbcller <joerg@example.de>",
    b"To: =?ISO-8859-1?Q?Andr=E9?= Pirard <PIRARD@vm1.ulg.ac.be>",
    b"Subject: caf\xc3\xa9 \xff garbage",
    b"X-Encoded: =?utf-8?B?w6TDtg==?= =?utf-8?B?w7w=?= tail",
    b"Content-Type: text/plain; charset=utf-8",
    b"Content-Transfer-Encoding: 8bit",
    b"",
    b"K\xc3\xa4se",
)


def test_8bit_envelope_uses_literals():
    env = envelope(ParsedMessage(EIGHT_BIT))
    assert b'{15}\r\ncaf\xc3\xa9 \xff garbage' in env
    assert b'(({13}\r\nJ\xc3\xb6rg M\xc3\xbcller NIL "joerg" "example.de"))' in env
    # encoded-words are sent as they appear, not decoded
    assert b'(("=?ISO-8859-1?Q?Andr=E9?= Pirard" NIL "PIRARD" "vm1.ulg.ac.be"))' in env


def test_8bit_header_fields_exact_and_values_decoded():
    m = ParsedMessage(EIGHT_BIT)
    assert m.section((), "HEADER.FIELDS", ("subject", "from")) == crlf(
        b"From: J\xc3\xb6rg M\xc3\xbcller <joerg@example.de>",
        b"Subject: caf\xc3\xa9 \xff garbage",
        b"",
    )
    assert m.header_values("subject") == ["café \ufffd garbage"]
    assert m.header_values("to") == ["André Pirard <PIRARD@vm1.ulg.ac.be>"]
    assert m.header_values("x-encoded") == ["äöü tail"]  # adjacent words joined
    assert m.search_text() == "Käse\r\n"
    assert bodystructure(m, False) == b'("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "8BIT" 7 1)'


def test_8bit_parameter_values_and_field_names_do_not_raise():
    raw = crlf(
        b"X-\xe9t\xe9: value",
        b"Content-Type: application/octet-stream; name=\"r\xc3\xa9sum\xc3\xa9.pdf\"",
        b"Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
        b"",
        b"data",
    )
    m = ParsedMessage(raw)
    assert bodystructure(m, True) == (
        b'("APPLICATION" "OCTET-STREAM" ("NAME" {12}\r\nr\xc3\xa9sum\xc3\xa9.pdf) NIL NIL "7BIT" 6'
        b' NIL ("attachment" ("FILENAME*" "UTF-8\'\'r%C3%A9sum%C3%A9.pdf")) NIL NIL)'
    )
    assert m.section((), "HEADER.FIELDS", ("X-\udce9t\udce9",)) == b"X-\xe9t\xe9: value\r\n\r\n"


def test_decode_rfc2047_edge_cases():
    assert decode_rfc2047("plain") == "plain"
    assert decode_rfc2047("=?utf-8?q?a_b?=") == "a b"
    assert decode_rfc2047("x =?bogus-charset?q?hi?= y") == "x hi y"
    assert decode_rfc2047("=?utf-8?b?!!!?=") == ""
    assert decode_rfc2047("ä =?utf-8?q?=C3=B6?=") == "ä ö"
    # a multi-byte character split over two encoded-words
    assert decode_rfc2047("=?utf-8?b?ww==?= =?utf-8?b?pA==?=") == "ä"


# --------------------------------------------------------------- envelope: groups, defaults

def test_envelope_groups_and_defaults():
    raw = crlf(
        b"From: Alice <alice@example.com>",
        b"Reply-To: ",
        b"To: undisclosed-recipients:;",
        b"Cc: Team: Bob <bob@example.com>, \"Carol, C.\" <carol@example.com>;, dave@example.com",
        b"In-Reply-To: <parent@example.com>",
        b"",
        b"x",
    )
    alice = b'(("Alice" NIL "alice" "example.com"))'
    assert envelope(ParsedMessage(raw)) == (
        b"(NIL NIL " + alice + b" " + alice + b" " + alice +
        b' ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL))'
        b' ((NIL NIL "Team" NIL)("Bob" NIL "bob" "example.com")("Carol, C." NIL "carol" "example.com")'
        b'(NIL NIL NIL NIL)(NIL NIL "dave" "example.com"))'
        b' NIL "<parent@example.com>" NIL)'
    )


def test_envelope_missing_headers_all_nil():
    assert envelope(ParsedMessage(b"\r\nbody only\r\n")) == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"
    assert envelope(ParsedMessage(b"")) == b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)"


def test_envelope_sender_present_and_quoting():
    raw = crlf(
        b'Subject: say "hi" \\ there',
        b"From: a@example.com",
        b"Sender: b@example.com",
        b"",
    )
    env = envelope(ParsedMessage(raw))
    assert env == (
        b'(NIL "say \\"hi\\" \\\\ there" ((NIL NIL "a" "example.com")) ((NIL NIL "b" "example.com"))'
        b' ((NIL NIL "a" "example.com")) NIL NIL NIL NIL NIL)'
    )


def test_parse_addresses_variants():
    assert parse_addresses(b"<@r1.example,@r2.example:joe@example.com>") == [
        (None, b"@r1.example,@r2.example", b"joe", b"example.com")]
    assert parse_addresses(b"joe@example.com (Joe Bloggs)") == [
        (b"Joe Bloggs", None, b"joe", b"example.com")]
    assert parse_addresses(b"John Q. Public <jqp@[192.0.2.1]>") == [
        (b"John Q. Public", None, b"jqp", b"[192.0.2.1]")]
    assert parse_addresses(b'"a\\"b" <x.y@z>') == [(b'a"b', None, b"x.y", b"z")]
    assert parse_addresses(b"root") == [(None, None, b"root", b"MISSING_DOMAIN")]
    assert parse_addresses(b"") == [] and parse_addresses(None) == []
    assert parse_addresses(b"G: a@b") == [(None, None, b"G", None), (None, None, b"a", b"b"),
                                          (None, None, None, None)]  # unterminated group


# --------------------------------------------------------------- missing separator / malformed MIME

def test_no_header_body_separator_all_header():
    raw = crlf(b"Subject: only headers", b"From: a@b.example")
    m = ParsedMessage(raw)
    assert m.section((), "HEADER") == raw
    assert m.section((), "TEXT") == b""
    assert m.section((1,), None) == b""
    assert m.section((), "HEADER.FIELDS", ("from",)) == b"From: a@b.example\r\n\r\n"
    assert bodystructure(m, False) == b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 0 0)'
    assert envelope(m).startswith(b'(NIL "only headers" ((NIL NIL "a" "b.example"))')


def test_no_header_body_separator_body_starts_at_non_header_line():
    raw = crlf(b"Subject: hi", b"this line is not a header", b"more")
    m = ParsedMessage(raw)
    assert m.section((), "HEADER") == b"Subject: hi\r\n"
    assert m.section((), "TEXT") == crlf(b"this line is not a header", b"more")
    assert m.header_values("subject") == ["hi"]


def test_leading_mbox_from_line_stays_in_header():
    raw = crlf(b"From someone@example.com Mon Jan  1 00:00:00 2001", b"Subject: s", b"", b"b")
    m = ParsedMessage(raw)
    assert m.section((), "TEXT") == b"b\r\n"
    assert m.header_values("subject") == ["s"]
    assert m.section((), "HEADER.FIELDS.NOT", ("subject",)) == crlf(
        b"From someone@example.com Mon Jan  1 00:00:00 2001", b"")


def test_no_trailing_newline_header_fields():
    m = ParsedMessage(b"Subject: x")
    assert m.section((), "HEADER") == b"Subject: x"
    assert m.section((), "HEADER.FIELDS", ("subject",)) == b"Subject: x\r\n\r\n"


def test_missing_closing_boundary():
    raw = crlf(
        b"Content-Type: multipart/mixed; boundary=b",
        b"",
        b"--b",
        b"Content-Type: text/plain",
        b"",
        b"one",
        b"--b",
        b"",
        b"two, truncated",
    )
    m = ParsedMessage(raw)
    assert m.section((1,), None) == b"one"
    assert m.section((2,), None) == b"two, truncated\r\n"
    assert m.section((3,), None) is None
    assert bodystructure(m, False) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 3 0)'
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 16 1) "MIXED")'
    )


def test_missing_boundary_param_is_text_plain():
    raw = crlf(b"Content-Type: multipart/mixed", b"", b"--x", b"stuff", b"--x--")
    m = ParsedMessage(raw)
    assert bodystructure(m, True) == (
        b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 19 3 NIL NIL NIL NIL)')
    assert m.section((1,), None) == crlf(b"--x", b"stuff", b"--x--")
    assert m.section((2,), None) is None
    assert "stuff" in m.search_text()


def test_multipart_without_any_delimiter_is_text_plain():
    raw = crlf(b"Content-Type: multipart/mixed; boundary=zz", b"", b"no parts here")
    m = ParsedMessage(raw)
    assert bodystructure(m, False) == b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 15 1)'


def test_invalid_content_type_defaults_to_text_plain():
    raw = crlf(b"Content-Type: garbage", b"Content-Transfer-Encoding: (comment) Base64", b"", b"aGk=")
    m = ParsedMessage(raw)
    assert bodystructure(m, False) == b'("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "BASE64" 6 1)'
    assert m.search_text() == "hi"


def test_boundary_prefix_of_inner_boundary():
    raw = crlf(
        b"Content-Type: multipart/mixed; boundary=a",
        b"",
        b"--a",
        b"Content-Type: multipart/mixed; boundary=a-b",
        b"",
        b"--a-b",
        b"",
        b"deep",
        b"--a-b--",
        b"--a",
        b"",
        b"second",
        b"--a--",
    )
    m = ParsedMessage(raw)
    assert m.section((1, 1), None) == b"deep"
    assert m.section((2,), None) == b"second"


def test_bare_lf_message_through_normalize():
    raw = (b"Subject: lf\nContent-Type: multipart/mixed; boundary=q\n\n--q\n"
           b"Content-Type: text/plain\n\nline1\nline2\n--q--\n")
    m = ParsedMessage(normalize_crlf(raw))
    assert m.section((), "HEADER") == b"Subject: lf\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n"
    assert m.section((1,), None) == b"line1\r\nline2"
    assert m.section((1,), "MIME") == b"Content-Type: text/plain\r\n\r\n"
    assert bodystructure(m, False) == (
        b'(("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 12 1) "MIXED")')


def test_deep_nesting_does_not_recurse_forever():
    depth = 300
    head = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\r\n\r\n--b%d\r\n" % (i, i)
                    for i in range(depth))
    m = ParsedMessage(head + b"\r\nleaf\r\n")
    assert bodystructure(m, True).startswith(b"(((")
    assert m.section((1,) * 10, None) is not None
    assert m.search_text().endswith("leaf\r\n")


def test_parameters_rfc2231_joined_and_comments_stripped():
    raw = crlf(
        b"Content-Type: text/plain (a comment); format=flowed;",
        b" title*0*=us-ascii'en'This%20is; title*1=\" fun\"",
        b"Content-Language: (none) en-US",
        b"",
        b"x",
    )
    assert bodystructure(ParsedMessage(raw), True) == (
        b'("TEXT" "PLAIN" ("FORMAT" "flowed" "TITLE*" "us-ascii\'en\'This%20is%20fun"'
        b' "CHARSET" "US-ASCII") NIL NIL "7BIT" 3 1 NIL NIL "en-US" NIL)'
    )
    assert b'"TITLE*" "This is fun"' in bodystructure(ParsedMessage(raw), True, utf8=True)


@pytest.mark.parametrize("seed", range(40))
def test_random_garbage_never_raises(seed):
    rnd = random.Random(seed)
    pieces = [b"Content-Type: multipart/mixed; boundary=z\r\n", b"--z\r\n", b"--z--\r\n", b"\r\n",
              b"Content-Type: message/rfc822\r\n", b"From: \"unterminated <x@\r\n", b"To: a:b:c;;,\r\n",
              b" folded\r\n", b"\xff\xfe\x00\r\n", b"Subject: =?x?q?=ZZ?=\r\n", b"Content-Type: (\r\n",
              b"text\r\n", b"Content-Transfer-Encoding: base64\r\n", b"====\r\n", b"\r", b"\n"]
    raw = normalize_crlf(b"".join(rnd.choice(pieces) for _ in range(rnd.randint(0, 40))))
    m = ParsedMessage(raw)
    envelope(m)
    bodystructure(m, True)
    bodystructure(m, False)
    m.search_text()
    m.sent_date()
    m.header_values("to")
    for part in [(), (1,), (2,), (1, 1), (2, 1, 1), (3, 2)]:
        for text in [None, "HEADER", "TEXT", "MIME", "HEADER.FIELDS", "HEADER.FIELDS.NOT"]:
            result = m.section(part, text, ("to", "content-type"))
            assert result is None or isinstance(result, bytes)
            if result is not None and text in (None, "HEADER", "TEXT", "MIME"):
                assert result in raw


# ------------------------------------------- header sections from the header alone

_HEADER_EDGES = [
    b"From: a@b\nSubject: lf only\n\nbody\n",
    b"From: a@b\r\nSubject: mixed\n\r\nbody\r\n",
    b"From: a@b\r\nSubject: no blank line, no body\r\n",
    b"\r\nbody right after an empty header\r\n",
    b"From someone Mon Jan  1 00:00:00 2024\nFrom: a@b\nSubject: mbox\n\nbody\n",
    b"Subject: folded\r\n  over two\r\n\tlines\r\nTo: c@d\r\n\r\nbody\r\n",
    b"Subject: stops at a non-field line\r\nthis is not a field\r\n\r\nbody\r\n",
    b"Subject: lone\rCR\r\nX-A: 1\r\r\n\r\nbody\r\n",
    b"X-Long: " + b"x" * 20000 + b"\r\nSubject: past the first read\r\n\r\nbody\r\n",
    b"Subject: \xc3\xa4 8-bit\r\nFrom: a@b\r\n\r\n\r\n\r\nbody after blank lines\r\n",
]


class _FileReader(MessageReader):
    """A `MessageReader` over plain files, as the Maildir mailbox uses it."""

    def __init__(self, paths):
        super().__init__()
        self.paths = paths

    def file_path(self, uid):
        return self.paths.get(uid)


@pytest.mark.parametrize("sample", ["edges", "maildir-sample"])
def test_header_sections_from_the_header_block_equal_the_whole_message(tmp_path, sample):
    """FETCH renders BODY[HEADER...] from `header_block` (the body is not
    read); on every sample and edge case that must equal the full parse."""
    import pathlib

    if sample == "edges":
        raws = _HEADER_EDGES
    else:
        root = pathlib.Path(__file__).resolve().parent.parent / "maildir-sample"
        raws = [p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file() and p.parent.name in ("cur", "new")]
        assert len(raws) > 20
    paths = {}
    for uid, raw in enumerate(raws, 1):
        path = tmp_path / str(uid)
        path.write_bytes(raw)
        paths[uid] = str(path)
    reader = _FileReader(paths)
    fields = [("FROM", "SUBJECT", "DATE"), ("X-LONG",), ("TO", "CC", "MESSAGE-ID"), ("",)]
    for uid, raw in enumerate(raws, 1):
        whole = parse(raw)
        block = reader.header_block(uid)
        alone = ParsedMessage(block)
        assert alone.section((), "HEADER") == whole.section((), "HEADER"), raw[:60]
        for names in fields:
            for text in ("HEADER.FIELDS", "HEADER.FIELDS.NOT"):
                assert alone.section((), text, names) == whole.section((), text, names), (raw[:60], text, names)


# ------------------------------------------------------ RFC 2231 in BODYSTRUCTURE

def test_rfc2231_continuations_joined_as_dovecot_does_and_decoded_for_rev2():
    from pushimapd.commands.fetch_structure import join_rfc2231

    example = [(b"charset", b"us-ascii"),  # RFC 2231 section 4.1's example, then a plain one
               (b"title*0*", b"us-ascii'en'This%20is%20even%20more%20"),
               (b"title*1*", b"%2A%2A%2Afun%2A%2A%2A%20"), (b"title*2", b"isn't it!"), (b"x", b"y")]
    assert join_rfc2231(example) == [
        (b"charset", b"us-ascii"), (b"title*", b"us-ascii'en'This%20is%20even%20more%20%2A%2A%2Afun%2A%2A%2A%20isn%27t%20it!"),
        (b"x", b"y")]
    assert join_rfc2231(example, utf8=True)[1] == (b"title*", b"This is even more ***fun*** isn't it!")
    plain = [(b"Filename*1", b"name.pdf"), (b"Filename*0", b"a very long ")]  # out of order
    assert join_rfc2231(plain) == join_rfc2231(plain, utf8=True) == [(b"Filename", b"a very long name.pdf")]
    latin1 = [(b"filename*", b"iso-8859-1'de'Gr%FC%DFe.pdf")]
    assert join_rfc2231(latin1) == latin1  # a single encoded value is passed through for rev1
    assert join_rfc2231(latin1, utf8=True) == [(b"filename*", "Grüße.pdf".encode())]
    unknown = [(b"name*", b"x-nonsense''%FF%FEa")]
    assert join_rfc2231(unknown, utf8=True) == [(b"name*", "\ufffd\ufffda".encode())]
    duplicated = [(b"name*0", b"a"), (b"name*0", b"b")]
    assert join_rfc2231(duplicated) == duplicated  # not well-formed: left as it is
    assert join_rfc2231([(b"*", b"v"), (b"a*b", b"c")]) == [(b"*", b"v"), (b"a*b", b"c")]

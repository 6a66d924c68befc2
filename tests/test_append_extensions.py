"""MULTIAPPEND (RFC 3502) and CATENATE (RFC 4469) over TCP.

MULTIAPPEND is all-or-nothing: a bad later message leaves the mailbox as it
was. CATENATE builds messages from literals and URLs into the user's other
mailboxes (and, with URLAUTH, into another user's); a URL it cannot use is
``NO [BADURL url]``, a result over the APPEND limit ``NO [TOOBIG]``.
(URLAUTH itself is tested in test_urlauth.py.)
"""

from __future__ import annotations

import os
import re

import pytest

from conftest import started_server
from imap_raw import RawIMAP, parse, quote

MAX_APPEND = 4096
USERS = (("ma", "ma"), ("other", "other"), ("third", "third"))
DRAFT = (b"From: ma@example.org\r\nTo: bob@example.org\r\nSubject: draft\r\nMIME-Version: 1.0\r\n"
         b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
         b"--b1\r\nContent-Type: text/plain\r\n\r\nFirst part text.\r\n"
         b"--b1\r\nContent-Type: text/plain\r\n\r\nSecond part.\r\n--b1--\r\n")
FORWARDED = b"From: carol@example.org\r\nSubject: original\r\n\r\nThe original message.\r\n"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("appendx")), users=USERS,
                            extra_args=["--max-append", str(MAX_APPEND)])
    yield server
    server.stop()


def connect(srv, user: str = "ma") -> RawIMAP:
    c = RawIMAP(srv.port)
    c.login(user, user)
    return c


@pytest.fixture
def ma(srv):
    c = connect(srv)
    yield c
    c.close()


def appenduid(r) -> tuple[int, list[int]]:
    m = re.fullmatch(r"APPENDUID (\d+) ([\d:,]+)", r.code or "")
    assert m, r.tagged
    uids = []
    for part in m.group(2).split(","):
        lo, _, hi = part.partition(":")
        uids.extend(range(int(lo), int(hi or lo) + 1))
    return int(m.group(1)), uids


def status(c: RawIMAP, mailbox: str) -> dict:
    (line,) = c.ok(b"STATUS " + quote(mailbox) + b" (MESSAGES UIDNEXT UIDVALIDITY)").lines(b"STATUS")
    v = parse(line)[3]
    return {v[i].decode(): int(v[i + 1]) for i in range(0, len(v), 2)}


def fetch_bodies(c: RawIMAP, mailbox: str, uids: list[int]) -> list[bytes]:
    c.select(mailbox, examine=True)
    r = c.ok("UID FETCH " + ",".join(map(str, uids)) + " BODY.PEEK[]")
    by_uid = {int(items["UID"]): items["BODY[]"] for _s, items in r.fetches()}
    return [by_uid[u] for u in uids]


def msg(n: int, size: int = 0) -> bytes:
    return b"Subject: multi %d\r\n\r\nbody %d %s\r\n" % (n, n, b"m" * size)


# -- MULTIAPPEND --------------------------------------------------------------------------------
def test_multiappend_with_synchronising_literals(ma):
    # RFC 3502's example: two messages, each with its own flags and date
    ma.ok("CREATE saved-messages")
    first, second = msg(1), msg(2)
    r = ma.command_with_literals([
        "APPEND saved-messages (\\Seen) ", first,
        ' (\\Seen $Work) " 1-Jul-2002 22:41:03 -0700" ', second, ""])
    assert r.ok, r.tagged
    validity, uids = appenduid(r)
    assert validity == status(ma, "saved-messages")["UIDVALIDITY"] and len(uids) == 2
    assert fetch_bodies(ma, "saved-messages", uids) == [first, second]
    r = ma.ok("UID FETCH %d:%d (FLAGS INTERNALDATE)" % (uids[0], uids[1]))
    items = {int(i["UID"]): i for _s, i in r.fetches()}
    assert set(items[uids[1]]["FLAGS"]) - {b"\\Recent"} == {b"\\Seen", b"$Work"}
    assert items[uids[1]]["INTERNALDATE"] == b"02-Jul-2002 05:41:03 +0000"


def test_multiappend_with_literal_plus_gives_a_uid_set(ma):
    ma.ok("CREATE Multi")
    data = b"".join(b" {%d+}\r\n" % len(msg(n)) + msg(n) for n in range(5))
    r = ma.command(b"APPEND Multi" + data)
    validity, uids = appenduid(r)
    assert len(uids) == 5 and uids == sorted(uids)
    assert re.fullmatch(r"APPENDUID \d+ \d+:\d+", r.code), "consecutive UIDs are folded into a range"
    assert status(ma, "Multi")["MESSAGES"] == 5


@pytest.mark.parametrize("second,status_word,code", [
    (b" (\\Recent) {5+}\r\nhello", "BAD", None),                   # a flag that cannot be appended
    (b" {0+}\r\n", "NO", None),                                     # an empty message
    (b' "31-Feb-2024 10:00:00 +0000" {5+}\r\nhello', "BAD", None),  # an impossible date
    (b' CATENATE (URL "/Nowhere/;UID=1")', "NO", "BADURL"),        # a URL that names nothing
    (b" (\\Seen) {5+}\r\nhello extra", "BAD", None),               # garbage after the message
])
def test_a_bad_later_message_stores_nothing(ma, second, status_word, code):
    ma.command("CREATE Atomic")
    before = status(ma, "Atomic")
    r = ma.command(b"APPEND Atomic {%d+}\r\n" % len(msg(1)) + msg(1) + second)
    assert r.status == status_word, r.tagged
    if code:
        assert (r.code or "").startswith(code)
    assert status(ma, "Atomic") == before, "nothing may be appended"
    ma.ok("NOOP")


def test_multiappend_total_is_bounded(ma):
    ma.ok("CREATE Big")
    big = msg(1, 3900)
    assert len(big) <= MAX_APPEND
    fits = b"".join(b" {%d+}\r\n" % len(big) + big for _ in range(4))
    assert appenduid(ma.command(b"APPEND Big" + fits))[1]
    too_much = b"".join(b" {%d+}\r\n" % len(big) + big for _ in range(5))
    r = ma.command(b"APPEND Big" + too_much)
    assert r.status == "NO" and r.code == "TOOBIG", r.tagged
    assert status(ma, "Big")["MESSAGES"] == 4
    ma.ok("NOOP")


# -- CATENATE -----------------------------------------------------------------------------------
@pytest.fixture
def drafts(srv):
    """ma's Drafts with the draft, INBOX with a message to forward: (uidvalidity, draft uid, inbox uid, ...)."""
    with connect(srv) as c:
        c.command("CREATE Drafts")
        _v, (draft_uid,) = appenduid(c.append("Drafts", DRAFT, flags="\\Draft"))
        inbox_validity, (inbox_uid,) = appenduid(c.append("INBOX", FORWARDED))
        drafts_validity = status(c, "Drafts")["UIDVALIDITY"]
    return drafts_validity, draft_uid, inbox_validity, inbox_uid


def test_catenate_rfc4469_example(ma, drafts):
    validity, draft, inbox_validity, inbox_uid = drafts
    base = f"/Drafts;UIDVALIDITY={validity}/;UID={draft}"
    boundary = b"\r\n--------------030308070208000400050907\r\n"
    tail = b"\r\n--------------030308070208000400050907--\r\n"
    r = ma.command_with_literals([
        f'APPEND Drafts (\\Seen \\Draft $MDNSent) CATENATE (URL "{base}/;SECTION=HEADER" TEXT ', boundary,
        f' URL "{base}/;SECTION=1.MIME" URL "{base}/;SECTION=1" TEXT ', boundary,
        f' URL "/INBOX;UIDVALIDITY={inbox_validity}/;UID={inbox_uid}" TEXT ', tail, ")"])
    assert r.ok, r.tagged
    _v, (new,) = appenduid(r)
    header = DRAFT[:DRAFT.index(b"\r\n\r\n") + 4]
    expected = (header + boundary + b"Content-Type: text/plain\r\n\r\n" + b"First part text."
                + boundary + FORWARDED + tail)
    assert fetch_bodies(ma, "Drafts", [new]) == [expected]


def test_catenate_partial_url_and_absolute_url(ma, drafts):
    validity, draft, inbox_validity, inbox_uid = drafts
    r = ma.command(f'APPEND Drafts CATENATE (TEXT {{9+}}\r\nSubject:  '
                   f'URL "imap://ma@localhost/INBOX/;UID={inbox_uid}/;SECTION=TEXT/;PARTIAL=4.8" '
                   f'TEXT {{4+}}\r\n\r\n\r\n URL "/INBOX;UIDVALIDITY={inbox_validity}/;UID={inbox_uid}/;PARTIAL=50")')
    assert r.ok, r.tagged
    _v, (new,) = appenduid(r)
    assert fetch_bodies(ma, "Drafts", [new]) == [b"Subject: original\r\n\r\n" + FORWARDED[50:]]


@pytest.mark.parametrize("url", [
    "/INBOX;UIDVALIDITY=1/;UID={uid}",            # wrong UIDVALIDITY
    "/INBOX/;UID=999999",                          # no such message
    "/Nowhere/;UID={uid}",                         # no such mailbox
    "/INBOX",                                      # no UID
    "/INBOX/;UID={uid}/;SECTION=7",                # no such part
    "/INBOX/;UID={uid}/;SECTION=BOGUS",            # invalid section
    "imap://other@localhost/INBOX/;UID=1",         # another user's mailbox, no URLAUTH
    "http://example.org/x",                        # not an IMAP URL
    "/INBOX/;UID={uid}/;PARTIAL=x",                # invalid partial
])
def test_catenate_bad_urls(ma, drafts, url):
    _v, _d, _iv, inbox_uid = drafts
    url = url.format(uid=inbox_uid)
    before = status(ma, "Drafts")
    r = ma.command(f'APPEND Drafts CATENATE (TEXT {{3+}}\r\nabc URL "{url}")')
    assert r.status == "NO" and r.code == "BADURL " + url, r.tagged
    assert status(ma, "Drafts") == before


def test_badurl_code_stays_parseable(ma):
    # characters a strict parser could trip on are percent-encoded in the response code
    r = ma.command('APPEND INBOX CATENATE (URL "/No(where) [x]/;UID=1")')
    assert r.status == "NO" and r.code == "BADURL /No%28where%29%20%5Bx%5D/;UID=1", r.tagged


def test_catenate_result_over_the_limit_is_toobig(ma, drafts):
    validity, draft, _iv, _iu = drafts
    url = f'URL "/Drafts;UIDVALIDITY={validity}/;UID={draft}"'
    r = ma.command("APPEND Drafts CATENATE (" + " ".join([url] * (MAX_APPEND // len(DRAFT) + 2)) + ")")
    assert r.status == "NO" and r.code == "TOOBIG", r.tagged


def test_capabilities(ma):
    (line,) = ma.ok("CAPABILITY").lines(b"CAPABILITY")
    assert {"MULTIAPPEND", "CATENATE"} <= set(line.decode().split())


@pytest.mark.parametrize("command", [
    b"APPEND Drafts CATENATE ()",
    b"APPEND Drafts CATENATE",
    b"APPEND Drafts CATENATE (TEXT abc)",
    b"APPEND Drafts CATENATE (URL)",
    b"APPEND Drafts CATENATE (BOGUS {1+}\r\nx)",
    b"APPEND Drafts CATENATE (TEXT {1+}\r\nx",
    b"APPEND Drafts",
    b"APPEND Drafts (\\Seen)",
])
def test_malformed_append_is_bad(ma, command):
    r = ma.command(command)
    assert r.status == "BAD", (command, r.tagged)
    ma.ok("NOOP")


# -- CATENATE with a URLAUTH URL (RFC 4467) -----------------------------------------------------
@pytest.fixture
def shared(srv):
    """A message of "other" in a fresh mailbox: (connection as other, mailbox, uid)."""
    c = connect(srv, "other")
    name = "Share%d" % len(os.listdir(os.path.join(srv.root, "other")))
    c.ok(b"CREATE " + quote(name))
    _v, (uid,) = appenduid(c.append(name, FORWARDED))
    yield c, name, uid
    c.close()


def genurlauth(c: RawIMAP, url: str, mechanism: str = "INTERNAL") -> str:
    r = c.ok(b"GENURLAUTH " + quote(url) + b" " + mechanism.encode())
    (line,) = r.lines(b"GENURLAUTH")
    (full,) = parse(line)[2:]
    return full.decode()


def urlfetch(c: RawIMAP, *urls: str) -> list:
    r = c.ok(b"URLFETCH " + b" ".join(quote(u) for u in urls))
    (line,) = r.lines(b"URLFETCH")
    values = parse(line)[2:]
    assert [v.decode() for v in values[::2]] == list(urls)
    return values[1::2]


def test_catenate_with_a_urlauth_url_from_another_user(srv, shared, ma):
    other, name, uid = shared
    url = genurlauth(other, f"imap://other@localhost/{name}/;UID={uid}/;SECTION=TEXT;URLAUTH=user+ma")
    ma.command("CREATE Fwd")
    r = ma.command(f'APPEND Fwd CATENATE (TEXT {{23+}}\r\nSubject: fwd of other\r\n URL "{url}")')
    assert r.ok, r.tagged
    _v, (new,) = appenduid(r)
    assert fetch_bodies(ma, "Fwd", [new]) == [b"Subject: fwd of other\r\nThe original message.\r\n"]

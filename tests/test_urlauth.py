"""URLAUTH (RFC 4467: GENURLAUTH, URLFETCH, RESETKEY, mechanism INTERNAL) and
URL-PARTIAL (RFC 5550) over TCP: access identifiers, tampered and expired
URLs, key resets, recreated mailboxes, and no Maildir made for unknown users.
"""

from __future__ import annotations

import datetime
import os
import re

import pytest

from conftest import started_server
from imap_raw import RawIMAP, parse, quote

USERS = (("ma", "ma"), ("other", "other"), ("third", "third"))
FORWARDED = b"From: carol@example.org\r\nSubject: original\r\n\r\nThe original message.\r\n"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("urlauth")), users=USERS)
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
    m = re.fullmatch(r"APPENDUID (\d+) (\d+)", r.code or "")
    assert m, r.tagged
    return int(m.group(1)), [int(m.group(2))]


def status(c: RawIMAP, mailbox: str) -> dict:
    (line,) = c.ok(b"STATUS " + quote(mailbox) + b" (MESSAGES UIDNEXT UIDVALIDITY)").lines(b"STATUS")
    v = parse(line)[3]
    return {v[i].decode(): int(v[i + 1]) for i in range(0, len(v), 2)}


# -- GENURLAUTH / URLFETCH / RESETKEY ------------------------------------------------------
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


def test_genurlauth_and_urlfetch(srv, shared, ma):
    other, name, uid = shared
    rump = f"imap://other@example.org/{name}/;uid={uid}/;section=TEXT;urlauth=anonymous"
    full = genurlauth(other, rump)
    assert re.fullmatch(re.escape(rump) + r":internal:[0-9a-f]{64}", full), full
    assert urlfetch(other, full) == [b"The original message.\r\n"]
    assert urlfetch(ma, full) == [b"The original message.\r\n"], "anonymous: any user"
    tampered = full.replace(f";uid={uid}/", f";uid={uid + 1}/")
    bad_token = full[:-1] + ("0" if full[-1] != "0" else "1")
    assert urlfetch(ma, tampered, bad_token, rump) == [None, None, None]


def test_access_identifiers(srv, shared):
    other, name, uid = shared
    base = f"imap://other@localhost/{name};UIDVALIDITY={status(other, name)['UIDVALIDITY']}/;UID={uid}"
    for_ma = genurlauth(other, base + ";URLAUTH=user+ma")
    for_all = genurlauth(other, base + ";URLAUTH=authuser")
    for_submit = genurlauth(other, base + ";URLAUTH=submit+ma")
    with connect(srv, "ma") as ma, connect(srv, "third") as third:
        assert urlfetch(ma, for_ma, for_all, for_submit) == [FORWARDED, FORWARDED, None]
        assert urlfetch(third, for_ma, for_all) == [None, FORWARDED]


def test_url_partial_and_expire(srv, shared):
    other, name, uid = shared
    url = genurlauth(other, f"imap://other@localhost/{name}/;UID={uid}/;PARTIAL=6.8;URLAUTH=anonymous")
    assert urlfetch(other, url) == [FORWARDED[6:14]]
    future = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    url = genurlauth(other, f"imap://other@localhost/{name}/;UID={uid};EXPIRE={future};URLAUTH=anonymous")
    assert urlfetch(other, url) == [FORWARDED]
    past = f"imap://other@localhost/{name}/;UID={uid};EXPIRE=2001-01-01T00:00:00Z;URLAUTH=anonymous"
    r = other.command(b"GENURLAUTH " + quote(past) + b" INTERNAL")
    assert r.status == "NO" and (r.code or "").startswith("BADURL")


def test_resetkey_invalidates_urls(srv, shared):
    other, name, uid = shared
    url = genurlauth(other, f"imap://other@localhost/{name}/;UID={uid};URLAUTH=anonymous")
    inbox_uid = appenduid(other.append("INBOX", FORWARDED))[1][0]
    inbox_url = genurlauth(other, f"imap://other@localhost/INBOX/;UID={inbox_uid};URLAUTH=anonymous")
    other.ok(b"RESETKEY " + quote(name) + b" INTERNAL")
    assert urlfetch(other, url, inbox_url) == [None, FORWARDED]
    fresh = genurlauth(other, f"imap://other@localhost/{name}/;UID={uid};URLAUTH=anonymous")
    assert fresh != url and urlfetch(other, fresh) == [FORWARDED]
    other.ok("RESETKEY")
    assert urlfetch(other, fresh, inbox_url) == [None, None]


def test_a_recreated_mailbox_does_not_honour_old_urls(srv, shared):
    other, name, uid = shared
    url = genurlauth(other, f"imap://other@localhost/{name}/;UID={uid};URLAUTH=anonymous")
    other.ok(b"DELETE " + quote(name))
    other.ok(b"CREATE " + quote(name))
    for _ in range(uid):
        other.append(name, b"Subject: someone else\r\n\r\nnot for you\r\n")
    assert urlfetch(other, url) == [None]


@pytest.mark.parametrize("url", [
    "imap://ma@localhost/INBOX/;UID=1;URLAUTH=anonymous",          # someone else's mailbox
    "/INBOX/;UID=1;URLAUTH=anonymous",                             # relative
    "imap://other@localhost/INBOX/;UID=1",                         # no URLAUTH
    "imap://other@localhost/INBOX/;UID=999999;URLAUTH=anonymous",  # no such message
    "imap://other@localhost/Nowhere/;UID=1;URLAUTH=anonymous",     # no such mailbox
    "imap://other@localhost/INBOX/;UID=1;URLAUTH=anonymous:internal:" + "0" * 64,  # already has a token
    "imap://other@localhost/INBOX/;UID=1;URLAUTH=everyone",        # unknown access
])
def test_genurlauth_refusals(shared, url):
    other, _name, _uid = shared
    r = other.command(b"GENURLAUTH " + quote(url) + b" INTERNAL")
    assert r.status == "NO" and r.code == "BADURL " + url, r.tagged
    other.ok("NOOP")


def test_urlfetch_of_an_unknown_user_creates_nothing(srv, ma):
    url = "imap://ghost@localhost/INBOX/;UID=1;URLAUTH=anonymous:internal:" + "a" * 64
    assert urlfetch(ma, url) == [None]
    assert not os.path.exists(os.path.join(srv.root, "ghost"))


@pytest.mark.parametrize("command,expected", [
    ("GENURLAUTH", "BAD"),
    ('GENURLAUTH "imap://ma@h/INBOX/;UID=1;URLAUTH=anonymous"', "BAD"),
    ('GENURLAUTH "imap://ma@h/INBOX/;UID=1;URLAUTH=anonymous" BOGUS', "NO"),
    ("URLFETCH", "BAD"),
    ("RESETKEY INBOX BOGUS", "NO"),
    ("RESETKEY Nowhere", "NO"),
    ("RESETKEY (INBOX)", "BAD"),
])
def test_malformed_urlauth_commands(ma, command, expected):
    assert ma.command(command).status == expected, command
    ma.ok("NOOP")


def test_capabilities(ma):
    (line,) = ma.ok("CAPABILITY").lines(b"CAPABILITY")
    caps = set(line.decode().split())
    assert {"URLAUTH", "URL-PARTIAL"} <= caps

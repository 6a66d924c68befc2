"""UTF8=ACCEPT (RFC 6855) over real TCP: ENABLE UTF8=ACCEPT, UTF-8 mailbox
names (stored as modified UTF-7 on disk, as Dovecot does, and seen that way
by IMAP4rev1 sessions on the same account), UTF-8 quoted strings both ways,
SEARCH without CHARSET (with CHARSET: BAD), APPEND of UTF-8 headers and the
UTF8 (literal8) data item; imaplib in its UTF-8 mode."""

from __future__ import annotations

import imaplib
import os

import pytest

from conftest import started_server
from imap_raw import RawIMAP, literal, parse, quote

UTF8_MESSAGE = ("From: Jörg <joerg@example.de>\r\nTo: zoë@example.org\r\nSubject: Grüße aus Köln\r\n"
                "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nHallo Zoë!\r\n").encode()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("utf8")))
    yield server
    server.stop()


def utf8_session(srv) -> RawIMAP:
    c = RawIMAP(srv.port)
    c.login()
    r = c.ok("ENABLE UTF8=ACCEPT")
    assert r.lines(b"ENABLED") == [b"* ENABLED UTF8=ACCEPT\r\n"]
    return c


def listed(r) -> list:
    return [parse(line)[4] for line in r.lines(b"LIST")]


def test_capability_and_names_before_enable_are_refused(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        assert b" UTF8=ACCEPT" in c.ok("CAPABILITY").lines(b"CAPABILITY")[0]
        r = c.command(b"CREATE " + quote("Grüße"))
        assert r.status == "NO" and r.code == "CANNOT"
        assert c.ok("ENABLE UTF8=ACCEPT UTF8=ACCEPT").lines(b"ENABLED") == [b"* ENABLED UTF8=ACCEPT\r\n"]
        assert c.ok("ENABLE UTF8=ACCEPT").lines(b"ENABLED") == [b"* ENABLED\r\n"]  # already on


def test_utf8_names_are_modified_utf7_on_disk_and_for_rev1_sessions(srv):
    with utf8_session(srv) as c, RawIMAP(srv.port) as old:
        old.login()
        c.ok(b"CREATE " + quote("Grüße"))
        c.ok(b"CREATE " + quote("Straße.Café"))
        c.ok(b"CREATE " + quote("R&D"))
        root = os.path.join(srv.root, "demo")
        assert {".Gr&APwA3w-e", ".Stra&AN8-e.Caf&AOk-", ".R&-D"} <= set(os.listdir(root))
        names = listed(c.ok('LIST "" "*"'))
        assert {"Grüße".encode(), "Straße".encode(), "Straße.Café".encode(), b"R&D"} <= set(names)
        (line,) = [u for u in c.ok('LIST "" "Gr*"').lines(b"LIST")]
        assert line == '* LIST (\\HasNoChildren) "." "Grüße"\r\n'.encode()  # UTF-8 in a quoted string
        assert listed(c.ok(b'LIST "" ' + quote("Stra%e.%"))) == ["Straße.Café".encode()]
        assert listed(c.ok(b"LIST " + quote("Straße.") + b' "*"')) == ["Straße.Café".encode()]
        old_names = listed(old.ok('LIST "" "*"'))
        assert {b"Gr&APwA3w-e", b"Stra&AN8-e.Caf&AOk-", b"R&-D"} <= set(old_names)
        old.ok("SELECT Gr&APwA3w-e")


def test_select_append_search_fetch_status_with_utf8(srv):
    with utf8_session(srv) as c:
        c.ok(b"CREATE " + quote("Post für Zoë"))
        r = c.ok(b"APPEND " + quote("Post für Zoë") + b" " + literal(UTF8_MESSAGE, plus=True))
        assert r.code.startswith("APPENDUID")
        r = c.ok(b"STATUS " + quote("Post für Zoë") + b" (MESSAGES)")
        assert r.lines(b"STATUS") == ['* STATUS "Post für Zoë" (MESSAGES 1)\r\n'.encode()]
        c.ok(b"SELECT " + quote("Post für Zoë"))
        assert c.ok(b"SEARCH SUBJECT " + quote("grüße")).search() == [1]
        assert c.ok(b"SEARCH FROM " + quote("Jörg") + b" BODY " + quote("Zoë")).search() == [1]
        r = c.command(b"SEARCH CHARSET UTF-8 SUBJECT " + quote("Grüße"))
        assert r.status == "BAD"  # RFC 6855 3: no CHARSET once UTF8=ACCEPT is on
        assert c.command("SEARCH CHARSET US-ASCII ALL").status == "BAD"
        env = c.ok("FETCH 1 ENVELOPE").fetches()[0][1]["ENVELOPE"]
        assert env[1] == "Grüße aus Köln".encode()
        r = c.ok(b"GETQUOTAROOT " + quote("Post für Zoë"))
        assert r.lines(b"QUOTAROOT") == ['* QUOTAROOT "Post für Zoë"\r\n'.encode()]


def test_search_charset_is_fine_without_utf8_accept(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        c.append("INBOX", UTF8_MESSAGE)
        c.select("INBOX")
        assert c.ok(b"SEARCH CHARSET UTF-8 SUBJECT " + quote("Grüße")).search() != []


def test_append_utf8_data_item(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        c.ok("CREATE Utf8Item")
        r = c.command(b"APPEND Utf8Item UTF8 (~" + literal(UTF8_MESSAGE, plus=True) + b")")
        assert r.status == "BAD"  # not enabled
        c.ok("ENABLE UTF8=ACCEPT")
        r = c.ok(b"APPEND Utf8Item (\\Seen) UTF8 (~" + literal(UTF8_MESSAGE, plus=True) + b")")
        assert r.code.startswith("APPENDUID")
        r = c.ok(b"APPEND Utf8Item UTF8 (~" + literal(b"Subject: a\r\n\r\nx\r\n", plus=True) + b") UTF8 (~"
                 + literal(b"Subject: b\r\n\r\ny\r\n", plus=True) + b")")  # MULTIAPPEND
        assert r.code.split()[-1] == "2:3"
        c.select("Utf8Item")
        body = c.ok("FETCH 1 (FLAGS BODY.PEEK[])").fetches()[0][1]
        assert body["BODY[]"] == UTF8_MESSAGE and b"\\Seen" in body["FLAGS"]


def test_synchronising_append_to_a_utf8_name(srv):
    with utf8_session(srv) as c:
        c.ok(b"CREATE " + quote("Entwürfe"))
        r = c.command_with_literals([b"APPEND " + quote("Entwürfe") + b" ", UTF8_MESSAGE, ""])
        assert r.ok
        tag = c.next_tag()
        c.send(tag + b" APPEND " + quote("Fehlt-ü") + b" {10}\r\n")
        r = c.read_until_tagged(tag)  # refused before "+"
        assert r.status == "NO" and r.code == "TRYCREATE"


def test_rename_subscribe_and_lsub(srv):
    with utf8_session(srv) as c:
        c.ok(b"CREATE " + quote("Alt-Ä"))
        c.ok(b"CREATE " + quote("Alt-Ä.Kind"))
        c.ok(b"RENAME " + quote("Alt-Ä") + b" " + quote("Neu-Ö"))
        assert listed(c.ok(b'LIST "" ' + quote("Neu-Ö*"))) == ["Neu-Ö".encode(), "Neu-Ö.Kind".encode()]
        c.ok(b"SUBSCRIBE " + quote("Neu-Ö.Kind"))
        assert [parse(x)[4] for x in c.ok('LSUB "" "*"').lines(b"LSUB")] == ["Neu-Ö.Kind".encode()]
        r = c.ok(b'LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES))')
        assert r.lines(b"STATUS") == ['* STATUS "Neu-Ö.Kind" (MESSAGES 0)\r\n'.encode()]
        c.ok(b"UNSUBSCRIBE " + quote("Neu-Ö.Kind"))
        c.ok(b"DELETE " + quote("Neu-Ö.Kind"))


@pytest.mark.parametrize("name,why", [
    (b'"bad\xff"', "not UTF-8"),
    ('"Cafe\u0301"'.encode(), "not NFC"),
    (b'"ctl\xc2\x85"', "C1 control"),
    ('"a/b"'.encode(), "slash"),
])
def test_invalid_utf8_names_are_no(srv, name, why):
    with utf8_session(srv) as c:
        r = c.command(b"CREATE " + name)
        assert r.status == "NO" and r.code == "CANNOT", why
        assert c.ok("NOOP").ok


@pytest.mark.parametrize("bad", [
    b"APPEND INBOX UTF8 {3+}\r\nabc", b"APPEND INBOX UTF8 (", b"APPEND INBOX UTF8 (~{3+}\r\nabc",
    b"APPEND INBOX UTF8 (\"abc\")", b"ENABLE", b"SEARCH CHARSET UTF-8 ALL",
])
def test_malformed_is_bad_and_connection_usable(srv, bad):
    with utf8_session(srv) as c:
        c.select("INBOX")
        r = c.command(bad)
        assert r.status == "BAD", r.tagged
        assert c.ok("NOOP").ok


def test_imaplib_in_utf8_mode(srv):
    """The standard library's imaplib switches to UTF-8 on ENABLE UTF8=ACCEPT."""
    c = imaplib.IMAP4("127.0.0.1", srv.port)
    try:
        c.login("demo", "demo")
        typ, data = c.enable("UTF8=ACCEPT")
        assert typ == "OK"
        name = '"Rechnungen 2024 – März"'
        assert c.create(name)[0] == "OK"
        typ, lines = c.list('""', '"Rechnungen*"')
        assert typ == "OK" and lines == ['(\\HasNoChildren) "." "Rechnungen 2024 – März"'.encode()]
        # imaplib wraps a UTF-8 mode APPEND as a literal holding "UTF8 (...)" (its literal
        # is the whole wrapper, not the message): send the message as a plain literal instead
        c.utf8_enabled = False
        assert c.append(name, None, None, UTF8_MESSAGE)[0] == "OK"
        c.utf8_enabled = True
        typ, data = c.select(name)
        assert typ == "OK" and data == [b"1"]
        typ, data = c.search(None, "SUBJECT", '"Köln"')
        assert data == [b"1"]
    finally:
        c.logout()
    assert ".Rechnungen 2024 &IBM- M&AOQ-rz" in os.listdir(os.path.join(srv.root, "demo"))

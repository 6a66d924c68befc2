"""Malformed input: every case is answered with a tagged BAD or NO (an untagged
BAD when there is no usable tag), the server never asks for literal data it
is going to refuse (no ``+``), and the NEXT command on the same connection
still works in the same state.

Connections are reused from one case to the next while they stay healthy
(logging in costs an argon2 check); a case that breaks its connection fails
and the connection is replaced.
"""

from __future__ import annotations

import base64
import re

import pytest

from conftest import ServerProcess
from imap_raw import RawIMAP, plain_response

MAX_APPEND = 100_000  # the module's server limit, so that "too big" stays cheap to send
N, A, S = "not authenticated", "authenticated", "selected"


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("malformed")
    server = ServerProcess(str(root), extra_args=["--max-append", str(MAX_APPEND)])
    server.add_users()
    server.start()
    with RawIMAP(server.port) as c:  # one message, so that "FETCH 1" is valid in INBOX
        c.login()
        c.append("INBOX", b"Subject: hello\r\n\r\nbody\r\n")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pool(srv):
    idle: dict = {}
    yield idle
    for c in idle.values():
        c.close()


def open_in_state(srv, pool, state) -> RawIMAP:
    c = pool.pop(state, None)
    if c is None:
        c = RawIMAP(srv.port, timeout=5)
        if state != N:
            c.login()
        if state == S:
            c.select("INBOX")
    return c


def assert_state(c: RawIMAP, state: str) -> None:
    """The connection is alive and still in ``state``."""
    assert c.command("NOOP").ok
    if state == N:
        assert c.command('LIST "" INBOX').status in ("BAD", "NO"), "must still be unauthenticated"
    elif state == A:
        assert c.command('LIST "" INBOX').ok
        assert c.command("FETCH 1 FLAGS").status in ("BAD", "NO"), "must not be in the selected state"
    else:
        assert c.command("FETCH 1 FLAGS").ok, "must still have INBOX selected"


def check(srv, pool, state: str, payload: bytes, expect: str = "tagged", tag: bytes = b"m1") -> list:
    """Send ``payload``, then a NOOP; check the answer; returns the responses before the NOOP's."""
    c = open_in_state(srv, pool, state)
    try:
        c.send(payload)
        noop = c.next_tag()
        c.send(noop + b" NOOP\r\n")
        r = c.read_until_tagged(noop)
        assert r.ok, f"the next command failed: {r.tagged!r}"
        seen = r.untagged
        assert not any(s.startswith(b"+") for s in seen), f"server asked for data it refuses: {seen!r}"
        assert not any(s.startswith(tag + b" OK") for s in seen), f"malformed input accepted: {seen!r}"
        if expect == "untagged":
            assert any(s.startswith(b"* BAD") for s in seen), f"expected an untagged BAD: {seen!r}"
        elif expect == "badcharset":
            assert any(re.match(re.escape(tag) + rb" NO \[BADCHARSET\b", s) for s in seen), seen
        else:
            assert any(re.match(re.escape(tag) + rb" (BAD|NO) ", s) for s in seen), \
                f"expected {tag!r} BAD or NO: {seen!r}"
        for s in seen:
            assert s.endswith(b"\r\n")
        assert_state(c, state)
    except BaseException:
        c.close()
        raise
    pool[state] = c
    return seen


def big(n: int) -> bytes:
    return b"a" * n


CASES = [
    # -- unknown commands -----------------------------------------------------------------
    ("unknown command", N, b"m1 FOOBAR\r\n"),
    ("unknown command with arguments", A, b"m1 XYZZY 1 2 3\r\n"),
    ("unknown UID command", S, b"m1 UID FOO 1\r\n"),
    ("UID without command", S, b"m1 UID\r\n"),
    ("UID NOOP", S, b"m1 UID NOOP\r\n"),
    ("8-bit command name", A, b"m1 \xc3\xa4\xc3\xb6\r\n"),
    ("tag only", N, b"m1\r\n"),
    ("tag and space", N, b"m1 \r\n"),
    ("two spaces before the command", N, b"m1  NOOP\r\n"),
    # -- missing / extra arguments -------------------------------------------------------------
    ("LOGIN without arguments", N, b"m1 LOGIN\r\n"),
    ("LOGIN without password", N, b"m1 LOGIN demo\r\n"),
    ("LOGIN with extra argument", N, b"m1 LOGIN demo demo extra\r\n"),
    ("NOOP with argument", N, b"m1 NOOP extra\r\n"),
    ("CAPABILITY with argument", A, b"m1 CAPABILITY x\r\n"),
    ("LOGOUT with argument", A, b"m1 LOGOUT now\r\n"),
    ("SELECT without mailbox", A, b"m1 SELECT\r\n"),
    ("SELECT with extra argument", A, b"m1 SELECT INBOX extra\r\n"),
    ("SELECT with unknown parameters", A, b"m1 SELECT INBOX (CONDSTOR)\r\n"),
    ("SELECT with an empty parameter list", A, b"m1 SELECT INBOX ()\r\n"),
    ("SELECT QRESYNC without ENABLE", A, b"m1 SELECT INBOX (QRESYNC (1 1))\r\n"),
    ("SELECT QRESYNC with modseq 0", A, b"m1 SELECT INBOX (QRESYNC (1 0))\r\n"),
    ("SELECT QRESYNC unclosed", A, b"m1 SELECT INBOX (QRESYNC (1 2 1:5)\r\n"),
    ("SELECT CONDSTORE twice", A, b"m1 SELECT INBOX (CONDSTORE CONDSTORE)\r\n"),
    ("EXAMINE without mailbox", A, b"m1 EXAMINE\r\n"),
    ("CREATE without mailbox", A, b"m1 CREATE\r\n"),
    ("DELETE without mailbox", A, b"m1 DELETE\r\n"),
    ("RENAME with one mailbox", A, b"m1 RENAME INBOX\r\n"),
    ("SUBSCRIBE without mailbox", A, b"m1 SUBSCRIBE\r\n"),
    ("LIST without pattern", A, b'm1 LIST ""\r\n'),
    ("LSUB without arguments", A, b"m1 LSUB\r\n"),
    ("STATUS without items", A, b"m1 STATUS INBOX\r\n"),
    ("STATUS unknown item", A, b"m1 STATUS INBOX (FOO)\r\n"),
    ("STATUS empty item list", A, b"m1 STATUS INBOX ()\r\n"),
    ("STATUS item without parentheses", A, b"m1 STATUS INBOX MESSAGES\r\n"),
    ("STATUS unterminated item list", A, b"m1 STATUS INBOX (MESSAGES\r\n"),
    ("APPEND without message", A, b"m1 APPEND INBOX\r\n"),
    ("APPEND message not a literal", A, b"m1 APPEND INBOX hello\r\n"),
    ("CHECK with argument", S, b"m1 CHECK now\r\n"),
    ("CLOSE with argument", S, b"m1 CLOSE now\r\n"),
    ("EXPUNGE with argument", S, b"m1 EXPUNGE 1\r\n"),
    ("UID EXPUNGE without set", S, b"m1 UID EXPUNGE\r\n"),
    ("COPY without mailbox", S, b"m1 COPY 1\r\n"),
    ("MOVE without mailbox", S, b"m1 MOVE 1\r\n"),
    ("FETCH without items", S, b"m1 FETCH 1\r\n"),
    ("FETCH without arguments", S, b"m1 FETCH\r\n"),
    ("FETCH with unknown modifier", S, b"m1 FETCH 1 FLAGS (CHANGEDSINCE 1 FOO)\r\n"),
    ("FETCH CHANGEDSINCE without value", S, b"m1 FETCH 1 FLAGS (CHANGEDSINCE)\r\n"),
    ("FETCH CHANGEDSINCE too big", S, b"m1 FETCH 1 FLAGS (CHANGEDSINCE 9223372036854775808)\r\n"),
    ("FETCH VANISHED without CHANGEDSINCE", S, b"m1 UID FETCH 1 FLAGS (VANISHED)\r\n"),
    ("FETCH VANISHED without QRESYNC", S, b"m1 UID FETCH 1 FLAGS (CHANGEDSINCE 1 VANISHED)\r\n"),
    ("STORE with unknown modifier", S, b"m1 STORE 1 (CHANGEDSINCE 1) +FLAGS (\\Seen)\r\n"),
    ("STORE UNCHANGEDSINCE not a number", S, b"m1 STORE 1 (UNCHANGEDSINCE x) +FLAGS (\\Seen)\r\n"),
    ("STORE UNCHANGEDSINCE unclosed", S, b"m1 STORE 1 (UNCHANGEDSINCE 5 +FLAGS (\\Seen)\r\n"),
    ("SEARCH MODSEQ without value", S, b"m1 SEARCH MODSEQ\r\n"),
    ("SEARCH MODSEQ bad entry type", S, b'm1 SEARCH MODSEQ "/flags/\\\\seen" both 5\r\n'),
    ("SEARCH MODSEQ bad entry name", S, b'm1 SEARCH MODSEQ "/other" all 5\r\n'),
    ("NAMESPACE with argument", A, b"m1 NAMESPACE x\r\n"),
    ("ID without argument", N, b"m1 ID\r\n"),
    ("ID with odd list", N, b'm1 ID ("name")\r\n'),
    ("ID with atom field", N, b'm1 ID (name "x")\r\n'),
    ("ENABLE without capability", A, b"m1 ENABLE\r\n"),
    ("IDLE with argument", S, b"m1 IDLE now\r\n"),
    ("UNSELECT with argument", S, b"m1 UNSELECT x\r\n"),
    ("AUTHENTICATE without mechanism", N, b"m1 AUTHENTICATE\r\n"),
    ("AUTHENTICATE unknown mechanism", N, b"m1 AUTHENTICATE X-FOO\r\n"),
    ("AUTHENTICATE bad initial response", N, b"m1 AUTHENTICATE PLAIN !!!\r\n"),
    ("AUTHENTICATE undecodable initial response", N, b"m1 AUTHENTICATE PLAIN abc\r\n"),
    ("AUTHENTICATE initial response without NULs", N,
     b"m1 AUTHENTICATE PLAIN " + base64.b64encode(b"demo") + b"\r\n"),
    # -- sequence sets -------------------------------------------------------------------------
    ("sequence number 0", S, b"m1 FETCH 0 FLAGS\r\n"),
    ("range to 0", S, b"m1 FETCH 1:0 FLAGS\r\n"),
    ("open range", S, b"m1 FETCH 1: FLAGS\r\n"),
    ("letter as sequence set", S, b"m1 FETCH a FLAGS\r\n"),
    ("empty set element", S, b"m1 FETCH 1,,2 FLAGS\r\n"),
    ("trailing comma", S, b"m1 FETCH 1, FLAGS\r\n"),
    ("three-part range", S, b"m1 FETCH 1:2:3 FLAGS\r\n"),
    ("negative number", S, b"m1 FETCH -1 FLAGS\r\n"),
    ("number beyond 32 bits", S, b"m1 FETCH 4294967296 FLAGS\r\n"),
    ("sequence number beyond EXISTS", S, b"m1 FETCH 99 FLAGS\r\n"),
    ("STORE sequence 0", S, b"m1 STORE 0 +FLAGS (\\Seen)\r\n"),
    ("COPY bad set", S, b"m1 COPY x INBOX\r\n"),
    ("UID FETCH bad set", S, b"m1 UID FETCH 1:: UID\r\n"),
    ("UID EXPUNGE bad set", S, b"m1 UID EXPUNGE 0\r\n"),
    ("SEARCH sequence 0", S, b"m1 SEARCH 0\r\n"),
    ("SEARCH UID 0", S, b"m1 SEARCH UID 0\r\n"),
    # -- flags -------------------------------------------------------------------------------
    ("unknown system flag", S, b"m1 STORE 1 +FLAGS (\\Bogus)\r\n"),
    ("storing \\Recent", S, b"m1 STORE 1 +FLAGS (\\Recent)\r\n"),
    ("storing \\*", S, b"m1 STORE 1 +FLAGS (\\*)\r\n"),
    ("lone backslash flag", S, b"m1 STORE 1 +FLAGS (\\)\r\n"),
    ("flag with parenthesis", S, b"m1 STORE 1 +FLAGS (a(b)\r\n"),
    ("unterminated flag list", S, b"m1 STORE 1 +FLAGS (\\Seen\r\n"),
    ("unknown store item", S, b"m1 STORE 1 FLAGZ (\\Seen)\r\n"),
    ("store item with bad suffix", S, b"m1 STORE 1 +FLAGS.LOUD (\\Seen)\r\n"),
    ("STORE without flags", S, b"m1 STORE 1 +FLAGS\r\n"),
    ("STORE without item", S, b"m1 STORE 1\r\n"),
    ("APPEND with unknown system flag", A, b"m1 APPEND INBOX (\\Bogus) {3+}\r\nabc\r\n"),
    ("APPEND with unterminated flag list", A, b"m1 APPEND INBOX (\\Seen {3+}\r\nabc\r\n"),
    # -- strings and literals ------------------------------------------------------------------
    ("unterminated quoted string", N, b'm1 LOGIN "demo demo\r\n'),
    ("invalid escape in quoted string", N, b'm1 LOGIN "de\\mo" demo\r\n'),
    ("escaped closing quote", N, b'm1 LOGIN demo "demo\\"\r\n'),
    ("quote inside atom", N, b'm1 LOGIN de"mo demo\r\n'),
    ("8-bit in quoted user name", N, b'm1 LOGIN "d\xe9mo" demo\r\n'),
    ("negative literal", N, b"m1 LOGIN {-5}\r\n"),
    ("absurd literal", N, b"m1 LOGIN {99999999999}\r\n"),
    ("absurd literal for APPEND", A, b"m1 APPEND INBOX {99999999999}\r\n"),
    ("literal length not a number", N, b"m1 LOGIN {5x}\r\n"),
    ("empty literal length", N, b"m1 LOGIN demo {}\r\n"),
    ("literal too big for LOGIN", N, b"m1 LOGIN demo {70000}\r\n"),
    ("LITERAL+ too big for LOGIN", N, b"m1 LOGIN demo {70000+}\r\n" + big(70000) + b"\r\n"),
    ("literal too big for APPEND", A, b"m1 APPEND INBOX {%d}\r\n" % (MAX_APPEND + 50_000)),
    ("LITERAL+ too big for APPEND", A,
     b"m1 APPEND INBOX {%d+}\r\n" % (MAX_APPEND + 50_000) + big(MAX_APPEND + 50_000) + b"\r\n"),
    # longer than two 64 KiB reads, so the server sees more than 64 KiB before any LF
    ("over-long line", N, b"m1 NOOP " + big(200_000) + b"\r\n"),
    ("over-long line when selected", S, b"m1 FETCH 1 (" + b"FLAGS " * 35_000 + b"UID)\r\n"),
    # -- state ----------------------------------------------------------------------------------
    ("FETCH before login", N, b"m1 FETCH 1 FLAGS\r\n"),
    ("SELECT before login", N, b"m1 SELECT INBOX\r\n"),
    ("LIST before login", N, b'm1 LIST "" *\r\n'),
    ("IDLE before login", N, b"m1 IDLE\r\n"),
    ("APPEND before login", N, b"m1 APPEND INBOX {3+}\r\nabc\r\n"),
    ("LOGIN when authenticated", A, b"m1 LOGIN demo demo\r\n"),
    ("AUTHENTICATE when authenticated", A,
     b"m1 AUTHENTICATE PLAIN " + plain_response("demo", "demo") + b"\r\n"),
    ("EXPUNGE when not selected", A, b"m1 EXPUNGE\r\n"),
    ("CLOSE when not selected", A, b"m1 CLOSE\r\n"),
    ("SEARCH when not selected", A, b"m1 SEARCH ALL\r\n"),
    ("UID FETCH when not selected", A, b"m1 UID FETCH 1 UID\r\n"),
    ("LOGIN when selected", S, b"m1 LOGIN demo demo\r\n"),
    # -- dates ---------------------------------------------------------------------------------
    ("day 32", S, b"m1 SEARCH SINCE 32-Jan-2024\r\n"),
    ("unknown month", S, b"m1 SEARCH BEFORE 1-Foo-2024\r\n"),
    ("ISO date", S, b"m1 SEARCH ON 2024-01-01\r\n"),
    ("29 February of a common year", S, b"m1 SEARCH SENTON 29-Feb-2023\r\n"),
    ("unterminated quoted date", S, b'm1 SEARCH SINCE "1-Jan-2024\r\n'),
    ("APPEND impossible date", A, b'm1 APPEND INBOX "31-Feb-2024 10:00:00 +0000" {3+}\r\nabc\r\n'),
    ("APPEND one-digit day", A, b'm1 APPEND INBOX "1-Jan-2024 10:00:00 +0000" {3+}\r\nabc\r\n'),
    ("APPEND hour 25", A, b'm1 APPEND INBOX "01-Jan-2024 25:00:00 +0000" {3+}\r\nabc\r\n'),
    ("APPEND date without zone", A, b'm1 APPEND INBOX "01-Jan-2024 10:00:00" {3+}\r\nabc\r\n'),
    ("APPEND unquoted date", A, b"m1 APPEND INBOX 01-Jan-2024 {3+}\r\nabc\r\n"),
    # -- FETCH items and sections -------------------------------------------------------------------
    ("unknown fetch item", S, b"m1 FETCH 1 FOO\r\n"),
    ("unknown item in list", S, b"m1 FETCH 1 (FLAGS FOO)\r\n"),
    ("empty fetch item list", S, b"m1 FETCH 1 ()\r\n"),
    ("unbalanced fetch list", S, b"m1 FETCH 1 (FLAGS\r\n"),
    ("extra parenthesis", S, b"m1 FETCH 1 (FLAGS))\r\n"),
    ("macro inside list", S, b"m1 FETCH 1 (ALL)\r\n"),
    ("BODY.PEEK without section", S, b"m1 FETCH 1 BODY.PEEK\r\n"),
    ("HEADER.FIELDS without list", S, b"m1 FETCH 1 BODY[HEADER.FIELDS]\r\n"),
    ("HEADER.FIELDS empty list", S, b"m1 FETCH 1 BODY[HEADER.FIELDS ()]\r\n"),
    ("HEADER.FIELDS unterminated list", S, b"m1 FETCH 1 BODY[HEADER.FIELDS (From]\r\n"),
    ("unknown section text", S, b"m1 FETCH 1 BODY[FOO]\r\n"),
    ("part number 0", S, b"m1 FETCH 1 BODY[0]\r\n"),
    ("part number with trailing dot", S, b"m1 FETCH 1 BODY[1.]\r\n"),
    ("MIME without part", S, b"m1 FETCH 1 BODY[MIME]\r\n"),
    ("TEXT.MIME", S, b"m1 FETCH 1 BODY[TEXT.MIME]\r\n"),
    ("unterminated section", S, b"m1 FETCH 1 BODY[TEXT\r\n"),
    ("partial without count", S, b"m1 FETCH 1 BODY[]<1>\r\n"),
    ("partial count 0", S, b"m1 FETCH 1 BODY[]<5.0>\r\n"),
    ("partial not numbers", S, b"m1 FETCH 1 BODY[]<a.b>\r\n"),
    # -- SEARCH ------------------------------------------------------------------------------------
    ("unknown search key", S, b"m1 SEARCH FOOBAR\r\n"),
    ("SEARCH without key", S, b"m1 SEARCH\r\n"),
    ("OR with one operand", S, b"m1 SEARCH OR SEEN\r\n"),
    ("NOT without operand", S, b"m1 SEARCH NOT\r\n"),
    ("unbalanced search parenthesis", S, b"m1 SEARCH (SEEN\r\n"),
    ("stray closing parenthesis", S, b"m1 SEARCH SEEN)\r\n"),
    ("empty search parentheses", S, b"m1 SEARCH ()\r\n"),
    ("LARGER not a number", S, b"m1 SEARCH LARGER abc\r\n"),
    ("LARGER negative", S, b"m1 SEARCH LARGER -1\r\n"),
    ("HEADER without value", S, b"m1 SEARCH HEADER Subject\r\n"),
    ("KEYWORD without flag", S, b"m1 SEARCH KEYWORD\r\n"),
    ("FROM without string", S, b"m1 SEARCH FROM\r\n"),
    ("SUBJECT unterminated string", S, b'm1 SEARCH SUBJECT "abc\r\n'),
    ("CHARSET without name", S, b"m1 SEARCH CHARSET\r\n"),
    ("unknown RETURN option", S, b"m1 SEARCH RETURN (BOGUS) ALL\r\n"),
    ("invalid UTF-8 search string", S, b"m1 SEARCH CHARSET UTF-8 SUBJECT {2+}\r\n\xff\xfe\r\n"),
    ("8-bit string for US-ASCII", S, b"m1 SEARCH CHARSET US-ASCII SUBJECT {2+}\r\n\xc3\xa4\r\n"),
    # -- mailbox names -------------------------------------------------------------------------------
    ("mailbox name with slash", A, b"m1 CREATE foo/bar\r\n"),
    ("mailbox name ..", A, b"m1 CREATE ..\r\n"),
    ("empty hierarchy level", A, b"m1 CREATE a..b\r\n"),
    ("leading separator", A, b"m1 CREATE .hidden\r\n"),
    ("empty mailbox name", A, b'm1 CREATE ""\r\n'),
    ("unterminated modified UTF-7", A, b'm1 CREATE "&Jjo"\r\n'),
    ("modified UTF-7 of printable text", A, b'm1 CREATE "&AGE-"\r\n'),
    ("modified UTF-7 bad base64", A, b'm1 CREATE "&*!-"\r\n'),
    ("8-bit mailbox name", A, b"m1 CREATE {3+}\r\n\xc3\xa4x\r\n"),
    ("control character in mailbox name", A, b'm1 CREATE "a\x07b"\r\n'),
    ("SELECT path traversal", A, b'm1 SELECT "../alice"\r\n'),
    ("SELECT NUL in name", A, b"m1 SELECT {3+}\r\nI\x00N\r\n"),
    ("RENAME to slash name", A, b'm1 RENAME INBOX "a/b"\r\n'),
    ("DELETE INBOX", A, b"m1 DELETE INBOX\r\n"),
    ("STATUS of 8-bit name", A, b"m1 STATUS {2+}\r\n\xff\xff (MESSAGES)\r\n"),
    ("COPY to invalid name", S, b'm1 COPY 1 "a/b"\r\n'),
    # -- NUL and 8-bit bytes ---------------------------------------------------------------------------
    ("NUL after command", N, b"m1 NOOP\x00\r\n"),
    ("NUL in quoted string", N, b'm1 LOGIN "de\x00mo" demo\r\n'),
    ("NUL in fetch item", S, b"m1 FETCH 1 FL\x00AGS\r\n"),
    ("8-bit garbage after tag", A, b"m1 \xff\xfe\xfd\r\n"),
]

UNTAGGED_CASES = [
    ("empty tag", N, b" NOOP\r\n"),
    ("star as tag", N, b"* NOOP\r\n"),
    ("plus as tag", A, b"+ NOOP\r\n"),
    ("lone NUL", N, b"\x00\r\n"),
    ("8-bit garbage line", N, b"\xff\xfe\xfd\r\n"),
    ("8-bit tag", A, b"\xff1 NOOP\r\n"),
    ("8-bit tag before a literal", N, b"\xff1 LOGIN {5}\r\n"),
    ("tag containing +", N, b"m+1 NOOP\r\n"),
    ("tag containing NUL", N, b"m1\x00 NOOP\r\n"),
    ("tag containing quote", N, b'm"1 NOOP\r\n'),
]


def test_at_least_sixty_distinct_cases():
    cases = [(c[1], c[2]) for c in CASES + UNTAGGED_CASES]
    assert len(set(cases)) == len(cases) >= 60


@pytest.mark.parametrize("name,state,payload", CASES, ids=[c[0] for c in CASES])
def test_malformed_command_is_rejected_and_connection_survives(srv, pool, name, state, payload):
    check(srv, pool, state, payload)


@pytest.mark.parametrize("name,state,payload", UNTAGGED_CASES, ids=[c[0] for c in UNTAGGED_CASES])
def test_input_without_valid_tag_gets_untagged_bad(srv, pool, name, state, payload):
    check(srv, pool, state, payload, expect="untagged")


@pytest.mark.parametrize("charset", ["KOI9-XX", "ISO-2022-XX", "\"WINDOWS-9999\""])
def test_unknown_charset_is_no_badcharset(srv, pool, charset):
    check(srv, pool, S, b"m1 SEARCH CHARSET " + charset.encode() + b" SUBJECT x\r\n", expect="badcharset")


def test_bad_commands_do_not_change_the_mailbox(srv, pool):
    before = None
    c = open_in_state(srv, pool, A)
    try:
        before = c.ok("STATUS INBOX (MESSAGES UIDNEXT)").lines(b"STATUS")
        for payload in (b'm1 APPEND INBOX "31-Feb-2024 10:00:00 +0000" {3+}\r\nabc\r\n',
                        b"m1 APPEND INBOX (\\Bogus) {3+}\r\nabc\r\n",
                        b"m1 APPEND INBOX {%d+}\r\n" % (MAX_APPEND + 1) + big(MAX_APPEND + 1) + b"\r\n"):
            c.send(payload)
            r = c.read_until_tagged(b"m1")
            assert r.status in ("BAD", "NO")
        assert c.ok("STATUS INBOX (MESSAGES UIDNEXT)").lines(b"STATUS") == before
        for bad in (b"foo/bar", b"..", b"a..b", b"&Jjo"):
            assert bad.decode() not in str(c.ok('LIST "" *').untagged)
    except BaseException:
        c.close()
        raise
    pool[A] = c


def test_garbage_while_idling_then_done(srv, pool):
    c = open_in_state(srv, pool, S)
    try:
        c.send(b"i1 IDLE\r\n")
        assert c.read_response().startswith(b"+")
        c.send(b"i2 NOOP\r\n")  # a command while idling: not DONE
        seen = c.wait_for(lambda r: b"BAD" in r or r.startswith(b"i1 "), timeout=5)
        assert not seen[-1].startswith(b"i1 OK")
        if not seen[-1].startswith(b"i1 "):
            c.send(b"DONE\r\n")
            assert c.read_until_tagged(b"i1").ok
        assert_state(c, S)
    except BaseException:
        c.close()
        raise
    pool[S] = c


@pytest.mark.parametrize("response", [b"!!!", b"abc", b"", b"ZGVtbw=="])
def test_bad_authenticate_continuation(srv, pool, response):
    c = open_in_state(srv, pool, N)
    try:
        c.send(b"m1 AUTHENTICATE PLAIN\r\n")
        assert c.read_response().startswith(b"+")
        c.send(response + b"\r\n")
        r = c.read_until_tagged(b"m1")
        assert r.status in ("BAD", "NO"), r.tagged
        assert_state(c, N)
    except BaseException:
        c.close()
        raise
    pool[N] = c


def test_connection_survives_many_errors_in_a_row(srv, pool):
    c = open_in_state(srv, pool, S)
    try:
        for i in range(50):
            c.send(b"e%d FETCH 0 FLAGS\r\n" % i)
        for i in range(50):
            r = c.read_until_tagged(b"e%d" % i)
            assert r.status == "BAD"
        assert_state(c, S)
    except BaseException:
        c.close()
        raise
    pool[S] = c

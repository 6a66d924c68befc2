"""Malformed GETMETADATA/SETMETADATA: each answered BAD or NO (never a "+"
for a literal that is refused), the connection still usable in the same
state, and nothing stored. Uses the machinery of test_protocol_malformed.
"""

from __future__ import annotations

import pytest

from conftest import ServerProcess
from imap_raw import RawIMAP
from test_protocol_malformed import A, N, S, check, open_in_state, pool  # noqa: F401  (fixture)

BIG = 64 * 1024 + 1


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("metadata-malformed")
    server = ServerProcess(str(root), extra_args=[
        "--devicetoken-notifier", "http://127.0.0.1:9/notify", "--push-allow-http", "--push-allow-private",
        "--metadata-comment", "read only"])
    server.add_users()
    server.start()
    with RawIMAP(server.port) as c:  # one message, so that "FETCH 1" is valid in INBOX
        c.login()
        c.append("INBOX", b"Subject: hello\r\n\r\nbody\r\n")
    yield server
    server.stop()


CASES = [
    # -- GETMETADATA ----------------------------------------------------------------------
    ("GETMETADATA before login", N, b'm1 GETMETADATA "" /shared/comment\r\n'),
    ("GETMETADATA without arguments", A, b"m1 GETMETADATA\r\n"),
    ("GETMETADATA without entries", A, b"m1 GETMETADATA INBOX\r\n"),
    ("entry without leading slash", A, b"m1 GETMETADATA INBOX private/comment\r\n"),
    ("entry outside /private and /shared", A, b"m1 GETMETADATA INBOX /public/comment\r\n"),
    ("entry with *", A, b"m1 GETMETADATA INBOX /private/*\r\n"),
    ("entry with %", A, b'm1 GETMETADATA INBOX "/private/a%b"\r\n'),
    ("entry with //", A, b"m1 GETMETADATA INBOX /private//x\r\n"),
    ("entry with trailing /", A, b"m1 GETMETADATA INBOX /private/x/\r\n"),
    ("entry with a control character", A, b'm1 GETMETADATA INBOX "/private/a\x07"\r\n'),
    ("8-bit entry name", A, b"m1 GETMETADATA INBOX {10+}\r\n/private/\xff\r\n"),
    ("entry name too long", A, b"m1 GETMETADATA INBOX /private/" + b"n" * 250 + b"\r\n"),
    ("empty entry list", A, b"m1 GETMETADATA INBOX ()\r\n"),
    ("unterminated entry list", A, b"m1 GETMETADATA INBOX (/private/a /private/b\r\n"),
    ("unknown option", A, b"m1 GETMETADATA (FOO 1) INBOX /private/a\r\n"),
    ("DEPTH 2", A, b"m1 GETMETADATA (DEPTH 2) INBOX /private/a\r\n"),
    ("MAXSIZE not a number", A, b"m1 GETMETADATA INBOX (MAXSIZE big) /private/a\r\n"),
    ("MAXSIZE negative", A, b"m1 GETMETADATA (MAXSIZE -1) INBOX /private/a\r\n"),
    ("MAXSIZE without value", A, b"m1 GETMETADATA (MAXSIZE) INBOX /private/a\r\n"),
    ("option given twice", A, b"m1 GETMETADATA (DEPTH 1 DEPTH 0) INBOX /private/a\r\n"),
    ("options before and after the mailbox", A, b"m1 GETMETADATA (DEPTH 1) INBOX (MAXSIZE 5) /private/a\r\n"),
    ("empty option list", A, b"m1 GETMETADATA () INBOX /private/a\r\n"),
    ("GETMETADATA trailing garbage", A, b"m1 GETMETADATA INBOX /private/a extra\r\n"),
    ("GETMETADATA of a missing mailbox", A, b"m1 GETMETADATA NoSuchBox /private/a\r\n"),
    ("GETMETADATA of an invalid mailbox name", S, b'm1 GETMETADATA "a/b" /private/a\r\n'),
    # -- SETMETADATA ----------------------------------------------------------------------
    ("SETMETADATA before login", N, b'm1 SETMETADATA INBOX (/private/a "x")\r\n'),
    ("SETMETADATA literal before login", N, b"m1 SETMETADATA INBOX (/private/a {5}\r\n"),
    ("SETMETADATA without arguments", A, b"m1 SETMETADATA\r\n"),
    ("SETMETADATA without entries", A, b"m1 SETMETADATA INBOX\r\n"),
    ("SETMETADATA empty list", A, b"m1 SETMETADATA INBOX ()\r\n"),
    ("SETMETADATA without parentheses", A, b'm1 SETMETADATA INBOX /private/a "x"\r\n'),
    ("entry without value", A, b"m1 SETMETADATA INBOX (/private/a)\r\n"),
    ("atom value", A, b"m1 SETMETADATA INBOX (/private/a value)\r\n"),
    ("list value", A, b'm1 SETMETADATA INBOX (/private/a ("x"))\r\n'),
    ("value for the /private root", A, b'm1 SETMETADATA INBOX (/private "x")\r\n'),
    ("value for the /shared root", S, b'm1 SETMETADATA INBOX (/shared "x")\r\n'),
    ("unterminated value list", A, b'm1 SETMETADATA INBOX (/private/a "x"\r\n'),
    ("SETMETADATA trailing garbage", A, b'm1 SETMETADATA INBOX (/private/a "x") extra\r\n'),
    ("bad entry among good ones", A, b'm1 SETMETADATA INBOX (/private/a "x" /private/b* "y")\r\n'),
    ("NUL in a plain literal", A, b"m1 SETMETADATA INBOX (/private/a {3+}\r\na\x00b)\r\n"),
    ("value literal too large", A, b"m1 SETMETADATA INBOX (/private/a {%d}\r\n" % BIG),
    ("value LITERAL+ too large", A,
     b"m1 SETMETADATA INBOX (/private/a {%d+}\r\n" % BIG + b"v" * BIG + b")\r\n"),
    ("server /shared entry", A, b'm1 SETMETADATA "" (/shared/comment "mine")\r\n'),
    ("SETMETADATA of a missing mailbox", A, b'm1 SETMETADATA NoSuchBox (/private/a "x")\r\n'),
    ("SETMETADATA of an 8-bit mailbox name", A, b'm1 SETMETADATA {2+}\r\n\xff\xfe (/private/a "x")\r\n'),
    ("device token too large", A,
     b"m1 SETMETADATA INBOX (/private/devicetoken {4097+}\r\n" + b"t" * 4097 + b")\r\n"),
    ("empty device token", S, b'm1 SETMETADATA INBOX (/private/devicetoken "")\r\n'),
]


def test_at_least_twenty_distinct_cases():
    assert len({(c[1], c[2]) for c in CASES}) == len(CASES) >= 20


@pytest.mark.parametrize("name,state,payload", CASES, ids=[c[0] for c in CASES])
def test_malformed_metadata_command_is_refused(srv, pool, name, state, payload):  # noqa: F811
    check(srv, pool, state, payload)


def test_nothing_was_stored(srv, pool):  # noqa: F811
    c = open_in_state(srv, pool, A)
    try:
        for mailbox in (b"INBOX", b'""'):
            r = c.ok(b"GETMETADATA " + mailbox + b" (DEPTH infinity) (/private /shared)")
            assert [u for u in r.lines(b"METADATA") if b"/shared/comment" not in u] == [], r.untagged
    except BaseException:
        c.close()
        raise
    pool[A] = c

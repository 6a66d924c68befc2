"""The whole server on mutated commands (bounded: a few seconds).

Valid commands of the authenticated and selected states are mutated at the
byte and token level and sent to a real server holding the sample mail.
The test fails on any traceback or "failed" line in the server log, any
``NO [SERVERBUG]``, any response that does not parse as IMAP
(tests/imap_grammar.py), any answer slower than a second, and a second
connection that is not served meanwhile. The random seed is printed on
failure so a run can be replayed with PUSHIMAPD_FUZZ_SEED.
"""

from __future__ import annotations

import os
import random
import re
import time

import pytest

from conftest import started_server
from imap_grammar import problem
from imap_raw import RawIMAP

ROUNDS = int(os.environ.get("PUSHIMAPD_FUZZ_ROUNDS", "1500"))
SEEDS = [
    b"NOOP", b"CHECK", b"CAPABILITY", b"NAMESPACE", b'ID ("name" "fuzz")', b"ENABLE CONDSTORE",
    b"FETCH 1:* (FLAGS UID RFC822.SIZE INTERNALDATE)", b"FETCH 1 (ENVELOPE BODYSTRUCTURE)",
    b"FETCH 1:3 BODY.PEEK[HEADER.FIELDS (From Subject)]", b"FETCH 2 BODY.PEEK[1.MIME]",
    b"FETCH 1 (BODY.PEEK[TEXT]<0.20> BODY[HEADER.FIELDS.NOT (Received)])", b"UID FETCH 1:* FAST",
    b"FETCH * ALL", b"FETCH 1:2 FULL", b"UID FETCH 4:* (UID FLAGS) ",
    b"SEARCH ALL", b"SEARCH OR SEEN (FLAGGED SUBJECT hello) NOT DELETED",
    b'SEARCH CHARSET UTF-8 FROM "alice" SINCE 1-Jan-2020', b"UID SEARCH RETURN (MIN MAX COUNT) UNSEEN",
    b"SEARCH HEADER Message-ID <x@y> LARGER 10 SMALLER 100000", b"SEARCH 1:3,5 UID 2:* KEYWORD $Fuzz",
    b"STORE 1 +FLAGS (\\Flagged $Fuzz)", b"STORE 1:2 -FLAGS.SILENT (\\Flagged)",
    b"UID STORE 1 FLAGS (\\Seen)", b"COPY 1 Fuzz", b"UID COPY 1:2 Fuzz",
    b'LIST "" "*"', b'LIST "" %', b'LSUB "" "*"', b'LIST (SPECIAL-USE) "" "*" RETURN (CHILDREN)',
    b"STATUS INBOX (MESSAGES UNSEEN UIDNEXT UIDVALIDITY RECENT)", b"STATUS Fuzz (MESSAGES)",
    b"SUBSCRIBE Fuzz", b"UNSUBSCRIBE Fuzz", b"CREATE Fuzz.Child", b"RENAME Fuzz.Child Fuzz.Other",
    b"DELETE Fuzz.Other", b"EXAMINE INBOX", b"SELECT INBOX",
    b"APPEND Fuzz (\\Seen) {12+}\r\nSubject: x\r\n",
    b'APPEND Fuzz "01-Jan-2024 10:00:00 +0100" {12+}\r\nSubject: y\r\n',
    # the extensions of issue 10
    b"SORT (REVERSE DATE SUBJECT) UTF-8 ALL", b"UID SORT (DISPLAYFROM SIZE) US-ASCII UNSEEN",
    b"SORT RETURN (MIN MAX COUNT ALL) (ARRIVAL) UTF-8 1:*", b"THREAD REFERENCES UTF-8 ALL",
    b"UID THREAD REFS UTF-8 SINCE 1-Jan-2020", b"THREAD ORDEREDSUBJECT UTF-8 NOT DELETED",
    b"FETCH 1:* (BINARY.PEEK[1] BINARY.SIZE[2])", b"UID FETCH 1:* BINARY.PEEK[2]<0.100>",
    b'LIST (SUBSCRIBED RECURSIVEMATCH) "" ("%" "Fuzz*") RETURN (CHILDREN STATUS (MESSAGES SIZE))',
    b'LIST (REMOTE) "" "*" RETURN (SUBSCRIBED SPECIAL-USE)', b"STATUS INBOX (SIZE DELETED DELETED-STORAGE)",
    b'GETQUOTAROOT INBOX', b'GETQUOTA ""', b'SETQUOTA "" (STORAGE 10)',
    b'GENURLAUTH "imap://demo@localhost/INBOX/;UID=1;URLAUTH=anonymous" INTERNAL',
    b'URLFETCH "imap://demo@localhost/INBOX/;UID=1;URLAUTH=anonymous:internal:' + b"0" * 64 + b'"',
    b"RESETKEY INBOX INTERNAL",
    b"APPEND Fuzz {3+}\r\nx\r\n (\\Seen) {3+}\r\ny\r\n",
    b'APPEND Fuzz CATENATE (URL "/INBOX/;UID=1/;SECTION=HEADER" TEXT {4+}\r\nbody)',
    # the rest of issue 10: WITHIN, SAVEDATE, PREVIEW, SEARCHRES, PARTIAL, CONTEXT, UTF8=ACCEPT, IMAP4rev2
    b"SEARCH OLDER 3600 YOUNGER 86400", b"UID SEARCH NOT YOUNGER 1 OR OLDER 5 SEEN",
    b"FETCH 1:* (SAVEDATE PREVIEW)", b"UID FETCH 1:3 (UID PREVIEW (LAZY)) (CHANGEDSINCE 1)",
    b"SEARCH SAVEDSINCE 1-Jan-2020 SAVEDATESUPPORTED NOT SAVEDBEFORE 2-Feb-2021 SAVEDON 1-Jan-2030",
    b"SEARCH RETURN (SAVE) FLAGGED", b"SEARCH RETURN (SAVE MIN MAX) ALL", b"FETCH $ (UID FLAGS)",
    b"UID STORE $ +FLAGS (\\Seen)", b"COPY $ Fuzz", b"SEARCH $ NOT DELETED", b"UID SEARCH UID $",
    b"SEARCH RETURN (PARTIAL 1:5 COUNT) ALL", b"UID SEARCH RETURN (PARTIAL -1:-3) ALL",
    b"SORT RETURN (PARTIAL 1:2 SAVE) (SUBJECT) UTF-8 ALL", b"UID SEARCH RETURN (UPDATE CONTEXT) UNSEEN",
    b"SORT RETURN (UPDATE MIN) (DATE) UTF-8 ALL", b'CANCELUPDATE "t1" "t2"',
    b"ENABLE UTF8=ACCEPT", b"ENABLE IMAP4rev2 CONDSTORE", b'CREATE "Fuzz.\xc3\xa9t\xc3\xa9"',
    b'LIST "" "Fuzz*"', b'STATUS "Fuzz.\xc3\xa9t\xc3\xa9" (MESSAGES SIZE)',
    b"APPEND Fuzz UTF8 (~{12+}\r\nSubject: z\r\n)",
]
TOKENS = [b"(", b")", b'"', b"\\", b"{", b"}", b"[", b"]", b"<", b">", b"*", b"%", b"~", b" ", b"NIL",
          b"PARTIAL ", b"UPDATE", b"SAVE", b"-3:-1", b"LAZY", b"\xc3\xa9", b"\xcc\x81",
          b"\x00", b"\x80", b"\xe9", b"\xff", b"\t", b"0", b"4294967296", b"-1", b"$", b":", b",", b".",
          b"{5}", b"{0+}", b"~{3}", b"\"\\\"", b"BODY[", b"HEADER.FIELDS (", b"UID", b"NOT ", b"OR "]
_LITERAL_AT_END = re.compile(rb"~?\{(\d*)(\+?)\}\Z")


def mutate(rng: random.Random, seed: bytes) -> bytes:
    """A few random edits of a valid command (never a dangling literal)."""
    data = bytearray(seed)
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        pos = rng.randint(0, len(data))
        if choice < 0.3:
            data[pos:pos] = rng.choice(TOKENS)
        elif choice < 0.5 and data:
            del data[pos:pos + rng.randint(1, 6)]
        elif choice < 0.65 and data:
            data[pos:pos + 1] = bytes([rng.randrange(256)])
        elif choice < 0.8:
            other = rng.choice(SEEDS)
            cut = rng.randint(0, len(other))
            data[pos:] = other[cut:]
        else:
            words = bytes(data).split(b" ")
            rng.shuffle(words)
            data = bytearray(b" ".join(words))
    line = bytes(data).replace(b"\n", b" ").replace(b"\r", b" ")
    if _LITERAL_AT_END.search(line):
        line += b" x"  # a trailing {n} would wait for literal data
    for keyword in (b"LOGOUT", b"IDLE", b"AUTHENTICATE", b"STARTTLS", b"COMPRESS"):
        line = re.sub(re.escape(keyword), b"NOOP", line, flags=re.I)
    return line


def _bad_lines(log: bytes) -> list[bytes]:
    return [line for line in log.splitlines()
            if b"Traceback" in line or b"Unhandled Error" in line or re.search(rb" failed: \w+Error", line)]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("fuzz")), sample=True)
    with RawIMAP(server.port) as c:
        c.login()
        c.ok("CREATE Fuzz")
    yield server
    server.stop()


@pytest.mark.parametrize("state", ["authenticated", "selected"])
def test_mutated_commands_never_break_the_server(srv, state):
    seed = int(os.environ.get("PUSHIMAPD_FUZZ_SEED", random.randrange(1 << 30)))
    rng = random.Random(seed)
    c = RawIMAP(srv.port, timeout=5)
    c.login()
    observer = RawIMAP(srv.port, timeout=5)
    observer.login()
    slowest = 0.0
    utf8 = False  # UTF8=ACCEPT or IMAP4rev2 enabled: quoted strings may hold UTF-8
    try:
        for i in range(ROUNDS):
            if state == "selected" and (i % 50 == 0 or c.command("NOOP").status != "OK"):
                c.ok("SELECT INBOX")
            line = mutate(rng, rng.choice(SEEDS))
            tag = c.next_tag()
            started = time.monotonic()
            c.send(tag + b" " + line + b"\r\n")
            while True:
                try:
                    response = c.read_response()
                except (OSError, AssertionError) as e:
                    raise AssertionError(f"seed {seed}: no answer to {line!r} ({e!r})") from None
                if response.startswith(b"+"):  # a literal we did not mean, or IDLE: finish it
                    c.send(b"DONE\r\n")
                    continue
                why = problem(response, utf8)
                if response.upper().startswith(b"* ENABLED") and re.search(rb"UTF8=ACCEPT|IMAP4REV2",
                                                                            response.upper()):
                    utf8 = True
                assert why is None, f"seed {seed}: {line!r} -> {response!r}: {why}"
                assert b"[SERVERBUG]" not in response, f"seed {seed}: {line!r} -> {response!r}"
                if response.startswith(tag + b" ") or response.startswith(b"* BYE"):
                    break
            took = time.monotonic() - started
            slowest = max(slowest, took)
            assert took < 1.0, f"seed {seed}: {line!r} took {took:.2f}s"
            if response.startswith(b"* BYE"):
                utf8 = False
                c.close()
                c = RawIMAP(srv.port, timeout=5)
                c.login()
            if i % 100 == 0:
                t0 = time.monotonic()
                assert observer.command("NOOP").ok
                assert time.monotonic() - t0 < 1.0, f"seed {seed}: another connection was blocked"
    finally:
        c.close()
        observer.close()
    bad = _bad_lines(srv.log)
    assert not bad, f"seed {seed}: " + b"\n".join(bad[:20]).decode(errors="replace")

"""Regressions for defects a fuzzer and a kill -9 soak found: one user's bad
input never stalls the server, never leaves broken state behind, never
floods the log, and MOVE never leaves a message in two folders."""

from __future__ import annotations

import os
import random
import signal
import socket
import time

import pytest

from conftest import started_server
from imap_raw import RawIMAP, literal
from pushimapd.wire.listmatch import ListPattern


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("robust")))
    with RawIMAP(server.port) as c:
        c.login()
        for i in range(3):
            c.append("INBOX", b"Subject: m%d\r\nFrom: a@example.org\r\n\r\nbody %d\r\n" % (i, i))
    yield server
    server.stop()


def selected(srv) -> RawIMAP:
    c = RawIMAP(srv.port, timeout=10)
    c.login()
    c.select("INBOX")
    return c


def traceback_free(srv) -> None:
    assert b"Traceback" not in srv.log, srv.log.decode(errors="replace")[-3000:]


# -- 1. LIST patterns are matched in linear time ----------------------------------
def test_pathological_list_pattern_answers_at_once_and_others_are_served(srv):
    with selected(srv) as c:
        c.ok("CREATE " + "x" * 60)
        try:
            started = time.monotonic()
            c.send(b"p1 LIST \"\" \"*%*%*%*%*%*%*%*%y\"\r\n")
            with RawIMAP(srv.port, timeout=5) as other:  # greeted while the LIST runs
                assert other.greeting.startswith(b"* OK")
            r = c.read_until_tagged(b"p1")
            assert r.ok and r.untagged == []
            assert time.monotonic() - started < 5
            listed = c.ok('LIST "" "*%x%*%x"')
            assert any(b"x" * 60 in u for u in listed.untagged)
        finally:
            c.ok("DELETE " + "x" * 60)


def test_list_pattern_matcher_is_linear():
    pattern = ListPattern("*%" * 200 + "y")
    started = time.process_time()
    assert not pattern.matches("x" * 200)
    assert pattern.matches("x" * 200 + "y")
    assert time.process_time() - started < 1.0
    assert ListPattern("a.%").matches("a.b") and not ListPattern("a.%").matches("a.b.c")
    assert ListPattern("a*").matches("a.b.c") and ListPattern("inbox.%").matches("INBOX.x")
    assert not ListPattern("Inbox.%").matches("Other.x")


def test_overlong_list_pattern_is_bad(srv):
    with selected(srv) as c:
        r = c.command(b'LIST "" "' + b"%" * 2000 + b'"')
        assert r.status == "BAD"
        assert c.command("NOOP").ok


# -- 2. keywords must be atoms; a failed write leaves nothing behind ---------------
@pytest.mark.parametrize("command", [
    b"STORE 1 +FLAGS (k\xe9)",
    b"UID STORE 1 FLAGS.SILENT (\\Flagged k\xbe)",
    b"STORE 1 +FLAGS k\xe9",
    b"SEARCH KEYWORD k\xe9",
    b"STORE 1 +FLAGS (BODY[x)",
])
def test_eight_bit_keyword_is_bad_and_inbox_stays_usable(srv, command):
    with selected(srv) as c:
        r = c.command(command)
        assert r.status == "BAD", r.tagged
        assert c.command("NOOP").ok
    with RawIMAP(srv.port) as fresh:
        fresh.login()
        assert fresh.command("SELECT INBOX").ok
        assert fresh.command("EXAMINE INBOX").ok
    root = os.path.join(srv.root, "demo")
    assert not os.path.exists(os.path.join(root, "dovecot-keywords.tmp"))
    traceback_free(srv)


def test_append_with_eight_bit_keyword_is_bad(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        r = c.command(b"APPEND INBOX (k\xe9) " + literal(b"Subject: x\r\n\r\nx\r\n", plus=True))
        assert r.status == "BAD"
        assert c.command("SELECT INBOX").ok
    traceback_free(srv)


def test_eight_bit_mailbox_name_is_refused_cleanly(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        for command in (b'SELECT "x\xbe"', b'CREATE "x\xbe"', b'STATUS "x\xbe" (MESSAGES)', b"SELECT x\xbe"):
            r = c.command(command)
            assert r.status in ("NO", "BAD"), (command, r.tagged)
        assert c.command("NOOP").ok
    traceback_free(srv)


def test_client_bytes_in_a_reason_stay_printable(srv):
    with selected(srv) as c:
        r = c.command(b'SEARCH CHARSET "\xe9\x01X" ALL')
        assert r.status == "NO" and r.code.startswith("BADCHARSET")
        assert all(0x20 <= b < 0x7F for b in r.tagged[:-2]), r.tagged


def test_a_reason_never_ends_like_a_literal(srv):
    with selected(srv) as c:
        r = c.command(b'CANCELUPDATE "t1~{3}"')  # the tag comes back in the reason
        assert r.status == "BAD" and not r.tagged.rstrip().endswith(b"}")


# -- 3. nesting depth is bounded; bad input is one log line at most -----------------
def test_deep_not_before_login_is_bad_without_traceback(srv):
    before = srv.log.count(b"\n")
    with RawIMAP(srv.port) as c:
        r = c.command(b"SEARCH " + b"NOT " * 1000 + b"ALL")
        assert r.status == "BAD"
        assert c.command("NOOP").ok
    traceback_free(srv)
    assert srv.log.count(b"\n") - before <= 3  # connection lines at most, never a traceback


def test_deep_parentheses_are_bad_in_selected_state(srv):
    with selected(srv) as c:
        r = c.command(b"SEARCH " + b"(" * 400 + b"ALL" + b")" * 400)
        assert r.status == "BAD"
        r = c.command(b"SEARCH " + b"(" * 30 + b"ALL" + b")" * 30)  # reasonable depth still works
        assert r.ok and r.search() == [1, 2, 3]
        r = c.command(b"SEARCH " + b"OR " * 500 + b"ALL" + b" ALL" * 500)
        assert r.status == "BAD"
        assert c.command("NOOP").ok
    traceback_free(srv)


# -- 4. HEADER.FIELDS names are validated and echoed as astrings --------------------
@pytest.mark.parametrize("fields", [
    b"({2+}\r\n\r\n)",
    b'("a b")',
    b"({3+}\r\na\x00b)",
    "(Fr\u00f6m)".encode(),
    b"(Subject:)",
])
def test_invalid_header_field_names_are_bad(srv, fields):
    with selected(srv) as c:
        r = c.command(b"FETCH 1 BODY.PEEK[HEADER.FIELDS " + fields + b"]")
        assert r.status == "BAD", r.tagged
        assert c.command("NOOP").ok


def test_header_field_names_are_echoed_as_valid_astrings(srv):
    with selected(srv) as c:
        r = c.ok(b'FETCH 1 BODY.PEEK[HEADER.FIELDS ("x)y" Subject "a\\"b")]')
        (line,) = r.untagged
        assert line.startswith(b'* 1 FETCH (BODY[HEADER.FIELDS ("x)y" Subject "a\\"b")] {')
        assert b"Subject: m0" in line


# -- 5. MOVE is atomic under kill -9 ------------------------------------------------
def _messages(root: str, folder: str) -> list[str]:
    path = os.path.join(root, "demo", "" if folder == "INBOX" else "." + folder)
    names = []
    for sub in ("new", "cur"):
        names += os.listdir(os.path.join(path, sub))
    return names


def test_move_leaves_every_message_in_exactly_one_folder_after_kill_9(tmp_path):
    root = str(tmp_path / "mail")
    os.mkdir(root)
    server = started_server(root)
    count = 60
    with RawIMAP(server.port) as c:
        c.login()
        c.ok("CREATE Archive")
        for i in range(count):
            c.append("INBOX", b"Subject: %d\r\nMessage-ID: <%d@x>\r\n\r\nbody\r\n" % (i, i), flags="\\Seen $Label")
    rng = random.Random(7)
    try:
        for round_ in range(6):
            c = RawIMAP(server.port)
            c.login()
            c.select("INBOX" if round_ % 2 == 0 else "Archive")
            target = "Archive" if round_ % 2 == 0 else "INBOX"
            c.send(b"m1 UID MOVE 1:* " + target.encode() + b"\r\n")
            time.sleep(rng.uniform(0, 0.02))  # a random moment inside the MOVE
            server.stop(signal.SIGKILL)
            c.close()
            inbox, archive = _messages(root, "INBOX"), _messages(root, "Archive")
            bases = [n.split(":")[0] for n in inbox + archive]
            assert len(bases) == count and len(set(bases)) == count, (round_, len(inbox), len(archive))
            server.start()
            # after the restart every message is listed once, with distinct UIDs per folder
            with RawIMAP(server.port) as check:
                check.login()
                seen = 0
                for folder in ("INBOX", "Archive"):
                    check.select(folder)
                    r = check.ok("UID FETCH 1:* (UID FLAGS)")
                    uids = [int(items["UID"]) for _, items in r.fetches()]
                    assert len(uids) == len(set(uids))
                    for _, items in r.fetches():
                        assert b"$Label" in items["FLAGS"] and b"\\Seen" in items["FLAGS"]
                    seen += len(uids)
                assert seen == count
    finally:
        server.stop()

"""Unit tests of the test bed's plain parts: trace lines, fault options."""

from __future__ import annotations

import pytest

from pushimapd.testbed.events import EventError, parse_flags
from pushimapd.testbed.faults import FaultError, make_fault
from pushimapd.testbed.trace import LINE, LineSplitter, SessionTrace, escape, file_name


def test_escape_keeps_one_line():
    assert escape(b"a \\ b\r\n\t\x00\xff") == "a \\\\ b\\r\\n\\t\\x00\\xff"


def test_big_literals_are_summarised_across_chunks():
    split = LineSplitter(limit=4)
    out = split.feed(b"* 1 FETCH (BODY[] {10}\r\n01234")
    out += split.feed(b"56789)\r\n* 2 FETCH (BODY[] {3}\r\nabc)\r\n")
    assert out == [b"* 1 FETCH (BODY[] {10}\r\n", b"{10 bytes}", b")\r\n", b"* 2 FETCH (BODY[] {3}\r\n",
                   b"abc)\r\n"]
    split.feed(b"* 3 FETCH (BODY[] {100}\r\n" + b"x" * 40)
    assert split.close() == [b"{40 of 100 bytes}"]


def test_trace_lines_and_rename_at_login(tmp_path):
    seen = []
    trace = SessionTrace(7, "::1:4000", str(tmp_path), on_line=lambda sid, line: seen.append((sid, line)))
    assert trace.path.endswith("--__1_4000-7.log")
    trace.client(b"a LOGIN [redacted]\r\n")
    trace.logged_in("demo")
    trace.server(b"a OK done\r\n")
    trace.close()
    assert "-demo-__1_4000-7.log" in trace.path
    lines = open(trace.path).read().splitlines()
    assert [LINE.fullmatch(line).group(2) for line in lines] == ["C", "*", "S", "*"]
    assert lines[1].endswith(" * logged in as demo") and len(seen) == 4
    assert file_name(0, None, "127.0.0.1:5", 1) == "19700101T000000.000Z---127.0.0.1_5-1.log"


@pytest.mark.parametrize("kind, options, message", [
    ("nope", {}, "unknown fault kind"),
    ("delay", {}, "--ms"),
    ("respond", {"command": "NOOP"}, "--with"),
    ("respond", {"status": "NO"}, "--command"),
    ("respond", {"command": "NOOP", "status": "NO", "code": "A]B"}, "invalid response code"),
    ("push", {"status": "99"}, "HTTP status"),
    ("push", {"status": "429", "after": 1}, "do not apply"),
    ("uidvalidity", {}, "--mailbox"),
    ("bye", {"count": -1}, "negative"),
    ("bye", {"command": "NO OP!"}, "invalid command"),
])
def test_fault_options_are_checked(kind, options, message):
    with pytest.raises(FaultError, match=message):
        make_fault("demo", kind, **options)


def test_fault_defaults():
    assert make_fault("demo", "disconnect", command="uid  fetch") == {
        "user": "demo", "kind": "disconnect", "remaining": 1, "after": 0, "command": "UID FETCH"}
    assert make_fault("demo", "delay", ms=5, count=0)["remaining"] is None
    assert make_fault("demo", "push", status="429", retry_after=3)["http_status"] == 429


def test_flag_arguments():
    assert parse_flags("+\\seen, $Important") == ("+", ["\\Seen", "$Important"])
    assert parse_flags("=") == ("=", [])
    for bad in ("\\Seen", "+\\Recent", "+", "+a{b"):
        with pytest.raises(EventError):
            parse_flags(bad)

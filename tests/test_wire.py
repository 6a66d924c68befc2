"""Grammar edge cases of the sans-IO reader, parser and serializer (no reactor)."""

import datetime

import pytest

import pushimapd.commands  # noqa: F401  (fills the command table)
from pushimapd.core import dispatch
from pushimapd.wire import reader as rd
from pushimapd.wire import serializer as ser
from pushimapd.wire import utf7
from pushimapd.wire.grammar import FetchItem, SearchKey, Section, SequenceSet
from pushimapd.wire.parser import CommandError, parse_command


def parse(data: bytes):
    return parse_command(data, dispatch.parsers())


def events(data: bytes, limit=lambda name: 1000 if name == "APPEND" else 100):
    r = rd.CommandReader(limit, max_line=200)
    r.feed(data)
    out = []
    while True:
        ev = r.next_event()
        if ev is rd.NEED_DATA:
            return out
        out.append(ev)


# -- reader -------------------------------------------------------------------
def test_reader_whole_command():
    assert events(b"a1 NOOP\r\n") == [rd.CommandBytes(b"a1 NOOP\r\n")]


def test_reader_waits_for_line_end():
    assert events(b"a1 NOO") == []


def test_reader_sync_literal_asks_for_continuation_then_waits():
    out = events(b"a1 LOGIN {4}\r\n")
    assert out == [rd.Continue("a1")]


def test_reader_literal_is_taken_raw_including_crlf_bytes():
    out = events(b"a1 LOGIN {4}\r\n\r\n\r\n x\r\n")
    assert out == [rd.Continue("a1"), rd.CommandBytes(b"a1 LOGIN {4}\r\n\r\n\r\n x\r\n")]


def test_reader_literal_plus_needs_no_continuation():
    out = events(b"a1 LOGIN {2+}\r\nab {1+}\r\nc\r\n")
    assert out == [rd.CommandBytes(b"a1 LOGIN {2+}\r\nab {1+}\r\nc\r\n")]


def test_reader_negative_literal_rejected_without_continuation():
    out = events(b"a1 LOGIN {-5}\r\nb2 NOOP\r\n")
    assert out == [rd.Rejected("a1", "BAD", "Invalid literal length"), rd.CommandBytes(b"b2 NOOP\r\n")]


def test_reader_absurd_literal_rejected_before_continuation():
    out = events(b"a1 LOGIN {99999999999}\r\nb2 NOOP\r\n")
    assert out[0].status == "BAD" and not any(isinstance(e, rd.Continue) for e in out)
    assert out[1] == rd.CommandBytes(b"b2 NOOP\r\n")


def test_reader_append_gets_larger_literal_limit_and_toobig():
    assert events(b"a1 APPEND INBOX {500}\r\n") == [rd.Continue("a1")]
    out = events(b"a1 APPEND INBOX {5000}\r\n")
    assert out == [rd.Rejected("a1", "NO", "[TOOBIG] Literal too large")]


def test_reader_too_big_literal_plus_is_swallowed():
    out = events(b"a1 LOGIN {150+}\r\n" + b"x" * 150 + b"\r\nb2 NOOP\r\n")
    assert out[0].status == "BAD"
    assert out[1:] == [rd.CommandBytes(b"b2 NOOP\r\n")]


def test_reader_absurd_literal_plus_is_fatal():
    out = events(b"a1 LOGIN {99999999+}\r\n")
    assert out[0].fatal


def test_reader_long_line_rejected_and_stream_recovers():
    out = events(b"a1 NOOP " + b"x" * 500 + b"\r\nb2 NOOP\r\n")
    assert out[0] == rd.Rejected("a1", "BAD", "Line too long")
    assert out[-1] == rd.CommandBytes(b"b2 NOOP\r\n")


def test_reader_discard_after_starttls():
    r = rd.CommandReader(lambda n: 100)
    r.feed(b"a1 STARTTLS\r\na2 LOGIN x y\r\n")
    assert r.next_event() == rd.CommandBytes(b"a1 STARTTLS\r\n")
    assert r.discard_buffered() == len(b"a2 LOGIN x y\r\n")
    assert r.next_event() is rd.NEED_DATA


def test_reader_line_mode_for_idle():
    r = rd.CommandReader(lambda n: 100)
    r.set_line_mode(True)
    r.feed(b"DONE\r\n")
    assert r.next_event() == rd.Line(b"DONE")


# -- parser ---------------------------------------------------------------------
def test_login_quoted_escapes():
    cmd = parse(b'a LOGIN "us\\"er" "p\\\\w"\r\n')
    assert cmd.args == (b'us"er', b"p\\w")


def test_login_literal():
    assert parse(b"a LOGIN {4}\r\nuser pass\r\n").args == (b"user", b"pass")


@pytest.mark.parametrize("line", [
    b'a LOGIN "unterminated\r\n', b'a LOGIN "bad \\escape" x\r\n', b"a LOGIN onlyone\r\n",
    b"a LOGIN a b c\r\n", b"a FOO\r\n", b"a UID FOO 1\r\n", b"a FETCH 0 FLAGS\r\n",
    b"a FETCH 1: FLAGS\r\n", b"a FETCH 1,,2 FLAGS\r\n", b"a FETCH 1 (FLAGS\r\n",
    b"a FETCH 1 BODY[1.HEADERX]\r\n", b"a FETCH 1 BODY[]<1.0>\r\n", b"a FETCH 1 NOTANITEM\r\n",
    b"a SEARCH BADKEY\r\n", b"a SEARCH SINCE 32-Jan-2020\r\n", b"a SEARCH OR SEEN\r\n",
    b"a STORE 1 FLAGS (\\Recent)\r\n", b"a STORE 1 XFLAGS (\\Seen)\r\n",
    b'a APPEND INBOX "bad date" {1}\r\nx\r\n', b"a APPEND INBOX\r\n", b"a STATUS INBOX (FOO)\r\n",
    b"a STATUS INBOX ()\r\n", b"a NOOP extra\r\n",
])
def test_malformed_commands_raise_bad(line):
    with pytest.raises(CommandError) as info:
        parse(line)
    assert info.value.status == "BAD" and info.value.tag == "a"


def test_bad_tag_gives_star():
    with pytest.raises(CommandError) as info:
        parse(b"+ NOOP\r\n")
    assert info.value.tag == "*"


def test_unknown_charset_is_no_badcharset():
    with pytest.raises(CommandError) as info:
        parse(b"a SEARCH CHARSET KOI8-R TEXT x\r\n")
    assert info.value.status == "NO" and "BADCHARSET" in info.value.text


def test_sequence_sets():
    cmd = parse(b"a FETCH 1:4,7,9:*,*:3 FLAGS\r\n")
    seqset = cmd.args[0]
    assert seqset.ranges == ((1, 4), (7, 7), (9, None), (None, 3))
    assert seqset.iter_members(list(range(1, 13)), 12) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
    assert SequenceSet(((5, 2),)).iter_members([1, 2, 3, 4, 5, 6], 6) == [2, 3, 4, 5]
    assert SequenceSet(((999, None),)).iter_members([1, 2, 3], 3) == [3]


def test_fetch_items_and_macros():
    cmd = parse(b"a FETCH 1 FAST\r\n")
    assert [i.name for i in cmd.args[1]] == ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]
    cmd = parse(b"a UID FETCH 1:* (UID BODY.PEEK[1.2.HEADER.FIELDS (From \"To\")]<10.20> BODY[] RFC822.SIZE)\r\n")
    assert cmd.uid
    items = cmd.args[1]
    assert items[1] == FetchItem("BODY", Section((1, 2), "HEADER.FIELDS", ("From", "To")), True, (10, 20))
    assert items[2] == FetchItem("BODY", Section(()), False, None)


def test_search_keys_nest():
    cmd = parse(b'a SEARCH CHARSET UTF-8 OR (FROM "x" SEEN) NOT 2:4 SUBJECT {4}\r\nK\xc3\xb6n\r\n')
    _returns, charset, keys = cmd.args
    assert charset == "UTF-8"
    assert keys[0].name == "OR" and keys[0].args[0].name == "AND"
    assert keys[1] == SearchKey("SUBJECT", ("Kön",))


def test_search_dates():
    keys = parse(b'a SEARCH SINCE "1-Feb-2026" BEFORE 3-mar-2026\r\n').args[2]
    assert keys[0].args == (datetime.date(2026, 2, 1),)
    assert keys[1].args == (datetime.date(2026, 3, 3),)


def test_append_with_flags_and_date():
    cmd = parse(b'a APPEND Sent (\\Seen $Label1) " 5-Nov-2026 10:00:00 +0100" {3}\r\nabc\r\n')
    mailbox, (message,) = cmd.args
    assert (mailbox, message.flags, message.data) == (b"Sent", ("\\Seen", "$Label1"), b"abc")
    assert message.date.utcoffset() == datetime.timedelta(hours=1) and message.date.day == 5


def test_multiappend_and_catenate_arguments():
    cmd = parse(b'a APPEND Sent (\\Seen) {3}\r\nabc {2}\r\nde CATENATE (URL "/INBOX/;UID=3" TEXT {2}\r\nfg)\r\n')
    mailbox, messages = cmd.args
    assert [m.data for m in messages] == [b"abc", b"de", None]
    assert [m.flags for m in messages] == [("\\Seen",), (), ()]
    assert messages[2].parts == (("URL", b"/INBOX/;UID=3"), ("TEXT", b"fg"))


def test_flags_are_case_normalised():
    assert parse(b"a STORE 1 +FLAGS (\\seen \\FLAGGED)\r\n").args[3] == ("\\Seen", "\\Flagged")


# -- serializer and UTF-7 ---------------------------------------------------------
def test_strings_choose_quoted_or_literal():
    assert ser.string(b'a"b\\c') == b'"a\\"b\\\\c"'
    assert ser.string("Grüße") == b"{7}\r\nGr\xc3\xbc\xc3\x9fe"
    assert ser.string(b"a\r\nb") == b"{4}\r\na\r\nb"
    assert ser.nstring(None) == b"NIL"
    assert ser.astring(b"INBOX") == b"INBOX" and ser.astring(b"NIL") == b'"NIL"'


@pytest.mark.parametrize("name", ["Entwürfe", "a&b", "日本語", "~peter/mail/台北/日本語"])
def test_utf7_round_trip(name):
    assert utf7.decode(utf7.encode(name)) == name


@pytest.mark.parametrize("raw", [b"&Jjo!", b"&U,BTFw-&ZeVnLIqe-", b"&AGE-", b"a\xff"])
def test_utf7_rejects_malformed(raw):
    with pytest.raises(ValueError):
        utf7.decode(raw)


def test_reader_refused_literal_plus_swallows_rest_of_command():
    out = events(b"a1 LOGIN {150+}\r\n" + b"x" * 150 + b" {4+}\r\npass\r\nb2 NOOP\r\n")
    assert out[0].status == "BAD"
    assert out[1:] == [rd.CommandBytes(b"b2 NOOP\r\n")]


def test_reader_refused_sync_literal_does_not_swallow_next_command():
    out = events(b"a1 LOGIN {150}\r\nb2 NOOP\r\n")
    assert out == [rd.Rejected("a1", "BAD", "Literal too large for this command"), rd.CommandBytes(b"b2 NOOP\r\n")]


def test_flag_only_searches_are_recognised():
    from pushimapd.storage.search import depends_on_flags_only

    def keys(text):
        return parse(b"a SEARCH " + text + b"\r\n").args[2]

    assert depends_on_flags_only(keys(b"UNSEEN FLAGGED"))
    assert depends_on_flags_only(keys(b"OR (SEEN NOT DELETED) KEYWORD $Label1 NEW"))
    assert not depends_on_flags_only(keys(b"UNSEEN 1:3"))  # sequence numbers differ per message
    assert not depends_on_flags_only(keys(b"OR SEEN SUBJECT x"))
    assert not depends_on_flags_only(keys(b"NOT UID 5"))


def test_session_closes_when_a_client_pours_data_while_waiting():
    from pushimapd.core.session import MAX_PIPELINED, ServerConfig, Session

    session = Session(ServerConfig(store=None, users=None))
    session.receive_data(b"a LOGIN demo demo\r\n")
    assert session.pending is not None and session.pending.kind == "verify-password"
    session.receive_data(b"b NOOP\r\n" * (MAX_PIPELINED // 8 + 1))
    assert session.pending.kind == "close"
    assert b"* BYE" in session.data_to_send()

"""Arbitrary bytes never crash the sans-IO core: every input ends in a command,
a BAD/NO, or a wait for more data (hypothesis; no reactor)."""

from hypothesis import given, settings, strategies as st

import pushimapd.commands  # noqa: F401  (fills the command table)
from pushimapd.core import dispatch
from pushimapd.core.session import ServerConfig, Session
from pushimapd.wire import reader as rd
from pushimapd.wire.parser import CommandError, parse_command

TOKENS = [b"a1 ", b"LOGIN ", b"SELECT ", b"FETCH ", b"1:*", b" (", b")", b"BODY[", b"]", b"<0.5>", b'"',
          b"\\", b"{5}\r\n", b"{3+}\r\n", b"{-1}\r\n", b"\r\n", b" ", b"UID ", b"SEARCH ", b"OR ",
          b"NOT ", b"CHARSET ", b"UTF-8 ", b"\xff", b"\x00", b"%", b"*", b"APPEND ", b"INBOX ", b"DONE\r\n"]
streams = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=12)), max_size=40).map(b"".join)


@settings(max_examples=400, deadline=None)
@given(streams)
def test_reader_and_parser_never_raise_anything_else(data):
    reader = rd.CommandReader(lambda name: 4096 if name == "APPEND" else 64, max_line=200)
    reader.feed(data)
    for _ in range(1000):
        event = reader.next_event()
        if event is rd.NEED_DATA:
            break
        if isinstance(event, rd.CommandBytes):
            try:
                parse_command(event.data, dispatch.parsers())
            except CommandError as e:
                assert e.status in ("BAD", "NO") and e.tag
        else:
            assert isinstance(event, (rd.Continue, rd.Rejected, rd.Line))


@settings(max_examples=200, deadline=None)
@given(streams)
def test_session_answers_every_input_without_raising(data):
    session = Session(ServerConfig(store=None, users=None))
    session.greeting()
    session.receive_data(data)
    session.receive_data(b"\r\nz9 NOOP\r\n")
    out = session.data_to_send()
    assert out.startswith(b"* OK")
    for line in out.split(b"\r\n"):
        # nothing but well-formed response lines (literal data aside)
        assert not line.startswith(b"z9 ") or line.startswith(b"z9 OK") or line.startswith(b"z9 BAD")

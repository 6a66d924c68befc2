"""IDLE (RFC 2177): news is written as it happens until the client sends DONE."""

from __future__ import annotations

from ..core.dispatch import AUTH, command


@command("IDLE", AUTH)
def idle(session, cmd):
    session.send_raw(b"+ idling\r\n")
    session.idling = cmd.tag
    session.reader.set_line_mode(True)
    if session.selected is not None:
        session.selected.mailbox.sync()
        session.flush_news(allow_expunge=True)
    return None

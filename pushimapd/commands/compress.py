"""COMPRESS (RFC 4978): DEFLATE both ways, starting right after the tagged OK.

Like STARTTLS, the switch is an `Action` the transport performs: the session
only records that compression is on (for COMPRESSIONACTIVE and CAPABILITY);
the protocol in service.py deflates and inflates with wire/deflate.py.
"""

from __future__ import annotations

from ..core.dispatch import ANSWERED, AUTH, BAD, NO, OK, command
from ..core.session import Action


def _mechanism(cursor):
    cursor.sp()
    return (cursor.atom().upper(),)


@command("COMPRESS", AUTH, _mechanism)
def compress(session, cmd):
    (mechanism,) = cmd.args
    if session.compressed:
        return NO("DEFLATE compression is already active", "COMPRESSIONACTIVE")
    if mechanism != "DEFLATE":  # RFC 4978 section 3: BAD for an unknown argument
        return BAD(f"Unknown compression mechanism {mechanism}")
    if session.selected is not None:
        session.flush_news(allow_expunge=True)  # news so far goes out before the switch
    # a client may not send more before it sees the OK (RFC 4978); whatever it
    # sent anyway was compressed, so it goes to the inflater, not to the reader
    leftover = session.reader.take_buffered()
    session.send_raw(OK("DEFLATE active").line(cmd.tag))

    def started(_):
        session.compressed = True
        return ANSWERED

    return Action("start-compression", {"leftover": leftover}, started)

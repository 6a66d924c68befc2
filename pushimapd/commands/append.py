"""APPEND with APPENDUID (RFC 4315), MULTIAPPEND (RFC 3502), CATENATE (RFC 4469)
and literal8 messages (RFC 3516).

    APPEND mailbox 1*([flags] [date-time] (literal | literal8 | UTF8 (literal8) | CATENATE (part ...)))
    part = TEXT literal | URL url

Every message is checked (size, keywords, quota, each CATENATE URL) before
any is written; a failure while writing removes those already written, so
the command stores all of its messages or none. APPENDUID carries the UIDs
of all of them.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Optional

from ..core.dispatch import AUTH, BAD, NO, OK, Result, command
from ..storage.mime import normalize_crlf
from ..wire.grammar import ParseError
from ..wire.imapurl import BadUrl
from .copy import uid_set_text
from .mailboxes import open_target
from .quota import quota_refusal
from .urlauth import badurl_code, url_data

SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")


@dataclass(frozen=True)
class AppendMessage:
    flags: tuple
    date: Optional[datetime.datetime]
    data: Optional[bytes]  # a literal message
    parts: Optional[tuple] = None  # CATENATE: (("TEXT", bytes) | ("URL", bytes), ...)
    utf8: bool = False  # given as UTF8 (literal8): RFC 6855 4


def _catenate_parts(cursor) -> tuple:
    cursor.expect(b"(", "Expected '(' after CATENATE")
    parts = []
    while not cursor.try_(b")"):
        if parts:
            cursor.sp()
        if cursor.try_(b"TEXT "):
            if not cursor.at_literal():
                raise ParseError("CATENATE TEXT needs a literal")
            parts.append(("TEXT", cursor.literal()))
        elif cursor.try_(b"URL "):
            parts.append(("URL", cursor.astring()))
        else:
            raise ParseError("Expected a CATENATE part: TEXT literal or URL url")
    if not parts:
        raise ParseError("CATENATE needs at least one part")
    return tuple(parts)


def _append_args(cursor):
    cursor.sp()
    mailbox = cursor.mailbox()
    messages = []
    while True:
        cursor.sp()
        flags: list[str] = []
        date = None
        if cursor.peek() == b"(":
            flags = cursor.flag_list()
            cursor.sp()
        if cursor.peek() == b'"':
            date = cursor.date_time()
            cursor.sp()
        for flag in flags:
            if flag.startswith("\\") and flag not in SYSTEM_FLAGS:
                raise ParseError(f"Cannot append with the flag {flag}")
        if cursor.at_literal():
            messages.append(AppendMessage(tuple(flags), date, cursor.literal()))
        elif cursor.try_(b"UTF8 "):
            cursor.expect(b"(", "Expected '(' after UTF8")
            if not cursor.at_literal():
                raise ParseError("UTF8 needs the message as a literal8")
            data = cursor.literal()
            cursor.expect(b")", "Expected ')' after the UTF8 message")
            messages.append(AppendMessage(tuple(flags), date, data, utf8=True))
        elif cursor.try_(b"CATENATE "):
            messages.append(AppendMessage(tuple(flags), date, None, _catenate_parts(cursor)))
        else:
            raise ParseError("APPEND needs the message as a literal or CATENATE (...)")
        if cursor.at_end():
            return (mailbox, tuple(messages))


def _catenate(session, parts: tuple):
    """The message a CATENATE builds, or ``NO [BADURL url]`` / ``NO [TOOBIG]``."""
    pieces = []
    total = 0
    for kind, value in parts:
        if kind == "TEXT":
            data = value
        else:
            text = value.decode("ascii", "replace")
            try:
                data = url_data(session, text)
            except BadUrl as e:
                return NO(f"Cannot use the URL: {e}", badurl_code(text))
        total += len(data)
        if total > session.config.max_append:
            return NO("The message would be too large", "TOOBIG")
        pieces.append(data)
    return b"".join(pieces)


@command("APPEND", AUTH, _append_args)
def append(session, cmd):
    raw_name, messages = cmd.args
    mailbox = open_target(session, raw_name)
    if isinstance(mailbox, Result):
        return mailbox
    if any(m.utf8 for m in messages) and "UTF8=ACCEPT" not in session.enabled:
        return BAD("The UTF8 APPEND data item needs ENABLE UTF8=ACCEPT")
    datas = []
    for message in messages:
        data = message.data if message.parts is None else _catenate(session, message.parts)
        if isinstance(data, Result):
            return data
        if not data:
            return NO("Empty messages cannot be appended")
        if len(data) > session.config.max_append:
            return NO("The message is too large", "TOOBIG")
        datas.append(data)
    if not mailbox.can_store_keywords({f for m in messages for f in m.flags if not f.startswith("\\")}):
        return NO("Too many keywords in this mailbox", "LIMIT")
    refusal = quota_refusal(session, sum(len(normalize_crlf(d)) for d in datas), len(datas))
    if refusal is not None:
        return refusal
    mailbox.sync()
    created: list[int] = []
    try:
        for message, data in zip(messages, datas):
            created.append(mailbox.deliver_file(data, message.flags,
                                                message.date.timestamp() if message.date else None))
    except OSError:
        mailbox.discard(created)  # all or nothing (RFC 3502)
        return NO("The messages could not be stored", "SERVERBUG")
    mailbox.announce(created)
    return OK("APPEND completed", f"APPENDUID {mailbox.uidvalidity} {uid_set_text(created)}")

"""APPEND (with APPENDUID, RFC 4315)."""

from __future__ import annotations

from ..core.dispatch import AUTH, NO, OK, Result, command
from ..wire.grammar import ParseError
from ..storage.mime import normalize_crlf
from .mailboxes import open_target
from .quota import quota_refusal


def _append_args(cursor):
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.sp()
    flags: list[str] = []
    date = None
    if cursor.peek() == b"(":
        flags = cursor.flag_list()
        cursor.sp()
    if cursor.peek() == b'"':
        date = cursor.date_time()
        cursor.sp()
    if not cursor.at_literal():
        raise ParseError("APPEND needs the message as a literal")
    message = cursor.literal()
    for flag in flags:
        if flag.startswith("\\") and flag not in ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"):
            raise ParseError(f"Cannot append with the flag {flag}")
    return (mailbox, tuple(flags), date, message)


@command("APPEND", AUTH, _append_args)
def append(session, cmd):
    raw_name, flags, date, message = cmd.args
    mailbox = open_target(session, raw_name)
    if isinstance(mailbox, Result):
        return mailbox
    if not message:
        return NO("Empty messages cannot be appended")
    keywords = [f for f in flags if not f.startswith("\\")]
    if any(mailbox.keywords.letter_for(k, create=False) is None for k in keywords) and not mailbox.keywords.can_create():
        return NO("Too many keywords in this mailbox", "LIMIT")
    refusal = quota_refusal(session, len(normalize_crlf(message)), 1)
    if refusal is not None:
        return refusal
    mailbox.sync()
    uid = mailbox.deliver_file(message, flags, date.timestamp() if date else None)
    mailbox.announce([uid])
    return OK("APPEND completed", f"APPENDUID {mailbox.uidvalidity} {uid}")

"""STORE and UID STORE: FLAGS, +FLAGS, -FLAGS and their .SILENT forms."""

from __future__ import annotations

import re

from ..core.dispatch import BAD, NO, OK, SELECT_ONLY, command
from ..wire.grammar import ParseError
from .fetch import InvalidSet, render_item, resolve_set
from ..wire.grammar import FetchItem

_STORE_ITEM = re.compile(rb"([+-]?)FLAGS(\.SILENT)?", re.I)


def _store_args(cursor):
    cursor.sp()
    seqset = cursor.sequence_set()
    cursor.sp()
    if cursor.peek() == b"(":
        raise ParseError("STORE modifiers are not supported")
    m = _STORE_ITEM.match(cursor.data, cursor.pos)
    if not m:
        raise ParseError("Expected FLAGS, +FLAGS or -FLAGS")
    cursor.pos = m.end()
    cursor.sp()
    if cursor.peek() == b"(":
        flags = cursor.flag_list()
    else:
        flags = [cursor.flag()]
        while not cursor.at_end():
            cursor.sp()
            flags.append(cursor.flag())
    for flag in flags:
        if flag in ("\\Recent", "\\*") or (flag.startswith("\\") and flag not in (
                "\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")):
            raise ParseError(f"Cannot store the flag {flag}")
    mode = m.group(1).decode() or "="
    return (seqset, mode, bool(m.group(2)), tuple(flags))


@command("STORE", SELECT_ONLY, _store_args, expunge_ok=False)
def store(session, cmd):
    seqset, mode, silent, flags = cmd.args
    view = session.selected
    if not view.read_write:
        return NO("Mailbox is read-only", "READ-ONLY")
    try:
        targets = resolve_set(view, seqset, cmd.uid)
    except InvalidSet as e:
        return BAD(str(e))
    mailbox = view.mailbox
    keywords = [f for f in flags if not f.startswith("\\")]
    if keywords and not mailbox.keywords.can_create() and any(
            mailbox.keywords.letter_for(k, create=False) is None for k in keywords):
        return NO("Too many keywords in this mailbox", "LIMIT")
    live = [(s, u) for s, u in targets if not view.is_expunged(u) and u in mailbox.records]
    mailbox.store_flags([u for _, u in live], flags, mode, origin=view)
    if not silent:
        for seq, uid in live:
            parts = [render_item(session, uid, FetchItem("FLAGS"))]
            if cmd.uid:
                parts.insert(0, b"UID %d" % uid)
            session.send_raw(b"* %d FETCH (" % seq + b" ".join(parts) + b")\r\n")
    # RFC 2180 4.2.1 (and Dovecot): messages another session expunged are
    # skipped, the others are changed, and the command succeeds
    return OK("STORE completed")

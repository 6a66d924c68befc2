"""STORE and UID STORE: FLAGS, +FLAGS, -FLAGS and their .SILENT forms."""

from __future__ import annotations

import re

from ..core.dispatch import BAD, NO, OK, SELECT_ONLY, command
from ..wire.grammar import ParseError
from ..wire import serializer as ser
from . import resync
from .fetch import InvalidSet, resolve_set

_STORE_ITEM = re.compile(rb"([+-]?)FLAGS(\.SILENT)?", re.I)


def _store_args(cursor):
    cursor.sp()
    seqset = cursor.sequence_set()
    cursor.sp()
    unchanged_since = None
    if cursor.peek() == b"(":
        cursor.pos += 1
        if not cursor.try_(b"UNCHANGEDSINCE "):
            raise ParseError("The only STORE modifier is UNCHANGEDSINCE")
        unchanged_since = cursor.mod_sequence()
        cursor.expect(b")", "Expected ')' after the STORE modifier")
        cursor.sp()
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
    return (seqset, mode, bool(m.group(2)), tuple(flags), unchanged_since)


@command("STORE", SELECT_ONLY, _store_args, expunge_ok=False)
def store(session, cmd):
    seqset, mode, silent, flags, unchanged_since = cmd.args
    view = session.selected
    if not view.read_write:
        return NO("Mailbox is read-only", "READ-ONLY")
    if unchanged_since is not None:
        resync.enable_condstore(session)
    try:
        targets = resolve_set(view, seqset, cmd.uid)
    except InvalidSet as e:
        return BAD(str(e))
    mailbox = view.mailbox
    if not mailbox.can_store_keywords([f for f in flags if not f.startswith("\\")]):
        return NO("Too many keywords in this mailbox", "LIMIT")
    live = [(s, u) for s, u in targets if not view.is_expunged(u) and u in mailbox]
    changed, refused = mailbox.store_flags([u for _, u in live], flags, mode, origin=view,
                                           unchanged_since=unchanged_since)
    view.flags_changed_here(changed)
    condstore = resync.CONDSTORE in session.enabled
    refused_set, changed_set = set(refused), set(changed)
    for seq, uid in live:
        if uid in refused_set:
            continue
        if not silent:
            session.send_raw(view.flag_fetch(seq, uid, with_uid=cmd.uid))
        elif condstore and uid in changed_set:
            # .SILENT still tells the new modseq (RFC 7162 3.1.3)
            session.send_raw(view.flag_fetch(seq, uid, with_flags=False, with_uid=cmd.uid))
    if refused:
        numbers = sorted(refused) if cmd.uid else sorted(s for s, u in live if u in refused_set)
        return OK("Conditional STORE failed for some messages", "MODIFIED " + ser.number_set(numbers).decode())
    # RFC 2180 4.2.1 (and Dovecot): messages another session expunged are
    # skipped, the others are changed, and the command succeeds
    return OK("STORE completed")

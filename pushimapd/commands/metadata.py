"""GETMETADATA and SETMETADATA (RFC 5464), on the store in ``config.metadata``.

GETMETADATA takes its options before the mailbox name (the RFC's grammar)
or after it (the RFC's own examples, and clients that followed them).
Values are nstrings or RFC 3516 literal8 (``~{n}``, the only form that may
carry NUL); NIL deletes. Rules and limits: `storage.metadata`.
"""

from __future__ import annotations

from typing import Optional

from ..core.dispatch import AUTH, NO, OK, command
from ..storage.events import METADATA as METADATA_CHANGED, AccountEvent
from ..storage.names import MailboxError, normalize_name, validate_name
from ..storage.metadata import DEPTHS, SERVER, InvalidEntryName, MetadataError, entry_name, settable_name
from ..wire import serializer as ser
from ..wire.grammar import ParseError
from .mailboxes import failure, mailbox_name, wire_name


def _entry(cursor, settable: bool = False) -> str:
    raw = cursor.astring()
    if cursor.peek() in (b"*", b"%"):
        raise ParseError("Entry names must not contain '*' or '%'")
    try:
        return settable_name(raw) if settable else entry_name(raw)
    except InvalidEntryName as e:
        raise ParseError(str(e)) from None


def _options(cursor) -> dict:
    """``(MAXSIZE n DEPTH d)`` in any order, each at most once."""
    cursor.expect(b"(", "Expected GETMETADATA options")
    options: dict = {}
    while True:
        name = cursor.atom().upper()
        if name in options:
            raise ParseError(f"GETMETADATA option {name} given twice")
        cursor.sp()
        if name == "MAXSIZE":
            options[name] = cursor.number()
        elif name == "DEPTH":
            depth = cursor.atom().lower()
            if depth not in DEPTHS:
                raise ParseError("DEPTH is 0, 1 or infinity")
            options[name] = depth
        else:
            raise ParseError(f"Unknown GETMETADATA option {name}")
        if cursor.try_(b")"):
            return options
        cursor.sp()


def _starts_options(cursor) -> bool:
    """An option list opens with ``(`` and a letter; an entry list with ``(`` and ``/``, a quote or a literal."""
    return cursor.peek(2)[:1] == b"(" and cursor.peek(2)[1:].isalpha()


def _getmetadata_args(cursor):
    cursor.sp()
    options = None
    if _starts_options(cursor):
        options = _options(cursor)
        cursor.sp()
    mailbox = cursor.mailbox()
    cursor.sp()
    if _starts_options(cursor):
        if options is not None:
            raise ParseError("GETMETADATA options given twice")
        options = _options(cursor)
        cursor.sp()
    if cursor.peek() == b"(":
        entries = cursor.paren_list(lambda: _entry(cursor))
        if not entries:
            raise ParseError("Empty entry list")
    else:
        entries = [_entry(cursor)]
    options = options or {}
    return (mailbox, entries, options.get("DEPTH", "0"), options.get("MAXSIZE"))


def _value(cursor) -> Optional[bytes]:
    """nstring / literal8: NIL, a quoted string or a literal (NUL only in ``~{n}``)."""
    first = cursor.peek()
    if first not in (b'"', b"{", b"~") and cursor.try_(b"NIL"):
        return None
    if first not in (b'"', b"{", b"~"):
        raise ParseError("Expected a value: NIL, a quoted string or a literal")
    value = cursor.literal(allow8=True) if cursor.at_literal() else cursor.string()
    if first == b"{" and b"\x00" in value:
        raise ParseError("NUL is only allowed in a literal8 (~{n}) value")
    return value


def _setmetadata_args(cursor):
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.sp()
    cursor.expect(b"(", "Expected '(' before the entries and values")
    items = []
    while True:
        name = _entry(cursor, settable=True)
        cursor.sp()
        items.append((name, _value(cursor)))
        if cursor.try_(b")"):
            return (mailbox, items)
        cursor.sp()


def _target(session, raw: bytes):
    """The mailbox name the entries belong to ("" for the server), or a ``NO``."""
    if raw == b"":
        return SERVER
    try:
        name = validate_name(mailbox_name(raw, session))
    except MailboxError as e:
        return failure(e)
    if not session.account.exists(name):
        return NO("Mailbox does not exist", "NONEXISTENT")
    return normalize_name(name)


def _value_bytes(value: bytes) -> bytes:
    if b"\x00" in value:  # only literal8 carries NUL unchanged
        return b"~{%d}\r\n" % len(value) + value
    return ser.string(value)


@command("GETMETADATA", AUTH, _getmetadata_args)
def getmetadata(session, cmd):
    raw_mailbox, entries, depth, maxsize = cmd.args
    store = session.config.metadata
    if store is None:
        return NO("METADATA is not enabled on this server", "CANNOT")
    mailbox = _target(session, raw_mailbox)
    if not isinstance(mailbox, str):
        return mailbox
    found, longest_hidden = store.get(session.user, mailbox, entries, depth, maxsize)
    if found:
        body = b" ".join(ser.astring(name) + b" " + _value_bytes(value) for name, value in found)
        session.untagged(b"METADATA " + wire_name(session, mailbox) + b" (" + body + b")")
    if longest_hidden:
        return OK("GETMETADATA completed", f"METADATA LONGENTRIES {longest_hidden}")
    return OK("GETMETADATA completed")


@command("SETMETADATA", AUTH, _setmetadata_args)
def setmetadata(session, cmd):
    raw_mailbox, items = cmd.args
    store = session.config.metadata
    if store is None:
        return NO("METADATA is not enabled on this server", "CANNOT")
    mailbox = _target(session, raw_mailbox)
    if not isinstance(mailbox, str):
        return mailbox
    try:
        store.set(session.user, mailbox, items)
    except MetadataError as e:
        return NO(e.text, e.code)
    # NOTIFY's MailboxMetadataChange / ServerMetadataChange (RFC 5465 5.6, 5.7)
    session.config.store.publish(session.user, AccountEvent(METADATA_CHANGED, mailbox, origin=session,
                                                            entries=tuple(dict.fromkeys(n for n, _ in items))))
    return OK("SETMETADATA completed")


"""SELECT, EXAMINE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB, STATUS, NAMESPACE."""

from __future__ import annotations

import functools

from ..core.dispatch import AUTH, BAD, NO, OK, command
from . import resync
from ..storage.names import SEPARATOR, MailboxError, from_utf8, normalize_name, to_utf8
from ..wire import serializer as ser
from ..wire.grammar import ParseError
from ..wire.listmatch import MAX_PATTERN, ListPattern


UTF8_MODES = frozenset({"UTF8=ACCEPT", "IMAP4REV2"})  # ENABLEd: mailbox names are UTF-8 on the wire


def utf8_names(session) -> bool:
    return session is not None and bool(session.enabled & UTF8_MODES)


def mailbox_name(raw: bytes, session=None) -> str:
    """A mailbox argument as its stored (modified UTF-7) name: UTF-8 on the
    wire once the session enabled UTF8=ACCEPT (RFC 6855) or IMAP4rev2,
    7-bit modified UTF-7 before."""
    if utf8_names(session):
        return from_utf8(raw)
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        raise MailboxError("Mailbox names must be sent in modified UTF-7 (or ENABLE UTF8=ACCEPT)",
                           "CANNOT") from None


def shown_name(session, name: str) -> str:
    """A stored name as this session sees it (UTF-8 text or modified UTF-7)."""
    return to_utf8(name) if utf8_names(session) else name


def wire_name(session, name: str, atom: bool = False) -> bytes:
    """A stored name in a response: a UTF-8 quoted string for UTF-8 sessions
    (``atom``: an atom where the response allows an astring and the name is one)."""
    if utf8_names(session):
        shown = to_utf8(name)
        return ser.astring(shown) if atom and shown.isascii() else ser.utf8_string(shown)
    return ser.astring(name) if atom else ser.string(name)


def failure(e: MailboxError):
    return NO(str(e), e.code)


def mailbox_errors_are_no(handler):
    """A MailboxError raised by the handler becomes ``NO [code] reason``."""

    @functools.wraps(handler)
    def wrapper(session, cmd):
        try:
            return handler(session, cmd)
        except MailboxError as e:
            return failure(e)

    return wrapper


def open_target(session, raw_name: bytes):
    """The mailbox COPY, MOVE or APPEND write into, or ``NO``: a missing one
    says TRYCREATE (RFC 3501 7.1), an invalid name does not."""
    try:
        return session.account.open(mailbox_name(raw_name, session))
    except MailboxError as e:
        if e.code == "NONEXISTENT":
            return NO("Target mailbox does not exist", "TRYCREATE")
        return failure(e)


def _one_mailbox(cursor):
    cursor.sp()
    return (cursor.mailbox(),)


def _two_mailboxes(cursor):
    cursor.sp()
    a = cursor.mailbox()
    cursor.sp()
    return (a, cursor.mailbox())


def _select_args(cursor):
    cursor.sp()
    name = cursor.mailbox()
    params: dict = {}
    if not cursor.at_end():
        cursor.sp()
        params = resync.select_params(cursor)
    return (name, params)


def _open_mailbox(session, cmd, read_write: bool):
    name, params = cmd.args
    if resync.QRESYNC in params and resync.QRESYNC not in session.enabled:
        return BAD("QRESYNC must be enabled (ENABLE QRESYNC) before SELECT (QRESYNC ...)")
    if session.selected is not None and session.enabled & {resync.QRESYNC, "IMAP4REV2"}:
        session.untagged(b"OK [CLOSED] Previous mailbox closed")
    session.unselect()
    try:
        mailbox = session.account.open(mailbox_name(name, session))
    except MailboxError as e:
        return failure(e)
    if params:
        session.enabled.add(resync.CONDSTORE)  # told below with the other SELECT responses
    mailbox.sync()
    view = session.select(mailbox, read_write)
    flags = ser.flag_list(mailbox.defined_flags())
    permanent = ser.flag_list(mailbox.permanent_flags() if read_write else [])
    session.untagged(b"FLAGS " + flags)
    session.untagged(b"OK [PERMANENTFLAGS " + permanent + b"] Flags permitted")
    session.untagged(b"%d EXISTS" % view.exists)
    if "IMAP4REV2" in session.enabled:
        # RFC 9051 6.3.2: a LIST response with the mailbox's name and attributes; no RECENT, no UNSEEN
        session.untagged(_selected_list_line(session, mailbox.name))
    else:
        session.untagged(b"%d RECENT" % len(view.recent))
        unseen = mailbox.first_match(lambda flags: "\\Seen" not in flags)
        if unseen is not None:
            session.untagged(b"OK [UNSEEN %d] First unseen" % (unseen + 1))
    session.untagged(b"OK [UIDVALIDITY %d] UIDs valid" % mailbox.uidvalidity)
    session.untagged(b"OK [UIDNEXT %d] Predicted next UID" % mailbox.uidnext)
    if resync.CONDSTORE in session.enabled:
        session.untagged(b"OK [HIGHESTMODSEQ %d] Highest" % mailbox.highestmodseq)
    if resync.QRESYNC in params:
        resync.qresync_after_select(session, view, params[resync.QRESYNC])
    mode = "READ-WRITE" if read_write else "READ-ONLY"
    return OK(f"{cmd.name} completed", mode)


def _selected_list_line(session, name: str) -> bytes:
    account = session.account
    children = any(f.name.startswith(name + SEPARATOR) for f in account.folders())
    attrs = ["\\HasChildren" if children else "\\HasNoChildren"] + account.special_use_attributes().get(name, [])
    return _list_line(b"LIST", attrs, name, session)


@command("SELECT", AUTH, _select_args)
def select(session, cmd):
    return _open_mailbox(session, cmd, read_write=True)


@command("EXAMINE", AUTH, _select_args)
def examine(session, cmd):
    return _open_mailbox(session, cmd, read_write=False)


def _create_args(cursor):
    cursor.sp()
    name = cursor.mailbox()
    use: tuple = ()
    if not cursor.at_end():
        cursor.sp()
        cursor.expect(b"(", "Expected CREATE parameters")
        cursor.expect(b"USE ", "Only the USE parameter of CREATE is supported")
        use = tuple(cursor.paren_list(cursor.flag))
        cursor.expect(b")", "Expected ')' after CREATE parameters")
    return (name, use)


@command("CREATE", AUTH, _create_args)
@mailbox_errors_are_no
def create(session, cmd):
    name = mailbox_name(cmd.args[0], session)
    session.account.create(name, use=cmd.args[1])
    if session.config.metadata is not None:  # entries a folder removed by another program left behind
        session.config.metadata.forget_mailbox(session.user, normalize_name(name.rstrip(SEPARATOR)))
    return OK("CREATE completed")


@command("DELETE", AUTH, _one_mailbox)
@mailbox_errors_are_no
def delete(session, cmd):
    name = mailbox_name(cmd.args[0], session)
    session.account.delete(name)
    if session.config.metadata is not None:  # METADATA entries go with their mailbox
        session.config.metadata.forget_mailbox(session.user, normalize_name(name))
    return OK("DELETE completed")


@command("RENAME", AUTH, _two_mailboxes)
@mailbox_errors_are_no
def rename(session, cmd):
    old, new = mailbox_name(cmd.args[0], session), mailbox_name(cmd.args[1], session)
    session.account.rename(old, new)
    if session.config.metadata is not None:  # METADATA entries follow the mailbox and its children
        session.config.metadata.rename_mailbox(session.user, normalize_name(old), normalize_name(new))
    return OK("RENAME completed")


@command("SUBSCRIBE", AUTH, _one_mailbox)
@mailbox_errors_are_no
def subscribe(session, cmd):
    name = mailbox_name(cmd.args[0], session)
    if not session.account.exists(name):
        return NO("Mailbox does not exist", "NONEXISTENT")
    session.account.subscribe(name)
    return OK("SUBSCRIBE completed")


@command("UNSUBSCRIBE", AUTH, _one_mailbox)
@mailbox_errors_are_no
def unsubscribe(session, cmd):
    session.account.unsubscribe(mailbox_name(cmd.args[0], session))
    return OK("UNSUBSCRIBE completed")


# -- LIST / LSUB (LIST itself, with LIST-EXTENDED, is in listing.py) -----------------------
def _check_patterns(patterns) -> None:
    if any(len(p) > MAX_PATTERN for p in patterns):
        raise ParseError(f"Mailbox pattern longer than {MAX_PATTERN} octets")


def _lsub_args(cursor):
    cursor.sp()
    reference = cursor.mailbox()
    cursor.sp()
    pattern = cursor.list_mailbox()
    _check_patterns((pattern,))
    return ((), reference, (pattern,), ())


def _list_line(kind: bytes, attributes: list[str], name: str, session=None) -> bytes:
    attrs = ser.plist(a.encode() for a in attributes)
    return kind + b" " + attrs + b' "' + SEPARATOR.encode() + b'" ' + wire_name(session, name)


def _pattern_text(raw: bytes, session) -> str:
    """A reference or pattern in the session's name space: UTF-8 text for
    UTF-8 sessions (matched against decoded names), else modified UTF-7."""
    if not utf8_names(session):
        return mailbox_name(raw)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise MailboxError("Mailbox pattern is not valid UTF-8", "CANNOT") from None


def _full_patterns(cmd, session=None) -> list[str]:
    reference = _pattern_text(cmd.args[1], session)
    out = []
    for raw in cmd.args[2]:
        full = reference + _pattern_text(raw, session)
        out.append(normalize_name(full) if full else "")
    return out


@command("LSUB", AUTH, _lsub_args)
def lsub(session, cmd):
    try:
        patterns = _full_patterns(cmd, session)
    except MailboxError as e:
        return failure(e)
    if patterns == [""]:
        return OK("LSUB completed")
    matcher = ListPattern(patterns[0], SEPARATOR)
    existing = {f.name: f for f in session.account.folders()}
    subscribed = session.account.subscriptions()
    listed = set()
    for name in subscribed:
        if matcher.matches(shown_name(session, name)):
            folder = existing.get(name)
            attrs = [] if folder is not None and folder.selectable else ["\\Noselect"]
            session.untagged(_list_line(b"LSUB", attrs, name, session))
            listed.add(name)
    # RFC 3501 6.3.9: with "%", a parent of a subscribed name that is not
    # subscribed itself is returned, flagged \Noselect
    for name in subscribed:
        if name in listed:
            continue  # the name itself matched: no stand-in parent is needed
        parts = name.split(SEPARATOR)
        for i in range(1, len(parts)):
            parent = SEPARATOR.join(parts[:i])
            if parent not in listed and parent not in subscribed and matcher.matches(shown_name(session, parent)):
                session.untagged(_list_line(b"LSUB", ["\\Noselect"], parent, session))
                listed.add(parent)
    return OK("LSUB completed")


# -- STATUS ----------------------------------------------------------------------


def _unseen(mailbox) -> int:
    return len(mailbox.match_flags(lambda flags: "\\Seen" not in flags))


def _total_size(mailbox) -> int:
    """RFC 8438 SIZE: the sum of RFC822.SIZE (sizes are cached: no file is read twice)."""
    size = mailbox.size
    return sum(size(u) for u in mailbox.uids)


# STATUS item -> its value for a (synced) mailbox; extensions add their items here
STATUS_ITEMS: dict = {
    "MESSAGES": lambda mailbox: len(mailbox.uids),
    "RECENT": lambda mailbox: mailbox.recent_count(),
    "UIDNEXT": lambda mailbox: mailbox.uidnext,
    "UIDVALIDITY": lambda mailbox: mailbox.uidvalidity,
    "UNSEEN": _unseen,
    "SIZE": _total_size,
    "HIGHESTMODSEQ": lambda mailbox: mailbox.highestmodseq,
}


def status_items(cursor) -> tuple:
    """``(item ...)``: a non-empty list of known STATUS items."""
    items = [i.upper() for i in cursor.paren_list(cursor.atom)]
    for item in items:
        if item not in STATUS_ITEMS:
            raise ParseError(f"Unknown STATUS item {item}")
    if not items:
        raise ParseError("STATUS needs at least one item")
    return tuple(items)


def _status_args(cursor):
    cursor.sp()
    name = cursor.mailbox()
    cursor.sp()
    return (name, status_items(cursor))


def status_response(session, name: str, mailbox, items) -> bytes:
    """The ``STATUS name (item value ...)`` response (also for LIST-STATUS)."""
    if session.selected is None or session.selected.mailbox is not mailbox:
        mailbox.sync()
    body = b" ".join(b"%s %d" % (item.encode(), STATUS_ITEMS[item](mailbox)) for item in items)
    return b"STATUS " + wire_name(session, normalize_name(name)) + b" (" + body + b")"


@command("STATUS", AUTH, _status_args)
def status(session, cmd):
    raw_name, items = cmd.args
    try:
        name = mailbox_name(raw_name, session)
        mailbox = session.account.open(name)
    except MailboxError as e:
        return failure(e)
    if "HIGHESTMODSEQ" in items:
        resync.enable_condstore(session)  # a CONDSTORE-enabling command (RFC 7162 3.1)
    session.untagged(status_response(session, name, mailbox, items))
    return OK("STATUS completed")


@command("NAMESPACE", AUTH)
def namespace(session, cmd):
    session.untagged(b'NAMESPACE (("" "' + SEPARATOR.encode() + b'")) NIL NIL')
    return OK("NAMESPACE completed")

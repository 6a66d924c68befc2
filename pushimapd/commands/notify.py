"""NOTIFY (RFC 5465): ``NOTIFY SET [STATUS] (filter events) ...`` and ``NOTIFY NONE``.

After NOTIFY SET the session's `Notifications` watches the user's account on
the store's event bus (`storage.events`) and writes, whenever no command is
running (and before any command's tagged response):

- for the selected mailbox (SELECTED / SELECTED-DELAYED): EXISTS, FETCH
  (with UID, and MessageNew's fetch attributes), EXPUNGE or VANISHED —
  SELECTED-DELAYED holds expunges back until a command that allows them;
- for other mailboxes: STATUS (MESSAGES UIDNEXT UIDVALIDITY UNSEEN, and
  HIGHESTMODSEQ with FlagChange or CONDSTORE), LIST for MailboxName (with
  ``\\NonExistent`` and OLDNAME) and SubscriptionChange (with or without
  ``\\Subscribed``), METADATA for Mailbox/ServerMetadataChange.

Folders and subscriptions changed by other programs are told too (the
store's `NameChanges`, fed by the inotify watcher). Changes the session
made itself are left out (RFC 5465 5). While the client
is not reading, notifications are held (coalesced); past `MAX_PENDING` they
are dropped for ``* OK [NOTIFICATIONOVERFLOW]`` and NOTIFY is off (5.8).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from ..core.dispatch import AUTH, AUTHENTICATED, NO, OK, SELECTED, command
from ..storage import events as ev
from ..storage.names import SEPARATOR, MailboxError, normalize_name
from ..wire import serializer as ser
from ..wire.grammar import FetchItem, ParseError
from ..wire.parser import fetch_attributes
from . import resync
from .fetch import render_item

CAPABILITIES = ("NOTIFY",)
MAX_PENDING = 1000  # notifications held for a client that does not read, before NOTIFICATIONOVERFLOW
MAX_NAMES = 1000  # mailbox names in one NOTIFY SET

MESSAGE_NEW, MESSAGE_EXPUNGE, FLAG_CHANGE, ANNOTATION_CHANGE = (
    "MessageNew", "MessageExpunge", "FlagChange", "AnnotationChange")
MAILBOX_NAME, SUBSCRIPTION_CHANGE = "MailboxName", "SubscriptionChange"
MAILBOX_METADATA, SERVER_METADATA = "MailboxMetadataChange", "ServerMetadataChange"
MESSAGE_EVENTS = frozenset({MESSAGE_NEW, MESSAGE_EXPUNGE, FLAG_CHANGE, ANNOTATION_CHANGE})
KNOWN_EVENTS = {e.upper(): e for e in (MESSAGE_NEW, MESSAGE_EXPUNGE, FLAG_CHANGE, ANNOTATION_CHANGE, MAILBOX_NAME,
                                       SUBSCRIPTION_CHANGE, MAILBOX_METADATA, SERVER_METADATA)}
SELECTED_FILTERS = ("SELECTED", "SELECTED-DELAYED")
FILTERS = SELECTED_FILTERS + ("INBOXES", "PERSONAL", "SUBSCRIBED", "SUBTREE", "MAILBOXES")


def supported_events(session) -> list[str]:
    """What this server can notify (AnnotationChange needs ANNOTATE, which it lacks)."""
    events = [MESSAGE_NEW, MESSAGE_EXPUNGE, FLAG_CHANGE, MAILBOX_NAME, SUBSCRIPTION_CHANGE]
    if session.config.metadata is not None:
        events += [MAILBOX_METADATA, SERVER_METADATA]
    return events


@dataclass(frozen=True)
class Group:
    """One ``(filter-mailboxes events)`` of NOTIFY SET."""

    filter: str
    names: tuple = ()  # SUBTREE / MAILBOXES
    events: frozenset = frozenset()  # empty: NONE
    fetch: tuple = ()  # MessageNew's fetch attributes (selected filters only)


# -- parsing ---------------------------------------------------------------------------------
def _name(raw: bytes) -> str:
    try:
        return normalize_name(raw.decode("ascii"))
    except UnicodeDecodeError:
        raise ParseError("Mailbox names must be sent in modified UTF-7") from None


def _events(cursor, filter_name: str) -> tuple[frozenset, tuple]:
    cursor.expect(b"(", "Expected '(' before the events")
    events: list[str] = []
    fetch: tuple = ()
    while not cursor.try_(b")"):
        if events:
            cursor.sp()
        word = cursor.atom()
        name = KNOWN_EVENTS.get(word.upper(), word)  # unknown ones are refused with BADEVENT
        events.append(name)
        if name == MESSAGE_NEW and cursor.peek(2) == b" (":
            if filter_name not in SELECTED_FILTERS:
                raise ParseError("MessageNew takes fetch attributes only with SELECTED or SELECTED-DELAYED")
            if fetch:
                raise ParseError("MessageNew's fetch attributes given twice")
            cursor.sp()
            fetch = tuple(fetch_attributes(cursor))
            if any(item.name.startswith("BINARY") for item in fetch):
                raise ParseError("BINARY is not supported")
    if not events:
        raise ParseError("Empty event list (NONE asks for no events)")
    return frozenset(events), fetch


def _group(cursor) -> Group:
    cursor.expect(b"(", "Expected '(' before an event group")
    filter_name = cursor.atom().upper()
    if filter_name not in FILTERS:
        raise ParseError(f"Unknown mailbox filter {filter_name}")
    names: tuple = ()
    if filter_name in ("SUBTREE", "MAILBOXES"):
        cursor.sp()
        if cursor.peek() == b"(":
            names = tuple(_name(raw) for raw in cursor.paren_list(cursor.mailbox))
            if not names:
                raise ParseError(f"{filter_name} needs at least one mailbox")
        else:
            names = (_name(cursor.mailbox()),)
    cursor.sp()
    if cursor.peek() == b"(":
        events, fetch = _events(cursor, filter_name)
    else:
        if cursor.atom().upper() != "NONE":
            raise ParseError("Expected an event list or NONE")
        events, fetch = frozenset(), ()
    cursor.expect(b")", "Expected ')' after the event group")
    return Group(filter_name, names, events, fetch)


def _check(groups: list[Group]) -> None:
    """The combinations RFC 5465 forbids (sections 5 and 6.1): BAD."""
    if sum(g.filter in SELECTED_FILTERS for g in groups) > 1:
        raise ParseError("Only one of SELECTED and SELECTED-DELAYED may be given, once")
    for group in groups:
        known = set(group.events) & set(KNOWN_EVENTS.values())
        if group.filter in SELECTED_FILTERS and known - MESSAGE_EVENTS:
            raise ParseError(f"{group.filter} takes message events only")
        if (MESSAGE_NEW in known) != (MESSAGE_EXPUNGE in known):
            raise ParseError("MessageNew and MessageExpunge go together")
        if known & {FLAG_CHANGE, ANNOTATION_CHANGE} and MESSAGE_NEW not in known:
            raise ParseError("FlagChange and AnnotationChange need MessageNew and MessageExpunge")


def _notify_args(cursor):
    cursor.sp()
    word = cursor.atom().upper()
    if word == "NONE":
        return ("NONE",)
    if word != "SET":
        raise ParseError("NOTIFY takes SET or NONE")
    cursor.sp()
    status = False
    if cursor.peek() != b"(":
        if cursor.atom().upper() != "STATUS":
            raise ParseError("Expected STATUS or an event group")
        status = True
        cursor.sp()
    groups = [_group(cursor)]
    while not cursor.at_end():
        cursor.sp()
        groups.append(_group(cursor))
    _check(groups)
    return ("SET", status, tuple(groups))


@command("NOTIFY", AUTH, _notify_args)
def notify(session, cmd):
    if cmd.args[0] == "NONE":
        stop(session)
        return OK("NOTIFY completed")
    _, status, groups = cmd.args
    supported = supported_events(session)
    asked = set().union(*(g.events for g in groups))
    if asked - set(supported):
        return NO("Unsupported NOTIFY events: " + " ".join(sorted(asked - set(supported))),
                  "BADEVENT (" + " ".join(supported) + ")")
    if sum(len(g.names) for g in groups) > MAX_NAMES:
        return NO(f"At most {MAX_NAMES} mailbox names", "NOTIFICATIONOVERFLOW")
    stop(session)  # NOTIFY SET replaces what an earlier one asked for
    notifications = Notifications(session, groups)
    if status:
        notifications.initial_status()
    notifications.start()
    return OK("NOTIFY completed")  # the implicit NOOP (3.1): the session flushes the selected mailbox


def stop(session) -> None:
    """NOTIFY NONE (and before a new NOTIFY SET, and after an overflow)."""
    if session.notify is not None:
        session.notify.close()


# -- the notifications of one session -------------------------------------------------------------
def _list_line(attributes: list[str], name: str, old_name: Optional[str] = None) -> bytes:
    line = (b"LIST " + ser.plist(a.encode() for a in attributes) + b' "' + SEPARATOR.encode() + b'" '
            + ser.string(name))
    if old_name is not None:
        line += b' ("OLDNAME" (' + ser.string(old_name) + b"))"
    return line


class Notifications:
    """What one session asked NOTIFY SET for, and what is waiting to be written."""

    def __init__(self, session, groups):
        self.session = session
        self.user = session.user
        self.account = session.account
        self.store = session.config.store
        selected = [g for g in groups if g.filter in SELECTED_FILTERS]
        self.selected_group: Optional[Group] = selected[0] if selected else None
        self.others = [g for g in groups if g.filter not in SELECTED_FILTERS and g.events]
        events = self.selected_group.events if self.selected_group else frozenset()
        self.selected_events = events
        # SELECTED: expunges at any time (the client uses UIDs); SELECTED-DELAYED: when RFC 3501 allows
        self.expunges_anytime = bool(selected) and selected[0].filter == "SELECTED" and MESSAGE_EXPUNGE in events
        self.flag_uid = FLAG_CHANGE in events
        fetch = self.selected_group.fetch if self.selected_group else ()
        if fetch and not any(item.name == "UID" for item in fetch):
            fetch = (FetchItem("UID"),) + tuple(fetch)
        self.fetch = fetch
        self._lines: list[tuple] = []  # ("LIST", name, old name) / ("METADATA", response), in order
        self._status: dict[str, tuple] = {}  # mailbox -> STATUS values waiting
        self._sent_status: dict[str, tuple] = {}  # mailbox -> the last STATUS values told
        self._own_new: set[tuple[str, int]] = set()  # (mailbox, UID) this session added to its selected mailbox
        self.active = False

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self.store.watch_account(self.user, self.event)
        self.session.notify = self
        self.active = True

    def close(self) -> None:
        if self.active:
            self.store.unwatch_account(self.user, self.event)
            self.active = False
        if self.session.notify is self:
            self.session.notify = None
        self._lines.clear()
        self._status.clear()

    # -- what a mailbox is covered by --------------------------------------------------------
    def _covers(self, group: Group, name: str, subscribed: Optional[set]) -> bool:
        kind = group.filter
        if kind in ("PERSONAL", "INBOXES"):  # every delivery target is a personal folder here (6.3)
            return True
        if kind == "SUBSCRIBED":
            return name in subscribed
        if kind == "SUBTREE":
            return any(name == n or name.startswith(n + SEPARATOR) for n in group.names)
        return name in group.names  # MAILBOXES: no wildcards (6.6)

    def _events_for(self, *names: str) -> set:
        """Events of the non-selected groups covering any of ``names``."""
        subscribed = None
        if any(g.filter == "SUBSCRIBED" for g in self.others):
            subscribed = set(self.account.subscriptions())
        found: set = set()
        for group in self.others:
            if any(self._covers(group, name, subscribed) for name in names if name is not None):
                found |= group.events
        return found

    def _selected_name(self) -> Optional[str]:
        view = self.session.selected
        return view.mailbox.name if view is not None else None

    # -- events from the bus -----------------------------------------------------------------
    def event(self, event: ev.AccountEvent) -> None:
        own = event.origin is self.session and event.origin is not None
        kind = event.kind
        if kind in (ev.MESSAGES, ev.RESET):
            if event.mailbox == self._selected_name():
                if own and event.added and self.fetch:
                    self._own_new.update((event.mailbox, uid) for uid in event.added)
                return  # the selected mailbox is told through its view
            if own:
                return
            wanted = self._events_for(event.mailbox)
            happened = {MESSAGE_NEW, MESSAGE_EXPUNGE} if kind == ev.RESET else set()
            if event.added:
                happened.add(MESSAGE_NEW)
            if event.expunged:
                happened.add(MESSAGE_EXPUNGE)
            if event.flagged:
                happened.add(FLAG_CHANGE)
            if wanted & happened and event.source is not None:
                self._status[event.mailbox] = self._status_values(event.source, FLAG_CHANGE in wanted)
                self._wake()
        elif own:
            return
        elif kind in (ev.CREATED, ev.DELETED, ev.RENAMED):
            if MAILBOX_NAME in self._events_for(event.mailbox, event.old_name):
                self._lines.append(("LIST", event.mailbox, event.old_name))
                self._wake()
        elif kind in (ev.SUBSCRIBED, ev.UNSUBSCRIBED):
            if SUBSCRIPTION_CHANGE in self._events_for(event.mailbox):
                self._lines.append(("LIST", event.mailbox, None))
                self._wake()
        elif kind == ev.METADATA:
            if event.mailbox == "":
                wanted = any(SERVER_METADATA in g.events for g in self.others)
            else:
                wanted = MAILBOX_METADATA in self._events_for(event.mailbox)
            if wanted and event.entries:
                entries = b" ".join(ser.astring(e) for e in event.entries)
                self._lines.append(("METADATA", b"METADATA " + ser.string(event.mailbox) + b" " + entries))
                self._wake()

    def _render(self, lines: list[tuple]) -> list[bytes]:
        """LIST responses telling each mailbox's state now (RFC 5465 5.4, 5.5), and METADATA ones."""
        out, state = [], None
        for kind, *rest in lines:
            if kind == "METADATA":
                out.append(rest[0])
                continue
            name, old_name = rest
            if state is None:  # one listing for the whole batch
                state = ({f.name: f for f in self.account.folders()}, set(self.account.subscriptions()),
                         self.account.special_use_attributes())
            folders, subscribed, special = state
            folder = folders.get(name)
            if folder is None:
                attributes = ["\\NonExistent"]
            else:
                attributes = [] if folder.selectable else ["\\Noselect"]
                attributes.append("\\HasChildren" if folder.has_children else "\\HasNoChildren")
                attributes += special.get(name, [])
            if name in subscribed:
                attributes.append("\\Subscribed")
            out.append(_list_line(attributes, name, old_name if old_name != name else None))
        return out

    def _status_values(self, mailbox, with_modseq: bool) -> tuple:
        values = [("MESSAGES", len(mailbox.uids)), ("UIDNEXT", mailbox.uidnext),
                  ("UIDVALIDITY", mailbox.uidvalidity),
                  ("UNSEEN", len(mailbox.match_flags(lambda flags: "\\Seen" not in flags)))]
        if with_modseq or resync.CONDSTORE in self.session.enabled:
            values.append(("HIGHESTMODSEQ", mailbox.highestmodseq))
        return tuple(values)

    def _status_line(self, name: str, values: tuple) -> bytes:
        body = b" ".join(b"%s %d" % (item.encode(), value) for item, value in values)
        return b"STATUS " + ser.string(name) + b" (" + body + b")"

    # -- writing ------------------------------------------------------------------------------
    def _wake(self) -> None:
        session = self.session
        if session.between_commands():
            self.write_pending()
            session.on_output()
        elif session.paused:
            self._check_overflow()
        # otherwise a command is running: written before its tagged response

    def write_pending(self) -> None:
        """LIST, METADATA and STATUS responses waiting (the session calls this
        before each tagged response too)."""
        session = self.session
        if not self.active or session.state not in (AUTHENTICATED, SELECTED):
            return
        lines, self._lines = self._lines, []
        for line in self._render(lines):
            session.untagged(line)
        selected = self._selected_name()
        status, self._status = self._status, {}
        for name, values in status.items():
            if name == selected or self._sent_status.get(name) == values:
                continue  # the view tells the selected mailbox; an unchanged STATUS tells nothing
            self._sent_status[name] = values
            session.untagged(self._status_line(name, values))

    def selected_news(self) -> None:
        """The selected mailbox changed (the view's wake-up): tell what NOTIFY asked for now."""
        session = self.session
        if not self.selected_events or session.selected is None:
            return  # no SELECTED filter: news waits for a command's end, even in IDLE (RFC 5465 4)
        if session.between_commands():
            session.flush_news(allow_expunge=self.expunges_anytime or session.idling is not None,
                               with_flags=self.flag_uid)
            session.on_output()
        elif session.paused:
            self._check_overflow()

    def resumed(self) -> None:
        """The client reads again: what was held goes out."""
        if self.session.between_commands():
            self.write_pending()
            self.selected_news()
            self.session.on_output()

    def messages_announced(self, uids: list[int]) -> None:
        """After EXISTS: MessageNew's FETCH for messages this session did not add itself (5.2)."""
        view = self.session.selected
        if not self.fetch or view is None:
            return
        name, mailbox, out = view.mailbox.name, view.mailbox, []
        for uid in uids:
            if (name, uid) in self._own_new:
                self._own_new.discard((name, uid))
                continue
            seq = view.seq_of(uid)
            if seq is None or uid not in mailbox or view.is_expunged(uid):
                continue
            try:  # BODY[...] is answered as BODY.PEEK[...] would be: a notification sets no flag
                parts = [render_item(self.session, uid, item) for item in self.fetch]
            except FileNotFoundError:
                continue  # deleted meanwhile
            out.append(b"* %d FETCH (%s)\r\n" % (seq, b" ".join(parts)))
        for line in out:
            self.session.send_raw(line)

    def _pending_count(self) -> int:
        count = len(self._lines) + len(self._status)
        view = self.session.selected
        if view is not None and self.selected_events:
            count += view.news_count()
        return count

    def _check_overflow(self) -> None:
        """The client is not reading: past MAX_PENDING, stop (RFC 5465 5.8)."""
        if self._pending_count() <= MAX_PENDING:
            return
        self.close()
        self.session.untagged(b"OK [NOTIFICATIONOVERFLOW] Too many notifications waiting for a client that "
                              b"does not read: NOTIFY is off")

    # -- NOTIFY SET STATUS --------------------------------------------------------------------------
    def initial_status(self) -> None:
        """A STATUS for every mailbox whose message events are asked for, the selected one aside (3.1)."""
        selected = self._selected_name()
        for folder in self.account.folders():
            if not folder.selectable or folder.name == selected:
                continue
            wanted = self._events_for(folder.name) & MESSAGE_EVENTS
            if not wanted:
                continue
            try:
                mailbox = self.account.open(folder.name)
            except MailboxError:
                continue
            mailbox.sync()
            values = self._status_values(mailbox, FLAG_CHANGE in wanted)
            self._sent_status[folder.name] = values
            self.session.untagged(self._status_line(folder.name, values))

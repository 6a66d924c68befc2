"""The storage seam: what `core` and `commands` may ask of a mail store.

The protocol side talks only to these interfaces; `storage.maildir`
implements them over Maildir++ and a per-folder sqlite index. A second store
(a test double, a database-backed one) plugs in by providing the same.
Message rendering (ENVELOPE, BODYSTRUCTURE, sections) stays on the protocol
side; a store hands out parsed messages (`storage.mime.ParsedMessage`).
"""

from __future__ import annotations

from zope.interface import Attribute, Interface


class IMailStore(Interface):
    """Every user's mail."""

    def account(user):
        """The user's `IAccount` (made on first use); MailboxError for a bad name."""

    # -- change events, per user (NOTIFY, RFC 5465; see storage.events) --
    acting = Attribute("the session whose command is running; writes it makes carry it as their origin")

    def watch_account(user, listener):
        """Call listener(AccountEvent) for every change in the user's mailboxes:
        messages (fed by the mailbox objects: sessions' writes, deliveries, scans
        that find other programs' changes), names, subscriptions, METADATA."""

    def unwatch_account(user, listener):
        """Stop calling listener."""

    def account_watched(user):
        """True while some listener watches the user (changes in folders nobody
        has open are then looked at at once, so that they are told)."""

    def publish(user, event):
        """Tell the user's listeners of a change made outside the store (METADATA)."""


class IAccount(Interface):
    """One user's mailboxes (names are IMAP names: modified UTF-7, "." separated)."""

    user = Attribute("the user name")

    def exists(name):
        """True when the mailbox exists and can be selected."""

    def open(name):
        """The shared `IMailbox`; MailboxError NONEXISTENT / CANNOT."""

    def folders():
        """FolderInfo(name, selectable, has_children) of every mailbox, INBOX first."""

    def create(name, use=()):
        """Create a mailbox (with RFC 6154 attributes); MailboxError when impossible."""

    def delete(name):
        """Delete a mailbox and its messages."""

    def rename(old, new):
        """Rename a mailbox and its children (INBOX: move its messages)."""

    def subscriptions():
        """Subscribed names, in order."""

    def subscribe(name):
        """Add a subscription."""

    def unsubscribe(name):
        """Remove a subscription; MailboxError NONEXISTENT when not subscribed."""

    def special_use_attributes():
        """{mailbox name: [attributes]} for the selectable mailboxes."""


class IMailbox(Interface):
    """One mailbox, shared by every session that has it open.

    Messages are named by UID; ``uids`` is ascending. Changes are told to
    listeners (a session's view): ``messages_added(uids, recent)``,
    ``messages_expunged(uids)``, ``flags_changed(uids)``, ``mailbox_reset()``;
    and, while someone watches the user, to the store's account listeners
    (`IMailStore.watch_account`).
    """

    name = Attribute("IMAP name")
    uidvalidity = Attribute("UIDVALIDITY")
    uidnext = Attribute("the next UID to be given")
    highestmodseq = Attribute("HIGHESTMODSEQ (RFC 7162): the modseq of the latest change")
    uids = Attribute("ascending list of the UIDs present")
    listeners = Attribute("the views that have the mailbox open")

    def __contains__(uid):
        """True while the message exists."""

    def flags(uid):
        """frozenset of flag names (system flags and keywords)."""

    def modseq(uid):
        """The message's mod-sequence (RFC 7162)."""

    def size(uid):
        """RFC822.SIZE (CRLF form)."""

    def internal_date(uid):
        """INTERNALDATE as an aware datetime."""

    def internal_time(uid):
        """INTERNALDATE as unix time."""

    def message(uid):
        """The parsed message (storage.mime.ParsedMessage) or None when gone."""

    def header_block(uid):
        """The raw header (CRLF, with its blank line) or None when gone."""

    def indexed_headers(field, uids):
        """{uid: decoded value} of a header field the store indexes, or None
        when it does not index that field (the caller reads headers)."""

    def folded_headers(field):
        """Case-folded values of an indexed header field aligned with ``uids``, or None."""

    def save_times(uids):
        """{uid: save date as unix time} (RFC 8514) of the messages that have one."""

    def previews(uids, compute=True):
        """{uid: preview text} (RFC 8970); with compute False only those already cached."""

    def match_flags(predicate):
        """Positions in ``uids`` of the messages whose flag set satisfies predicate(frozenset)."""

    def column(name, positions=None):
        """One value per message aligned with ``uids`` (or with ``positions``
        in it): "flags", "modseq", "size" or "internal_time" (bulk FETCH and SEARCH)."""

    def first_match(predicate):
        """Position in ``uids`` of the first message whose flags satisfy predicate, or None."""

    def changed_since(modseq):
        """UIDs whose metadata changed after modseq (CHANGEDSINCE)."""

    def vanished_since(modseq):
        """(UIDs expunged after modseq, exact) — exact is False when history was trimmed."""

    def permanent_flags():
        """PERMANENTFLAGS for a read-write session."""

    def defined_flags():
        """FLAGS of SELECT."""

    def can_store_keywords(keywords):
        """False when these keywords cannot be added (no room for new ones)."""

    def recent_count():
        """How many messages are \\Recent for the folder (STATUS RECENT)."""

    def add_listener(listener, read_write):
        """Register a view; returns the UIDs that are \\Recent for it."""

    def remove_listener(listener):
        """Forget a view."""

    def sync(force=False):
        """Catch up with changes made by others; True when anything changed."""

    def save_cache():
        """Persist values computed while answering (sizes, dates)."""

    def store_flags(uids, flags, mode, origin=None, unchanged_since=None):
        """Change flags (mode "+", "-" or "="); returns (changed UIDs, UIDs
        refused because their modseq is above unchanged_since)."""

    def expunge(uids=None, deleted_only=True):
        """Remove \\Deleted messages (of uids when given); returns removed UIDs."""

    def deliver_file(data, flags, date, link_from=None, vsize=None):
        """Store a message (APPEND; COPY with link_from) and return its UID."""

    def discard(uids):
        """Remove messages this process just stored (undoing a failed MULTIAPPEND or COPY)."""

    def copy_into(target, uids):
        """Copy messages into another mailbox; returns their new UIDs."""

    def move_to(target, uids):
        """Move messages into another mailbox atomically; returns their new UIDs."""

    def announce(uids):
        """Tell every view about messages this process added."""

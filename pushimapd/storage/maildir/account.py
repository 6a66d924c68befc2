"""A user's Maildir++: folder names, LIST, CREATE/DELETE/RENAME, subscriptions.

INBOX is the user's Maildir root; folder ``A.B`` is the directory ``.A.B``
(name kept in modified UTF-7, as IMAP sends it and Dovecot stores it) with a
``maildirfolder`` marker. A parent that exists only because of its children
is listed as ``\\Noselect``.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
from typing import Iterator, Optional

from zope.interface import implementer

from ...interfaces import IAccount, IMailStore
from .. import events
from ..events import AccountBus, AccountEvent
from ..names import SEPARATOR, FolderInfo, MailboxError, normalize_name, validate_name
from .mailbox import MaildirMailbox
from .specialuse import SUPPORTED as SPECIAL_USE_SUPPORTED, SpecialUse, canonical

SUBSCRIPTIONS = "subscriptions"
_trash_counter = itertools.count(1)
KEEP_CLOSED_MAILBOXES = 256  # folders kept loaded though no session has them open


@implementer(IAccount)
class MaildirAccount:
    """One user's mail; mailbox objects come from (and are shared via) the store."""

    def __init__(self, store: "MailStore", user: str, root: str):
        self.store = store
        self.user = user
        self.root = root
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(root, sub), exist_ok=True)

    # -- names and paths -------------------------------------------------------
    def path_of(self, name: str) -> str:
        name = validate_name(name)
        return self.root if name == "INBOX" else os.path.join(self.root, "." + name)

    def exists(self, name: str) -> bool:
        try:
            path = self.path_of(name)
        except MailboxError:
            return False
        return os.path.isdir(os.path.join(path, "cur"))

    def open(self, name: str) -> MaildirMailbox:
        validate_name(name)  # an invalid name is refused as such, never as missing
        if not self.exists(name):
            raise MailboxError("Mailbox does not exist", "NONEXISTENT")
        return self.store.mailbox_at(self.path_of(name), normalize_name(name))

    def folders(self) -> list[FolderInfo]:
        """Every mailbox, with implied parents marked not selectable."""
        real = {"INBOX"}
        try:
            entries = os.listdir(self.root)
        except FileNotFoundError:
            entries = []
        for entry in entries:
            if entry.startswith(".") and not entry.startswith("..") and len(entry) > 1:
                if os.path.isdir(os.path.join(self.root, entry, "cur")):
                    real.add(entry[1:])
        names = set(real)
        for name in real:
            parts = name.split(SEPARATOR)
            for i in range(1, len(parts)):
                names.add(SEPARATOR.join(parts[:i]))
        prefixes = {n.rsplit(SEPARATOR, 1)[0] for n in names if SEPARATOR in n}
        ordered = sorted(names, key=lambda n: (n != "INBOX", n))
        return [FolderInfo(n, n in real, n in prefixes) for n in ordered]

    def special_use(self) -> SpecialUse:
        return SpecialUse(self.root, self.store.special_use_config)

    def special_use_attributes(self) -> dict[str, list[str]]:
        """folder -> RFC 6154 attributes, for the selectable folders."""
        return self.special_use().attributes(f.name for f in self.folders() if f.selectable)

    # -- changes ---------------------------------------------------------------
    def create(self, name: str, use: tuple[str, ...] = ()) -> None:
        name = validate_name(name.rstrip(SEPARATOR)) if name != SEPARATOR else validate_name("")
        if name == "INBOX" or self.exists(name):
            raise MailboxError("Mailbox already exists", "ALREADYEXISTS")
        attributes = [canonical(a) for a in use]
        for attribute in attributes:
            if attribute not in SPECIAL_USE_SUPPORTED:
                raise MailboxError(f"Special-use attribute {attribute} is not supported", "USEATTR")
        path = self.path_of(name)
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        open(os.path.join(path, "maildirfolder"), "a").close()
        if attributes:
            self.special_use().assign(name, attributes)
        self._tell(events.CREATED, name)

    def delete(self, name: str) -> None:
        name = validate_name(name)
        if name == "INBOX":
            raise MailboxError("INBOX cannot be deleted", "CANNOT")
        if not self.exists(name):
            has_children = any(f.name.startswith(name + SEPARATOR) for f in self.folders())
            if has_children:
                raise MailboxError("Mailbox has inferior names and is not selectable", "CANNOT")
            raise MailboxError("Mailbox does not exist", "NONEXISTENT")
        path = self.path_of(name)
        self.store.forget(path)
        doomed = os.path.join(self.root, f"..pushimapd-trash-{os.getpid()}-{next(_trash_counter)}")
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)
        self.special_use().forget(name)
        self._tell(events.DELETED, name)

    def rename(self, old: str, new: str) -> None:
        old, new = validate_name(old), validate_name(new)
        if new == "INBOX" or self.exists(new):
            raise MailboxError("Target mailbox already exists", "ALREADYEXISTS")
        if not self.exists(old):
            raise MailboxError("Mailbox does not exist", "NONEXISTENT")
        if new.startswith(old + SEPARATOR):
            raise MailboxError("Cannot rename a mailbox into itself", "CANNOT")
        if old == "INBOX":
            self._rename_inbox(new)  # told as the creation of ``new`` (RFC 5465 5.4)
            return
        moves = [(old, new)] + [
            (f.name, new + f.name[len(old):])
            for f in self.folders()
            if f.name.startswith(old + SEPARATOR) and f.selectable
        ]
        for src, dst in moves:
            if self.exists(dst):
                raise MailboxError(f"Target mailbox {dst} already exists", "ALREADYEXISTS")
        for src, dst in moves:
            self.store.forget(self.path_of(src))
            os.rename(self.path_of(src), self.path_of(dst))
        self.special_use().rename(old, new)
        subs = self.subscriptions()
        renamed = [new + s[len(old):] if s == old or s.startswith(old + SEPARATOR) else s for s in subs]
        if renamed != subs:
            self._write_subscriptions(renamed)
        self._tell(events.RENAMED, new, old_name=old)

    def _rename_inbox(self, new: str) -> None:
        """RFC 3501: move INBOX's messages to a new mailbox; INBOX stays, empty."""
        self.create(new)
        inbox = self.open("INBOX")
        inbox.sync(force=True)
        target = self.path_of(new)
        for sub in ("new", "cur"):
            src_dir = os.path.join(self.root, sub)
            for filename in os.listdir(src_dir):
                if not filename.startswith("."):
                    os.rename(os.path.join(src_dir, filename), os.path.join(target, sub, filename))
        inbox.sync(force=True)

    # -- subscriptions -----------------------------------------------------------
    def subscriptions(self) -> list[str]:
        return read_subscriptions(os.path.join(self.root, SUBSCRIPTIONS))[1]

    def subscribe(self, name: str) -> None:
        name = validate_name(name)
        subs = self.subscriptions()
        if name not in subs:
            self._write_subscriptions(subs + [name])
            self._tell(events.SUBSCRIBED, name)

    def unsubscribe(self, name: str) -> None:
        name = normalize_name(name)
        subs = self.subscriptions()
        if name not in subs:
            raise MailboxError("Not subscribed", "NONEXISTENT")
        self._write_subscriptions([s for s in subs if s != name])
        self._tell(events.UNSUBSCRIBED, name)

    def _tell(self, kind: str, name: str, old_name: Optional[str] = None) -> None:
        """Publish a change of names or subscriptions to the user's listeners (NOTIFY)."""
        bus = self.store.bus
        if bus.watched(self.user):
            bus.publish(self.user, AccountEvent(kind, name, origin=bus.acting, old_name=old_name))
            self.store.names.told(self.user)  # inotify's report of this change is then no news

    def names_now(self) -> tuple[frozenset, frozenset]:
        """(selectable folders, subscriptions) as they are on disk."""
        return frozenset(f.name for f in self.folders() if f.selectable), frozenset(self.subscriptions())

    def _write_subscriptions(self, names: list[str]) -> None:
        path = os.path.join(self.root, SUBSCRIPTIONS)
        version, _ = read_subscriptions(path)
        if version == 2:  # Dovecot's format, kept so Dovecot reads it back
            text = "V\t2\n\n" + "".join(n.replace(SEPARATOR, "\t") + "\n" for n in names)
        else:
            text = "".join(n + "\n" for n in names)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(path + ".tmp", path)


def read_subscriptions(path: str) -> tuple[int, list[str]]:
    """(format version, names) of a ``subscriptions`` file: version 1 is a
    name per line (Courier, older Dovecot, earlier pushimapd); version 2 is
    Dovecot 2.x's: a ``V<TAB>2`` line, a blank line, then names with TAB as
    the hierarchy separator."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return 1, []
    if lines and lines[0].startswith("V\t"):
        names = [line.replace("\t", SEPARATOR) for line in lines[1:] if line.strip()]
        return 2, names
    return 1, [line for line in lines if line.strip()]


@implementer(IMailStore)
class MailStore:
    """All users' Maildirs under one root; shares one mailbox object per folder."""

    def __init__(self, root: str, special_use_config: Optional[dict[str, str]] = None):
        self.root = root
        self.special_use_config = dict(special_use_config or {})  # folder -> attribute, all users
        self._mailboxes: dict[str, MaildirMailbox] = {}
        # set by the push watcher: is a folder watched by inotify, and a way
        # to handle the changes the kernel already reported
        self.is_watched = lambda path: False
        self.drain_changes = lambda: None
        self.bus = AccountBus()  # per-user change events for NOTIFY (storage.events)
        self.names = NameChanges(self)  # folders and subscriptions changed by other programs

    def account(self, user: str) -> MaildirAccount:
        if not re.fullmatch(r"[A-Za-z0-9._@+-]+", user) or user.startswith("."):
            raise MailboxError("Invalid user name")
        return MaildirAccount(self, user, os.path.join(self.root, user))

    def mailbox_at(self, path: str, name: str) -> MaildirMailbox:
        mailbox = self._mailboxes.pop(path, None)
        if mailbox is None:
            mailbox = MaildirMailbox(path, name, store=self)
        self._mailboxes[path] = mailbox  # most recently used last
        if len(self._mailboxes) > KEEP_CLOSED_MAILBOXES:
            self._evict_closed()
        return mailbox

    def _evict_closed(self) -> None:
        """Forget the least recently used folders nobody has open (their
        state is in their index; only \\Recent claims not yet moved are lost)."""
        excess = len(self._mailboxes) - KEEP_CLOSED_MAILBOXES
        for key in list(self._mailboxes):
            if excess <= 0:
                break
            if not self._mailboxes[key].listeners:
                self._retire(self._mailboxes.pop(key))
                excess -= 1

    @staticmethod
    def _retire(mailbox: MaildirMailbox, clean: bool = True) -> None:
        try:
            if clean:
                mailbox.record_clean_state()
            mailbox.close()
        except Exception:  # a folder removed meanwhile: nothing to keep
            pass

    def loaded_at(self, path: str) -> Optional[MaildirMailbox]:
        """The folder's shared object if some session opened it, else None."""
        return self._mailboxes.get(path)

    def loaded(self) -> Iterator[MaildirMailbox]:
        return iter(list(self._mailboxes.values()))

    def forget(self, path: str) -> None:
        """Drop cached state of a folder being deleted or renamed (and its children)."""
        for key in list(self._mailboxes):
            if key == path or key.startswith(path + "."):
                mailbox = self._mailboxes.pop(key)
                if mailbox.listeners:  # a session has it selected: it sees it emptied
                    mailbox.orphan()
                else:
                    self._retire(mailbox, clean=False)

    # -- change events (NOTIFY) ---------------------------------------------------
    @property
    def acting(self):
        """The session whose command is running: the origin of the changes its writes make."""
        return self.bus.acting

    @acting.setter
    def acting(self, session) -> None:
        self.bus.acting = session

    def watch_account(self, user: str, listener) -> None:
        if not self.bus.watched(user):
            self.names.start(user)
        self.bus.watch(user, listener)

    def unwatch_account(self, user: str, listener) -> None:
        self.bus.unwatch(user, listener)
        if not self.bus.watched(user):
            self.names.stop(user)

    def account_watched(self, user: str) -> bool:
        return self.bus.watched(user)

    def publish(self, user: str, event: AccountEvent) -> None:
        if self.bus.watched(user):
            self.bus.publish(user, event)

    def user_of(self, path: str) -> str:
        return os.path.relpath(path, self.root).split(os.sep, 1)[0]

    def mailbox_changed(self, mailbox: MaildirMailbox, added, expunged, flagged, made_here: bool,
                        reset: bool = False) -> None:
        """A folder's messages changed (called by the folder when someone listens)."""
        user = self.user_of(mailbox.path)
        if self.bus.watched(user):
            self.bus.publish(user, AccountEvent(events.RESET if reset else events.MESSAGES, mailbox.name,
                                                self.bus.own(made_here), tuple(added), tuple(expunged),
                                                tuple(flagged), source=mailbox))

    def close(self) -> None:
        """At shutdown: remember which folders are fully indexed, close indexes."""
        for key in list(self._mailboxes):
            self._retire(self._mailboxes.pop(key))


class NameChanges:
    """Folders and subscriptions that other programs change (a shell's
    ``mkdir .Lists``, maildrop making a folder, Dovecot rewriting
    ``subscriptions``): the watcher says a user's names changed, and what
    differs from what that user's NOTIFY listeners were last told is
    published as if a session had done it (no origin). Kept only for users
    somebody listens to."""

    def __init__(self, store: MailStore) -> None:
        self.store = store
        self._told: dict[str, tuple[frozenset, frozenset]] = {}

    def start(self, user: str) -> None:
        self._told[user] = self.store.account(user).names_now()

    def stop(self, user: str) -> None:
        self._told.pop(user, None)

    def told(self, user: str) -> None:
        """This server changed the names itself and has told its listeners."""
        if user in self._told:
            self.start(user)

    def changed(self, user: str) -> None:
        before = self._told.get(user)
        if before is None:
            return
        now = self.store.account(user).names_now()
        self._told[user] = now
        (folders0, subs0), (folders1, subs1) = before, now
        changes = ([(events.DELETED, n) for n in sorted(folders0 - folders1)]  # a rename: old name first
                   + [(events.CREATED, n) for n in sorted(folders1 - folders0)]
                   + [(events.SUBSCRIBED, n) for n in sorted(subs1 - subs0)]
                   + [(events.UNSUBSCRIBED, n) for n in sorted(subs0 - subs1)])
        for kind, name in changes:
            self.store.publish(user, AccountEvent(kind, name))

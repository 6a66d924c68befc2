"""Changes another client would make, through the same storage code as IMAP commands.

``pushimapd event`` runs them in its own process on its own `MailStore`: the
files and the folder's index change as they would under a second IMAP
server process, and the running server picks them up (inotify + the index's
``data_version``), so open sessions hear of them as RFC 3501 says (FETCH,
EXPUNGE or VANISHED, EXISTS). The console runs them inside the server, on
the server's own store, where sessions hear of them at once.
"""

from __future__ import annotations

import email.utils
import os
import re
import time
from dataclasses import dataclass
from typing import Optional

from ..deliver import DeliveryError, deliver
from ..storage.names import MailboxError

EVENT_KINDS = ("flags", "expunge", "move", "rename", "create", "delete", "deliver")
_FLAG = re.compile(r"\\?[A-Za-z0-9$_.-]+")
_SYSTEM = {"\\answered": "\\Answered", "\\flagged": "\\Flagged", "\\deleted": "\\Deleted",
           "\\seen": "\\Seen", "\\draft": "\\Draft"}


class EventError(ValueError):
    """An event that cannot be made (no such user, mailbox or message ...)."""


@dataclass
class Event:
    user: str
    kind: str
    mailbox: Optional[str] = None
    uid: Optional[int] = None
    flags: Optional[str] = None  # "+\\Seen \\Flagged", "-\\Seen", "=\\Draft"
    to: Optional[str] = None
    folder: str = "INBOX"
    data: Optional[bytes] = None  # deliver: the message

    def describe(self) -> str:
        if self.kind == "flags":
            return f"flags {self.mailbox} UID {self.uid} {self.flags}"
        if self.kind == "expunge":
            return f"expunge {self.mailbox} UID {self.uid}"
        if self.kind == "move":
            return f"move {self.mailbox} UID {self.uid} to {self.to}"
        if self.kind == "rename":
            return f"rename {self.mailbox} to {self.to}"
        if self.kind in ("create", "delete"):
            return f"{self.kind} {self.mailbox}"
        return f"deliver {len(self.data or b'')} bytes to {self.folder}"


def imap_name(name: Optional[str]) -> Optional[str]:
    """Mailbox names may be typed in UTF-8; the store wants modified UTF-7."""
    if name is None:
        return None
    from ..wire.utf7 import encode

    return name if name.isascii() else encode(name).decode("ascii")


def parse_flags(text: str) -> tuple[str, list[str]]:
    """``+\\Seen \\Flagged`` (spaces or commas) -> ("+", ["\\Seen", "\\Flagged"])."""
    text = (text or "").strip()
    if not text or text[0] not in "+-=":
        raise EventError("flags must start with +, - or =, e.g. '+\\Seen'")
    mode, names = text[0], [n for n in re.split(r"[\s,()]+", text[1:]) if n]
    flags = []
    for name in names:
        if not _FLAG.fullmatch(name):
            raise EventError(f"invalid flag {name!r}")
        if name.startswith("\\"):
            if name.lower() not in _SYSTEM:
                raise EventError(f"{name} cannot be set (system flags: {', '.join(_SYSTEM.values())})")
            name = _SYSTEM[name.lower()]
        flags.append(name)
    if not flags and mode != "=":
        raise EventError("no flags given")
    return mode, flags


def sample_message(user: str = "demo", subject: Optional[str] = None) -> bytes:
    """A small, valid message with a unique Message-ID (``--sample``)."""
    stamp = time.strftime("%H:%M:%S", time.gmtime())
    subject = subject or f"Sample message from the pushimapd test bed ({stamp} UTC)"
    return (f"From: pushimapd test bed <testbed@pushimapd.invalid>\r\n"
            f"To: {user} <{user}@localhost>\r\n"
            f"Subject: {subject}\r\n"
            f"Date: {email.utils.formatdate()}\r\n"
            f"Message-ID: <{time.time_ns()}.{os.getpid()}@testbed.pushimapd.invalid>\r\n"
            "MIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "\r\n"
            "This message was delivered by the pushimapd test bed, as an MTA would.\r\n").encode("utf-8")


def check(event: Event) -> Event:
    """Options each kind needs; names converted to modified UTF-7."""
    if event.kind not in EVENT_KINDS:
        raise EventError(f"unknown event {event.kind!r} (one of {', '.join(EVENT_KINDS)})")
    need = {"flags": ("mailbox", "uid", "flags"), "expunge": ("mailbox", "uid"), "move": ("mailbox", "uid", "to"),
            "rename": ("mailbox", "to"), "create": ("mailbox",), "delete": ("mailbox",), "deliver": ("data",)}
    for name in need[event.kind]:
        if getattr(event, name) in (None, ""):
            option = {"data": "a message (stdin or --sample)"}.get(name, f"--{name}")
            raise EventError(f"{event.kind} needs {option}")
    if event.uid is not None and event.uid < 1:
        raise EventError("--uid must be a UID (1 or more)")
    event.mailbox, event.to = imap_name(event.mailbox), imap_name(event.to)
    event.folder = imap_name(event.folder) or "INBOX"
    if event.kind == "flags":
        parse_flags(event.flags)
    return event


def apply_event(store, root: str, event: Event) -> str:
    """Make the change with the storage calls the IMAP commands make; returns what was done."""
    check(event)
    try:
        account = store.account(event.user)
    except MailboxError as e:
        raise EventError(str(e)) from None
    if not os.path.isdir(os.path.join(root, event.user)):
        raise EventError(f"no Maildir for user {event.user}")
    try:
        return _apply(store, root, account, event)
    except MailboxError as e:
        raise EventError(f"{event.describe()}: {e}") from None
    except DeliveryError as e:
        raise EventError(str(e)) from None


def _message(account, name: str, uid: int):
    mailbox = account.open(name)
    mailbox.sync()
    if uid not in mailbox:
        raise EventError(f"no message with UID {uid} in {name}")
    return mailbox


def _apply(store, root: str, account, event: Event) -> str:
    kind = event.kind
    if kind == "flags":
        mailbox = _message(account, event.mailbox, event.uid)
        mode, flags = parse_flags(event.flags)
        keywords = [f for f in flags if not f.startswith("\\")]
        if not mailbox.can_store_keywords(keywords):
            raise EventError("too many keywords in this mailbox")
        changed, _ = mailbox.store_flags([event.uid], flags, mode)
        mailbox.save_cache()
        return f"{event.describe()}: {'changed' if changed else 'unchanged'}"
    if kind == "expunge":  # as STORE +FLAGS (\Deleted) then UID EXPUNGE
        mailbox = _message(account, event.mailbox, event.uid)
        gone = mailbox.expunge([event.uid], deleted_only=False)
        return f"{event.describe()}: {len(gone)} expunged"
    if kind == "move":
        source = _message(account, event.mailbox, event.uid)
        if not account.exists(event.to):
            raise EventError(f"no mailbox {event.to}")
        target = account.open(event.to)
        if target is source:
            raise EventError("cannot move into the same mailbox")
        try:
            created = source.move_to(target, [event.uid])
        except OSError:  # not one file system: COPY, then expunge (as MOVE does)
            created = source.copy_into(target, [event.uid])
            source.expunge([event.uid], deleted_only=False)
        target.announce(created)
        return f"{event.describe()}: new UID {created[0] if created else '-'}"
    if kind == "rename":
        account.rename(event.mailbox, event.to)
        return event.describe()
    if kind == "create":
        account.create(event.mailbox)
        return event.describe()
    if kind == "delete":
        account.delete(event.mailbox)
        return event.describe()
    path = deliver(root, event.user, event.folder, event.data)
    return f"{event.describe()}: {os.path.basename(path)}"

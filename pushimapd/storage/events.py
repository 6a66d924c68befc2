"""A per-user event bus: what changed in a user's mailboxes, for NOTIFY (RFC 5465).

Every change passes through a store object: message changes through the
shared mailbox object (writes by sessions, deliveries and other programs'
renames found by a scan), mailbox names and subscriptions through the
account, METADATA entries through `publish`. Each is told here as an
`AccountEvent` to the listeners watching that user. With no listener for
anyone, publishing costs one dictionary test.

``acting`` is the session whose command is running (set by the session
around each command): changes made by writes carry it as their origin, so a
listener can leave out what its own session did (RFC 5465 section 5).
Changes found by scans and inotify have no origin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional

from twisted.logger import Logger

log = Logger()

MESSAGES = "messages"  # added / expunged / flagged UIDs in ``mailbox``
RESET = "reset"  # the mailbox got a new UIDVALIDITY
CREATED = "created"
DELETED = "deleted"
RENAMED = "renamed"  # ``mailbox`` is the new name, ``old_name`` the old one
SUBSCRIBED = "subscribed"
UNSUBSCRIBED = "unsubscribed"
METADATA = "metadata"  # ``entries`` of ``mailbox`` ("" for the server's own)


@dataclass(frozen=True)
class AccountEvent:
    kind: str
    mailbox: str  # IMAP name
    origin: Any = None  # the session whose command caused it; None: a scan, a delivery, another program
    added: tuple = ()
    expunged: tuple = ()
    flagged: tuple = ()
    old_name: Optional[str] = None
    entries: tuple = ()
    source: Any = None  # the mailbox object that told it (message events)


Listener = Callable[[AccountEvent], None]


class AccountBus:
    def __init__(self):
        self.listeners: dict[str, list[Listener]] = {}
        self.acting: Any = None

    def watch(self, user: str, listener: Listener) -> None:
        self.listeners.setdefault(user, []).append(listener)

    def unwatch(self, user: str, listener: Listener) -> None:
        listeners = self.listeners.get(user)
        if listeners and listener in listeners:
            listeners.remove(listener)
            if not listeners:
                del self.listeners[user]

    def watched(self, user: str) -> bool:
        return user in self.listeners

    def publish(self, user: str, event: AccountEvent) -> None:
        for listener in list(self.listeners.get(user, ())):
            try:
                listener(event)
            except Exception:  # one listener's bug must not fail the change that was made
                log.failure("an account listener failed on {kind} {mailbox}", kind=event.kind, mailbox=event.mailbox)

    def own(self, made_here: bool) -> Any:
        """The origin of a change: the acting session for a write, None for a change found."""
        return self.acting if made_here else None

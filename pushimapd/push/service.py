"""Assembles push: watcher -> (live sessions, registry.fire) -> dispatcher (PUT and web push kinds)."""

from __future__ import annotations

import os
from typing import Optional

from twisted.application import service
from twisted.logger import Logger

from ..storage.names import MailboxError
from .dispatcher import Dispatcher, RetrySettings
from .policy import TargetPolicy
from .registry import PushRegistry
from .watcher import MaildirWatcher
from .webpush import DEFAULT_TTL, VapidKeys, VapidSigner, WebPushKind, default_subject

log = Logger()
DEFAULT_QUIET: tuple[str, ...] = ()


def is_quiet(folder: str, junk_folders: list[str], extra: tuple[str, ...]) -> bool:
    """Deliveries into the \\Junk folder(s) and the configured ones never fire.

    Without configuration \\Junk is a top-level Junk or Spam (any case).
    """
    return folder in junk_folders or folder.lower() in {q.lower() for q in extra}


class PushService(service.Service):
    def __init__(self, reactor, store, root: str, policy: TargetPolicy, quiet=DEFAULT_QUIET,
                 limit: int = 16, settings: RetrySettings = RetrySettings(), rescan_interval: float = 5.0,
                 vapid_subject: Optional[str] = None, webpush_ttl: int = DEFAULT_TTL, webpush_urgency: str = "normal"):
        self.store = store
        self.quiet = tuple(quiet)
        self.registry = PushRegistry(policy, limit)
        self.dispatcher = Dispatcher(reactor, policy, settings)
        self.registry.on_put = self.dispatcher.cancel_url
        self.registry.on_fired = self.dispatcher.deliveries_fired
        self.vapid = VapidKeys()
        self.registry.vapid = self.vapid
        signer = VapidSigner(self.vapid, vapid_subject or default_subject())
        self.dispatcher.add_kind(WebPushKind(signer, webpush_ttl, webpush_urgency))
        self.watcher = MaildirWatcher(root, reactor, self.delivered, self.changed, rescan_interval)
        self.registry.before_put = self.watcher.drain
        store.is_watched = self.watcher.is_watched
        store.drain_changes = self.watcher.drain
        self.watcher.on_names = store.names.changed
        self.root = root
        # further pushes a delivery fires besides the registrations, each
        # called as trigger(user, folder, delivered_at) (Delta Chat device tokens)
        self.triggers: list = []

    def _sync_open_mailbox(self, user: str, folder: str, names=None, delivered=None) -> None:
        """Bring a loaded folder up to date with what inotify reported."""
        path = os.path.join(self.root, user) if folder == "INBOX" else os.path.join(self.root, user, "." + folder)
        mailbox = self.store.loaded_at(path)
        # a NOTIFY session of the user hears of every folder: look at once (the
        # folder's scan tells the account's listeners what changed)
        watched = self.store.account_watched(user)
        if mailbox is None:
            if watched:
                self._open_for_listeners(user, folder)
            return
        if delivered is None and names is not None and mailbox.made_by_us(names):
            return  # only our own renames and deletions: nothing to learn
        if not mailbox.listeners and not watched:
            mailbox.mark_stale()  # rescanned when a session next opens it
        elif delivered is not None:
            mailbox.add_delivered(delivered)
        else:
            mailbox.sync(force=True)

    def _open_for_listeners(self, user: str, folder: str) -> None:
        try:
            self.store.account(user).open(folder)  # loading scans what changed since it was last open
        except MailboxError:
            pass  # removed meanwhile

    def delivered(self, user: str, folder: str, delivered_at: Optional[float] = None, names=None) -> None:
        self._sync_open_mailbox(user, folder, delivered=names)  # IDLE sessions hear of it now
        special = self.store.account(user).special_use_attributes()
        junk = [name for name, attrs in special.items() if "\\Junk" in attrs]
        if is_quiet(folder, junk, self.quiet):
            log.info("delivery for {user} into quiet folder {folder}: no push", user=user, folder=folder)
            return
        self.registry.fire(user, folder, delivered_at)
        for trigger in self.triggers:
            trigger(user, folder, delivered_at)

    def changed(self, user: str, folder: str, names=None) -> None:
        self._sync_open_mailbox(user, folder, names)

    def startService(self) -> None:
        super().startService()
        self.vapid.ensure()  # made at first start, kept in the database from then on
        self.dispatcher.resume_all()
        self.watcher.start()

    def stopService(self):
        # while the watcher still runs, the store can tell which folders are
        # fully indexed (no change pending), so the next start lists none of them
        self.store.close()
        self.watcher.stop()
        return super().stopService()

"""Plugs the test bed into the server (called once by `service.makeService`)."""

from __future__ import annotations

import os

from twisted.logger import Logger

from .faults import FaultBook, describe
from .hub import Hub, Monitor

log = Logger()


def setup_testbed(options, top, factory, config, push, store, root: str) -> FaultBook:
    """Faults always (the CLI may add them at any time); the hub (live sessions,
    traces, push attempts) with ``--console`` or ``--trace-dir``."""
    book = FaultBook()
    config.faults = book
    hub = Hub(options["trace-dir"]) if options["console"] or options["trace-dir"] else None
    factory.testbed = hub
    push.dispatcher.simulate = book.push_answer

    def fired(session, fault, where) -> None:
        if session is None and hub is not None:  # push faults: noted in the user's traces
            hub.note_user(fault.user, f"fault {fault.id} ({describe(fault)}) answered a push attempt")

    book.on_fired = fired
    if hub is not None:
        push.dispatcher.on_attempt = hub.push_attempt
    # what the CLI wrote (an event, a uidvalidity fault) is read before the
    # change it made is handed to sessions, so traces show it first
    watcher = push.watcher
    for name in ("on_delivery", "on_change"):
        original = getattr(watcher, name)
        setattr(watcher, name, _refreshing(book, original))
    watcher.forget_folder = _orphaning(watcher, store, watcher.forget_folder)
    Monitor(book, store, hub).setServiceParent(top)
    if options["console"]:
        from ..auth import UserDirectory
        from .console import Console, ConsoleService

        ConsoleService(options["console"], Console(hub, book, store, root, UserDirectory())).setServiceParent(top)
    return book


def _orphaning(watcher, store, forget_folder):
    """A folder renamed or deleted by another process (``pushimapd event``, a
    second client's server): the shared mailbox object must let go of the
    moved index, as after an IMAP RENAME/DELETE, and the sessions that have
    it selected see its messages expunged now, IDLE ones too."""

    def forget(user: str, folder: str) -> None:
        forget_folder(user, folder)
        path = watcher._folder_path(user, folder)
        if os.path.isdir(path):
            return  # made again meanwhile: the loaded object is the right one
        gone = [m for m in store.loaded() if m.path == path or m.path.startswith(path + ".")]
        store.forget(path)
        for mailbox in gone:
            if mailbox.listeners:
                mailbox.sync()

    return forget


def _refreshing(book: FaultBook, callback):
    def call(*args, **kwargs):
        try:
            book.refresh()
        except Exception:
            log.failure("test bed: reading the fault table failed")
        return callback(*args, **kwargs)

    return call

"""Command handlers, one module per family; importing this registers them all."""

from . import any_state, append, copy, expunge, fetch, idle, listing, mailboxes, push, quota, search, sort, store, thread, urlauth  # noqa: F401

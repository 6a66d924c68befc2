"""Command handlers, one module per family; importing this registers them all."""

from . import any_state, append, compress, copy, expunge, fetch, idle, mailboxes, metadata, push, search, store  # noqa: F401

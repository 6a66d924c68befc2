"""Command handlers, one module per family; importing this registers them all."""

from . import (  # noqa: F401
    any_state, append, compress, contexts, copy, expunge, fetch, idle, listing, mailboxes, metadata, notify,
    push,
    quota, search, sort, store, thread, urlauth,
)

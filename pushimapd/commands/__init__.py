"""Command handlers, one module per family; importing this registers them all."""

from . import any_state, append, copy, expunge, fetch, idle, mailboxes, metadata, push, search, store  # noqa: F401
from . import notify  # noqa: F401  (NOTIFY, RFC 5465)

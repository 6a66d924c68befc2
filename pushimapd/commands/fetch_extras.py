"""FETCH SAVEDATE (RFC 8514) and FETCH PREVIEW [(LAZY)] (RFC 8970).

Both read a column per command rather than a row per message: the save
dates of all the messages a FETCH names come from the folder index in one
query, and so do the cached previews; PREVIEW computes (and caches) the
missing ones, PREVIEW (LAZY) answers NIL for them instead.
"""

from __future__ import annotations

import datetime

from ..wire import serializer as ser
from ..wire.grammar import FetchItem

BULK_ITEMS = {"SAVEDATE", "PREVIEW"}


def _format(when: int) -> bytes:
    from .fetch import format_internal_date

    return format_internal_date(datetime.datetime.fromtimestamp(when, datetime.timezone.utc))


def bulk_renderer(view, item: FetchItem, uids: list[int]):
    """A renderer (uid -> bytes) for SAVEDATE / PREVIEW over ``uids``, or None."""
    mailbox = view.mailbox
    if item.name == "SAVEDATE":
        dates = mailbox.save_times(uids)
        return lambda uid: b"SAVEDATE " + (_format(dates[uid]) if uid in dates else b"NIL")
    if item.name == "PREVIEW":
        lazy = "LAZY" in item.modifiers
        cached = mailbox.previews(uids, compute=False)

        def preview(uid: int) -> bytes:
            text = cached.get(uid)
            if text is None and not lazy:
                text = mailbox.previews([uid]).get(uid)
                if text is None:
                    raise FileNotFoundError(uid)  # gone meanwhile: FETCH skips it
            return b"PREVIEW " + (b"NIL" if text is None else ser.string(text))
        return preview
    return None

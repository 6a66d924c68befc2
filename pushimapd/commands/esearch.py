"""What SEARCH and SORT return: ESEARCH result options (RFC 4731, ESORT of
RFC 5267), PARTIAL windows (RFC 5267 4.4, negative ranges of RFC 9394) and
SEARCHRES's saved result "$" (RFC 5182).

Numbers come in result order: ascending for SEARCH, sort order for SORT
(MIN and MAX are then the first and last in that order, and ALL keeps it,
as Dovecot does).
"""

from __future__ import annotations

from typing import Optional

from ..wire import serializer as ser

RESULT_OPTIONS = {"MIN", "MAX", "COUNT", "ALL", "PARTIAL"}  # the ones that produce data


def partial_window(items: list, window: tuple[int, int]) -> list:
    """The results at positions first..last (1-based; negative: from the end)."""
    first, last = sorted((abs(window[0]), abs(window[1])))
    if window[0] > 0:
        return items[first - 1:last]
    count = len(items)
    return items[max(count - last, 0):max(count - first + 1, 0)]


def _partial_text(window: tuple[int, int]) -> bytes:
    return b"%d:%d" % window


def response_items(options: dict, numbers: list[int]) -> list[bytes]:
    """The ``MIN n``, ``ALL set``, ``PARTIAL (r set)`` ... items for ``numbers``."""
    parts = []
    if numbers:
        if "MIN" in options:
            parts.append(b"MIN %d" % numbers[0])
        if "MAX" in options:
            parts.append(b"MAX %d" % numbers[-1])
        if "ALL" in options:
            parts.append(b"ALL " + ser.number_set(numbers))
    if "COUNT" in options:
        parts.append(b"COUNT %d" % len(numbers))
    if "PARTIAL" in options:
        window = partial_window(numbers, options["PARTIAL"])
        parts.append(b"PARTIAL (" + _partial_text(options["PARTIAL"]) + b" "
                     + (ser.number_set(window) if window else b"NIL") + b")")
    return parts


def esearch_line(tag: str, uid: bool, numbers: list[int], options: dict, extra: tuple = ()) -> Optional[bytes]:
    """The ``ESEARCH (TAG "t") [UID] ...`` response (None when only SAVE/UPDATE asked for none)."""
    wanted = dict(options)
    if not RESULT_OPTIONS & set(wanted):
        if "SAVE" in wanted:
            return None  # RFC 5182: RETURN (SAVE) alone answers nothing but the tagged OK
        wanted["ALL"] = True  # RETURN () (and UPDATE / CONTEXT alone) means ALL
    parts = [b"(TAG " + ser.string(tag) + b")"]
    if uid:
        parts.append(b"UID")
    parts.extend(response_items(wanted, numbers))
    parts.extend(extra)
    return b"ESEARCH " + b" ".join(parts)


def save_result(view, options: dict, uids: list[int]) -> None:
    """RETURN (SAVE): remember the result's UIDs as "$" (RFC 5182 2.1): only
    the MIN/MAX messages when those are asked for without ALL or COUNT,
    only the window when PARTIAL is."""
    if "SAVE" not in options:
        return
    chosen = uids
    if not {"ALL", "COUNT"} & set(options):
        if "PARTIAL" in options:
            chosen = partial_window(uids, options["PARTIAL"])
        elif {"MIN", "MAX"} & set(options):
            chosen = ([uids[0]] if "MIN" in options and uids else []) + (
                [uids[-1]] if "MAX" in options and uids else [])
    view.saved_result = sorted(set(chosen))

"""SORT and UID SORT (RFC 5256), SORT=DISPLAY (RFC 5957) and ESORT (RFC 5267).

The messages matching the search keys are ordered by `storage.sorting`;
``SORT RETURN (MIN MAX COUNT ALL)`` answers with one ESEARCH response whose
MIN/MAX are the first/last message in sort order and whose ALL keeps that
order (as Dovecot does).
"""

from __future__ import annotations

from typing import Optional

from ..core.dispatch import OK, SELECT_ONLY, command
from ..storage.sorting import SORT_KEYS, SortSource, sort_messages
from ..wire.grammar import ParseError
from ..wire.parser import SUPPORTED_CHARSETS, BadCharset, SearchParser, return_options
from . import contexts
from .esearch import esearch_line, save_result
from .search import search_view


def optional_return(cursor) -> Optional[dict]:
    """``RETURN (opt ...)`` after the command name, or None when absent."""
    if not cursor.try_(b"RETURN "):
        return None
    options = return_options(cursor)
    cursor.sp()
    return options


def charset_and_keys(cursor) -> tuple:
    """The mandatory charset and the search keys of SORT and THREAD."""
    charset = cursor.astring().decode("ascii", "replace").upper()
    if charset not in SUPPORTED_CHARSETS:
        raise BadCharset(charset)
    cursor.sp()
    return charset, SearchParser(cursor, SUPPORTED_CHARSETS[charset]).keys()


def _criteria(cursor) -> tuple:
    cursor.expect(b"(", "Expected '(' and sort criteria")
    out = []
    reverse = False
    while True:
        word = cursor.atom().upper()
        if word == "REVERSE":
            if reverse:
                raise ParseError("REVERSE given twice")
            reverse = True
        elif word in SORT_KEYS:
            out.append((word, reverse))
            reverse = False
        else:
            raise ParseError(f"Unknown sort key {word}")
        if cursor.try_(b")"):
            break
        cursor.sp()
    if reverse:
        raise ParseError("REVERSE must be followed by a sort key")
    return tuple(out)


def _sort_args(cursor):
    cursor.sp()
    returns = optional_return(cursor)
    criteria = _criteria(cursor)
    cursor.sp()
    charset, keys = charset_and_keys(cursor)
    return (returns, criteria, charset, keys)


@command("SORT", SELECT_ONLY, _sort_args, expunge_ok=False)
def sort(session, cmd):
    returns, criteria, _charset, keys = cmd.args
    view = session.selected
    updating = False
    if returns is not None and "UPDATE" in returns:
        refusal, updating = contexts.prepare_updates(session, cmd)
        if refusal is not None:
            return refusal
    mailbox = view.mailbox
    hits = search_view(view, keys)
    source = SortSource(mailbox.header_block, mailbox.internal_date, mailbox.size)
    ordered = sort_messages(hits, list(criteria), source)
    numbers = [uid if cmd.uid else seq for seq, uid in ordered]
    if returns is None:
        session.untagged(b"SORT" + b"".join(b" %d" % n for n in numbers))
        return OK("SORT completed")
    save_result(view, returns, [uid for _, uid in ordered])
    line = esearch_line(cmd.tag, cmd.uid, numbers, returns)
    if line is not None:
        session.untagged(line)
    if updating:
        contexts.start_updates(session, cmd, keys, criteria, [uid for _, uid in ordered])
    return OK("SORT completed")

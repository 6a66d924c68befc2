"""SEARCH and UID SEARCH, with ESEARCH's RETURN options (RFC 4731), SAVE
(SEARCHRES, RFC 5182) and PARTIAL (RFC 5267); the options are in esearch.py."""

from __future__ import annotations

import time
from typing import Optional

from ..core.dispatch import BAD, OK, SELECT_ONLY, command
from ..storage.mime import ParsedMessage
from ..storage.columnsearch import search_positions
from ..storage.search import MessageFacts, depends_on_flags_only, matches
from ..wire.parser import search_arguments
from . import contexts, resync
from .esearch import esearch_line, save_result

def _search_args(cursor):
    cursor.sp()
    return search_arguments(cursor)


class _Source:
    """Costly per-message facts for the search engine, from the mailbox."""

    def __init__(self, mailbox, uids: list[int], saved=()):
        self.mailbox = mailbox
        self.saved = frozenset(saved)  # SEARCHRES "$"
        self.uids = uids
        self.size = mailbox.size
        self.modseq = mailbox.modseq
        self.internal_date = mailbox.internal_date
        self.message = mailbox.message
        self.header_block = mailbox.header_block
        self.now = time.time()  # WITHIN's OLDER / YOUNGER count back from one instant
        self._columns: dict = {}

    def headers(self, uid: int):
        block = self.mailbox.header_block(uid)
        if block is None:
            return None
        return ParsedMessage(block if block.endswith(b"\r\n\r\n") else block + b"\r\n")

    def save_time(self, uid: int) -> Optional[int]:
        """The save date (RFC 8514) from the index, loaded for the whole search at once."""
        dates = self._columns.get("savedate")
        if dates is None:
            dates = self._columns["savedate"] = self.mailbox.save_times(self.uids)
        return dates.get(uid)

    def indexed_header(self, uid: int, field: str) -> Optional[str]:
        """The field's decoded value from the store's index (loaded for the
        whole search at once), or None when the store does not index it."""
        column = self._columns.get(field, False)
        if column is False:
            column = self._columns[field] = self.mailbox.indexed_headers(field, self.uids)
        return None if column is None else column.get(uid)


def search_view(view, keys, only=None) -> list[tuple[int, int]]:
    """(seq, uid) of every message in the view matching all ``keys`` (only
    of the UIDs in the set ``only`` when given)."""
    mailbox = view.mailbox
    uids = view.uids
    flags_only = depends_on_flags_only(keys)
    if only is None and not view.has_news() and uids == mailbox.uids:
        # the view is the mailbox: answer from whole columns when the keys allow it
        positions = search_positions(keys, mailbox, view.recent)
        if positions is not None:
            return [(p + 1, uids[p]) for p in positions]
    largest_uid = uids[-1] if uids else 0
    source = _Source(mailbox, uids, view.saved_result)
    recent, expunged, flags_of = view.recent, view.is_expunged, mailbox.flags
    count = len(uids)
    memo: Optional[dict] = {} if flags_only else None
    found = []
    if only is None:
        walk = enumerate(uids, 1)
    else:  # a few changed messages (updating searches): look them up, not the whole view
        walk = sorted((view.seq_of(u), u) for u in only if view.seq_of(u) is not None)
    for seq, uid in walk:
        if uid not in mailbox or expunged(uid):
            continue
        flags = flags_of(uid)
        is_recent = uid in recent
        if memo is not None:
            hit = memo.get((flags, is_recent))
            if hit is None:
                facts = MessageFacts(source, seq, uid, count, largest_uid, flags, is_recent)
                hit = memo[(flags, is_recent)] = all(matches(k, facts) for k in keys)
        else:
            facts = MessageFacts(source, seq, uid, count, largest_uid, flags, is_recent)
            hit = all(matches(k, facts) for k in keys)
        if hit:
            found.append((seq, uid))
    return found


def uses_modseq(keys) -> bool:
    """Does the search involve MODSEQ anywhere (RFC 7162 3.1.5)?"""
    for key in keys:
        if key.name == "MODSEQ":
            return True
        if key.name == "AND" and uses_modseq(key.args[0]):
            return True
        if key.name in ("NOT", "OR") and uses_modseq(key.args):
            return True
    return False


@command("SEARCH", SELECT_ONLY, _search_args, expunge_ok=False)
def search(session, cmd):
    returns, charset, keys = cmd.args
    view = session.selected
    if charset is not None and "UTF8=ACCEPT" in session.enabled:
        return BAD("SEARCH CHARSET is not allowed after ENABLE UTF8=ACCEPT (RFC 6855 3)")
    if returns is None and "IMAP4REV2" in session.enabled:
        returns = {}  # RFC 9051 6.4.4: IMAP4rev2 answers ESEARCH, as for RETURN (ALL)
    updating = False
    if returns is not None and "UPDATE" in returns:
        refusal, updating = contexts.prepare_updates(session, cmd)
        if refusal is not None:
            return refusal
    with_modseq = uses_modseq(keys)
    if with_modseq:
        resync.enable_condstore(session)
    hits = search_view(view, keys)
    numbers = [uid if cmd.uid else seq for seq, uid in hits]
    highest = None
    if with_modseq and hits:  # the highest modseq of the messages found
        modseq = view.mailbox.modseq
        highest = max(modseq(uid) for _, uid in hits)
    if returns is None:
        tail = b" (MODSEQ %d)" % highest if highest is not None else b""
        listed = (" " + " ".join(map(str, numbers))).encode() if numbers else b""
        session.untagged(b"SEARCH" + listed + tail)
        return OK("SEARCH completed")
    save_result(view, returns, [uid for _, uid in hits])
    extra = (b"MODSEQ %d" % highest,) if highest is not None else ()
    line = esearch_line(cmd.tag, cmd.uid, numbers, returns, extra)
    if line is not None:
        session.untagged(line)
    if updating:
        contexts.start_updates(session, cmd, keys, None, [uid for _, uid in hits])
    return OK("SEARCH completed")

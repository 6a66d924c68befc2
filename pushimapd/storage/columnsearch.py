"""SEARCH over whole columns.

When every key of a search can be answered from what the store keeps per
message — flags, sizes, dates, modseqs, UIDs and the header fields it indexes
— the result is computed as sets of positions, column by column, instead of
message by message: ``UID SEARCH FLAGGED`` or ``SUBJECT budget`` over 50,000
messages is then a few passes over lists. A key that needs the message
itself (BODY, TEXT, an unindexed HEADER, SENT*) makes the caller fall back to
`storage.search.matches`, message by message; both give the same answers.
"""

from __future__ import annotations

import bisect
import calendar
from typing import Optional

from ..wire.grammar import SearchKey
from .search import _FLAG_KEYS, MessageFacts, matches

_FLAG_PREDICATE_KEYS = set(_FLAG_KEYS) | {"KEYWORD", "UNKEYWORD"}
_STRING_FIELDS = {"SUBJECT": "subject", "FROM": "from", "TO": "to", "CC": "cc", "BCC": "bcc"}


class NeedMessages(Exception):
    """A key the columns cannot answer."""


def search_positions(keys, mailbox, recent: set) -> Optional[list[int]]:
    """Positions in ``mailbox.uids`` matching every key, or None when some
    key needs the messages themselves."""
    evaluator = _Evaluator(mailbox, recent)
    if len(keys) == 1 and keys[0].name in _FLAG_PREDICATE_KEYS:
        return evaluator.flag_positions(keys[0])  # already in order: the common FLAGGED / UNSEEN
    try:
        found = evaluator.all(keys)
    except NeedMessages:
        return None
    return sorted(found)


class _Evaluator:
    def __init__(self, mailbox, recent: set):
        self.mailbox = mailbox
        self.uids = mailbox.uids
        self.recent = recent
        self._everything: Optional[set] = None

    def everything(self) -> set:
        if self._everything is None:
            self._everything = set(range(len(self.uids)))
        return self._everything

    def all(self, keys) -> set:
        result: Optional[set] = None
        for key in keys:
            found = self.key(key)
            result = found if result is None else result & found
            if not result:
                return set()
        return self.everything() if result is None else result

    def key(self, key: SearchKey) -> set:
        name, args = key.name, key.args
        if name in ("ALL", "SAVEDATESUPPORTED"):  # every folder here keeps save dates
            return self.everything()
        if name == "AND":
            return self.all(args[0])
        if name == "NOT":
            return self.everything() - self.key(args[0])
        if name == "OR":
            return self.key(args[0]) | self.key(args[1])
        if name in _FLAG_PREDICATE_KEYS:
            return set(self.flag_positions(key))
        if name in ("RECENT", "NEW", "OLD"):
            recent = self._recent_positions()
            if name == "OLD":
                return self.everything() - recent
            if name == "NEW":
                return recent & set(self.mailbox.match_flags(lambda flags: "\\Seen" not in flags))
            return recent
        if name in ("SEQ", "UID") and args[0].last_result:
            raise NeedMessages("$")  # the saved result (SEARCHRES) lives in the session
        if name == "SEQ":
            count = len(self.uids)
            return set(args[0].positions(range(1, count + 1), count)) if count else set()
        if name == "UID":
            return set(args[0].positions(self.uids, self.uids[-1])) if self.uids else set()
        if name == "MODSEQ":
            return _where(self.mailbox.column("modseq"), lambda m: m >= args[0])
        if name == "LARGER":
            return _where(self.mailbox.column("size"), lambda size: size > args[0])
        if name == "SMALLER":
            return _where(self.mailbox.column("size"), lambda size: size < args[0])
        if name in ("BEFORE", "ON", "SINCE"):
            start = calendar.timegm(args[0].timetuple())
            end = start + 86400
            times = self.mailbox.column("internal_time")
            if name == "BEFORE":
                return _where(times, lambda t: t < start)
            if name == "ON":
                return _where(times, lambda t: start <= t < end)
            return _where(times, lambda t: t >= start)
        field, needle = self._string_key(name, args)
        folded = self.mailbox.folded_headers(field)
        if folded is None:
            raise NeedMessages(name)
        needle = needle.casefold()
        return {i for i, value in enumerate(folded) if needle in value}

    def flag_positions(self, key: SearchKey) -> list[int]:
        probe = MessageFacts(None, 0, 0, 0, 0, frozenset(), False)

        def predicate(flags: frozenset) -> bool:
            probe.flags = flags
            return matches(key, probe)

        return self.mailbox.match_flags(predicate)

    def _string_key(self, name: str, args) -> tuple[str, str]:
        if name in _STRING_FIELDS and args[0]:
            return _STRING_FIELDS[name], args[0]
        if name == "HEADER" and args[1]:
            return args[0].lower(), args[1]
        raise NeedMessages(name)

    def _recent_positions(self) -> set:
        uids = self.uids
        out = set()
        for uid in self.recent:
            i = bisect.bisect_left(uids, uid)
            if i < len(uids) and uids[i] == uid:
                out.add(i)
        return out


def _where(column, test) -> set:
    return {i for i, value in enumerate(column) if test(value)}


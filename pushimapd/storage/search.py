"""Evaluates a SEARCH key tree against one message's facts.

Facts are fetched lazily, so flag, size, UID and date searches never open the
message file; header and text keys parse it (cached by the mailbox).
"""

from __future__ import annotations

import datetime
import re
import time
from typing import Optional

from ..wire.grammar import SearchKey
from .addresses import parse_addresses
from .mime import decode_rfc2047

_FLAG_KEYS = {
    "ANSWERED": ("\\Answered", True), "UNANSWERED": ("\\Answered", False),
    "DELETED": ("\\Deleted", True), "UNDELETED": ("\\Deleted", False),
    "DRAFT": ("\\Draft", True), "UNDRAFT": ("\\Draft", False),
    "FLAGGED": ("\\Flagged", True), "UNFLAGGED": ("\\Flagged", False),
    "SEEN": ("\\Seen", True), "UNSEEN": ("\\Seen", False),
}
_ADDRESS_HEADERS = {"FROM": "From", "TO": "To", "CC": "Cc", "BCC": "Bcc"}
_SQUEEZE = re.compile(r'[\s"]+')
_PLACEHOLDERS = (b"MISSING_MAILBOX", b"MISSING_DOMAIN")


class MessageFacts:
    """What a search may ask about one message, loaded on first use.

    ``source`` supplies the costly facts by UID: ``size``, ``internal_date``,
    ``message`` (parsed), ``headers`` (parsed header only) and
    ``header_block`` (raw header bytes).
    """

    __slots__ = ("source", "seq", "uid", "largest_seq", "largest_uid", "flags", "recent",
                 "_msg", "_loaded", "_head", "_folded", "_squeezed")

    def __init__(self, source, seq: int, uid: int, largest_seq: int, largest_uid: int,
                 flags: frozenset, recent: bool):
        self.source = source
        self.seq, self.uid = seq, uid
        self.largest_seq, self.largest_uid = largest_seq, largest_uid
        self.flags, self.recent = flags, recent
        self._msg = None
        self._loaded = False
        self._head = None
        self._folded: Optional[str] = None
        self._squeezed: Optional[str] = None

    @property
    def message(self):
        if not self._loaded:
            self._msg, self._loaded = self.source.message(self.uid), True
        return self._msg

    @property
    def headers(self):
        """The message's header only (enough for header keys), or None."""
        if self._loaded:
            return self._msg
        if self._head is None:
            self._head = self.source.headers(self.uid)
        return self._head

    def header_might_contain(self, needle: str) -> bool:
        """A cheap pre-check on the raw, unfolded header: without encoded
        words the decoded values are substrings of it, so a needle absent
        from it cannot match (and the header need not be parsed)."""
        if self._folded is None:
            raw = self.source.header_block(self.uid)
            if raw is None or b"=?" in raw:
                self._folded = ""
            else:
                text = raw.replace(b"\r\n ", b" ").replace(b"\r\n\t", b"\t")
                self._folded = text.decode("utf-8", "replace").casefold()
        return not self._folded or needle.casefold() in self._folded

    def address_might_contain(self, needle: str) -> bool:
        """`header_might_contain` for address keys, which also match the
        addr-spec with comments and white space removed: without comments
        in the header, that addr-spec is a substring of the header with
        white space and quotes squeezed out."""
        if self.header_might_contain(needle) or not self._folded or "(" in self._folded:
            return True
        if self._squeezed is None:
            self._squeezed = _SQUEEZE.sub("", self._folded)
        return _SQUEEZE.sub("", needle.casefold()) in self._squeezed

    def size(self) -> int:
        return self.source.size(self.uid)

    def modseq(self) -> int:
        return self.source.modseq(self.uid)

    def internal_time(self) -> float:
        return self.source.internal_date(self.uid).timestamp()

    def save_date(self) -> Optional[datetime.date]:
        """The day (UTC) the message was saved in this mailbox, or None."""
        when = self.source.save_time(self.uid)
        return None if when is None else datetime.datetime.fromtimestamp(when, datetime.timezone.utc).date()

    def now(self) -> float:
        """The search's "now" (one instant for every message: WITHIN)."""
        return getattr(self.source, "now", None) or time.time()

    def internal_date(self) -> datetime.date:
        return self.source.internal_date(self.uid).astimezone(datetime.timezone.utc).date()


def _contains(haystack: str, needle: str) -> bool:
    return needle.casefold() in haystack.casefold()


def _header_contains(facts: MessageFacts, name: str, needle: str, addresses: bool = False) -> bool:
    """A header field (any occurrence) contains ``needle``; with
    ``addresses`` (FROM/TO/CC/BCC) also any display name or normalised
    addr-spec in it. The store's index answers when it keeps the field."""
    indexed = facts.source.indexed_header(facts.uid, name.lower()) if needle else None
    if indexed is not None:  # indexed address fields carry their address texts too
        values = indexed.split("\n") if indexed else []
        return any(_contains(v, needle) for v in values)
    might = facts.address_might_contain if addresses else facts.header_might_contain
    if needle and not might(needle):
        return False
    msg = facts.headers
    if msg is None:
        return False
    values = msg.header_values(name)
    if not needle:
        return bool(values)
    if any(_contains(v, needle) for v in values):
        return True
    return addresses and any(_contains(text, needle) for raw in msg.header_raw_values(name)
                             for text in address_texts(raw))


def address_texts(raw: bytes) -> list[str]:
    """Display names (RFC 2047 decoded) and normalised addr-specs
    (``local@domain``: comments, quotes and folding removed) of an address
    header value."""
    out = []
    for name, _adl, mailbox, host in parse_addresses(raw):
        if name:
            out.append(decode_rfc2047(name.decode("utf-8", "replace")))
        if mailbox is None or host is None:
            continue  # group start or end
        local = b"" if mailbox in _PLACEHOLDERS else mailbox
        domain = b"" if host in _PLACEHOLDERS else host
        out.append((local + b"@" + domain if domain else local).decode("utf-8", "replace"))
    return out


_FLAG_ONLY = set(_FLAG_KEYS) | {"ALL", "RECENT", "NEW", "OLD", "KEYWORD", "UNKEYWORD", "SAVEDATESUPPORTED"}


def depends_on_flags_only(keys) -> bool:
    """True when the result is a function of (flags, recent) alone, so it can
    be computed once per distinct flag set instead of once per message."""
    for key in keys:
        if key.name == "AND":
            if not depends_on_flags_only(key.args[0]):
                return False
        elif key.name in ("NOT", "OR"):
            if not depends_on_flags_only(key.args):
                return False
        elif key.name not in _FLAG_ONLY:
            return False
    return True


def matches(key: SearchKey, facts: MessageFacts) -> bool:
    name, args = key.name, key.args
    if name in ("ALL", "SAVEDATESUPPORTED"):  # every folder here keeps save dates (RFC 8514)
        return True
    if name == "AND":
        return all(matches(k, facts) for k in args[0])
    if name == "NOT":
        return not matches(args[0], facts)
    if name == "OR":
        return matches(args[0], facts) or matches(args[1], facts)
    if name in _FLAG_KEYS:
        flag, wanted = _FLAG_KEYS[name]
        return (flag in facts.flags) == wanted
    if name == "RECENT":
        return facts.recent
    if name == "NEW":
        return facts.recent and "\\Seen" not in facts.flags
    if name == "OLD":
        return not facts.recent
    if name == "KEYWORD":
        return any(f.lower() == args[0].lower() for f in facts.flags)
    if name == "UNKEYWORD":
        return not any(f.lower() == args[0].lower() for f in facts.flags)
    if name in ("SEQ", "UID") and args[0].last_result:  # "$" (RFC 5182): the saved UIDs
        return facts.uid in facts.source.saved
    if name == "SEQ":
        return args[0].contains(facts.seq, facts.largest_seq)
    if name == "UID":
        return args[0].contains(facts.uid, facts.largest_uid)
    if name == "MODSEQ":
        return facts.modseq() >= args[0]
    if name == "LARGER":
        return facts.size() > args[0]
    if name == "SMALLER":
        return facts.size() < args[0]
    if name in ("OLDER", "YOUNGER"):  # WITHIN (RFC 5032): INTERNALDATE against now - n seconds
        cutoff = facts.now() - args[0]
        when = facts.internal_time()
        return when < cutoff if name == "OLDER" else when >= cutoff
    if name in ("BEFORE", "ON", "SINCE"):
        return _compare(name, facts.internal_date(), args[0])
    if name in ("SAVEDBEFORE", "SAVEDON", "SAVEDSINCE"):  # an unknown save date matches none
        saved = facts.save_date()
        return saved is not None and _compare(name[5:], saved, args[0])
    if name in ("SENTBEFORE", "SENTON", "SENTSINCE"):
        msg = facts.headers
        sent = msg.sent_date() if msg is not None else None
        return sent is not None and _compare(name[4:], sent, args[0])
    if name in _ADDRESS_HEADERS:
        return _header_contains(facts, _ADDRESS_HEADERS[name], args[0], addresses=True)
    if name == "SUBJECT":
        return _header_contains(facts, "Subject", args[0])
    if name == "HEADER":
        return _header_contains(facts, args[0], args[1])
    if name == "BODY":
        msg = facts.message
        return msg is not None and _contains(msg.search_text(), args[0])
    if name == "TEXT":
        msg = facts.message
        if msg is None:
            return False
        header = msg.section((), "HEADER") or b""
        return _contains(header.decode("utf-8", "replace"), args[0]) or _contains(msg.search_text(), args[0])
    raise ValueError(f"unknown search key {name}")


def _compare(kind: str, value: datetime.date, wanted: datetime.date) -> bool:
    if kind == "BEFORE":
        return value < wanted
    if kind == "ON":
        return value == wanted
    return value >= wanted

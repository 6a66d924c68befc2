"""SORT (RFC 5256, RFC 5957): base subjects, the i;unicode-casemap
collation (RFC 5051) and the sort keys of a message.

Pure functions over header bytes: the command layer hands in the messages
(sequence number, UID) and a source of their header block, INTERNALDATE
and size; nothing here knows about sessions or files.
"""

from __future__ import annotations

import datetime
import functools
import re
import unicodedata
from email.utils import parsedate_to_datetime
from typing import Callable, Iterable, Optional

from .addresses import parse_addresses
from .mime import ParsedMessage, decode_rfc2047

SORT_KEYS = ("ARRIVAL", "CC", "DATE", "FROM", "SIZE", "SUBJECT", "TO", "DISPLAYFROM", "DISPLAYTO")
_PLACEHOLDERS = (b"MISSING_MAILBOX", b"MISSING_DOMAIN")


# -- i;unicode-casemap (RFC 5051) ---------------------------------------------------------
@functools.lru_cache(maxsize=65536)
def _casemap_char(ch: str) -> str:
    """One character titlecased and decomposed, repeatedly, until stable.

    Titlecase is the simple (one character) mapping of UnicodeData: a full
    mapping that expands (e.g. U+00DF) leaves the character alone.
    Decomposition is UnicodeData's mapping, canonical or compatibility
    (its <tag> dropped); Hangul syllables have none there and stay whole.
    """
    titled = ch.title()
    if len(titled) != 1:
        upper = ch.upper()
        titled = upper if len(upper) == 1 else ch
    mapping = unicodedata.decomposition(titled)
    if not mapping:
        return titled
    codes = [c for c in mapping.split() if not c.startswith("<")]
    if not codes:
        return titled
    decomposed = "".join(chr(int(c, 16)) for c in codes)
    return "".join(_casemap_char(c) for c in decomposed)


def casemap(text: str) -> str:
    """The "titlecased canonicalized" form of RFC 5051; comparing these
    strings (code point order = UTF-8 octet order) is i;unicode-casemap."""
    if text.isascii():
        return text.upper()
    return "".join(_casemap_char(c) for c in text)


# -- base subject (RFC 5256 2.1) -----------------------------------------------------------
_WSP_RUN = re.compile(r"[ \t\r\n]+")
_TRAILER = re.compile(r"(?:\(fwd\)|[ \t])\Z", re.I)
_BLOB = r"\[[^\[\]]*\][ \t]*"
_REFWD = r"(?:re|fwd?)[ \t]*(?:" + _BLOB + r")?:"
_LEADER = re.compile(r"(?:(?:" + _BLOB + r")*" + _REFWD + r"|[ \t])", re.I)
_BLOB_PREFIX = re.compile(_BLOB)
_FWD_HDR = "[fwd:"


def base_subject(subject: str) -> tuple[str, bool]:
    """(base subject, is a reply or forward) of a decoded Subject value.

    The RFC's steps: collapse white space; strip trailers ("(fwd)", space);
    strip leaders (``Re:``/``Fw:``/``Fwd:`` with optional ``[blob]``s, and
    space) and a leading ``[blob]`` that does not leave the subject empty,
    until none is left; unwrap ``[fwd: ...]`` and start over.
    """
    text = _WSP_RUN.sub(" ", subject)
    reply = False
    while True:
        # (2) trailers
        while True:
            m = _TRAILER.search(text)
            if not m:
                break
            if m.group(0).lower() == "(fwd)":
                reply = True
            text = text[: m.start()]
        # (3)-(5) leaders and blobs
        while True:
            changed = False
            m = _LEADER.match(text)
            while m and m.end() > 0:
                if m.group(0) not in (" ", "\t"):
                    reply = True
                text = text[m.end():]
                changed = True
                m = _LEADER.match(text)
            m = _BLOB_PREFIX.match(text)
            if m and text[m.end():]:
                text = text[m.end():]
                changed = True
            if not changed:
                break
        # (6) [fwd: ...]
        if text[:5].lower() == _FWD_HDR and text.endswith("]"):
            text = text[5:-1]
            reply = True
            continue
        return text, reply


# -- a message's sort facts -----------------------------------------------------------------
class SortSource:
    """What sorting reads about a message, by UID (the selected mailbox's
    ``header_block``, ``internal_date`` and ``size``)."""

    def __init__(self, header_block: Callable[[int], Optional[bytes]],
                 internal_date: Callable[[int], datetime.datetime], size: Callable[[int], int]):
        self.header_block = header_block
        self.internal_date = internal_date
        self.size = size

    def headers(self, uid: int) -> Optional[ParsedMessage]:
        block = self.header_block(uid)
        if block is None:
            return None
        return ParsedMessage(block if block.endswith(b"\r\n\r\n") else block + b"\r\n")


def decoded_header(msg: Optional[ParsedMessage], name: str) -> str:
    if msg is None:
        return ""
    raw = msg.header_raw(name)
    if raw is None:
        return ""
    return decode_rfc2047(raw.decode("utf-8", "replace"))


_SPECIALS = rb'<>"(),:;@\\'
_ANGLE_ADDRESS = re.compile(rb"\s*([^" + _SPECIALS + rb"]*?)\s*<\s*([^" + _SPECIALS + rb"\s]+)@([^"
                            + _SPECIALS + rb"\s]+)\s*>\s*\Z")
_BARE_ADDRESS = re.compile(rb"\s*([^" + _SPECIALS + rb"\s]+)@([^" + _SPECIALS + rb"\s]+)\s*\Z")
_SPACES = re.compile(rb"\s+")


def _first_address(msg: Optional[ParsedMessage], name: str):
    """(display name, local part, domain) of the first mailbox of a header
    (group names skipped), or None. A single plain address (no quotes,
    comments, groups or lists: most headers) skips the full tokenizer."""
    if msg is None:
        return None
    raw = msg.header_raw(name)
    if raw is None:
        return None
    m = _ANGLE_ADDRESS.match(raw)
    if m:
        return _SPACES.sub(b" ", m.group(1)).strip() or None, m.group(2), m.group(3)
    m = _BARE_ADDRESS.match(raw)
    if m:
        return None, m.group(1), m.group(2)
    for display, _adl, mailbox, host in parse_addresses(raw):
        if mailbox is None or host is None:
            continue
        local = b"" if mailbox in _PLACEHOLDERS else mailbox
        domain = b"" if host in _PLACEHOLDERS else host
        return display, local, domain
    return None


def address_mailbox(msg: Optional[ParsedMessage], name: str) -> str:
    """RFC 5256 FROM/TO/CC: the addr-mailbox (local part) of the first address."""
    first = _first_address(msg, name)
    if first is None:
        return ""
    return decode_rfc2047(first[1].decode("utf-8", "replace"))


def display_address(msg: Optional[ParsedMessage], name: str) -> str:
    """RFC 5957 DISPLAYFROM/DISPLAYTO: the first address's display name
    (RFC 2047 decoded), or its addr-spec when it has none."""
    first = _first_address(msg, name)
    if first is None:
        return ""
    display, local, domain = first
    if display:
        text = decode_rfc2047(display.decode("utf-8", "replace")).strip()
        if text:
            return text
    spec = local + b"@" + domain if domain else local
    return spec.decode("utf-8", "replace")


def sent_timestamp(msg: Optional[ParsedMessage]) -> Optional[float]:
    """The Date header as a UTC timestamp, or None when missing or invalid."""
    if msg is None:
        return None
    raw = msg.header_raw("date")
    if not raw:
        return None
    try:
        when = parsedate_to_datetime(raw.decode("ascii", "replace"))
    except Exception:  # ValueError/TypeError/IndexError across Python versions
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # "-0000": UTC, origin unknown
        when = when.replace(tzinfo=datetime.timezone.utc)
    try:
        return when.timestamp()
    except (OverflowError, ValueError, OSError):
        return None


class SortFacts:
    """One message's sort keys, computed on first use."""

    __slots__ = ("source", "seq", "uid", "_msg", "_loaded", "_cache")

    def __init__(self, source: SortSource, seq: int, uid: int):
        self.source, self.seq, self.uid = source, seq, uid
        self._msg: Optional[ParsedMessage] = None
        self._loaded = False
        self._cache: dict = {}

    @property
    def headers(self) -> Optional[ParsedMessage]:
        if not self._loaded:
            self._msg, self._loaded = self.source.headers(self.uid), True
        return self._msg

    def arrival(self) -> float:
        return self.source.internal_date(self.uid).timestamp()

    def sent(self) -> float:
        """RFC 5256 sent date: the Date header, else INTERNALDATE."""
        value = self._cache.get("sent")
        if value is None:
            value = sent_timestamp(self.headers)
            if value is None:
                value = self.arrival()
            self._cache["sent"] = value
        return value

    def base_subject(self) -> tuple[str, bool]:
        value = self._cache.get("subject")
        if value is None:
            value = self._cache["subject"] = base_subject(decoded_header(self.headers, "subject"))
        return value

    def key(self, name: str):
        if name == "ARRIVAL":
            return self.arrival()
        if name == "DATE":
            return self.sent()
        if name == "SIZE":
            return self.source.size(self.uid)
        if name == "SUBJECT":
            return casemap(self.base_subject()[0])
        if name in ("FROM", "TO", "CC"):
            return casemap(address_mailbox(self.headers, name.lower()))
        if name in ("DISPLAYFROM", "DISPLAYTO"):
            return casemap(display_address(self.headers, name[7:].lower()))
        raise ValueError(f"unknown sort key {name}")


def sort_messages(messages: Iterable[tuple[int, int]], criteria: list[tuple[str, bool]],
                  source: SortSource) -> list[tuple[int, int]]:
    """(seq, uid) pairs in the order of ``criteria`` [(key, reverse)];
    messages equal on every key keep mailbox (sequence number) order."""
    facts = [SortFacts(source, seq, uid) for seq, uid in sorted(messages)]
    # stable sorts from the last key to the first; reverse=True keeps ties in order
    for name, reverse in reversed(criteria):
        keys = {id(f): f.key(name) for f in facts}
        facts.sort(key=lambda f: keys[id(f)], reverse=reverse)
    return [(f.seq, f.uid) for f in facts]

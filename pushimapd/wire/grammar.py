"""Value types the parser produces: sequence sets, fetch items, search keys.

They are plain frozen dataclasses so that tests can compare them and the
command handlers can pattern-match on them without touching wire bytes.
"""

from __future__ import annotations

import datetime
import functools
from dataclasses import dataclass, field
from typing import Optional, Sequence, Tuple, Union

from .serializer import astring


class ParseError(Exception):
    """The client sent something the grammar does not allow (answered BAD)."""


@dataclass(frozen=True)
class SequenceSet:
    """A set like ``1:4,7,9:*``; ``None`` stands for ``*`` (the largest number)."""

    ranges: Tuple[Tuple[Optional[int], Optional[int]], ...]
    last_result: bool = False  # "$" (SEARCHRES, RFC 5182): the saved search result; ranges are empty

    def resolve(self, largest: int) -> list[Tuple[int, int]]:
        """Ranges with ``*`` replaced and ends ordered low..high."""
        out = []
        for start, end in self.ranges:
            a = largest if start is None else start
            b = largest if end is None else end
            if a > b:
                a, b = b, a
            out.append((a, b))
        return out

    def contains(self, number: int, largest: int) -> bool:
        return any(a <= number <= b for a, b in self.resolve(largest))

    def positions(self, candidates: Sequence[int], largest: int) -> Sequence[int]:
        """Indices into sorted ``candidates`` of the members of the set,
        ascending (a ``range`` for a single run, e.g. ``1:*``)."""
        import bisect

        spans = []
        for a, b in self.resolve(largest):
            lo = bisect.bisect_left(candidates, a)
            hi = bisect.bisect_right(candidates, b)
            if lo < hi:
                spans.append((lo, hi))
        if len(spans) == 1:
            return range(*spans[0])
        chosen: set[int] = set()
        for lo, hi in spans:
            chosen.update(range(lo, hi))
        return sorted(chosen)

    def iter_members(self, candidates: Sequence[int], largest: int) -> list[int]:
        """The members of sorted ``candidates`` that lie in the set, sorted."""
        import bisect

        chosen: set[int] = set()
        for a, b in self.resolve(largest):
            lo = bisect.bisect_left(candidates, a)
            hi = bisect.bisect_right(candidates, b)
            chosen.update(candidates[lo:hi])
        return sorted(chosen)


@dataclass(frozen=True)
class Section:
    """``BODY[1.2.HEADER.FIELDS (From)]`` -> part=(1, 2), text, fields."""

    part: Tuple[int, ...] = ()
    text: Optional[str] = None  # HEADER, HEADER.FIELDS, HEADER.FIELDS.NOT, TEXT, MIME
    fields: Tuple[str, ...] = ()

    def wire(self) -> bytes:
        """The section as it is echoed in a FETCH label (once per section:
        a FETCH of many messages asks for it for each one)."""
        return _section_wire(self.part, self.text, self.fields)


@functools.lru_cache(maxsize=1024)
def _section_wire(part: Tuple[int, ...], text: Optional[str], fields: Tuple[str, ...]) -> bytes:
    pieces = [str(p) for p in part]
    if text:
        pieces.append(text)
    spec = ".".join(pieces).encode("ascii")
    if fields:
        spec += b" (" + b" ".join(astring(f.encode("ascii")) for f in fields) + b")"
    return spec


@dataclass(frozen=True)
class FetchItem:
    """One FETCH attribute; ``section`` is set for BODY[...] / BINARY forms."""

    name: str  # FLAGS, UID, ENVELOPE, BODY, BODYSTRUCTURE, RFC822.SIZE, ...
    section: Optional[Section] = None
    peek: bool = False
    partial: Optional[Tuple[int, int]] = None  # (origin, count)
    modifiers: Tuple[str, ...] = ()  # e.g. PREVIEW (LAZY) (RFC 8970)


@dataclass(frozen=True)
class SearchKey:
    """A search key: ``name`` plus its arguments (strings, numbers, dates, keys)."""

    name: str
    args: Tuple[Union[str, int, datetime.date, SequenceSet, "SearchKey", Tuple["SearchKey", ...]], ...] = ()


@dataclass(frozen=True)
class Command:
    """A parsed command: ``name`` is upper case; ``uid`` marks the UID forms."""

    tag: str
    name: str
    args: tuple = ()
    uid: bool = False
    options: dict = field(default_factory=dict, compare=False)

"""The messages of an open folder in memory, column by column.

A 50,000-message folder costs a few MB this way instead of tens of MB of
per-message objects, loads from the index in one pass, and lets flag
searches and FETCH FLAGS run over whole columns (``itertools.compress``)
rather than message by message. Positions follow ascending UID.
"""

from __future__ import annotations

import bisect
import itertools
from array import array
from typing import Iterable, Optional

UNKNOWN = -1  # size or date not computed yet
_VERSIONS = itertools.count(1)


class MessageTable:
    __slots__ = ("uids", "bases", "subs", "infos", "modseqs", "vsizes", "mtimes", "version", "_codes")

    def __init__(self):
        self.version = next(_VERSIONS)  # changes whenever messages come or go (unique across tables)
        self._codes = None  # (version, info codes, distinct infos) once asked for
        self.uids: list[int] = []
        self.bases: list[str] = []
        self.subs = bytearray()  # 0: new/, 1: cur/
        self.infos: list[Optional[str]] = []  # interned letters after ":2,"; None: in new/ without them
        self.modseqs = array("Q")
        self.vsizes = array("q")
        self.mtimes = array("q")

    def __len__(self) -> int:
        return len(self.uids)

    def __contains__(self, uid: int) -> bool:
        return self.pos(uid) is not None

    def pos(self, uid: int) -> Optional[int]:
        uids = self.uids
        i = bisect.bisect_left(uids, uid)
        return i if i < len(uids) and uids[i] == uid else None

    def extend(self, rows: Iterable[tuple]) -> None:
        """Add (uid, base, sub, info, modseq, vsize, mtime) rows; UIDs above
        every present one are appended, others inserted in place."""
        intern = _intern
        self.version = next(_VERSIONS)
        for uid, base, sub, info, modseq, vsize, mtime in rows:
            info = intern(info)
            vsize = UNKNOWN if vsize is None else vsize
            mtime = UNKNOWN if mtime is None else mtime
            if not self.uids or uid > self.uids[-1]:
                self.uids.append(uid)
                self.bases.append(base)
                self.subs.append(sub)
                self.infos.append(info)
                self.modseqs.append(modseq)
                self.vsizes.append(vsize)
                self.mtimes.append(mtime)
                continue
            i = bisect.bisect_left(self.uids, uid)
            if i < len(self.uids) and self.uids[i] == uid:  # known: take the newer values
                self.set(i, sub, info, modseq)
                self.vsizes[i], self.mtimes[i] = vsize, mtime
                continue
            self.uids.insert(i, uid)
            self.bases.insert(i, base)
            self.subs.insert(i, sub)
            self.infos.insert(i, info)
            self.modseqs.insert(i, modseq)
            self.vsizes.insert(i, vsize)
            self.mtimes.insert(i, mtime)

    @classmethod
    def from_rows(cls, rows) -> "MessageTable":
        """A table from (uid, base, sub, info, modseq, vsize, mtime) rows in UID order, column-wise."""
        table = cls()
        rows = list(rows)
        if rows:
            uids, bases, subs, infos, modseqs, vsizes, mtimes = zip(*rows)
            table.uids, table.bases, table.subs = list(uids), list(bases), bytearray(subs)
            shared = {i: _intern(i) for i in set(infos)}
            table.infos = [shared[i] for i in infos]
            table.modseqs = array("Q", modseqs)
            table.vsizes = array("q", [UNKNOWN if v is None else v for v in vsizes])
            table.mtimes = array("q", [UNKNOWN if m is None else m for m in mtimes])
        return table

    @classmethod
    def from_snapshot(cls, snap) -> "MessageTable":
        table = cls()
        table.uids, table.bases, table.subs = snap.uids, snap.bases, snap.subs
        shared = {i: _intern(i) for i in set(snap.infos)}  # a few distinct values, 50,000 references
        table.infos = [shared[i] for i in snap.infos]
        table.modseqs, table.vsizes, table.mtimes = snap.modseqs, snap.vsizes, snap.mtimes
        return table

    def set(self, i: int, sub: int, info: Optional[str], modseq: Optional[int] = None) -> None:
        self.subs[i] = sub
        if self.infos[i] != info:
            self.infos[i] = _intern(info)
            self._codes = None
        if modseq:
            self.modseqs[i] = modseq

    def remove(self, uids: Iterable[int]) -> list[int]:
        """Drop these UIDs; returns the ones that were present."""
        doomed = {u for u in uids if u in self}
        if not doomed:
            return []
        self.version = next(_VERSIONS)
        keep = [i for i, u in enumerate(self.uids) if u not in doomed]
        self.uids = [self.uids[i] for i in keep]
        self.bases = [self.bases[i] for i in keep]
        self.subs = bytearray(self.subs[i] for i in keep)
        self.infos = [self.infos[i] for i in keep]
        self.modseqs = array("Q", (self.modseqs[i] for i in keep))
        self.vsizes = array("q", (self.vsizes[i] for i in keep))
        self.mtimes = array("q", (self.mtimes[i] for i in keep))
        return sorted(doomed)

    def info_codes(self) -> Optional[tuple[bytearray, list]]:
        """(one byte per message naming its info string, the distinct info
        strings by code) for selecting by flags at C speed; None when a
        folder has more than 256 distinct flag combinations."""
        if self._codes is None or self._codes[0] != self.version:
            distinct = list(set(self.infos))
            if len(distinct) > 256:
                self._codes = (self.version, None)
            else:
                code_of = {info: n for n, info in enumerate(distinct)}
                self._codes = (self.version, (bytearray(map(code_of.__getitem__, self.infos)), distinct))
        return self._codes[1]

    def filename(self, i: int) -> str:
        info = self.infos[i]
        return self.bases[i] if info is None else f"{self.bases[i]}:2,{info}"

    def subdir(self, i: int) -> str:
        return "cur" if self.subs[i] else "new"


_INTERNED: dict = {}


def _intern(info: Optional[str]) -> Optional[str]:
    """Folders have few distinct info strings: share one object per value."""
    if info is None:
        return None
    shared = _INTERNED.get(info)
    if shared is None:
        if len(_INTERNED) > 65536:
            _INTERNED.clear()
        shared = _INTERNED[info] = info
    return shared

"""One Maildir folder, shared by every session that has it open.

Its messages live in the folder's index (`FolderIndex`, sqlite) and, while
loaded, in a column table in memory. Every change gets a modseq, whoever
made it: a session (STORE, EXPUNGE, APPEND, COPY, MOVE), a delivery, or
another program renaming or deleting files (assigned when a scan notices).
Other processes sharing the index are caught up from it (`_refresh`, in
sync.py). Open views hear of additions, expunges and flag changes. All writes
go through ``tmp/`` and a rename (writes.py).
"""

from __future__ import annotations

import datetime
import itertools
import os
import re
import time
from typing import Iterable, Optional, Protocol

from zope.interface import implementer

from ...interfaces import IMailbox
from .flags import Keywords, SYSTEM_FLAGS
from .index import HEADER_FIELDS, FolderIndex, header_field
from .reader import MessageReader, give_memory_back
from .sync import FolderSync
from .table import UNKNOWN, MessageTable
from .validity import VALIDITY_FILE, next_uidvalidity
from .writes import FolderWrites

_ONE = re.compile(b"\x01")  # the selected bytes of a flag mask
_BIG_FOLDER = 10_000  # closing one gives freed heap pages back to the system


class MailboxListener(Protocol):
    """What a session's view of the mailbox hears about (see core.selected)."""

    def messages_added(self, uids: list[int], recent: list[int] = ()) -> None: ...
    def messages_expunged(self, uids: list[int]) -> None: ...
    def flags_changed(self, uids: list[int]) -> None: ...
    def mailbox_reset(self) -> None: ...


@implementer(IMailbox)
class MaildirMailbox(FolderSync, FolderWrites, MessageReader):
    """The folder's state and its lookups; keeping it true (loading,
    refreshing, scanning) is in `FolderSync` (sync.py), its writes in
    `FolderWrites` (writes.py), reading messages in `MessageReader`."""

    def __init__(self, path: str, name: str, store=None):
        self.path = path
        self.name = name
        self.store = store
        self._own: set[tuple[str, str]] = set()  # (sub, file name) we renamed, created or deleted
        self._stale = False  # changed on disk while nobody had it open: rescan when next used
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(path, sub), exist_ok=True)
        self.keywords = Keywords(path)
        user_root = path if name == "INBOX" else os.path.dirname(path)
        self.index = FolderIndex(path, lambda: next_uidvalidity(os.path.join(user_root, VALIDITY_FILE)))
        self.table = MessageTable()
        self.listeners: list[MailboxListener] = []
        self.recent_unclaimed: set[int] = set()
        self.recent_owner: Optional[object] = None  # the read-write view that gets new \Recent
        self._dir_state: Optional[tuple] = None
        self._settled = False
        self._info_memo: dict = {}
        self._hint = 0  # position of the last UID looked up (FETCH walks in order)
        self._unsaved_sizes: dict[int, tuple[int, int]] = {}
        self._unsaved_previews: dict[int, str] = {}
        self._orphaned = False
        self._snapshot_touch = -1
        self._folded: dict = {}  # header field -> (table version, case-folded values)
        MessageReader.__init__(self)
        self._load()

    # -- identity ------------------------------------------------------------
    @property
    def uidvalidity(self) -> int:
        return self.index.uidvalidity

    @property
    def uids(self) -> list[int]:
        return self.table.uids

    def permanent_flags(self) -> list[str]:
        extra = ["\\*"] if self.keywords.can_create() else []
        return list(SYSTEM_FLAGS) + [k for k in self.keywords.names if k] + extra

    def defined_flags(self) -> list[str]:
        return list(SYSTEM_FLAGS) + [k for k in self.keywords.names if k]

    def can_store_keywords(self, keywords: Iterable[str]) -> bool:
        """False when a new keyword would not fit in the folder's table (26 letters)."""
        missing = [k for k in keywords if self.keywords.letter_for(k, create=False) is None]
        return not missing or len(self.keywords.names) + len(set(k.lower() for k in missing)) <= 26

    # -- listeners -------------------------------------------------------------
    def add_listener(self, listener: MailboxListener, read_write: bool) -> set[int]:
        """Register a view; a read-write one claims the unclaimed \\Recent mail."""
        self.listeners.append(listener)
        if not read_write:
            return set(self.recent_unclaimed)
        claimed = set(self.recent_unclaimed)
        self.recent_unclaimed.clear()
        if self.recent_owner is None:
            self.recent_owner = listener
        self._move_to_cur(claimed)
        return claimed

    def remove_listener(self, listener: MailboxListener) -> None:
        if listener in self.listeners:
            self.listeners.remove(listener)
        if self.recent_owner is listener:
            self.recent_owner = next((v for v in self.listeners if getattr(v, "read_write", False)), None)
        if not self.listeners:  # nobody has it open: give the message caches back
            self.drop_caches()
            self._folded.clear()
            self.save_cache()
            if self.index.watermarks()[0] != self._snapshot_touch:
                self.save_snapshot()
            if len(self.table) >= _BIG_FOLDER:
                give_memory_back()

    def recent_count(self) -> int:
        owner = self.recent_owner
        return len(self.recent_unclaimed) + (len(owner.recent) if owner is not None else 0)

    def _notify(self, added, expunged, flags, recent, origin=None, made_here=True) -> None:
        """Tell the views, then the user's account listeners (NOTIFY); ``made_here``:
        a write by the acting session rather than a change a scan found."""
        for view in list(self.listeners):
            if expunged:
                view.messages_expunged(expunged)
            if flags and view is not origin:
                view.flags_changed(flags)
            if added:
                view.messages_added(added, recent if view is self.recent_owner else [])
        if self.store is not None and self.store.bus.listeners and (added or expunged or flags):
            self.store.mailbox_changed(self, added, expunged, flags, made_here)

    # -- lookups ---------------------------------------------------------------
    def _pos(self, uid: int) -> Optional[int]:
        """Position of ``uid`` in the table; FETCH walks in order, so try the
        next position before searching."""
        uids = self.table.uids
        hint = self._hint
        if hint < len(uids) and uids[hint] == uid:
            return hint
        hint += 1
        if hint < len(uids) and uids[hint] == uid:
            self._hint = hint
            return hint
        i = self.table.pos(uid)
        if i is not None:
            self._hint = i
        return i

    def __contains__(self, uid: int) -> bool:
        return self._pos(uid) is not None

    def flags(self, uid: int) -> frozenset:
        return self._flags_of_info(self.table.infos[self._pos(uid)])

    def modseq(self, uid: int) -> int:
        return self.table.modseqs[self._pos(uid)]

    @property
    def highestmodseq(self) -> int:
        return self._highest

    @property
    def uidnext(self) -> int:
        return self._uidnext

    def _flags_of_info(self, info: Optional[str]) -> frozenset:
        """flags_from_info, memoised: a mailbox has few distinct info strings."""
        memo = self._info_memo
        if memo.get(None, 0) != self.keywords.version:
            memo.clear()
            memo[None] = self.keywords.version
        flags = memo.get(info or "")
        if flags is None:
            flags = memo[info or ""] = self.keywords.flags_from_info(info)
        return flags

    def match_flags(self, predicate) -> list[int]:
        """Positions in ``uids`` of the messages whose flag set satisfies
        ``predicate`` (called once per distinct set), over whole columns."""
        coded = self.table.info_codes()
        if coded is not None:  # a byte per message: translate to 0/1, then select
            codes, distinct = coded
            wanted = bytes(int(bool(predicate(self._flags_of_info(info)))) for info in distinct)
            mask = codes.translate(wanted.ljust(256, b"\0"))
            return [m.start() for m in _ONE.finditer(mask)]
        infos = self.table.infos
        good = {info for info in set(infos) if predicate(self._flags_of_info(info))}
        return list(itertools.compress(range(len(infos)), map(good.__contains__, infos)))

    def column(self, name: str, positions=None):
        """One value per message, aligned with ``uids`` (or with
        ``positions`` in it): "flags" (frozensets), "modseq", "size" or
        "internal_time" (unknown sizes and dates are computed first). For
        whole-mailbox FETCHes and searches."""
        table = self.table
        if name == "flags":
            infos = table.infos if positions is None else [table.infos[p] for p in positions]
            memo = {info: self._flags_of_info(info) for info in set(infos)}
            return list(map(memo.__getitem__, infos))
        if positions is not None:
            column = self.column(name)
            return [column[p] for p in positions]
        if name == "modseq":
            return table.modseqs
        values = table.vsizes if name == "size" else table.mtimes
        fill = self.size if name == "size" else self.internal_time
        if UNKNOWN in values:
            for i in [i for i, v in enumerate(values) if v == UNKNOWN]:
                fill(table.uids[i])
        return values

    def first_match(self, predicate) -> Optional[int]:
        """Position of the first message whose flags satisfy ``predicate``
        (SELECT's UNSEEN: usually near the start, so stop there)."""
        memo: dict = {}
        flags_of = self._flags_of_info
        for i, info in enumerate(self.table.infos):
            hit = memo.get(info)
            if hit is None:
                hit = memo[info] = predicate(flags_of(info))
            if hit:
                return i
        return None

    def changed_since(self, modseq: int) -> list[int]:
        return self.index.changed_uids(modseq)

    def vanished_since(self, modseq: int) -> tuple[list[int], bool]:
        return self.index.vanished_since(modseq)

    def size(self, uid: int) -> int:
        i = self._pos(uid)
        vsize = self.table.vsizes[i]
        if vsize == UNKNOWN:
            path = self._path_at(i)
            try:
                with open(path, "rb") as f:
                    data = f.read()
                vsize = len(data) + data.count(b"\n") - data.count(b"\r\n")
            except FileNotFoundError:
                return 0
            self.table.vsizes[i] = vsize
            self._remember(i)
        return vsize

    def internal_time(self, uid: int) -> int:
        """INTERNALDATE as unix time (the file's mtime when it arrived)."""
        i = self._pos(uid)
        mtime = self.table.mtimes[i]
        if mtime == UNKNOWN:
            try:
                mtime = int(os.stat(self._path_at(i)).st_mtime)
            except FileNotFoundError:
                mtime = int(time.time())
            self.table.mtimes[i] = mtime
            self._remember(i)
        return mtime

    def internal_date(self, uid: int) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.internal_time(uid), datetime.timezone.utc)

    def indexed_headers(self, field: str, uids: list[int]) -> Optional[dict[int, str]]:
        """{uid: decoded value} of an indexed header field for ``uids``; the
        messages not cached yet are read once and cached in the index."""
        if field not in HEADER_FIELDS:
            return None
        values = self.index.header_column(field)
        missing = [u for u in uids if u not in values]
        if missing:
            fresh = []
            for uid in missing:
                block = self.header_block(uid, keep=False)
                if block is not None:
                    values[uid] = header_field(block, field)
                    fresh.append((uid, values[uid]))
            self.index.store_header_column(field, fresh)
        return values

    def folded_headers(self, field: str) -> Optional[list[str]]:
        """Case-folded values of an indexed header field, aligned with
        ``uids`` (searches scan them), kept while the folder is open; None
        for a field the index does not keep."""
        if field not in HEADER_FIELDS:
            return None
        cached = self._folded.get(field)
        if cached is not None and cached[0] == self.table.version:
            return cached[1]
        values = self.indexed_headers(field, self.table.uids)
        folded = [values.get(uid, "").casefold() for uid in self.table.uids]
        self._folded[field] = (self.table.version, folded)
        return folded

    def save_times(self, uids: list[int]) -> dict[int, int]:
        """{uid: save date as unix time} (RFC 8514) of those of ``uids`` that
        have one (messages indexed by an older pushimapd have none)."""
        return {} if self._orphaned else self.index.save_dates(list(uids))

    def previews(self, uids: list[int], compute: bool = True) -> dict[int, str]:
        """{uid: preview text} (RFC 8970): cached ones from the index, the
        others computed from the message (cached by `save_cache`) unless
        ``compute`` is False (PREVIEW (LAZY)); a message gone is left out."""
        from ..preview import preview_text

        found = {} if self._orphaned else self.index.previews(list(uids))
        for uid in uids:
            if uid in found:
                continue
            text = self._unsaved_previews.get(uid)
            if text is None and compute:
                msg = self.message(uid)
                if msg is not None:
                    text = self._unsaved_previews[uid] = preview_text(msg)
            if text is not None:
                found[uid] = text
        return found

    def _remember(self, i: int) -> None:
        table = self.table
        if table.vsizes[i] != UNKNOWN and table.mtimes[i] != UNKNOWN:
            self._unsaved_sizes[table.uids[i]] = (table.vsizes[i], table.mtimes[i])

    def save_cache(self) -> None:
        """Persist computed sizes/dates and previews (called after each command)."""
        if self._unsaved_sizes and not self._orphaned:
            values = [(u, v, m) for u, (v, m) in self._unsaved_sizes.items()]
            self._unsaved_sizes = {}
            self.index.set_sizes(values)
        if self._unsaved_previews and not self._orphaned:
            previews, self._unsaved_previews = self._unsaved_previews, {}
            self.index.store_previews(previews.items())

    def _path_at(self, i: int) -> str:
        return os.path.join(self.path, self.table.subdir(i), self.table.filename(i))

    def known_path(self, uid: int) -> Optional[str]:
        i = self._pos(uid)
        return self._path_at(i) if i is not None else None

    def file_path(self, uid: int) -> Optional[str]:
        i = self._pos(uid)
        if i is None:
            return None
        path = self._path_at(i)
        if os.path.exists(path):
            return path
        self.sync(force=True)  # renamed or deleted behind our back
        i = self._pos(uid)
        return self._path_at(i) if i is not None else None


"""One Maildir folder, shared by every session that has it open.

Its messages live in the folder's index (`FolderIndex`, sqlite) and, while
loaded, in a column table in memory. Every change gets a modseq, whoever
made it: a session (STORE, EXPUNGE, APPEND, COPY, MOVE), a delivery, or
another program renaming or deleting files (assigned when a scan notices).
Other processes sharing the index are caught up from it (`_refresh`). Open
views hear of additions, expunges and flag changes. All writes go through
``tmp/`` and a rename. Reading messages lives in `MessageReader`.
"""

from __future__ import annotations

import datetime
import itertools
import os
import socket
import time
from typing import Iterable, Optional, Protocol

from zope.interface import implementer

from ...interfaces import IMailbox
from ..mime import normalize_crlf
from .flags import Keywords, SYSTEM_FLAGS, size_fields
from .index import HEADER_FIELDS, FolderIndex, Row, header_field
from .reader import MessageReader, give_memory_back
from .table import UNKNOWN, MessageTable
from .validity import VALIDITY_FILE, next_uidvalidity

_counter = itertools.count(1)
_HOST = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
_SETTLE_SECONDS = 0.05  # > one coarse kernel clock tick (HZ >= 100)
_BIG_FOLDER = 10_000  # closing one gives freed heap pages back to the system


class MailboxListener(Protocol):
    """What a session's view of the mailbox hears about (see core.selected)."""

    def messages_added(self, uids: list[int], recent: list[int] = ()) -> None: ...
    def messages_expunged(self, uids: list[int]) -> None: ...
    def flags_changed(self, uids: list[int]) -> None: ...
    def mailbox_reset(self) -> None: ...


def unique_base(size: int, vsize: int) -> str:
    now = time.time()
    secs = int(now)
    usecs = int((now - secs) * 1_000_000)
    return f"{secs}.M{usecs:06d}P{os.getpid()}Q{next(_counter)}.{_HOST},S={size},W={vsize}"


@implementer(IMailbox)
class MaildirMailbox(MessageReader):
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
            return list(itertools.compress(range(len(mask)), mask))
        infos = self.table.infos
        good = {info for info in set(infos) if predicate(self._flags_of_info(info))}
        return list(itertools.compress(range(len(infos)), map(good.__contains__, infos)))

    def column(self, name: str):
        """One value per message, aligned with ``uids``: "flags" (frozensets),
        "modseq", "size" or "internal_time" (unknown sizes and dates are
        computed first). For whole-mailbox FETCHes and searches."""
        table = self.table
        if name == "flags":
            memo = {info: self._flags_of_info(info) for info in set(table.infos)}
            return list(map(memo.__getitem__, table.infos))
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

    # -- loading and scanning ----------------------------------------------------
    def _load(self) -> None:
        """Fill the table from the index (its snapshot plus what was written
        since, or every row); rescan unless the directories are provably as
        the index last saw them."""
        index = self.index
        snap = index.snapshot()
        if snap is not None and index.history_reaches(snap.modseq):
            self.table = MessageTable.from_snapshot(snap)
            self._synced = (snap.touch, snap.modseq)
            self._snapshot_touch = snap.touch
            self._apply_delta(index.delta(*self._synced), announce=False)
        else:
            self._synced = index.watermarks()
            self.table = MessageTable.from_rows(index.all_rows())
        self._uidnext, self._highest = index.state()
        self.recent_unclaimed = {u for u, sub in zip(self.table.uids, self.table.subs) if not sub}
        state = self._stat_dirs()
        if state is not None and index.dirstate() == _encode(state, True):
            self._dir_state, self._settled = state, True
            return
        self.sync(force=True)

    def _refresh(self, always: bool = False) -> None:
        """Take in what another process committed to the index.

        ``_synced`` is the (touch, modseq) up to which the index was read; our
        own writes do not move it, so a change another process committed
        between two of ours is still read here (ours again too, harmlessly)."""
        if not self.index.changed_elsewhere() and not always:
            return
        if self.index.reload_uidvalidity():
            self._reset_views()
            if self.store is not None and self.store.bus.listeners:
                self.store.mailbox_changed(self, (), (), (), made_here=False, reset=True)
            return
        self._apply_delta(self.index.delta(*self._synced), announce=True)
        self._uidnext, self._highest = self.index.state()

    def _apply_delta(self, delta, announce: bool) -> None:
        if delta.rows:
            self.keywords.reload()  # another process may have given a keyword a letter
        added, flagged = [], []
        for row in delta.rows:
            i = self.table.pos(row.uid)
            if i is None:
                added.append(row.uid)
            elif self._flags_of_info(row.info) != self._flags_of_info(self.table.infos[i]):
                flagged.append(row.uid)
        self.table.extend((r.uid, r.base, r.sub, r.info, r.modseq, r.vsize, r.mtime) for r in delta.rows)
        gone = self._forget(delta.expunged)
        self._synced = (delta.touch, delta.modseq)
        if announce:
            self._announce_found(added, gone, flagged)

    def save_snapshot(self) -> None:
        """Pack the columns into the index for the next cold open (after
        catching up, so the snapshot is exactly the index at its watermarks)."""
        if self._orphaned:
            return
        self._refresh(always=True)
        t = self.table
        self.index.write_snapshot(*self._synced, t.uids, t.bases, t.subs, t.infos, t.modseqs, t.vsizes, t.mtimes)
        self._snapshot_touch = self._synced[0]

    def _reset_views(self) -> None:
        """A new UIDVALIDITY: the open views are told (and forgotten) before
        the folder is reloaded, so none hears of the new UIDs."""
        views, self.listeners, self.recent_owner = list(self.listeners), [], None
        for view in views:
            view.mailbox_reset()
        self.drop_caches()
        self._unsaved_sizes, self._hint = {}, 0  # keyed by the old UIDs
        self._load()

    def rebuild(self) -> int:
        """Give the folder a new UIDVALIDITY and new UIDs, as rebuilding its
        index would (the test bed's ``uidvalidity`` fault); returns it."""
        user_root = self.path if self.name == "INBOX" else os.path.dirname(self.path)
        self.index.reset(next_uidvalidity(os.path.join(user_root, VALIDITY_FILE)))
        self._reset_views()
        return self.uidvalidity

    def _stat_dirs(self) -> Optional[tuple]:
        try:
            return tuple(os.stat(os.path.join(self.path, d)).st_mtime_ns for d in ("new", "cur"))
        except FileNotFoundError:
            return None

    def orphan(self) -> None:
        """The folder was renamed or deleted while sessions have it open: they
        see every message expunged; its index (moved or gone with the
        directory) is never touched again through this object."""
        self.index.close()
        self._orphaned = True

    def sync(self, force: bool = False) -> bool:
        """Catch up with other processes and with the directories; True when
        anything changed."""
        if self._orphaned:
            gone = list(self.table.uids)
            self.table = MessageTable()
            self.recent_unclaimed.clear()
            self._notify([], gone, [], [])
            return bool(gone)
        before = self._highest
        self._refresh()
        watched = self.store is not None and self.store.is_watched(self.path)
        if watched and not force:
            # inotify reports every change: handle what it already reported
            self.store.drain_changes()
            if not self._stale:
                return self._highest != before
            force = True
        self._stale = False
        state = self._stat_dirs()
        now_ns = time.time_ns()
        # unchanged mtimes prove nothing changed once a tick has passed since the last scan
        if not force and state is not None and state == self._dir_state and self._settled:
            return self._highest != before
        # a scan made after the dirs' last mtime tick is over cannot miss a
        # change made in that tick; an earlier one must be repeated later
        self._settled = state is not None and now_ns - max(state) > _SETTLE_SECONDS * 1e9
        self._dir_state = state
        self.keywords.reload()
        self._own.clear()  # a full scan reconciles everything
        changed = self._apply_scan(self._list_files())
        if self._settled:
            self.index.set_dirstate(_encode(state, True))
        return changed or self._highest != before

    def _list_files(self) -> dict[str, tuple[int, Optional[str]]]:
        found: dict[str, tuple[int, Optional[str]]] = {}
        for sub in (0, 1):  # new/ first: a file moving to cur/ meanwhile is then seen there
            try:
                names = os.listdir(os.path.join(self.path, "cur" if sub else "new"))
            except FileNotFoundError:
                continue
            for filename in names:
                if filename[0] == ".":
                    continue
                base, sep, info = filename.partition(":")
                if sep:
                    info = info[2:] if info.startswith("2,") else ""
                else:
                    info = "" if sub else None
                found[base] = (sub, info)  # caught mid-rename: the cur/ copy wins
        return found

    def _apply_scan(self, found: dict[str, tuple[int, Optional[str]]], complete: bool = True) -> bool:
        """Bring the index and the table in line with ``found``; ``complete``
        says it lists every file (a scan), so what it lacks is gone."""
        table = self.table
        where = {base: i for i, base in enumerate(table.bases)}
        gone = [b for b in where if b not in found] if complete else []
        if gone:  # a rename under way can hide a file from one listing: look again
            second = self._list_files()
            for base in [b for b in gone if b in second]:
                found[base] = second[base]
            gone = [b for b in gone if b not in second]
        renamed, flagged = [], []
        for base, (sub, info) in found.items():
            i = where.get(base)
            if i is not None and (table.subs[i] != sub or table.infos[i] != info):
                changed = self._flags_of_info(info) != self._flags_of_info(table.infos[i])
                renamed.append((table.uids[i], sub, info, changed))
        if renamed:
            moved = [(u, s, inf) for u, s, inf, changed in renamed if not changed]
            flag_changes = [(u, s, inf) for u, s, inf, changed in renamed if changed]
            self.index.update(moved, flags_changed=False)
            modseq = self.index.update(flag_changes)
            for uid, sub, info, changed in renamed:
                table.set(table.pos(uid), sub, info, modseq if changed else None)
                if changed:
                    flagged.append(uid)
        new = [b for b in found if b not in where]
        added = self._index_new(new, found) if new else []
        expunged = []
        if gone:
            expunged = [table.uids[where[b]] for b in gone]
            self.index.expunge(expunged)
            self._forget(expunged)
        self._uidnext, self._highest = self.index.state()
        self._announce_found(added, expunged, flagged)
        return bool(added or expunged or flagged)

    def _index_new(self, bases: list[str], found: dict) -> list[int]:
        """UIDs for files that appeared: ones an older uidlist knew first (in
        their UID order), then the rest by name (delivery order)."""
        imported = self.index.imported
        known = sorted((b for b in bases if b in imported), key=lambda b: imported[b][0])
        fresh = sorted(b for b in bases if b not in imported)
        entries = []
        for base in known + fresh:
            sub, info = found[base]
            _, vsize, mtime = imported.get(base, (None, None, None))
            if vsize is None and ",W=" in base:
                vsize = size_fields(base).get("W")
            entries.append((base, sub, info, vsize, mtime))
        rows = self.index.add(entries, keep_uids={b: imported[b][0] for b in known})
        values = [(r.uid, r.base, r.sub, r.info, r.modseq, r.vsize, r.mtime) for r in rows]
        if not self.table.uids:  # a folder's first scan: build the columns at once
            self.table = MessageTable.from_rows(values)
        else:
            self.table.extend(values)
        return [r.uid for r in rows]

    def _announce_found(self, added: list[int], expunged: list[int], flagged: list[int]) -> None:
        """Tell the views; files found in new/ are \\Recent (and move to cur/
        when a read-write session holds the folder)."""
        table = self.table
        added = sorted(added)
        positions = [self._pos(u) for u in added]
        recent = [u for u, i in zip(added, positions) if i is not None and not table.subs[i]]
        added = [u for u, i in zip(added, positions) if i is not None]
        if recent:
            if self.recent_owner is not None:
                self._move_to_cur(recent)
            else:
                self.recent_unclaimed.update(recent)
        self._notify(added, expunged, flagged, recent, made_here=False)

    def _forget(self, uids: Iterable[int]) -> list[int]:
        gone = self.table.remove(uids)
        for uid in gone:
            self.forget_message(uid)
            self.recent_unclaimed.discard(uid)
            self._unsaved_sizes.pop(uid, None)
            self._unsaved_previews.pop(uid, None)
        self._hint = 0
        return gone

    def mark_stale(self) -> None:
        self._stale = True

    def add_delivered(self, names) -> None:
        """New files inotify saw arrive in new/: add just those (no full
        rescan of a big folder for each delivery)."""
        self._refresh()
        found = {}
        bases = set(self.table.bases) if names else set()
        for name in names:
            base, sep, _ = name.partition(":")
            if base in bases:
                continue
            if sep or not os.path.exists(os.path.join(self.path, "new", name)):
                self.sync(force=True)  # moved on already, or odd: look at everything
                return
            found[base] = (0, None)
        if found:
            self._apply_scan(found, complete=False)

    def made_by_us(self, names: set) -> bool:
        """True if every (sub, name) inotify reported was our own doing."""
        if names and names <= self._own:
            self._own -= names
            return True
        return False

    # -- writing ---------------------------------------------------------------
    def _move_to_cur(self, uids: Iterable[int]) -> None:
        moved = []
        for uid in sorted(uids):
            i = self._pos(uid)
            if i is not None and not self.table.subs[i] and self._rename(i, 1, self.table.infos[i] or ""):
                moved.append((uid, 1, self.table.infos[i]))
        self.index.update(moved, flags_changed=False)

    def _rename(self, i: int, sub: int, info: str) -> bool:
        table = self.table
        old = (table.subdir(i), table.filename(i))
        new = ("cur" if sub else "new", f"{table.bases[i]}:2,{info}")
        try:
            os.rename(os.path.join(self.path, *old), os.path.join(self.path, *new))
        except FileNotFoundError:
            return False
        self._own.update((old, new))
        table.set(i, sub, info)
        return True

    def store_flags(self, uids: Iterable[int], flags: Iterable[str], mode: str, origin=None,
                    unchanged_since: Optional[int] = None) -> tuple[list[int], list[int]]:
        """mode is ``+``, ``-`` or ``=``. Returns (UIDs whose flags changed,
        UIDs refused because their modseq is above ``unchanged_since``)."""
        self.keywords.reload()
        flags = frozenset(self.keywords.canonical(f) for f in flags if f != "\\Recent")
        changed, refused, updates = [], [], []
        for uid in uids:
            i = self._pos(uid)
            if i is None:
                continue
            if unchanged_since is not None and self.table.modseqs[i] > unchanged_since:
                refused.append(uid)
                continue
            current = self._flags_of_info(self.table.infos[i])
            new = current | flags if mode == "+" else current - flags if mode == "-" else flags
            if new == current:
                continue
            info = self.keywords.info_from_flags(new, self.table.infos[i] or "")
            if not self._rename(i, 1, info) and not self._retry_rename(uid, info):
                continue
            changed.append(uid)
            updates.append((uid, 1, info))
        if updates:
            modseq = self.index.update(updates)
            self._highest = modseq
            for uid in changed:
                self.table.modseqs[self._pos(uid)] = modseq
        self._notify([], [], changed, [], origin=origin)
        return changed, refused

    def _retry_rename(self, uid: int, info: str) -> bool:
        self.sync(force=True)
        i = self._pos(uid)
        return i is not None and self._rename(i, 1, info)

    def expunge(self, uids: Optional[Iterable[int]] = None, deleted_only: bool = True) -> list[int]:
        """Delete \\Deleted messages (only those in ``uids`` when given).

        ``deleted_only=False`` removes ``uids`` whatever their flags (MOVE).
        """
        candidates = self.table.uids if uids is None else [u for u in uids if u in self]
        doomed = [u for u in candidates if not deleted_only or "\\Deleted" in self.flags(u)]
        for uid in doomed:
            i = self._pos(uid)
            name = (self.table.subdir(i), self.table.filename(i))
            try:
                os.unlink(os.path.join(self.path, *name))
                self._own.add(name)
            except FileNotFoundError:
                pass
        if doomed:
            self._highest = self.index.expunge(doomed)
            self._forget(doomed)
            self._notify([], doomed, [], [])
        return doomed

    def deliver_file(self, data: Optional[bytes], flags: Iterable[str], date: Optional[float],
                     link_from: Optional[str] = None, vsize: Optional[int] = None) -> int:
        """Write a message into cur/ (APPEND, COPY) and give it the next UID.

        With ``link_from`` the file is hard-linked (COPY) instead of written.
        """
        if link_from is not None:
            size = os.stat(link_from).st_size
        else:
            size = len(data)
            vsize = len(normalize_crlf(data))
        base = unique_base(size, vsize or 0)
        tmp_path = os.path.join(self.path, "tmp", base)
        if link_from is not None:
            os.link(link_from, tmp_path)
        else:
            with open(tmp_path, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        if date is not None:
            os.utime(tmp_path, (date, date))
        info = self.keywords.info_from_flags(flags)
        os.rename(tmp_path, os.path.join(self.path, "cur", f"{base}:2,{info}"))
        self._own.add(("cur", f"{base}:2,{info}"))
        mtime = int(date) if date is not None else int(time.time())
        (row,) = self.index.add([(base, 1, info, vsize, mtime)])
        self._took(row)
        return row.uid

    def _took(self, row: Row) -> None:
        self.table.extend([(row.uid, row.base, row.sub, row.info, row.modseq, row.vsize, row.mtime)])
        self._uidnext = max(self._uidnext, row.uid + 1)
        self._highest = max(self._highest, row.modseq)

    def copy_into(self, target: "MaildirMailbox", uids: list[int]) -> list[int]:
        """COPY: hard links into ``target``'s cur/ (flags and INTERNALDATE
        kept), all or nothing."""
        created: list[int] = []
        try:
            for uid in uids:
                path = self.file_path(uid)
                if path is None:
                    raise FileNotFoundError(uid)
                created.append(target.deliver_file(None, self.flags(uid), self.internal_time(uid),
                                                   link_from=path, vsize=self.size(uid)))
        except OSError:
            target.discard(created)
            raise
        return created

    def move_to(self, target: "MaildirMailbox", uids: list[int]) -> list[int]:
        """Move messages into ``target`` (MOVE): returns their new UIDs, in order.

        Each message is one rename within the user's Maildir++, so a crash
        leaves it in exactly one folder. The target UIDs are recorded (durably)
        before any file moves: a message that arrives keeps the UID the client
        is told; a record whose rename never happened is expunged by the
        target's next scan. Raises OSError (e.g. EXDEV: not on one file
        system) when nothing could be moved.
        """
        table = self.table
        positions = [self._pos(u) for u in uids]
        target.keywords.reload()
        infos = [target.keywords.info_from_flags(self._flags_of_info(table.infos[i]), table.infos[i] or "")
                 for i in positions]
        if target.index.has_any([table.bases[i] for i in positions]):
            raise FileExistsError("a message with that name is already in the target folder")
        rows = target.index.add([(table.bases[i], 1, info, table.vsizes[i] if table.vsizes[i] != UNKNOWN else None,
                                  table.mtimes[i] if table.mtimes[i] != UNKNOWN else None)
                                 for i, info in zip(positions, infos)], files_pending=True)
        moved, created = [], []
        for uid, i, row in zip(uids, positions, rows):
            old = (table.subdir(i), table.filename(i))
            new = ("cur", f"{row.base}:2,{row.info}")
            try:
                os.rename(os.path.join(self.path, *old), os.path.join(target.path, *new))
            except OSError:
                if not moved:
                    target.index.expunge([r.uid for r in rows])
                    raise
                target.index.expunge([r.uid for r in rows[len(moved):]])
                break
            self._own.add(old)
            target._own.add(new)
            target._took(row)
            moved.append(uid)
            created.append(row.uid)
        self._highest = self.index.expunge(moved)
        self._forget(moved)
        self._notify([], moved, [], [])
        return created

    def discard(self, uids: list[int]) -> None:
        """Remove messages just written by us (undo of a failed COPY)."""
        for uid in uids:
            i = self._pos(uid)
            if i is not None:
                try:
                    os.unlink(self._path_at(i))
                except FileNotFoundError:
                    pass
        self.index.expunge(uids)
        self._forget(uids)

    def announce(self, uids: list[int]) -> None:
        """Tell every view about messages this process added (\\Recent too)."""
        if self.recent_owner is None:
            self.recent_unclaimed.update(uids)
        self._notify(uids, [], [], uids)

    def record_clean_state(self) -> None:
        """Remember the directories' mtimes as fully indexed (folder closed,
        every change handled), so the next cold open needs no listing."""
        state = self._stat_dirs()
        if state is None or time.time_ns() - max(state) <= _SETTLE_SECONDS * 1e9:
            return
        if self.store is not None and self.store.is_watched(self.path):
            self.store.drain_changes()
            if self._stale or self._own:
                return
        elif state != self._dir_state or not self._settled:
            return
        self.index.set_dirstate(_encode(state, True))

    def close(self) -> None:
        """Let go of the index connection (the store forgets this folder)."""
        if not self._orphaned:
            self.save_cache()
            if self.index.watermarks()[0] != self._snapshot_touch:
                self.save_snapshot()
            self.index.close()


def _encode(state: tuple, settled: bool) -> str:
    return f"{state[0]} {state[1]} {int(settled)}"

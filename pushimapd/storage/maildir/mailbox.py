"""One Maildir folder, shared by every session that has it open.

It owns the UID map (through `UidList`), notices what other programs did
(delivery, rename, delete) by rescanning ``new/`` and ``cur/`` when their
mtimes say so, and tells every open view about additions, expunges and flag
changes. All writes go through ``tmp/`` and a rename.
"""

from __future__ import annotations

import bisect
import collections
import datetime
import itertools
import os
import socket
import time
from dataclasses import dataclass
from typing import Iterable, Optional, Protocol

from ..mime import ParsedMessage, normalize_crlf
from .flags import Keywords, SYSTEM_FLAGS, size_fields
from .uidlist import VALIDITY_FILE, UidList

_counter = itertools.count(1)
_HOST = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
_CACHE_SIZE = 32
_SETTLE_SECONDS = 0.05  # > one coarse kernel clock tick (HZ >= 100)
_HEADER_CACHE_BYTES = 64 * 1024 * 1024


def _header_end(data: bytes) -> int:
    """Offset just past the blank line ending the header, or -1."""
    lf = data.find(b"\n\n")
    crlf = data.find(b"\r\n\r\n")
    ends = [e for e in ((lf + 2) if lf >= 0 else -1, (crlf + 4) if crlf >= 0 else -1) if e >= 0]
    if data.startswith(b"\n") or data.startswith(b"\r\n"):
        return data.index(b"\n") + 1
    return min(ends) if ends else -1  # a dir changed this recently may change again within its mtime tick


class MailboxListener(Protocol):
    """What a session's view of the mailbox hears about (see core.selected)."""

    def messages_added(self, uids: list[int]) -> None: ...
    def messages_expunged(self, uids: list[int]) -> None: ...
    def flags_changed(self, uids: list[int]) -> None: ...


@dataclass(slots=True)
class Record:
    uid: int
    base: str
    subdir: str  # "new" or "cur"
    info: Optional[str]  # letters after ":2,"; None for files in new/
    flags: frozenset
    vsize: Optional[int] = None
    mtime: Optional[float] = None

    @property
    def filename(self) -> str:
        return self.base if self.info is None else f"{self.base}:2,{self.info}"


def unique_base(size: int, vsize: int) -> str:
    now = time.time()
    secs = int(now)
    usecs = int((now - secs) * 1_000_000)
    return f"{secs}.M{usecs:06d}P{os.getpid()}Q{next(_counter)}.{_HOST},S={size},W={vsize}"


class MaildirMailbox:
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
        self.uidlist = UidList(path, os.path.join(user_root, VALIDITY_FILE))
        self.records: dict[int, Record] = {}
        self.uids: list[int] = []
        self.by_base: dict[str, Record] = {}
        self.listeners: list[MailboxListener] = []
        self.recent_unclaimed: set[int] = set()
        self.recent_owner: Optional[object] = None  # the read-write view that gets new \Recent
        self._dir_state: Optional[tuple] = None
        self._settled = False
        self._info_memo: dict = {}
        self._headers: dict[int, bytes] = {}
        self._header_bytes = 0
        self._cache: collections.OrderedDict[int, ParsedMessage] = collections.OrderedDict()
        self.sync(force=True)

    # -- identity ------------------------------------------------------------
    @property
    def uidvalidity(self) -> int:
        return self.uidlist.uidvalidity

    @property
    def uidnext(self) -> int:
        return self.uidlist.uidnext

    def permanent_flags(self) -> list[str]:
        extra = ["\\*"] if self.keywords.can_create() else []
        return list(SYSTEM_FLAGS) + [k for k in self.keywords.names if k] + extra

    def defined_flags(self) -> list[str]:
        return list(SYSTEM_FLAGS) + [k for k in self.keywords.names if k]

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
            self._cache.clear()
            self._headers.clear()
            self._header_bytes = 0

    # -- scanning --------------------------------------------------------------
    def _stat_dirs(self) -> Optional[tuple]:
        try:
            return tuple(os.stat(os.path.join(self.path, d)).st_mtime_ns for d in ("new", "cur"))
        except FileNotFoundError:
            return None

    def sync(self, force: bool = False) -> bool:
        """Rescan if the directories changed; returns True when anything did."""
        watched = self.store is not None and self.store.is_watched(self.path)
        if watched and not force:
            # inotify reports every change: handle what it already reported
            self.store.drain_changes()
            if not self._stale:
                return False
            force = True
        self._stale = False
        state = self._stat_dirs()
        now_ns = time.time_ns()
        # unchanged mtimes prove nothing changed once a tick has passed since the last scan
        if not force and state is not None and state == self._dir_state and self._settled:
            return False
        # a scan made after the dirs' last mtime tick is over cannot miss a
        # change made in that tick; an earlier one must be repeated later
        self._settled = state is not None and now_ns - max(state) > _SETTLE_SECONDS * 1e9
        self._dir_state = state
        self.keywords.reload()
        self._own.clear()  # a full scan reconciles everything
        found = self._list_files()
        return self._apply_scan(found)

    def _list_files(self) -> dict[str, tuple[str, Optional[str]]]:
        found: dict[str, tuple[str, Optional[str]]] = {}
        for sub in ("new", "cur"):
            try:
                names = os.listdir(os.path.join(self.path, sub))
            except FileNotFoundError:
                continue
            in_new = sub == "new"
            for filename in names:
                if filename[0] == ".":
                    continue
                base, sep, info = filename.partition(":")
                if sep:
                    info = info[2:] if info.startswith("2,") else ""
                else:
                    info = None if in_new else ""
                if in_new and base in found:
                    continue  # caught mid-rename: the cur/ copy wins
                found[base] = (sub, info)
        return found

    def _apply_scan(self, found: dict[str, tuple[str, Optional[str]]], complete: bool = True) -> bool:
        """Bring the records in line with ``found``; ``complete`` says it
        lists every file (a scan), so what it lacks is gone."""
        by_base = self.by_base
        gone = [r for base, r in by_base.items() if base not in found] if by_base and complete else []
        changed_flags = []
        flags_of = self._flags_of_info
        new_bases = []
        for base, (sub, info) in found.items():
            rec = by_base.get(base)
            if rec is None:
                new_bases.append(base)
            elif rec.subdir != sub or rec.info != info:
                rec.subdir, rec.info = sub, info
                flags = flags_of(info)
                if flags != rec.flags:
                    rec.flags = flags
                    changed_flags.append(rec.uid)
        new_bases.sort()
        # a file the uidlist knows keeps its UID only if that keeps UIDs
        # ascending (restart); one that vanished and came back gets a new UID
        floor = self.uids[-1] if self.uids else 0
        uid_of = self.uidlist.by_base.get
        stale = [b for b in new_bases if 0 < (uid_of(b) or 0) <= floor]
        if stale:
            self.uidlist.forget(stale)
        self.uidlist.assign([b for b in new_bases if uid_of(b) is None])
        cached = self.uidlist.cached
        added = []
        for base in new_bases:
            sub, info = found[base]
            uid = uid_of(base)
            rec = Record(uid, base, sub, info, flags_of(info))
            known = cached.get(uid)
            if known is not None:
                rec.vsize, rec.mtime = known
            elif ",W=" in base:
                rec.vsize = size_fields(base).get("W")
            self.records[uid] = rec
            by_base[base] = rec
            added.append(rec)
        if added:
            added.sort(key=lambda r: r.uid)
            new_uids = [r.uid for r in added]
            if self.uids and new_uids[0] < self.uids[-1]:
                self.uids = sorted(self.uids + new_uids)
            else:
                self.uids.extend(new_uids)
        else:
            new_uids = []
        if gone:
            self._remove([r.uid for r in gone])
        recent = [r.uid for r in added if r.subdir == "new"]
        if recent:
            if self.recent_owner is not None:
                self._move_to_cur(recent)
            else:
                self.recent_unclaimed.update(recent)
        self._notify(new_uids, [r.uid for r in gone], changed_flags, recent)
        return bool(gone or changed_flags or added)

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

    def _insert(self, rec: Record) -> None:
        self.records[rec.uid] = rec
        self.by_base[rec.base] = rec
        if not self.uids or rec.uid > self.uids[-1]:
            self.uids.append(rec.uid)
        else:
            bisect.insort(self.uids, rec.uid)

    def _remove(self, uids: list[int]) -> None:
        dead = set(uids)
        bases = []
        for uid in uids:
            rec = self.records.pop(uid, None)
            if rec is not None:
                self.by_base.pop(rec.base, None)
                bases.append(rec.base)
            self._cache.pop(uid, None)
            self._headers.pop(uid, None)
            self.recent_unclaimed.discard(uid)
        self.uids = [u for u in self.uids if u not in dead]
        self.uidlist.forget(bases)

    def _notify(self, added, expunged, flags, recent, origin=None) -> None:
        for view in list(self.listeners):
            if expunged:
                view.messages_expunged(expunged)
            if flags and view is not origin:
                view.flags_changed(flags)
            if added:
                view.messages_added(added, recent if view is self.recent_owner else [])

    def _move_to_cur(self, uids: Iterable[int]) -> None:
        for uid in sorted(uids):
            rec = self.records.get(uid)
            if rec is not None and rec.subdir != "cur":
                self._rename(rec, "cur", rec.info or "")

    def _rename(self, rec: Record, sub: str, info: str) -> bool:
        old = os.path.join(self.path, rec.subdir, rec.filename)
        new_name = f"{rec.base}:2,{info}"
        try:
            os.rename(old, os.path.join(self.path, sub, new_name))
        except FileNotFoundError:
            return False
        self._own.update(((rec.subdir, rec.filename), (sub, new_name)))
        rec.subdir, rec.info = sub, info
        return True

    def mark_stale(self) -> None:
        self._stale = True

    def add_delivered(self, names) -> None:
        """New files inotify saw arrive in new/: add just those (no full
        rescan of a big folder for each delivery)."""
        found = {}
        for name in names:
            base, sep, _ = name.partition(":")
            if base in self.by_base:
                continue
            if sep or not os.path.exists(os.path.join(self.path, "new", name)):
                self.sync(force=True)  # moved on already, or odd: look at everything
                return
            found[base] = ("new", None)
        if found:
            self._apply_scan(found, complete=False)

    def made_by_us(self, names: set) -> bool:
        """True if every (sub, name) inotify reported was our own doing."""
        if names and names <= self._own:
            self._own -= names
            return True
        return False

    # -- reading ---------------------------------------------------------------
    def file_path(self, uid: int) -> Optional[str]:
        rec = self.records.get(uid)
        if rec is None:
            return None
        path = os.path.join(self.path, rec.subdir, rec.filename)
        if os.path.exists(path):
            return path
        self.sync(force=True)  # renamed or deleted behind our back
        rec = self.records.get(uid)
        return os.path.join(self.path, rec.subdir, rec.filename) if rec else None

    def message(self, uid: int) -> Optional[ParsedMessage]:
        """The CRLF-normalised, parsed message (LRU-cached), or None if gone."""
        cached = self._cache.get(uid)
        if cached is not None:
            self._cache.move_to_end(uid)
            return cached
        path = self.file_path(uid)
        if path is None:
            return None
        try:
            with open(path, "rb") as f:
                raw = normalize_crlf(f.read())
        except FileNotFoundError:
            return None
        msg = ParsedMessage(raw)
        rec = self.records[uid]
        if rec.vsize is None:
            rec.vsize = len(raw)
            self._remember(rec)
        self._cache[uid] = msg
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return msg

    def header_block(self, uid: int) -> Optional[bytes]:
        """The message's header (CRLF form, up to and including the blank
        line), read without the body and kept in a bounded cache: header
        searches over a big mailbox then read each file once."""
        cached = self._headers.get(uid)
        if cached is not None:
            return cached
        msg = self._cache.get(uid)
        if msg is not None:
            block = msg.section((), "HEADER") or b""
        else:
            path = self.file_path(uid)
            if path is None:
                return None
            try:
                with open(path, "rb") as f:
                    data = f.read(16384)
                    while True:
                        end = _header_end(data)
                        if end >= 0:
                            data = data[:end]
                            break
                        more = f.read(65536)
                        if not more:
                            break
                        data += more
            except FileNotFoundError:
                return None
            block = normalize_crlf(data)
        if self._header_bytes + len(block) > _HEADER_CACHE_BYTES:
            self._headers.clear()
            self._header_bytes = 0
        self._headers[uid] = block
        self._header_bytes += len(block)
        return block

    def size(self, uid: int) -> int:
        rec = self.records[uid]
        if rec.vsize is None:
            path = self.file_path(uid)
            try:
                with open(path, "rb") as f:
                    data = f.read()
                rec.vsize = len(data) + data.count(b"\n") - data.count(b"\r\n")
            except (FileNotFoundError, TypeError):
                return 0
            self._remember(rec)
        return rec.vsize

    def internal_date(self, uid: int) -> datetime.datetime:
        rec = self.records[uid]
        if rec.mtime is None:
            path = self.file_path(uid)
            try:
                rec.mtime = int(os.stat(path).st_mtime) if path else int(time.time())
            except FileNotFoundError:
                rec.mtime = int(time.time())
            self._remember(rec)
        return datetime.datetime.fromtimestamp(rec.mtime, datetime.timezone.utc)

    def _remember(self, rec: Record) -> None:
        """Queue a computed size/date for the uidlist's cache records."""
        if rec.vsize is not None and rec.mtime is not None:
            self.uidlist.remember(rec.uid, rec.base, rec.vsize, rec.mtime)

    def save_cache(self) -> None:
        """Persist computed sizes/dates (called after each command)."""
        self.uidlist.save_cache()

    def flags(self, uid: int) -> frozenset:
        return self.records[uid].flags

    # -- writing ---------------------------------------------------------------
    def store_flags(self, uids: Iterable[int], flags: Iterable[str], mode: str, origin=None) -> list[int]:
        """mode is ``+``, ``-`` or ``=``; returns the UIDs whose flags changed."""
        self.keywords.reload()
        flags = frozenset(self.keywords.canonical(f) for f in flags if f != "\\Recent")
        changed = []
        for uid in uids:
            rec = self.records.get(uid)
            if rec is None:
                continue
            if mode == "+":
                new = rec.flags | flags
            elif mode == "-":
                new = rec.flags - flags
            else:
                new = flags
            if new == rec.flags:
                continue
            info = self.keywords.info_from_flags(new, rec.info or "")
            if not self._rename(rec, "cur", info) and not self._retry_rename(rec, info):
                continue
            rec.flags = self.keywords.flags_from_info(info)
            changed.append(uid)
        self._notify([], [], changed, [], origin=origin)
        return changed

    def _retry_rename(self, rec: Record, info: str) -> bool:
        self.sync(force=True)
        return rec.uid in self.records and self._rename(rec, "cur", info)

    def expunge(self, uids: Optional[Iterable[int]] = None, deleted_only: bool = True) -> list[int]:
        """Delete \\Deleted messages (only those in ``uids`` when given).

        ``deleted_only=False`` removes ``uids`` whatever their flags (MOVE).
        """
        candidates = self.uids if uids is None else [u for u in uids if u in self.records]
        doomed = [u for u in candidates if not deleted_only or "\\Deleted" in self.records[u].flags]
        for uid in doomed:
            rec = self.records[uid]
            try:
                os.unlink(os.path.join(self.path, rec.subdir, rec.filename))
                self._own.add((rec.subdir, rec.filename))
            except FileNotFoundError:
                pass
        if doomed:
            self._remove(doomed)
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
        (uid,) = self.uidlist.assign([base])
        mtime = int(date) if date is not None else int(time.time())
        rec = Record(uid, base, "cur", info, self.keywords.flags_from_info(info), vsize=vsize, mtime=mtime)
        self._insert(rec)
        self._remember(rec)
        return uid

    def move_to(self, target: "MaildirMailbox", uids: list[int]) -> list[int]:
        """Move messages into ``target`` (MOVE): returns their new UIDs, in order.

        Each message is one rename within the user's Maildir++, so a crash
        leaves it in exactly one folder. The target UIDs are reserved (and
        fsynced) before any file moves: a message that arrives keeps the UID
        the client is told; a reservation whose rename never happened is a
        harmless gap. Raises OSError (EXDEV: not on one file system) before
        anything moved when a rename is impossible.
        """
        records = [self.records[u] for u in uids]
        stale = [r.base for r in records if r.base in target.uidlist.by_base and r.base not in target.by_base]
        if stale:
            target.uidlist.forget(stale)
        if any(r.base in target.by_base for r in records):
            raise FileExistsError("a message with that name is already in the target folder")
        created = target.uidlist.assign([r.base for r in records])
        moved = []
        for rec, new_uid in zip(records, created):
            info = target.keywords.info_from_flags(rec.flags, rec.info or "")
            old_name = (rec.subdir, rec.filename)
            new_name = f"{rec.base}:2,{info}"
            try:
                os.rename(os.path.join(self.path, *old_name), os.path.join(target.path, "cur", new_name))
            except OSError:
                if not moved:
                    raise
                break  # what moved stays moved; the rest stays here
            self._own.add(old_name)
            target._own.add(("cur", new_name))
            copy = Record(new_uid, rec.base, "cur", info, target.keywords.flags_from_info(info),
                          vsize=rec.vsize, mtime=rec.mtime)
            target._insert(copy)
            target._remember(copy)
            moved.append(rec.uid)
        self._remove(moved)
        self._notify([], moved, [], [])
        return created[: len(moved)]

    def discard(self, uids: list[int]) -> None:
        """Remove messages just written by us (undo of a failed COPY)."""
        for uid in uids:
            rec = self.records.get(uid)
            if rec is not None:
                try:
                    os.unlink(os.path.join(self.path, rec.subdir, rec.filename))
                except FileNotFoundError:
                    pass
        self._remove(uids)

    def announce(self, uids: list[int]) -> None:
        """Tell every view about messages this process added (\\Recent too)."""
        if self.recent_owner is None:
            self.recent_unclaimed.update(uids)
        self._notify(uids, [], [], uids)

"""A folder's writes: flags (renames), expunges, APPEND/COPY files, MOVE as
one rename per message; every one recorded in the index with a modseq.

A mixin of `MaildirMailbox` (mailbox.py), which holds the state these
methods share.
"""

from __future__ import annotations

import itertools
import os
import socket
import time
from typing import Iterable, Optional

from ..mime import normalize_crlf
from .index import Row
from .table import UNKNOWN

_counter = itertools.count(1)
_HOST = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"


def unique_base(size: int, vsize: int) -> str:
    now = time.time()
    secs = int(now)
    usecs = int((now - secs) * 1_000_000)
    return f"{secs}.M{usecs:06d}P{os.getpid()}Q{next(_counter)}.{_HOST},S={size},W={vsize}"


class FolderWrites:
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

    def copy_into(self, target: "FolderWrites", uids: list[int]) -> list[int]:
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

    def move_to(self, target: "FolderWrites", uids: list[int]) -> list[int]:
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


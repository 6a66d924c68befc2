"""How a folder stays true: loading from the index, catching up with other
processes, and scanning the directories for what other programs did.

A mixin of `MaildirMailbox` (mailbox.py), which holds the state these
methods share; split out so each file stays readable.
"""

from __future__ import annotations

import os
import time
from typing import Iterable, Optional

from .flags import size_fields
from .table import MessageTable
from .validity import VALIDITY_FILE, next_uidvalidity

SETTLE_SECONDS = 0.05  # > one coarse kernel clock tick (HZ >= 100)


class FolderSync:
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
        if state is not None and index.dirstate() == encode_dirstate(state, True):
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
        self._settled = state is not None and now_ns - max(state) > SETTLE_SECONDS * 1e9
        self._dir_state = state
        self.keywords.reload()
        self._own.clear()  # a full scan reconciles everything
        changed = self._apply_scan(self._list_files())
        if self._settled:
            self.index.set_dirstate(encode_dirstate(state, True))
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


    def record_clean_state(self) -> None:
        """Remember the directories' mtimes as fully indexed (folder closed,
        every change handled), so the next cold open needs no listing."""
        state = self._stat_dirs()
        if state is None or time.time_ns() - max(state) <= SETTLE_SECONDS * 1e9:
            return
        if self.store is not None and self.store.is_watched(self.path):
            self.store.drain_changes()
            if not (self._stale or self._own):
                self.index.set_dirstate(encode_dirstate(state, True))
                return
        elif state == self._dir_state and self._settled:
            self.index.set_dirstate(encode_dirstate(state, True))
            return
        self.sync(force=True)  # not sure every change is in: look once more (records it when settled)

    def close(self) -> None:
        """Let go of the index connection (the store forgets this folder)."""
        if not self._orphaned:
            self.save_cache()
            if self.index.watermarks()[0] != self._snapshot_touch:
                self.save_snapshot()
            self.index.close()



def encode_dirstate(state: tuple, settled: bool) -> str:
    return f"{state[0]} {state[1]} {int(settled)}"

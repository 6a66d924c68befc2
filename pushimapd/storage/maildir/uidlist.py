"""Persistent UID state of one Maildir folder: ``pushimapd-uidlist``.

Format (text, one record a line)::

    pushimapd-uidlist 1 V<uidvalidity> N<uidnext>
    <uid> <base name>
    <uid> <base name> <size in CRLF form> <internal date, unix time>

The second form caches what is costly to recompute (reading and stat-ing
every file); a later record for the same UID overrides an earlier one.

UIDs are keyed by the file's *base* name (before ``:2,``) so renames that only
change flags keep the UID. New records are appended and fsynced *before* any
client is told about them, so a crash can never hand a UID that a client saw
to a different message; a torn last line is ignored on load (its UID was never
announced). The file is rewritten (tmp + rename) when many records are dead.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from typing import Iterable, Optional

FILENAME = "pushimapd-uidlist"
VALIDITY_FILE = "pushimapd-uidvalidity"  # per user: the last UIDVALIDITY handed out
_MAGIC = "pushimapd-uidlist"
_RECORD = re.compile(r"^(\d+) (\S+)(?: (\d+) (\d+))?$", re.M)


def next_uidvalidity(path: str) -> int:
    """A UIDVALIDITY never used before for this user (a deleted and recreated
    folder must not get its old one back), normally the current time."""
    with open(path, "a+") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.seek(0)
        text = f.read().strip()
        last = int(text) if text.isdigit() else 0
        value = max(int(time.time()), last + 1)
        f.seek(0)
        f.truncate()
        f.write(f"{value}\n")
        f.flush()
        os.fsync(f.fileno())
    return value


class UidList:
    def __init__(self, folder_path: str, validity_path: Optional[str] = None):
        self.path = os.path.join(folder_path, FILENAME)
        self.validity_path = validity_path or os.path.join(folder_path, VALIDITY_FILE)
        self.uidvalidity = 0
        self.uidnext = 1
        self.by_base: dict[str, int] = {}
        self.cached: dict[int, tuple[int, int]] = {}  # uid -> (vsize, mtime)
        self._unsaved: list[str] = []
        self._dead = 0
        self._load()

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            self.uidvalidity = next_uidvalidity(self.validity_path)
            self._rewrite()
            return
        lines = data.split(b"\n")
        if not data.endswith(b"\n"):
            lines = lines[:-1]  # torn last record: never announced, drop it
        header = lines[0].decode("ascii", "replace").split() if lines else []
        if len(header) < 4 or header[0] != _MAGIC:
            raise ValueError(f"{self.path}: not a pushimapd uidlist")
        self.uidvalidity = int(header[2][1:])
        self.uidnext = int(header[3][1:])
        by_base, cached, top = self.by_base, self.cached, self.uidnext - 1
        body = b"\n".join(lines[1:]).decode("utf-8", "surrogateescape")
        for uid_text, base, vsize, mtime in _RECORD.findall(body):
            uid = int(uid_text)
            by_base[base] = uid
            if uid > top:
                top = uid
            if mtime:
                cached[uid] = (int(vsize), int(mtime))
        self.uidnext = top + 1
        records = len(lines) - 1
        if not data.endswith(b"\n") or records > len(by_base) * 3 // 2 + 64:
            self._rewrite()  # torn record, or superseded cache records to fold

    def assign(self, bases: Iterable[str]) -> list[int]:
        """Give new UIDs to ``bases`` (in order) and persist them durably."""
        new = []
        records = []
        for base in bases:
            if base in self.by_base:
                continue
            uid = self.uidnext
            self.uidnext += 1
            self.by_base[base] = uid
            new.append(uid)
            records.append(f"{uid} {base}\n")
        if records:
            with open(self.path, "ab") as f:
                f.write("".join(records).encode("utf-8", "surrogateescape"))
                f.flush()
                os.fsync(f.fileno())
        return new

    def forget(self, bases: Iterable[str]) -> None:
        """Drop records of files that are gone; compacts now and then."""
        for base in bases:
            uid = self.by_base.pop(base, None)
            if uid is not None:
                self.cached.pop(uid, None)
                self._dead += 1
        if self._dead > 64 and self._dead > len(self.by_base) // 2:
            self._rewrite()

    def rename(self, old_base: str, new_base: str) -> None:
        """Keep a UID when a file's base name changes (our own writes only)."""
        uid = self.by_base.pop(old_base)
        self.by_base[new_base] = uid
        self._rewrite()

    def remember(self, uid: int, base: str, vsize: int, mtime: int) -> None:
        if self.cached.get(uid) != (vsize, mtime) and self.by_base.get(base) == uid:
            self.cached[uid] = (vsize, mtime)
            self._unsaved.append(f"{uid} {base} {vsize} {mtime}\n")

    def save_cache(self) -> None:
        """Append the cache records computed since the last save (no fsync:
        a lost cache record is only recomputed)."""
        if self._unsaved:
            data = "".join(self._unsaved).encode("utf-8", "surrogateescape")
            self._unsaved = []
            with open(self.path, "ab") as f:
                f.write(data)

    def _rewrite(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(f"{_MAGIC} 1 V{self.uidvalidity} N{self.uidnext}\n".encode())
            items = sorted(self.by_base.items(), key=lambda kv: kv[1])
            cached = self.cached
            f.write("".join(
                f"{uid} {base} {cached[uid][0]} {cached[uid][1]}\n" if uid in cached else f"{uid} {base}\n"
                for base, uid in items).encode("utf-8", "surrogateescape"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._dead = 0
        self._unsaved = []

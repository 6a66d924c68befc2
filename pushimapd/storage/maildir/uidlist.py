"""Persistent UID state of one Maildir folder: ``pushimapd-uidlist``.

Format (text, one record a line)::

    pushimapd-uidlist 1 V<uidvalidity> N<uidnext>
    <uid> <base name>

UIDs are keyed by the file's *base* name (before ``:2,``) so renames that only
change flags keep the UID. New records are appended and fsynced *before* any
client is told about them, so a crash can never hand a UID that a client saw
to a different message; a torn last line is ignored on load (its UID was never
announced). The file is rewritten (tmp + rename) when many records are dead.
"""

from __future__ import annotations

import fcntl
import os
import time
from typing import Iterable, Optional

FILENAME = "pushimapd-uidlist"
VALIDITY_FILE = "pushimapd-uidvalidity"  # per user: the last UIDVALIDITY handed out
_MAGIC = "pushimapd-uidlist"


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
        for line in lines[1:]:
            uid_text, _, base = line.decode("utf-8", "surrogateescape").partition(" ")
            if uid_text.isdigit() and base:
                uid = int(uid_text)
                self.by_base[base] = uid
                self.uidnext = max(self.uidnext, uid + 1)
        if not data.endswith(b"\n"):
            self._rewrite()

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
            if self.by_base.pop(base, None) is not None:
                self._dead += 1
        if self._dead > 64 and self._dead > len(self.by_base) // 2:
            self._rewrite()

    def rename(self, old_base: str, new_base: str) -> None:
        """Keep a UID when a file's base name changes (our own writes only)."""
        uid = self.by_base.pop(old_base)
        self.by_base[new_base] = uid
        self._rewrite()

    def uid_of(self, base: str) -> Optional[int]:
        return self.by_base.get(base)

    def _rewrite(self) -> None:
        tmp = self.path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(f"{_MAGIC} 1 V{self.uidvalidity} N{self.uidnext}\n".encode())
            items = sorted(self.by_base.items(), key=lambda kv: kv[1])
            f.write("".join(f"{uid} {base}\n" for base, uid in items).encode("utf-8", "surrogateescape"))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)
        self._dead = 0

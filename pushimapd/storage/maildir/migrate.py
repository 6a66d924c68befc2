"""Taking over UIDs kept by an earlier store: pushimapd's own text uidlist, or
Dovecot's ``dovecot-uidlist`` (versions 1 and 3).

A folder seen for the first time keeps its UIDVALIDITY, its UIDNEXT and the
UID of every message, so clients do not download everything again. Dovecot's
files are only read, never changed; pushimapd's old uidlist is renamed out of
the way once its content is in the index.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Optional

OLD_UIDLIST = "pushimapd-uidlist"
DOVECOT_UIDLIST = "dovecot-uidlist"
_OLD_RECORD = re.compile(r"^(\d+) (\S+)(?: (\d+) (\d+))?$", re.M)


@dataclass
class TakenOver:
    uidvalidity: int
    uidnext: int
    uids: dict = field(default_factory=dict)  # base -> (uid, vsize or None, mtime or None)
    source: str = ""

    def retire(self) -> None:
        """pushimapd's own old file goes (its content lives in the index now)."""
        if os.path.basename(self.source) == OLD_UIDLIST:
            try:
                os.replace(self.source, self.source + ".imported")
            except OSError:
                pass


def take_over(folder_path: str) -> Optional[TakenOver]:
    for name, reader in ((OLD_UIDLIST, _read_old), (DOVECOT_UIDLIST, read_dovecot_uidlist)):
        path = os.path.join(folder_path, name)
        try:
            with open(path, "rb") as f:
                data = f.read()
        except (FileNotFoundError, IsADirectoryError):
            continue
        found = reader(data)
        if found is not None:
            found.source = path
            return found
    return None


def _read_old(data: bytes) -> Optional[TakenOver]:
    lines = data.split(b"\n")
    if not data.endswith(b"\n"):
        lines = lines[:-1]  # torn last record: never announced
    header = lines[0].decode("ascii", "replace").split() if lines else []
    if len(header) < 4 or header[0] != "pushimapd-uidlist":
        return None
    found = TakenOver(int(header[2][1:]), int(header[3][1:]))
    body = b"\n".join(lines[1:]).decode("utf-8", "surrogateescape")
    for uid_text, base, vsize, mtime in _OLD_RECORD.findall(body):
        uid = int(uid_text)
        found.uids[base] = (uid, int(vsize) if mtime else None, int(mtime) if mtime else None)
        found.uidnext = max(found.uidnext, uid + 1)
    return found


def read_dovecot_uidlist(data: bytes) -> Optional[TakenOver]:
    """Version 3: ``3 V<uidvalidity> N<nextuid> G<guid> ...`` then
    ``<uid> [<key><value> ...] :<file name>``; version 1 (Courier's):
    ``1 <uidvalidity> <nextuid>`` then ``<uid> <file name>``."""
    text = data.decode("utf-8", "surrogateescape")
    lines = text.split("\n")
    if not text.endswith("\n"):
        lines = lines[:-1]
    if not lines:
        return None
    header = lines[0].split()
    if not header:
        return None
    if header[0] == "1" and len(header) >= 3 and header[1].isdigit() and header[2].isdigit():
        found = TakenOver(int(header[1]), int(header[2]))
        version = 1
    elif header[0] in ("2", "3"):
        fields = {h[0]: h[1:] for h in header[1:] if h}
        if not fields.get("V", "").isdigit() or not fields.get("N", "").isdigit():
            return None
        found = TakenOver(int(fields["V"]), int(fields["N"]))
        version = 3
    else:
        return None
    for line in lines[1:]:
        if not line.strip():
            continue
        uid_text, _, rest = line.partition(" ")
        if not uid_text.isdigit():
            continue
        if version == 1:
            name = rest.strip()
            extensions = ""
        else:
            extensions, colon, name = rest.partition(":")
            if not colon:  # no extension fields: "<uid> <name>"
                extensions, name = "", rest.strip()
        base = name.split(":", 1)[0].strip()  # Dovecot keeps base names; a full one is cut
        if not base:
            continue
        uid = int(uid_text)
        vsize = None
        for ext in extensions.split():
            if ext.startswith("W") and ext[1:].isdigit():
                vsize = int(ext[1:])
        found.uids[base] = (uid, vsize, None)
        found.uidnext = max(found.uidnext, uid + 1)
    return found

"""UIDVALIDITY values: never the same twice for one user."""

from __future__ import annotations

import fcntl
import os
import time

VALIDITY_FILE = "pushimapd-uidvalidity"  # per user: the last UIDVALIDITY handed out


def next_uidvalidity(path: str) -> int:
    """A UIDVALIDITY never used before for this user (a deleted and recreated
    folder must not get its old one back), normally the current time; the
    file lock makes it safe across processes."""
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

"""Deliver a message the way an MTA does: write into tmp/, rename into new/."""

from __future__ import annotations

import os
import socket
import time

from .storage.names import MailboxError, validate_name


class DeliveryError(Exception):
    pass


_sequence = 0


def deliver(root: str, user: str, folder: str, data: bytes) -> str:
    """Returns the path of the new file in ``new/``."""
    global _sequence
    user_dir = os.path.join(root, user)
    if not os.path.isdir(user_dir):
        raise DeliveryError(f"no Maildir for user {user} at {user_dir}")
    try:
        name = validate_name(folder)
    except MailboxError as e:
        raise DeliveryError(f"invalid folder {folder!r}: {e}") from None
    path = user_dir if name == "INBOX" else os.path.join(user_dir, "." + name)
    if not os.path.isdir(os.path.join(path, "new")):
        raise DeliveryError(f"no folder {folder!r} for user {user}")
    _sequence += 1
    now = time.time()
    secs = int(now)
    host = socket.gethostname().replace("/", "\\057").replace(":", "\\072") or "localhost"
    base = f"{secs}.M{int((now - secs) * 1e6):06d}P{os.getpid()}Q{_sequence}.{host},S={len(data)}"
    tmp_path = os.path.join(path, "tmp", base)
    with open(tmp_path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    final = os.path.join(path, "new", base)
    os.rename(tmp_path, final)
    return final

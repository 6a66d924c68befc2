"""Deliver a message the way an MTA does: write into tmp/, rename into new/."""

from __future__ import annotations

import os
import socket
import time

from .storage.names import MailboxError, validate_name


# sysexits(3) codes, so an MTA running `pushimapd deliver` (Postfix pipe(8),
# procmail, fetchmail --mda) bounces only what can never be delivered and
# keeps the rest queued: an unknown user is permanent, anything else is
# retried later, so nothing is lost.
EX_DATAERR, EX_NOUSER, EX_TEMPFAIL = 65, 67, 75


class DeliveryError(Exception):
    """Why a message cannot be delivered; ``status`` is its sysexits(3) code."""

    def __init__(self, message: str, status: int = EX_TEMPFAIL):
        super().__init__(message)
        self.status = status


_sequence = 0


def deliver(root: str, user: str, folder: str, data: bytes) -> str:
    """Returns the path of the new file in ``new/``."""
    global _sequence
    user_dir = os.path.join(root, user)
    if not os.path.isdir(user_dir):
        raise DeliveryError(f"no Maildir for user {user} at {user_dir}", EX_NOUSER)
    try:
        name = validate_name(folder)
    except MailboxError as e:
        raise DeliveryError(f"invalid folder {folder!r}: {e}", EX_DATAERR) from None
    path = user_dir if name == "INBOX" else os.path.join(user_dir, "." + name)
    if not os.path.isdir(os.path.join(path, "new")):
        # the MTA keeps the message until the folder is made (nothing lost)
        raise DeliveryError(f"no folder {folder!r} for user {user}", EX_TEMPFAIL)
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

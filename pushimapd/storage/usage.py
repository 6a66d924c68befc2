"""A user's quota usage: the RFC822.SIZE sum and message count of all folders.

Computed from ``mailbox.uids`` and ``mailbox.size(uid)`` (cached sizes: no
message file is read for a message whose size is known). Each folder's
totals are kept with a signature (UIDVALIDITY, message count, UIDNEXT)
that changes whenever a message arrives (UIDNEXT grows) or goes (the count
drops) since UIDs are never reused, so only folders that changed are summed
again.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Usage:
    octets: int
    messages: int

    @property
    def kib(self) -> int:
        """STORAGE usage in units of 1024 octets, rounded up."""
        return (self.octets + 1023) // 1024


class UsageCounter:
    MAX_FOLDERS = 100_000  # cached folder totals kept before the cache is emptied

    def __init__(self) -> None:
        self._folders: dict[tuple[str, str], tuple[tuple, int, int]] = {}

    def folder_usage(self, user: str, name: str, mailbox) -> tuple[int, int]:
        """(octets, messages) of one (synced) folder."""
        uids = mailbox.uids
        signature = (mailbox.uidvalidity, len(uids), mailbox.uidnext)
        key = (user, name)
        cached = self._folders.get(key)
        if cached is not None and cached[0] == signature:
            return cached[1], cached[2]
        size = mailbox.size
        octets = sum(size(uid) for uid in uids)
        if len(self._folders) >= self.MAX_FOLDERS:
            self._folders.clear()
        self._folders[key] = (signature, octets, len(uids))
        return octets, len(uids)

    def usage(self, account) -> Usage:
        """The user's usage over every selectable folder (each synced first,
        so deliveries by an MTA count as soon as they are on disk)."""
        octets = messages = 0
        for folder in account.folders():
            if not folder.selectable:
                continue
            try:
                mailbox = account.open(folder.name)
            except Exception:  # removed meanwhile, or an unusable name
                continue
            mailbox.sync()
            o, m = self.folder_usage(account.user, folder.name, mailbox)
            octets += o
            messages += m
        return Usage(octets, messages)

"""METADATA (RFC 5464) entries in sqlite (peewee), behind `MetadataStore`.

Sessions reach the store through ``ServerConfig.metadata``; commands never
touch peewee. Entries are keyed by user, mailbox (``""`` for the server) and
lower-case entry name. There is no sharing between users here, so a
mailbox's ``/shared`` entries are stored with its owner like the
``/private`` ones; the server's ``/shared`` entries are the operator's
(``--metadata-comment``, ``--metadata-admin``) and read-only.

Some entries are not rows but `SpecialEntry` objects (the server comment and
admin address, Delta Chat's device token): the store asks them for their
value and hands their writes to them, inside the same transaction.
"""

from __future__ import annotations

import time
from typing import Optional, Protocol

import peewee

from .db import MODELS, BaseModel, database
from .storage.metadata import LIMITS, SERVER, Limits, MetadataError, is_private, select

SEPARATOR = "."


class MetadataEntry(BaseModel):
    user = peewee.CharField(max_length=128)
    mailbox = peewee.CharField(max_length=1024)  # IMAP name (modified UTF-7); "" for the server
    name = peewee.CharField(max_length=512)  # lower case
    value = peewee.BlobField()
    updated = peewee.FloatField(default=time.time)

    class Meta:
        indexes = ((("user", "mailbox", "name"), True),)


MODELS.append(MetadataEntry)


class SpecialEntry(Protocol):
    """An entry whose value lives elsewhere (configuration, device tokens)."""

    mailbox: str
    name: str
    max_size: int
    read_only: bool

    def get(self, user: str) -> Optional[bytes]: ...

    def check(self, user: str, value: Optional[bytes]) -> None:
        """Raise MetadataError to refuse the write before anything is stored."""

    def set(self, user: str, value: Optional[bytes]) -> None: ...


class ConstantEntry:
    """A read-only server entry from the configuration (``/shared/comment``, ``/shared/admin``)."""

    read_only = True

    def __init__(self, name: str, value: bytes):
        self.mailbox, self.name, self.value = SERVER, name, value
        self.max_size = len(value)

    def get(self, user: str) -> Optional[bytes]:
        return self.value

    def check(self, user: str, value: Optional[bytes]) -> None:
        pass

    def set(self, user: str, value: Optional[bytes]) -> None:
        raise MetadataError(f"{self.name} is set by the server's administrator", "NOPERM")


class MetadataStore:
    def __init__(self, comment: Optional[str] = None, admin: Optional[str] = None, limits: Limits = LIMITS):
        self.limits = limits
        self.special: dict[tuple[str, str], SpecialEntry] = {}
        if comment:
            self.add_special(ConstantEntry("/shared/comment", comment.encode("utf-8")))
        if admin:
            self.add_special(ConstantEntry("/shared/admin", admin.encode("utf-8")))

    def add_special(self, entry: SpecialEntry) -> None:
        self.special[(entry.mailbox, entry.name)] = entry

    # -- GETMETADATA ---------------------------------------------------------------
    def get(self, user: str, mailbox: str, names: list[str], depth: str = "0",
            maxsize: Optional[int] = None) -> tuple[list[tuple[str, bytes]], int]:
        """The entries asked for (see `storage.metadata.select`) and the size
        of the largest value MAXSIZE held back (0 if none)."""
        stored = self._load(user, mailbox, names, depth)
        for (box, name), entry in self.special.items():
            if box == mailbox and any(name == n or name.startswith(n + "/") for n in names):
                value = entry.get(user)
                if value is not None:
                    stored[name] = value
                else:
                    stored.pop(name, None)
        return select(stored, names, depth, maxsize)

    def _load(self, user: str, mailbox: str, names: list[str], depth: str) -> dict[str, bytes]:
        where = peewee.Value(False)
        for name in names:
            where |= MetadataEntry.name == name
            if depth != "0":  # an exact prefix test: LIKE would treat "_" as a wildcard
                prefix = name + "/"
                where |= peewee.fn.substr(MetadataEntry.name, 1, len(prefix)) == prefix
        rows = MetadataEntry.select(MetadataEntry.name, MetadataEntry.value).where(
            (MetadataEntry.user == user) & (MetadataEntry.mailbox == mailbox) & where)
        return {r.name: bytes(r.value) for r in rows}

    # -- SETMETADATA -----------------------------------------------------------------
    def set(self, user: str, mailbox: str, items: list[tuple[str, Optional[bytes]]]) -> None:
        """Write every entry or none (NIL deletes); raises MetadataError."""
        changes: dict[str, Optional[bytes]] = {}
        for name, value in items:  # a name given twice: the last value counts
            changes[name] = value
        for name, value in changes.items():
            special = self.special.get((mailbox, name))
            if special is not None:
                if special.read_only:
                    raise MetadataError(f"{name} is set by the server's administrator", "NOPERM")
                if value is not None and len(value) > special.max_size:
                    raise MetadataError(f"{name} takes at most {special.max_size} octets",
                                        f"METADATA MAXSIZE {special.max_size}")
                special.check(user, value)
                continue
            if mailbox == SERVER and not is_private(name):
                raise MetadataError("Server /shared entries are set by the server's administrator", "NOPERM")
            if value is not None and len(value) > self.limits.max_value_size:
                raise MetadataError(f"Values are limited to {self.limits.max_value_size} octets",
                                    f"METADATA MAXSIZE {self.limits.max_value_size}")
        plain = {n: v for n, v in changes.items() if (mailbox, n) not in self.special}
        now = time.time()
        with database.atomic():
            if plain:
                self._check_count(user, mailbox, plain)
            for name, value in changes.items():
                special = self.special.get((mailbox, name))
                if special is not None:
                    special.set(user, value)
                elif value is None:
                    MetadataEntry.delete().where((MetadataEntry.user == user) & (MetadataEntry.mailbox == mailbox)
                                                 & (MetadataEntry.name == name)).execute()
                else:
                    (MetadataEntry.insert(user=user, mailbox=mailbox, name=name, value=value, updated=now)
                     .on_conflict(conflict_target=[MetadataEntry.user, MetadataEntry.mailbox, MetadataEntry.name],
                                  update={MetadataEntry.value: value, MetadataEntry.updated: now})
                     .execute())

    def _check_count(self, user: str, mailbox: str, changes: dict[str, Optional[bytes]]) -> None:
        present = {r.name for r in MetadataEntry.select(MetadataEntry.name).where(
            (MetadataEntry.user == user) & (MetadataEntry.mailbox == mailbox))}
        after = (present | {n for n, v in changes.items() if v is not None}) - {
            n for n, v in changes.items() if v is None}
        if len(after) > self.limits.max_entries and len(after) > len(present):
            raise MetadataError(f"At most {self.limits.max_entries} entries per mailbox", "METADATA TOOMANY")

    # -- mailboxes and users ---------------------------------------------------------
    def rename_mailbox(self, user: str, old: str, new: str) -> None:
        """RENAME: the entries of ``old`` and of its children move with them.

        Renaming INBOX moves its messages only (RFC 3501), so its entries stay.
        """
        with database.atomic():
            self.forget_mailbox(user, new, children=True)  # leftovers of a folder removed behind our back
            if old == "INBOX":
                return
            prefix = old + SEPARATOR
            rows = MetadataEntry.select(MetadataEntry.id, MetadataEntry.mailbox).where(
                (MetadataEntry.user == user)
                & ((MetadataEntry.mailbox == old)
                   | (peewee.fn.substr(MetadataEntry.mailbox, 1, len(prefix)) == prefix)))
            for row in list(rows):
                MetadataEntry.update(mailbox=new + row.mailbox[len(old):]).where(MetadataEntry.id == row.id).execute()

    def forget_mailbox(self, user: str, mailbox: str, children: bool = False) -> int:
        """DELETE (and CREATE, to drop what a folder removed by another program left)."""
        where = MetadataEntry.mailbox == mailbox
        if children:
            prefix = mailbox + SEPARATOR
            where |= peewee.fn.substr(MetadataEntry.mailbox, 1, len(prefix)) == prefix
        return MetadataEntry.delete().where((MetadataEntry.user == user) & where).execute()


def forget_user(user: str) -> int:
    """``pushimapd user del``: every entry of the user goes."""
    return MetadataEntry.delete().where(MetadataEntry.user == user).execute()

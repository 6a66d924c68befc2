"""Per-user quota limits (RFC 9208): STORAGE in KiB and MESSAGE count, in sqlite.

The limits are set by the administrator (``pushimapd user quota``); the
usage is counted from the user's folders by `storage.usage.UsageCounter`.
Sessions reach both through ``ServerConfig.quotas`` (a `Quotas`), never by
importing this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import peewee

from .db import MODELS, BaseModel, ReadCache
from .storage.usage import UsageCounter


class QuotaLimit(BaseModel):
    user = peewee.CharField(unique=True, max_length=128)
    storage_kib = peewee.BigIntegerField(null=True)  # None: no limit
    messages = peewee.BigIntegerField(null=True)


MODELS.append(QuotaLimit)
UNCHANGED = object()


@dataclass(frozen=True)
class Limits:
    storage_kib: Optional[int] = None
    messages: Optional[int] = None

    @property
    def any(self) -> bool:
        return self.storage_kib is not None or self.messages is not None


class Quotas:
    """Limits from the database (cached until another process commits, so
    the CLI can change them while the server runs) and the usage counter."""

    def __init__(self) -> None:
        self.usage = UsageCounter()
        self._limits = ReadCache()

    def limits(self, user: str) -> Limits:
        return self._limits.get(user, _load_limits)

    def set_limits(self, user: str, storage_kib=UNCHANGED, messages=UNCHANGED) -> Limits:
        current = self.limits(user)
        new = Limits(current.storage_kib if storage_kib is UNCHANGED else storage_kib,
                     current.messages if messages is UNCHANGED else messages)
        for value in (new.storage_kib, new.messages):
            if value is not None and value < 0:
                raise ValueError("quota limits cannot be negative")
        if new.any:
            (QuotaLimit.insert(user=user, storage_kib=new.storage_kib, messages=new.messages)
             .on_conflict(conflict_target=[QuotaLimit.user],
                          update={QuotaLimit.storage_kib: new.storage_kib, QuotaLimit.messages: new.messages})
             .execute())
        else:
            QuotaLimit.delete().where(QuotaLimit.user == user).execute()
        self._limits.clear()
        return new


def _load_limits(user) -> Limits:
    row = QuotaLimit.get_or_none(QuotaLimit.user == user)
    return Limits(row.storage_kib, row.messages) if row is not None else Limits()

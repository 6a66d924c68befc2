"""Delta Chat device tokens (peewee): each user's set, kept fresh by SETMETADATA.

A Delta Chat client stores its (already encrypted, opaque) device token in
``/private/devicetoken`` on INBOX each time it connects. Every value
stored joins the user's set; storing a value already there refreshes it
instead of adding a copy; a token nobody refreshed for 90 days expires.
GETMETADATA shows the latest token and NIL removes that one.
"""

from __future__ import annotations

import time
from typing import Callable, Optional

import peewee

from ..db import MODELS, BaseModel, database

TOKEN_MAX_SIZE = 4096  # octets, as Delta Chat sends at most
TOKEN_LIFETIME = 90 * 24 * 3600.0  # seconds without a refresh before a token expires
TOKENS_PER_USER = 32  # beyond this the least recently refreshed token is dropped


class DeviceToken(BaseModel):
    user = peewee.CharField(max_length=128, index=True)
    token = peewee.BlobField()  # sent raw as the notifier request's body
    refreshed_at = peewee.FloatField()  # wall clock of the latest SETMETADATA of this value
    sequence = peewee.BigIntegerField()  # order of the latest SETMETADATA: the highest is "the latest"

    class Meta:
        indexes = ((("user", "token"), True),)


MODELS.append(DeviceToken)


class DeviceTokens:
    """One user's tokens: add/refresh, drop the latest, list the live ones."""

    def __init__(self, clock: Callable[[], float] = time.time, lifetime: float = TOKEN_LIFETIME,
                 per_user: int = TOKENS_PER_USER):
        self.clock = clock
        self.lifetime = lifetime
        self.per_user = per_user

    def _live(self, user: str):
        return DeviceToken.select().where(
            (DeviceToken.user == user) & (DeviceToken.refreshed_at >= self.clock() - self.lifetime))

    def expire(self, user: Optional[str] = None) -> int:
        """Delete tokens not refreshed within the lifetime (of ``user``, or everyone's)."""
        query = DeviceToken.delete().where(DeviceToken.refreshed_at < self.clock() - self.lifetime)
        if user is not None:
            query = query.where(DeviceToken.user == user)
        return query.execute()

    def add(self, user: str, token: bytes) -> bool:
        """Store or refresh ``token``; True if it was new."""
        now = self.clock()
        with database.atomic():
            self.expire(user)
            last = DeviceToken.select(peewee.fn.MAX(DeviceToken.sequence)).scalar() or 0
            existing = DeviceToken.get_or_none((DeviceToken.user == user) & (DeviceToken.token == token))
            if existing is not None:
                existing.refreshed_at, existing.sequence = now, last + 1
                existing.save()
                return False
            DeviceToken.create(user=user, token=token, refreshed_at=now, sequence=last + 1)
            surplus = self._live(user).order_by(DeviceToken.sequence.desc()).offset(self.per_user)
            DeviceToken.delete().where(DeviceToken.id.in_([t.id for t in surplus])).execute()
            return True

    def latest(self, user: str) -> Optional[bytes]:
        row = self._live(user).order_by(DeviceToken.sequence.desc()).first()
        return bytes(row.token) if row is not None else None

    def remove_latest(self, user: str) -> bool:
        with database.atomic():
            self.expire(user)
            row = self._live(user).order_by(DeviceToken.sequence.desc()).first()
            if row is None:
                return False
            row.delete_instance()
            return True

    def remove(self, user: str, token: bytes) -> int:
        return DeviceToken.delete().where((DeviceToken.user == user) & (DeviceToken.token == token)).execute()

    def tokens(self, user: str) -> list[bytes]:
        """The user's live tokens, oldest first (expired ones are deleted on the way)."""
        self.expire(user)
        return [bytes(t.token) for t in self._live(user).order_by(DeviceToken.sequence)]


def forget_user(user: str) -> int:
    """``pushimapd user del``."""
    return DeviceToken.delete().where(DeviceToken.user == user).execute()


def token_summary(user: Optional[str]) -> list[DeviceToken]:
    """Every stored token (for ``pushimapd push list``), by user, oldest first."""
    query = DeviceToken.select().order_by(DeviceToken.user, DeviceToken.sequence)
    if user:
        query = query.where(DeviceToken.user == user)
    return list(query)

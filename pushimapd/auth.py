"""Users and passwords: argon2id hashes in the sqlite database.

`verify` is slow on purpose (argon2); the server runs it in a thread and
answers failures after a delay, so guessing is slow and the reactor is not.
Nothing here logs a password.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .db import ReadCache, User

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}\Z")
# used to keep the time of a check for an unknown user like that of a known one
_DUMMY_HASH = _hasher.hash("pushimapd-no-such-user")
_hashes = ReadCache()  # every LOGIN reads the stored hash; the CLI's changes still count at once


class UserError(Exception):
    pass


class UserDirectory:
    def add(self, name: str, password: str) -> None:
        if not USER_NAME.match(name):
            raise UserError(f"invalid user name {name!r} (letters, digits and . _ @ + - only)")
        if User.get_or_none(User.name == name) is not None:
            raise UserError(f"user {name} already exists")
        User.create(name=name, password_hash=_hasher.hash(password))
        _hashes.clear()

    def set_password(self, name: str, password: str) -> None:
        changed = User.update(password_hash=_hasher.hash(password)).where(User.name == name).execute()
        _hashes.clear()
        if changed == 0:
            raise UserError(f"no such user {name}")

    def delete(self, name: str) -> None:
        deleted = User.delete().where(User.name == name).execute()
        _hashes.clear()
        if deleted == 0:
            raise UserError(f"no such user {name}")

    def names(self) -> list[str]:
        return [u.name for u in User.select(User.name).order_by(User.name)]

    def exists(self, name: str) -> bool:
        return User.get_or_none(User.name == name) is not None

    def stored_hash(self, name: str) -> Optional[str]:
        return _hashes.get(name, _load_hash)

    @staticmethod
    def check(stored: Optional[str], password: str) -> bool:
        """The slow part, safe to run in a thread (touches no database)."""
        try:
            return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False


def _load_hash(name) -> Optional[str]:
    user = User.get_or_none(User.name == name)
    return user.password_hash if user else None


class CredentialCache:
    """Remembers successful password checks for a while (like Dovecot's auth_cache).

    The key is the stored hash plus a keyed digest of the password, so a
    changed password (a new stored hash) misses the cache, and the cache never
    holds a password or anything that verifies one offline. Failures are
    never cached.
    """

    def __init__(self, ttl: float = 600.0, size: int = 10000):
        self.ttl = ttl
        self.size = size
        self._key = os.urandom(32)
        self._entries: dict[bytes, float] = {}

    def _digest(self, stored: str, password: str) -> bytes:
        return hmac.new(self._key, stored.encode() + b"\0" + password.encode("utf-8", "surrogateescape"),
                        hashlib.sha256).digest()

    def hit(self, stored: Optional[str], password: str) -> bool:
        if stored is None or self.ttl <= 0:
            return False
        key = self._digest(stored, password)
        expires = self._entries.get(key)
        if expires is None:
            return False
        if expires < time.monotonic():
            del self._entries[key]
            return False
        return True

    def remember(self, stored: str, password: str) -> None:
        if self.ttl <= 0:
            return
        if len(self._entries) >= self.size:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v > now}
            if len(self._entries) >= self.size:
                self._entries.clear()
        self._entries[self._digest(stored, password)] = time.monotonic() + self.ttl

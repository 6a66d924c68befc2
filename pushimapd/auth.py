"""Users and passwords: argon2id hashes in the sqlite database.

`verify` is slow on purpose (argon2); the server runs it in a thread and
answers failures after a delay, so guessing is slow and the reactor is not.
Nothing here logs a password.
"""

from __future__ import annotations

import re
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from .db import User

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters
USER_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}\Z")
# used to keep the time of a check for an unknown user like that of a known one
_DUMMY_HASH = _hasher.hash("pushimapd-no-such-user")


class UserError(Exception):
    pass


class UserDirectory:
    def add(self, name: str, password: str) -> None:
        if not USER_NAME.match(name):
            raise UserError(f"invalid user name {name!r} (letters, digits and . _ @ + - only)")
        if User.get_or_none(User.name == name) is not None:
            raise UserError(f"user {name} already exists")
        User.create(name=name, password_hash=_hasher.hash(password))

    def set_password(self, name: str, password: str) -> None:
        if User.update(password_hash=_hasher.hash(password)).where(User.name == name).execute() == 0:
            raise UserError(f"no such user {name}")

    def delete(self, name: str) -> None:
        if User.delete().where(User.name == name).execute() == 0:
            raise UserError(f"no such user {name}")

    def names(self) -> list[str]:
        return [u.name for u in User.select(User.name).order_by(User.name)]

    def exists(self, name: str) -> bool:
        return User.get_or_none(User.name == name) is not None

    def stored_hash(self, name: str) -> Optional[str]:
        user = User.get_or_none(User.name == name)
        return user.password_hash if user else None

    @staticmethod
    def check(stored: Optional[str], password: str) -> bool:
        """The slow part, safe to run in a thread (touches no database)."""
        try:
            return _hasher.verify(stored or _DUMMY_HASH, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

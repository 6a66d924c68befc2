"""The sqlite database (peewee): users, push registrations, the VAPID key.

One `SqliteDatabase` per process, WAL mode so the CLI can read while the
server writes. Tables are created on open.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Hashable

import peewee

database = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    class Meta:
        database = database


class User(BaseModel):
    name = peewee.CharField(unique=True, max_length=128)
    password_hash = peewee.CharField(max_length=512)


MODELS: list = [User]


def data_version() -> int:
    """A number that changes when another connection (the CLI, a second
    server) has committed: one cheap pragma, no table read."""
    return database.connection().execute("PRAGMA data_version").fetchone()[0]


class ReadCache:
    """Rows read per command (a user's password hash, quota limits) kept
    until another process commits; this process's own writers call `clear`
    (sqlite does not count a connection's own commits in data_version)."""

    _LIMIT = 10_000

    def __init__(self) -> None:
        self._version: Any = None
        self._values: dict = {}

    def get(self, key: Hashable, load: Callable[[Hashable], Any]) -> Any:
        version = data_version()
        if version != self._version or len(self._values) > self._LIMIT:
            self._values.clear()
            self._version = version
        try:
            return self._values[key]
        except KeyError:
            value = self._values[key] = load(key)
            return value

    def clear(self) -> None:
        self._values.clear()


def open_database(path: str) -> peewee.SqliteDatabase:
    from . import quota as _quota, urlauth as _urlauth  # noqa: F401  (register their tables)
    from .push import models as _push_models  # noqa: F401  (registers the push tables)
    from . import metadata_db as _metadata  # noqa: F401  (METADATA entries)
    from .push import tokens as _tokens  # noqa: F401  (Delta Chat device tokens)
    from .testbed import models as _testbed  # noqa: F401  (faults and CLI events)

    _owner_only(path)
    db = peewee.SqliteDatabase(path, pragmas={"journal_mode": "wal", "synchronous": "normal",
                                              "busy_timeout": 5000, "foreign_keys": 1})
    database.initialize(db)
    db.connect(reuse_if_open=True)
    db.create_tables(MODELS, safe=True)
    _add_missing_columns(db)
    return db


def _owner_only(path: str) -> None:
    """The database holds password hashes and the VAPID private key: mode 0600.

    Created so before sqlite opens it (sqlite gives its -wal and -shm files
    the database file's mode); an existing one is tightened.
    """
    if path == ":memory:" or path.startswith("file:"):
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        if os.fstat(fd).st_mode & 0o077:
            os.fchmod(fd, 0o600)
    finally:
        os.close(fd)
    for suffix in ("-wal", "-shm"):
        try:
            if os.stat(path + suffix).st_mode & 0o077:
                os.chmod(path + suffix, 0o600)
        except FileNotFoundError:
            pass


def _add_missing_columns(db: peewee.SqliteDatabase) -> None:
    """Databases made by an older version get the columns added since."""
    from playhouse.migrate import SqliteMigrator, migrate

    migrator = SqliteMigrator(db)
    for model in MODELS:
        table = model._meta.table_name
        present = {c.name for c in db.get_columns(table)}
        missing = [f for f in model._meta.sorted_fields if f.column_name not in present]
        if missing:
            migrate(*(migrator.add_column(table, f.column_name, f) for f in missing))

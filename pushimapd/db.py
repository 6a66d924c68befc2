"""The sqlite database (peewee): users now, push registrations later.

One `SqliteDatabase` per process, WAL mode so the CLI can read while the
server writes. Tables are created on open.
"""

from __future__ import annotations

import peewee

database = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    class Meta:
        database = database


class User(BaseModel):
    name = peewee.CharField(unique=True, max_length=128)
    password_hash = peewee.CharField(max_length=512)


MODELS: list = [User]


def open_database(path: str) -> peewee.SqliteDatabase:
    from . import quota as _quota, urlauth as _urlauth  # noqa: F401  (register their tables)
    from .push import models as _push_models  # noqa: F401  (registers the push tables)

    db = peewee.SqliteDatabase(path, pragmas={"journal_mode": "wal", "synchronous": "normal",
                                              "busy_timeout": 5000, "foreign_keys": 1})
    database.initialize(db)
    db.connect(reuse_if_open=True)
    db.create_tables(MODELS, safe=True)
    _add_missing_columns(db)
    return db


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

"""A folder's index: ``pushimapd-index.sqlite`` inside the folder directory.

It keeps, per message, the UID, the file's base name, where it lies (new/
or cur/) and its info letters (the flags), its modseq, its CRLF size and
INTERNALDATE and its save date (RFC 8514: when it was first indexed here),
plus the expunge history (UID and modseq, for QRESYNC's VANISHED), the
header fields clients search and sort on, and computed previews (RFC 8970). The folder
state (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, the mtimes of new/ and cur/ at
the last complete scan) lives in ``meta``.

Why sqlite, one file per folder (measured on a 50,000-message folder; see
docs/architecture.md): a transaction is crash-safe (a torn write rolls
back, so a UID can never end up on another message), ``BEGIN IMMEDIATE``
is the cross-process lock that keeps two processes from handing out one UID
(Dovecot's uidlist lock does that job there), changes are made in place
without rewriting a file, and a file per folder travels with the folder on
RENAME and goes with it on DELETE. ``PRAGMA data_version`` tells cheaply
whether another process changed anything; every write of a row stamps it with
the folder's ``touch`` counter (and a flag change with a new modseq too), so
"rows touched after what I know, UIDs expunged after my modseq" is the whole
refresh. A snapshot of the columns (packed arrays in one row, tagged with the
touch and modseq it reflects) lets a cold open read one row plus that delta
instead of 50,000 rows.

Writes run with ``synchronous=NORMAL`` in WAL mode (survives kill -9); the
transactions that hand out UIDs switch to ``FULL`` so that a UID a client
was told survives a power cut too.
"""

from __future__ import annotations

import os
import sqlite3
from array import array
import time
from dataclasses import dataclass
from typing import Iterable, Optional

FILENAME = "pushimapd-index.sqlite"
SCHEMA_VERSION = 2  # 2: msg.savedate, the preview table (older files are upgraded in place)
EXPUNGE_HISTORY = 200_000  # expunged UIDs remembered for VANISHED (EARLIER); older ones are trimmed
HEADER_FIELDS = ("subject", "from", "to", "cc", "bcc", "date", "message-id", "in-reply-to", "references")
_HEADER_COLUMNS = {name: "h_" + name.replace("-", "_") for name in HEADER_FIELDS}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value);
CREATE TABLE IF NOT EXISTS msg(
    uid INTEGER PRIMARY KEY,
    base TEXT NOT NULL UNIQUE,
    sub INTEGER NOT NULL,          -- 0: new/, 1: cur/
    info TEXT,                     -- letters after ":2," (NULL: a file in new/ without them)
    modseq INTEGER NOT NULL,
    vsize INTEGER,                 -- size in CRLF form
    mtime INTEGER,                 -- INTERNALDATE (unix time)
    touched INTEGER NOT NULL DEFAULT 0,  -- meta 'touch' of the last write of this row
    savedate INTEGER               -- when first indexed in this folder (NULL: indexed before schema 2)
);
CREATE INDEX IF NOT EXISTS msg_modseq ON msg(modseq);
CREATE INDEX IF NOT EXISTS msg_touched ON msg(touched);
CREATE TABLE IF NOT EXISTS snapshot(id INTEGER PRIMARY KEY CHECK (id = 1), touch INTEGER, modseq INTEGER,
    uids BLOB, bases TEXT, subs BLOB, infos TEXT, modseqs BLOB, vsizes BLOB, mtimes BLOB);
CREATE TABLE IF NOT EXISTS expunged(uid INTEGER PRIMARY KEY, modseq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS expunged_modseq ON expunged(modseq);
CREATE TABLE IF NOT EXISTS hdr(uid INTEGER PRIMARY KEY, {columns});
CREATE TABLE IF NOT EXISTS preview(uid INTEGER PRIMARY KEY, text TEXT NOT NULL);
""".format(columns=", ".join(f"{c} TEXT" for c in _HEADER_COLUMNS.values()))


@dataclass(slots=True)
class Row:
    """One message as the index knows it."""

    uid: int
    base: str
    sub: int
    info: Optional[str]
    modseq: int
    vsize: Optional[int] = None
    mtime: Optional[int] = None

    @property
    def subdir(self) -> str:
        return "cur" if self.sub else "new"

    @property
    def filename(self) -> str:
        return self.base if self.info is None else f"{self.base}:2,{self.info}"


@dataclass(frozen=True)
class Delta:
    """What was written after a known (touch, modseq): the rows added or
    changed, the UIDs expunged, and the watermarks they bring us to."""

    rows: list  # Row
    expunged: list  # UIDs
    touch: int
    modseq: int


@dataclass(frozen=True)
class Snapshot:
    """Every column of the folder as of (touch, modseq), packed."""

    touch: int
    modseq: int
    uids: list
    bases: list
    subs: bytearray
    infos: list
    modseqs: array
    vsizes: array
    mtimes: array


class FolderIndex:
    """One folder's index; methods are small transactions on one connection."""

    def __init__(self, folder_path: str, new_uidvalidity):
        """``new_uidvalidity()`` gives a never-used UIDVALIDITY when the folder
        has no state yet (neither an index nor a uidlist to take over)."""
        self.folder_path = folder_path
        self.path = os.path.join(folder_path, FILENAME)
        existed = os.path.exists(self.path)
        self.db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        self.imported: dict[str, tuple[int, Optional[int], Optional[int]]] = {}
        if not existed or self._meta("schema") is None:
            self._create(new_uidvalidity)
        elif int(self._meta("schema")) < SCHEMA_VERSION:
            self._upgrade()
        self._version = self._data_version()
        self.uidvalidity = int(self._meta("uidvalidity"))

    # -- set-up ----------------------------------------------------------------
    def _create(self, new_uidvalidity) -> None:
        from .migrate import take_over  # older pushimapd or Dovecot state, kept UID for UID

        found = None
        self.db.execute("BEGIN IMMEDIATE")
        try:
            if self._table_exists("meta") and self._meta("schema") is not None:
                self.db.execute("COMMIT")  # another process made it meanwhile
                return
            for statement in _SCHEMA.strip().split(";"):
                if statement.strip():
                    self.db.execute(statement)
            found = take_over(self.folder_path)
            uidvalidity = found.uidvalidity if found else new_uidvalidity()
            uidnext = found.uidnext if found else 1
            self.imported = found.uids if found else {}
            self._set_meta(schema=SCHEMA_VERSION, uidvalidity=uidvalidity, uidnext=uidnext, highestmodseq=1,
                           expunge_floor=1 if found else 0, dirstate="", touch=0)
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        if found:
            found.retire()

    def _upgrade(self) -> None:
        """Bring an index written by an older pushimapd to SCHEMA_VERSION, in
        place (one transaction; another process may be doing the same). Rows
        indexed before schema 2 keep a NULL save date: unknown (SAVEDATE NIL)."""
        with self._transaction():
            if int(self._meta("schema")) >= SCHEMA_VERSION:
                return  # another process upgraded it meanwhile
            columns = {r[1] for r in self.db.execute("PRAGMA table_info(msg)")}
            if "savedate" not in columns:
                self.db.execute("ALTER TABLE msg ADD COLUMN savedate INTEGER")
            if "touched" not in columns:  # snapshots and touch stamps came with schema 2 too
                self.db.execute("ALTER TABLE msg ADD COLUMN touched INTEGER NOT NULL DEFAULT 0")
            for statement in _SCHEMA.strip().split(";"):  # the tables and indexes that are missing
                if statement.strip():
                    self.db.execute(statement)
            if self._meta("touch") is None:
                self._set_meta(touch=0)
            self._set_meta(schema=SCHEMA_VERSION)

    def _table_exists(self, name: str) -> bool:
        return self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name=?", (name,)).fetchone() is not None

    def _meta(self, key: str):
        try:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        except sqlite3.OperationalError:
            return None
        return row[0] if row else None

    def _set_meta(self, **values) -> None:
        self.db.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", list(values.items()))

    def close(self) -> None:
        try:
            self.db.close()
        except sqlite3.Error:
            pass

    # -- reading ---------------------------------------------------------------
    def _data_version(self) -> int:
        return self.db.execute("PRAGMA data_version").fetchone()[0]

    def changed_elsewhere(self) -> bool:
        """True when another connection committed since we last looked."""
        version = self._data_version()
        if version != self._version:
            self._version = version
            return True
        return False

    def state(self) -> tuple[int, int]:
        """(uidnext, highestmodseq) as stored."""
        rows = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('uidnext', 'highestmodseq')"))
        return int(rows["uidnext"]), int(rows["highestmodseq"])

    def watermarks(self) -> tuple[int, int]:
        """(touch, highestmodseq) as stored."""
        rows = dict(self.db.execute("SELECT key, value FROM meta WHERE key IN ('touch', 'highestmodseq')"))
        return int(rows["touch"]), int(rows["highestmodseq"])

    def all_rows(self):
        """(uid, base, sub, info, modseq, vsize, mtime) of every message, by UID."""
        return self.db.execute("SELECT uid, base, sub, info, modseq, vsize, mtime FROM msg ORDER BY uid")

    def reload_uidvalidity(self) -> bool:
        """True when another process gave the folder a new UIDVALIDITY."""
        current = int(self._meta("uidvalidity"))
        if current == self.uidvalidity:
            return False
        self.uidvalidity = current
        return True

    def has_any(self, bases: list[str]) -> bool:
        return any(self.db.execute("SELECT 1 FROM msg WHERE base=?", (b,)).fetchone() for b in bases)

    def delta(self, touch: int, modseq: int) -> Delta:
        """Rows written after ``touch`` and UIDs expunged after ``modseq``;
        the watermarks are read first, so the answer covers at least
        everything up to them."""
        now_touch, now_modseq = self.watermarks()
        # no ORDER BY in these: it would make sqlite walk every row in UID order
        # instead of using the index on the watermark column; sorting the few
        # rows found is cheaper
        rows = sorted((Row(*r) for r in self.db.execute(
            "SELECT uid, base, sub, info, modseq, vsize, mtime FROM msg WHERE touched > ?", (touch,))),
            key=lambda r: r.uid)
        gone = sorted(u for (u,) in self.db.execute("SELECT uid FROM expunged WHERE modseq > ?", (modseq,)))
        return Delta(rows, gone, now_touch, now_modseq)

    def history_reaches(self, modseq: int) -> bool:
        """True when every expunge after ``modseq`` is still remembered."""
        return modseq >= int(self._meta("expunge_floor") or 0)

    # -- snapshots ------------------------------------------------------------------
    def snapshot(self) -> Optional[Snapshot]:
        row = self.db.execute("SELECT touch, modseq, uids, bases, subs, infos, modseqs, vsizes, mtimes "
                              "FROM snapshot WHERE id=1").fetchone()
        if row is None:
            return None
        touch, modseq, uids, bases, subs, infos, modseqs, vsizes, mtimes = row
        count = len(uids) // 4
        unpacked = Snapshot(touch, modseq, array("I", uids).tolist(), bases.split("\x00") if count else [],
                            bytearray(subs), [None if i == "\x01" else i for i in infos.split("\x00")] if count else [],
                            array("Q", modseqs), array("q", vsizes), array("q", mtimes))
        if not (len(unpacked.bases) == len(unpacked.subs) == len(unpacked.infos) == len(unpacked.modseqs)
                == len(unpacked.vsizes) == len(unpacked.mtimes) == count):
            return None  # not ours to trust: read the rows
        return unpacked

    def write_snapshot(self, touch: int, modseq: int, uids, bases, subs, infos, modseqs, vsizes, mtimes) -> None:
        """Keep the columns as of (touch, modseq) for the next cold open."""
        with self._transaction():
            self.db.execute(
                "INSERT OR REPLACE INTO snapshot(id, touch, modseq, uids, bases, subs, infos, modseqs, vsizes, mtimes) "
                "VALUES(1, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (touch, modseq, array("I", uids).tobytes(), "\x00".join(bases), bytes(subs),
                 "\x00".join("\x01" if i is None else i for i in infos), bytes(modseqs), bytes(vsizes),
                 bytes(mtimes)))

    def changed_uids(self, modseq: int) -> list[int]:
        """UIDs of messages whose metadata changed after ``modseq`` (CHANGEDSINCE)."""
        return sorted(u for (u,) in self.db.execute("SELECT uid FROM msg WHERE modseq > ?", (modseq,)))

    def vanished_since(self, modseq: int) -> tuple[list[int], bool]:
        """UIDs expunged after ``modseq``, and whether the history reaches back
        that far (False: it was trimmed, so the answer may miss some)."""
        floor = int(self._meta("expunge_floor") or 0)
        gone = sorted(u for (u,) in self.db.execute("SELECT uid FROM expunged WHERE modseq > ?", (modseq,)))
        return gone, modseq >= floor

    def dirstate(self) -> str:
        return self._meta("dirstate") or ""

    # -- writing ---------------------------------------------------------------
    def _transaction(self, durable: bool = False):
        return _Transaction(self.db, durable)

    def _bump(self) -> int:
        (modseq,) = self.db.execute("SELECT value FROM meta WHERE key='highestmodseq'").fetchone()
        modseq = int(modseq) + 1
        self._set_meta(highestmodseq=modseq)
        return modseq

    def _touch(self) -> int:
        (touch,) = self.db.execute("SELECT value FROM meta WHERE key='touch'").fetchone()
        touch = int(touch) + 1
        self._set_meta(touch=touch)
        return touch

    def add(self, entries: Iterable[tuple[str, int, Optional[str], Optional[int], Optional[int]]],
            keep_uids: Optional[dict[str, int]] = None, files_pending: bool = False) -> list[Row]:
        """Give new UIDs to (base, sub, info, vsize, mtime) entries, in order.

        A base another process indexed meanwhile keeps the UID it got there;
        ``keep_uids`` (base -> UID taken over from an older uidlist) are kept
        when they are still above every UID in use. Durable before it returns.
        ``files_pending``: the files are not in place yet (MOVE reserves UIDs
        first), so the next open must look at the directory, whatever its mtime.
        """
        entries = list(entries)
        if not entries:
            return []
        with self._transaction(durable=True):
            modseq, touch = self._bump(), self._touch()
            (uidnext,) = self.db.execute("SELECT value FROM meta WHERE key='uidnext'").fetchone()
            uidnext = int(uidnext)
            top = self.db.execute("SELECT max(uid) FROM msg").fetchone()[0] or 0
            out, inserts = [], []
            empty = top == 0  # a folder's first scan: no base can be known yet
            saved = int(time.time())  # the save date (RFC 8514) of every row added here
            for base, sub, info, vsize, mtime in entries:
                known = None if empty else self.db.execute(
                    "SELECT uid, base, sub, info, modseq, vsize, mtime FROM msg WHERE base=?", (base,)).fetchone()
                if known is not None:
                    out.append(Row(*known))
                    continue
                wanted = (keep_uids or {}).get(base)
                if wanted is not None and wanted > top:
                    uid = wanted
                else:
                    uid = max(uidnext, top + 1)
                uidnext = max(uidnext, uid + 1)
                top = max(top, uid)
                inserts.append((uid, base, sub, info, modseq, vsize, mtime, touch, saved))
                out.append(Row(uid, base, sub, info, modseq, vsize, mtime))
            self.db.executemany("INSERT INTO msg(uid, base, sub, info, modseq, vsize, mtime, touched, savedate) "
                                "VALUES(?,?,?,?,?,?,?,?,?)", inserts)
            self._set_meta(uidnext=uidnext)
            if files_pending:
                self._set_meta(dirstate="")
        return out

    def update(self, changes: Iterable[tuple[int, int, Optional[str]]], flags_changed: bool = True) -> int:
        """(uid, sub, info) of renamed files; a new modseq when flags changed."""
        changes = list(changes)
        if not changes:
            return 0
        with self._transaction():
            touch = self._touch()
            if flags_changed:
                modseq = self._bump()
                self.db.executemany("UPDATE msg SET sub=?, info=?, modseq=?, touched=? WHERE uid=?",
                                    [(sub, info, modseq, touch, uid) for uid, sub, info in changes])
                return modseq
            self.db.executemany("UPDATE msg SET sub=?, info=?, touched=? WHERE uid=?",
                                [(sub, info, touch, uid) for uid, sub, info in changes])
            return 0

    def set_sizes(self, values: Iterable[tuple[int, int, int]]) -> None:
        """(uid, vsize, mtime) computed from the files: a cache, no modseq."""
        values = list(values)
        if values:
            with self._transaction():
                touch = self._touch()
                self.db.executemany("UPDATE msg SET vsize=?, mtime=?, touched=? WHERE uid=?",
                                    [(v, m, touch, u) for u, v, m in values])

    def expunge(self, uids: Iterable[int]) -> int:
        """Remove messages, remembering their UIDs with the new modseq."""
        uids = list(uids)
        if not uids:
            return 0
        with self._transaction():
            modseq = self._bump()
            self.db.executemany("DELETE FROM msg WHERE uid=?", [(u,) for u in uids])
            self.db.executemany("DELETE FROM hdr WHERE uid=?", [(u,) for u in uids])
            self.db.executemany("DELETE FROM preview WHERE uid=?", [(u,) for u in uids])
            self.db.executemany("INSERT OR REPLACE INTO expunged(uid, modseq) VALUES(?, ?)",
                                [(u, modseq) for u in uids])
            self._trim_history()
        return modseq

    def _trim_history(self) -> None:
        (count,) = self.db.execute("SELECT count(*) FROM expunged").fetchone()
        if count > EXPUNGE_HISTORY * 1.1:
            cut = self.db.execute("SELECT modseq FROM expunged ORDER BY modseq DESC LIMIT 1 OFFSET ?",
                                  (EXPUNGE_HISTORY,)).fetchone()[0]
            self.db.execute("DELETE FROM expunged WHERE modseq <= ?", (cut,))
            self._set_meta(expunge_floor=cut)

    def set_dirstate(self, value: str) -> None:
        with self._transaction():
            self._set_meta(dirstate=value)

    def reset(self, new_uidvalidity: int) -> None:
        """Forget every UID (a new UIDVALIDITY): what a rebuild does."""
        with self._transaction(durable=True):
            for table in ("msg", "expunged", "hdr", "snapshot", "preview"):
                self.db.execute(f"DELETE FROM {table}")
            (highest,) = self.db.execute("SELECT value FROM meta WHERE key='highestmodseq'").fetchone()
            self._set_meta(uidvalidity=new_uidvalidity, uidnext=1, highestmodseq=int(highest) + 1,
                           expunge_floor=int(highest) + 1, dirstate="")
        self.uidvalidity = new_uidvalidity

    # -- header fields -----------------------------------------------------------
    def header_column(self, field: str) -> dict[int, str]:
        """uid -> cached value of an indexed header field (missing: not cached yet)."""
        column = _HEADER_COLUMNS[field]
        return dict(self.db.execute(f"SELECT uid, {column} FROM hdr WHERE {column} IS NOT NULL"))

    def store_header_column(self, field: str, values: Iterable[tuple[int, str]]) -> None:
        """Cache one decoded header field of messages (computed one field at
        a time: a search reads what it needs)."""
        column = _HEADER_COLUMNS[field]
        values = list(values)
        if values:
            with self._transaction():
                self.db.executemany("INSERT OR IGNORE INTO hdr(uid) SELECT ? WHERE EXISTS "
                                    "(SELECT 1 FROM msg WHERE uid=?)", [(u, u) for u, _ in values])
                self.db.executemany(f"UPDATE hdr SET {column}=? WHERE uid=?", [(v, u) for u, v in values])

    # -- save dates and previews -------------------------------------------------
    def _column_for(self, query: str, uids: list[int]) -> dict:
        """uid -> value for ``uids``: a few by key, many as one scan."""
        if len(uids) <= 64:
            out = {}
            for uid in uids:
                row = self.db.execute(query + " WHERE uid=?", (uid,)).fetchone()
                if row is not None and row[1] is not None:
                    out[row[0]] = row[1]
            return out
        return {u: v for u, v in self.db.execute(query) if v is not None}

    def save_dates(self, uids: list[int]) -> dict[int, int]:
        """uid -> save date (unix time) of the messages that have one."""
        return self._column_for("SELECT uid, savedate FROM msg", uids)

    def previews(self, uids: list[int]) -> dict[int, str]:
        """uid -> cached preview text (RFC 8970) of the messages computed before."""
        return self._column_for("SELECT uid, text FROM preview", uids)

    def store_previews(self, values: Iterable[tuple[int, str]]) -> None:
        """Cache computed previews (uid, text) of messages still present."""
        rows = [(uid, text, uid) for uid, text in values]
        if rows:
            with self._transaction():
                self.db.executemany("INSERT OR REPLACE INTO preview(uid, text) "
                                    "SELECT ?, ? WHERE EXISTS (SELECT 1 FROM msg WHERE uid=?)", rows)


ADDRESS_FIELDS = ("from", "to", "cc", "bcc")


def header_field(block: bytes, name: str) -> str:
    """The decoded value of one indexed field of a raw header (several
    occurrences joined by a line break); address fields also carry each
    display name and normalised addr-spec on lines of their own, which is
    what the FROM/TO/CC/BCC search keys match besides the text."""
    from ..mime import ParsedMessage
    from ..search import address_texts

    msg = ParsedMessage(block if block.endswith(b"\r\n\r\n") else block + b"\r\n")
    values = msg.header_values(name)
    if values and name in ADDRESS_FIELDS:
        values = values + [t for raw in msg.header_raw_values(name) for t in address_texts(raw)]
    return "\n".join(values)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (the write lock other processes wait on)."""

    def __init__(self, db: sqlite3.Connection, durable: bool):
        self.db = db
        self.durable = durable

    def __enter__(self):
        if self.durable:
            self.db.execute("PRAGMA synchronous=FULL")
        self.db.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, kind, value, tb):
        try:
            self.db.execute("COMMIT" if kind is None else "ROLLBACK")
        finally:
            if self.durable:
                self.db.execute("PRAGMA synchronous=NORMAL")
        return False


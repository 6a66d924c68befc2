"""SAVEDATE (RFC 8514) over real TCP: FETCH SAVEDATE, SEARCH SAVEDBEFORE /
SAVEDON / SAVEDSINCE / SAVEDATESUPPORTED, the save date of APPEND, COPY,
MOVE and MTA delivery, and an index written by an older pushimapd (schema 1,
no save dates) upgraded in place: its messages answer SAVEDATE NIL."""

from __future__ import annotations

import datetime
import os
import sqlite3
import time

import pytest
from imapclient import IMAPClient

from conftest import run_cli, started_server
from imap_raw import RawIMAP

OLD_DATE = "01-Feb-2020 10:00:00 +0000"


def message(subject: str) -> bytes:
    return f"Subject: {subject}\r\nFrom: a@example.org\r\n\r\nbody of {subject}\r\n".encode()


def save_times(response) -> dict:
    """{uid: datetime or None} of FETCH (UID SAVEDATE) responses."""
    out = {}
    for _seq, items in response.fetches():
        value = items["SAVEDATE"]
        out[int(items["UID"])] = None if value is None else datetime.datetime.strptime(
            value.decode(), "%d-%b-%Y %H:%M:%S %z")
    return out


@pytest.fixture
def srv(tmp_path):
    root = str(tmp_path / "mail")
    os.mkdir(root)
    server = started_server(root)
    yield server
    server.stop()


def test_capability_and_saved_dates_of_append_copy_move_delivery(srv):
    before = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    with RawIMAP(srv.port) as c:
        c.login()
        assert b" SAVEDATE" in c.ok("CAPABILITY").lines(b"CAPABILITY")[0]
        c.ok("CREATE Target")
        c.append("INBOX", message("appended long ago"), date=OLD_DATE)
        c.append("INBOX", message("moved"), date=OLD_DATE)
        delivered = run_cli("deliver", "demo", stdin=message("delivered"), root=srv.root)
        assert delivered.returncode == 0, delivered.stderr
        c.select("INBOX")
        r = c.ok("FETCH 1:* (UID SAVEDATE INTERNALDATE)")
        saved = save_times(r)
        after = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)
        assert len(saved) == 3
        for when in saved.values():
            assert when is not None and before <= when <= after, (before, when, after)
        internal = {int(i["UID"]): i["INTERNALDATE"] for _, i in r.fetches()}
        assert internal[1] == b"01-Feb-2020 10:00:00 +0000"  # INTERNALDATE is not the save date
        c.ok("COPY 1 Target")
        c.ok("MOVE 2 Target")
        c.select("Target")
        copied = save_times(c.ok("FETCH 1:* (UID SAVEDATE)"))
        assert all(before <= when <= after + datetime.timedelta(seconds=5) for when in copied.values())
        dates = [i["INTERNALDATE"] for _, i in c.ok("FETCH 1:* INTERNALDATE").fetches()]
        assert dates == [b"01-Feb-2020 10:00:00 +0000"] * 2  # COPY and MOVE keep INTERNALDATE


def test_search_saved_keys(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        c.append("INBOX", message("one"), date=OLD_DATE)
        c.append("INBOX", message("two"), date=OLD_DATE)
        c.select("INBOX")
        (when,) = set(save_times(c.ok("FETCH 1:* (UID SAVEDATE)")).values())
        day = when.astimezone(datetime.timezone.utc).strftime("%d-%b-%Y")
        next_day = (when + datetime.timedelta(days=1)).strftime("%d-%b-%Y")
        assert c.ok("SEARCH SAVEDON " + day).search() == [1, 2]
        assert c.ok("SEARCH SAVEDSINCE " + day).search() == [1, 2]
        assert c.ok("SEARCH SAVEDBEFORE " + day).search() == []
        assert c.ok("SEARCH SAVEDBEFORE " + next_day).search() == [1, 2]
        assert c.ok("SEARCH SAVEDSINCE " + next_day).search() == []
        assert c.ok('SEARCH SAVEDON "' + day + '"').search() == [1, 2]
        # INTERNALDATE keys still look at INTERNALDATE
        assert c.ok("SEARCH ON 1-Feb-2020").search() == [1, 2]
        assert c.ok("SEARCH SAVEDON 1-Feb-2020").search() == []
        assert c.ok("SEARCH SAVEDATESUPPORTED").search() == [1, 2]
        assert c.ok("UID SEARCH NOT SAVEDATESUPPORTED").search() == []
        r = c.ok("SEARCH RETURN (COUNT) SAVEDSINCE " + day)
        assert r.lines(b"ESEARCH")[0].rstrip().endswith(b"COUNT 2")


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("savedate")))
    with RawIMAP(server.port) as c:
        c.login()
        c.append("INBOX", message("x"))
    yield server
    server.stop()


@pytest.mark.parametrize("bad", [
    "SEARCH SAVEDBEFORE", "SEARCH SAVEDON 32-Jan-2024", "SEARCH SAVEDSINCE yesterday",
    "SEARCH SAVEDATESUPPORTED 1-Jan-2024", "FETCH 1 SAVEDATE[]", "FETCH 1 (SAVEDATE", "SEARCH SAVEDON 1-Foo-2024",
])
def test_malformed_savedate_syntax_is_bad(shared, bad):
    with RawIMAP(shared.port) as c:
        c.login()
        c.select("INBOX")
        assert c.command(bad).status == "BAD"
        assert c.ok("FETCH 1 SAVEDATE").fetches()[0][1]["SAVEDATE"] is not None


def downgrade_to_schema_1(folder: str) -> None:
    """Make a folder's index look as pushimapd before save dates wrote it."""
    db = sqlite3.connect(os.path.join(folder, "pushimapd-index.sqlite"))
    db.execute("ALTER TABLE msg DROP COLUMN savedate")
    db.execute("DROP TABLE preview")
    db.execute("UPDATE meta SET value=1 WHERE key='schema'")
    db.commit()
    db.close()


def test_an_older_index_is_upgraded_in_place(tmp_path):
    root = str(tmp_path / "mail")
    os.mkdir(root)
    server = started_server(root)
    try:
        with RawIMAP(server.port) as c:
            c.login()
            c.ok("CREATE Old")
            for i in range(3):
                c.append("Old", message(f"old {i}"))
            c.select("Old")
            c.ok("STORE 2 +FLAGS (\\Flagged)")
            uidvalidity = c.select("Old").code_value("UIDVALIDITY")
    finally:
        server.stop()
    folder = os.path.join(root, "demo", ".Old")
    downgrade_to_schema_1(folder)
    server = started_server(root)
    try:
        with RawIMAP(server.port) as c:
            c.login()
            r = c.select("Old")
            assert r.code_value("UIDVALIDITY") == uidvalidity  # nothing was rebuilt
            saved = save_times(c.ok("FETCH 1:* (UID SAVEDATE)"))
            assert saved == {1: None, 2: None, 3: None}  # unknown for rows indexed before the upgrade
            assert c.ok("SEARCH FLAGGED").search() == [2]
            assert c.ok("SEARCH SAVEDATESUPPORTED").search() == [1, 2, 3]
            assert c.ok("SEARCH SAVEDSINCE 1-Jan-1990").search() == []
            c.append("Old", message("new"))
            c.ok("NOOP")
            saved = save_times(c.ok("UID FETCH 4 (UID SAVEDATE)"))
            assert saved[4] is not None and abs(saved[4].timestamp() - time.time()) < 60
            assert c.ok("SEARCH SAVEDSINCE 1-Jan-1990").search() == [4]
    finally:
        server.stop()
    db = sqlite3.connect(os.path.join(folder, "pushimapd-index.sqlite"))
    assert db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == 2
    assert db.execute("SELECT uid, savedate IS NULL FROM msg ORDER BY uid").fetchall() == [
        (1, 1), (2, 1), (3, 1), (4, 0)]
    db.close()


def test_imapclient_fetch_savedate(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        c.append("INBOX", message("x"), date=OLD_DATE)
    with IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10) as client:
        client.login("demo", "demo")
        client.select_folder("INBOX")
        uids = client.search(["SAVEDATESUPPORTED"])
        assert len(uids) == 1
        items = client.fetch(uids, ["SAVEDATE", "INTERNALDATE"])[uids[0]]
        assert items[b"INTERNALDATE"].year == 2020
        saved = datetime.datetime.strptime(items[b"SAVEDATE"].decode(), "%d-%b-%Y %H:%M:%S %z")
        assert abs(saved.timestamp() - time.time()) < 60

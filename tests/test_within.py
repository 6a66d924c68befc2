"""WITHIN (RFC 5032): SEARCH OLDER n / YOUNGER n against INTERNALDATE, over
real TCP with the raw client and imapclient."""

from __future__ import annotations

import datetime

import pytest
from imapclient import IMAPClient

from conftest import started_server
from imap_raw import RawIMAP


def message(subject: str) -> bytes:
    return f"Subject: {subject}\r\nFrom: a@example.org\r\n\r\nbody\r\n".encode()


def imap_date(when: datetime.datetime) -> str:
    return when.strftime("%d-%b-%Y %H:%M:%S +0000")


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("within")))
    now = datetime.datetime.now(datetime.timezone.utc)
    with RawIMAP(server.port) as c:
        c.login()
        c.ok("CREATE Within")
        c.append("Within", message("ancient"), date="01-Jan-2020 10:00:00 +0000")      # 1
        c.append("Within", message("two hours"), date=imap_date(now - datetime.timedelta(hours=2)))  # 2
        c.append("Within", message("now"))                                              # 3: INTERNALDATE now
    yield server
    server.stop()


@pytest.fixture
def box(srv):
    c = RawIMAP(srv.port)
    c.login()
    c.select("Within", examine=True)
    yield c
    c.close()


def test_capability_is_advertised(box):
    assert b" WITHIN" in box.ok("CAPABILITY").lines(b"CAPABILITY")[0]


@pytest.mark.parametrize("keys,expected", [
    ("YOUNGER 3600", [3]),
    ("OLDER 3600", [1, 2]),
    ("YOUNGER 86400", [2, 3]),
    ("OLDER 86400", [1]),
    ("OLDER 3600 YOUNGER 86400", [2]),
    ("NOT YOUNGER 86400", [1]),
    ("OR OLDER 315360000 YOUNGER 60", [3]),   # nothing is older than ten years; 3 is younger than a minute
    ("YOUNGER 4294967295", [1, 2, 3]),
])
def test_older_and_younger(box, keys, expected):
    assert box.ok("SEARCH " + keys).search() == expected
    uids = box.ok("UID SEARCH " + keys).search()
    assert len(uids) == len(expected)


def test_within_in_esearch_and_sort(box):
    r = box.ok("SEARCH RETURN (COUNT) OLDER 3600")
    assert r.lines(b"ESEARCH")[0].rstrip().endswith(b"COUNT 2")
    (line,) = box.ok("SORT (REVERSE ARRIVAL) UTF-8 OLDER 3600").lines(b"SORT")
    assert line.split()[2:] == [b"2", b"1"]


@pytest.mark.parametrize("bad", [
    "SEARCH OLDER 0", "SEARCH YOUNGER 0", "SEARCH OLDER", "SEARCH YOUNGER -5", "SEARCH OLDER 4294967296",
    "SEARCH YOUNGER abc", "SEARCH OLDER 1-Jan-2020", "SEARCH OLDER  10",
])
def test_malformed_within_is_bad_and_connection_stays_usable(box, bad):
    r = box.command(bad)
    assert r.status == "BAD", r.tagged
    assert box.ok("SEARCH YOUNGER 3600").search() == [3]


def test_imapclient_search(srv):
    with IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10) as client:
        client.login("demo", "demo")
        client.select_folder("Within", readonly=True)
        young = client.search(["YOUNGER", 3600])
        old = client.search(["OLDER", 3600])
        assert len(young) == 1 and len(old) == 2
        assert not set(young) & set(old)
        assert b"WITHIN" in client.capabilities()

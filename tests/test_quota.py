"""QUOTA (RFC 9208) over TCP: limits set with ``pushimapd user quota`` while
the server runs, GETQUOTA / GETQUOTAROOT / SETQUOTA, NO [OVERQUOTA] on
APPEND and COPY, MOVE and MTA deliveries never refused, STATUS DELETED and
DELETED-STORAGE, and imapclient's quota calls.
"""

from __future__ import annotations

import os

import pytest
from imapclient import IMAPClient

from conftest import run_cli, started_server
from imap_raw import RawIMAP, parse

USERS = (("q1", "q1"), ("q2", "q2"), ("q3", "q3"), ("q4", "q4"))


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("quota")), users=USERS)
    yield server
    server.stop()


def connect(srv, user: str) -> RawIMAP:
    c = RawIMAP(srv.port)
    c.login(user, user)
    return c


def set_quota(srv, user: str, *options: str) -> str:
    done = run_cli("user", "quota", user, *options, root=srv.root)
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def quota_of(r) -> dict:
    """{resource: (usage, limit)} of the single QUOTA response."""
    (line,) = r.lines(b"QUOTA ")
    values = parse(line)
    assert values[2] == b"", "the quota root is the empty string"
    items = values[3]
    return {items[i].decode(): (int(items[i + 1]), int(items[i + 2])) for i in range(0, len(items), 3)}


def message(n: int, size: int = 0) -> bytes:
    return b"Subject: quota %d\r\n\r\n%s\r\n" % (n, b"q" * size)


def test_no_limits_means_no_quota_root(srv):
    with connect(srv, "q1") as c:
        r = c.ok("GETQUOTAROOT INBOX")
        assert r.lines(b"QUOTAROOT") == [b"* QUOTAROOT INBOX\r\n"]
        assert not r.lines(b"QUOTA ")
        r = c.command('GETQUOTA ""')
        assert r.status == "NO" and r.code == "NONEXISTENT"


def test_message_limit_on_append_and_copy(srv):
    out = set_quota(srv, "q2", "--messages", "3")
    assert "messages 0 of 3" in out
    with connect(srv, "q2") as c:
        c.ok("CREATE Other")
        for n in range(3):
            c.append("INBOX", message(n))
        r = c.command(b"APPEND INBOX {%d+}\r\n" % len(message(9)) + message(9))
        assert r.status == "NO" and r.code == "OVERQUOTA", r.tagged
        c.select("INBOX")
        assert c.ok("SEARCH ALL").search() == [1, 2, 3], "the refused message was not stored"
        r = c.command("COPY 1 Other")
        assert r.status == "NO" and r.code == "OVERQUOTA"
        assert quota_of(c.ok('GETQUOTA ""')) == {"MESSAGE": (3, 3)}
        # MOVE between the user's own folders adds nothing: never refused
        r = c.command("MOVE 1:2 Other")
        assert r.ok, r.tagged
        # deleting makes room again (the usage follows the change)
        c.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        c.append("INBOX", message(10))
        assert quota_of(c.ok('GETQUOTA ""')) == {"MESSAGE": (3, 3)}


def test_storage_limit_and_getquotaroot(srv):
    set_quota(srv, "q3", "--storage", "4")
    with connect(srv, "q3") as c:
        c.append("INBOX", message(1, 2000))
        r = c.command(b"APPEND INBOX {%d+}\r\n" % len(message(2, 3000)) + message(2, 3000))
        assert r.status == "NO" and r.code == "OVERQUOTA"
        c.append("INBOX", message(3, 1000))
        r = c.ok("GETQUOTAROOT INBOX")
        assert r.lines(b"QUOTAROOT") == [b'* QUOTAROOT INBOX ""\r\n']
        used = len(message(1, 2000)) + len(message(3, 1000))
        assert quota_of(r) == {"STORAGE": ((used + 1023) // 1024, 4)}
        c.select("INBOX")
        r = c.command("COPY 1 INBOX")
        assert r.status == "NO" and r.code == "OVERQUOTA"
        c.ok("COPY 2 INBOX")  # a small one still fits


def test_mta_delivery_is_never_refused_but_counts(srv):
    set_quota(srv, "q4", "--messages", "1", "--storage", "100")
    with connect(srv, "q4") as c:
        c.append("INBOX", message(1))
        for n in range(2):
            done = run_cli("deliver", "q4", stdin=message(100 + n), root=srv.root)
            assert done.returncode == 0, done.stderr
        assert len(os.listdir(os.path.join(srv.root, "q4", "new"))) == 2
        assert quota_of(c.ok('GETQUOTA ""'))["MESSAGE"] == (3, 1)
        r = c.command(b"APPEND INBOX {%d+}\r\n" % len(message(5)) + message(5))
        assert r.status == "NO" and r.code == "OVERQUOTA"
    out = set_quota(srv, "q4", "--messages", "none")
    assert "messages 3 of no limit" in out and "of 100 KiB" in out
    with connect(srv, "q4") as c:
        c.append("INBOX", message(6))
        assert quota_of(c.ok('GETQUOTA ""')) == {"STORAGE": (1, 100)}


def test_status_deleted_items(srv):
    with connect(srv, "q1") as c:
        c.ok("CREATE Del")
        for n, flags in ((1, "\\Deleted"), (2, ""), (3, "\\Deleted \\Seen")):
            c.append("Del", message(n, n * 10), flags=flags)
        (line,) = c.ok("STATUS Del (DELETED DELETED-STORAGE MESSAGES)").lines(b"STATUS")
        values = parse(line)[3]
        assert values == [b"DELETED", b"2", b"DELETED-STORAGE",
                          str(len(message(1, 10)) + len(message(3, 30))).encode(), b"MESSAGES", b"3"]


def test_setquota_is_for_the_administrator(srv):
    with connect(srv, "q1") as c:
        r = c.command('SETQUOTA "" (STORAGE 512)')
        assert r.status == "NO" and r.code == "NOPERM"


@pytest.mark.parametrize("command", [
    "GETQUOTA", "GETQUOTAROOT", 'SETQUOTA ""', 'SETQUOTA "" STORAGE 5', 'SETQUOTA "" (STORAGE)',
    'SETQUOTA "" (STORAGE x)', 'GETQUOTA "" extra', "GETQUOTAROOT (INBOX)",
])
def test_malformed_quota_commands(srv, command):
    with connect(srv, "q1") as c:
        assert c.command(command).status == "BAD", command
        c.ok("NOOP")


def test_getquotaroot_of_a_missing_mailbox(srv):
    with connect(srv, "q1") as c:
        r = c.command("GETQUOTAROOT Nowhere")
        assert r.status == "NO" and r.code == "NONEXISTENT"


def test_cli_rejects_bad_values(srv):
    done = run_cli("user", "quota", "q1", "--storage", "lots", root=srv.root)
    assert done.returncode != 0 and b"--storage" in done.stderr
    done = run_cli("user", "quota", "nobody", root=srv.root)
    assert done.returncode != 0 and b"no such user" in done.stderr


def test_imapclient_quota(srv):
    client = IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10)
    try:
        client.login("q3", "q3")
        for cap in (b"QUOTA", b"QUOTA=RES-STORAGE", b"QUOTA=RES-MESSAGE"):
            assert cap in client.capabilities()
        roots, quotas = client.get_quota_root("INBOX")
        assert roots.mailbox == "INBOX" and roots.quota_roots == [""]
        assert [(q.quota_root, q.resource, q.limit) for q in quotas] == [("", "STORAGE", 4)]
        assert client.get_quota()[0].usage == quotas[0].usage
    finally:
        client.logout()

"""``pushimapd event``: changes another client would make, seen by open sessions.

The CLI runs in its own process through the storage code; the server learns
of the change from inotify and the folder index. Every check waits for the
untagged response in IDLE with a deadline (no sleeps).
"""

from __future__ import annotations

import os
import re

import pytest

from imap_raw import RawIMAP, quote
from testbed_util import cli, parse_trace, start_testbed, trace_files, wait_trace

DEADLINE = 10.0


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("events")
    root, traces = str(base / "mail"), str(base / "traces")
    os.makedirs(root)
    server = start_testbed(root, traces)
    server.root, server.traces = root, traces
    yield server
    server.stop()


def event(srv, *args: str, stdin: bytes = b"") -> str:
    return cli(srv.root, "event", "demo", *args, stdin=stdin)


class Idler:
    """A session in IDLE on one mailbox."""

    def __init__(self, srv, mailbox: str = "INBOX", enable: str = ""):
        self.c = RawIMAP(srv.port)
        self.c.login()
        if enable:
            self.c.ok("ENABLE " + enable)
        self.selected = self.c.ok(b"SELECT " + quote(mailbox))
        self.uids = [int(f[1]["UID"]) for f in self.c.ok("FETCH 1:* (UID)").fetches()] if self.exists else []
        self.c.send(b"idle IDLE\r\n")
        assert self.c.read_response().startswith(b"+")

    @property
    def exists(self) -> int:
        return self.selected.numbers(b"EXISTS")[-1]

    def wait(self, pattern: bytes) -> re.Match:
        seen = self.c.wait_for(lambda r: re.match(pattern, r) is not None, timeout=DEADLINE)
        return re.match(pattern, seen[-1])

    def close(self) -> None:
        self.c.send(b"DONE\r\n")
        self.c.read_until_tagged(b"idle")
        self.c.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.c.close()


def test_flags_are_seen_as_fetch(srv):
    with Idler(srv) as idle:
        uid = idle.uids[0]
        out = event(srv, "flags", "--mailbox", "INBOX", "--uid", str(uid), "+\\Flagged $Important")
        assert "changed" in out
        m = idle.wait(rb"\* 1 FETCH \(FLAGS \(([^)]*)\)\)\r\n")
        assert {"\\Flagged", "$Important"} <= set(m.group(1).decode().split())
        event(srv, "flags", "--mailbox", "INBOX", "--uid", str(uid), "-\\Flagged")
        m = idle.wait(rb"\* 1 FETCH \(FLAGS \(([^)]*)\)\)\r\n")
        assert "\\Flagged" not in m.group(1).decode().split()
    path = wait_trace(srv.traces, r"\* event \(pushimapd event\): flags INBOX UID %d \+\\\\Flagged" % uid, "demo")
    assert all(len(t) == 3 for t in parse_trace(path))


def test_expunge_is_seen_as_expunge_or_vanished(srv):
    with Idler(srv) as plain, Idler(srv, enable="QRESYNC") as qresync:
        uid = plain.uids[-1]
        event(srv, "expunge", "--mailbox", "INBOX", "--uid", str(uid))
        plain.wait(rb"\* %d EXPUNGE\r\n" % plain.exists)
        qresync.wait(rb"\* VANISHED %d\r\n" % uid)
    done = RawIMAP(srv.port)
    done.login()
    assert done.ok(f"EXAMINE INBOX").ok and done.ok(f"UID SEARCH UID {uid}").search() == []
    done.close()


def test_move_expunges_here_and_exists_there(srv):
    with Idler(srv, "INBOX") as source, Idler(srv, "Archive") as target:
        uid = source.uids[0]
        out = event(srv, "move", "--mailbox", "INBOX", "--uid", str(uid), "--to", "Archive")
        new_uid = int(re.search(r"new UID (\d+)", out).group(1))
        source.wait(rb"\* 1 EXPUNGE\r\n")
        target.wait(rb"\* %d EXISTS\r\n" % (target.exists + 1))
        assert new_uid > max(target.uids)


def test_deliver_from_stdin_and_sample(srv):
    with Idler(srv) as idle:
        event(srv, "deliver", stdin=b"Subject: from stdin\r\n\r\nhello\r\n")
        idle.wait(rb"\* %d EXISTS\r\n" % (idle.exists + 1))
        event(srv, "deliver", "--sample")
        idle.wait(rb"\* %d EXISTS\r\n" % (idle.exists + 2))
    with Idler(srv, "Sent") as sent:
        event(srv, "deliver", "--sample", "--folder", "Sent")
        sent.wait(rb"\* %d EXISTS\r\n" % (sent.exists + 1))


def list_names(srv) -> set[str]:
    with RawIMAP(srv.port) as c:
        c.login()
        return {re.search(rb'"([^"]*)"\r\n$', line).group(1).decode() for line in c.ok('LIST "" "*"').lines(b"LIST")}


def test_create_rename_delete(srv):
    event(srv, "create", "--mailbox", "Projects")
    assert "Projects" in list_names(srv)
    event(srv, "deliver", "--sample", "--folder", "Projects")
    event(srv, "rename", "--mailbox", "Projects", "--to", "Projects 2025")
    names = list_names(srv)
    assert "Projects 2025" in names and "Projects" not in names
    with RawIMAP(srv.port) as c:
        c.login()
        assert c.ok('SELECT "Projects 2025"').numbers(b"EXISTS") == [1]
    event(srv, "create", "--mailbox", "Entwürfe alt")  # typed in UTF-8, stored in modified UTF-7
    assert "Entw&APw-rfe alt" in list_names(srv)
    event(srv, "delete", "--mailbox", "Projects 2025")
    assert "Projects 2025" not in list_names(srv)


def test_rename_and_delete_of_the_selected_mailbox(srv):
    event(srv, "create", "--mailbox", "Doomed")
    for _ in range(2):
        event(srv, "deliver", "--sample", "--folder", "Doomed")
    with Idler(srv, "Doomed") as idle:
        assert idle.exists == 2
        event(srv, "rename", "--mailbox", "Doomed", "--to", "Renamed")
        idle.wait(rb"\* 2 EXPUNGE\r\n")
        idle.wait(rb"\* 1 EXPUNGE\r\n")
    with Idler(srv, "Renamed") as idle:  # the messages moved with the folder, with their UIDs
        assert idle.exists == 2 and idle.uids == [1, 2]
        event(srv, "delete", "--mailbox", "Renamed")
        idle.wait(rb"\* 2 EXPUNGE\r\n")


def test_event_cli_refuses_what_it_cannot_do(srv):
    from conftest import run_cli

    for args in (["flags", "--mailbox", "INBOX", "--uid", "1"], ["flags", "--mailbox", "INBOX", "--uid", "99999",
                                                                 "+\\Seen"],
                 ["flags", "--mailbox", "INBOX", "--uid", "1", "+\\Recent"], ["expunge", "--mailbox", "Nope",
                                                                              "--uid", "1"],
                 ["move", "--mailbox", "INBOX", "--uid", "1"], ["rename", "--mailbox", "Nope", "--to", "X"],
                 ["create", "--mailbox", "INBOX"], ["delete", "--mailbox", "INBOX"],
                 ["deliver", "--folder", "Nope", "--sample"]):
        done = run_cli("event", "demo", *args, root=srv.root)
        assert done.returncode != 0, args
        assert done.stderr.startswith(b"pushimapd: ") and done.stderr.count(b"\n") == 1, (args, done.stderr)
    done = run_cli("event", "nobody", "deliver", "--sample", root=srv.root)
    assert done.returncode != 0 and b"no such user" in done.stderr
    assert trace_files(srv.traces) is not None

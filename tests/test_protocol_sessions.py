"""Several sessions on one mailbox (RFC 3501 5.2, 5.5, 7.4.1; RFC 2177 IDLE).

Each session keeps its own message sequence numbers; news from other
sessions and from other programs (an MTA delivering, a file deleted or
renamed in the Maildir) reaches a session only at moments where it may
change the numbering: never an EXPUNGE while it answers FETCH, STORE or
SEARCH. Every test uses a mailbox of its own on a shared server; waits are
socket reads with deadlines, never sleeps.
"""

from __future__ import annotations

import os

import pytest

from conftest import ServerProcess, run_cli
from imap_raw import RawIMAP, apply_expunges, quote


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("sessions")
    # a short rescan interval so that IDLE notices deliveries by other programs quickly
    server = ServerProcess(str(root), extra_args=["--sync-interval", "0.2"])
    server.add_users()
    server.start()
    yield server
    server.stop()


def message(subject: str) -> bytes:
    return (f"From: sender@example.org\r\nTo: demo@example.org\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '.')}@example.org>\r\n\r\nBody of {subject}.\r\n").encode()


@pytest.fixture
def box(srv, request):
    """A new mailbox named after the test with three messages, selected by session A.

    Returns (name, uids, A); A selected it first, so A holds the recent flags.
    """
    name = "S" + request.node.name.replace("_", "")[4:40]
    c = RawIMAP(srv.port)
    c.login()
    c.ok(b"CREATE " + quote(name))
    uids = [int(c.append(name, message(f"{name} {i}")).code.split()[2]) for i in range(1, 4)]
    c.select(name)
    yield name, uids, c
    c.close()


@pytest.fixture
def sessions(srv, box):
    """Two sessions, A and B, with the test's mailbox selected (A first)."""
    name, _, a = box
    b = RawIMAP(srv.port)
    b.login()
    b.select(name)
    yield a, b
    b.close()


def folder_dir(srv, name: str) -> str:
    return os.path.join(srv.root, "demo", "." + name)


def file_of(srv, name: str, subject: str) -> str:
    """Path of the stored file whose Subject is ``subject``."""
    for sub in ("cur", "new"):
        d = os.path.join(folder_dir(srv, name), sub)
        for entry in os.listdir(d):
            with open(os.path.join(d, entry), "rb") as f:
                if f"Subject: {subject}\r\n".encode() in f.read():
                    return os.path.join(d, entry)
    raise AssertionError(f"no file with subject {subject!r}")


def uids_by_seq(c: RawIMAP) -> list:
    found = c.ok("FETCH 1:* UID").fetch_map()
    assert not [u for u in c.ok("NOOP").untagged if b"EXPUNGE" in u], "unexpected news"
    return [int(found[s]["UID"]) for s in sorted(found)]


def no_expunge(r) -> None:
    assert r.numbers(b"EXPUNGE") == [], f"EXPUNGE must not be sent now: {r.untagged!r}"


def expunge(c: RawIMAP, seq: int):
    c.ok(f"STORE {seq} +FLAGS.SILENT (\\Deleted)")
    return c.ok("EXPUNGE")


# -- sequence numbers ---------------------------------------------------------------------------
def test_each_session_keeps_its_own_sequence_numbers(sessions, box):
    a, b = sessions
    _, uids, _ = box
    r = expunge(a, 1)
    assert r.numbers(b"EXPUNGE") == [1]
    assert uids_by_seq(a) == uids[1:]
    # B has not been told: its message 3 is still the third message, 2 the second
    r = b.ok("FETCH 3 UID")
    assert r.fetch_map() == {3: {"UID": str(uids[2]).encode()}}
    no_expunge(r)
    r = b.ok("FETCH 2 UID")
    assert int(r.fetch_map()[2]["UID"]) == uids[1]
    r = b.ok("NOOP")
    assert r.numbers(b"EXPUNGE") == [1]
    assert int(b.ok("FETCH 2 UID").fetch_map()[2]["UID"]) == uids[2]
    assert b.command("FETCH 3 UID").status in ("BAD", "NO")  # only two messages now


def test_store_uses_the_sessions_own_numbers(sessions, box):
    a, b = sessions
    _, uids, _ = box
    expunge(a, 1)
    r = b.ok("STORE 3 +FLAGS (\\Flagged)")  # B's message 3 is still uids[2]
    no_expunge(r)
    flagged = a.ok("UID SEARCH FLAGGED")
    assert flagged.search() == [uids[2]]


def test_search_uses_the_sessions_own_numbers(sessions, box):
    a, b = sessions
    _, uids, _ = box
    expunge(a, 1)
    r = b.ok("SEARCH ALL")
    no_expunge(r)
    found = set(r.search())
    assert {2, 3} <= found <= {1, 2, 3}
    r = b.ok("SEARCH UID %d" % uids[2])
    assert r.search() == [3]


# -- news at allowed moments ---------------------------------------------------------------------
def test_exists_reaches_other_session_on_noop(srv, sessions, box):
    a, b = sessions
    name, _, _ = box
    with RawIMAP(srv.port) as c:
        c.login()
        c.append(name, message("appended elsewhere"))
    for s in (a, b):
        r = s.ok("NOOP")
        assert r.numbers(b"EXISTS") == [4], r.untagged
    assert uids_by_seq(a) == uids_by_seq(b)


def test_append_by_one_session_reaches_the_other(sessions, box):
    a, b = sessions
    name, _, _ = box
    r = a.append(name, message("appended by A"))
    assert r.numbers(b"EXISTS") == [4]
    r = b.ok("NOOP")
    assert r.numbers(b"EXISTS") == [4]
    # the new message is \Recent in exactly one session
    recent = [b"\\Recent" in s.ok("FETCH 4 FLAGS").fetch_map()[4]["FLAGS"] for s in (a, b)]
    assert recent.count(True) == 1


def test_flag_change_reaches_other_session_on_noop(sessions):
    a, b = sessions
    a.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    r = b.ok("NOOP")
    assert r.fetch_map() and set(r.fetch_map()) == {2}, r.untagged
    assert b"\\Flagged" in r.fetch_map()[2]["FLAGS"]
    # a non-PEEK fetch in A sets \Seen: B hears of it too
    a.ok("FETCH 3 BODY[TEXT]")
    r = b.ok("NOOP")
    assert b"\\Seen" in r.fetch_map()[3]["FLAGS"]


def test_no_expunge_during_fetch_store_search_then_on_noop(sessions, box):
    a, b = sessions
    _, uids, _ = box
    r = expunge(a, 1)
    assert r.numbers(b"EXPUNGE") == [1]
    r = b.ok("FETCH 1:* (UID FLAGS)")
    no_expunge(r)
    assert {int(v["UID"]) for v in r.fetch_map().values()} >= set(uids[1:])
    no_expunge(b.ok("FETCH 2:3 BODY.PEEK[HEADER.FIELDS (SUBJECT)]"))
    no_expunge(b.ok("STORE 2 +FLAGS (\\Answered)"))
    no_expunge(b.ok("STORE 3 -FLAGS.SILENT (\\Answered)"))
    no_expunge(b.ok("SEARCH ALL"))
    no_expunge(b.ok("SEARCH UNDELETED"))
    r = b.ok("NOOP")
    assert r.numbers(b"EXPUNGE") == [1]
    assert uids_by_seq(b) == uids[1:]


def test_pending_expunge_sent_after_fetch_on_noop(sessions, box):
    a, b = sessions
    _, uids, _ = box
    expunge(a, 2)
    r = b.command("FETCH 2 BODY.PEEK[]")  # the message B still sees as 2 is gone
    no_expunge(r)
    assert r.status in ("OK", "NO")
    r = b.ok("NOOP")
    assert r.numbers(b"EXPUNGE") == [2]
    assert uids_by_seq(b) == [uids[0], uids[2]]


def test_check_and_noop_both_deliver_pending_expunges(srv, sessions, box):
    a, b = sessions
    name, uids, _ = box
    expunge(a, 3)
    r = b.ok("CHECK")
    r2 = b.ok("NOOP")
    assert r.numbers(b"EXPUNGE") + r2.numbers(b"EXPUNGE") == [3]


def test_close_in_one_session_expunges_in_the_other(sessions, box):
    a, b = sessions
    _, uids, _ = box
    a.ok("STORE 1,3 +FLAGS.SILENT (\\Deleted)")
    r = a.ok("CLOSE")
    no_expunge(r)
    r = b.ok("NOOP")
    assert apply_expunges(uids, r.untagged) == [uids[1]]


def test_move_reaches_sessions_of_both_mailboxes(srv, sessions, box):
    a, b = sessions
    name, uids, _ = box
    target = name + "T"
    a.ok(b"CREATE " + quote(target))
    with RawIMAP(srv.port) as c:
        c.login()
        c.select(target)
        r = a.ok(b"MOVE 2 " + quote(target))
        assert r.numbers(b"EXPUNGE") == [2]
        assert c.ok("NOOP").numbers(b"EXISTS") == [1]
    r = b.ok("NOOP")
    assert r.numbers(b"EXPUNGE") == [2]
    assert uids_by_seq(b) == [uids[0], uids[2]]


# -- changes made by other programs ----------------------------------------------------------------
def test_file_deleted_behind_the_servers_back(srv, sessions, box):
    a, b = sessions
    name, uids, _ = box
    os.unlink(file_of(srv, name, f"{name} 2"))
    for s in (a, b):
        r = s.ok("NOOP")
        assert r.numbers(b"EXPUNGE") == [2], r.untagged
        assert uids_by_seq(s) == [uids[0], uids[2]]


def test_file_deleted_is_held_back_during_fetch(srv, sessions, box):
    a, b = sessions
    name, uids, _ = box
    os.unlink(file_of(srv, name, f"{name} 1"))
    r = b.command("FETCH 1:* UID")
    no_expunge(r)
    r = b.ok("NOOP")
    assert r.numbers(b"EXPUNGE") == [1]
    assert a.ok("NOOP").numbers(b"EXPUNGE") == [1]


def test_delivery_by_cli_shows_up_at_next_noop(srv, sessions, box):
    a, b = sessions
    name, uids, _ = box
    done = run_cli("deliver", "demo", "--folder", name, stdin=message("delivered"), root=srv.root)
    assert done.returncode == 0, done.stderr
    for s in (a, b):
        r = s.ok("NOOP")
        assert r.numbers(b"EXISTS") == [4], r.untagged
    subjects = [s.ok("FETCH 4 BODY.PEEK[HEADER.FIELDS (SUBJECT)]").fetch_map()[4] for s in (a, b)]
    assert all(v["BODY[HEADER.FIELDS (SUBJECT)]"] == b"Subject: delivered\r\n\r\n" for v in subjects)
    recent = [b"\\Recent" in s.ok("FETCH 4 FLAGS").fetch_map()[4]["FLAGS"] for s in (a, b)]
    assert recent.count(True) == 1
    assert uids_by_seq(a)[-1] > uids[-1]


def test_file_renamed_to_change_flags(srv, sessions, box):
    a, b = sessions
    name, uids, _ = box
    path = file_of(srv, name, f"{name} 1")
    base = os.path.basename(path).split(":2,")[0]
    os.rename(path, os.path.join(folder_dir(srv, name), "cur", base + ":2,FS"))
    for s in (a, b):
        r = s.ok("NOOP")
        fm = r.fetch_map()
        assert set(fm) == {1}, r.untagged
        assert {b"\\Flagged", b"\\Seen"} <= set(fm[1]["FLAGS"])
        no_expunge(r)
        assert r.numbers(b"EXISTS") == []
    assert int(a.ok("FETCH 1 UID").fetch_map()[1]["UID"]) == uids[0]  # same message, same UID


# -- IDLE ------------------------------------------------------------------------------------------
def start_idle(c: RawIMAP, tag: bytes) -> None:
    c.send(tag + b" IDLE\r\n")
    cont = c.read_response()
    assert cont.startswith(b"+"), cont


def stop_idle(c: RawIMAP, tag: bytes):
    c.send(b"DONE\r\n")
    r = c.read_until_tagged(tag)
    assert r.ok, r.tagged
    return r


def test_idle_in_two_sessions_both_see_a_delivery(srv, sessions, box):
    a, b = sessions
    name, _, _ = box
    start_idle(a, b"ia")
    start_idle(b, b"ib")
    done = run_cli("deliver", "demo", "--folder", name, stdin=message("pushed"), root=srv.root)
    assert done.returncode == 0, done.stderr
    for s in (a, b):
        s.wait_for(lambda r: r == b"* 4 EXISTS\r\n", timeout=10)
    stop_idle(a, b"ia")
    stop_idle(b, b"ib")
    assert a.command("NOOP").ok and b.command("NOOP").ok


def test_idle_sees_flags_and_expunge_of_other_session(sessions, box):
    a, b = sessions
    _, uids, _ = box
    start_idle(a, b"ia")
    b.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    seen = a.wait_for(lambda r: b" FETCH " in r, timeout=10)
    assert seen[-1].startswith(b"* 2 FETCH") and b"\\Flagged" in seen[-1]
    expunge(b, 2)
    a.wait_for(lambda r: r == b"* 2 EXPUNGE\r\n", timeout=10)
    stop_idle(a, b"ia")
    assert uids_by_seq(a) == [uids[0], uids[2]]


def test_idle_sees_a_file_deleted_behind_the_servers_back(srv, sessions, box):
    a, b = sessions
    name, uids, _ = box
    start_idle(a, b"ia")
    os.unlink(file_of(srv, name, f"{name} 3"))
    a.wait_for(lambda r: r == b"* 3 EXPUNGE\r\n", timeout=10)
    stop_idle(a, b"ia")
    assert b.ok("NOOP").numbers(b"EXPUNGE") == [3]


def test_news_queued_before_idle_is_sent_when_idle_starts(sessions, box):
    a, b = sessions
    _, uids, _ = box
    expunge(a, 1)
    b.send(b"ib IDLE\r\n")
    seen = b.wait_for(lambda r: r == b"* 1 EXPUNGE\r\n", timeout=10)
    if not any(r.startswith(b"+") for r in seen):
        assert b.read_response().startswith(b"+")
    no_expunge(stop_idle(b, b"ib"))
    assert uids_by_seq(b) == uids[1:]


# -- sessions of different server runs ----------------------------------------------------------------
def test_uids_flags_and_uidvalidity_survive_a_restart(tmp_path):
    """RFC 3501 2.3.1.1: UIDs persist between sessions unless UIDVALIDITY changes."""
    root = str(tmp_path / "mail")
    os.makedirs(root)
    server = ServerProcess(root)
    server.add_users()
    server.start()
    try:
        with RawIMAP(server.port) as c:
            c.login()
            c.ok("CREATE Keep")
            for i in range(3):
                c.append("Keep", message(f"keep {i}"), flags="\\Flagged" if i == 1 else "")
            c.select("Keep")
            c.ok("STORE 1 +FLAGS.SILENT (\\Deleted $Kept)")
            c.ok("EXPUNGE")
            c.ok("STORE 1 +FLAGS.SILENT ($Kept)")
            before = c.ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])").fetch_map()
            validity = c.ok("STATUS INBOX (UIDVALIDITY)").lines(b"STATUS")
            keep_validity = c.select("Keep").code_value("UIDVALIDITY")
            uidnext = c.select("Keep").code_value("UIDNEXT")
    finally:
        server.stop()
    # mail delivered while the server is down gets higher UIDs, in delivery order
    for i in range(2):
        done = run_cli("deliver", "demo", "--folder", "Keep", stdin=message(f"while down {i}"), root=root)
        assert done.returncode == 0, done.stderr
    server.start()
    try:
        with RawIMAP(server.port) as c:
            c.login()
            assert c.ok("STATUS INBOX (UIDVALIDITY)").lines(b"STATUS") == validity
            r = c.select("Keep")
            assert r.code_value("UIDVALIDITY") == keep_validity
            assert r.numbers(b"EXISTS") == [4] and r.numbers(b"RECENT") == [2]
            after = c.ok("FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])").fetch_map()
            for seq in (1, 2):
                assert after[seq]["UID"] == before[seq]["UID"]
                assert set(after[seq]["FLAGS"]) - {b"\\Recent"} == set(before[seq]["FLAGS"]) - {b"\\Recent"}
                assert after[seq]["BODY[HEADER.FIELDS (SUBJECT)]"] == before[seq]["BODY[HEADER.FIELDS (SUBJECT)]"]
            new_uids = [int(after[s]["UID"]) for s in (3, 4)]
            assert int(uidnext) <= new_uids[0] < new_uids[1]
            subjects = [after[s]["BODY[HEADER.FIELDS (SUBJECT)]"] for s in (3, 4)]
            assert subjects == [b"Subject: while down 0\r\n\r\n", b"Subject: while down 1\r\n\r\n"]
    finally:
        server.stop()

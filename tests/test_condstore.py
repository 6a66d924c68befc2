"""CONDSTORE and QRESYNC (RFC 7162) over TCP, with the RFC's examples adapted
to this server's numbers, several sessions, other programs changing files,
restarts and kill -9, and imapclient's CONDSTORE helpers."""

from __future__ import annotations

import os
import random
import re
import signal

import imapclient
import pytest

from conftest import run_cli, started_server
from imap_raw import RawIMAP, parse_fetch


def message(i: int) -> bytes:
    return b"Subject: m%d\r\nMessage-ID: <%d@example.org>\r\n\r\nbody %d\r\n" % (i, i, i)


@pytest.fixture
def srv(tmp_path):
    root = str(tmp_path / "mail")
    os.mkdir(root)
    server = started_server(root)
    yield server
    server.stop()


def filled(srv, count: int = 5, mailbox: str = "INBOX") -> None:
    with RawIMAP(srv.port) as c:
        c.login()
        if mailbox != "INBOX":
            c.ok("CREATE " + mailbox)
        for i in range(count):
            c.append(mailbox, message(i))


def connect(srv, *commands: str) -> RawIMAP:
    c = RawIMAP(srv.port)
    c.login()
    for command in commands:
        c.ok(command)
    return c


def code_number(response, name: str) -> int:
    return int(response.code_value(name))


def modseqs(response) -> dict:
    """{uid or seq: modseq} from FETCH responses (keyed by UID when present)."""
    out = {}
    for seq, items in response.fetches():
        out[int(items.get("UID", seq))] = int(items["MODSEQ"][0])
    return out


def idle_until(c: RawIMAP, predicate) -> list:
    """IDLE until a response satisfies ``predicate``; returns what arrived."""
    c.send(b"i IDLE\r\n")
    assert c.read_response().startswith(b"+")
    seen = c.wait_for(predicate)
    c.send(b"DONE\r\n")
    seen += c.read_until_tagged(b"i").untagged
    return seen


def highest(c: RawIMAP, mailbox: str = "INBOX") -> int:
    r = c.ok(f"STATUS {mailbox} (HIGHESTMODSEQ)")
    return int(re.search(rb"HIGHESTMODSEQ (\d+)", r.untagged[0]).group(1))


# -- CONDSTORE ------------------------------------------------------------------------------
def test_select_condstore_reports_highestmodseq_and_fetch_modseq(srv):
    filled(srv)
    with connect(srv) as c:
        plain = c.ok("SELECT INBOX")
        assert plain.code_value("HIGHESTMODSEQ") is None  # not enabled: nothing new for old clients
        r = c.ok("SELECT INBOX (CONDSTORE)")
        top = code_number(r, "HIGHESTMODSEQ")
        r = c.ok("FETCH 1:* (UID MODSEQ)")
        seen = modseqs(r)
        assert sorted(seen) == [1, 2, 3, 4, 5] and max(seen.values()) == top
        assert len(set(seen.values())) == 5  # every APPEND was its own change
        r = c.ok("EXAMINE INBOX (CONDSTORE)")
        assert code_number(r, "HIGHESTMODSEQ") == top


def test_fetch_modseq_enables_condstore_and_flags_then_carry_modseq(srv):
    filled(srv, 2)
    with connect(srv, "SELECT INBOX") as c:
        r = c.ok("FETCH 1 (FLAGS)")
        assert b"MODSEQ" not in r.untagged[0]
        r = c.ok("FETCH 1 (MODSEQ)")
        assert any(b"[HIGHESTMODSEQ " in u for u in r.untagged)  # told when enabled while selected
        r = c.ok("FETCH 1 (FLAGS)")
        assert b"MODSEQ (" in r.untagged[0]


def test_store_gives_a_new_modseq_and_unchangedsince_reports_modified(srv):
    filled(srv, 5)
    with connect(srv, "ENABLE CONDSTORE", "SELECT INBOX") as c:
        before = modseqs(c.ok("UID FETCH 1:* (MODSEQ)"))
        r = c.ok("STORE 2 +FLAGS (\\Seen)")
        (seq, items), = r.fetches()
        changed = int(items["MODSEQ"][0])
        assert seq == 2 and changed > max(before.values()) and b"\\Seen" in items["FLAGS"]
        # RFC 7162 3.1.3 example 1: only messages unchanged since the value are stored
        r = c.command("UID STORE 1:5 (UNCHANGEDSINCE %d) +FLAGS.SILENT (\\Flagged)" % max(before.values()))
        assert r.status == "OK" and r.code == "MODIFIED 2"
        silent = {int(items["UID"]): items for _, items in r.fetches()}
        assert sorted(silent) == [1, 3, 4, 5]  # .SILENT still tells the new modseq
        assert all("FLAGS" not in items and int(items["MODSEQ"][0]) > changed for items in silent.values())
        flags = c.ok("UID FETCH 1:5 (FLAGS)").fetch_map()
        assert b"\\Flagged" not in flags[2]["FLAGS"] and b"\\Flagged" in flags[1]["FLAGS"]
        # STORE (not UID STORE) names the failed messages by sequence number
        c.ok("EXPUNGE")
        r = c.command("STORE 3:4 (UNCHANGEDSINCE 1) -FLAGS (\\Flagged)")
        assert r.status == "OK" and r.code == "MODIFIED 3:4"
        # UNCHANGEDSINCE 0 never succeeds; a value above everything always does
        assert c.command("STORE 1 (UNCHANGEDSINCE 0) +FLAGS (\\Draft)").code == "MODIFIED 1"
        r = c.ok("STORE 1 (UNCHANGEDSINCE 9999999) +FLAGS (\\Draft)")
        assert r.code is None and b"\\Draft" in r.fetches()[0][1]["FLAGS"]


def test_store_that_changes_nothing_keeps_the_modseq(srv):
    filled(srv, 1)
    with connect(srv, "ENABLE CONDSTORE", "SELECT INBOX") as c:
        first = modseqs(c.ok("STORE 1 +FLAGS (\\Seen)"))[1]
        again = modseqs(c.ok("STORE 1 +FLAGS (\\Seen)"))[1]
        assert again == first


def test_fetch_changedsince(srv):
    filled(srv, 10)
    with connect(srv, "SELECT INBOX") as c:
        top = highest(c)
        c.ok("STORE 3,7 +FLAGS (\\Answered)")
        r = c.ok("FETCH 1:* (FLAGS) (CHANGEDSINCE %d)" % top)
        assert [seq for seq, _ in r.fetches()] == [3, 7]
        assert all("MODSEQ" in items for _, items in r.fetches())
        r = c.ok("UID FETCH 1:5 (UID) (CHANGEDSINCE %d)" % top)
        assert [int(items["UID"]) for _, items in r.fetches()] == [3]
        assert c.command("FETCH 1 (FLAGS) (CHANGEDSINCE 1 VANISHED)").status == "BAD"  # QRESYNC only


def test_search_modseq_returns_the_highest_modseq(srv):
    filled(srv, 6)
    with connect(srv, "SELECT INBOX") as c:
        top = highest(c)
        r = c.ok("STORE 2,5 +FLAGS (\\Flagged)")
        newest = max(modseqs(r).values())
        r = c.ok("SEARCH MODSEQ %d" % (top + 1))
        assert r.untagged == [b"* SEARCH 2 5 (MODSEQ %d)\r\n" % newest]
        r = c.ok('UID SEARCH MODSEQ "/flags/\\\\flagged" all %d FLAGGED' % (top + 1))
        assert r.untagged == [b"* SEARCH 2 5 (MODSEQ %d)\r\n" % newest]
        r = c.ok("SEARCH MODSEQ %d" % (newest + 1))
        assert r.untagged == [b"* SEARCH\r\n"]  # nothing found: no MODSEQ
        r = c.ok("UID SEARCH RETURN (COUNT ALL) MODSEQ %d" % (top + 1))
        assert r.untagged[0].endswith(b"UID ALL 2,5 COUNT 2 MODSEQ %d\r\n" % newest)
        assert c.command('SEARCH MODSEQ "/flags/x" wrong 3').status == "BAD"


def test_other_sessions_see_flag_changes_with_modseq(srv):
    filled(srv, 3)
    with connect(srv, "ENABLE CONDSTORE", "SELECT INBOX") as a, connect(srv, "SELECT INBOX") as b, \
            connect(srv, "ENABLE CONDSTORE", "SELECT INBOX") as c:
        changed = modseqs(a.ok("STORE 2 +FLAGS (\\Seen)"))[2]
        r = b.ok("NOOP")
        assert r.untagged == [b"* 2 FETCH (FLAGS (\\Seen))\r\n"]  # no CONDSTORE: as RFC 3501
        r = c.ok("NOOP")
        assert r.untagged == [b"* 2 FETCH (FLAGS (\\Seen) MODSEQ (%d))\r\n" % changed]


def test_every_change_gets_a_modseq_whoever_made_it(srv):
    """A delivery, another program's rename and its delete each raise HIGHESTMODSEQ."""
    filled(srv, 3)
    with connect(srv, "ENABLE CONDSTORE", "SELECT INBOX") as c:
        top = highest(c)
        done = run_cli("deliver", "demo", stdin=message(9), root=srv.root)
        assert done.returncode == 0
        idle_until(c, lambda r: r.endswith(b"EXISTS\r\n"))
        after_delivery = highest(c)
        assert after_delivery > top
        assert modseqs(c.ok("UID FETCH 4 (MODSEQ)"))[4] == after_delivery
        cur = os.path.join(srv.root, "demo", "cur")
        name = sorted(os.listdir(cur))[0]
        os.rename(os.path.join(cur, name), os.path.join(cur, name.split(":")[0] + ":2,F"))
        seen = idle_until(c, lambda line: b"FETCH" in line)
        fetched = parse_fetch([line for line in seen if b"FETCH" in line][0])[1]
        assert b"\\Flagged" in fetched["FLAGS"] and int(fetched["MODSEQ"][0]) > after_delivery
        renamed = highest(c)
        os.unlink(os.path.join(cur, sorted(os.listdir(cur))[1]))
        idle_until(c, lambda line: line.endswith(b"EXPUNGE\r\n"))
        assert highest(c) > renamed


def test_modseqs_survive_restart_and_never_go_backwards(srv):
    filled(srv, 4)
    with connect(srv, "ENABLE CONDSTORE", "SELECT INBOX") as c:
        c.ok("STORE 1:2 +FLAGS (\\Seen)")
        before = modseqs(c.ok("UID FETCH 1:* (MODSEQ)"))
        top = highest(c)
    srv.stop()
    srv.start()
    with connect(srv, "SELECT INBOX (CONDSTORE)") as c:
        assert modseqs(c.ok("UID FETCH 1:* (MODSEQ)")) == before
        assert highest(c) == top
        assert modseqs(c.ok("STORE 3 +FLAGS (\\Seen)"))[3] > top


def test_kill_9_while_flags_change_loses_no_acknowledged_change(srv):
    filled(srv, 20)
    rng = random.Random(3)
    acknowledged: dict = {}  # uid -> (flag present?, modseq told)
    top = 0
    for _ in range(4):
        c = connect(srv, "ENABLE CONDSTORE", "SELECT INBOX")
        for _ in range(15):
            uid = rng.randint(1, 20)
            sign = rng.choice("+-")
            r = c.ok("UID STORE %d %sFLAGS (\\Flagged)" % (uid, sign))
            items = r.fetches()[0][1]
            acknowledged[uid] = (b"\\Flagged" in items["FLAGS"], int(items["MODSEQ"][0]))
            top = max(top, int(items["MODSEQ"][0]))
        c.send(b"x UID STORE 1:20 +FLAGS.SILENT ($Busy)\r\n")  # in flight when the server dies
        srv.stop(signal.SIGKILL)
        c.close()
        srv.start()
        with connect(srv, "ENABLE CONDSTORE", "SELECT INBOX") as check:
            now = check.ok("UID FETCH 1:20 (FLAGS MODSEQ)").fetch_map()
            assert highest(check) >= top
            for uid, (flagged, modseq) in acknowledged.items():
                items = now[uid]
                assert (b"\\Flagged" in items["FLAGS"]) == flagged
                assert int(items["MODSEQ"][0]) >= modseq
            top = highest(check)


# -- QRESYNC ----------------------------------------------------------------------------------
def uidvalidity(c: RawIMAP) -> int:
    r = c.ok("STATUS INBOX (UIDVALIDITY)")
    return int(re.search(rb"UIDVALIDITY (\d+)", r.untagged[0]).group(1))


def test_enable_qresync_and_select_needs_it(srv):
    filled(srv, 1)
    with connect(srv) as c:
        v = uidvalidity(c)
        assert c.command("SELECT INBOX (QRESYNC (%d 1))" % v).status == "BAD"
        r = c.ok("ENABLE QRESYNC")
        assert r.untagged == [b"* ENABLED QRESYNC\r\n"]
        assert c.ok("ENABLE QRESYNC CONDSTORE").untagged == [b"* ENABLED\r\n"]  # both on already
        assert c.command("SELECT INBOX (QRESYNC (%d 0))" % v).status == "BAD"  # modseq 0 is not allowed
        assert c.command("SELECT INBOX (QRESYNC)").status == "BAD"
        assert c.command("SELECT INBOX (QRESYNC (%d 1) CONDSTORE BOGUS)" % v).status == "BAD"


def test_expunges_are_vanished_after_enable_qresync(srv):
    filled(srv, 6)
    with connect(srv, "ENABLE QRESYNC", "SELECT INBOX") as a, connect(srv, "SELECT INBOX") as old:
        a.ok("STORE 2,4:5 +FLAGS.SILENT (\\Deleted)")
        r = a.ok("EXPUNGE")
        assert [u for u in r.untagged if b"VANISHED" in u or b"EXPUNGE" in u] == [b"* VANISHED 2,4:5\r\n"]
        r = old.ok("NOOP")  # a session without QRESYNC still gets EXPUNGE
        assert r.numbers(b"EXPUNGE") == [5, 4, 2]
        r = a.ok("UID EXPUNGE 1:3")  # nothing \Deleted left among them
        assert not any(b"VANISHED" in u for u in r.untagged)
        a.ok("CREATE Other")
        r = a.ok("UID MOVE 6 Other")
        assert r.untagged[-1] == b"* VANISHED 6\r\n" and b"COPYUID" in r.untagged[0]
        assert a.ok("FETCH 1:* (UID)").fetch_map().keys() == {1, 2}


def test_vanished_is_held_back_during_fetch_store_search(srv):
    filled(srv, 3)
    with connect(srv, "ENABLE QRESYNC", "SELECT INBOX") as a, connect(srv, "SELECT INBOX") as b:
        b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
        b.ok("EXPUNGE")
        for command in ("FETCH 1 (FLAGS)", "STORE 2 +FLAGS (\\Seen)", "SEARCH ALL"):
            r = a.ok(command)
            assert not any(b"VANISHED" in u for u in r.untagged), command
        assert b"* VANISHED 1\r\n" in a.ok("NOOP").untagged


def test_unsolicited_fetch_carries_uid_and_modseq_under_qresync(srv):
    filled(srv, 2)
    with connect(srv, "ENABLE QRESYNC", "SELECT INBOX") as a, connect(srv, "SELECT INBOX") as b:
        b.ok("STORE 2 +FLAGS (\\Answered)")
        r = a.ok("NOOP")
        (line,) = r.untagged
        assert re.fullmatch(rb"\* 2 FETCH \(UID 2 FLAGS \(\\Answered( \\Recent)?\) MODSEQ \(\d+\)\)\r\n", line)


def test_select_qresync_reports_vanished_and_changed_messages(srv):
    """RFC 7162 3.2.5: a client that was away learns what vanished and changed."""
    filled(srv, 10)
    with connect(srv, "ENABLE QRESYNC", "SELECT INBOX") as c:
        v = uidvalidity(c)
        known = highest(c)
        c.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
        c.ok("STORE 7 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        c.ok("STORE 1,5 +FLAGS (\\Seen)")  # seq 5 is UID 6 now
    with connect(srv, "ENABLE QRESYNC") as c:
        r = c.ok("SELECT INBOX (QRESYNC (%d %d))" % (v, known))
        vanished = [u for u in r.untagged if u.startswith(b"* VANISHED")]
        assert vanished == [b"* VANISHED (EARLIER) 3,7\r\n"]
        changed = {int(items["UID"]): items for _, items in r.fetches()}
        assert sorted(changed) == [1, 6] and all(b"\\Seen" in i["FLAGS"] for i in changed.values())
        assert code_number(r, "HIGHESTMODSEQ") == highest(c)
        # order: HIGHESTMODSEQ, then VANISHED, then the FETCHes
        kinds = [("H" if b"HIGHESTMODSEQ" in u else "V" if b"VANISHED" in u else "F" if b"FETCH" in u else "")
                 for u in r.untagged]
        assert "".join(k for k in kinds if k) == "HVFF"
        # known-uids narrows both answers
        r = c.ok("SELECT INBOX (QRESYNC (%d %d 5:10))" % (v, known))
        assert [u for u in r.untagged if u.startswith(b"* VANISHED")] == [b"* VANISHED (EARLIER) 7\r\n"]
        assert [int(i["UID"]) for _, i in r.fetches()] == [6]
        assert r.untagged[0] == b"* OK [CLOSED] Previous mailbox closed\r\n"
        # seq-match data is accepted
        r = c.ok("EXAMINE INBOX (QRESYNC (%d %d 1:10 (1:4 1:4)))" % (v, known))
        assert b"* VANISHED (EARLIER) 3,7\r\n" in r.untagged
        # another UIDVALIDITY: a plain SELECT, nothing about the past
        r = c.ok("SELECT INBOX (QRESYNC (%d %d))" % (v + 1, known))
        assert not any(b"VANISHED" in u for u in r.untagged) and not r.fetches()


def test_uid_fetch_vanished_modifier(srv):
    filled(srv, 8)
    with connect(srv, "ENABLE QRESYNC", "SELECT INBOX") as c:
        known = highest(c)
        c.ok("STORE 2,6 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
        c.ok("UID STORE 8 +FLAGS (\\Seen)")
        r = c.ok("UID FETCH 1:* (FLAGS) (CHANGEDSINCE %d VANISHED)" % known)
        assert r.untagged[0] == b"* VANISHED (EARLIER) 2,6\r\n"
        assert [int(i["UID"]) for _, i in r.fetches()] == [8]
        r = c.ok("UID FETCH 3:5 (FLAGS) (CHANGEDSINCE %d VANISHED)" % known)
        assert r.untagged == []  # none of these vanished or changed
        assert c.command("UID FETCH 1:* (FLAGS) (VANISHED)").status == "BAD"  # needs CHANGEDSINCE


def test_trimmed_history_answers_with_every_missing_uid(srv, monkeypatch):
    """If expunge history below the client's modseq was trimmed, VANISHED
    (EARLIER) lists every known UID that does not exist (a superset)."""
    filled(srv, 6)
    with connect(srv, "ENABLE QRESYNC", "SELECT INBOX") as c:
        v = uidvalidity(c)
        c.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
        c.ok("EXPUNGE")
    import sqlite3

    db = sqlite3.connect(os.path.join(srv.root, "demo", "pushimapd-index.sqlite"))
    db.execute("UPDATE meta SET value=100 WHERE key='expunge_floor'")  # as if trimmed
    db.execute("DELETE FROM expunged")
    db.commit()
    db.close()
    srv.stop()
    srv.start()
    with connect(srv, "ENABLE QRESYNC") as c:
        r = c.ok("SELECT INBOX (QRESYNC (%d 3 1:10))" % v)
        assert b"* VANISHED (EARLIER) 2\r\n" in r.untagged


# -- a real client library -----------------------------------------------------------------------
def test_imapclient_condstore_helpers(srv):
    filled(srv, 4)
    client = imapclient.IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10)
    try:
        client.login("demo", "demo")
        assert client.has_capability("CONDSTORE") and client.has_capability("QRESYNC")
        assert client.enable("CONDSTORE") == [b"CONDSTORE"]
        info = client.select_folder("INBOX")
        top = info[b"HIGHESTMODSEQ"]
        assert client.folder_status("INBOX", ["HIGHESTMODSEQ"])[b"HIGHESTMODSEQ"] == top
        client.add_flags([2], [imapclient.FLAGGED])
        changed = client.fetch([1, 2, 3, 4], ["FLAGS"], modifiers=["CHANGEDSINCE %d" % top])
        assert list(changed) == [2] and changed[2][b"MODSEQ"][0] > top
        assert client.search(["MODSEQ", top + 1]) == [2]
    finally:
        client.logout()

"""NOTIFY (RFC 5465) over TCP: the RFC's examples adapted, notifications that
arrive without the client asking (deliveries by `pushimapd deliver` and by an
MTA, other sessions' STORE/EXPUNGE/APPEND/COPY/MOVE/CREATE/DELETE/RENAME/
SUBSCRIBE/SETMETADATA, other programs renaming and deleting files in folders
nobody has open), SELECTED against SELECTED-DELAYED, the session's own
changes left out, QRESYNC and IDLE, NOTIFICATIONOVERFLOW for a client that
stops reading, and malformed commands.

"Arrives unprompted" is checked by reading with a deadline and nothing sent.
"Is not sent" is checked without waiting: the server tells a change to every
session while the command that made it runs, so a NOOP sent after that
command's tagged OK answers after anything that was written."""

from __future__ import annotations

import os
import time

import pytest

from conftest import run_cli, started_server
from imap_raw import RawIMAP, parse, parse_fetch
from push_util import make_folder, mta_deliver

DEADLINE = 5.0  # an unprompted notification must arrive within this


def message(subject: str, body: bytes = b"hello\r\n") -> bytes:
    return b"From: a@example.org\r\nTo: demo@example.org\r\nSubject: " + subject.encode() + b"\r\n\r\n" + body


@pytest.fixture
def srv(tmp_path):
    root = str(tmp_path / "mail")
    os.mkdir(root)
    server = started_server(root)
    yield server
    server.stop()


def connect(srv, *commands: str) -> RawIMAP:
    c = RawIMAP(srv.port)
    c.login()
    for text in commands:
        c.ok(text)
    return c


def cli_deliver(srv, folder: str, subject: str) -> None:
    args = ["deliver", "demo"] + (["--folder", folder] if folder != "INBOX" else [])
    done = run_cli(*args, stdin=message(subject), root=srv.root)
    assert done.returncode == 0, done.stderr


def statuses(responses) -> dict:
    """{mailbox: {ITEM: value}} of the STATUS responses among ``responses``."""
    out = {}
    for r in responses:
        if r.startswith(b"* STATUS "):
            _, _, name, items = parse(r)
            out[name.decode()] = {items[i].decode().upper(): int(items[i + 1]) for i in range(0, len(items), 2)}
    return out


def lists(responses) -> list:
    """[(attributes, name, extended data or None)] of the LIST responses."""
    out = []
    for r in responses:
        if r.startswith(b"* LIST "):
            values = parse(r)
            out.append(([a.decode() for a in values[2]], values[4].decode(), values[5] if len(values) > 5 else None))
    return out


def is_status(name: str):
    return lambda r: r.startswith(b"* STATUS ") and name.encode() in r


def quiet(c: RawIMAP) -> list:
    """What arrives up to a NOOP's answer: nothing unsolicited may be among it."""
    return c.ok("NOOP").untagged


# -- capability, the RFC's examples ---------------------------------------------------------
def test_capability_and_none(srv):
    with connect(srv) as c:
        caps = c.ok("CAPABILITY").untagged[0].split()
        assert b"NOTIFY" in caps
        assert c.ok("NOTIFY NONE").ok


def test_rfc_3_1_example_adapted(srv):
    """RFC 5465 3.1 (with erratum 2318's parentheses), in this server's "." hierarchy."""
    with connect(srv, "CREATE Lists.Lemonade", "CREATE Lists.Im2000", "CREATE misc") as c:
        c.append("Lists.Lemonade", message("old lemonade"))
        c.append("misc", message("old misc"))
        r = c.ok("notify set status (selected (MessageNew (uid body.peek[header.fields (from to subject)]) "
                 "MessageExpunge)) (subtree Lists (MessageNew MessageExpunge))")
        told = statuses(r.untagged)
        assert set(told) == {"Lists.Lemonade", "Lists.Im2000"}  # not misc, not INBOX, not \Noselect Lists
        assert told["Lists.Lemonade"]["MESSAGES"] == 1 and told["Lists.Im2000"]["MESSAGES"] == 0
        assert {"UIDNEXT", "UIDVALIDITY", "MESSAGES"} <= set(told["Lists.Lemonade"])
        c.select("Lists.Lemonade")
        cli_deliver(srv, "Lists.Lemonade", "new lemonade")
        seen = c.wait_for(lambda r: b"FETCH" in r, DEADLINE)
        assert b"* 2 EXISTS\r\n" in seen
        seq, items = parse_fetch(seen[-1])
        assert seq == 2 and int(items["UID"]) == 2
        assert items["BODY[HEADER.FIELDS (FROM TO SUBJECT)]"].endswith(b"Subject: new lemonade\r\n\r\n")
        cli_deliver(srv, "Lists.Im2000", "im2000")
        seen = c.wait_for(is_status("Lists.Im2000"), DEADLINE)
        assert statuses(seen)["Lists.Im2000"]["MESSAGES"] == 1
        assert not statuses(seen).get("Lists.Lemonade")  # the selected mailbox is told through EXISTS
        # the client wants one more mailbox: STATUS it, then NOTIFY SET without STATUS
        assert statuses(c.ok("STATUS misc (UIDVALIDITY UIDNEXT MESSAGES)").untagged)["misc"]["MESSAGES"] == 1
        r = c.ok("notify set (selected (MessageNew (uid body.peek[header.fields (from to subject)]) MessageExpunge)) "
                 "(subtree Lists (MessageNew MessageExpunge)) (mailboxes misc (MessageNew MessageExpunge))")
        assert not statuses(r.untagged)
        cli_deliver(srv, "misc", "misc")
        assert statuses(c.wait_for(is_status("misc"), DEADLINE))["misc"]["MESSAGES"] == 2
        c.ok("notify none")
        cli_deliver(srv, "misc", "misc again")
        with RawIMAP(srv.port) as other:  # a barrier: the watcher has handled the delivery once this sees it
            other.login()
            assert statuses(other.ok("STATUS misc (MESSAGES)").untagged)["misc"]["MESSAGES"] == 3
        assert not statuses(quiet(c))


# -- NOTIFY SET STATUS ----------------------------------------------------------------------
def test_set_status_initial_statuses(srv):
    with connect(srv, "CREATE A", "CREATE A.B", "CREATE C", "CREATE D") as c:
        c.append("A", message("a1"))
        c.append("A", message("a2"))
        c.select("A")
        c.ok("STORE 1 +FLAGS (\\Seen)")
        c.select("C")
        r = c.ok("NOTIFY SET STATUS (personal (MessageNew MessageExpunge FlagChange MailboxName))")
        told = statuses(r.untagged)
        assert set(told) == {"INBOX", "A", "A.B", "D"}  # the selected mailbox C left out
        assert told["A"]["MESSAGES"] == 2 and told["A"]["UNSEEN"] == 1 and told["A"]["UIDNEXT"] == 3
        assert "HIGHESTMODSEQ" in told["A"]  # FlagChange asks for it (RFC 5465 3.1)
        r = c.ok("NOTIFY SET STATUS (mailboxes (D nosuch) (MessageNew MessageExpunge)) (subtree A (MailboxName))")
        assert set(statuses(r.untagged)) == {"D"}  # A has no message events; nosuch does not exist
        r = c.ok("NOTIFY SET STATUS (personal (MailboxName SubscriptionChange))")
        assert not statuses(r.untagged)  # no message events: no STATUS
        r = c.ok("NOTIFY SET STATUS (subtree A (MessageNew MessageExpunge))")
        told = statuses(r.untagged)
        assert set(told) == {"A", "A.B"} and "HIGHESTMODSEQ" not in told["A"]
        c.ok("ENABLE CONDSTORE")
        r = c.ok("NOTIFY SET STATUS (subtree A (MessageNew MessageExpunge))")
        assert "HIGHESTMODSEQ" in statuses(r.untagged)["A"]


# -- deliveries reach the client unprompted ----------------------------------------------------
def test_delivery_into_inbox_and_another_folder_by_pushimapd_deliver(srv):
    with connect(srv, "CREATE Work") as c:
        c.select("INBOX")
        c.ok("NOTIFY SET (selected (MessageNew (UID ENVELOPE) MessageExpunge)) (personal (MessageNew MessageExpunge))")
        cli_deliver(srv, "INBOX", "to the inbox")
        seen = c.wait_for(lambda r: b"FETCH" in r, DEADLINE)
        assert b"* 1 EXISTS\r\n" in seen
        seq, items = parse_fetch(seen[-1])
        assert seq == 1 and int(items["UID"]) == 1 and items["ENVELOPE"][1] == b"to the inbox"
        cli_deliver(srv, "Work", "to work")
        seen = c.wait_for(is_status("Work"), DEADLINE)
        work = statuses(seen)["Work"]
        assert work["MESSAGES"] == 1 and work["UIDNEXT"] == 2 and work["UNSEEN"] == 1
        assert not any(b"EXISTS" in r for r in seen)


def test_delivery_latency_without_any_command(srv):
    """Deliveries by an MTA (rename into new/) into folders nobody has open:
    the STATUS arrives in milliseconds, while the client sends nothing."""
    for name in ("Lists", "Spam"):
        with connect(srv) as setup:
            setup.ok("CREATE " + name)
    with connect(srv) as c:
        c.ok("NOTIFY SET (personal (MessageNew MessageExpunge))")
        latencies = []
        for i in range(20):
            folder = ("INBOX", "Lists", "Spam")[i % 3]
            start = time.monotonic()
            mta_deliver(srv.root, "demo", folder, message(f"m{i}"))
            seen = c.wait_for(is_status(folder), DEADLINE)
            latencies.append(time.monotonic() - start)
            assert statuses(seen)[folder]["MESSAGES"] == i // 3 + 1
        latencies.sort()
        print(f"delivery -> STATUS: median {latencies[10] * 1000:.1f} ms, max {latencies[-1] * 1000:.1f} ms")
        assert latencies[-1] < DEADLINE


# -- the selected mailbox ----------------------------------------------------------------------
def test_flag_change_from_another_session(srv):
    with connect(srv) as c, connect(srv) as other:
        for i in range(3):
            c.append("INBOX", message(f"m{i}"))
        c.select("INBOX")
        c.ok("NOTIFY SET (selected (MessageNew MessageExpunge FlagChange))")
        other.select("INBOX")
        other.ok("UID STORE 2 +FLAGS.SILENT (\\Flagged)")
        seen = c.wait_for(lambda r: b"FETCH" in r, DEADLINE)
        seq, items = parse_fetch(seen[-1])
        assert seq == 2 and int(items["UID"]) == 2 and b"\\Flagged" in items["FLAGS"]  # UID included (5.1)
        # without FlagChange, flags wait for a command's end
        c.ok("NOTIFY SET (selected (MessageNew MessageExpunge))")
        other.ok("UID STORE 3 +FLAGS.SILENT (\\Seen)")
        other.append("INBOX", message("barrier"))  # told at once: anything written before it would show
        seen = c.wait_for(lambda r: b"EXISTS" in r, DEADLINE)
        assert not any(b"FETCH" in r for r in seen)
        assert any(b"FETCH (" in r and b"\\Seen" in r for r in quiet(c))


def test_selected_expunges_at_once_selected_delayed_holds_them(srv):
    with connect(srv) as c, connect(srv) as other:
        for i in range(4):
            c.append("INBOX", message(f"m{i}"))
        c.select("INBOX")
        other.select("INBOX")
        c.ok("NOTIFY SET (selected (MessageNew MessageExpunge))")
        other.ok("UID STORE 1 +FLAGS.SILENT (\\Deleted)")
        other.ok("EXPUNGE")
        assert c.wait_for(lambda r: b"EXPUNGE" in r, DEADLINE)[-1] == b"* 1 EXPUNGE\r\n"
        # SELECTED: even FETCH may carry an EXPUNGE (the client uses UIDs)
        other.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)")
        other.ok("EXPUNGE")
        assert c.wait_for(lambda r: b"EXPUNGE" in r, DEADLINE)[-1] == b"* 1 EXPUNGE\r\n"

        c.ok("NOTIFY SET (selected-delayed (MessageNew MessageExpunge FlagChange))")
        other.ok("UID STORE 3 +FLAGS.SILENT (\\Deleted)")
        other.ok("EXPUNGE")
        other.append("INBOX", message("new"))  # EXISTS goes out at once; the expunge is held
        seen = c.wait_for(lambda r: b"EXISTS" in r, DEADLINE)
        assert b"* 3 EXISTS\r\n" in seen and not any(b"EXPUNGE" in r for r in seen)
        r = c.ok("FETCH 1:* (UID)")  # FETCH forbids EXPUNGE responses (RFC 3501 7.4.1)
        assert not r.numbers(b"EXPUNGE")  # message 1 (UID 3) is still numbered, though gone
        assert [(seq, int(i["UID"])) for seq, i in r.fetches()] == [(2, 4), (3, 5)]
        r = c.ok("NOOP")
        assert r.numbers(b"EXPUNGE") == [1]


def test_own_changes_are_not_notified(srv):
    with connect(srv, "CREATE Work") as c, connect(srv) as other:
        c.select("INBOX")
        c.ok("NOTIFY SET (selected (MessageNew (UID FLAGS) MessageExpunge FlagChange)) "
             "(personal (MessageNew MessageExpunge FlagChange MailboxName SubscriptionChange MailboxMetadataChange "
             "ServerMetadataChange))")
        r = c.append("INBOX", message("mine"))  # EXISTS (RFC 3501) but no MessageNew FETCH (5.2)
        assert r.numbers(b"EXISTS") == [1] and not r.fetches()
        c.append("Work", message("mine too"))
        c.ok("CREATE Mine")
        c.ok("RENAME Mine Mine2")
        c.ok("SUBSCRIBE Mine2")
        c.ok('SETMETADATA Work (/private/comment "mine")')
        c.ok('SETMETADATA "" (/private/comment "mine")')
        c.ok("UID COPY 1 Work")
        c.ok("UID MOVE 1 Work")
        c.ok("DELETE Mine2")
        assert quiet(c) == [], "own changes were notified"
        # the same changes by another session are
        other.append("Work", message("theirs"))
        assert statuses(c.wait_for(is_status("Work"), DEADLINE))["Work"]["MESSAGES"] == 4  # 1 + COPY + MOVE + 1
        other.append("INBOX", message("theirs"))
        seen = c.wait_for(lambda r: b"FETCH" in r, DEADLINE)
        assert parse_fetch(seen[-1])[1]["UID"] == b"2"  # UID 1 was moved out


def test_copy_move_store_expunge_in_another_folder(srv):
    with connect(srv, "CREATE Work", "CREATE Archive") as c, connect(srv) as other:
        for i in range(3):
            other.append("Work", message(f"w{i}"))
        c.ok("NOTIFY SET STATUS (mailboxes (Work Archive) (MessageNew MessageExpunge FlagChange))")
        other.select("Work")
        other.ok("UID COPY 1 Archive")
        assert statuses(c.wait_for(is_status("Archive"), DEADLINE))["Archive"]["MESSAGES"] == 1
        other.ok("UID MOVE 2 Archive")
        seen = c.wait_for(is_status("Work"), DEADLINE)
        seen += c.wait_for(is_status("Archive"), DEADLINE) if not statuses(seen).get("Archive") else []
        told = statuses(seen)
        assert told["Work"]["MESSAGES"] == 2 and told["Archive"]["MESSAGES"] == 2
        other.ok("UID STORE 3 +FLAGS (\\Seen)")
        work = statuses(c.wait_for(is_status("Work"), DEADLINE))["Work"]
        assert work["UNSEEN"] == 1 and "HIGHESTMODSEQ" in work
        other.ok("UID STORE 3 +FLAGS (\\Deleted)")
        c.wait_for(is_status("Work"), DEADLINE)
        other.ok("EXPUNGE")
        assert statuses(c.wait_for(is_status("Work"), DEADLINE))["Work"]["MESSAGES"] == 1


def test_other_program_renames_and_deletes_in_a_folder_nobody_has_open(srv):
    """Files changed behind the server's back in a folder no session has opened."""
    path = make_folder(srv.root, "demo", "Archive")
    names = []
    for i in range(3):
        name = f"{1700000000 + i}.M{i}P1.otherhost:2,"
        with open(os.path.join(path, "cur", name), "wb") as f:
            f.write(message(f"a{i}"))
        names.append(name)
    with connect(srv) as c:
        c.ok("NOTIFY SET (personal (MessageNew MessageExpunge FlagChange))")
        os.rename(os.path.join(path, "cur", names[0]), os.path.join(path, "cur", names[0] + "S"))
        archive = statuses(c.wait_for(is_status("Archive"), DEADLINE))["Archive"]
        assert archive["MESSAGES"] == 3 and archive["UNSEEN"] == 2
        os.unlink(os.path.join(path, "cur", names[1]))
        archive = statuses(c.wait_for(is_status("Archive"), DEADLINE))["Archive"]
        assert archive["MESSAGES"] == 2 and archive["UNSEEN"] == 1
        os.rename(os.path.join(path, "cur", names[2]), os.path.join(path, "cur", names[2] + "FS"))
        archive = statuses(c.wait_for(is_status("Archive"), DEADLINE))["Archive"]
        assert archive["UNSEEN"] == 0


# -- mailbox names, subscriptions, metadata -------------------------------------------------
def test_mailbox_name_create_delete_rename_by_another_session(srv):
    with connect(srv) as c, connect(srv) as other:
        c.ok("NOTIFY SET (personal (MailboxName))")
        other.ok("CREATE NewMailbox")
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\HasNoChildren"], "NewMailbox", None)]
        other.ok("CREATE NewMailbox.Child")
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\HasNoChildren"], "NewMailbox.Child", None)]
        other.ok("RENAME NewMailbox Renamed")  # one LIST, none for the child (5.4)
        seen = c.wait_for(lambda r: b"LIST" in r, DEADLINE)
        assert lists(seen) == [(["\\HasChildren"], "Renamed", [b"OLDNAME", [b"NewMailbox"]])]
        other.ok("DELETE Renamed.Child")
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\NonExistent"], "Renamed.Child", None)]
        other.ok("RENAME INBOX Old")  # a new mailbox; INBOX is not told (5.4)
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\HasNoChildren"], "Old", None)]
        c.ok("NOTIFY SET (subtree Renamed (MailboxName))")
        other.ok("CREATE Elsewhere")
        other.ok("CREATE Renamed.Again")
        seen = c.wait_for(lambda r: b"LIST" in r, DEADLINE)
        assert lists(seen) == [(["\\HasNoChildren"], "Renamed.Again", None)]


def test_folders_and_subscriptions_changed_by_other_programs(srv):
    """A shell, maildrop or Dovecot changes names on disk: told as if a session
    had (RFC 5465 5.4/5.5), once, and a session's own change not a second time."""
    import shutil

    user_dir = os.path.join(srv.root, "demo")
    with connect(srv) as c, connect(srv) as other:
        c.ok("NOTIFY SET (personal (MailboxName SubscriptionChange))")
        for sub in ("tmp", "new", "cur"):  # what `maildirmake` does, in its order
            os.makedirs(os.path.join(user_dir, ".Lists", sub))
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\HasNoChildren"], "Lists", None)]
        make_folder(srv.root, "demo", "Lists.Python")
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\HasNoChildren"], "Lists.Python", None)]
        # moved aside first: the server may be writing the folder's index while it goes
        os.rename(os.path.join(user_dir, ".Lists.Python"), os.path.join(user_dir, "..gone"))
        shutil.rmtree(os.path.join(user_dir, "..gone"), ignore_errors=True)
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\NonExistent"], "Lists.Python", None)]
        os.rename(os.path.join(user_dir, ".Lists"), os.path.join(user_dir, ".Mailing"))
        seen = lists(c.wait_for(lambda r: b"Mailing" in r, DEADLINE))
        assert sorted(seen) == [(["\\HasNoChildren"], "Mailing", None), (["\\NonExistent"], "Lists", None)]
        # a subscriptions file replaced the way Dovecot does it (written aside, renamed)
        path = os.path.join(user_dir, "subscriptions")
        with open(path + ".lock", "w") as f:
            f.write("V\t2\n\nMailing\n")
        os.rename(path + ".lock", path)
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [
            (["\\HasNoChildren", "\\Subscribed"], "Mailing", None)]
        os.unlink(path)
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\HasNoChildren"], "Mailing", None)]
        # a session's own CREATE is told once: inotify's later report of it is no news
        other.ok("CREATE Mine")
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\HasNoChildren"], "Mine", None)]
        make_folder(srv.root, "demo", "Marker")  # reported after the CREATE's own directory events
        assert lists(c.wait_for(lambda r: b"Marker" in r, DEADLINE)) == [(["\\HasNoChildren"], "Marker", None)]
        assert not lists(quiet(c))


def test_subscription_change(srv):
    with connect(srv, "CREATE Work") as c, connect(srv) as other:
        c.ok("NOTIFY SET (personal (SubscriptionChange))")
        other.ok("SUBSCRIBE Work")
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\HasNoChildren", "\\Subscribed"], "Work", None)]
        other.ok("SUBSCRIBE Work")  # no change, nothing told
        other.ok("UNSUBSCRIBE Work")
        assert lists(c.wait_for(lambda r: b"LIST" in r, DEADLINE)) == [(["\\HasNoChildren"], "Work", None)]
        # the SUBSCRIBED filter follows the subscriptions (6.4)
        c.ok("NOTIFY SET (subscribed (MessageNew MessageExpunge SubscriptionChange))")
        other.append("Work", message("not subscribed"))
        other.ok("SUBSCRIBE Work")
        seen = c.wait_for(lambda r: b"LIST" in r, DEADLINE)
        assert not statuses(seen)
        other.append("Work", message("subscribed"))
        assert statuses(c.wait_for(is_status("Work"), DEADLINE))["Work"]["MESSAGES"] == 2


def test_metadata_change_by_another_session(srv):
    """SETMETADATA elsewhere: MailboxMetadataChange / ServerMetadataChange (RFC 5465 5.6, 5.7)
    are told as unsolicited METADATA responses naming the entries (RFC 5464 4.4.2)."""
    with connect(srv, "CREATE Work") as c, connect(srv) as other:
        c.ok("NOTIFY SET (personal (MailboxMetadataChange ServerMetadataChange))")
        other.ok('SETMETADATA Work (/private/comment "hello" /shared/comment "all")')
        seen = c.wait_for(lambda r: b"METADATA" in r, DEADLINE)
        assert parse(seen[-1]) == [b"*", b"METADATA", b"Work", b"/private/comment", b"/shared/comment"]
        other.ok('SETMETADATA "" (/private/vendor/x "1")')
        assert parse(c.wait_for(lambda r: b"METADATA" in r, DEADLINE)[-1])[2:] == [b"", b"/private/vendor/x"]
        c.ok("NOTIFY SET (mailboxes INBOX (MailboxMetadataChange))")
        other.ok('SETMETADATA "" (/private/vendor/x NIL)')  # not asked for now
        other.ok('SETMETADATA Work (/private/comment NIL)')
        other.ok('SETMETADATA INBOX (/private/comment "in")')
        seen = c.wait_for(lambda r: b"METADATA" in r, DEADLINE)
        assert [parse(r)[2] for r in seen if b"METADATA" in r] == [b"INBOX"]


# -- BADEVENT, NONE, overflow -----------------------------------------------------------------
def test_badevent_lists_the_supported_events(srv):
    with connect(srv) as c:
        for events in ("MessageNew MessageExpunge QuotaExceed", "MessageNew MessageExpunge AnnotationChange",
                       "MessageRead"):
            r = c.command(f"NOTIFY SET (personal ({events}))")
            assert r.status == "NO" and r.code.startswith("BADEVENT ("), r.tagged
            supported = r.code[len("BADEVENT ("):-1].split()
            assert {"MessageNew", "MessageExpunge", "FlagChange", "MailboxName", "SubscriptionChange",
                    "MailboxMetadataChange", "ServerMetadataChange"} == set(supported)
        r = c.command("NOTIFY SET (selected (MessageNew MessageExpunge Unknown))")
        assert r.status == "NO" and r.code.startswith("BADEVENT")


def test_notify_none_stops_everything(srv):
    with connect(srv, "CREATE Work") as c, connect(srv) as other:
        c.select("INBOX")
        c.ok("NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge "
             "FlagChange MailboxName SubscriptionChange MailboxMetadataChange))")
        other.append("Work", message("one"))
        c.wait_for(is_status("Work"), DEADLINE)
        c.ok("NOTIFY NONE")
        other.append("Work", message("two"))
        other.ok("CREATE Other")
        other.ok("SUBSCRIBE Work")
        other.ok('SETMETADATA Work (/private/comment "x")')
        other.append("INBOX", message("three"))
        r = c.ok("NOOP")
        assert not statuses(r.untagged) and not lists(r.untagged) and not r.lines(b"METADATA")
        assert r.numbers(b"EXISTS") == [1] and not r.fetches()  # RFC 3501's answer to NOOP, no MessageNew FETCH
        # IDLE is plain IDLE again
        c.send(b"i IDLE\r\n")
        assert c.read_response().startswith(b"+")
        other.append("INBOX", message("four"))
        assert b"* 2 EXISTS\r\n" in c.wait_for(lambda r: b"EXISTS" in r, DEADLINE)
        c.send(b"DONE\r\n")
        assert c.read_until_tagged(b"i").ok


def test_notification_overflow_when_the_client_stops_reading(srv):
    """A client that sends commands but does not read: its answers fill the
    socket, the server stops writing, notifications pile up; past the limit the
    client gets ``* OK [NOTIFICATIONOVERFLOW]`` and NOTIFY is off (RFC 5465 5.8)."""
    big = message("big", (b"y" * 998 + b"\r\n") * 1000)  # ~1 MB
    cur = os.path.join(srv.root, "demo", "cur")
    with open(os.path.join(cur, "1600000000.M0P1.host:2,"), "wb") as f:
        f.write(big)
    for i in range(1, 1201):  # more messages than notifications may wait
        with open(os.path.join(cur, f"1600000000.M{i}P1.host:2,"), "wb") as f:
            f.write(message(f"m{i}"))
    with connect(srv, "CREATE Work") as c, connect(srv) as other:
        c.select("INBOX")
        c.ok("NOTIFY SET (selected (MessageNew MessageExpunge FlagChange)) (personal (MessageNew MessageExpunge))")
        fetches = 40  # ~40 MB of answers: far more than the sockets hold
        c.send(b"".join(b"f%d UID FETCH 1 BODY.PEEK[]\r\n" % i for i in range(fetches)))
        other.select("INBOX")
        other.ok("STORE 1:* +FLAGS.SILENT (\\Flagged)")  # 1,201 FlagChange notifications for c
        untagged = []
        for i in range(fetches):
            untagged += c.read_until_tagged(b"f%d" % i).untagged
        assert b"* OK [NOTIFICATIONOVERFLOW]" in b"".join(u[:40] for u in untagged)
        overflow = next(i for i, u in enumerate(untagged) if u.startswith(b"* OK [NOTIFICATIONOVERFLOW]"))
        # the flag changes still reach the client, at a command's end as RFC 3501 has it
        flagged = [u for u in untagged[overflow:] if b"FETCH" in u and b"\\Flagged" in u]
        assert len(flagged) == 1201
        # NOTIFY is off now: another folder's news is not told
        other.append("Work", message("after the overflow"))
        assert not statuses(quiet(c))
        c.ok("NOTIFY SET (personal (MessageNew MessageExpunge))")
        other.append("Work", message("notified again"))
        assert statuses(c.wait_for(is_status("Work"), DEADLINE))["Work"]["MESSAGES"] == 2


# -- QRESYNC and IDLE ----------------------------------------------------------------------
def test_qresync_gets_vanished(srv):
    with connect(srv) as c, connect(srv) as other:
        for i in range(3):
            c.append("INBOX", message(f"m{i}"))
        c.ok("ENABLE QRESYNC")
        c.select("INBOX")
        other.select("INBOX")
        c.ok("NOTIFY SET (selected (MessageNew (UID) MessageExpunge FlagChange))")
        other.ok("UID STORE 2 +FLAGS.SILENT (\\Deleted)")
        seen = c.wait_for(lambda r: b"FETCH" in r, DEADLINE)
        _, items = parse_fetch(seen[-1])
        assert int(items["UID"]) == 2 and "MODSEQ" in items  # QRESYNC implies CONDSTORE
        other.ok("EXPUNGE")
        assert c.wait_for(lambda r: b"VANISHED" in r, DEADLINE)[-1] == b"* VANISHED 2\r\n"
        other.append("INBOX", message("new"))
        seen = c.wait_for(lambda r: b"FETCH" in r, DEADLINE)
        assert b"* 3 EXISTS\r\n" in seen and parse_fetch(seen[-1]) == (3, {"UID": b"4"})


def test_idle_sends_exactly_what_notify_asked_for(srv):
    with connect(srv, "CREATE Work") as c:
        c.select("INBOX")
        c.ok("NOTIFY SET (personal (MessageNew MessageExpunge))")  # nothing for the selected mailbox (3.1)
        c.send(b"i IDLE\r\n")
        assert c.read_response().startswith(b"+")
        mta_deliver(srv.root, "demo", "INBOX", message("inbox"))
        mta_deliver(srv.root, "demo", "Work", message("work"))
        seen = c.wait_for(is_status("Work"), DEADLINE)
        assert not any(b"EXISTS" in r for r in seen)  # INBOX, handled first, was not told
        c.send(b"DONE\r\n")
        r = c.read_until_tagged(b"i")
        assert r.ok and r.numbers(b"EXISTS") == [1]  # told at the command's end
        c.ok("NOTIFY SET (selected (MessageNew (UID) MessageExpunge)) (personal (MessageNew MessageExpunge))")
        c.send(b"j IDLE\r\n")
        assert c.read_response().startswith(b"+")
        mta_deliver(srv.root, "demo", "INBOX", message("inbox 2"))
        seen = c.wait_for(lambda r: b"FETCH" in r, DEADLINE)
        assert b"* 2 EXISTS\r\n" in seen and parse_fetch(seen[-1]) == (2, {"UID": b"2"})
        mta_deliver(srv.root, "demo", "Work", message("work 2"))
        assert statuses(c.wait_for(is_status("Work"), DEADLINE))["Work"]["MESSAGES"] == 2
        c.send(b"DONE\r\n")
        assert c.read_until_tagged(b"j").ok


# -- malformed ------------------------------------------------------------------------------
MALFORMED = [
    ("NOTIFY", "BAD"),
    ("NOTIFY FOO", "BAD"),
    ("NOTIFY SET", "BAD"),
    ("NOTIFY SET STATUS", "BAD"),
    ("NOTIFY SET STATUS STATUS (personal (MessageNew MessageExpunge))", "BAD"),
    ("NOTIFY NONE extra", "BAD"),
    ("NOTIFY SET (personal)", "BAD"),
    ("NOTIFY SET (personal ())", "BAD"),
    ("NOTIFY SET (personal (MessageNew MessageExpunge)", "BAD"),
    ("NOTIFY SET (personal (MessageNew MessageExpunge)) extra", "BAD"),
    ("NOTIFY SET (personal  (MessageNew MessageExpunge))", "BAD"),
    ("NOTIFY SET (personal NONE extra)", "BAD"),
    ("NOTIFY SET (nosuch (MessageNew MessageExpunge))", "BAD"),
    ("NOTIFY SET (subtree (MessageNew MessageExpunge))", "BAD"),
    ("NOTIFY SET (subtree () (MessageNew MessageExpunge))", "BAD"),
    ("NOTIFY SET (mailboxes (MessageNew MessageExpunge))", "BAD"),
    ("NOTIFY SET (personal (MessageNew))", "BAD"),
    ("NOTIFY SET (personal (MessageExpunge))", "BAD"),
    ("NOTIFY SET (personal (FlagChange))", "BAD"),
    ("NOTIFY SET (personal (MessageNew FlagChange))", "BAD"),
    ("NOTIFY SET (selected (MessageNew MessageExpunge)) (selected-delayed (MessageNew MessageExpunge))", "BAD"),
    ("NOTIFY SET (selected NONE) (selected NONE)", "BAD"),
    ("NOTIFY SET (selected (MailboxName))", "BAD"),
    ("NOTIFY SET (selected-delayed (MessageNew MessageExpunge SubscriptionChange))", "BAD"),
    ("NOTIFY SET (personal (MessageNew (UID) MessageExpunge))", "BAD"),
    ("NOTIFY SET (selected (MessageNew (NOSUCHATT) MessageExpunge))", "BAD"),
    ("NOTIFY SET (selected (MessageNew () MessageExpunge))", "BAD"),
    ("NOTIFY SET (selected (MessageNew (UID) (FLAGS) MessageExpunge))", "BAD"),
    ("NOTIFY SET (selected (MessageNew (BINARY[1]) MessageExpunge))", "BAD"),
    ("NOTIFY SET (selected (MessageNew (BODY[HEADER MessageExpunge))", "BAD"),
    ("NOTIFY SET (personal (MessageNew MessageExpunge)) ()", "BAD"),
    ("NOTIFY SET personal (MessageNew MessageExpunge)", "BAD"),
    ("NOTIFY SET (personal (MessageNew MessageExpunge QuotaExceed))", "NO"),
    ("NOTIFY SET (personal (AnnotationChange MessageNew MessageExpunge))", "NO"),
    ("NOTIFY SET (mailboxes (%s) (MessageNew MessageExpunge))" % " ".join(f"m{i}" for i in range(1001)), "NO"),
]


def test_malformed_notify_commands(srv):
    with connect(srv, "CREATE Work") as c, connect(srv) as other:
        c.ok("NOTIFY SET (mailboxes Work (MessageNew MessageExpunge))")
        for text, status in MALFORMED:
            r = c.command(text)
            assert r.status == status, (text, r.tagged)
            assert c.ok("NOOP").ok
        mailbox8 = c.command(b'NOTIFY SET (mailboxes "Caf\xc3\xa9" (MessageNew MessageExpunge))')
        assert mailbox8.status == "BAD"
        # the NOTIFY set before every refused one still holds
        other.append("Work", message("still notified"))
        assert statuses(c.wait_for(is_status("Work"), DEADLINE))["Work"]["MESSAGES"] == 1
    with RawIMAP(srv.port) as anonymous:
        assert anonymous.command("NOTIFY NONE").status == "BAD"
        assert anonymous.ok("NOOP").ok

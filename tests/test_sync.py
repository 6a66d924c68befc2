"""Changes made behind the server's back reach sessions however the folder was loaded."""

import imaplib
import os

from conftest import run_cli


def login(server):
    c = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    c.login("demo", "demo")
    return c


def deliver(server, subject):
    done = run_cli("deliver", "demo", stdin=b"Subject: " + subject + b"\n\nbody\n", root=server.root)
    assert done.returncode == 0, done.stderr


def test_folder_loaded_without_a_session_sees_later_deliveries(server):
    c = login(server)
    deliver(server, b"one")
    assert c.status("INBOX", "(MESSAGES)")[1] == [b'"INBOX" (MESSAGES 1)']  # loaded, not selected
    deliver(server, b"two")
    deliver(server, b"three")
    assert c.status("INBOX", "(MESSAGES)")[1] == [b'"INBOX" (MESSAGES 3)']
    typ, data = c.select("INBOX")
    assert data == [b"3"]
    c.logout()


def test_own_store_then_external_rename_and_delete_are_both_seen(server):
    for i in range(3):
        deliver(server, b"m%d" % i)
    c = login(server)
    c.select("INBOX")
    c.store("1", "+FLAGS", "\\Flagged")  # our own rename
    cur = os.path.join(server.root, "demo", "cur")
    names = sorted(os.listdir(cur))
    second = names[1]
    os.rename(os.path.join(cur, second), os.path.join(cur, second.split(":")[0] + ":2,S"))
    os.unlink(os.path.join(cur, names[2]))
    c.noop()
    assert c.untagged_responses.pop("EXPUNGE") == [b"3"]
    assert any(line.startswith(b"2 (FLAGS (\\Seen") for line in c.untagged_responses.pop("FETCH"))
    flags = c.fetch("1:2", "(FLAGS)")[1]
    assert b"\\Flagged" in flags[0] and b"\\Seen" in flags[1] and b"\\Flagged" not in flags[1]
    c.logout()


def test_other_session_sees_our_flag_change_and_expunge(server):
    for i in range(2):
        deliver(server, b"n%d" % i)
    a, b = login(server), login(server)
    a.select("INBOX")
    b.select("INBOX")
    a.store("1", "+FLAGS", "\\Deleted")
    a.expunge()
    b.noop()
    assert b.untagged_responses.get("EXPUNGE") == [b"1"]
    assert b.fetch("1", "(FLAGS)")[0] == "OK"
    a.logout()
    b.logout()

"""The per-folder index: safe across processes and crashes, and it spares the
files: a folder opened cold whose directories did not change is answered
from the index alone."""

from __future__ import annotations

import builtins
import os
import re
import signal
import threading

from conftest import ServerProcess, started_server
from imap_raw import RawIMAP
from pushimapd.storage.maildir.account import MailStore
from pushimapd.storage.maildir.mailbox import MaildirMailbox


def test_two_servers_on_one_root_never_hand_out_the_same_uid(tmp_path):
    root = str(tmp_path / "mail")
    os.mkdir(root)
    first = started_server(root)
    second = ServerProcess(root)  # same Maildirs, same database, another process
    second.start()
    given: list = []
    lock = threading.Lock()

    def append_many(port: int, tag: str) -> None:
        with RawIMAP(port) as c:
            c.login()
            for i in range(60):
                r = c.append("INBOX", b"Message-ID: <%s-%d@x>\r\nSubject: %s\r\n\r\nbody\r\n" % (tag.encode(), i,
                                                                                               tag.encode()))
                uid = int(r.code.split()[2])
                with lock:
                    given.append((uid, f"{tag}-{i}"))

    try:
        threads = [threading.Thread(target=append_many, args=(srv.port, tag))
                   for srv, tag in ((first, "a"), (second, "b"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        uids = [u for u, _ in given]
        assert len(uids) == 120 and len(set(uids)) == 120
        expected = {uid: ident for uid, ident in given}
        for srv in (first, second):  # both processes show every message under the UID it was given
            with RawIMAP(srv.port) as c:
                c.login()
                c.select("INBOX")
                r = c.ok("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (Message-ID)])")
                seen = {}
                for _, items in r.fetches():
                    body = next(v for k, v in items.items() if k.startswith("BODY"))
                    seen[int(items["UID"])] = re.search(rb"<(.*)@x>", body).group(1).decode()
                assert seen == expected
    finally:
        second.stop()
        first.stop()


def test_kill_9_during_appends_never_gives_a_uid_to_another_message(tmp_path):
    root = str(tmp_path / "mail")
    os.mkdir(root)
    server = started_server(root)
    acknowledged = {}
    try:
        for round_ in range(3):
            c = RawIMAP(server.port)
            c.login()
            for i in range(25):
                r = c.append("INBOX", b"Message-ID: <%d-%d@x>\r\n\r\nx\r\n" % (round_, i))
                acknowledged[int(r.code.split()[2])] = f"{round_}-{i}"
            c.send(b"z APPEND INBOX {6+}\r\nlost\r\n\r\n")  # in flight
            server.stop(signal.SIGKILL)
            c.close()
            server.start()
        with RawIMAP(server.port) as c:
            c.login()
            c.select("INBOX")
            r = c.ok("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (Message-ID)])")
            seen = {}
            for _, items in r.fetches():
                body = next(v for k, v in items.items() if k.startswith("BODY"))
                m = re.search(rb"<(.*)@x>", body)
                seen[int(items["UID"])] = m.group(1).decode() if m else None
        for uid, ident in acknowledged.items():
            assert seen[uid] == ident
    finally:
        server.stop()


def _deliver(folder: str, name: str, subject: str, flags: str = "") -> None:
    path = os.path.join(folder, "cur", f"{name}:2,{flags}")
    with open(path, "wb") as f:
        f.write(f"Subject: {subject}\nFrom: someone@example.org\n\nbody\n".encode())


def test_a_cold_open_of_an_unchanged_folder_reads_no_message_file(tmp_path, monkeypatch):
    """SELECT-time loading, FETCH FLAGS, flag searches and header searches
    on cached fields come from the index: no listing of cur/, no file read."""
    store = MailStore(str(tmp_path))
    account = store.account("u")
    inbox = account.open("INBOX")
    for i in range(50):
        _deliver(inbox.path, f"{1700000000 + i}.M{i}P1.h", f"subject {i}", "FS" if i % 5 == 0 else "S")
    inbox.sync(force=True)
    assert len(inbox.uids) == 50
    inbox.indexed_headers("subject", inbox.uids)  # fills the header cache once
    for uid in inbox.uids:
        inbox.size(uid)
        inbox.internal_time(uid)
    inbox.save_cache()
    os.utime(os.path.join(inbox.path, "cur"), ns=(10**18, 10**18))  # settled long ago
    os.utime(os.path.join(inbox.path, "new"), ns=(10**18, 10**18))
    inbox.sync(force=True)
    inbox.close()

    listed, opened = [], []
    real_listdir, real_open = os.listdir, builtins.open
    monkeypatch.setattr(os, "listdir", lambda p=".": listed.append(str(p)) or real_listdir(p))
    monkeypatch.setattr(builtins, "open", lambda f, *a, **k: opened.append(str(f)) or real_open(f, *a, **k))
    cold = MaildirMailbox(inbox.path, "INBOX")  # what a restarted server does
    cold.sync()
    flagged = cold.match_flags(lambda flags: "\\Flagged" in flags)
    subjects = cold.indexed_headers("subject", cold.uids)
    sizes = [cold.size(u) for u in cold.uids]
    dates = [cold.internal_time(u) for u in cold.uids]
    assert len(flagged) == 10 and subjects[cold.uids[7]] == "subject 7"
    assert all(sizes) and all(dates)
    assert not [p for p in listed if p.endswith(("cur", "new"))], listed
    message_files = [p for p in opened if os.sep + "cur" + os.sep in p or os.sep + "new" + os.sep in p]
    assert message_files == []


def test_a_change_while_the_server_was_down_is_found_at_the_cold_open(tmp_path):
    store = MailStore(str(tmp_path))
    inbox = store.account("u").open("INBOX")
    for i in range(5):
        _deliver(inbox.path, f"{1700000000 + i}.M{i}P1.h", f"s{i}")
    inbox.sync(force=True)
    store.close()
    cur = os.path.join(inbox.path, "cur")
    victim = sorted(os.listdir(cur))[2]
    os.rename(os.path.join(cur, victim), os.path.join(cur, victim.split(":")[0] + ":2,F"))
    cold = MaildirMailbox(inbox.path, "INBOX")
    assert cold.flags(3) == {"\\Flagged"}
    assert cold.modseq(3) == cold.highestmodseq

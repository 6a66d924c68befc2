"""End-to-end: isync's mbsync doing two-way syncs against pushimapd.

Near side is a local Maildir store (``SubFolders Verbatim``: the server
folder ``Lists.dev`` is ``local/Lists/dev``), far side the server account.
After every run both Maildirs are read from disk and compared.

mbsync (1.4) writes an ``X-TUID: <12 chars>`` header into every message it
propagates, in either direction; the comparisons strip exactly that one
field from the side that received the copy (none of the test messages has
one of its own).
"""

from __future__ import annotations

import os
import re

import pytest

from conftest import require_binary
from clients_util import (  # noqa: F401  (imap_server is a fixture)
    by_message_id, client_env, crlf, deliver, imap_login, imap_server, imap_uid_of, make_message, message_id,
    make_server_folder, read_maildir, run_client, server_folders, server_messages, set_local_flags,
    age_dirs, snapshot, size_fields_ok, write_local_message,
)

_TUID = re.compile(rb"^X-TUID: [A-Za-z0-9+/]{12}\r?\n", re.M)


def without_tuid(data: bytes) -> tuple[bytes, int]:
    """``data`` minus mbsync's X-TUID field (header only), and how many were removed."""
    m = re.search(rb"\r?\n\r?\n", data)
    head, body = (data[:m.end()], data[m.end():]) if m else (data, b"")
    head, n = _TUID.subn(b"", head)
    return head + body, n


class Mbsync:
    def __init__(self, tmp_path, server, auth: str = "LOGIN"):
        self.binary = require_binary("mbsync")
        self.server = server
        self.env = client_env(tmp_path)
        self.local = str(tmp_path / "local")
        os.makedirs(self.local, exist_ok=True)
        self.rc = str(tmp_path / "mbsyncrc")
        with open(self.rc, "w") as f:
            f.write(f"""\
IMAPAccount pushimapd
Host 127.0.0.1
Port {server.port}
User demo
Pass demo
SSLType None
AuthMechs {auth}
Timeout 20

IMAPStore remote
Account pushimapd

MaildirStore local
Path {self.local}/
Inbox {self.local}/INBOX
SubFolders Verbatim

Channel demo
Far :remote:
Near :local:
Patterns *
Create Both
Expunge Both
Sync All
""")

    def sync(self):
        age_dirs(self.local)  # else mbsync sleeps a second after our own recent changes
        return run_client([self.binary, "-c", self.rc, "-a", "-V"], self.env)

    def folder_path(self, name: str) -> str:
        return os.path.join(self.local, *name.split("."))

    def folders(self) -> list[str]:
        """IMAP-style names ('.'-separated) of the local Maildir folders."""
        names = []
        for dirpath, dirs, _files in os.walk(self.local):
            if {"cur", "new", "tmp"} <= set(dirs):
                rel = os.path.relpath(dirpath, self.local)
                names.append(rel.replace(os.sep, "."))
        return sorted(names, key=lambda n: (n != "INBOX", n))

    def messages(self, name: str):
        return read_maildir(self.folder_path(name), name)


def assert_in_sync(mb: Mbsync) -> None:
    """Same folders, same messages (by Message-ID), same content and same flags on both sides."""
    assert mb.folders() == server_folders(mb.server)
    for folder in server_folders(mb.server):
        remote = by_message_id(server_messages(mb.server, folder))
        local = by_message_id(mb.messages(folder))
        assert sorted(local) == sorted(remote), folder
        for mid, r in remote.items():
            near = local[mid]
            near_data, n_near = without_tuid(near.data)
            far_data, n_far = without_tuid(r.data)
            assert n_near + n_far <= 1, (near.path, r.path)
            assert crlf(near_data) == crlf(far_data), (near.path, r.path)
            assert near.flags == r.flags, (folder, mid, near.filename, r.filename)


@pytest.fixture
def mailboxes(imap_server):
    """Server folders Sent, Lists and Lists.dev, and a few messages delivered by the MTA."""
    for name in ("Sent", "Lists", "Lists.dev"):
        make_server_folder(imap_server, name)
    msgs = {
        "INBOX": [
            make_message("plain LF message", "first line\nsecond line\n"),
            make_message("", "8-bit body: Grüße aus Köln\n", raw_subject="Grüße aus Köln – Ümläute".encode(),
                         extra="X-Sender-Name: Jürgen Müller\nComments: raw 8-bit header, bare LF"),
            make_message("CRLF on disk", "crlf body\nline two\n", eol=b"\r\n"),
            make_message("a folded\n header that goes on", "x\n",
                         extra="Received: from a.example.com by b.example.org;\n\tMon, 2 Sep 2024 10:00:00 +0000"),
        ],
        "Sent": [make_message("sent one", "s1\n"), make_message("sent two", "s2\n")],
        "Lists.dev": [make_message("list post", "l1\n", extra="List-Id: <dev.example.com>")],
    }
    for folder, datas in msgs.items():
        for data in datas:
            deliver(imap_server, data, folder)
    return msgs


@pytest.mark.parametrize("auth", ["LOGIN", "PLAIN"])
def test_initial_download_and_noop_resync(tmp_path, imap_server, mailboxes, auth):
    mb = Mbsync(tmp_path, imap_server, auth)
    mb.sync()
    command = {"LOGIN": "LOGIN", "PLAIN": "AUTHENTICATE"}[auth]
    assert re.search(rf"C: b'\S+ {command} ", imap_server.trace()), f"mbsync did not use {command}"

    assert mb.folders() == ["INBOX", "Lists", "Lists.dev", "Sent"]
    for folder, datas in mailboxes.items():
        local = by_message_id(mb.messages(folder))
        assert len(local) == len(datas)
        for data in datas:
            got = local[message_id(data)]
            stripped, n = without_tuid(got.data)
            assert n == 1  # mbsync's own marker, nothing else added
            assert crlf(stripped) == crlf(data), got.path
            assert got.flags == ""  # delivered mail is unseen; mbsync must not set \Seen
        # the server's copies are untouched by the download (BODY.PEEK, no flags)
        remote = by_message_id(server_messages(imap_server, folder))
        assert sorted(remote) == sorted(message_id(d) for d in datas)
        for data in datas:
            assert remote[message_id(data)].data == data
            assert remote[message_id(data)].flags == ""
    assert_in_sync(mb)

    # a second sync changes nothing on either side and sends no changes
    before_local, before_remote = snapshot(mb.local), snapshot(imap_server.root)
    trace_mark = len(imap_server.trace())
    mb.sync()
    assert snapshot(mb.local) == before_local
    assert snapshot(imap_server.root) == before_remote
    second = imap_server.trace()[trace_mark:]
    assert re.search(r"C: b'\S+ SELECT \"?Lists.dev", second)  # the trace did record the second run
    for verb in ("APPEND", "STORE", "EXPUNGE", "CREATE", "DELETE"):
        assert not re.search(rf"C: b'\S+ (UID )?{verb}\b", second), verb


def test_upload_new_local_messages(tmp_path, imap_server):
    deliver(imap_server, make_message("already there"))
    mb = Mbsync(tmp_path, imap_server)
    mb.sync()
    assert_in_sync(mb)

    uploads = {
        # (folder, local flags or None for new/) -> data
        ("INBOX", "F"): make_message("flagged upload", "f\n"),
        ("INBOX", "RS"): make_message("answered and seen", "rs\n"),
        ("INBOX", None): make_message("unflagged upload in new/", "u\n"),
        ("INBOX", ""): make_message("no flags in cur/", "c\n"),
        ("INBOX", "DFS"): make_message("draft flagged seen", "dfs\n"),
        ("Drafts", "D"): make_message("local-only folder", "ümlaut body\n"),  # created on the server
    }
    for (folder, info), data in uploads.items():
        write_local_message(mb.folder_path(folder), data, info)
    mb.sync()

    assert server_folders(imap_server) == ["INBOX", "Drafts"]
    assert os.path.isdir(os.path.join(imap_server.root, "demo", ".Drafts", "tmp"))
    for (folder, info), data in uploads.items():
        remote = by_message_id(server_messages(imap_server, folder))[message_id(data)]
        assert remote.flags == "".join(sorted(info or ""))
        stripped, n = without_tuid(remote.data)
        assert n == 1
        assert stripped == crlf(data)  # sent as CRLF, stored as sent (plus X-TUID)
        assert size_fields_ok(remote)
    assert_in_sync(mb)


def test_flag_changes_both_directions(tmp_path, imap_server):
    datas = {k: make_message(f"message {k}", f"{k}\n") for k in "abcd"}
    for data in datas.values():
        deliver(imap_server, data)
    mb = Mbsync(tmp_path, imap_server)
    mb.sync()
    local = by_message_id(mb.messages("INBOX"))
    mid = {k: message_id(d) for k, d in datas.items()}

    # local: a gets \Seen \Flagged, b gets \Seen
    set_local_flags(local[mid["a"]].path, "FS")
    set_local_flags(local[mid["b"]].path, "S")
    # server, through another IMAP client: c gets \Seen \Answered, d gets \Flagged
    conn = imap_login(imap_server)
    conn.select("INBOX")
    for k, flags in (("c", r"(\Seen \Answered)"), ("d", r"(\Flagged)")):
        typ, data = conn.uid("STORE", str(imap_uid_of(conn, mid[k])), "+FLAGS", flags)
        assert typ == "OK", data
    conn.logout()
    remote = by_message_id(server_messages(imap_server))
    assert (remote[mid["c"]].flags, remote[mid["d"]].flags) == ("RS", "F")  # STORE renamed the files

    mb.sync()
    remote = by_message_id(server_messages(imap_server))
    local = by_message_id(mb.messages("INBOX"))
    assert {k: remote[m].flags for k, m in mid.items()} == {"a": "FS", "b": "S", "c": "RS", "d": "F"}
    assert {k: local[m].flags for k, m in mid.items()} == {"a": "FS", "b": "S", "c": "RS", "d": "F"}
    assert_in_sync(mb)

    # and removing flags: a loses \Flagged locally, c loses \Seen on the server
    set_local_flags(local[mid["a"]].path, "S")
    conn = imap_login(imap_server)
    conn.select("INBOX")
    typ, data = conn.uid("STORE", str(imap_uid_of(conn, mid["c"])), "-FLAGS", r"(\Seen)")
    assert typ == "OK", data
    conn.logout()
    mb.sync()
    remote = by_message_id(server_messages(imap_server))
    local = by_message_id(mb.messages("INBOX"))
    assert {k: remote[m].flags for k, m in mid.items()} == {"a": "S", "b": "S", "c": "R", "d": "F"}
    assert {k: local[m].flags for k, m in mid.items()} == {"a": "S", "b": "S", "c": "R", "d": "F"}
    assert_in_sync(mb)


def test_deletions_propagate(tmp_path, imap_server):
    make_server_folder(imap_server, "Sent")
    datas = {k: make_message(f"message {k}", f"{k}\n") for k in "abcd"}
    for data in datas.values():
        deliver(imap_server, data)
    sent = make_message("sent, deleted on the server")
    deliver(imap_server, sent, "Sent")
    mb = Mbsync(tmp_path, imap_server)
    mb.sync()
    assert_in_sync(mb)
    mid = {k: message_id(d) for k, d in datas.items()}
    local = by_message_id(mb.messages("INBOX"))

    os.unlink(local[mid["a"]].path)  # removed locally
    set_local_flags(local[mid["b"]].path, "T")  # \Deleted locally, expunged by Expunge Both
    conn = imap_login(imap_server)  # c and the Sent message are expunged on the server
    conn.select("INBOX")
    assert conn.uid("STORE", str(imap_uid_of(conn, mid["c"])), "+FLAGS", r"(\Deleted)")[0] == "OK"
    assert conn.expunge()[0] == "OK"
    conn.select("Sent")
    assert conn.store("1", "+FLAGS", r"(\Deleted)")[0] == "OK"
    assert conn.expunge()[0] == "OK"
    conn.logout()
    assert sorted(by_message_id(server_messages(imap_server))) == sorted([mid["a"], mid["b"], mid["d"]])

    mb.sync()
    assert sorted(by_message_id(server_messages(imap_server))) == [mid["d"]]
    assert sorted(by_message_id(mb.messages("INBOX"))) == [mid["d"]]
    assert server_messages(imap_server, "Sent") == []
    assert mb.messages("Sent") == []
    assert_in_sync(mb)


def test_changes_made_on_server_disk_between_syncs(tmp_path, imap_server):
    """Another program changes the server Maildir right after a sync (same second)."""
    datas = {k: make_message(f"message {k}", f"{k}\n") for k in "abc"}
    for data in datas.values():
        deliver(imap_server, data)
    mb = Mbsync(tmp_path, imap_server)
    mb.sync()
    assert_in_sync(mb)
    mid = {k: message_id(d) for k, d in datas.items()}
    remote = by_message_id(server_messages(imap_server))

    late = make_message("delivered by the MTA after the first sync", "late\n")
    deliver(imap_server, late)  # into new/
    a = remote[mid["a"]]
    os.rename(a.path, os.path.join(os.path.dirname(a.path), a.base + ":2,FS"))  # e.g. a shell MUA on the server
    os.unlink(remote[mid["b"]].path)  # removed behind the server's back
    mb.sync()

    local = by_message_id(mb.messages("INBOX"))
    assert sorted(local) == sorted([mid["a"], mid["c"], message_id(late)])
    assert local[mid["a"]].flags == "FS"
    assert crlf(without_tuid(local[message_id(late)].data)[0]) == crlf(late)
    assert_in_sync(mb)

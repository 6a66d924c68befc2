"""End-to-end: getmail6 retrieving demo's sample mail from pushimapd over IMAP.

getmail runs with an rc file of its own (``[retriever] SimpleIMAPRetriever``
on 127.0.0.1 without SSL, ``[destination] Maildir`` in tmp_path). It fetches
each message with ``UID FETCH <uid> (BODY.PEEK[])``, parses it with Python's
``email`` package and writes it out again, LF line endings. What ends up in
the destination Maildir is exactly

  + ``Return-Path: <sender>`` as the first line, where sender is the address of
    the message's own Return-Path (whose field(s) getmail removes), else of its
    Sender, else ``unknown``,
  + ``Delivered-To: unknown`` (IMAP has no envelope recipient),
  + ``Received: from 127.0.0.1 (127.0.0.1:<port>) by <host> with IMAP4 getmail6
    msgid:<UIDVALIDITY>/<UID>; <date>``, folded at 78 characters,
  + the message as the server sent it, CRLF turned into LF, with
  + ``X-getmail-retrieved-from-mailbox: <folder>`` appended as the last header
    field (``record_mailbox``, on by default; a non-ASCII folder name is RFC
    2047 encoded).

The tests remove exactly these four fields, checking their values (sender,
port, UIDVALIDITY/UID as the server reports them over IMAP, folder), and
compare the rest with the server's file byte for byte. Python's ``email``
generator rewrites two things, so for some messages (and only those that have
a reason for it) the comparison undoes them on both sides first: header lines
longer than 78 characters are re-folded (broken before a space, in message
and MIME part headers alike; compared unfolded, RFC 5322), and an empty line
is written after the close-delimiter (``--boundary--``) of a multipart nested
in another one (one empty line after each close-delimiter is dropped). Most
sample messages arrive byte-identical.

getmail refuses to deliver into a Maildir as root. When the tests run as root,
getmail is started in a new user namespace (``unshare --user``), where it runs
as the overflow uid: it still writes the files as the real (root) user, but
no longer sees uid 0.
"""

from __future__ import annotations

import email.header
import os
import re
import subprocess
from typing import Optional

import pytest

from conftest import require_binary
from clients_util import (  # noqa: F401  (imap_sample_server is a fixture)
    USER, PASSWORD, by_message_id, client_env, crlf, deliver, header_fields, imap_login, imap_sample_server, lf,
    make_message, message_id, read_maildir, run_client, server_folder_path, server_folders, server_messages,
    snapshot, split_header,
)

_GETMAIL_HEAD = re.compile(
    rb"\AReturn-Path: <([^>\n]*)>\n"
    rb"Delivered-To: unknown\n"
    rb"(Received: [^\n]*(?:\n  [^\n]*)*)\n")
# getmail folds its Received field at 78 characters (where depends on host name and port)
_GETMAIL_RECEIVED = re.compile(
    rb"\AReceived: from 127\.0\.0\.1 \(127\.0\.0\.1:(\d+)\) by \S+ with IMAP4 getmail6"
    rb" msgid:(\d+)/(\d+); \d\d? \w{3} \d{4} \d\d:\d\d:\d\d -0000\Z")
_MAILBOX_FIELD = re.compile(rb"\nX-getmail-retrieved-from-mailbox: ([^\n]*)\n\n")
_RETRIEVED = re.compile(rb"^\s*(\d+) messages? \(\d+ bytes\) retrieved, (\d+) skipped", re.M)


def _unshare_prefix() -> list[str]:
    """``unshare --user`` when running as root (getmail's Maildir refuses uid 0), else nothing."""
    if os.geteuid() != 0:
        return []
    unshare = require_binary("unshare")
    probe = subprocess.run([unshare, "--user", "true"], capture_output=True, timeout=10)
    if probe.returncode != 0:
        msg = ("getmail will not deliver to a Maildir as root and this system refuses user namespaces "
               f"(unshare --user: {probe.stderr.decode(errors='replace').strip()}); run the tests as a normal user")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return [unshare, "--user"]


class Getmail:
    """getmail with its own getmaildir (state: the oldmail files) and destination Maildir."""

    def __init__(self, tmp_path, server, mailboxes=("INBOX",), delete: bool = False, read_all: bool = False):
        self.binary = require_binary("getmail")
        self.prefix = _unshare_prefix()
        self.server = server
        self.env = client_env(tmp_path)
        home = self.env["HOME"]
        self.getmaildir = os.path.join(home, ".getmail")
        self.out = os.path.join(str(tmp_path), "retrieved")
        for d in (self.getmaildir, *(os.path.join(self.out, sub) for sub in ("cur", "new", "tmp"))):
            os.makedirs(d, exist_ok=True)
        self.rc = os.path.join(self.getmaildir, "getmailrc")
        boxes = ", ".join('"%s"' % m for m in mailboxes) + ("," if len(mailboxes) == 1 else "")
        with open(self.rc, "w", encoding="utf-8") as f:
            f.write(f"""\
[retriever]
type = SimpleIMAPRetriever
server = 127.0.0.1
port = {server.port}
username = {USER}
password = {PASSWORD}
mailboxes = ({boxes})

[destination]
type = Maildir
path = {self.out}/

[options]
verbose = 2
read_all = {str(read_all).lower()}
delete = {str(delete).lower()}
""")
        os.chmod(self.rc, 0o600)

    def run(self) -> tuple[int, int]:
        """One getmail run; returns how many messages it says it retrieved and skipped (seen before)."""
        done = run_client([*self.prefix, self.binary, "--getmaildir", self.getmaildir, "--rcfile", self.rc],
                          self.env)
        found = _RETRIEVED.findall(done.stdout)  # one line per mailbox
        assert found, done.stdout
        assert b"error" not in done.stdout.lower() + done.stderr.lower(), done.stdout + done.stderr
        return sum(int(n) for n, _ in found), sum(int(skipped) for _, skipped in found)

    def delivered(self) -> list:
        return read_maildir(self.out)


# -- checking what getmail delivered ----------------------------------------------------------------


def unfold(data: bytes) -> bytes:
    """``data`` with every line break that precedes whitespace removed (RFC 5322 unfolding)."""
    return re.sub(rb"\n(?=[ \t])", b"", data)


def python_email_normalised(data: bytes) -> bytes:
    """``data`` with the two changes Python's email generator (so getmail) may make undone on either side:
    header lines re-folded (unfold everything), and an empty line written after the close-delimiter
    (``--boundary--``) of a multipart nested in another one (drop one empty line after each)."""
    return re.sub(rb"^(--[^\n]+--\n)\n", rb"\1", unfold(data), flags=re.M)


def expected_sender(original: bytes) -> bytes:
    for name in ("return-path", "sender"):
        raws = [raw for field, raw in header_fields(original) if field == name]
        if raws:
            value = unfold(raws[0].replace(b"\r\n", b"\n")).split(b":", 1)[1].strip()
            m = re.search(rb"<([^>]*)>", value)
            return m.group(1) if m else value
    return b"unknown"


def split_getmail(data: bytes) -> tuple[dict, bytes]:
    """(the values of getmail's four fields, the message without them); asserts their shape."""
    m = _GETMAIL_HEAD.match(data)
    assert m, data[:400]
    received = _GETMAIL_RECEIVED.match(m.group(2).replace(b"\n  ", b" "))
    assert received, m.group(2)
    rest = data[m.end():]
    head, body = split_header(rest)
    found = list(_MAILBOX_FIELD.finditer(b"\n" + head))
    assert len(found) == 1 and found[0].end() == len(head) + 1, head[-300:]
    head = (b"\n" + head)[1:found[0].start() + 1] + b"\n"
    info = {"sender": m.group(1), "port": int(received.group(1)), "uidvalidity": int(received.group(2)),
            "uid": int(received.group(3)),
            "mailbox": str(email.header.make_header(email.header.decode_header(found[0].group(1).decode())))}
    return info, head + body


def without_return_path(data: bytes) -> bytes:
    """``data`` (LF) without its Return-Path field(s), which getmail replaces by its own."""
    head, body = split_header(data)
    lines = head.split(b"\n")
    out, skipping = [], False
    for line in lines:
        if line[:1] in (b" ", b"\t") and skipping:
            continue
        skipping = line.lower().startswith(b"return-path:")
        if not skipping:
            out.append(line)
    return b"\n".join(out) + body


def uids(server, folder: str) -> tuple[int, dict[str, int]]:
    """(UIDVALIDITY, Message-ID -> UID) of a folder, asked over IMAP (EXAMINE: changes nothing)."""
    conn = imap_login(server)
    try:
        typ, data = conn.select(f'"{folder}"', readonly=True)
        assert typ == "OK", data
        uidvalidity = int(conn.response("UIDVALIDITY")[1][0])
        typ, data = conn.uid("FETCH", "1:*", "(UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert typ == "OK", data
        out = {}
        for item in data:
            if isinstance(item, tuple):
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                out[message_id(item[1])] = uid
        return uidvalidity, out
    finally:
        conn.logout()


def assert_retrieved(got: list, server, folders: dict[str, str], uid_info: Optional[dict] = None) -> None:
    """Every delivered file is one message of ``folders`` (getmail's name -> IMAP name), each exactly once."""
    expected = {}
    for shown, folder in folders.items():
        for mid, f in by_message_id(server_messages(server, folder)).items():
            expected[(shown, mid)] = f
    seen = set()
    identical = rewritten = 0
    for g in got:
        info, rest = split_getmail(g.data)
        key = (info["mailbox"], message_id(rest))
        assert key in expected and key not in seen, (key, g.filename)
        seen.add(key)
        original = expected[key]
        assert info["port"] == server.port
        assert info["sender"] == expected_sender(original.data), (key, info)
        if uid_info is not None:
            uidvalidity, by_mid = uid_info[info["mailbox"]]
            assert (info["uidvalidity"], info["uid"]) == (uidvalidity, by_mid[key[1]]), key
        want = without_return_path(lf(crlf(original.data)))
        if rest != want:
            assert python_email_normalised(rest) == python_email_normalised(want), (key, original.filename)
            # and there was a reason for the generator to change something
            long_lines = any(len(line) > 78 for line in want.split(b"\n"))
            nested = len(re.findall(rb"^content-type:\s*multipart/", want, re.M | re.I)) > 1
            assert long_lines or nested, (key, original.filename)
            rewritten += 1
        else:
            identical += 1
    assert seen == set(expected), sorted(set(expected) - seen)[:5]
    print(f"{identical} byte-identical, {rewritten} re-generated by Python's email package")
    assert identical > rewritten


def client_visible_state(server, folder: str = "INBOX") -> dict:
    """base name -> (flags incl. keywords, content) of a server folder."""
    return {f.base: (f.info or "", f.data) for f in server_messages(server, folder)}


# -- the tests --------------------------------------------------------------------------------------


def test_retrieve_inbox_keep_then_only_new_mail(tmp_path, imap_sample_server):
    server = imap_sample_server
    before = client_visible_state(server)
    assert len(before) == 36
    uid_info = {"INBOX": uids(server, "INBOX")}
    gm = Getmail(tmp_path, server, delete=False, read_all=False)

    assert gm.run() == (36, 0)
    got = gm.delivered()
    assert len(got) == 36
    assert_retrieved(got, server, {"INBOX": "INBOX"}, uid_info)
    # the message with raw UTF-8 in Subject and From arrives unchanged
    (koeln,) = [g for g in got if message_id(g.data) == "<c0e1b2a3-4d5e-6f70-8192-koeln@example.org>"]
    assert "Subject: Grüße aus Köln\n".encode() in koeln.data
    assert "From: Helga Brück <helga@example.org>\n".encode() in koeln.data

    # delete = false: EXAMINE and BODY.PEEK, nothing changes on the server (no \Seen either)
    assert client_visible_state(server) == before

    # read_all = false: a second run finds nothing it has not seen ...
    delivered = snapshot(gm.out)
    assert gm.run() == (0, 36)
    assert snapshot(gm.out) == delivered

    # ... and a third one after new mail arrived gets exactly that message
    new = make_message("arrived between two getmail runs", "new body\n")
    deliver(server, new)
    assert gm.run() == (1, 36)
    fresh = [g for g in gm.delivered() if os.path.relpath(g.path, gm.out) not in delivered]
    assert len(fresh) == 1
    info, rest = split_getmail(fresh[0].data)
    assert rest == new and info["mailbox"] == "INBOX" and info["sender"] == b"unknown"
    assert info["uid"] == max(uid_info["INBOX"][1].values()) + 1
    assert len(server_messages(server)) == 37


def test_retrieve_and_delete_empties_inbox(tmp_path, imap_sample_server):
    server = imap_sample_server
    others = {folder: client_visible_state(server, folder) for folder in server_folders(server) if folder != "INBOX"}
    expected_inbox = by_message_id(server_messages(server))
    uid_info = {"INBOX": uids(server, "INBOX")}
    gm = Getmail(tmp_path, server, delete=True)

    # assert_retrieved reads the originals from the server, so compare against the copies taken before
    assert gm.run() == (36, 0)
    got = gm.delivered()
    assert len(got) == 36
    assert sorted(message_id(split_getmail(g.data)[1]) for g in got) == sorted(expected_inbox)
    for g in got:
        info, rest = split_getmail(g.data)
        original = expected_inbox[message_id(rest)]
        assert info["uid"] == uid_info["INBOX"][1][message_id(rest)]
        want = without_return_path(lf(crlf(original.data)))
        assert python_email_normalised(rest) == python_email_normalised(want), original.filename

    # every INBOX file is gone from disk (STORE \Deleted \Seen, EXPUNGE); the folders are untouched
    inbox = server_folder_path(server, "INBOX")
    assert server_messages(server) == []
    assert os.listdir(os.path.join(inbox, "cur")) == [] and os.listdir(os.path.join(inbox, "new")) == []
    for folder, state in others.items():
        assert client_visible_state(server, folder) == state, folder

    assert gm.run() == (0, 0)
    assert len(gm.delivered()) == 36


def test_retrieve_several_mailboxes(tmp_path, imap_sample_server):
    server = imap_sample_server
    folders = {"INBOX": "INBOX", "Lists.imap-protocol": "Lists.imap-protocol", "Entwürfe": "Entw&APw-rfe"}
    before = {folder: client_visible_state(server, folder) for folder in folders.values()}
    uid_info = {shown: uids(server, folder) for shown, folder in folders.items()}
    gm = Getmail(tmp_path, server, mailboxes=tuple(folders))

    total = sum(len(state) for state in before.values())
    assert total == 36 + 6 + 2
    assert gm.run() == (total, 0)
    got = gm.delivered()
    assert len(got) == total
    assert_retrieved(got, server, folders, uid_info)
    counts = {}
    for g in got:
        shown = split_getmail(g.data)[0]["mailbox"]
        counts[shown] = counts.get(shown, 0) + 1
    assert counts == {"INBOX": 36, "Lists.imap-protocol": 6, "Entwürfe": 2}
    assert {folder: client_visible_state(server, folder) for folder in folders.values()} == before

    assert gm.run() == (0, total)

"""End-to-end: offlineimap (offlineimap3) syncing demo's account into a local Maildir.

The server runs over a copy of maildir-sample (9 folders, 64 messages for
demo, a 1.2 MB one, CRLF and bare-LF files, one without a final newline).
offlineimap keeps the server's '.' separator locally, so the folder
``Lists.imap-protocol`` is the directory ``local/Lists.imap-protocol``.

offlineimap3 does not store what it fetched byte for byte: it parses every
message with Python's ``email`` package (policy default, cte_type 8bit,
utf8, refold_source none, CRLF) and writes ``msg.as_bytes()`` with LF line
endings (folder/IMAP.py ``_fetch_from_imap``, folder/Maildir.py
``save_to_tmp_file``). That can change bytes, e.g. it adds a blank line after
the closing boundary of a nested multipart (maildir-sample's fwd-rfc822).
``offlineimap_rewrite`` applies that same round trip, with the interpreter
offlineimap itself runs under, to the server's file so the comparison is
still exact.
"""

from __future__ import annotations

import os
import subprocess


from conftest import require_binary
from clients_util import (  # noqa: F401  (imap_server, imap_sample_server are fixtures)
    age_dirs, by_message_id, client_env, crlf, imap_sample_server, imap_server, make_message, message_id, read_maildir,
    run_client, server_folders, server_messages, set_local_flags, size_fields_ok, snapshot,
    write_local_message,
)


_REWRITE = r"""
import re, sys
from email import policy
from email.parser import BytesParser
fetched = policy.default.clone(cte_type="8bit", utf8=True, refold_source="none", linesep="\r\n")
stored = policy.default.clone(cte_type="8bit", utf8=True, refold_source="none")
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = re.sub(rb"\r?\n", b"\r\n", f.read())  # what FETCH BODY[] returns
    out = BytesParser(policy=fetched).parsebytes(data).as_bytes(policy=stored)
    sys.stdout.buffer.write(b"%d\n" % len(out) + out)
"""


def offlineimap_python(binary: str) -> str:
    with open(os.path.realpath(binary), "rb") as f:
        first = f.readline()
    assert first.startswith(b"#!"), first
    return first[2:].decode().split()[0]


def offlineimap_rewrite(binary: str, paths: list[str]) -> list[bytes]:
    """What offlineimap writes locally for each server file (see the module docstring)."""
    if not paths:
        return []
    done = subprocess.run([offlineimap_python(binary), "-c", _REWRITE, *paths], capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    out, rest = [], done.stdout
    while rest:
        size, _, rest = rest.partition(b"\n")
        out.append(rest[:int(size)])
        rest = rest[int(size):]
    assert len(out) == len(paths)
    return out


class OfflineImap:
    def __init__(self, tmp_path, server):
        self.binary = require_binary("offlineimap")
        self.server = server
        self.env = client_env(tmp_path)
        self.local = str(tmp_path / "local")
        os.makedirs(self.local, exist_ok=True)
        self.rc = str(tmp_path / "offlineimaprc")
        with open(self.rc, "w") as f:
            f.write(f"""\
[general]
accounts = demo
metadata = {tmp_path}/offlineimap-meta

[Account demo]
localrepository = local
remoterepository = remote

[Repository local]
type = Maildir
localfolders = {self.local}

[Repository remote]
type = IMAP
remotehost = 127.0.0.1
remoteport = {server.port}
remoteuser = demo
remotepass = demo
ssl = no
starttls = no
timeout = 20
""")

    def sync(self):
        age_dirs(self.local)
        done = run_client([self.binary, "-c", self.rc, "-o", "-u", "basic"], self.env)
        # offlineimap exits 0 even when a folder failed; its errors go to the log
        log = done.stdout + done.stderr
        assert b"ERROR" not in log and b"Traceback" not in log, log.decode(errors="replace")
        return done

    def folders(self) -> list[str]:
        names = sorted(n for n in os.listdir(self.local) if os.path.isdir(os.path.join(self.local, n, "cur")))
        return sorted(names, key=lambda n: (n != "INBOX", n))

    def messages(self, folder: str):
        return read_maildir(os.path.join(self.local, folder), folder)


def assert_in_sync(oi: OfflineImap, folders=None) -> int:
    """Same folders, messages (by Message-ID), content and flags; returns the message count."""
    assert oi.folders() == server_folders(oi.server)
    count = 0
    for folder in folders or server_folders(oi.server):
        remote = by_message_id(server_messages(oi.server, folder))
        local = by_message_id(oi.messages(folder))
        assert sorted(local) == sorted(remote), folder
        expected = dict(zip(remote, offlineimap_rewrite(oi.binary, [r.path for r in remote.values()])))
        for mid, r in remote.items():
            assert local[mid].data == expected[mid], (local[mid].path, r.path)
            assert local[mid].flags == r.flags, (folder, mid, local[mid].filename, r.filename)
            count += 1
    return count


def test_sync_sample_account_then_flags_back(tmp_path, imap_sample_server):
    server = imap_sample_server
    before = snapshot(os.path.join(server.root, "demo"))
    oi = OfflineImap(tmp_path, server)
    oi.sync()

    assert oi.folders() == ["INBOX", "Archive", "Drafts", "Entw&APw-rfe", "Junk", "Lists",
                            "Lists.imap-protocol", "Sent", "Trash"]
    assert assert_in_sync(oi) == 64  # 36 + 5 + 3 + 4 + 3 + 5 + 0 + 6 + 2 (maildir-sample/README.md)
    big = [f for f in oi.messages("INBOX") if len(f.data) > 1_000_000]
    assert len(big) == 1
    # nothing on the server changed except that new/ mail moved to cur/ (\Recent claimed)
    after = snapshot(os.path.join(server.root, "demo"))
    assert sorted(after.values()) == sorted(before.values())
    assert {os.path.basename(k).split(":")[0] for k in after} == {os.path.basename(k) .split(":")[0]
                                                                  for k in before}
    for f in server_messages(server):
        if f.subdir == "cur":
            assert f.filename.split(":")[0] + ":2," + (f.info or "") == f.filename

    # local flag changes go back to the server's file names; maildir-sample
    # messages are named by their <unix secs> prefix, found locally by Message-ID
    def local_by_secs(folder):
        local = by_message_id(oi.messages(folder))
        return {f.filename.split(".")[0]: local[f.message_id] for f in server_messages(server, folder)}

    changes = {
        "1767600131": "FS",   # welcome: S -> FS
        "1791185440": "S",    # parcel-unseen: "" -> S
        "1785753626": "S",    # alert-flagged: FS -> S
        "1771859984": "FS",   # design-notes: S (+P, $Forwarded on the server) -> FS
    }
    local = local_by_secs("INBOX")
    for secs, letters in changes.items():
        set_local_flags(local[secs].path, letters)
    set_local_flags(local_by_secs("Drafts")["1784572812"].path, "DS")  # draft-no-to: D -> DS
    oi.sync()

    remote = {f.filename.split(".")[0]: f for f in server_messages(server)}
    for secs, letters in changes.items():
        assert remote[secs].flags == letters, remote[secs].filename
    # letters offlineimap does not know (P, keyword a = $Forwarded) survive on the server
    assert remote["1771859984"].info == "FPSa", remote["1771859984"].filename
    assert {f.filename.split(".")[0]: f.info for f in server_messages(server, "Drafts")}["1784572812"] == "DS"
    assert assert_in_sync(oi) == 64


def test_upload_local_message(tmp_path, imap_server):
    oi = OfflineImap(tmp_path, imap_server)
    oi.sync()
    assert oi.folders() == ["INBOX"]
    flagged = make_message("written locally, flagged", "f\n")
    plain = make_message("written locally, new/", "Grüße\n")
    write_local_message(os.path.join(oi.local, "INBOX"), flagged, "FS")
    write_local_message(os.path.join(oi.local, "INBOX"), plain, None)
    oi.sync()

    remote = by_message_id(server_messages(imap_server))
    assert sorted(remote) == sorted(by_message_id(oi.messages("INBOX")))
    for data, letters in ((flagged, "FS"), (plain, "")):
        f = remote[message_id(data)]
        assert f.data == crlf(data)  # APPENDed as CRLF, UIDPLUS so no X-OfflineIMAP header
        assert f.flags == letters
        assert size_fields_ok(f)
    assert_in_sync(oi)

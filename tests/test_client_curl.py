"""End-to-end: curl's imap:// support against pushimapd.

curl prints the untagged responses of a custom command (-X) and the bare
literal of a FETCH; with -v it also logs the tagged ones on stderr.
"""

from __future__ import annotations

import os
import re

import pytest

from conftest import require_binary
from clients_util import (  # noqa: F401  (imap_server, imap_sample_server are fixtures)
    client_env, crlf, deliver, imap_sample_server, imap_server, make_message, make_server_folder, message_id, run_client,
    server_folders, server_messages, size_fields_ok, snapshot,
)


@pytest.fixture
def curl(request, tmp_path):
    """curl against whichever server fixture the test uses (imap_server unless it asks for the sample)."""
    name = "imap_sample_server" if "imap_sample_server" in request.fixturenames else "imap_server"
    server = request.getfixturevalue(name)
    binary = require_binary("curl")
    env = client_env(tmp_path)
    base = f"imap://127.0.0.1:{server.port}"

    def run(path: str = "/", *args: str, ok=(0,)):
        return run_client([binary, "--silent", "--show-error", "--max-time", "20", "--user", "demo:demo",
                           *args, base + path], env, ok=ok)

    return run


def untagged(output: bytes, kind: str) -> list[bytes]:
    """The untagged ``* KIND ...`` lines (rest of the line after KIND) curl printed."""
    return [m.group(1) for m in re.finditer(rb"^\* " + kind.encode() + rb"(?: (.*?))?\r?$", output, re.M)]


def test_list(curl, imap_server):
    for name in ("Sent", "Lists", "Lists.dev", "Entw&APw-rfe"):  # Entwürfe in modified UTF-7
        make_server_folder(imap_server, name)

    out = curl("/").stdout
    listed = {}
    for line in untagged(out, "LIST"):
        m = re.fullmatch(rb'\(([^)]*)\) (?:"\."|NIL) (?:"((?:[^"\\]|\\.)*)"|(\S+))', line)
        assert m, line
        name = (m.group(2) if m.group(2) is not None else m.group(3)).decode("ascii")
        listed[name] = m.group(1).split()
    assert sorted(listed) == sorted(server_folders(imap_server))
    assert b"\\HasChildren" in listed["Lists"]
    for name in ("INBOX", "Sent", "Lists.dev", "Entw&APw-rfe"):
        assert b"\\HasChildren" not in listed[name], (name, listed[name])
        assert b"\\Noselect" not in listed[name], (name, listed[name])


def test_examine(curl, imap_server):
    for i in range(3):
        deliver(imap_server, make_message(f"message {i}"))
    before = snapshot(imap_server.root)

    done = curl("/", "-v", "-X", "EXAMINE INBOX")
    out = done.stdout
    assert untagged(out, "3 EXISTS") == [None]
    assert untagged(out, "3 RECENT") == [None]  # just delivered into new/, nobody claimed them
    assert re.search(rb"^\* FLAGS \(.*\\Seen.*\)\r?$", out, re.M)
    assert re.search(rb"^\* OK \[UIDVALIDITY \d+\]", out, re.M)
    assert re.search(rb"^\* OK \[UIDNEXT 4\]", out, re.M)
    assert re.search(rb"^\* OK \[PERMANENTFLAGS \(\)\]", out, re.M)  # read-only
    assert re.search(rb"^< \S+ OK \[READ-ONLY\]", done.stderr, re.M), done.stderr
    # EXAMINE is read-only: the files stay in new/ with their names
    assert snapshot(imap_server.root) == before
    assert [f.subdir for f in server_messages(imap_server)] == ["new"] * 3


def test_fetch_by_uid_is_crlf_body(curl, imap_server):
    msgs = [
        make_message("bare LF", "line one\nline two\n\n-- \nsig\n"),
        make_message("", "Grüße, 8-bit body\n", raw_subject="8-bit Überschrift".encode()),
        make_message("CRLF already", "crlf\nbody\n", eol=b"\r\n"),
        b"Subject: no final newline\nMessage-ID: <nofinal@example.com>\n\nlast line without newline",
    ]
    for data in msgs:
        deliver(imap_server, data)
    on_disk = {f.message_id: f for f in server_messages(imap_server)}
    assert len(on_disk) == len(msgs)

    fetched = {}
    for uid in range(1, len(msgs) + 1):
        body = curl(f"/INBOX;UID={uid}").stdout
        fetched[message_id(body)] = body
    assert sorted(fetched) == sorted(on_disk)
    for mid, body in fetched.items():
        # byte-exact: the file with every line ending as CRLF, nothing else
        assert body == crlf(on_disk[mid].data), mid

    # BODY[] without PEEK sets \Seen, and the server recorded it in the file names
    assert [f.flags for f in server_messages(imap_server)] == ["S"] * len(msgs)


def test_fetch_by_uid_in_folder(curl, imap_server):
    make_server_folder(imap_server, "Lists.dev")
    data = make_message("in a nested folder", "nested\n")
    deliver(imap_server, data, "Lists.dev")
    assert curl("/Lists.dev;UID=1").stdout == crlf(data)
    assert curl("/INBOX;UID=1", ok=(78,)).stdout == b""  # 78: remote file not found (empty INBOX)


def test_fetch_large_sample_message(curl, imap_sample_server):
    # the sample's one message over 1 MB, found and fetched with curl alone
    (line,) = untagged(curl("/INBOX", "-X", "UID SEARCH LARGER 1000000").stdout, "SEARCH")
    (uid,) = line.split()
    body = curl(f"/INBOX;UID={int(uid)}").stdout
    (big,) = [f for f in server_messages(imap_sample_server) if len(f.data) > 1_000_000]
    assert len(body) == len(crlf(big.data)) == 1234084  # W= of its file name
    assert body == crlf(big.data)


def test_search_subject(curl, imap_server):
    subjects = {"foo bar": True, "Re: FOOtball news": True, "nothing here": False, "bar baz": False}
    for subject, _hit in subjects.items():
        body = "the word foo only in the body\n" if subject == "bar baz" else "text\n"
        deliver(imap_server, make_message(subject, body))
    expected = {f.message_id for f in server_messages(imap_server)
                if subjects[re.search(rb"^Subject: (.*)$", f.data, re.M).group(1).decode()]}

    out = curl("/INBOX", "-X", "SEARCH SUBJECT foo").stdout
    (line,) = untagged(out, "SEARCH")
    numbers = [int(n) for n in line.split()]
    assert len(numbers) == 2
    # which messages those sequence numbers are, fetched with curl as well
    found = {message_id(curl(f"/INBOX;MAILINDEX={n}").stdout) for n in numbers}
    assert found == expected


def test_append_upload(curl, imap_server, tmp_path):
    data = make_message("uploaded with curl -T", "Grüße\nsecond line\n", eol=b"\r\n",
                        extra="X-Mailer: curl\nReceived: from x by y;\r\n\tMon, 2 Sep 2024 10:00:00 +0000")
    path = tmp_path / "upload.eml"
    path.write_bytes(data)

    curl("/INBOX", "-T", str(path))

    (f,) = server_messages(imap_server)
    assert f.data == data  # byte for byte
    assert f.subdir == "cur"
    assert f.flags == "S"  # curl appends with (\Seen)
    assert size_fields_ok(f)
    assert os.listdir(os.path.join(imap_server.root, "demo", "tmp")) == []
    # and it reads back identically
    assert curl("/INBOX;UID=1").stdout == data


def test_append_into_folder(curl, imap_server, tmp_path):
    make_server_folder(imap_server, "Sent")
    data = make_message("to Sent", "x\n", eol=b"\r\n")
    path = tmp_path / "sent.eml"
    path.write_bytes(data)
    curl("/Sent", "-T", str(path))
    assert [f.data for f in server_messages(imap_server, "Sent")] == [data]
    assert server_messages(imap_server) == []

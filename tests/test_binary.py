"""BINARY (RFC 3516) over real TCP, and the literal8 / ``~`` atom parsing.

Every leaf part of every message of the bundled sample is fetched with
BINARY.PEEK and BINARY.SIZE and compared with the part decoded by Python's
own ``email`` package; crafted messages cover NUL bytes (literal8 in the
answer), partials, \\Seen, unknown transfer encodings and APPEND of a
literal8 message.
"""

from __future__ import annotations

import base64
import email
import email.policy
import os

import pytest

from conftest import SAMPLE, started_server
from imap_raw import RawIMAP, literal, parse, quote

USERS = (("demo", "demo"), ("bin", "bin"))


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("binary")), users=USERS, sample=True)
    yield server
    server.stop()


@pytest.fixture
def demo(srv):
    c = RawIMAP(srv.port)
    c.login("demo", "demo")
    yield c
    c.close()


@pytest.fixture
def binc(srv):
    c = RawIMAP(srv.port)
    c.login("bin", "bin")
    yield c
    c.close()


# -- what Python's email package says each part holds ---------------------------------
def leaf_parts(msg, prefix=()) -> list:
    """[(IMAP part number, decoded bytes, transfer encoding)] of every leaf of ``msg``."""
    out = []
    if msg.is_multipart():
        for i, child in enumerate(msg.get_payload(), 1):
            number = prefix + (i,)
            if child.get_content_type() == "message/rfc822":
                out.extend(leaf_parts(child.get_payload(0), number))
            else:
                out.extend(leaf_parts(child, number))
        return out
    number = prefix or (1,)
    cte = (msg.get("Content-Transfer-Encoding") or "7bit").strip().lower()
    return [(number, msg.get_payload(decode=True), cte)]


def sample_messages(user: str = "demo") -> list:
    """[(folder, file name, bytes)] of every message of a sample user."""
    out = []
    root = os.path.join(SAMPLE, user)
    folders = [("INBOX", root)] + [(d[1:], os.path.join(root, d)) for d in sorted(os.listdir(root))
                                   if d.startswith(".") and os.path.isdir(os.path.join(root, d))]
    for folder, path in folders:
        for sub in ("cur", "new"):
            d = os.path.join(path, sub)
            if os.path.isdir(d):
                for name in sorted(os.listdir(d)):
                    with open(os.path.join(d, name), "rb") as f:
                        out.append((folder, name, f.read()))
    return out


def message_id_of(raw: bytes) -> str:
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return (msg.get("Message-ID") or "").strip()


def same_content(got: bytes, expected: bytes, cte: str) -> bool:
    if cte == "base64":
        return got == expected
    # text parts: the server serves CRLF, the sample files have bare LF
    return got.replace(b"\r\n", b"\n") == expected.replace(b"\r\n", b"\n")


def fetch_binary(c: RawIMAP, uid: int, part: str, extra: str = "") -> dict:
    r = c.ok(f"UID FETCH {uid} (BINARY.PEEK[{part}]{extra} BINARY.SIZE[{part}])")
    (found,) = r.fetches()
    return found[1]


def test_every_attachment_of_the_sample_decodes_as_python_decodes_it(demo):
    checked = {"base64": 0, "quoted-printable": 0, "other": 0}
    by_folder: dict = {}
    for folder, name, raw in sample_messages():
        by_folder.setdefault(folder, []).append(raw)
    for folder, messages in by_folder.items():
        demo.ok(b"EXAMINE " + quote(folder))
        r = demo.ok("UID FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        uid_of = {}
        for _seq, items in r.fetches():
            header = next(v for k, v in items.items() if k.startswith("BODY"))
            mid = header.decode().partition(":")[2].strip()
            uid_of[mid] = int(items["UID"])
        for raw in messages:
            uid = uid_of[message_id_of(raw)]
            msg = email.message_from_bytes(raw, policy=email.policy.compat32)
            for number, expected, cte in leaf_parts(msg):
                part = ".".join(map(str, number))
                items = fetch_binary(demo, uid, part)
                got = items[f"BINARY[{part}]"]
                assert same_content(got or b"", expected or b"", cte), (folder, uid, part, cte)
                assert int(items[f"BINARY.SIZE[{part}]"]) == len(got or b""), (folder, uid, part)
                checked[cte if cte in checked else "other"] += 1
    # the sample has base64 attachments and quoted-printable text: both were decoded
    assert checked["base64"] >= 5 and checked["quoted-printable"] >= 5, checked


def test_binary_peek_does_not_set_seen_and_binary_does(binc):
    binc.ok("CREATE Seen")
    data = b"Subject: seen\r\nContent-Transfer-Encoding: base64\r\n\r\n" + base64.b64encode(b"hello") + b"\r\n"
    binc.append("Seen", data)
    binc.select("Seen")
    r = binc.ok("FETCH 1 (BINARY.PEEK[1] FLAGS)")
    assert b"\\Seen" not in r.fetch_map()[1]["FLAGS"]
    r = binc.ok("FETCH 1 BINARY.SIZE[1]")
    assert r.fetch_map()[1]["BINARY.SIZE[1]"] == b"5"
    assert b"\\Seen" not in binc.ok("FETCH 1 FLAGS").fetch_map()[1]["FLAGS"]
    r = binc.ok("FETCH 1 BINARY[1]")
    items = r.fetch_map()[1]
    assert items["BINARY[1]"] == b"hello"
    assert b"\\Seen" in items["FLAGS"], "BINARY without .PEEK sets \\Seen and reports it"


NUL_PAYLOAD = bytes(range(256)) * 4
MULTI_NUL = (
    b"From: a@example.org\r\nSubject: nul\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
    b"--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n"
    b"caf=C3=A9 soft=\r\nbreak\r\n"
    b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    + base64.encodebytes(NUL_PAYLOAD).replace(b"\n", b"\r\n") +
    b"--b\r\nContent-Type: application/x-odd\r\nContent-Transfer-Encoding: x-uuencode\r\n\r\n"
    b"begin 644 x\r\nend\r\n"
    b"--b\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: 8BIT\r\n\r\n"
    b"plain \xc3\xa9\r\n"
    b"--b--\r\n"
)


@pytest.fixture
def nul_box(binc):
    name = "Nul%d" % os.getpid()
    binc.command(b"CREATE " + quote(name))
    binc.append(name, MULTI_NUL)
    binc.select(name)
    return binc


def test_nul_bytes_come_back_as_a_literal8(nul_box):
    r = nul_box.ok("FETCH 1 BINARY.PEEK[2]")
    (raw,) = r.lines(b"1 FETCH")
    assert b"BINARY[2] ~{%d}\r\n" % len(NUL_PAYLOAD) in raw, raw[:80]
    assert r.fetch_map()[1]["BINARY[2]"] == NUL_PAYLOAD


def test_quoted_printable_and_identity_encodings(nul_box):
    items = nul_box.ok("FETCH 1 (BINARY.PEEK[1] BINARY.PEEK[4] BINARY.SIZE[1])").fetch_map()[1]
    assert items["BINARY[1]"] == "café softbreak".encode()  # the CRLF before a boundary is not the part's
    assert items["BINARY.SIZE[1]"] == str(len(items["BINARY[1]"])).encode()
    assert items["BINARY[4]"] == b"plain \xc3\xa9"
    (raw,) = nul_box.ok("FETCH 1 BINARY.PEEK[1]").lines(b"1 FETCH")
    assert b"~{" not in raw, "text without NUL is an ordinary literal"


def test_partial_binary(nul_box):
    items = nul_box.ok("FETCH 1 BINARY.PEEK[2]<256.10>").fetch_map()[1]
    assert items["BINARY[2]<256>"] == NUL_PAYLOAD[256:266]
    items = nul_box.ok("FETCH 1 BINARY.PEEK[2]<5000.10>").fetch_map()[1]
    assert items["BINARY[2]<5000>"] == b""


def test_unknown_transfer_encoding_is_no_unknown_cte(nul_box):
    r = nul_box.command("FETCH 1 BINARY.PEEK[3]")
    assert r.status == "NO" and r.code == "UNKNOWN-CTE", r.tagged
    r = nul_box.command("FETCH 1 BINARY.SIZE[3]")
    assert r.status == "NO" and r.code == "UNKNOWN-CTE", r.tagged
    # BODY[] of the same part is still served as stored
    assert nul_box.ok("FETCH 1 BODY.PEEK[3]").fetch_map()[1]["BODY[3]"] == b"begin 644 x\r\nend"
    nul_box.ok("NOOP")


def test_missing_part_is_nil_and_whole_message_is_as_stored(nul_box):
    items = nul_box.ok("FETCH 1 (BINARY.PEEK[9] BINARY.PEEK[])").fetch_map()[1]
    assert items["BINARY[9]"] is None
    assert items["BINARY[]"] == MULTI_NUL


def test_append_a_literal8_message_with_nul(binc):
    binc.ok("CREATE Lit8")
    message = b"Subject: binary append\r\nContent-Type: application/octet-stream\r\n\r\nA\x00B\x00C\r\n"
    r = binc.command(b"APPEND Lit8 ~{%d+}\r\n" % len(message) + message)
    assert r.ok, r.tagged
    binc.select("Lit8")
    items = binc.ok("FETCH 1 (BINARY.PEEK[1] RFC822.SIZE)").fetch_map()[1]
    assert items["BINARY[1]"] == b"A\x00B\x00C\r\n"
    assert int(items["RFC822.SIZE"]) == len(message)


def test_append_a_synchronising_literal8(binc):
    binc.ok("CREATE Lit8sync")
    message = b"Subject: sync\r\n\r\n\x00\r\n"
    tag = binc.next_tag()
    binc.send(tag + b" APPEND Lit8sync ~{%d}\r\n" % len(message))
    assert binc.read_response().startswith(b"+")
    binc.send(message + b"\r\n")
    assert binc.read_until_tagged(tag).ok


@pytest.mark.parametrize("command", [
    "FETCH 1 BINARY[1.MIME]", "FETCH 1 BINARY[HEADER]", "FETCH 1 BINARY[TEXT]",
    "FETCH 1 BINARY.SIZE[1]<0.5>", "FETCH 1 BINARY", "FETCH 1 BINARY[0]", "FETCH 1 BINARY.PEEK[1",
    "FETCH 1 BINARY[1]<1>",
])
def test_malformed_binary_is_bad_and_connection_usable(nul_box, command):
    r = nul_box.command(command)
    assert r.status == "BAD", (command, r.tagged)
    nul_box.ok("NOOP")


def test_literal8_is_refused_outside_message_data(binc):
    r = binc.command(b"SELECT ~{5+}\r\nINBOX")
    assert r.status == "BAD" and b"literal8" in r.tagged, r.tagged
    binc.ok("NOOP")


# -- "~" is an ATOM-CHAR: LIST "" ~foo and SELECT ~foo (regression) ----------------------
def test_tilde_mailbox_names_are_atoms(binc):
    r = binc.command("CREATE ~foo")
    assert r.ok, r.tagged
    listed = binc.ok('LIST "" ~foo')
    (line,) = listed.lines(b"LIST ")
    assert parse(line)[4] == b"~foo"
    assert binc.command("SELECT ~foo").ok
    assert binc.command("STATUS ~foo (MESSAGES)").ok
    binc.append("~foo", b"Subject: tilde\r\n\r\nx\r\n")
    assert binc.ok("EXAMINE ~foo").numbers(b"EXISTS") == [1]
    assert binc.command("DELETE ~foo").ok
    assert binc.command('LIST "" ~').ok

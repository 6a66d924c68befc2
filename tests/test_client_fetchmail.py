"""End-to-end: fetchmail pulling demo's INBOX from pushimapd over IMAP.

The MDA is a small script that stores each message it reads from stdin in
its own file. What fetchmail hands the MDA is exactly

    the message as the server sent it (FETCH RFC822.HEADER + BODY.PEEK[TEXT],
    i.e. the file with CRLF line endings), with every CRLF turned into LF
    (fetchmail writes LF to an MDA unless ``forcecr`` is set),
  + fetchmail's own Received field ("from 127.0.0.1 ... with IMAP
    (fetchmail-6.x) for <...> (single-drop); date", folded over 3 lines),
    inserted just before the message's first Received field (at the top
    when it has none),
  + a final newline when the message lacks one.

The tests remove exactly that one Received field and compare the rest with
the server's file, line endings as LF, byte for byte.
"""

from __future__ import annotations

import os
import re
import sys


from conftest import require_binary
from clients_util import (  # noqa: F401  (imap_server is a fixture)
    client_env, crlf, deliver, header_fields, imap_server, lf, make_message, make_server_folder,
    message_id, run_client, server_messages,
)

_MDA = r"""
import os, sys, time
out = sys.argv[1]
data = sys.stdin.buffer.read()
name = "%d.%d" % (time.time_ns(), os.getpid())
with open(os.path.join(out, "tmp", name), "wb") as f:
    f.write(data)
os.rename(os.path.join(out, "tmp", name), os.path.join(out, "new", name))
"""
_FETCHMAIL_RECEIVED = re.compile(
    rb"^Received: from 127\.0\.0\.1 \[127\.0\.0\.1\]\n"
    rb"\tby \S+ with IMAP \(fetchmail-[\d.]+\)\n"
    rb"\tfor <[^>]*> \(single-drop\); [^\n]+\n", re.M)

RECEIVED_CHAIN = (
    "Received: from mx2.example.net (mx2.example.net [192.0.2.25])\n"
    "\tby mail.example.org (Postfix) with ESMTPS id 4AbCdE\n"
    "\tfor <demo@example.org>; Mon, 02 Sep 2024 10:00:03 +0000 (UTC)\n"
    "Received: from relay.example.com (relay.example.com [198.51.100.7])\n"
    "\tby mx2.example.net with ESMTP id 77xyz; Mon, 02 Sep 2024 10:00:02 +0000\n"
    "Received: from [203.0.113.9] (helo=laptop)\n"
    "\tby relay.example.com with esmtpsa; Mon, 02 Sep 2024 10:00:01 +0000\n"
    "Received: by laptop (Postfix, from userid 1000); Mon, 02 Sep 2024 10:00:00 +0000\n"
)


class Fetchmail:
    """fetchmail driven from the command line; the password comes from $HOME/.netrc."""

    def __init__(self, tmp_path, server, keep: bool):
        self.binary = require_binary("fetchmail")
        self.server = server
        self.keep = keep
        self.env = client_env(tmp_path)
        netrc = os.path.join(self.env["HOME"], ".netrc")
        with open(netrc, "w") as f:
            f.write("machine 127.0.0.1 login demo password demo\n")
        os.chmod(netrc, 0o600)
        self.out = str(tmp_path / "delivered")
        for sub in ("tmp", "new"):
            os.makedirs(os.path.join(self.out, sub), exist_ok=True)
        self.mda = tmp_path / "mda.py"
        self.mda.write_text(_MDA)

    def command(self) -> list[str]:
        return [self.binary, "--nodetach", "--nosyslog", "--fetchmailrc", "/dev/null", "--verbose",
                "--protocol", "IMAP", "--service", str(self.server.port), "--username", "demo",
                "--timeout", "20", "--sslproto", "", "--nosslcertck",
                "--keep" if self.keep else "--nokeep",
                "--mda", f"{sys.executable} {self.mda} {self.out}", "127.0.0.1"]

    def run(self, ok=(0,)):
        # exit status 0: mail delivered, 1: no mail
        return run_client(self.command(), self.env, ok=ok)

    def delivered(self) -> list[bytes]:
        d = os.path.join(self.out, "new")
        out = []
        for name in sorted(os.listdir(d), key=lambda n: tuple(int(x) for x in n.split("."))):
            with open(os.path.join(d, name), "rb") as f:
                out.append(f.read())
        return out


def split_fetchmail_received(data: bytes) -> bytes:
    """The delivered message minus the one Received field fetchmail inserts.

    It must sit in the header, right before the first other Received field
    (or first in the header when there is none).
    """
    head, sep, body = data.partition(b"\n\n")
    head += b"\n"
    found = list(_FETCHMAIL_RECEIVED.finditer(head))
    assert len(found) == 1, data[:600]
    m = found[0]
    after = head[m.end():]
    if b"\nReceived:" in b"\n" + head[:m.start()] + after:
        assert after.startswith(b"Received:"), data[:600]
    else:
        assert m.start() == 0, data[:600]
    return head[:m.start()] + after[:-1] + sep + body


def sample_messages() -> list[bytes]:
    return [
        make_message("four Received headers", "plain body\n", extra=RECEIVED_CHAIN),
        make_message("", "8-bit: Grüße\n", raw_subject="Grüße aus Köln".encode(),
                     extra="Received: from a (a [192.0.2.1]) by b; Mon, 02 Sep 2024 10:00:01 +0000\n"
                           "X-Name: Jürgen Müller\n" + RECEIVED_CHAIN.splitlines()[-1]),
        make_message("CRLF on disk, folded To", "crlf\n", eol=b"\r\n",
                     extra=RECEIVED_CHAIN + "Cc: a@example.com,\n  b@example.com"),
        b"Received: from x by y; Mon, 02 Sep 2024 10:00:00 +0000\nReceived: from z by x; Mon, 02 Sep 2024 "
        b"09:59:59 +0000\nMessage-ID: <no-final-newline@example.com>\nSubject: no final newline\n\nlast",
    ]


def assert_delivered_match(delivered: list[bytes], originals: list[bytes]) -> None:
    by_mid = {message_id(d): d for d in originals}
    assert len(delivered) == len(originals)
    seen = set()
    for got in delivered:
        rest = split_fetchmail_received(got)
        mid = message_id(rest)
        assert mid in by_mid and mid not in seen, mid
        seen.add(mid)
        original = by_mid[mid]
        # the header block, byte for byte (LF line endings), and then the whole message
        head_got = rest.split(b"\n\n", 1)[0]
        head_orig = lf(crlf(original)).split(b"\n\n", 1)[0]
        assert head_got == head_orig, mid
        # every Received header survives, in order, plus exactly fetchmail's own one on top
        recv_orig = [raw for name, raw in header_fields(original) if name == "received"]
        recv_got = [raw for name, raw in header_fields(got) if name == "received"]
        assert recv_got[1:] == recv_orig, mid
        assert len(recv_got) == len(recv_orig) + 1 and b"fetchmail" in recv_got[0], mid
        # fetchmail adds a newline to a message that lacks a final one; nothing else differs
        expected = lf(crlf(original))
        if not expected.endswith(b"\n"):
            expected += b"\n"
        assert rest == expected, mid


def test_fetch_keep(tmp_path, imap_server):
    originals = sample_messages()
    assert all(len([1 for n, _ in header_fields(d) if n == "received"]) >= 2 for d in originals)
    for data in originals:
        deliver(imap_server, data)
    make_server_folder(imap_server, "Other")
    deliver(imap_server, make_message("not in INBOX"), "Other")  # fetchmail polls INBOX only

    fm = Fetchmail(tmp_path, imap_server, keep=True)
    fm.run()
    assert_delivered_match(fm.delivered(), originals)

    # --keep: every message is still on the server, unchanged, now \Seen
    remote = {f.message_id: f for f in server_messages(imap_server)}
    assert sorted(remote) == sorted(message_id(d) for d in originals)
    for data in originals:
        assert remote[message_id(data)].data == data
        assert remote[message_id(data)].flags == "S"
    assert len(server_messages(imap_server, "Other")) == 1

    # and a second poll finds nothing new (fetchmail only fetches unseen mail)
    fm.run(ok=(1,))
    assert len(fm.delivered()) == len(originals)


def test_fetch_and_delete(tmp_path, imap_server):
    originals = sample_messages()
    for data in originals:
        deliver(imap_server, data)

    fm = Fetchmail(tmp_path, imap_server, keep=False)
    fm.run()
    assert_delivered_match(fm.delivered(), originals)

    # without keep the messages are flagged \Deleted and expunged: gone from disk
    assert server_messages(imap_server) == []
    inbox = os.path.join(imap_server.root, "demo")
    assert os.listdir(os.path.join(inbox, "cur")) == [] and os.listdir(os.path.join(inbox, "new")) == []

    fm.run(ok=(1,))
    assert len(fm.delivered()) == len(originals)


def test_fetch_new_mail_between_polls(tmp_path, imap_server):
    first = make_message("first poll")
    deliver(imap_server, first)
    fm = Fetchmail(tmp_path, imap_server, keep=False)
    fm.run()
    later = sample_messages()[:2]
    for data in later:
        deliver(imap_server, data)
    fm.run()
    delivered = fm.delivered()
    assert message_id(split_fetchmail_received(delivered[0])) == message_id(first)
    assert_delivered_match(delivered, [first] + later)
    assert server_messages(imap_server) == []

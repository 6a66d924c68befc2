"""PREVIEW (RFC 8970) over real TCP: FETCH PREVIEW and PREVIEW (LAZY), the
text chosen (first text part, HTML stripped, white space folded, 256
characters), previews cached in the folder index across restarts and
dropped with their message, and imapclient reading them."""

from __future__ import annotations

import base64
import os
import sqlite3

import pytest
from imapclient import IMAPClient

from conftest import started_server
from imap_raw import RawIMAP


def msg(headers: str, body: str) -> bytes:
    return (headers.replace("\n", "\r\n") + "\r\n\r\n" + body.replace("\n", "\r\n")).encode()


LONG = "word " * 100
MESSAGES = [
    # (message, expected preview)
    (msg("Subject: plain", "Hello   there,\n\n  see you\tat ten.\n"), "Hello there, see you at ten."),
    (msg("Subject: reply", "Sure, works for me.\n\nOn Monday Bob wrote:\n> can we meet?\n> at ten?\n-- \nAlice\n"),
     "Sure, works for me. On Monday Bob wrote:"),
    (msg("Subject: html\nContent-Type: text/html; charset=utf-8",
         "<html><head><title>T</title><style>p{color:red}</style></head><body><p>Caf&eacute; &amp; "
         "<b>croissants</b></p><script>alert(1)</script><div>tomorrow</div></body></html>"),
     "Café & croissants tomorrow"),
    (msg('Subject: alt\nMIME-Version: 1.0\nContent-Type: multipart/alternative; boundary="b"',
         "--b\nContent-Type: text/plain; charset=utf-8\n\nThe plain part.\n--b\nContent-Type: text/html\n\n"
         "<p>The html part.</p>\n--b--\n"), "The plain part."),
    (msg('Subject: b64\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: base64',
         base64.b64encode("Grüße aus Köln — bis bald.".encode()).decode()), "Grüße aus Köln — bis bald."),
    (msg("Subject: long", LONG), LONG.strip()[:256].rstrip()),
    (msg('Subject: attachment only\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
         "--b\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgo=\n"
         "--b\nContent-Type: text/plain\nContent-Disposition: attachment; filename=a.txt\n\nnot a preview\n--b--\n"),
     ""),
    (msg('Subject: mixed\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b"',
         '--b\nContent-Type: multipart/alternative; boundary="c"\n\n--c\nContent-Type: text/plain\n\n'
         "Nested body text\n--c--\n--b\nContent-Type: application/pdf\n\n%PDF\n--b--\n"), "Nested body text"),
]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("preview")))
    with RawIMAP(server.port) as c:
        c.login()
        c.ok("CREATE Previews")
        for data, _ in MESSAGES:
            c.append("Previews", data)
    yield server
    server.stop()


def fresh_folder(srv, name: str) -> str:
    """A folder holding MESSAGES whose previews nobody has asked for yet."""
    with RawIMAP(srv.port) as c:
        c.login()
        c.ok("CREATE " + name)
        for data, _ in MESSAGES:
            c.append(name, data)
    return name


def previews(response) -> dict:
    return {seq: (None if items["PREVIEW"] is None else items["PREVIEW"].decode("utf-8"))
            for seq, items in response.fetches()}


def test_capability_and_preview_texts(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        assert b" PREVIEW" in c.ok("CAPABILITY").lines(b"CAPABILITY")[0]
        c.select("Previews", examine=True)
        got = previews(c.ok("FETCH 1:* PREVIEW"))
        assert got == {i + 1: expected for i, (_, expected) in enumerate(MESSAGES)}
        assert all(len(text) <= 256 for text in got.values())
        # PREVIEW does not set \Seen, even read-write
        c.select("Previews")
        c.ok("FETCH 1 (PREVIEW)")
        assert b"\\Seen" not in c.ok("FETCH 1 FLAGS").fetches()[0][1]["FLAGS"]


def test_utf8_preview_goes_out_as_a_literal_to_a_rev1_client(srv):
    with RawIMAP(srv.port) as c:
        c.login()
        c.select("Previews", examine=True)
        (line,) = c.ok("FETCH 5 PREVIEW").lines(b"5 FETCH")
        assert line.startswith(b"* 5 FETCH (PREVIEW {")  # 8-bit text is never quoted for IMAP4rev1


def test_lazy_returns_nil_until_computed_then_the_cached_text(srv):
    folder = fresh_folder(srv, "Lazy")
    with RawIMAP(srv.port) as c:
        c.login()
        c.select(folder, examine=True)
        lazy = previews(c.ok("FETCH 1:3 (UID PREVIEW (LAZY))"))
        assert lazy == {1: None, 2: None, 3: None}
        c.ok("FETCH 2 PREVIEW")
        assert previews(c.ok("FETCH 1:3 PREVIEW (LAZY)")) == {1: None, 2: MESSAGES[1][1], 3: None}
        # the modifier list is told apart from FETCH modifiers that follow it
        r = c.ok("FETCH 2 PREVIEW (LAZY) (CHANGEDSINCE 1)")
        assert previews(r) == {2: MESSAGES[1][1]}
        r = c.ok("UID FETCH 1:* (PREVIEW) (CHANGEDSINCE 1)")
        assert len(r.fetches()) == len(MESSAGES)


def test_previews_are_cached_in_the_index_across_restarts_and_go_with_the_message(srv):
    name = fresh_folder(srv, "Cached")
    with RawIMAP(srv.port) as c:
        c.login()
        c.select(name)
        c.ok("FETCH 1:* PREVIEW")
    folder = os.path.join(srv.root, "demo", "." + name)
    db = sqlite3.connect(os.path.join(folder, "pushimapd-index.sqlite"))
    assert db.execute("SELECT count(*) FROM preview").fetchone()[0] == len(MESSAGES)
    srv.stop()
    srv.start()
    with RawIMAP(srv.port) as c:
        c.login()
        c.select(name)
        lazy = previews(c.ok("FETCH 1:* PREVIEW (LAZY)"))
        assert lazy == {i + 1: expected for i, (_, expected) in enumerate(MESSAGES)}
        c.ok("STORE 1 +FLAGS (\\Deleted)")
        c.ok("EXPUNGE")
    assert db.execute("SELECT uid FROM preview ORDER BY uid").fetchall()[0] == (2,)
    db.close()


@pytest.mark.parametrize("bad", [
    "FETCH 1 PREVIEW (LAZY", "FETCH 1 PREVIEW (FUZZY)", "FETCH 1 PREVIEW ()", "FETCH 1 (PREVIEW (LAZY LAZY2))",
    "FETCH 1 PREVIEW[]", "FETCH 1 (PREVIEW LAZY)", "FETCH 1 PREVIEW (LAZY) (LAZY)", "FETCH 1 PREVIEW(LAZY)",
])
def test_malformed_preview_is_bad(srv, bad):
    with RawIMAP(srv.port) as c:
        c.login()
        c.select("Previews", examine=True)
        assert c.command(bad).status == "BAD"
        assert previews(c.ok("FETCH 1 PREVIEW")) == {1: MESSAGES[0][1]}


def test_imapclient_fetches_previews(srv):
    with IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10) as client:
        client.login("demo", "demo")
        client.select_folder("Previews", readonly=True)
        uids = client.search("ALL")
        data = client.fetch(uids, ["PREVIEW"])
        texts = [data[u][b"PREVIEW"] for u in uids]
        assert [t.decode() for t in texts] == [expected for _, expected in MESSAGES]

"""pushimapd driven by the imapclient library, the way applications use it.

MOVE, COPY with COPYUID, APPEND with APPENDUID, UID EXPUNGE, IDLE seeing a
delivery made with ``pushimapd deliver``, STATUS, special-use folders,
SEARCH with UTF-8 criteria, ENVELOPE/BODYSTRUCTURE of the sample mail and
STARTTLS with a self-signed certificate. Expected values come from the
Maildir files on disk (parsed with the ``email`` package), never from the
server itself.

One server over a copy of maildir-sample is shared by the module: ``demo``
is only read, ``app`` (an empty Maildir) is the user whose mail the tests
change, each in folders of its own.
"""

from __future__ import annotations

import datetime
import email
import email.header
import email.policy
import email.utils
import os
import re
import ssl
import time

import imapclient
import pytest
from imapclient import imap_utf7
from imapclient.exceptions import LoginError
from imapclient.imapclient import ARCHIVE, DELETED, DRAFTS, FLAGGED, JUNK, SEEN, SENT, TRASH

from conftest import run_cli, started_server
from imap_raw import RawIMAP

USERS = (("demo", "demo"), ("app", "app"))
TIMEOUT = 10


# -- servers and clients ----------------------------------------------------------------


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("imapclient")), users=USERS, sample=True)
    yield server
    server.stop()


def open_client(port: int, user: str | None = None) -> imapclient.IMAPClient:
    client = imapclient.IMAPClient("127.0.0.1", port=port, ssl=False, timeout=TIMEOUT)
    client.normalise_times = False
    if user is not None:
        client.login(user, user)
    return client


def close_client(client: imapclient.IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the test may have left it in any state
        try:
            client.shutdown()
        except Exception:
            pass


@pytest.fixture
def demo(srv):
    client = open_client(srv.port, "demo")
    yield client
    close_client(client)


@pytest.fixture
def app(srv):
    client = open_client(srv.port, "app")
    yield client
    close_client(client)


# -- helpers -----------------------------------------------------------------------------


def message(subject: str, msgid: str, body: str = "Hello.\r\n") -> bytes:
    return (f"From: App Test <app@example.org>\r\nTo: app@example.org\r\nSubject: {subject}\r\n"
            f"Date: Tue, 02 Jan 2024 09:30:00 +0100\r\nMessage-ID: <{msgid}@example.org>\r\n"
            f"\r\n{body}").encode()


def appenduid(response: bytes) -> tuple[int, int]:
    m = re.match(rb"\[APPENDUID (\d+) (\d+)\]", response)
    assert m, f"APPEND must answer [APPENDUID uidvalidity uid]: {response!r}"
    return int(m.group(1)), int(m.group(2))


def fill(client: imapclient.IMAPClient, folder: str, count: int) -> list[int]:
    client.create_folder(folder)
    return [appenduid(client.append(folder, message(f"{folder} {i}", f"{folder}.{i}")))[1]
            for i in range(1, count + 1)]


def expand(uid_set: bytes) -> list[int]:
    out = []
    for part in uid_set.decode().split(","):
        lo, _, hi = part.partition(":")
        out.extend(range(int(lo), int(hi or lo) + 1))
    return out


def take_copyuid(client: imapclient.IMAPClient) -> tuple[int, list[int], list[int]]:
    """The COPYUID response code of the last COPY/MOVE, as imaplib collected it."""
    found = client._imap.untagged_responses.pop("COPYUID", None)
    assert found and len(found) == 1, f"expected one COPYUID response code, got {found!r}"
    validity, source, dest = found[0].split()
    return int(validity), expand(source), expand(dest)


def msgids(client: imapclient.IMAPClient, uids) -> dict[int, bytes]:
    if not uids:
        return {}
    return {uid: data[b"ENVELOPE"].message_id for uid, data in client.fetch(uids, ["ENVELOPE"]).items()}


def mail_dir(root: str, user: str, folder: str) -> str:
    if folder == "INBOX":
        return os.path.join(root, user)
    return os.path.join(root, user, "." + imap_utf7.encode(folder).decode("ascii"))


def disk_messages(path: str) -> list[tuple[str, str, bytes]]:
    """(subdir, flags letters, raw bytes) of every message file in a Maildir."""
    out = []
    for sub in ("cur", "new"):
        d = os.path.join(path, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else ():
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            with open(os.path.join(d, name), "rb") as f:
                out.append((sub, flags, f.read()))
    return out


def parsed(raw: bytes) -> email.message.EmailMessage:
    """The message as ``email`` sees it; raw UTF-8 headers (RFC 6532 style) read as UTF-8."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:  # 8-bit bodies in other charsets: headers are ASCII there
        return email.message_from_bytes(raw, policy=email.policy.default)
    return email.message_from_string(text, policy=email.policy.default)


def decode_words(value) -> str | None:
    """An ENVELOPE string (maybe RFC 2047 encoded, maybe raw UTF-8) as text."""
    if value is None:
        return None
    text = value.decode("utf-8") if isinstance(value, bytes) else value
    return str(email.header.make_header(email.header.decode_header(text)))


# -- MOVE, COPY, APPEND, UID EXPUNGE ----------------------------------------------------------


def test_move_with_copyuid(app):
    uids = fill(app, "MoveFrom", 4)
    app.create_folder("MoveTo")
    dst_validity = app.folder_status("MoveTo", ["UIDVALIDITY"])[b"UIDVALIDITY"]
    app.select_folder("MoveFrom")
    before = msgids(app, uids)
    app._imap.untagged_responses.pop("COPYUID", None)
    app.move([uids[0], uids[2], uids[3]], "MoveTo")
    validity, source, dest = take_copyuid(app)
    assert validity == dst_validity
    assert source == [uids[0], uids[2], uids[3]] and len(dest) == 3
    assert app.search() == [uids[1]]
    app.select_folder("MoveTo")
    assert app.search() == dest
    after = msgids(app, dest)
    assert [after[d] for d in dest] == [before[s] for s in source]


def test_copy_with_copyuid(app):
    uids = fill(app, "CopyFrom", 3)
    app.create_folder("CopyTo")
    app.append("CopyTo", message("already there", "copyto.0"))
    app.select_folder("CopyFrom")
    app._imap.untagged_responses.pop("COPYUID", None)
    app.copy([uids[1], uids[2]], "CopyTo")
    validity, source, dest = take_copyuid(app)
    assert validity == app.folder_status("CopyTo")[b"UIDVALIDITY"]
    assert source == [uids[1], uids[2]]
    assert app.search() == uids, "COPY leaves the source alone"
    before = msgids(app, uids)
    app.select_folder("CopyTo", readonly=True)
    assert app.search()[-2:] == dest
    after = msgids(app, dest)
    assert [after[d] for d in dest] == [before[s] for s in source]


def test_append_returns_appenduid(app):
    app.create_folder("Appended")
    status = app.folder_status("Appended")
    when = datetime.datetime(2024, 3, 4, 5, 6, 7, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    response = app.append("Appended", message("appended", "appended.1"), flags=[SEEN, FLAGGED],
                          msg_time=when)
    validity, uid = appenduid(response)
    assert validity == status[b"UIDVALIDITY"]
    assert uid >= status[b"UIDNEXT"]
    selected = app.select_folder("Appended")
    assert selected[b"UIDVALIDITY"] == validity
    assert app.search() == [uid]
    data = app.fetch([uid], ["FLAGS", "INTERNALDATE", "ENVELOPE"])[uid]
    assert {SEEN, FLAGGED} <= set(data[b"FLAGS"])
    assert data[b"INTERNALDATE"] == when
    assert data[b"ENVELOPE"].message_id == b"<appended.1@example.org>"
    # a second APPEND to the selected folder: a new, larger UID, seen by the session
    validity2, uid2 = appenduid(app.append("Appended", message("appended", "appended.2")))
    assert validity2 == validity and uid2 > uid
    app.noop()
    assert app.search() == [uid, uid2]


def test_uid_expunge(app):
    uids = fill(app, "Expunging", 3)
    app.select_folder("Expunging")
    app.add_flags([uids[0], uids[1]], [DELETED])
    app.uid_expunge([uids[1], uids[2]])
    assert app.search() == [uids[0], uids[2]], "only \\Deleted messages inside the set go"
    assert app.search(["DELETED"]) == [uids[0]]
    app.expunge([uids[0]])  # imapclient's other spelling of UID EXPUNGE
    assert app.search() == [uids[2]]


# -- IDLE ------------------------------------------------------------------------------------


def test_idle_sees_a_delivery(srv, app):
    app.create_folder("Idling")
    app.select_folder("Idling")
    app.idle()
    try:
        done = run_cli("deliver", "app", "--folder", "Idling",
                       stdin=message("delivered while idling", "idle.1"), root=srv.root)
        assert done.returncode == 0, done.stderr
        seen = []
        deadline = time.monotonic() + 15
        while not any(len(r) >= 2 and r[1] == b"EXISTS" for r in seen):
            left = deadline - time.monotonic()
            assert left > 0, f"no EXISTS while idling; got {seen!r}"
            seen.extend(app.idle_check(timeout=left))
        assert (1, b"EXISTS") in seen, seen
    finally:
        text, _rest = app.idle_done()
    assert isinstance(text, bytes)
    (uid,) = app.search()
    envelope = app.fetch([uid], ["ENVELOPE"])[uid][b"ENVELOPE"]
    assert envelope.subject == b"delivered while idling"


# -- STATUS, LIST and special-use folders ----------------------------------------------------------


def test_folder_status_matches_the_maildirs(srv, demo):
    names = [name for _flags, _sep, name in demo.list_folders()]
    assert "Entwürfe" in names and "INBOX" in names
    for name in names:
        files = disk_messages(mail_dir(srv.root, "demo", name))
        unseen = sum(1 for sub, flags, _raw in files if sub == "new" or "S" not in flags)
        status = demo.folder_status(name)
        assert status[b"MESSAGES"] == len(files), name
        assert status[b"UNSEEN"] == unseen, name
        selected = demo.select_folder(name, readonly=True)
        assert selected[b"UIDVALIDITY"] == status[b"UIDVALIDITY"], name
        assert selected[b"EXISTS"] == len(files), name
        uids = demo.search()
        assert not uids or max(uids) < status[b"UIDNEXT"], name


def test_special_folders(srv, demo):
    flags = {name: set(attrs) for attrs, _sep, name in demo.list_folders()}
    expected = {SENT: "Sent", DRAFTS: "Drafts", JUNK: "Junk", TRASH: "Trash", ARCHIVE: "Archive"}
    for attribute, name in expected.items():
        assert attribute in flags[name], (name, flags[name])
        assert demo.find_special_folder(attribute) == name
    # found by the server's attribute, not by imapclient's guesses from names
    raw = RawIMAP(srv.port)
    try:
        raw.login("app", "app")
        raw.ok(r"CREATE Papierkorb (USE (\Trash))")
        raw.ok(r"CREATE Gesendet (USE (\Sent))")
    finally:
        raw.close()
    app = open_client(srv.port, "app")
    try:
        assert app.find_special_folder(TRASH) == "Papierkorb"
        assert app.find_special_folder(SENT) == "Gesendet"
        assert app.find_special_folder(JUNK) is None
    finally:
        close_client(app)


def test_namespace_id_enable(demo):
    ns = demo.namespace()
    assert ns.personal == (("", "."),) and ns.other is None and ns.shared is None
    fields = demo.id_({"name": "imapclient-test", "version": imapclient.__version__})[0]
    info = dict(zip(fields[::2], fields[1::2]))
    assert info[b"name"] == b"pushimapd" and info[b"version"]
    assert demo.enable("X-NOT-A-REAL-EXTENSION") == []


# -- SEARCH with UTF-8 criteria ---------------------------------------------------------------


@pytest.mark.parametrize("key,term", [
    ("SUBJECT", "Übersicht"),  # ISO-8859-1 quoted-printable encoded word
    ("SUBJECT", "出張"),  # UTF-8 base64 encoded words, in two messages
    ("SUBJECT", "Köln"),  # raw 8-bit UTF-8 header
    ("SUBJECT", "reunión"),
    ("SUBJECT", "draft – please"),  # en dash inside a Q-encoded word
    ("FROM", "Jürgen"),  # encoded display name
    ("FROM", "田中"),
])
def test_search_with_utf8_criteria(srv, demo, key, term):
    expected = set()
    for _sub, _flags, raw in disk_messages(mail_dir(srv.root, "demo", "INBOX")):
        msg = parsed(raw)
        if term.casefold() in str(msg.get(key, "")).casefold():
            expected.add(msg["Message-ID"].strip().encode())
    assert expected, f"the sample has a message with {term!r} in {key}"
    demo.select_folder("INBOX", readonly=True)
    found = demo.search([key, term], charset="utf-8")
    assert set(msgids(demo, found).values()) == expected


# -- FETCH ENVELOPE and BODYSTRUCTURE of the sample mail ----------------------------------------


def _email_tree(part) -> tuple:
    ctype = part.get_content_type()
    if ctype.startswith("multipart/"):
        return (ctype, [_email_tree(p) for p in part.iter_parts()])
    if ctype == "message/rfc822":
        return (ctype, [_email_tree(part.get_payload(0))])
    charset = part.get_param("charset") if ctype.startswith("text/") else None
    return (ctype, (charset or ("us-ascii" if ctype.startswith("text/") else "")).lower())


def _body_tree(bs) -> tuple:
    if isinstance(bs[0], (list, tuple)):  # multipart: parts, then the subtype
        if isinstance(bs[0], list):
            parts, subtype = bs[0], bs[1]
        else:
            i = 0
            while isinstance(bs[i], (list, tuple)):
                i += 1
            parts, subtype = bs[:i], bs[i]
        return ("multipart/" + subtype.decode().lower(), [_body_tree(p) for p in parts])
    ctype = (bs[0] + b"/" + bs[1]).decode().lower()
    if ctype == "message/rfc822":
        return (ctype, [_body_tree(bs[8])])
    params = bs[2] or ()
    values = {params[i].decode().lower(): params[i + 1].decode() for i in range(0, len(params), 2)}
    charset = values.get("charset", "") if ctype.startswith("text/") else ""
    return (ctype, charset.lower())


GROUP_END = ("group end",)


def _expected_addresses(header) -> list:
    """The header's addresses in ENVELOPE order: a named group is framed by a
    start marker (mailbox = group name, host NIL) and an end marker (all NIL)."""
    out: list = []
    for group in header.groups if header is not None else ():
        if group.display_name is not None:
            out.append(("group", group.display_name))
        out.extend(group.addresses)
        if group.display_name is not None:
            out.append(GROUP_END)
    return out


def assert_addresses(envelope_list, msg, raw_msg, name: str, fallback: str | None = None) -> None:
    """ENVELOPE addresses == those of header ``name`` (or ``fallback``), names decoded."""
    if msg.get(name) is None and fallback is not None:
        name = fallback
    header = msg.get(name)
    where = f"{name} of {msg['Message-ID']}"
    expected = _expected_addresses(header)
    got = list(envelope_list or ())
    assert len(got) == len(expected), (where, got, str(header))
    comments = re.findall(r"\(([^()]*)\)", str(raw_msg.get(name, "")))
    for env, exp in zip(got, expected):
        if exp == GROUP_END:
            assert (env.mailbox, env.host) == (None, None), (where, env)
            continue
        if isinstance(exp, tuple):
            assert (env.mailbox.decode(), env.host) == (exp[1], None), (where, env, exp)
            continue
        assert (env.mailbox.decode(), env.host.decode()) == (exp.username, exp.domain), (where, env, exp)
        decoded = decode_words(env.name)
        if exp.display_name:
            assert decoded == exp.display_name, (where, env, exp)
        else:  # "addr (Comment)": using the comment as the name is common and allowed
            assert decoded is None or decoded in comments, (where, env, exp)


def test_fetch_envelope_and_bodystructure_of_the_sample(srv, demo):
    on_disk = {}
    for _sub, _flags, raw in disk_messages(mail_dir(srv.root, "demo", "INBOX")):
        msg = parsed(raw)
        on_disk[msg["Message-ID"].strip().encode()] = (msg, email.message_from_bytes(raw))
    demo.select_folder("INBOX", readonly=True)
    uids = demo.search()
    assert len(uids) == len(on_disk)
    fetched = demo.fetch(uids, ["ENVELOPE", "BODYSTRUCTURE"])
    assert sorted(fetched) == uids
    for uid, data in fetched.items():
        env = data[b"ENVELOPE"]
        msg, raw_msg = on_disk[env.message_id]
        where = f"UID {uid} {env.message_id!r}"
        subject = msg.get("Subject")
        assert decode_words(env.subject) == (str(subject) if subject is not None else None), where
        if msg.get("Date") is None:
            assert env.date is None, where
        else:
            assert env.date == email.utils.parsedate_to_datetime(str(msg["Date"])), where
        assert_addresses(env.from_, msg, raw_msg, "From")
        assert_addresses(env.to, msg, raw_msg, "To")
        assert_addresses(env.cc, msg, raw_msg, "Cc")
        # RFC 3501 7.4.2: without Sender/Reply-To the server uses From
        assert_addresses(env.sender, msg, raw_msg, "Sender", fallback="From")
        assert_addresses(env.reply_to, msg, raw_msg, "Reply-To", fallback="From")
        in_reply_to = msg.get("In-Reply-To")
        assert env.in_reply_to == (str(in_reply_to).strip().encode() if in_reply_to else None), where
        body = data[b"BODYSTRUCTURE"]
        assert body.is_multipart == msg.is_multipart(), where
        assert _body_tree(body) == _email_tree(msg), where


# -- STARTTLS ----------------------------------------------------------------------------------


def test_starttls_with_a_self_signed_certificate(tls_srv):
    client = open_client(tls_srv.port)
    try:
        before = client.capabilities()
        assert b"STARTTLS" in before and b"LOGINDISABLED" in before
        with pytest.raises(LoginError):
            client.login("demo", "demo")
        context = ssl.create_default_context(cafile=tls_srv.cert)  # verifies chain and host name
        client.starttls(context)
        after = client.capabilities()
        assert b"STARTTLS" not in after and b"LOGINDISABLED" not in after
        assert b"AUTH=PLAIN" in after
        assert isinstance(client.socket(), ssl.SSLSocket)
        client.login("demo", "demo")
        assert not any(c.startswith((b"AUTH=", b"STARTTLS", b"LOGINDISABLED")) for c in client.capabilities())
        client.create_folder("OverTLS")
        validity, uid = appenduid(client.append("OverTLS", message("over tls", "tls.1")))
        client.select_folder("OverTLS")
        assert client.search() == [uid]
        assert not client.has_capability("STARTTLS")
    finally:
        close_client(client)


"""RFC 3501 commands over real TCP: every command in the states it belongs to.

One server is shared by the module; each test works in mailboxes of its own
(named after the test) so the tests do not depend on each other's order.
"""

from __future__ import annotations

import base64
import datetime
import imaplib
import re

import pytest
from imapclient import IMAPClient

from conftest import ServerProcess
from imap_raw import RawIMAP, Response, apply_expunges, literal, parse, plain_response, quote

QUOTER_PASSWORD = 'p"a\\ss w'  # a double quote, a backslash and a space
USERS = (("demo", "demo"), ("quoter", QUOTER_PASSWORD), ("inboxer", "inboxer"))


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    root = tmp_path_factory.mktemp("commands")
    server = ServerProcess(str(root), users=USERS)
    server.add_users()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def conn(srv):
    c = RawIMAP(srv.port)
    yield c
    c.close()


@pytest.fixture(scope="module")
def _shared(srv):
    holder = {}
    yield holder
    if holder.get("conn") is not None:
        holder["conn"].close()


@pytest.fixture
def authed(srv, _shared):
    """demo's connection in the authenticated state, shared by the module's tests.

    Logging in costs an argon2 check, so one connection is reused; it is
    replaced when the previous test left it unusable.
    """
    c = _shared.get("conn")
    if c is not None:
        try:
            c.command("UNSELECT")  # BAD when nothing is selected: fine
            healthy = c.command("NOOP").ok
        except (AssertionError, OSError):
            healthy = False
        if not healthy:
            c.close()
            c = None
    if c is None:
        c = RawIMAP(srv.port)
        c.login()
        _shared["conn"] = c
    return c


def message(subject: str, body: str = "Hello there.\r\n", **headers) -> bytes:
    head = {
        "From": "Alice Example <alice@example.org>",
        "To": "Bob Example <bob@example.org>",
        "Subject": subject,
        "Date": "Mon, 01 Jan 2024 10:00:00 +0000",
        "Message-ID": f"<{re.sub(r'[^A-Za-z0-9]', '', subject)}@example.org>",
    }
    head.update({k.replace("_", "-"): v for k, v in headers.items()})
    return ("".join(f"{k}: {v}\r\n" for k, v in head.items()) + "\r\n" + body).encode()


def make_mailbox(c: RawIMAP, name: str, count: int = 0, flags=()) -> list:
    """CREATE ``name`` and APPEND ``count`` messages; returns their UIDs."""
    c.ok(b"CREATE " + quote(name))
    uids = []
    for i in range(count):
        f = flags[i] if i < len(flags) else ""
        r = c.append(name, message(f"{name} message {i + 1}"), flags=f)
        uids.append(int(r.code.split()[2]))
    return uids


def list_entries(r) -> dict:
    """{name: (attributes lower-cased, delimiter)} of * LIST / * LSUB responses."""
    out = {}
    for u in r.untagged:
        v = parse(u)
        if len(v) >= 5 and v[1].upper() in (b"LIST", b"LSUB"):
            out[v[4].decode()] = ({a.decode().lower() for a in v[2]}, v[3])
    return out


def status_values(r) -> dict:
    (line,) = r.lines(b"STATUS")
    v = parse(line)
    items = v[3]
    return {items[i].decode().upper(): int(items[i + 1]) for i in range(0, len(items), 2)}


def internal_date(value: bytes) -> datetime.datetime:
    assert re.fullmatch(rb"[ \d]\d-[A-Z][a-z]{2}-\d{4} \d\d:\d\d:\d\d [+-]\d{4}", value), value
    return datetime.datetime.strptime(value.decode().strip(), "%d-%b-%Y %H:%M:%S %z")


def assert_closed_after_bye(c: RawIMAP, r) -> None:
    assert r.ok, r.tagged
    assert r.lines(b"BYE"), f"LOGOUT must send an untagged BYE first: {r.untagged!r}"
    assert c.is_closed(), "the server must close the connection after LOGOUT"


# -- any state: CAPABILITY, NOOP, LOGOUT -------------------------------------------
EXPECTED_CAPS = {"IMAP4REV1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE",
                 "UNSELECT", "CHILDREN", "UIDPLUS", "MOVE"}


def capabilities(r) -> set:
    (line,) = r.lines(b"CAPABILITY ")
    return {w.upper() for w in line.decode().split()[2:]}


def test_greeting_is_untagged_ok_with_capabilities(conn):
    assert conn.greeting.startswith(b"* OK "), conn.greeting
    m = re.match(rb"\* OK \[CAPABILITY ([^\]]*)\]", conn.greeting)
    if m:
        assert "IMAP4REV1" in m.group(1).decode().upper().split()


def test_capability_not_authenticated(conn):
    caps = capabilities(conn.ok("CAPABILITY"))
    assert EXPECTED_CAPS <= caps
    assert "AUTH=PLAIN" in caps
    assert "LOGINDISABLED" not in caps  # loopback connections may log in


def test_capability_authenticated_and_selected(authed):
    assert "IMAP4REV1" in capabilities(authed.ok("CAPABILITY"))
    authed.select("INBOX")
    assert EXPECTED_CAPS <= capabilities(authed.ok("CAPABILITY"))


def test_noop_in_every_state(conn):
    assert conn.command("NOOP").ok
    conn.login()
    assert conn.command("NOOP").ok
    conn.select("INBOX")
    r = conn.command("NOOP")
    assert r.ok and r.tagged.startswith(r.tag + b" OK")


@pytest.mark.parametrize("state", ["not authenticated", "authenticated", "selected"])
def test_logout_in_every_state(conn, state):
    if state != "not authenticated":
        conn.login()
    if state == "selected":
        conn.select("INBOX")
    assert_closed_after_bye(conn, conn.command("LOGOUT"))


def test_logout_with_imaplib(srv):
    c = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
    c.login("demo", "demo")
    typ, data = c.logout()
    assert typ == "BYE"


def test_pipelined_commands_are_answered_in_order(conn):
    msg = message("pipelined")
    conn.send(b"p1 NOOP\r\np2 CAPABILITY\r\np3 LOGIN demo demo\r\np4 SELECT INBOX\r\n"
              b"p5 APPEND INBOX " + literal(msg, plus=True) + b"\r\np6 NOOP\r\n")
    for tag in (b"p1", b"p2", b"p3", b"p4", b"p5", b"p6"):
        r = conn.read_until_tagged(tag)
        assert r.ok, r.tagged
        if tag == b"p4":
            assert r.code == "READ-WRITE"


# -- LOGIN -----------------------------------------------------------------------
def test_login_then_login_again_is_rejected(conn):
    r = conn.command('LOGIN demo "demo"')
    assert r.ok
    again = conn.command("LOGIN demo demo")
    assert again.status in ("BAD", "NO")
    assert conn.command("LIST \"\" INBOX").ok  # still authenticated


def test_login_wrong_password_is_no_and_stays_unauthenticated(conn):
    r = conn.command("LOGIN demo wrong")
    assert r.status == "NO"
    assert conn.command("LIST \"\" *").status in ("BAD", "NO")
    assert conn.command("LOGIN demo demo").ok


def test_login_password_as_quoted_string_with_escapes(conn):
    assert QUOTER_PASSWORD == 'p"a\\ss w'
    r = conn.command(b'LOGIN quoter "p\\"a\\\\ss w"')
    assert r.ok, r.tagged
    assert conn.command("SELECT INBOX").ok


def test_login_password_as_literal(conn):
    r = conn.command_with_literals(["LOGIN quoter ", QUOTER_PASSWORD.encode()])
    assert r.ok, r.tagged


def test_login_user_and_password_as_literals(conn):
    r = conn.command_with_literals(["LOGIN ", b"quoter", " ", QUOTER_PASSWORD.encode()])
    assert r.ok, r.tagged


def test_login_password_as_literal_plus(conn):
    r = conn.command(b"LOGIN quoter " + literal(QUOTER_PASSWORD, plus=True))
    assert r.ok, r.tagged


def test_login_with_imaplib_and_special_password(srv):
    c = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
    try:
        typ, _ = c.login("quoter", QUOTER_PASSWORD)
        assert typ == "OK"
        typ, data = c.select("INBOX")
        assert typ == "OK"
    finally:
        c.logout()


def test_login_with_imapclient(srv):
    c = IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10)
    try:
        c.login("quoter", QUOTER_PASSWORD)
        assert b"IMAP4REV1" in c.capabilities()
    finally:
        c.logout()


# -- AUTHENTICATE PLAIN ------------------------------------------------------------
def test_authenticate_plain_with_continuation(conn):
    conn.send(b"a1 AUTHENTICATE PLAIN\r\n")
    cont = conn.read_response()
    assert cont.startswith(b"+"), cont
    assert base64.b64decode(cont[1:].strip() or b"") == b""  # empty challenge
    conn.send(plain_response("demo", "demo") + b"\r\n")
    r = conn.read_until_tagged(b"a1")
    assert r.ok, r.tagged
    assert conn.command("SELECT INBOX").ok  # authenticated now


def test_authenticate_plain_with_initial_response(conn):
    r = conn.command(b"AUTHENTICATE PLAIN " + plain_response("quoter", QUOTER_PASSWORD))
    assert r.ok, r.tagged
    assert not any(u.startswith(b"+") for u in r.untagged)
    assert conn.command("LIST \"\" INBOX").ok


def test_authenticate_plain_with_matching_authzid(conn):
    r = conn.command(b"AUTHENTICATE PLAIN " + plain_response("demo", "demo", authzid="demo"))
    assert r.ok, r.tagged


def test_authenticate_cancelled_with_star(conn):
    conn.send(b"a1 AUTHENTICATE PLAIN\r\n")
    assert conn.read_response().startswith(b"+")
    conn.send(b"*\r\n")
    r = conn.read_until_tagged(b"a1")
    assert r.status == "BAD", r.tagged  # RFC 3501 6.2.2: MUST reject with a tagged BAD
    assert conn.command("LIST \"\" *").status in ("BAD", "NO")  # still not authenticated
    assert conn.command("LOGIN demo demo").ok


def test_authenticate_wrong_password(conn):
    r = conn.command(b"AUTHENTICATE PLAIN " + plain_response("demo", "nope"))
    assert r.status == "NO"
    assert conn.command("NOOP").ok


def test_authenticate_unknown_mechanism(conn):
    r = conn.command("AUTHENTICATE X-UNKNOWN-MECH")
    assert r.status in ("NO", "BAD")
    assert not any(u.startswith(b"+") for u in r.untagged)
    assert conn.command("LOGIN demo demo").ok


def test_authenticate_with_imaplib(srv):
    c = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
    try:
        typ, _ = c.authenticate("PLAIN", lambda challenge: b"\0demo\0demo")
        assert typ == "OK"
        assert c.state == "AUTH"
    finally:
        c.logout()


# -- SELECT / EXAMINE -------------------------------------------------------------
def test_select_sends_every_required_response(authed):
    uids = make_mailbox(authed, "SelAll", 3, flags=["\\Seen", "", "\\Seen \\Flagged"])
    r = authed.command("SELECT SelAll")
    assert r.ok and r.code == "READ-WRITE", r.tagged
    (flags_line,) = r.lines(b"FLAGS ")
    flags = {f.decode() for f in parse(flags_line)[2]}
    assert {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft"} <= flags
    assert r.numbers(b"EXISTS") == [3]
    assert r.numbers(b"RECENT") == [3]  # nobody had the mailbox selected since the APPENDs
    assert r.code_value("UNSEEN") == "2"
    permanent = r.code_value("PERMANENTFLAGS")
    assert permanent is not None
    assert {"\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft", "\\*"} <= set(permanent.strip("()").split())
    uidvalidity = int(r.code_value("UIDVALIDITY"))
    assert uidvalidity > 0
    assert int(r.code_value("UIDNEXT")) == uids[-1] + 1
    st = status_values(authed.ok("STATUS SelAll (UIDVALIDITY UIDNEXT)"))
    assert st == {"UIDVALIDITY": uidvalidity, "UIDNEXT": uids[-1] + 1}


def test_select_empty_mailbox_has_no_unseen_code(authed):
    make_mailbox(authed, "SelEmpty")
    r = authed.select("SelEmpty")
    assert r.numbers(b"EXISTS") == [0]
    assert r.numbers(b"RECENT") == [0]
    assert r.code_value("UNSEEN") is None


def test_examine_is_read_only_and_keeps_recent(srv, authed):
    make_mailbox(authed, "ExamRo", 2)
    r = authed.command("EXAMINE ExamRo")
    assert r.ok and r.code == "READ-ONLY", r.tagged
    assert r.numbers(b"EXISTS") == [2]
    assert authed.command("STORE 1 +FLAGS (\\Flagged)").status == "NO"
    fetched = authed.ok("FETCH 1 BODY[]")
    for _, items in fetched.fetches():
        assert "\\Seen" not in [f.decode() for f in items.get("FLAGS", [])]
    assert authed.ok("FETCH 1 FLAGS").fetch_map()[1]["FLAGS"].count(b"\\Seen") == 0
    with RawIMAP(srv.port) as other:  # EXAMINE did not take the \Recent flags away
        other.login()
        assert other.select("ExamRo").numbers(b"RECENT") == [2]


def test_recent_goes_to_the_first_session_only(srv, authed):
    make_mailbox(authed, "RecentOnce", 2)
    assert authed.select("RecentOnce").numbers(b"RECENT") == [2]
    with RawIMAP(srv.port) as other:
        other.login()
        assert other.select("RecentOnce").numbers(b"RECENT") == [0]
    flags = authed.ok("FETCH 1:2 FLAGS").fetch_map()
    assert all(b"\\Recent" in items["FLAGS"] for items in flags.values())


def test_failed_select_leaves_authenticated_state(authed):
    make_mailbox(authed, "SelFail", 1)
    authed.select("SelFail")
    r = authed.command("SELECT NoSuchMailbox")
    assert r.status == "NO"
    assert authed.command("FETCH 1 FLAGS").status in ("BAD", "NO")  # nothing selected
    assert authed.command("CLOSE").status in ("BAD", "NO")
    assert authed.command("LIST \"\" SelFail").ok
    assert authed.command("SELECT SelFail").ok


def test_select_inbox_is_case_insensitive(authed):
    assert authed.command("SELECT iNbOx").ok
    st = authed.ok("STATUS inbox (MESSAGES)")
    assert parse(st.lines(b"STATUS")[0])[2] == b"INBOX"


def test_select_mailbox_name_as_literal(authed):
    make_mailbox(authed, "Lit Name", 1)
    r = authed.command_with_literals(["SELECT ", b"Lit Name"])
    assert r.ok and r.numbers(b"EXISTS") == [1]


def test_select_noselect_parent_fails(authed):
    authed.ok("CREATE NoSel.Child")
    assert authed.command("SELECT NoSel").status == "NO"
    assert authed.command("SELECT NoSel.Child").ok


# -- CREATE / DELETE / RENAME -----------------------------------------------------
def test_create(authed):
    assert authed.command("CREATE Created").ok
    assert "Created" in list_entries(authed.ok('LIST "" Created'))
    assert authed.command("CREATE Created").status == "NO"
    assert authed.command("CREATE INBOX").status == "NO"
    assert authed.command("CREATE inbox").status == "NO"
    assert authed.command('CREATE "Trailing."').ok  # RFC 3501: a trailing separator is allowed
    assert "Trailing" in list_entries(authed.ok('LIST "" Trailing'))
    assert authed.command("SELECT Trailing").ok


def test_create_nested_lists_superiors(authed):
    assert authed.command("CREATE Deep.Er.Est").ok
    entries = list_entries(authed.ok('LIST "" Deep*'))
    assert set(entries) == {"Deep", "Deep.Er", "Deep.Er.Est"}
    assert "\\haschildren" in entries["Deep"][0]
    assert "\\haschildren" in entries["Deep.Er"][0]
    assert "\\hasnochildren" in entries["Deep.Er.Est"][0]
    assert authed.command("SELECT Deep.Er.Est").ok


def test_delete(authed):
    make_mailbox(authed, "Doomed", 2)
    assert authed.command("DELETE Doomed").ok
    assert list_entries(authed.ok('LIST "" Doomed')) == {}
    assert authed.command("STATUS Doomed (MESSAGES)").status == "NO"
    assert authed.command("SELECT Doomed").status == "NO"
    assert authed.command("DELETE Doomed").status == "NO"
    assert authed.command("DELETE INBOX").status == "NO"
    assert authed.command("DELETE NeverExisted").status == "NO"


def test_delete_with_children_leaves_noselect_parent(authed):
    make_mailbox(authed, "DelPar", 1)
    make_mailbox(authed, "DelPar.Kid", 1)
    assert authed.command("DELETE DelPar").ok
    entries = list_entries(authed.ok('LIST "" DelPar*'))
    assert set(entries) == {"DelPar", "DelPar.Kid"}
    assert "\\noselect" in entries["DelPar"][0]
    assert "\\haschildren" in entries["DelPar"][0]
    assert authed.command("SELECT DelPar").status == "NO"
    assert status_values(authed.ok("STATUS DelPar.Kid (MESSAGES)")) == {"MESSAGES": 1}
    # RFC 3501 6.3.4: deleting a \Noselect name that has inferiors is an error
    assert authed.command("DELETE DelPar").status == "NO"


def test_rename_keeps_messages(authed):
    make_mailbox(authed, "RenOld", 2)
    make_mailbox(authed, "RenTaken")
    assert authed.command("RENAME RenOld RenNew").ok
    assert status_values(authed.ok("STATUS RenNew (MESSAGES)")) == {"MESSAGES": 2}
    assert authed.command("STATUS RenOld (MESSAGES)").status == "NO"
    assert list_entries(authed.ok('LIST "" RenOld')) == {}
    assert authed.command("RENAME RenNew RenTaken").status == "NO"
    assert authed.command("RENAME NoSuchBox Whatever").status == "NO"
    r = authed.select("RenNew")
    assert r.numbers(b"EXISTS") == [2]
    body = authed.ok("FETCH 1 BODY.PEEK[]").fetch_map()[1]["BODY[]"]
    assert body == message("RenOld message 1")


def test_rename_moves_children(authed):
    make_mailbox(authed, "RenP", 1)
    make_mailbox(authed, "RenP.C1", 2)
    make_mailbox(authed, "RenP.C1.G", 3)
    assert authed.command("RENAME RenP RenQ").ok
    assert set(list_entries(authed.ok('LIST "" RenQ*'))) == {"RenQ", "RenQ.C1", "RenQ.C1.G"}
    assert list_entries(authed.ok('LIST "" RenP*')) == {}
    assert status_values(authed.ok("STATUS RenQ.C1 (MESSAGES)")) == {"MESSAGES": 2}
    assert status_values(authed.ok("STATUS RenQ.C1.G (MESSAGES)")) == {"MESSAGES": 3}


def test_rename_inbox_moves_messages_and_leaves_inbox_empty(srv):
    with RawIMAP(srv.port) as c:
        c.login("inboxer", "inboxer")
        for i in range(3):
            c.append("INBOX", message(f"inbox {i}"))
        c.ok("CREATE INBOX.Kid")
        c.append("INBOX.Kid", message("kid"))
        assert c.command("RENAME INBOX OldInbox").ok
        # inferior names of INBOX are unaffected (RFC 3501 6.3.5)
        assert status_values(c.ok("STATUS INBOX.Kid (MESSAGES)")) == {"MESSAGES": 1}
        assert list_entries(c.ok('LIST "" OldInbox*')).keys() == {"OldInbox"}
        assert status_values(c.ok("STATUS INBOX (MESSAGES)")) == {"MESSAGES": 0}
        assert status_values(c.ok("STATUS OldInbox (MESSAGES)")) == {"MESSAGES": 3}
        assert "INBOX" in list_entries(c.ok('LIST "" *'))
        assert c.select("INBOX").numbers(b"EXISTS") == [0]
        c.select("OldInbox")
        bodies = c.ok("FETCH 1:* BODY.PEEK[]").fetch_map()
        assert sorted(v["BODY[]"] for v in bodies.values()) == sorted(message(f"inbox {i}") for i in range(3))
        c.append("INBOX", message("after rename"))
        assert status_values(c.ok("STATUS INBOX (MESSAGES)")) == {"MESSAGES": 1}


# -- SUBSCRIBE / UNSUBSCRIBE / LSUB -----------------------------------------------
def test_subscribe_lsub_unsubscribe(authed):
    make_mailbox(authed, "SubMe")
    assert list_entries(authed.ok('LSUB "" SubMe')) == {}
    assert authed.command("SUBSCRIBE SubMe").ok
    entries = list_entries(authed.ok('LSUB "" *'))
    assert "SubMe" in entries
    assert "\\noselect" not in entries["SubMe"][0]
    assert authed.command("UNSUBSCRIBE SubMe").ok
    assert "SubMe" not in list_entries(authed.ok('LSUB "" *'))


def test_lsub_with_reference_and_wildcards(authed):
    make_mailbox(authed, "LsRef")
    make_mailbox(authed, "LsRef.Kid")
    make_mailbox(authed, "LsRef.Kid.Grand")
    for name in ("LsRef", "LsRef.Kid", "LsRef.Kid.Grand"):
        authed.ok(f"SUBSCRIBE {name}")
    assert set(list_entries(authed.ok('LSUB "LsRef." %'))) == {"LsRef.Kid"}
    assert set(list_entries(authed.ok('LSUB "LsRef." *'))) == {"LsRef.Kid", "LsRef.Kid.Grand"}
    assert set(list_entries(authed.ok('LSUB "" LsRef*'))) == {"LsRef", "LsRef.Kid", "LsRef.Kid.Grand"}


def test_lsub_percent_returns_unsubscribed_parent_as_noselect(authed):
    # RFC 3501 6.3.9: "foo/bar" subscribed, "foo" not: LSUB with % must
    # return foo, flagged \Noselect
    make_mailbox(authed, "LsPar")
    make_mailbox(authed, "LsPar.Kid")
    authed.ok("SUBSCRIBE LsPar.Kid")
    entries = list_entries(authed.ok('LSUB "" LsPar%'))
    assert set(entries) == {"LsPar"}, entries
    assert "\\noselect" in entries["LsPar"][0]


def test_lsub_star_returns_only_subscribed_names(authed):
    # RFC 3501 6.3.9: LSUB returns a subset of the subscribed names; the
    # \Noselect parent is only for "%", which cannot reach the deeper name
    authed.ok("CREATE LsStar.Kid.Grand")
    authed.ok("SUBSCRIBE LsStar.Kid.Grand")
    assert set(list_entries(authed.ok('LSUB "" LsStar*'))) == {"LsStar.Kid.Grand"}
    assert set(list_entries(authed.ok('LSUB "LsStar." *'))) == {"LsStar.Kid.Grand"}
    entries = list_entries(authed.ok('LSUB "LsStar." %'))
    assert set(entries) == {"LsStar.Kid"} and "\\noselect" in entries["LsStar.Kid"][0]


def test_lsub_keeps_subscription_of_deleted_mailbox(authed):
    make_mailbox(authed, "SubGone")
    authed.ok("SUBSCRIBE SubGone")
    authed.ok("DELETE SubGone")
    # RFC 3501 6.3.6: the server MUST NOT remove it from the subscription list unilaterally
    assert "SubGone" in list_entries(authed.ok('LSUB "" SubGone'))
    assert authed.command("UNSUBSCRIBE SubGone").ok


# -- LIST -----------------------------------------------------------------------
def test_list_empty_pattern_returns_hierarchy_delimiter(authed):
    r = authed.ok('LIST "" ""')
    assert len(r.untagged) == 1
    v = parse(r.untagged[0])
    assert v[1].upper() == b"LIST"
    assert "\\noselect" in {a.decode().lower() for a in v[2]}
    assert v[3] == b"."
    assert v[4] == b""


def test_list_wildcards_reference_and_children(authed):
    make_mailbox(authed, "LA")
    make_mailbox(authed, "LA.B")
    make_mailbox(authed, "LA.B.C")
    make_mailbox(authed, "LAX")
    star = list_entries(authed.ok('LIST "" LA*'))
    assert set(star) == {"LA", "LA.B", "LA.B.C", "LAX"}
    assert all(delim == b"." for _, delim in star.values())
    assert "\\haschildren" in star["LA"][0] and "\\hasnochildren" not in star["LA"][0]
    assert "\\haschildren" in star["LA.B"][0]
    assert "\\hasnochildren" in star["LA.B.C"][0]
    assert "\\hasnochildren" in star["LAX"][0]
    assert set(list_entries(authed.ok('LIST "" LA%'))) == {"LA", "LAX"}
    assert set(list_entries(authed.ok('LIST "" LA.%'))) == {"LA.B"}
    assert set(list_entries(authed.ok('LIST "LA." %'))) == {"LA.B"}
    assert set(list_entries(authed.ok('LIST "LA." *'))) == {"LA.B", "LA.B.C"}
    assert set(list_entries(authed.ok('LIST "LA" .%.C'))) == {"LA.B.C"}
    assert set(list_entries(authed.ok('LIST "" %.B'))) == {"LA.B"}


def test_list_noselect_parent_has_children(authed):
    authed.ok("CREATE Implied.Leaf")
    entries = list_entries(authed.ok('LIST "" Implied*'))
    assert "\\noselect" in entries["Implied"][0]
    assert "\\haschildren" in entries["Implied"][0]
    assert "\\noselect" not in entries["Implied.Leaf"][0]


def test_list_inbox_is_case_insensitive(authed):
    for pattern in ("INBOX", "inbox", "InBoX"):
        entries = list_entries(authed.ok(f'LIST "" {pattern}'))
        assert set(entries) == {"INBOX"}, (pattern, entries)
    assert "INBOX" in list_entries(authed.ok('LIST "" *'))
    assert "INBOX" in list_entries(authed.ok('LIST "" %'))


def test_list_quotes_names_that_need_it(authed):
    assert authed.command('CREATE "With Space"').ok
    assert authed.command('CREATE "Say \\"hi\\""').ok
    r = authed.ok('LIST "" *')
    entries = list_entries(r)
    assert "With Space" in entries and 'Say "hi"' in entries
    assert any(u.endswith(b' "With Space"\r\n') for u in r.untagged)
    st = authed.ok('STATUS "Say \\"hi\\"" (MESSAGES)')
    assert parse(st.lines(b"STATUS")[0])[2] == b'Say "hi"'


def test_list_modified_utf7_name(authed):
    assert authed.command('CREATE "Entw&APw-rfe"').ok
    assert "Entw&APw-rfe" in list_entries(authed.ok('LIST "" Entw*'))
    assert authed.command('SELECT "Entw&APw-rfe"').ok


def test_list_with_imapclient(srv):
    c = IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10)
    try:
        c.login("demo", "demo")
        c.create_folder("ClientMade")
        names = [name for _flags, _delim, name in c.list_folders()]
        assert "INBOX" in names and "ClientMade" in names
        assert c.folder_exists("ClientMade")
    finally:
        c.logout()


# -- STATUS -----------------------------------------------------------------------
def test_status_every_item(authed):
    uids = make_mailbox(authed, "StAll", 3, flags=["\\Seen", "", ""])
    uidvalidity = int(authed.select("StAll").code_value("UIDVALIDITY"))
    authed.ok("UNSELECT")
    r = authed.ok("STATUS StAll (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN)")
    assert parse(r.lines(b"STATUS")[0])[2] == b"StAll"
    # the SELECT above took the \Recent flags; nobody has the mailbox selected now
    assert status_values(r) == {"MESSAGES": 3, "RECENT": 0, "UIDNEXT": uids[-1] + 1,
                                "UIDVALIDITY": uidvalidity, "UNSEEN": 2}


@pytest.mark.parametrize("item", ["MESSAGES", "RECENT", "UIDNEXT", "UIDVALIDITY", "UNSEEN"])
def test_status_single_item(authed, item):
    name = f"StOne{item}"
    uids = make_mailbox(authed, name, 2, flags=["\\Seen"])
    values = status_values(authed.ok(f"STATUS {name} ({item})"))
    assert list(values) == [item]
    expected = {"MESSAGES": 2, "RECENT": 2, "UIDNEXT": uids[-1] + 1, "UNSEEN": 1}
    if item in expected:
        assert values[item] == expected[item]
    else:
        assert values[item] > 0


def test_status_missing_mailbox(authed):
    assert authed.command("STATUS NoSuchBox (MESSAGES)").status == "NO"


# -- APPEND -----------------------------------------------------------------------
def test_append_with_flags_and_date(authed):
    make_mailbox(authed, "ApFlags")
    msg = message("with flags")
    r = authed.append("ApFlags", msg, flags="\\Seen \\Flagged", date="05-Mar-2023 14:15:16 +0200")
    code = r.code.split()
    assert code[0] == "APPENDUID"
    uidvalidity, uid = int(code[1]), int(code[2])
    sel = authed.select("ApFlags")
    assert int(sel.code_value("UIDVALIDITY")) == uidvalidity
    items = authed.ok(f"UID FETCH {uid} (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])").fetch_map()[1]
    assert {b"\\Seen", b"\\Flagged"} <= set(items["FLAGS"])
    assert internal_date(items["INTERNALDATE"]) == datetime.datetime(
        2023, 3, 5, 14, 15, 16, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
    assert items["BODY[]"] == msg
    assert int(items["RFC822.SIZE"]) == len(msg)


def test_append_without_flags_or_date(authed):
    make_mailbox(authed, "ApPlain")
    before = datetime.datetime.now(datetime.timezone.utc)
    authed.append("ApPlain", message("plain"))
    authed.select("ApPlain")
    items = authed.ok("FETCH 1 (FLAGS INTERNALDATE)").fetch_map()[1]
    assert b"\\Seen" not in items["FLAGS"]
    when = internal_date(items["INTERNALDATE"])
    assert abs((when - before).total_seconds()) < 120


def test_append_keyword_and_empty_flag_list(authed):
    make_mailbox(authed, "ApKw")
    authed.ok(b"APPEND ApKw (\\Answered $Work) " + literal(message("kw"), plus=True))
    authed.ok(b"APPEND ApKw () " + literal(message("none"), plus=True))
    authed.select("ApKw")
    flags = authed.ok("FETCH 1:2 FLAGS").fetch_map()
    assert {b"\\Answered", b"$Work"} <= set(flags[1]["FLAGS"])
    assert set(flags[2]["FLAGS"]) <= {b"\\Recent"}


def test_append_to_missing_mailbox_says_trycreate(authed):
    r = authed.command(b"APPEND NoSuchFolder " + literal(message("lost"), plus=True))
    assert r.status == "NO"
    assert r.code == "TRYCREATE", r.tagged


def test_append_with_synchronising_literal_to_missing_mailbox(authed):
    # the server may refuse before "+" or after the data; either way NO [TRYCREATE]
    msg = message("nowhere")
    authed.send(b"a1 APPEND NoSuchFolder2 {%d}\r\n" % len(msg))
    first = authed.read_response()
    if first.startswith(b"+"):
        authed.send(msg + b"\r\n")
        r = authed.read_until_tagged(b"a1")
    else:
        assert first.startswith(b"a1 "), first
        r = Response(b"a1", [], first)
    assert r.status == "NO" and r.code == "TRYCREATE", r.tagged
    assert authed.command("NOOP").ok


def test_appenduid_matches_uidnext(authed):
    make_mailbox(authed, "ApUid")
    uidnext = status_values(authed.ok("STATUS ApUid (UIDNEXT UIDVALIDITY)"))
    r = authed.append("ApUid", message("uid"))
    assert r.code == f"APPENDUID {uidnext['UIDVALIDITY']} {uidnext['UIDNEXT']}"
    assert status_values(authed.ok("STATUS ApUid (UIDNEXT)"))["UIDNEXT"] > uidnext["UIDNEXT"]


def test_uids_are_never_reused(authed):
    uids = make_mailbox(authed, "UidNever", 3)
    authed.select("UidNever")
    authed.ok("STORE 3 +FLAGS.SILENT (\\Deleted)")
    authed.ok("EXPUNGE")
    authed.ok("UNSELECT")
    assert status_values(authed.ok("STATUS UidNever (UIDNEXT)"))["UIDNEXT"] > uids[2]
    new_uid = int(authed.append("UidNever", message("after expunge")).code.split()[2])
    assert new_uid > uids[2]


def test_recreated_mailbox_gets_a_new_uidvalidity(authed):
    # RFC 3501 2.3.1.1: a mailbox deleted and created again with the same
    # name must not reuse the UIDVALIDITY (its UIDs start again)
    seen = []
    for _ in range(3):
        authed.ok("CREATE Recreated")
        code = authed.append("Recreated", message("again")).code.split()
        seen.append((int(code[1]), int(code[2])))
        authed.ok("DELETE Recreated")
    validities = [v for v, _ in seen]
    assert len(set(validities)) == len(validities), f"(UIDVALIDITY, UID) per incarnation: {seen}"


def test_append_with_synchronising_literal(authed):
    make_mailbox(authed, "ApSync")
    msg = message("synchronising")
    r = authed.command_with_literals(["APPEND ApSync (\\Draft) ", msg])
    assert r.ok and r.code.startswith("APPENDUID"), r.tagged
    authed.select("ApSync")
    items = authed.ok("FETCH 1 (FLAGS BODY.PEEK[])").fetch_map()[1]
    assert items["BODY[]"] == msg and b"\\Draft" in items["FLAGS"]


@pytest.mark.parametrize("sync", [False, True], ids=["literal+", "synchronising"])
def test_append_message_larger_than_one_mebibyte(authed, sync):
    # the server's APPEND limit is 64 MiB; nothing below it may be refused
    name = "ApBig" + ("Sync" if sync else "Plus")
    make_mailbox(authed, name)
    big = message("big", body="".join(f"{i:08d} " + "x" * 88 + "\r\n" for i in range(22_000)))
    assert len(big) > 2 * 1024 * 1024
    if sync:
        r = authed.command_with_literals([f"APPEND {name} ", big])
    else:
        r = authed.command(f"APPEND {name} ".encode() + literal(big, plus=True))
    assert r.ok, r.tagged
    authed.select(name)
    items = authed.ok("FETCH 1 (RFC822.SIZE BODY.PEEK[])").fetch_map()[1]
    assert int(items["RFC822.SIZE"]) == len(big)
    assert items["BODY[]"] == big


def test_append_to_selected_mailbox_announces_exists(authed):
    make_mailbox(authed, "ApSel", 1)
    authed.select("ApSel")
    r = authed.append("ApSel", message("while selected"))
    assert r.numbers(b"EXISTS") == [2]


def test_append_with_imaplib(srv):
    c = imaplib.IMAP4("127.0.0.1", srv.port, timeout=10)
    try:
        c.login("demo", "demo")
        c.create("ApLib")
        typ, data = c.append("ApLib", "(\\Flagged)", imaplib.Time2Internaldate(1700000000), message("imaplib"))
        assert typ == "OK" and b"APPENDUID" in data[0]
        typ, data = c.select("ApLib")
        assert data == [b"1"]
    finally:
        c.logout()


# -- CHECK / CLOSE / EXPUNGE / UNSELECT ---------------------------------------------
def test_check(authed):
    make_mailbox(authed, "Chk", 1)
    authed.select("Chk")
    assert authed.command("CHECK").ok


def test_close_expunges_silently(authed):
    make_mailbox(authed, "CloseMe", 3)
    authed.select("CloseMe")
    authed.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    r = authed.ok("CLOSE")
    assert not r.numbers(b"EXPUNGE"), f"CLOSE must not send EXPUNGE: {r.untagged!r}"
    assert authed.command("FETCH 1 FLAGS").status in ("BAD", "NO")  # back to authenticated
    assert status_values(authed.ok("STATUS CloseMe (MESSAGES)")) == {"MESSAGES": 2}


def test_close_after_examine_does_not_expunge(srv, authed):
    make_mailbox(authed, "CloseRo", 2, flags=["\\Deleted"])
    authed.select("CloseRo", examine=True)
    assert authed.command("CLOSE").ok
    assert status_values(authed.ok("STATUS CloseRo (MESSAGES)")) == {"MESSAGES": 2}


def test_expunge_reports_every_removed_message(authed):
    uids = make_mailbox(authed, "Exp", 5, flags=["", "\\Deleted", "", "\\Deleted \\Seen", "\\Deleted"])
    authed.select("Exp")
    r = authed.ok("EXPUNGE")
    assert len(r.numbers(b"EXPUNGE")) == 3
    remaining = apply_expunges(uids, r.untagged)
    assert remaining == [uids[0], uids[2]]
    fetched = authed.ok("FETCH 1:* UID").fetch_map()
    assert [int(fetched[s]["UID"]) for s in sorted(fetched)] == remaining
    assert authed.command("FETCH 3 UID").status in ("BAD", "NO")  # only 2 messages left


def test_expunge_without_deleted_messages(authed):
    make_mailbox(authed, "ExpNone", 2)
    authed.select("ExpNone")
    r = authed.ok("EXPUNGE")
    assert r.numbers(b"EXPUNGE") == []


def test_expunge_in_examined_mailbox_fails(authed):
    make_mailbox(authed, "ExpRo", 1, flags=["\\Deleted"])
    authed.select("ExpRo", examine=True)
    assert authed.command("EXPUNGE").status == "NO"
    assert status_values(authed.ok("STATUS ExpRo (MESSAGES)")) == {"MESSAGES": 1}


def test_uid_expunge_removes_only_named_messages(authed):
    uids = make_mailbox(authed, "UidExp", 3, flags=["\\Deleted"] * 3)
    authed.select("UidExp")
    r = authed.ok(f"UID EXPUNGE {uids[1]}")
    assert apply_expunges(uids, r.untagged) == [uids[0], uids[2]]
    left = authed.ok("UID FETCH 1:* FLAGS").fetch_map()
    assert sorted(int(v["UID"]) for v in left.values()) == [uids[0], uids[2]]
    assert all(b"\\Deleted" in v["FLAGS"] for v in left.values())


def test_unselect_does_not_expunge(authed):
    make_mailbox(authed, "Unsel", 2, flags=["\\Deleted"])
    authed.select("Unsel")
    r = authed.ok("UNSELECT")
    assert not r.numbers(b"EXPUNGE")
    assert authed.command("FETCH 1 FLAGS").status in ("BAD", "NO")
    assert status_values(authed.ok("STATUS Unsel (MESSAGES)")) == {"MESSAGES": 2}
    assert authed.command("UNSELECT").status in ("BAD", "NO")  # not selected any more


# -- STORE ----------------------------------------------------------------------
def flags_of(r, seq) -> set:
    return {f.decode() for f in r.fetch_map()[seq]["FLAGS"]} - {"\\Recent"}


def test_store_add_remove_replace(authed):
    make_mailbox(authed, "Sto", 3)
    authed.select("Sto")
    r = authed.ok("STORE 1 +FLAGS (\\Flagged \\Seen)")
    assert flags_of(r, 1) == {"\\Flagged", "\\Seen"}
    r = authed.ok("STORE 1 -FLAGS (\\Seen)")
    assert flags_of(r, 1) == {"\\Flagged"}
    r = authed.ok("STORE 1 FLAGS (\\Answered \\Draft)")
    assert flags_of(r, 1) == {"\\Answered", "\\Draft"}
    r = authed.ok("STORE 1 FLAGS ()")
    assert flags_of(r, 1) == set()
    r = authed.ok("STORE 2:3 +FLAGS \\Deleted")  # a single flag without parentheses
    assert set(r.fetch_map()) == {2, 3}
    assert all("\\Deleted" in flags_of(r, s) for s in (2, 3))


def test_store_silent_sends_no_fetch(authed):
    make_mailbox(authed, "StoSil", 2)
    authed.select("StoSil")
    for cmd in ("STORE 1:2 +FLAGS.SILENT (\\Seen)", "STORE 1 -FLAGS.SILENT (\\Seen)",
                "STORE 2 FLAGS.SILENT (\\Flagged)"):
        r = authed.ok(cmd)
        assert r.fetches() == [], (cmd, r.untagged)
    after = authed.ok("FETCH 1:2 FLAGS")
    assert flags_of(after, 1) == set()
    assert flags_of(after, 2) == {"\\Flagged"}


def test_store_keywords(authed):
    make_mailbox(authed, "StoKw", 1)
    authed.select("StoKw")
    r = authed.ok("STORE 1 +FLAGS ($Label1 Custom)")
    assert flags_of(r, 1) == {"$Label1", "Custom"}
    r = authed.ok("STORE 1 -FLAGS (Custom)")
    assert flags_of(r, 1) == {"$Label1"}
    sel = authed.select("StoKw")
    (flags_line,) = sel.lines(b"FLAGS ")
    assert b"$Label1" in parse(flags_line)[2]
    assert b"$Label1" in parse(sel.code_value("PERMANENTFLAGS").encode())[0]


def test_store_keywords_are_case_insensitive(authed):
    # RFC 3501 9: "all alphabetic characters are case-insensitive" (flag-keyword
    # is an atom); the server's own SEARCH KEYWORD already matches that way
    make_mailbox(authed, "StoKwCase", 1)
    authed.select("StoKwCase")
    authed.ok("STORE 1 +FLAGS (Custom)")
    assert authed.ok("SEARCH KEYWORD CUSTOM").search() == [1]
    r = authed.ok("STORE 1 -FLAGS (custom)")
    assert flags_of(r, 1) == set()


def test_uid_store_reports_uid(authed):
    uids = make_mailbox(authed, "UidSto", 3)
    authed.select("UidSto")
    r = authed.ok(f"UID STORE {uids[2]} +FLAGS (\\Answered)")
    ((seq, items),) = r.fetches()
    assert seq == 3 and int(items["UID"]) == uids[2]
    assert b"\\Answered" in items["FLAGS"]


# -- COPY / MOVE ------------------------------------------------------------------
def test_copy_with_copyuid(authed):
    uids = make_mailbox(authed, "CpSrc", 3, flags=["\\Flagged", "", "\\Seen"])
    make_mailbox(authed, "CpDst")
    authed.select("CpSrc")
    r = authed.ok("COPY 1,3 CpDst")
    code = r.code.split()
    assert code[0] == "COPYUID", r.tagged
    dst_validity = status_values(authed.ok("STATUS CpDst (UIDVALIDITY MESSAGES)"))
    assert int(code[1]) == dst_validity["UIDVALIDITY"]
    assert dst_validity["MESSAGES"] == 2
    assert code[2] == f"{uids[0]},{uids[2]}"
    new_uids = [int(x) for x in re.split("[,:]", code[3])]
    authed.select("CpDst")
    items = authed.ok("UID FETCH 1:* (FLAGS BODY.PEEK[])").fetch_map()
    assert sorted(int(v["UID"]) for v in items.values()) == sorted(new_uids)
    assert b"\\Flagged" in items[1]["FLAGS"] and b"\\Seen" in items[2]["FLAGS"]
    assert items[1]["BODY[]"] == message("CpSrc message 1")


def test_copy_preserves_flags_and_internal_date(authed):
    make_mailbox(authed, "CpKeep")
    make_mailbox(authed, "CpKeepDst")
    authed.append("CpKeep", message("keep"), flags="\\Answered $Work", date="10-Oct-2020 10:10:10 +0000")
    authed.select("CpKeep")
    authed.ok("COPY 1 CpKeepDst")
    authed.ok("MOVE 1 CpKeepDst")
    authed.select("CpKeepDst")
    items = authed.ok("FETCH 1:2 (FLAGS INTERNALDATE)").fetch_map()
    for seq in (1, 2):
        assert {b"\\Answered", b"$Work"} <= set(items[seq]["FLAGS"])
        assert internal_date(items[seq]["INTERNALDATE"]) == datetime.datetime(2020, 10, 10, 10, 10, 10,
                                                                              tzinfo=datetime.timezone.utc)


def test_copy_and_append_to_invalid_name_are_not_trycreate(authed):
    # RFC 3501 7.1: TRYCREATE says CREATE would make the operation succeed;
    # for a name that CREATE refuses it is a false hint
    make_mailbox(authed, "CpBad", 1)
    authed.select("CpBad")
    assert authed.command('CREATE "bad/name"').status == "NO"
    r = authed.command('COPY 1 "bad/name"')
    assert r.status == "NO" and r.code != "TRYCREATE", r.tagged
    r = authed.command(b'APPEND "bad/name" ' + literal(message("bad"), plus=True))
    assert r.status == "NO" and r.code != "TRYCREATE", r.tagged


def test_copy_to_missing_mailbox_says_trycreate(authed):
    make_mailbox(authed, "CpTry", 1)
    authed.select("CpTry")
    r = authed.command("COPY 1 NoSuchTarget")
    assert r.status == "NO" and r.code == "TRYCREATE", r.tagged


def test_uid_copy(authed):
    uids = make_mailbox(authed, "UidCp", 3)
    make_mailbox(authed, "UidCpDst")
    authed.select("UidCp")
    r = authed.ok(f"UID COPY {uids[1]}:{uids[2]} UidCpDst")
    assert r.code.split()[2] == f"{uids[1]}:{uids[2]}"
    assert status_values(authed.ok("STATUS UidCpDst (MESSAGES)")) == {"MESSAGES": 2}


def test_move(authed):
    uids = make_mailbox(authed, "MvSrc", 3)
    make_mailbox(authed, "MvDst")
    authed.select("MvSrc")
    r = authed.ok("MOVE 2 MvDst")
    copyuid = r.code_value("COPYUID")
    assert copyuid is not None and copyuid.split()[1] == str(uids[1]), r.untagged
    assert apply_expunges(uids, r.untagged) == [uids[0], uids[2]]
    # RFC 6851: the COPYUID comes before the EXPUNGE responses
    kinds = [u.split()[1] if u.split()[1] in (b"OK", b"NO") else u.split()[2] for u in r.untagged]
    assert kinds.index(b"OK") < kinds.index(b"EXPUNGE")
    assert status_values(authed.ok("STATUS MvDst (MESSAGES)")) == {"MESSAGES": 1}


def test_uid_move(authed):
    uids = make_mailbox(authed, "UidMv", 3)
    make_mailbox(authed, "UidMvDst")
    authed.select("UidMv")
    r = authed.ok(f"UID MOVE {uids[0]},{uids[2]} UidMvDst")
    assert apply_expunges(uids, r.untagged) == [uids[1]]
    assert status_values(authed.ok("STATUS UidMvDst (MESSAGES)")) == {"MESSAGES": 2}
    r = authed.command("MOVE 1 NoSuchTarget")
    assert r.status == "NO" and r.code == "TRYCREATE"


# -- IDLE -----------------------------------------------------------------------
def test_idle_and_done(authed):
    make_mailbox(authed, "Idle1", 1)
    authed.select("Idle1")
    authed.send(b"i1 IDLE\r\n")
    assert authed.read_response().startswith(b"+")
    authed.send(b"DONE\r\n")
    r = authed.read_until_tagged(b"i1")
    assert r.ok
    assert authed.command("NOOP").ok


def test_done_and_next_command_in_one_packet(authed):
    make_mailbox(authed, "IdleNext", 1)
    authed.select("IdleNext")
    authed.send(b"i1 IDLE\r\n")
    assert authed.read_response().startswith(b"+")
    authed.send(b"done\r\ni2 FETCH 1 UID\r\n")  # DONE is case-insensitive
    assert authed.read_until_tagged(b"i1").ok
    r = authed.read_until_tagged(b"i2")
    assert r.ok and 1 in r.fetch_map()


def test_idle_in_authenticated_state(authed):
    authed.send(b"i1 IDLE\r\n")
    assert authed.read_response().startswith(b"+")
    authed.send(b"DONE\r\n")
    assert authed.read_until_tagged(b"i1").ok


def test_idle_reports_append_by_other_session(srv, authed):
    make_mailbox(authed, "IdleAp", 1)
    authed.select("IdleAp")
    authed.send(b"i1 IDLE\r\n")
    assert authed.read_response().startswith(b"+")
    with RawIMAP(srv.port) as other:
        other.login()
        other.append("IdleAp", message("pushed"))
    authed.wait_for(lambda r: r == b"* 2 EXISTS\r\n", timeout=10)
    authed.send(b"DONE\r\n")
    assert authed.read_until_tagged(b"i1").ok


def test_idle_with_imapclient(srv):
    c = IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10)
    try:
        c.login("demo", "demo")
        c.create_folder("IdleCl")
        c.select_folder("IdleCl")
        c.idle()
        with RawIMAP(srv.port) as other:
            other.login()
            other.append("IdleCl", message("for imapclient"))
        responses = c.idle_check(timeout=10)
        c.idle_done()
        assert (1, b"EXISTS") in responses
    finally:
        c.logout()


# -- NAMESPACE / ID / ENABLE / UNSELECT ---------------------------------------------
def test_namespace(authed):
    r = authed.ok("NAMESPACE")
    (line,) = r.lines(b"NAMESPACE")
    v = parse(line)
    personal, other, shared = v[2], v[3], v[4]
    assert personal[0][0] == b"" and personal[0][1] == b"."
    assert other is None and shared is None


def test_id_in_every_state(conn):
    r = conn.ok('ID ("name" "pytest" "version" "1")')
    (line,) = r.lines(b"ID ")
    v = parse(line)
    assert v[2] is None or (isinstance(v[2], list) and len(v[2]) % 2 == 0)
    conn.login()
    assert conn.command("ID NIL").ok


def test_enable(conn):
    assert conn.command("ENABLE CONDSTORE").status in ("BAD", "NO")  # not authenticated yet
    conn.login()
    r = conn.ok("ENABLE X-NOT-A-CAPABILITY")
    (line,) = r.lines(b"ENABLED")
    assert b"X-NOT-A-CAPABILITY" not in line


def test_unselect(authed):
    make_mailbox(authed, "UnselB", 1)
    authed.select("UnselB")
    assert authed.command("UNSELECT").ok
    assert authed.command("FETCH 1 FLAGS").status in ("BAD", "NO")
    assert authed.command("UNSELECT").status in ("BAD", "NO")


def test_authenticated_state_commands_also_work_when_selected(authed):
    make_mailbox(authed, "SelStay", 1)
    authed.select("SelStay")
    for text in ("CREATE SelStay2", 'LIST "" SelStay*', "SUBSCRIBE SelStay2", 'LSUB "" SelStay*',
                 "STATUS SelStay2 (MESSAGES)", "RENAME SelStay2 SelStay3", "UNSUBSCRIBE SelStay3",
                 "DELETE SelStay3", "NAMESPACE", "ENABLE IDLE", "ID NIL", "CAPABILITY", "EXAMINE SelStay"):
        assert authed.command(text).ok, text
    assert authed.command("FETCH 1 UID").ok  # EXAMINE selected it again
    assert authed.command("STORE 1 +FLAGS (\\Seen)").status == "NO"  # ... read-only


def test_copy_into_the_selected_mailbox_announces_exists(authed):
    make_mailbox(authed, "CpSelf", 2)
    authed.select("CpSelf")
    r = authed.ok("COPY 1:2 CpSelf")
    exists = r.numbers(b"EXISTS") + authed.ok("NOOP").numbers(b"EXISTS")
    assert exists and exists[-1] == 4
    assert sorted(authed.ok("FETCH 1:* UID").fetch_map()) == [1, 2, 3, 4]


# -- every command outside its states -------------------------------------------------
SELECTED_ONLY = ["CHECK", "CLOSE", "EXPUNGE", "UNSELECT", "SEARCH ALL", "FETCH 1 FLAGS",
                 "STORE 1 +FLAGS (\\Seen)", "COPY 1 INBOX", "MOVE 1 INBOX", "UID FETCH 1 FLAGS",
                 "UID SEARCH ALL", "UID STORE 1 +FLAGS (\\Seen)", "UID COPY 1 INBOX", "UID MOVE 1 INBOX",
                 "UID EXPUNGE 1"]
AUTHENTICATED_ONLY = ["SELECT INBOX", "EXAMINE INBOX", "CREATE X", "DELETE X", "RENAME X Y",
                      "SUBSCRIBE INBOX", "UNSUBSCRIBE INBOX", 'LIST "" *', 'LSUB "" *',
                      "STATUS INBOX (MESSAGES)", "APPEND INBOX {3+}\r\nabc", "IDLE", "NAMESPACE",
                      "ENABLE IDLE"]
NOT_AUTHENTICATED_ONLY = ["LOGIN demo demo", "AUTHENTICATE PLAIN " + plain_response("demo", "demo").decode()]


@pytest.mark.parametrize("state", ["not authenticated", "authenticated", "selected"])
def test_commands_outside_their_states_are_rejected(conn, state):
    if state == "not authenticated":
        wrong = SELECTED_ONLY + AUTHENTICATED_ONLY
    elif state == "authenticated":
        conn.login()
        wrong = SELECTED_ONLY + NOT_AUTHENTICATED_ONLY
    else:
        conn.login()
        conn.select("INBOX")
        wrong = NOT_AUTHENTICATED_ONLY
    for text in wrong:
        r = conn.command(text)
        assert r.status in ("BAD", "NO"), (state, text, r.tagged)
        assert not any(u.startswith(b"+") for u in r.untagged), (text, r.untagged)
        assert conn.command("NOOP").ok, text

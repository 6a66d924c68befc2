"""METADATA (RFC 5464) against a real pushimapd over TCP: GETMETADATA,
SETMETADATA, limits and response codes, mailbox RENAME/DELETE, restarts,
``pushimapd user del``, users kept apart, and imaplib driving it.

Most tests share one server (users demo and alice) and work in mailboxes
of their own, so they do not see each other's entries.
"""

from __future__ import annotations

import imaplib
import itertools
import shutil

import pytest

from conftest import ServerProcess, run_cli
from imap_raw import RawIMAP, literal, parse, quote

COMMENT = "Shared comment"
ADMIN = "mailto:postmaster@example.org"
USERS = (("demo", "demo"), ("alice", "alice"))
MAX_VALUE = 64 * 1024
MAX_ENTRIES = 128
_box = itertools.count(1)


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = ServerProcess(str(tmp_path_factory.mktemp("metadata")), users=USERS,
                           extra_args=["--metadata-comment", COMMENT, "--metadata-admin", ADMIN])
    server.add_users()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def c(srv):
    with RawIMAP(srv.port) as conn:
        conn.login()
        yield conn


@pytest.fixture
def box(c):
    """A fresh mailbox of demo's for one test."""
    name = f"Meta{next(_box)}"
    c.ok(b"CREATE " + name.encode())
    return name


def entries(resp, mailbox: bytes | None = None) -> dict:
    """The single ``* METADATA`` response of ``resp`` as {entry: value}."""
    lines = resp.lines(b"METADATA ")
    if not lines:
        return {}
    assert len(lines) == 1, lines
    star, keyword, name, values = parse(lines[0])
    assert (star, keyword.upper()) == (b"*", b"METADATA"), lines
    if mailbox is not None:
        assert name == mailbox
    assert len(values) % 2 == 0, lines
    return {values[i].decode(): values[i + 1] for i in range(0, len(values), 2)}


def get(c, mailbox: str, spec: str) -> dict:
    r = c.ok(f"GETMETADATA {quote(mailbox).decode()} {spec}")
    return entries(r, mailbox.encode())


# --------------------------------------------------------------------------------------
# capability and state
# --------------------------------------------------------------------------------------
def test_capabilities_before_and_after_login(srv):
    with RawIMAP(srv.port) as conn:
        before = conn.ok("CAPABILITY").lines(b"CAPABILITY")[0].split()
        assert b"METADATA" in before and b"METADATA-SERVER" in before
        assert b"XDELTAPUSH" not in before  # only with --devicetoken-notifier
        assert b"METADATA" in conn.login().tagged
        after = conn.ok("CAPABILITY").lines(b"CAPABILITY")[0].split()
        assert b"METADATA" in after and b"METADATA-SERVER" in after


def test_not_authenticated_is_bad(srv):
    with RawIMAP(srv.port) as conn:
        assert conn.command('GETMETADATA "" /shared/comment').status == "BAD"
        assert conn.command('SETMETADATA INBOX (/private/comment "x")').status == "BAD"
        # a synchronising literal is refused before "+"
        tag = conn.next_tag()
        conn.send(tag + b" SETMETADATA INBOX (/private/comment {5}\r\n")
        assert conn.read_until_tagged(tag).status == "BAD"
        assert conn.ok("NOOP")


def test_works_in_the_selected_state(c, box):
    c.select(box)
    c.ok(f'SETMETADATA {box} (/private/comment "while selected")')
    assert get(c, box, "/private/comment") == {"/private/comment": b"while selected"}


# --------------------------------------------------------------------------------------
# the examples of RFC 5464
# --------------------------------------------------------------------------------------
def test_rfc_server_comment_and_admin(c):
    r = c.ok('GETMETADATA "" /shared/comment')
    assert r.untagged == [b'* METADATA "" (/shared/comment "Shared comment")\r\n']
    assert get(c, "", "(/shared/comment /shared/admin)") == {
        "/shared/comment": COMMENT.encode(), "/shared/admin": ADMIN.encode()}


def test_rfc_private_and_shared_comments_on_a_mailbox(c, box):
    c.ok(f'SETMETADATA {box} (/shared/comment "Shared comment")')
    c.ok(f'SETMETADATA {box} (/private/comment "My own comment")')
    r = c.ok(f'GETMETADATA "{box}" (/shared/comment /private/comment)')
    assert r.untagged == [f'* METADATA "{box}" (/shared/comment "Shared comment" '
                          f'/private/comment "My own comment")\r\n'.encode()]


def test_rfc_maxsize_example_with_options_after_the_mailbox(c, box):
    long_comment = b"x" * 2199
    c.ok(f'SETMETADATA {box} (/shared/comment "Shared comment" /private/comment '.encode()
         + literal(long_comment, plus=True) + b")")
    r = c.ok(f'GETMETADATA "{box}" (MAXSIZE 1024) (/shared/comment /private/comment)')
    assert entries(r) == {"/shared/comment": b"Shared comment"}
    assert r.code == "METADATA LONGENTRIES 2199"


def test_rfc_depth_example(c, box):
    c.ok(f'SETMETADATA {box} (/private/filters/values/small "SMALLER 5000" '
         f'/private/filters/values/boss "FROM \\"boss@example.com\\"")')
    r = c.ok(f'GETMETADATA "{box}" (DEPTH 1) (/private/filters/values)')
    assert entries(r) == {"/private/filters/values/boss": b'FROM "boss@example.com"',
                          "/private/filters/values/small": b"SMALLER 5000"}
    assert r.code is None


def test_rfc_set_with_a_synchronising_literal_and_delete(c, box):
    value = b"My new comment across\r\ntwo lines.\r\n"
    r = c.command_with_literals([f"SETMETADATA {box} (/private/comment ", value, ")"])
    assert r.ok, r.tagged
    raw = c.ok(f"GETMETADATA {box} /private/comment")
    assert raw.untagged == [f'* METADATA "{box}" (/private/comment '.encode() + literal(value) + b")\r\n"]
    c.ok(f"SETMETADATA {box} (/private/comment NIL)")
    assert c.ok(f"GETMETADATA {box} /private/comment").untagged == []


def test_rfc_server_entries(c):
    # server /shared entries are the operator's here: read-only
    r = c.command('SETMETADATA "" (/shared/comment "Shared comment")')
    assert r.status == "NO" and r.code == "NOPERM"
    r = c.command('SETMETADATA "" (/shared/vendor/example/x "y")')
    assert r.status == "NO" and r.code == "NOPERM"
    assert get(c, "", "/shared/comment") == {"/shared/comment": COMMENT.encode()}
    # /private server entries belong to the user
    c.ok('SETMETADATA "" (/private/vendor/example/setting "on")')
    assert get(c, "", "/private/vendor/example/setting") == {"/private/vendor/example/setting": b"on"}
    c.ok('SETMETADATA "" (/private/vendor/example/setting NIL)')


# --------------------------------------------------------------------------------------
# GETMETADATA
# --------------------------------------------------------------------------------------
def test_options_before_and_after_the_mailbox_agree(c, box):
    c.ok(f'SETMETADATA {box} (/private/a "1" /private/a/b "22" /private/a/b/c "333")')
    rfc = c.ok(f'GETMETADATA (DEPTH 1 MAXSIZE 2) "{box}" /private/a')
    late = c.ok(f'GETMETADATA "{box}" (MAXSIZE 2 DEPTH 1) /private/a')
    assert rfc.untagged == late.untagged
    assert entries(rfc) == {"/private/a": b"1", "/private/a/b": b"22"}
    assert rfc.code == late.code is None
    assert c.command(f'GETMETADATA (DEPTH 1) "{box}" (DEPTH 1) /private/a').status == "BAD"


def test_depth_0_1_infinity(c, box):
    c.ok(f'SETMETADATA {box} (/private/t "top" /private/t/a "a" /private/t/a/b "ab" /private/t/a/b/c "abc" '
         f'/private/t/z "z" /private/tx "not a child")')
    assert get(c, box, "/private/t") == {"/private/t": b"top"}
    assert get(c, box, "(DEPTH 0) /private/t") == {"/private/t": b"top"}
    assert get(c, box, "(DEPTH 1) /private/t") == {"/private/t": b"top", "/private/t/a": b"a", "/private/t/z": b"z"}
    assert get(c, box, "(DEPTH infinity) /private/t") == {
        "/private/t": b"top", "/private/t/a": b"a", "/private/t/a/b": b"ab", "/private/t/a/b/c": b"abc",
        "/private/t/z": b"z"}
    # a root without a value of its own, several entries at once, missing entries left out
    assert get(c, box, "(DEPTH 1) (/private/t/a /private/nothing /private/t/z)") == {
        "/private/t/a": b"a", "/private/t/a/b": b"ab", "/private/t/z": b"z"}
    assert set(get(c, box, "(DEPTH INFINITY) /private")) == {
        "/private/t", "/private/t/a", "/private/t/a/b", "/private/t/a/b/c", "/private/t/z", "/private/tx"}
    assert c.ok(f"GETMETADATA {box} (/private/nothing /shared/nothing)").untagged == []


def test_maxsize_and_longentries(c, box):
    c.ok(f'SETMETADATA {box} (/private/s "12345" /private/m "1234567" /private/l "123456789")')
    r = c.ok(f"GETMETADATA (MAXSIZE 7) {box} (/private/s /private/m /private/l)")
    assert entries(r) == {"/private/s": b"12345", "/private/m": b"1234567"}
    assert r.code == "METADATA LONGENTRIES 9"
    r = c.ok(f"GETMETADATA (MAXSIZE 0) {box} (/private/s /private/l)")
    assert entries(r) == {} and r.code == "METADATA LONGENTRIES 9"
    r = c.ok(f"GETMETADATA (MAXSIZE 100) {box} (/private/s /private/l)")
    assert len(entries(r)) == 2 and r.code is None


def test_entry_names_are_case_insensitive(c, box):
    c.ok(f'SETMETADATA {box} (/PRIVATE/Comment "x")')
    assert get(c, box, "/private/COMMENT") == {"/private/comment": b"x"}


def test_nonexistent_and_invalid_mailboxes(c):
    for command in ('GETMETADATA "NoSuchBox" /private/comment', 'SETMETADATA NoSuchBox (/private/comment "x")'):
        r = c.command(command)
        assert (r.status, r.code) == ("NO", "NONEXISTENT"), r.tagged
    c.ok("CREATE Parent.Child")  # Parent exists only as an implied \Noselect level
    assert c.command('GETMETADATA "Parent" /private/comment').code == "NONEXISTENT"
    assert c.command('GETMETADATA "a..b" /private/comment').status == "NO"


# --------------------------------------------------------------------------------------
# SETMETADATA
# --------------------------------------------------------------------------------------
def test_several_entries_at_once_all_or_nothing(c, box):
    c.ok(f'SETMETADATA {box} (/private/one "1" /shared/two "2" /private/three "3")')
    assert get(c, box, "(/private/one /shared/two /private/three)") == {
        "/private/one": b"1", "/shared/two": b"2", "/private/three": b"3"}
    too_big = b"y" * (MAX_VALUE + 1)
    r = c.command(f'SETMETADATA {box} (/private/one "changed" /private/four "4" /private/big '.encode()
                  + literal(too_big, plus=True) + b")")
    assert (r.status, r.code) == ("NO", f"METADATA MAXSIZE {MAX_VALUE}")
    assert get(c, box, "(/private/one /private/four)") == {"/private/one": b"1"}
    # NIL deletes, mixed with sets; the last value of a name given twice counts
    c.ok(f'SETMETADATA {box} (/private/one NIL /shared/two "2b" /shared/two "2c" /private/gone NIL)')
    assert get(c, box, "(/private/one /shared/two /private/three)") == {
        "/shared/two": b"2c", "/private/three": b"3"}


def test_value_size_limit(c, box):
    exact = b"v" * MAX_VALUE
    r = c.command_with_literals([f"SETMETADATA {box} (/private/big ", exact, ")"])  # "+" comes
    assert r.ok, r.tagged
    assert get(c, box, "/private/big") == {"/private/big": exact}
    # one octet more: refused before "+", the connection goes on
    tag = c.next_tag()
    c.send(tag + f" SETMETADATA {box} (/private/big2 {{{MAX_VALUE + 1}}}\r\n".encode())
    r = c.read_until_tagged(tag)
    assert (r.status, r.code) == ("NO", f"METADATA MAXSIZE {MAX_VALUE}")
    assert not any(u.startswith(b"+") for u in r.untagged)
    # the same as LITERAL+: the data is swallowed
    r = c.command(f"SETMETADATA {box} (/private/big2 ".encode() + literal(b"w" * (MAX_VALUE + 1), plus=True) + b")")
    assert (r.status, r.code) == ("NO", f"METADATA MAXSIZE {MAX_VALUE}")
    assert get(c, box, "(/private/big /private/big2)") == {"/private/big": exact}


def test_entry_count_limit(c, box):
    many = " ".join(f'/private/n{i} "{i}"' for i in range(MAX_ENTRIES))
    c.ok(f"SETMETADATA {box} ({many})")
    r = c.command(f'SETMETADATA {box} (/private/one-more "x")')
    assert (r.status, r.code) == ("NO", "METADATA TOOMANY")
    c.ok(f'SETMETADATA {box} (/private/n0 "replaced")')  # replacing is fine
    c.ok(f'SETMETADATA {box} (/private/n1 NIL /private/one-more "x")')  # so is swapping one for another
    assert len(get(c, box, "(DEPTH 1) /private")) == MAX_ENTRIES
    c.ok(f"CREATE {box}Other")  # the limit is per mailbox
    c.ok(f'SETMETADATA {box}Other (/private/x "x")')


def test_entry_name_length_limit(c, box):
    ok_name = "/private/" + "n" * (256 - len("/private/"))
    c.ok(f'SETMETADATA {box} ({ok_name} "x")')
    assert c.command(f'SETMETADATA {box} ({ok_name}n "x")').status == "BAD"


def test_literal8_keeps_nul_and_plain_literal_refuses_it(c, box):
    value = b"a\x00b\xffc"
    c.ok(f"SETMETADATA {box} (/private/bin ~{{{len(value)}+}}\r\n".encode() + value + b")")
    r = c.ok(f"GETMETADATA {box} /private/bin")
    assert r.untagged == [f'* METADATA "{box}" (/private/bin ~{{{len(value)}}}\r\n'.encode() + value + b")\r\n"]
    r = c.command(f"SETMETADATA {box} (/private/bin2 {{{len(value)}+}}\r\n".encode() + value + b")")
    assert r.status == "BAD"
    # 8-bit without NUL goes out as an ordinary literal
    c.ok(f"SETMETADATA {box} (/private/utf8 ".encode() + literal("grüße".encode(), plus=True) + b")")
    assert get(c, box, "/private/utf8") == {"/private/utf8": "grüße".encode()}


# --------------------------------------------------------------------------------------
# users, mailboxes, restarts
# --------------------------------------------------------------------------------------
def test_users_do_not_see_each_other(srv, c):
    c.ok('SETMETADATA INBOX (/private/secret "demo private" /shared/note "demo shared")')
    c.ok('SETMETADATA "" (/private/setting "demo server private")')
    with RawIMAP(srv.port) as alice:
        alice.login("alice", "alice")
        assert get(alice, "INBOX", "(DEPTH infinity) (/private /shared)") == {}
        assert get(alice, "", "(DEPTH infinity) /private") == {}
        assert get(alice, "", "/shared/comment") == {"/shared/comment": COMMENT.encode()}
        alice.ok('SETMETADATA INBOX (/private/secret "alice")')
    assert get(c, "INBOX", "/private/secret") == {"/private/secret": b"demo private"}
    c.ok('SETMETADATA INBOX (/private/secret NIL /shared/note NIL)')
    c.ok('SETMETADATA "" (/private/setting NIL)')


def test_rename_moves_entries_with_children(c, box):
    c.ok(f"CREATE {box}.Child")
    c.ok(f"CREATE {box}.Child.Grandchild")
    c.ok(f"CREATE {box}Sibling")
    c.ok(f'SETMETADATA {box} (/private/comment "parent")')
    c.ok(f'SETMETADATA {box}.Child (/private/comment "child")')
    c.ok(f'SETMETADATA {box}.Child.Grandchild (/shared/comment "grandchild")')
    c.ok(f'SETMETADATA {box}Sibling (/private/comment "sibling")')
    c.ok(f"RENAME {box} {box}Renamed")
    assert get(c, f"{box}Renamed", "/private/comment") == {"/private/comment": b"parent"}
    assert get(c, f"{box}Renamed.Child", "/private/comment") == {"/private/comment": b"child"}
    assert get(c, f"{box}Renamed.Child.Grandchild", "/shared/comment") == {"/shared/comment": b"grandchild"}
    assert get(c, f"{box}Sibling", "/private/comment") == {"/private/comment": b"sibling"}
    c.ok(f"CREATE {box}")
    c.ok(f"CREATE {box}.Child")
    assert get(c, box, "/private/comment") == {}
    assert get(c, f"{box}.Child", "/private/comment") == {}


def test_delete_drops_entries(c, box):
    c.ok(f"CREATE {box}.Child")
    c.ok(f'SETMETADATA {box} (/private/comment "parent")')
    c.ok(f'SETMETADATA {box}.Child (/private/comment "child")')
    c.ok(f"DELETE {box}")
    assert c.command(f"GETMETADATA {box} /private/comment").code == "NONEXISTENT"
    assert get(c, f"{box}.Child", "/private/comment") == {"/private/comment": b"child"}  # children stay
    c.ok(f"CREATE {box}")
    assert get(c, box, "/private/comment") == {}


def test_rename_inbox_keeps_inbox_entries(tmp_path):
    srv = ServerProcess(str(tmp_path))
    srv.add_users()
    srv.start()
    try:
        with RawIMAP(srv.port) as conn:
            conn.login()
            conn.ok('SETMETADATA INBOX (/private/comment "inbox")')
            conn.ok("RENAME INBOX Old")
            assert get(conn, "INBOX", "/private/comment") == {"/private/comment": b"inbox"}
            assert get(conn, "Old", "/private/comment") == {}
    finally:
        srv.stop()


def test_entries_survive_a_restart_and_go_with_user_del(tmp_path):
    root = str(tmp_path)
    srv = ServerProcess(root, users=USERS)
    srv.add_users()
    srv.start()
    try:
        with RawIMAP(srv.port) as conn:
            conn.login()
            conn.ok("CREATE Kept")
            conn.ok('SETMETADATA Kept (/private/comment "kept" /shared/comment "shared")')
            conn.ok('SETMETADATA "" (/private/setting "server")')
        with RawIMAP(srv.port) as conn:
            conn.login("alice", "alice")
            conn.ok('SETMETADATA INBOX (/private/comment "alice")')
        srv.stop()
        srv.start()
        with RawIMAP(srv.port) as conn:
            conn.login()
            assert get(conn, "Kept", "(/private/comment /shared/comment)") == {
                "/private/comment": b"kept", "/shared/comment": b"shared"}
            assert get(conn, "", "/private/setting") == {"/private/setting": b"server"}
        srv.stop()
        done = run_cli("user", "del", "demo", root=root)
        assert done.returncode == 0 and b"3 METADATA entries" in done.stdout, done
        srv.add_users()  # demo again, with the same mailbox names
        srv.start()
        with RawIMAP(srv.port) as conn:
            conn.login()
            assert get(conn, "Kept", "(DEPTH infinity) (/private /shared)") == {}
            assert get(conn, "", "(DEPTH infinity) /private") == {}
        with RawIMAP(srv.port) as conn:
            conn.login("alice", "alice")
            assert get(conn, "INBOX", "/private/comment") == {"/private/comment": b"alice"}
    finally:
        srv.stop()


# --------------------------------------------------------------------------------------
# a real client library
# --------------------------------------------------------------------------------------
def test_imaplib(srv, monkeypatch):
    monkeypatch.setitem(imaplib.Commands, "GETMETADATA", ("AUTH", "SELECTED"))
    monkeypatch.setitem(imaplib.Commands, "SETMETADATA", ("AUTH", "SELECTED"))
    client = imaplib.IMAP4("127.0.0.1", srv.port)
    try:
        client.login("demo", "demo")
        assert "METADATA" in client.capabilities
        typ, _ = client._simple_command("SETMETADATA", "INBOX", '(/private/imaplib "set by imaplib")')
        assert typ == "OK"
        typ, data = client._simple_command("GETMETADATA", '"INBOX"', "(/private/imaplib /shared/nothing)")
        typ, data = client._untagged_response(typ, data, "METADATA")
        assert typ == "OK" and data == [b'"INBOX" (/private/imaplib "set by imaplib")']
        typ, data = client._simple_command("GETMETADATA", '""', "/shared/admin")
        assert client._untagged_response(typ, data, "METADATA")[1] == [f'"" (/shared/admin "{ADMIN}")'.encode()]
        typ, _ = client._simple_command("SETMETADATA", "INBOX", "(/private/imaplib NIL)")
        assert typ == "OK"
    finally:
        client.logout()


def test_without_options_the_server_has_no_shared_entries(tmp_path):
    root = str(tmp_path)
    srv = ServerProcess(root)
    srv.add_users()
    srv.start()
    try:
        with RawIMAP(srv.port) as conn:
            conn.login()
            assert get(conn, "", "(DEPTH infinity) /shared") == {}
    finally:
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)

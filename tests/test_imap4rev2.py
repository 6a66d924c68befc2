"""IMAP4rev2 (RFC 9051) side by side with IMAP4rev1 on the same mailbox,
over real TCP: ENABLE IMAP4rev2 and what it changes (no RECENT and no
\\Recent, SELECT's LIST response and no UNSEEN, SEARCH answered by ESEARCH,
UTF-8 mailbox names, \\NonExistent parents, [CLOSED], number64 sizes) while
a rev1 session on the same folder keeps RFC 3501's answers."""

from __future__ import annotations

import os

import pytest

from conftest import run_cli, started_server
from imap_raw import RawIMAP, parse, quote


def message(subject: str) -> bytes:
    return f"Subject: {subject}\r\nFrom: a@example.org\r\n\r\nbody {subject}\r\n".encode()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("rev2")))
    with RawIMAP(server.port) as c:
        c.login()
        c.ok("CREATE Both")
        for i in range(3):
            c.append("Both", message(f"m{i}"), flags="\\Seen" if i == 0 else "")
        c.ok("CREATE Parent.Child")
        c.select("Both")  # claims \Recent: later sessions see none
    yield server
    server.stop()


def rev2(srv) -> RawIMAP:
    c = RawIMAP(srv.port)
    c.login()
    assert c.ok("ENABLE IMAP4rev2").lines(b"ENABLED") == [b"* ENABLED IMAP4rev2\r\n"]
    return c


def rev1(srv) -> RawIMAP:
    c = RawIMAP(srv.port)
    c.login()
    return c


def test_both_revisions_are_advertised_and_enable_is_idempotent(srv):
    with rev1(srv) as c:
        caps = c.ok("CAPABILITY").lines(b"CAPABILITY")[0].split()
        assert b"IMAP4rev1" in caps and b"IMAP4rev2" in caps
        assert c.ok("ENABLE imap4REV2").lines(b"ENABLED") == [b"* ENABLED IMAP4rev2\r\n"]
        assert c.ok("ENABLE IMAP4rev2").lines(b"ENABLED") == [b"* ENABLED\r\n"]
        assert c.ok("ENABLE IMAP4rev3").lines(b"ENABLED") == [b"* ENABLED\r\n"]
        caps_after = c.ok("CAPABILITY").lines(b"CAPABILITY")[0].split()
        assert caps_after == caps  # ENABLE does not change CAPABILITY


def test_select_responses(srv):
    with rev2(srv) as new, rev1(srv) as old:
        r2 = new.ok("EXAMINE Both")
        r1 = old.ok("EXAMINE Both")
        assert r2.lines(b"LIST") == [b'* LIST (\\HasNoChildren) "." "Both"\r\n']
        assert r2.numbers(b"RECENT") == [] and r1.numbers(b"RECENT") == [0]
        assert r2.code_value("UNSEEN") is None and r1.code_value("UNSEEN") == "2"
        for r in (r1, r2):
            assert r.numbers(b"EXISTS") == [3]
            assert r.code_value("UIDVALIDITY") and r.code_value("UIDNEXT") == "4"
            assert r.lines(b"FLAGS") and r.code == "READ-ONLY"
        r2 = new.ok("SELECT inbox")
        assert r2.lines(b"LIST") == [b'* LIST (\\HasNoChildren) "." "INBOX"\r\n']
        assert r2.codes()[0] == "CLOSED"  # the previous mailbox was closed
        assert "CLOSED" not in old.ok("SELECT INBOX").codes()


def test_search_is_answered_by_esearch(srv):
    with rev2(srv) as new, rev1(srv) as old:
        new.select("Both", examine=True)
        old.select("Both", examine=True)
        r = new.ok("SEARCH UNSEEN", tag=b"s1")
        assert r.untagged == [b'* ESEARCH (TAG "s1") ALL 2:3\r\n']
        r = new.ok("UID SEARCH ALL", tag=b"s2")
        assert r.untagged == [b'* ESEARCH (TAG "s2") UID ALL 1:3\r\n']
        r = new.ok("UID SEARCH DELETED", tag=b"s3")
        assert r.untagged == [b'* ESEARCH (TAG "s3") UID\r\n']
        r = new.ok("SEARCH RETURN (COUNT) ALL", tag=b"s4")
        assert r.untagged == [b'* ESEARCH (TAG "s4") COUNT 3\r\n']
        r = new.ok("SEARCH CHARSET UTF-8 SUBJECT m1", tag=b"s5")  # CHARSET stays allowed in rev2
        assert r.untagged == [b'* ESEARCH (TAG "s5") ALL 2\r\n']
        r = new.ok("SEARCH SMALLER 9223372036854775807 LARGER 0", tag=b"s6")  # number64
        assert r.untagged == [b'* ESEARCH (TAG "s6") ALL 1:3\r\n']
        assert old.ok("SEARCH UNSEEN").search() == [2, 3]
        new.ok("ENABLE CONDSTORE")
        r = new.ok("SEARCH MODSEQ 1", tag=b"s7")
        items = parse(r.lines(b"ESEARCH")[0])[2:]
        assert items[:3] == [[b"TAG", b"s7"], b"ALL", b"1:3"] and items[3] == b"MODSEQ" and int(items[4]) > 1
        assert old.ok("SORT (SUBJECT) UTF-8 ALL").lines(b"SORT")  # SORT keeps its own response


def deliver(srv, subject: str) -> None:
    done = run_cli("deliver", "demo", "--folder", "Both", stdin=message(subject), root=srv.root)
    assert done.returncode == 0, done.stderr


def test_new_mail_no_recent_for_rev2(srv):
    with rev2(srv) as new, rev1(srv) as old:
        new.select("Both")  # read-write first: new mail is \Recent for this session
        old.select("Both", examine=True)
        deliver(srv, "to rev2")
        r2, r1 = new.ok("CHECK"), old.ok("CHECK")  # CHECK looks at the folder now (no wait for inotify)
        assert r2.numbers(b"EXISTS") == [4] and r2.numbers(b"RECENT") == []
        assert r1.numbers(b"EXISTS") == [4]
        assert b"\\Recent" not in new.ok("FETCH 4 FLAGS").fetches()[0][1]["FLAGS"]
        assert old.ok("STATUS Both (RECENT)").lines(b"STATUS") == [b'* STATUS "Both" (RECENT 1)\r\n']
        new.ok("UNSELECT")
        deliver(srv, "to rev1")
        old.ok("CLOSE")
        r1 = old.ok("SELECT Both")  # now rev1 claims the new \Recent message
        assert r1.numbers(b"EXISTS") == [5] and r1.numbers(b"RECENT") == [1]
        assert b"\\Recent" in old.ok("FETCH 5 FLAGS").fetches()[0][1]["FLAGS"]
        new.select("Both", examine=True)
        assert b"\\Recent" not in new.ok("FETCH 5 FLAGS").fetches()[0][1]["FLAGS"]
        r = new.ok("STATUS Both (MESSAGES SIZE DELETED)")
        assert r.lines(b"STATUS")[0].startswith(b'* STATUS "Both" (MESSAGES 5 SIZE ')


def test_changes_by_a_rev1_session_reach_a_rev2_session(srv):
    with rev2(srv) as new, rev1(srv) as old:
        old.ok("CREATE Shared")
        for i in range(3):
            old.append("Shared", message(f"x{i}"))
        new.select("Shared")
        old.select("Shared")
        old.ok("STORE 2 +FLAGS (\\Deleted)")
        old.ok("EXPUNGE")
        r = new.ok("NOOP")
        assert r.numbers(b"EXPUNGE") == [2]
        r = new.ok("UID STORE 3 +FLAGS (\\Flagged)")
        assert r.fetches()[0][1]["UID"] == b"3" and b"\\Recent" not in r.fetches()[0][1]["FLAGS"]
        r = old.ok("NOOP")
        assert b"\\Flagged" in r.fetches()[0][1]["FLAGS"]
        new.ok("UID MOVE 1 Both")
        assert old.ok("NOOP").numbers(b"EXPUNGE") == [1]
        new.ok("UNSELECT")


def test_utf8_names_and_nonexistent_parents(srv):
    with rev2(srv) as new, rev1(srv) as old:
        new.ok(b"CREATE " + quote("Bücher.Lyrik"))
        lines2 = new.ok('LIST "" "*"').lines(b"LIST")
        assert '* LIST (\\NonExistent \\HasChildren) "." "Bücher"\r\n'.encode() in lines2
        assert '* LIST (\\HasNoChildren) "." "Bücher.Lyrik"\r\n'.encode() in lines2
        assert b'* LIST (\\NonExistent \\HasChildren) "." "Parent"\r\n' in lines2
        lines1 = old.ok('LIST "" "*"').lines(b"LIST")
        assert b'* LIST (\\Noselect \\HasChildren) "." "B&APw-cher"\r\n' in lines1
        assert b'* LIST (\\Noselect \\HasChildren) "." "Parent"\r\n' in lines1
        assert ".B&APw-cher.Lyrik" in os.listdir(os.path.join(srv.root, "demo"))
        r = new.ok(b"SELECT " + quote("Bücher.Lyrik"))
        assert r.lines(b"LIST") == ['* LIST (\\HasNoChildren) "." "Bücher.Lyrik"\r\n'.encode()]
        r = new.ok(b"STATUS " + quote("Bücher.Lyrik") + b" (MESSAGES)")
        assert r.lines(b"STATUS") == ['* STATUS "Bücher.Lyrik" (MESSAGES 0)\r\n'.encode()]
        assert new.command(b"SELECT B&APw-cher.Lyrik").status == "NO"  # rev2 names are UTF-8, not mUTF-7


RFC2231_MESSAGE = (
    b"Subject: attachment\r\nFrom: a@example.org\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=XX\r\n\r\n"
    b"--XX\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
    b"--XX\r\nContent-Type: application/pdf;\r\n name*0*=utf-8''Gr%C3%BC%C3%9Fe%20aus%20;\r\n name*1=\"K\";\r\n"
    b" name*2*=%C3%B6ln.pdf\r\n"
    b"Content-Disposition: attachment;\r\n filename*0=\"a very long \";\r\n filename*1=\"name.pdf\"\r\n"
    b"Content-Transfer-Encoding: base64\r\n\r\nJVBERg==\r\n--XX--\r\n")


def test_rfc2231_parameters_joined_and_decoded_for_rev2(srv):
    """Continuations are joined for everyone (as Dovecot does); an encoded
    value is decoded to UTF-8 only for IMAP4rev2 (RFC 9051 7.5.2)."""
    with rev1(srv) as old, rev2(srv) as new:
        old.ok("CREATE Attachments")
        old.append("Attachments", RFC2231_MESSAGE)
        answers = {}
        for name, c in (("rev1", old), ("rev2", new)):
            c.ok("EXAMINE Attachments")
            (line,) = [u for u in c.ok("FETCH 1 BODYSTRUCTURE").untagged if b" FETCH " in u]
            pdf = parse(line)[3][1][1]  # the second part of the multipart
            answers[name] = pdf
        for pdf in answers.values():
            assert pdf[0].upper() == b"APPLICATION" and pdf[1].upper() == b"PDF"
            disposition = pdf[8]
            assert disposition[0].lower() == b"attachment" and disposition[1] == [b"FILENAME", b"a very long name.pdf"]
        assert answers["rev1"][2] == [b"NAME*", b"utf-8''Gr%C3%BC%C3%9Fe%20aus%20K%C3%B6ln.pdf"]
        assert answers["rev2"][2] == [b"NAME*", "Grüße aus Köln.pdf".encode()]


def test_namespace_list_status_and_special_use(srv):
    with rev2(srv) as new:
        assert new.ok("NAMESPACE").lines(b"NAMESPACE") == [b'* NAMESPACE (("" ".")) NIL NIL\r\n']
        r = new.ok('LIST "" "Both" RETURN (STATUS (MESSAGES UIDNEXT SIZE))')
        assert r.lines(b"STATUS")[0].startswith(b'* STATUS "Both" (MESSAGES ')
        new.ok("CREATE Archiv (USE (\\Archive))")
        r = new.ok("SELECT Archiv")
        assert r.lines(b"LIST") == [b'* LIST (\\HasNoChildren \\Archive) "." "Archiv"\r\n']


@pytest.mark.parametrize("bad", [
    b"ENABLE", b"ENABLE (IMAP4rev2)", b'SELECT "bad\xff"', b"SEARCH SMALLER 9223372036854775808",
    b"FETCH 1 BODY[]<0.0>",
])
def test_malformed_in_rev2_is_refused_and_the_connection_stays(srv, bad):
    with rev2(srv) as new:
        new.select("Both", examine=True)
        r = new.command(bad)
        assert r.status in ("BAD", "NO"), r.tagged
        assert new.ok("NOOP").ok

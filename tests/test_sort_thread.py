"""SORT / UID SORT (RFC 5256), SORT=DISPLAY (RFC 5957), ESORT (RFC 5267) and
THREAD / UID THREAD (ORDEREDSUBJECT, REFERENCES, REFS) over real TCP, with
the raw client and with imapclient's sort() and thread().
"""

from __future__ import annotations

import datetime

import pytest
from imapclient import IMAPClient

from conftest import started_server
from imap_raw import RawIMAP, parse

USERS = (("demo", "demo"), ("sorter", "sorter"))

# (subject, from, to, date header, internaldate, extra headers, size padding)
CRAFTED = [
    ("Plans for Friday", "Zoe <zoe@example.org>", "team@example.org", "Mon, 01 Jan 2024 09:00:00 +0000",
     "05-Jan-2024 09:00:00 +0000", "Message-ID: <plans@x>\r\n", 300),
    ("Re: Plans for Friday", "amy@example.org", "zoe@example.org", "Mon, 01 Jan 2024 10:00:00 +0000",
     "04-Jan-2024 09:00:00 +0000", "Message-ID: <re1@x>\r\nReferences: <plans@x>\r\n", 10),
    ("[team] Re: Plans for Friday", "=?UTF-8?Q?=C3=89mile?= <emile@example.org>", "amy@example.org",
     "Mon, 01 Jan 2024 11:00:00 +0000", "03-Jan-2024 09:00:00 +0000",
     "Message-ID: <re2@x>\r\nReferences: <plans@x> <re1@x>\r\n", 50),
    ("Budget", "bob@example.org", "Carl <carl@example.org>", "Sun, 31 Dec 2023 23:00:00 -0200",
     "02-Jan-2024 09:00:00 +0000", "Message-ID: <budget@x>\r\n", 500),
    ("Fwd: Budget (fwd)", "carl@example.org", "bob@example.org", "garbage date",
     "01-Jan-2024 09:00:00 +0000", "Message-ID: <fwd@x>\r\n", 0),
    ("Re: lost parent", "dan@example.org", "x@example.org", "Tue, 02 Jan 2024 08:00:00 +0000",
     "06-Jan-2024 09:00:00 +0000", "Message-ID: <l1@x>\r\nIn-Reply-To: <gone@x>\r\n", 20),
    ("Re: lost parent", "eve@example.org", "x@example.org", "Tue, 02 Jan 2024 09:00:00 +0000",
     "07-Jan-2024 09:00:00 +0000", "Message-ID: <l2@x>\r\nIn-Reply-To: <gone@x>\r\n", 20),
]


def crafted_message(i: int) -> bytes:
    subject, frm, to, date, _internal, extra, pad = CRAFTED[i]
    return (f"From: {frm}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {date}\r\n{extra}\r\n"
            f"body {i}\r\n{'x' * pad}\r\n").encode()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("sort")), users=USERS, sample=True)
    with RawIMAP(server.port) as c:
        c.login("sorter", "sorter")
        c.ok("CREATE Sorted")
        for i in range(len(CRAFTED)):
            c.append("Sorted", crafted_message(i), date=CRAFTED[i][4])
    yield server
    server.stop()


@pytest.fixture
def box(srv):
    c = RawIMAP(srv.port)
    c.login("sorter", "sorter")
    c.select("Sorted", examine=True)
    yield c
    c.close()


def sort_numbers(r) -> list[int]:
    (line,) = r.lines(b"SORT")
    return [int(x) for x in line[len(b"* SORT"):].split()]


def thread_text(r) -> str:
    (line,) = r.lines(b"THREAD")
    return line[len(b"* THREAD"):].strip().decode()


@pytest.mark.parametrize("criteria,expected", [
    ("(ARRIVAL)", [5, 4, 3, 2, 1, 6, 7]),
    ("(REVERSE ARRIVAL)", [7, 6, 1, 2, 3, 4, 5]),
    # 4 is 01:00 UTC on Jan 1; 5 has no valid Date (its INTERNALDATE, Jan 1 09:00)
    ("(DATE)", [4, 1, 5, 2, 3, 6, 7]),
    ("(SUBJECT)", [4, 5, 6, 7, 1, 2, 3]),       # budget, lost parent, plans for friday
    ("(SUBJECT REVERSE DATE)", [5, 4, 7, 6, 3, 2, 1]),
    ("(FROM)", [2, 4, 5, 6, 3, 7, 1]),          # amy bob carl dan emile eve zoe
    # amy@.. bob@.. carl@.. dan@.. eve@.. Émile Zoe: "É" is E + U+0301, after "EV"
    ("(DISPLAYFROM)", [2, 4, 5, 6, 7, 3, 1]),
    ("(TO)", [3, 5, 4, 1, 6, 7, 2]),            # amy bob carl team x x zoe
    ("(DISPLAYTO)", [3, 5, 4, 1, 6, 7, 2]),     # amy@ bob@ Carl team@ x@ x@ zoe@
    ("(CC SUBJECT)", [4, 5, 6, 7, 1, 2, 3]),    # no Cc anywhere: all equal, then subject
])
def test_sort_keys(box, criteria, expected):
    assert sort_numbers(box.ok(f"SORT {criteria} UTF-8 ALL")) == expected


def test_sort_by_size(box):
    sizes = {n: len(crafted_message(n - 1)) for n in range(1, len(CRAFTED) + 1)}
    assert sort_numbers(box.ok("SORT (SIZE) UTF-8 ALL")) == sorted(sizes, key=lambda n: (sizes[n], n))
    assert sort_numbers(box.ok("SORT (REVERSE SIZE) UTF-8 ALL")) == sorted(
        sizes, key=lambda n: sizes[n], reverse=True)


def test_uid_sort_answers_uids_and_search_keys_filter(box):
    uids = box.ok("UID SEARCH ALL").search()
    r = box.ok("UID SORT (REVERSE SIZE) US-ASCII SUBJECT plans")
    assert sort_numbers(r) == [uids[0], uids[2], uids[1]]
    assert sort_numbers(box.ok("SORT (SUBJECT) UTF-8 SUBJECT nothing-matches")) == []
    assert box.ok("SORT (SUBJECT) UTF-8 SUBJECT nothing-matches").lines(b"SORT") == [b"* SORT\r\n"]


def test_rfc5256_command_forms(box):
    # the RFC's examples: a search key after the charset, SUBJECT REVERSE DATE,
    # US-ASCII with nothing found, THREAD with SINCE
    assert sort_numbers(box.ok("SORT (SUBJECT) UTF-8 SINCE 3-Jan-2024")) == [6, 7, 1, 2, 3]
    assert sort_numbers(box.ok("SORT (SUBJECT REVERSE DATE) UTF-8 ALL")) == [5, 4, 7, 6, 3, 2, 1]
    assert box.ok('SORT (SUBJECT) US-ASCII TEXT "not in mailbox"').lines(b"SORT") == [b"* SORT\r\n"]
    assert thread_text(box.ok("THREAD ORDEREDSUBJECT UTF-8 SINCE 5-Jan-2024")) == "(1)(6 7)"
    assert thread_text(box.ok("THREAD REFERENCES UTF-8 SINCE 1-Jan-2024")) == "(4 5)(1 2 3)((6)(7))"
    r = box.ok("SORT RETURN (MIN) (DATE) UTF-8 UNDELETED UNKEYWORD $Junk", tag=b"A301")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "A301") MIN 4\r\n']


def test_esort_return_options(box):
    r = box.ok("SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL", tag=b"E1")
    (line,) = r.lines(b"ESEARCH")
    assert line == b'* ESEARCH (TAG "E1") MIN 4 MAX 7 ALL 4,1,5,2:3,6:7 COUNT 7\r\n'
    uids = box.ok("UID SEARCH ALL").search()
    large = sum(1 for i in range(len(CRAFTED)) if len(crafted_message(i)) > 400)
    assert 0 < large < len(CRAFTED)
    r = box.ok("UID SORT RETURN (COUNT) (SIZE) UTF-8 LARGER 400", tag=b"E2")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "E2") UID COUNT %d\r\n' % large]
    r = box.ok("UID SORT RETURN () (REVERSE ARRIVAL) UTF-8 ALL", tag=b"E3")
    (line,) = r.lines(b"ESEARCH")
    values = parse(line)
    assert values[3] == b"UID" and values[4] == b"ALL"
    assert expand_in_order(values[5].decode()) == [uids[n - 1] for n in [7, 6, 1, 2, 3, 4, 5]]
    r = box.ok("SORT RETURN (MIN MAX) (DATE) UTF-8 SUBJECT nothing", tag=b"E4")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "E4")\r\n']
    assert not r.lines(b"SORT ")


def expand_in_order(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        a, b = int(lo), int(hi or lo)
        out.extend(range(a, b + 1) if a <= b else range(a, b - 1, -1))
    return out


def test_thread_algorithms(box):
    # 1 <- 2 <- 3 by References; 4 and 5 ("Fwd: Budget (fwd)") share a base subject;
    # 6 and 7 reply to a message that is not there
    assert thread_text(box.ok("THREAD REFERENCES UTF-8 ALL")) == "(4 5)(1 2 3)((6)(7))"
    assert thread_text(box.ok("THREAD REFS UTF-8 ALL")) == "(4)(5)(1 2 3)((6)(7))"
    assert thread_text(box.ok("THREAD ORDEREDSUBJECT UTF-8 ALL")) == "(4 5)(1 (2)(3))(6 7)"
    uids = box.ok("UID SEARCH ALL").search()
    text = thread_text(box.ok("UID THREAD REFERENCES UTF-8 ALL"))
    assert text == "({} {})({} {} {})(({})({}))".format(*[uids[n - 1] for n in (4, 5, 1, 2, 3, 6, 7)])
    assert thread_text(box.ok("THREAD REFERENCES UTF-8 FROM zoe")) == "(1)"
    assert box.ok("THREAD REFS UTF-8 SUBJECT nothing").lines(b"THREAD") == [b"* THREAD\r\n"]


def test_sort_and_thread_on_the_sample_agree_with_fetched_data(srv):
    with RawIMAP(srv.port) as c:
        c.login("demo", "demo")
        c.select("INBOX", examine=True)
        r = c.ok("FETCH 1:* (RFC822.SIZE INTERNALDATE)")
        sizes, dates = {}, {}
        for seq, items in r.fetches():
            sizes[seq] = int(items["RFC822.SIZE"])
            dates[seq] = datetime.datetime.strptime(items["INTERNALDATE"].decode(), "%d-%b-%Y %H:%M:%S %z")
        assert sort_numbers(c.ok("SORT (SIZE) UTF-8 ALL")) == sorted(sizes, key=lambda s: (sizes[s], s))
        assert sort_numbers(c.ok("SORT (ARRIVAL) UTF-8 ALL")) == sorted(dates, key=lambda s: (dates[s], s))
        assert sort_numbers(c.ok("SORT (REVERSE ARRIVAL) UTF-8 ALL")) == sorted(
            dates, key=lambda s: dates[s], reverse=True)
        for algorithm in ("REFERENCES", "REFS", "ORDEREDSUBJECT"):
            text = thread_text(c.ok(f"THREAD {algorithm} UTF-8 ALL"))
            numbers = sorted(int(x) for x in text.replace("(", " ").replace(")", " ").split())
            assert numbers == sorted(sizes), f"{algorithm} must list every message exactly once"


def test_imapclient_sort_and_thread(srv):
    client = IMAPClient("127.0.0.1", port=srv.port, ssl=False, timeout=10)
    try:
        client.login("sorter", "sorter")
        caps = client.capabilities()
        for cap in (b"SORT", b"SORT=DISPLAY", b"THREAD=ORDEREDSUBJECT", b"THREAD=REFERENCES",
                    b"THREAD=REFS", b"ESORT"):
            assert cap in caps
        client.select_folder("Sorted", readonly=True)
        uids = client.search("ALL")
        by_seq = {n: uids[n - 1] for n in range(1, len(uids) + 1)}
        # 1 and 5 have the same sent date: they stay in mailbox order under REVERSE
        assert client.sort(["REVERSE", "DATE"]) == [by_seq[n] for n in (7, 6, 3, 2, 1, 5, 4)]
        assert client.sort("SUBJECT", ["FROM", "amy"]) == [by_seq[2]]
        threads = client.thread("REFERENCES")
        assert [list(t) for t in threads[:2]] == [[by_seq[4], by_seq[5]], [by_seq[1], by_seq[2], by_seq[3]]]
        assert client.thread("ORDEREDSUBJECT", ["SUBJECT", "lost"]) == ((by_seq[6], by_seq[7]),)
    finally:
        client.logout()


@pytest.mark.parametrize("command,status", [
    ("SORT", "BAD"),
    ("SORT (SUBJECT)", "BAD"),
    ("SORT (SUBJECT) UTF-8", "BAD"),
    ("SORT SUBJECT UTF-8 ALL", "BAD"),
    ("SORT () UTF-8 ALL", "BAD"),
    ("SORT (BOGUS) UTF-8 ALL", "BAD"),
    ("SORT (REVERSE) UTF-8 ALL", "BAD"),
    ("SORT (REVERSE REVERSE DATE) UTF-8 ALL", "BAD"),
    ("SORT (DATE UTF-8 ALL", "BAD"),
    ("SORT (DATE) UTF-8 BOGUSKEY", "BAD"),
    ("SORT (DATE) KOI8-R ALL", "NO"),
    ("SORT RETURN (PARTIAL) (DATE) UTF-8 ALL", "BAD"),
    ("SORT RETURN (MIN (DATE) UTF-8 ALL", "BAD"),
    ("THREAD", "BAD"),
    ("THREAD BOGUS UTF-8 ALL", "BAD"),
    ("THREAD REFERENCES", "BAD"),
    ("THREAD REFERENCES UTF-8", "BAD"),
    ("THREAD (REFERENCES) UTF-8 ALL", "BAD"),
    ("THREAD REFS X-UNKNOWN ALL", "NO"),
    ("UID THREAD REFS UTF-8 UID 1:*)", "BAD"),
])
def test_malformed_sort_and_thread(box, command, status):
    r = box.command(command)
    assert r.status == status, (command, r.tagged)
    if status == "NO":
        assert (r.code or "").startswith("BADCHARSET")
    assert box.ok("NOOP").ok


def test_sort_and_thread_need_a_selected_mailbox(srv):
    with RawIMAP(srv.port) as c:
        c.login("sorter", "sorter")
        assert c.command("SORT (DATE) UTF-8 ALL").status == "BAD"
        assert c.command("THREAD REFS UTF-8 ALL").status == "BAD"
        c.ok("NOOP")


def test_capabilities_are_advertised(box):
    (line,) = box.ok("CAPABILITY").lines(b"CAPABILITY")
    caps = set(line.decode().split()[2:])
    assert {"SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT", "THREAD=REFERENCES", "THREAD=REFS"} <= caps

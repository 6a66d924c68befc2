"""LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819) and STATUS=SIZE (RFC 8438) over TCP.

The folders mirror the RFC 5258 examples (with "." as the separator):
Fruit.{Apple,Banana,Peach}, Tofu, Vegetable.{Broccoli,Corn}; subscribed to
Fruit.Banana, Fruit.Peach (then deleted: \\NonExistent), Vegetable,
Vegetable.Broccoli, plus Deep.Er.Child (its parents exist only implied)
and Gone.Child (nothing of it exists).
"""

from __future__ import annotations

import pytest

from conftest import started_server
from imap_raw import RawIMAP, parse, quote

USERS = (("lx", "lx"), ("demo", "demo"))
FOLDERS = ["Fruit", "Fruit.Apple", "Fruit.Banana", "Fruit.Peach", "Tofu", "Vegetable",
           "Vegetable.Broccoli", "Vegetable.Corn", "Deep.Er.Child"]
SUBSCRIBED = ["Fruit.Banana", "Fruit.Peach", "Vegetable", "Vegetable.Broccoli", "Deep.Er.Child", "Gone.Child"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("listx")), users=USERS, sample=True)
    with RawIMAP(server.port) as c:
        c.login("lx", "lx")
        for name in FOLDERS:
            c.ok(b"CREATE " + quote(name))
        for name in SUBSCRIBED:
            if name != "Gone.Child":
                c.ok(b"SUBSCRIBE " + quote(name))
        c.ok("DELETE Fruit.Peach")  # stays subscribed: \NonExistent
        for i in range(3):
            c.append("Fruit.Apple", b"Subject: apple %d\r\n\r\n%s\r\n" % (i, b"x" * (i * 100)),
                     flags="\\Seen" if i == 0 else "")
    # a subscription to a name that never existed, as another program would leave it
    with open(f"{server.root}/lx/subscriptions", "a") as f:
        f.write("Gone.Child\n")
    yield server
    server.stop()


@pytest.fixture
def lx(srv):
    c = RawIMAP(srv.port)
    c.login("lx", "lx")
    yield c
    c.close()


def entries(r) -> list[tuple[str, set, list]]:
    """[(name, lower-cased attributes, extended data)] of the LIST responses, in order."""
    out = []
    for line in r.lines(b"LIST "):
        v = parse(line)
        out.append((v[4].decode(), {a.decode().lower() for a in v[2]}, v[5:]))
    return out


def names(r) -> list[str]:
    return [n for n, _a, _x in entries(r)]


def test_plain_list_is_unchanged(lx):
    r = lx.ok('LIST "" %')
    assert names(r) == ["INBOX", "Deep", "Fruit", "Tofu", "Vegetable"]
    attrs = {n: a for n, a, _ in entries(r)}
    assert attrs["Deep"] == {"\\noselect", "\\haschildren"}
    assert all(x == [] for _n, _a, x in entries(r)), "no extended data without RECURSIVEMATCH"


def test_subscribed_selection_lists_nonexistent_subscriptions(lx):
    # RFC 5258 example 2 (LIST (SUBSCRIBED) "" "*")
    r = lx.ok('LIST (SUBSCRIBED) "" "*"')
    got = {n: a for n, a, _ in entries(r)}
    assert sorted(got) == sorted(SUBSCRIBED)
    assert all("\\subscribed" in a for a in got.values())
    assert "\\nonexistent" in got["Fruit.Peach"] and "\\nonexistent" in got["Gone.Child"]
    assert "\\nonexistent" not in got["Fruit.Banana"]
    assert "\\haschildren" in got["Vegetable"]


def test_return_children_and_subscribed(lx):
    # RFC 5258 example 3, plus the SUBSCRIBED return option
    r = lx.ok('LIST "" "%" RETURN (CHILDREN SUBSCRIBED)')
    got = {n: a for n, a, _ in entries(r)}
    assert got["Fruit"] == {"\\haschildren"}
    assert got["Tofu"] == {"\\hasnochildren"}
    assert got["Vegetable"] == {"\\haschildren", "\\subscribed"}


def test_recursivematch_reports_childinfo(lx):
    # RFC 5258 example 5: parents whose descendants are subscribed
    r = lx.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)')
    got = {n: (a, x) for n, a, x in entries(r)}
    assert sorted(got) == ["Deep", "Fruit", "Gone", "Vegetable"]
    childinfo = [[b"CHILDINFO", [b"SUBSCRIBED"]]]
    for name in got:
        assert got[name][1] == childinfo, name
    assert "\\subscribed" in got["Vegetable"][0] and "\\subscribed" not in got["Fruit"][0]
    assert got["Gone"][0] == {"\\nonexistent"}
    assert got["Deep"][0] == {"\\noselect", "\\haschildren"}
    # a subscribed leaf without subscribed descendants carries no CHILDINFO
    r = lx.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "Vegetable.%"')
    assert entries(r) == [("Vegetable.Broccoli", {"\\subscribed", "\\hasnochildren"}, [])]


def test_multiple_patterns(lx):
    r = lx.ok('LIST "" ("INBOX" "Vegetable.%" Tofu)')
    assert names(r) == ["INBOX", "Tofu", "Vegetable.Broccoli", "Vegetable.Corn"]
    r = lx.ok('LIST "Fruit." (Apple Banana)')
    assert names(r) == ["Fruit.Apple", "Fruit.Banana"]


def test_remote_selection_has_no_effect(lx):
    assert names(lx.ok('LIST (REMOTE) "" %')) == names(lx.ok('LIST "" %'))
    assert names(lx.ok('LIST () "" %')) == names(lx.ok('LIST "" %'))


def test_special_use_selection(srv):
    with RawIMAP(srv.port) as c:
        c.login("demo", "demo")
        r = c.ok('LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)')
        assert sorted(names(r)) == ["Archive", "Drafts", "Junk", "Sent", "Trash"]


def test_list_status(lx):
    # RFC 5819: a STATUS response right after the LIST line of each selectable mailbox
    r = lx.ok('LIST "" "Fruit*" RETURN (STATUS (MESSAGES UNSEEN SIZE))')
    lines = [u for u in r.untagged if u.startswith((b"* LIST", b"* STATUS"))]
    assert [parse(u)[1] for u in lines] == [b"LIST", b"STATUS"] * 3
    for listed, status in zip(lines[::2], lines[1::2]):
        assert parse(listed)[4] == parse(status)[2]  # each STATUS follows its own LIST line
    assert [parse(u)[4] for u in lines[::2]] == [b"Fruit", b"Fruit.Apple", b"Fruit.Banana"]
    status = parse(lines[3])
    assert status[2] == b"Fruit.Apple"
    values = dict(zip(status[3][::2], status[3][1::2]))
    assert int(values[b"MESSAGES"]) == 3 and int(values[b"UNSEEN"]) == 2
    assert int(values[b"SIZE"]) == sum(len(b"Subject: apple %d\r\n\r\n%s\r\n" % (i, b"x" * (i * 100)))
                                       for i in range(3))
    # no STATUS for a name that is not a selectable mailbox
    r = lx.ok('LIST "" "Deep*" RETURN (STATUS (MESSAGES))')
    assert [parse(u)[2] for u in r.lines(b"STATUS")] == [b"Deep.Er.Child"]
    # a \NonExistent one never gets a STATUS
    r = lx.ok('LIST (SUBSCRIBED) "" "*" RETURN (STATUS (MESSAGES))')
    statused = [parse(u)[2].decode() for u in r.lines(b"STATUS")]
    assert "Fruit.Peach" not in statused and "Gone.Child" not in statused
    assert "Vegetable" in statused and "Fruit.Banana" in statused


def test_status_size(lx):
    lx.select("Fruit.Apple")
    sizes = [int(items["RFC822.SIZE"]) for _s, items in lx.ok("FETCH 1:* RFC822.SIZE").fetches()]
    r = lx.ok("STATUS Fruit.Apple (SIZE MESSAGES)")
    (line,) = r.lines(b"STATUS")
    values = parse(line)[3]
    assert values == [b"SIZE", str(sum(sizes)).encode(), b"MESSAGES", b"3"]
    (line,) = lx.ok("STATUS Tofu (SIZE)").lines(b"STATUS")
    assert parse(line)[3] == [b"SIZE", b"0"]


def test_capabilities(lx):
    (line,) = lx.ok("CAPABILITY").lines(b"CAPABILITY")
    caps = set(line.decode().split())
    assert {"LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE"} <= caps


@pytest.mark.parametrize("command", [
    'LIST (BOGUS) "" %',
    'LIST (RECURSIVEMATCH) "" %',
    'LIST (SPECIAL-USE RECURSIVEMATCH) "" %',
    'LIST (REMOTE RECURSIVEMATCH) "" %',
    'LIST "" ()',
    'LIST "" (%',
    'LIST "" % RETURN (BOGUS)',
    'LIST "" % RETURN CHILDREN',
    'LIST "" % RETURN (STATUS)',
    'LIST "" % RETURN (STATUS ())',
    'LIST "" % RETURN (STATUS (BOGUS))',
    'LIST "" % RETURN (STATUS (MESSAGES) STATUS (UNSEEN))',
    'LIST "" % RETURN (CHILDREN) extra',
    'LIST (SUBSCRIBED "" %',
    "STATUS INBOX (SIZE BOGUS)",
    "STATUS INBOX ()",
])
def test_malformed_list_is_bad(lx, command):
    r = lx.command(command)
    assert r.status == "BAD", (command, r.tagged)
    lx.ok("NOOP")

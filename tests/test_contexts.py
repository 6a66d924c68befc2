"""CONTEXT=SEARCH and CONTEXT=SORT (RFC 5267) over real TCP: SEARCH / SORT
RETURN (UPDATE), the unsolicited ESEARCH ADDTO / REMOVEFROM responses (when
they may be sent, their numbers and positions), CANCELUPDATE, NOUPDATE and
tag reuse; a client-side model built only from the updates is compared
with a fresh search after random changes by another session."""

from __future__ import annotations

import random
import time

import pytest

from conftest import started_server
from imap_raw import RawIMAP, parse


def message(subject: str, body: str = "x") -> bytes:
    return f"Subject: {subject}\r\nFrom: a@example.org\r\n\r\n{body}\r\n".encode()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("contexts")))
    yield server
    server.stop()


_names = iter(range(10_000))


@pytest.fixture
def pair(srv):
    """(a, b): two sessions with the same fresh folder selected; 6 messages,
    UIDs 1..6, subjects s1..s6; UIDs 2 and 4 are \\Flagged."""
    name = f"Ctx{next(_names)}"
    a, b = RawIMAP(srv.port), RawIMAP(srv.port)
    for c in (a, b):
        c.login()
    a.ok("CREATE " + name)
    for i in range(1, 7):
        a.append(name, message(f"s{i}"), flags="\\Flagged" if i in (2, 4) else "",
                 date=f"0{i}-Jan-2024 10:00:00 +0000")
    a.select(name)
    b.select(name)
    a.name = name
    yield a, b
    a.close()
    b.close()


def updates(responses, tag: bytes) -> list:
    """The update items of ``* ESEARCH (TAG "tag") ...`` responses, in order:
    [("ADDTO" | "REMOVEFROM", [(position, numbers)])]."""
    out = []
    for r in responses:
        if not r.startswith(b"* ESEARCH (TAG \"" + tag + b"\")"):
            continue
        items = parse(r)[3:]
        if items and items[0] == b"UID":
            items = items[1:]
        for name, value in zip(items[::2], items[1::2]):
            assert name in (b"ADDTO", b"REMOVEFROM"), r
            pairs = [(int(value[i]), expand(value[i + 1])) for i in range(0, len(value), 2)]
            out.append((name.decode(), pairs))
    return out


def expand(seq_set: bytes) -> list:
    out = []
    for piece in seq_set.split(b","):
        a, _, b = piece.partition(b":")
        lo, hi = int(a), int(b or a)
        out.extend(range(min(lo, hi), max(lo, hi) + 1))
    return out


def apply(model: list, changes: list, sorted_mode: bool) -> list:
    """What a client does with ADDTO / REMOVEFROM (RFC 5267 4.3.3, 4.3.4)."""
    model = list(model)
    for kind, pairs in changes:
        for position, numbers in pairs:
            if kind == "REMOVEFROM":
                assert position or not sorted_mode, "SORT updates carry positions"
                for n in numbers:
                    assert n in model, (n, model)
                    if position:  # the first of the set is at this position
                        assert model[position - 1] == n, (position, n, model)
                    model.remove(n)
            else:
                assert not set(numbers) & set(model), (numbers, model)
                if position == 0:
                    assert not sorted_mode, "SORT updates carry positions"
                    model = sorted(model + numbers)
                else:
                    for offset, n in enumerate(numbers):
                        model.insert(position - 1 + offset, n)
    return model


def esearch_all(r) -> list:
    (line,) = r.lines(b"ESEARCH")
    items = parse(line)[2:]
    if b"ALL" not in items:
        return []
    value = items[items.index(b"ALL") + 1]
    out = []
    for piece in value.split(b","):
        a, _, b = piece.partition(b":")
        out.extend(range(int(a), int(b or a) + 1) if int(b or a) >= int(a) else range(int(a), int(b) - 1, -1))
    return out


def test_capabilities(pair):
    a, _ = pair
    caps = a.ok("CAPABILITY").lines(b"CAPABILITY")[0].split()
    assert b"CONTEXT=SEARCH" in caps and b"CONTEXT=SORT" in caps and b"ESORT" in caps


def test_flag_changes_by_another_session_add_and_remove(pair):
    a, b = pair
    r = a.ok("UID SEARCH RETURN (COUNT UPDATE) FLAGGED", tag=b"U1")
    assert r.lines(b"ESEARCH")[0] == b'* ESEARCH (TAG "U1") UID COUNT 2\r\n'
    b.ok("UID STORE 5 +FLAGS (\\Flagged)")
    r = a.ok("NOOP")
    assert r.untagged[-1] == b'* ESEARCH (TAG "U1") UID ADDTO (0 5)\r\n'
    assert r.untagged[0].startswith(b"* 5 FETCH (FLAGS")  # the FETCH comes first
    b.ok("UID STORE 2,4 -FLAGS (\\Flagged)")
    r = a.ok("NOOP")
    assert updates(r.untagged, b"U1") == [("REMOVEFROM", [(0, [2, 4])])]
    b.ok("UID STORE 1 +FLAGS (\\Seen)")  # no membership change: no update
    assert updates(a.ok("NOOP").untagged, b"U1") == []


def test_new_mail_is_added_after_exists_and_expunges_removed_before_expunge(pair):
    a, b = pair
    a.ok("SEARCH RETURN (UPDATE) UNSEEN", tag=b"S1")  # sequence numbers
    b.append(a.name, message("new"))
    r = a.ok("NOOP")  # the sequence number 7 is valid only after EXISTS
    assert r.untagged == [b"* 7 EXISTS\r\n", b"* 7 RECENT\r\n", b'* ESEARCH (TAG "S1") ADDTO (0 7)\r\n']
    b.ok("UID STORE 3 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    r = a.ok("NOOP")
    lines = [u for u in r.untagged if not u.startswith(b"* 3 FETCH")]
    assert lines == [b'* ESEARCH (TAG "S1") REMOVEFROM (0 3)\r\n', b"* 3 EXPUNGE\r\n"]
    b.ok("UID STORE 7 +FLAGS (\\Seen)")
    assert updates(a.ok("NOOP").untagged, b"S1") == [("REMOVEFROM", [(0, [6])])]  # UID 7 is now seq 6


def test_no_removal_while_expunges_are_held_back(pair):
    a, b = pair
    a.ok("UID SEARCH RETURN (UPDATE) ALL", tag=b"H1")
    b.ok("UID STORE 6 +FLAGS (\\Deleted)")
    b.ok("EXPUNGE")
    r = a.ok("FETCH 1 FLAGS")  # FETCH may not announce EXPUNGE, nor its REMOVEFROM
    assert updates(r.untagged, b"H1") == [] and r.numbers(b"EXPUNGE") == []
    r = a.ok("NOOP")
    assert r.untagged == [b'* ESEARCH (TAG "H1") UID REMOVEFROM (0 6)\r\n', b"* 6 EXPUNGE\r\n"]


def test_own_store_changes_membership(pair):
    a, _ = pair
    a.ok("UID SEARCH RETURN (UPDATE) UNSEEN", tag=b"O1")
    r = a.ok("UID STORE 1:2 +FLAGS (\\Seen)")
    assert updates(r.untagged, b"O1") == [("REMOVEFROM", [(0, [1, 2])])]
    r = a.ok("UID STORE 1 -FLAGS.SILENT (\\Seen)")
    assert updates(r.untagged, b"O1") == [("ADDTO", [(0, [1])])]
    r = a.ok("FETCH 3 BODY[TEXT]")  # implicit \Seen
    assert updates(r.untagged, b"O1") == [("REMOVEFROM", [(0, [3])])]


def test_updates_arrive_during_idle(pair):
    a, b = pair
    a.ok("UID SEARCH RETURN (UPDATE) FLAGGED", tag=b"I1")
    a.send(b"i IDLE\r\n")
    assert a.read_response().startswith(b"+")
    b.ok("UID STORE 6 +FLAGS (\\Flagged)")
    seen = a.wait_for(lambda r: r.startswith(b"* ESEARCH"))
    assert seen[-1] == b'* ESEARCH (TAG "I1") UID ADDTO (0 6)\r\n'
    b.append(a.name, message("flagged new"), flags="\\Flagged")
    seen = a.wait_for(lambda r: r.startswith(b"* ESEARCH"))
    assert seen[0] == b"* 7 EXISTS\r\n" and seen[-1] == b'* ESEARCH (TAG "I1") UID ADDTO (0 7)\r\n'
    a.send(b"DONE\r\n")
    assert a.read_until_tagged(b"i").ok


def test_sort_updates_carry_sort_positions(pair):
    a, b = pair
    r = a.ok("UID SORT RETURN (ALL UPDATE) (REVERSE SUBJECT) UTF-8 ALL", tag=b"R1")
    model = esearch_all(r)
    assert model == [6, 5, 4, 3, 2, 1]
    for subject in ("s35", "s0", "s9", "s55"):
        b.append(a.name, message(subject))
    r = a.ok("NOOP")
    changes = updates(r.untagged, b"R1")
    assert all(kind == "ADDTO" for kind, _ in changes)
    assert all(position > 0 for _, pairs in changes for position, _ in pairs)
    model = apply(model, changes, sorted_mode=True)
    fresh = esearch_all(a.ok("UID SORT RETURN (ALL) (REVERSE SUBJECT) UTF-8 ALL"))
    assert model == fresh == [9, 6, 10, 5, 4, 7, 3, 2, 1, 8]
    b.ok("UID STORE 5,10 +FLAGS (\\Deleted)")
    b.ok("UID EXPUNGE 5,10")
    r = a.ok("NOOP")
    assert b'* ESEARCH (TAG "R1") UID REMOVEFROM (4 5 3 10)\r\n' in r.untagged  # last position first
    model = apply(model, updates(r.untagged, b"R1"), sorted_mode=True)
    assert model == [9, 6, 4, 7, 3, 2, 1, 8]


def test_cancelupdate_tag_reuse_and_noupdate(pair):
    a, b = pair
    a.ok("UID SEARCH RETURN (UPDATE) FLAGGED", tag=b"C1")
    r = a.command("UID SEARCH RETURN (UPDATE) ALL", tag=b"C1")
    assert r.status == "BAD" and "reuse" in r.tagged.decode().lower()
    assert a.ok("UID SEARCH RETURN (COUNT) ALL", tag=b"C1").ok  # without UPDATE the tag is fine
    assert a.command('CANCELUPDATE "nope"').status == "BAD"
    a.ok('CANCELUPDATE "C1"')
    b.ok("UID STORE 1 +FLAGS (\\Flagged)")
    assert updates(a.ok("NOOP").untagged, b"C1") == []
    for i in range(16):
        a.ok("UID SEARCH RETURN (UPDATE) ALL", tag=b"N%d" % i)
    r = a.ok("UID SEARCH RETURN (COUNT UPDATE) ALL", tag=b"N16")
    assert b'* NO [NOUPDATE "N16"]' in r.untagged[0]
    assert r.lines(b"ESEARCH")[0].endswith(b"COUNT 6\r\n")  # the other options are still honoured
    a.ok('CANCELUPDATE "N0" "N1"')
    a.ok("UID SEARCH RETURN (UPDATE) ALL", tag=b"N17")


def test_contexts_end_with_the_selection(pair):
    a, b = pair
    a.ok("UID SEARCH RETURN (UPDATE) ALL", tag=b"E1")
    a.select(a.name)  # a new selection: no updates for E1 any more
    assert a.command('CANCELUPDATE "E1"').status == "BAD"
    b.append(a.name, message("after reselect"))
    assert updates(a.ok("NOOP").untagged, b"E1") == []
    a.ok("UID SEARCH RETURN (UPDATE) ALL", tag=b"E1")  # the tag is free again


def test_within_results_change_with_time(pair):
    a, b = pair
    b.append(a.name, message("fresh"))
    a.ok("NOOP")
    r = a.ok("UID SEARCH RETURN (ALL UPDATE) YOUNGER 2", tag=b"W1")
    assert esearch_all(r) == [7]
    deadline = time.monotonic() + 10
    while True:
        r = a.ok("NOOP")
        if updates(r.untagged, b"W1"):
            break
        assert time.monotonic() < deadline, "the message never left YOUNGER 2"
        time.sleep(0.25)
    assert updates(r.untagged, b"W1") == [("REMOVEFROM", [(0, [7])])]


@pytest.mark.parametrize("sort", [False, True])
def test_random_changes_keep_the_client_model_exact(pair, sort):
    a, b = pair
    rng = random.Random(7 + sort)
    command = ("UID SORT RETURN (ALL UPDATE) (SUBJECT) UTF-8 UNSEEN" if sort
               else "UID SEARCH RETURN (ALL UPDATE) UNSEEN")
    fresh_command = command.replace("ALL UPDATE", "ALL")
    model = esearch_all(a.ok(command, tag=b"M1"))
    for step in range(40):
        uids = b.ok("UID SEARCH ALL").search()
        choice = rng.random()
        seen = []
        if choice < 0.3 or not uids:
            b.append(a.name, message(f"s{rng.randint(0, 99)}"), flags=rng.choice(["", "\\Seen"]))
        elif choice < 0.7:
            b.ok(f"UID STORE {rng.choice(uids)} {rng.choice('+-')}FLAGS (\\Seen)")
        elif choice < 0.85:  # this session's own STORE: the update comes with its answer
            seen += a.ok(f"UID STORE {rng.choice(uids)} {rng.choice('+-')}FLAGS (\\Seen)").untagged
        else:
            b.ok(f"UID STORE {rng.choice(uids)} +FLAGS (\\Deleted)")
            b.ok("EXPUNGE")
        seen += a.ok("NOOP").untagged
        model = apply(model, updates(seen, b"M1"), sorted_mode=sort)
        assert model == esearch_all(a.ok(fresh_command)), step


@pytest.mark.parametrize("bad", [
    "SEARCH RETURN (UPDATES) ALL", "CANCELUPDATE", "CANCELUPDATE M1", 'CANCELUPDATE "M1" M2', "CANCELUPDATE ()",
    'CANCELUPDATE  "M1"', "SORT RETURN (UPDATE) () UTF-8 ALL", "SEARCH RETURN (UPDATE CONTEXT CONTEXTS) ALL",
    "SEARCH RETURN (UPDATE)", 'CANCELUPDATE "M1',
])
def test_malformed_is_bad_and_the_connection_stays_usable(pair, bad):
    a, b = pair
    a.ok("UID SEARCH RETURN (UPDATE) FLAGGED", tag=b"M1")
    assert a.command(bad).status == "BAD"
    b.ok("UID STORE 6 +FLAGS (\\Flagged)")
    assert updates(a.ok("NOOP").untagged, b"M1") == [("ADDTO", [(0, [6])])]


def test_context_hint_alone_answers_all(pair):
    a, _ = pair
    r = a.ok("SEARCH RETURN (CONTEXT) FLAGGED", tag=b"H2")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "H2") ALL 2,4\r\n']
    r = a.ok("SEARCH RETURN (CONTEXT COUNT) FLAGGED", tag=b"H3")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "H3") COUNT 2\r\n']

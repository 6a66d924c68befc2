"""The advertised IMAP extensions over real TCP, checked against their RFCs.

UIDPLUS (RFC 4315), MOVE (RFC 6851), SPECIAL-USE / CREATE-SPECIAL-USE
(RFC 6154), ESEARCH (RFC 4731), NAMESPACE (RFC 2342), ID (RFC 2971), ENABLE
(RFC 5161), UNSELECT (RFC 3691), CHILDREN (RFC 3348), LITERAL+ (RFC 7888),
SASL-IR (RFC 4959) and the CAPABILITY list in every state (RFC 3501 7.2.1).

One server over a copy of maildir-sample is shared by the module: ``demo``
(the sample mail) is only read, every test that changes mail does so as
``ext`` (an empty Maildir) in mailboxes named after the test. A second
server with a self-signed certificate checks the capabilities around
STARTTLS.
"""

from __future__ import annotations

import re
import ssl

import pytest

from conftest import started_server
from imap_raw import Atom, RawIMAP, apply_expunges, literal, parse, plain_response, quote

MAX_APPEND = 4096  # --max-append: small, so the LITERAL+ size checks stay cheap
SMALL_LITERAL = 64 * 1024  # the server's limit for literals outside APPEND
USERS = (("demo", "demo"), ("ext", "ext"))
ADVERTISED = {
    "IMAP4REV1", "LITERAL+", "SASL-IR", "ID", "ENABLE", "IDLE", "NAMESPACE", "UNSELECT",
    "CHILDREN", "UIDPLUS", "MOVE", "SPECIAL-USE", "CREATE-SPECIAL-USE", "ESEARCH",
    "PUSH-NOTIFY-HTTP=PUT", "BINARY", "SORT", "SORT=DISPLAY", "ESORT", "THREAD=ORDEREDSUBJECT",
    "THREAD=REFERENCES", "THREAD=REFS", "LIST-EXTENDED", "LIST-STATUS", "STATUS=SIZE",
    "QUOTA", "QUOTA=RES-STORAGE", "QUOTA=RES-MESSAGE", "MULTIAPPEND", "CATENATE", "URLAUTH", "URL-PARTIAL",
}
PRE_AUTH_ONLY = ("AUTH=", "LOGINDISABLED", "STARTTLS")
SAMPLE_SPECIAL_USE = {"Sent": "\\sent", "Drafts": "\\drafts", "Junk": "\\junk",
                      "Trash": "\\trash", "Archive": "\\archive"}
SPECIAL_USE_ATTRIBUTES = {"\\all", "\\archive", "\\drafts", "\\flagged", "\\junk", "\\sent", "\\trash"}


# -- servers and connections ---------------------------------------------------------


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    server = started_server(str(tmp_path_factory.mktemp("extensions")), users=USERS, extra_args=["--max-append", str(MAX_APPEND)], sample=True)
    yield server
    server.stop()


@pytest.fixture
def conn(srv):
    c = RawIMAP(srv.port)
    yield c
    c.close()


@pytest.fixture
def demo(srv):
    c = RawIMAP(srv.port)
    c.login("demo", "demo")
    yield c
    c.close()


@pytest.fixture
def ext(srv):
    c = RawIMAP(srv.port)
    c.login("ext", "ext")
    yield c
    c.close()


def connect(srv, user: str = "ext") -> RawIMAP:
    c = RawIMAP(srv.port)
    c.login(user, user)
    return c


# -- helpers ---------------------------------------------------------------------------


def message(mailbox: str, i: int) -> bytes:
    return (f"From: Ext Test <ext@example.org>\r\nTo: ext@example.org\r\n"
            f"Subject: {mailbox} message {i}\r\nDate: Mon, 01 Jan 2024 10:00:00 +0000\r\n"
            f"Message-ID: <{mailbox}.{i}@example.org>\r\n\r\nBody {i}.\r\n").encode()


def appenduid(r) -> tuple[int, int]:
    m = re.fullmatch(r"APPENDUID (\d+) (\d+)", r.code or "")
    assert m, f"APPEND must answer OK [APPENDUID uidvalidity uid]: {r.tagged!r}"
    return int(m.group(1)), int(m.group(2))


def make_mailbox(c: RawIMAP, name: str, count: int) -> list[int]:
    """CREATE ``name`` with ``count`` messages; their UIDs from APPENDUID."""
    c.ok(b"CREATE " + quote(name))
    return [appenduid(c.append(name, message(name, i)))[1] for i in range(1, count + 1)]


def expand(uid_set: str) -> list[int]:
    """``"304,319:320"`` -> [304, 319, 320] (order kept)."""
    out = []
    for part in uid_set.split(","):
        lo, _, hi = part.partition(":")
        a, b = int(lo), int(hi or lo)
        out.extend(range(min(a, b), max(a, b) + 1))
    return out


def compressed(numbers: list[int]) -> str:
    """The shortest sequence-set of ascending ``numbers``: 1,2,3,7 -> "1:3,7"."""
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(str(a) if a == b else f"{a}:{b}" for a, b in runs)


def assert_folded(uid_set: str) -> None:
    """No run of consecutive numbers is written out element by element ("3,4" is "3:4")."""
    singles = uid_set.split(",")
    for a, b in zip(singles, singles[1:]):
        last_of_a = int(a.split(":")[-1])
        first_of_b = int(b.split(":")[0])
        assert abs(first_of_b - last_of_a) != 1, f"adjacent UIDs must be folded into a range: {uid_set}"


def copyuid(code: str | None) -> tuple[int, str, str]:
    m = re.fullmatch(r"COPYUID (\d+) ([\d:,]+) ([\d:,]+)", code or "")
    assert m, f"expected [COPYUID uidvalidity source-set dest-set], got {code!r}"
    return int(m.group(1)), m.group(2), m.group(3)


def uid_search(c: RawIMAP, criteria: str = "ALL") -> list[int]:
    return c.ok("UID SEARCH " + criteria).search()


def status(c: RawIMAP, mailbox: str, items: str = "MESSAGES UIDNEXT UIDVALIDITY") -> dict:
    r = c.ok(b"STATUS " + quote(mailbox) + b" (" + items.encode() + b")")
    (line,) = r.lines(b"STATUS")
    values = parse(line)[3]
    return {values[i].decode().upper(): int(values[i + 1]) for i in range(0, len(values), 2)}


def uidvalidity_of_select(r) -> int:
    return int(r.code_value("UIDVALIDITY"))


def message_ids(c: RawIMAP, uids: list[int]) -> dict[int, bytes]:
    """{uid: Message-ID header line} of messages in the selected mailbox."""
    if not uids:
        return {}
    r = c.ok("UID FETCH " + ",".join(map(str, uids)) + " (UID BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    out = {}
    for _seq, items in r.fetches():
        body = next(v for k, v in items.items() if k.startswith("BODY"))
        out[int(items["UID"])] = body.strip()
    return out


def list_entries(r) -> dict[str, set[str]]:
    """{mailbox name: attributes, lower-cased} of the ``* LIST`` responses."""
    out = {}
    for u in r.lines(b"LIST "):
        v = parse(u)
        out[v[4].decode()] = {a.decode().lower() for a in v[2]}
    return out


def caps_of(words: str) -> list[str]:
    return [w.upper() for w in words.split()]


def capability_command(c: RawIMAP) -> list[str]:
    r = c.ok("CAPABILITY")
    (line,) = r.lines(b"CAPABILITY ")
    return caps_of(line.decode().strip()[len("* CAPABILITY "):])


def code_capabilities(code: str | None) -> list[str]:
    assert code and code.upper().startswith("CAPABILITY "), f"expected [CAPABILITY ...], got {code!r}"
    return caps_of(code[len("CAPABILITY "):])


def greeting_capabilities(c: RawIMAP) -> list[str]:
    m = re.match(rb"\* OK \[CAPABILITY ([^\]]*)\]", c.greeting)
    assert m, f"the greeting must carry [CAPABILITY ...]: {c.greeting!r}"
    return caps_of(m.group(1).decode())


def esearch(r) -> tuple[bytes, bool, dict[str, str]]:
    """The single ``* ESEARCH`` response -> (tag, UID indicator, {MIN: "2", ...})."""
    assert not r.lines(b"SEARCH"), f"ESEARCH replaces SEARCH (RFC 4731 3.1): {r.untagged!r}"
    found = r.lines(b"ESEARCH")
    assert len(found) == 1, f"expected one * ESEARCH response, got {r.untagged!r}"
    v = parse(found[0])[2:]
    correlator = v.pop(0)
    assert isinstance(correlator, list) and len(correlator) == 2 and correlator[0].upper() == b"TAG", found[0]
    assert not isinstance(correlator[1], Atom), f"the TAG correlator is a string: {found[0]!r}"
    uid = bool(v) and v[0].upper() == b"UID"
    if uid:
        v.pop(0)
    assert len(v) % 2 == 0, found[0]
    data = {}
    for i in range(0, len(v), 2):
        name = v[i].decode().upper()
        assert name not in data, f"{name} returned twice: {found[0]!r}"
        data[name] = v[i + 1].decode()
    return correlator[1], uid, data


def untagged_bad(r) -> list:
    return [u for u in r.untagged if u.upper().startswith(b"* BAD")]


# -- UIDPLUS (RFC 4315) ------------------------------------------------------------------


def test_appenduid_matches_uidvalidity_and_the_new_message(ext):
    box = "UidplusAppend"
    ext.ok(b"CREATE " + quote(box))
    before = status(ext, box)
    validity, uid = appenduid(ext.append(box, message(box, 1)))
    assert validity == before["UIDVALIDITY"]
    assert uid >= before["UIDNEXT"]
    validity2, uid2 = appenduid(ext.append(box, message(box, 2)))
    assert validity2 == validity and uid2 > uid
    sel = ext.select(box)
    assert uidvalidity_of_select(sel) == validity
    assert uid_search(ext) == [uid, uid2]
    assert message_ids(ext, [uid, uid2]) == {uid: f"Message-ID: <{box}.1@example.org>".encode(),
                                             uid2: f"Message-ID: <{box}.2@example.org>".encode()}
    # APPEND to the selected mailbox: same UIDPLUS answer, and the session learns of it
    validity3, uid3 = appenduid(ext.append(box, message(box, 3)))
    assert validity3 == validity and uid3 > uid2
    r = ext.ok("NOOP")
    assert uid_search(ext) == [uid, uid2, uid3], r.untagged


def test_copyuid_sets_are_compressed_and_in_the_same_order(ext):
    src, dst = "UidplusCopySrc", "UidplusCopyDst"
    uids = make_mailbox(ext, src, 6)
    existing = make_mailbox(ext, dst, 2)
    ext.select(src)
    dst_validity = status(ext, dst)["UIDVALIDITY"]
    # the RFC 4315 example's shape: COPYUID 38505 304,319:320 3956:3958
    chosen = [uids[0], uids[2], uids[3]]
    r = ext.ok(f"UID COPY {uids[0]},{uids[2]}:{uids[3]} {dst}")
    validity, source_set, dest_set = copyuid(r.code)
    assert validity == dst_validity
    assert source_set == compressed(chosen)
    first = existing[-1] + 1
    assert dest_set == f"{first}:{first + 2}"
    assert expand(source_set) == chosen
    # the n-th source UID was copied to the n-th destination UID
    src_ids = message_ids(ext, chosen)
    ext.select(dst)
    dst_ids = message_ids(ext, expand(dest_set))
    assert [src_ids[s] for s in expand(source_set)] == [dst_ids[d] for d in expand(dest_set)]

    # sequence-number COPY of a set written out of order still pairs up
    ext.select(src)
    r = ext.ok(f"COPY 5,2,6 {dst}")
    validity, source_set, dest_set = copyuid(r.code)
    assert validity == dst_validity
    sources, dests = expand(source_set), expand(dest_set)
    assert sorted(sources) == sorted([uids[1], uids[4], uids[5]]) and len(dests) == 3
    assert_folded(source_set)
    assert_folded(dest_set)
    src_ids = message_ids(ext, sources)
    ext.select(dst)
    dst_ids = message_ids(ext, dests)
    assert [src_ids[s] for s in sources] == [dst_ids[d] for d in dests]
    assert min(dests) > first + 2, "destination UIDs are new ones"


def test_uid_expunge_removes_only_deleted_messages_inside_the_set(ext):
    box = "UidplusExpunge"
    uids = make_mailbox(ext, box, 5)
    ext.select(box)
    deleted = [uids[0], uids[1], uids[3]]
    ext.ok("UID STORE " + ",".join(map(str, deleted)) + " +FLAGS.SILENT (\\Deleted)")
    model = uid_search(ext)
    r = ext.ok(f"UID EXPUNGE {uids[1]}:{uids[3]}")
    assert r.numbers(b"EXPUNGE"), r.untagged
    model = apply_expunges(model, r.untagged)
    # uids[1] and uids[3] are \Deleted and in the set; uids[2] is in the set but not
    # \Deleted; uids[0] is \Deleted but outside the set
    expected = [uids[0], uids[2], uids[4]]
    assert model == expected
    assert uid_search(ext) == expected
    assert uid_search(ext, "DELETED") == [uids[0]]


def test_uid_expunge_needs_a_uid_set(ext):
    box = "UidplusExpungeBad"
    uids = make_mailbox(ext, box, 2)
    ext.select(box)
    ext.ok("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    r = ext.command("UID EXPUNGE")
    assert r.status == "BAD", r.tagged
    r = ext.command("EXPUNGE 1")
    assert r.status == "BAD", r.tagged
    assert not r.numbers(b"EXPUNGE")
    assert uid_search(ext) == uids, "a rejected UID EXPUNGE must not expunge anything"
    r = ext.ok(f"UID EXPUNGE {uids[1]}:*")
    assert r.numbers(b"EXPUNGE") == [2]
    assert uid_search(ext) == [uids[0]]


# -- MOVE (RFC 6851) ---------------------------------------------------------------------


def test_move_sends_copyuid_before_the_expunges(ext):
    src, dst = "MoveSrc", "MoveDst"
    uids = make_mailbox(ext, src, 4)
    ext.ok(b"CREATE " + quote(dst))
    dst_validity = status(ext, dst)["UIDVALIDITY"]
    ext.select(src)
    src_ids = message_ids(ext, uids)
    r = ext.ok(f"MOVE 2,4 {dst}")
    kinds = []
    for u in r.untagged:
        if re.match(rb"\* OK \[COPYUID ", u):
            kinds.append("COPYUID")
        elif re.match(rb"\* \d+ EXPUNGE\r\n", u):
            kinds.append("EXPUNGE")
    assert kinds == ["COPYUID", "EXPUNGE", "EXPUNGE"], r.untagged
    (code,) = [c for c in r.codes() if c.upper().startswith("COPYUID ")]
    validity, source_set, dest_set = copyuid(code)
    assert validity == dst_validity
    assert expand(source_set) == [uids[1], uids[3]] and source_set == compressed([uids[1], uids[3]])
    dests = expand(dest_set)
    assert len(dests) == 2 and dest_set == compressed(dests)
    model = apply_expunges(uids, r.untagged)
    assert model == [uids[0], uids[2]] == uid_search(ext)
    ext.select(dst)
    moved = message_ids(ext, dests)
    assert [moved[d] for d in dests] == [src_ids[s] for s in expand(source_set)]


def test_uid_move(ext):
    src, dst = "UidMoveSrc", "UidMoveDst"
    uids = make_mailbox(ext, src, 5)
    ext.ok(b"CREATE " + quote(dst))
    ext.select(src)
    ext.ok(f"UID STORE {uids[2]} +FLAGS.SILENT (\\Flagged \\Seen)")
    r = ext.ok(f"UID MOVE {uids[2]}:* {dst}")
    codes = [c for c in r.codes() if c.upper().startswith("COPYUID ")]
    assert len(codes) == 1, r.untagged
    _validity, source_set, dest_set = copyuid(codes[0])
    assert expand(source_set) == uids[2:]
    assert apply_expunges(uids, r.untagged) == uids[:2] == uid_search(ext)
    ext.select(dst)
    assert uid_search(ext) == expand(dest_set)
    first = expand(dest_set)[0]
    fetched = ext.ok(f"UID FETCH {first} FLAGS").fetch_map()
    flags = {f.decode().lower() for items in fetched.values() for f in items["FLAGS"]}
    assert {"\\flagged", "\\seen"} <= flags, "MOVE keeps the message flags"


def test_move_to_a_missing_mailbox_is_trycreate_and_moves_nothing(ext):
    box = "MoveMissing"
    uids = make_mailbox(ext, box, 3)
    ext.select(box)
    for cmd in ("MOVE 1:2 MoveNowhere", f"UID MOVE {uids[0]} MoveNowhere"):
        r = ext.command(cmd)
        assert r.status == "NO" and r.code == "TRYCREATE", r.tagged
        assert not r.numbers(b"EXPUNGE") and not r.codes(), r.untagged
    assert uid_search(ext) == uids
    assert ext.command('STATUS MoveNowhere (MESSAGES)').status == "NO"
    assert "MoveNowhere" not in list_entries(ext.ok('LIST "" "*"'))


def test_move_in_a_read_only_mailbox_is_refused(srv, ext):
    src, dst = "MoveReadOnly", "MoveReadOnlyDst"
    uids = make_mailbox(ext, src, 2)
    ext.ok(b"CREATE " + quote(dst))
    ext.select(src, examine=True)
    for cmd in (f"MOVE 1 {dst}", f"UID MOVE {uids[1]} {dst}"):
        r = ext.command(cmd)
        assert r.status == "NO", f"MOVE needs a read-write mailbox: {r.tagged!r}"
        assert not r.numbers(b"EXPUNGE") and not r.codes(), r.untagged
    assert uid_search(ext) == uids
    assert status(ext, dst)["MESSAGES"] == 0, "a refused MOVE must not copy either"
    assert status(ext, src)["MESSAGES"] == 2


def test_move_is_seen_by_other_sessions(srv, ext):
    src, dst = "MoveShared", "MoveSharedDst"
    uids = make_mailbox(ext, src, 5)
    ext.ok(b"CREATE " + quote(dst))
    watcher = connect(srv)  # has the source selected
    idler = connect(srv)  # has the target selected, idling
    try:
        watcher.select(src)
        idler.select(dst)
        idler.send(b"i1 IDLE\r\n")
        assert idler.read_response().startswith(b"+")
        ext.select(src)
        r = ext.ok(f"UID MOVE {uids[1]},{uids[3]}:{uids[4]} {dst}")
        _v, _s, dest_set = copyuid(next(c for c in r.codes() if c.upper().startswith("COPYUID")))
        seen = idler.wait_for(lambda line: line == b"* 3 EXISTS\r\n")
        assert not any(re.match(rb"\* \d+ EXPUNGE", line) for line in seen), seen
        idler.send(b"DONE\r\n")
        assert idler.read_until_tagged(b"i1").ok
        assert uid_search(idler) == expand(dest_set)
        r = watcher.ok("NOOP")
        assert len(r.numbers(b"EXPUNGE")) == 3, r.untagged
        assert apply_expunges(uids, r.untagged) == [uids[0], uids[2]] == uid_search(watcher)
    finally:
        watcher.close()
        idler.close()


# -- SPECIAL-USE / CREATE-SPECIAL-USE (RFC 6154) -------------------------------------------


def test_list_shows_the_special_use_attributes(demo):
    entries = list_entries(demo.ok('LIST "" "*"'))
    for name, attr in SAMPLE_SPECIAL_USE.items():
        assert attr in entries[name], (name, entries[name])
    for name, attrs in entries.items():
        expected = {SAMPLE_SPECIAL_USE[name]} if name in SAMPLE_SPECIAL_USE else set()
        assert attrs & SPECIAL_USE_ATTRIBUTES == expected, (name, attrs)


def test_list_special_use_selection_returns_only_special_folders(demo):
    r = demo.ok('LIST (SPECIAL-USE) "" "*"')
    entries = list_entries(r)
    assert set(entries) == set(SAMPLE_SPECIAL_USE)
    for name, attrs in entries.items():
        assert SAMPLE_SPECIAL_USE[name] in attrs
    # with a pattern that excludes some of them
    assert set(list_entries(demo.ok('LIST (SPECIAL-USE) "" "%r%"'))) == {"Drafts", "Archive", "Trash"}
    assert set(list_entries(demo.ok('LIST (SPECIAL-USE) "" "*" RETURN (SPECIAL-USE)'))) == set(SAMPLE_SPECIAL_USE)


def test_list_return_special_use(demo):
    plain = list_entries(demo.ok('LIST "" "*"'))
    returned = list_entries(demo.ok('LIST "" "*" RETURN (SPECIAL-USE)'))
    assert set(returned) == set(plain)
    for name, attr in SAMPLE_SPECIAL_USE.items():
        assert attr in returned[name]
    for name in set(plain) - set(SAMPLE_SPECIAL_USE):
        assert not returned[name] & SPECIAL_USE_ATTRIBUTES


def test_create_with_use_sets_the_attribute(ext):
    r = ext.command(r"CREATE ExtMyTrash (USE (\Trash))")
    assert r.ok, r.tagged
    assert "\\trash" in list_entries(ext.ok('LIST "" "ExtMyTrash"'))["ExtMyTrash"]
    special = list_entries(ext.ok('LIST (SPECIAL-USE) "" "*"'))
    assert "\\trash" in special["ExtMyTrash"]
    ext.select("ExtMyTrash")  # an ordinary, selectable mailbox


def test_create_with_several_uses(ext):
    r = ext.command(r"CREATE ExtMySpecial (USE (\Drafts \Sent))")  # RFC 6154 5.1's example
    entries = list_entries(ext.ok('LIST "" "ExtMySpecial"'))
    if r.ok:
        assert {"\\drafts", "\\sent"} <= entries["ExtMySpecial"]
    else:
        assert r.status == "NO" and r.code == "USEATTR", r.tagged
        assert not entries, "a refused CREATE must not create the mailbox"


@pytest.mark.parametrize("attribute", ["\\All", "\\Bogus"])
def test_create_with_an_unsupported_use_is_useattr(ext, attribute):
    name = "ExtUse" + attribute.strip("\\")
    r = ext.command(f"CREATE {name} (USE ({attribute}))")
    assert r.status == "NO" and r.code == "USEATTR", r.tagged
    assert list_entries(ext.ok(f'LIST "" "{name}"')) == {}, "the mailbox must not be created"


# -- ESEARCH (RFC 4731) -------------------------------------------------------------------


def test_esearch_min_max_count(demo):
    demo.select("INBOX", examine=True)
    for criteria in ("UNSEEN", "ALL", "FLAGGED", "SUBJECT Contract"):
        hits = demo.ok("SEARCH " + criteria).search()
        assert hits, criteria
        r = demo.ok("SEARCH RETURN (MIN MAX COUNT) " + criteria, tag=b"A282")
        tag, uid, data = esearch(r)
        assert (tag, uid) == (b"A282", False)
        assert data == {"MIN": str(min(hits)), "MAX": str(max(hits)), "COUNT": str(len(hits))}
    # RFC 4731's first example, verbatim
    crit = 'FLAGGED SINCE 1-Feb-1994 NOT FROM "Smith"'
    hits = demo.ok("SEARCH " + crit).search()
    tag, uid, data = esearch(demo.ok("SEARCH RETURN (MIN COUNT) " + crit, tag=b"A282"))
    assert (tag, uid, data) == (b"A282", False, {"MIN": str(min(hits)), "COUNT": str(len(hits))})
    r = demo.ok("SEARCH RETURN (MIN COUNT) " + crit, tag=b"A282")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "A282") MIN %d COUNT %d\r\n' % (min(hits), len(hits))]


def test_uid_esearch_all_has_the_uid_indicator(demo):
    demo.select("INBOX", examine=True)
    for criteria in ("FLAGGED", "UNSEEN", "ALL", "DELETED"):
        uids = demo.ok("UID SEARCH " + criteria).search()
        r = demo.ok("UID SEARCH RETURN (ALL) " + criteria, tag=b"A285")
        tag, uid, data = esearch(r)
        assert (tag, uid, set(data)) == (b"A285", True, {"ALL"})
        assert expand(data["ALL"]) == uids
        assert data["ALL"] == compressed(uids)
        line = r.lines(b"ESEARCH")[0]
        assert line.startswith(b'* ESEARCH (TAG "A285") UID ALL '), line
    # UID MIN/MAX like the RFC's "UID SEARCH RETURN (MIN MAX) 1:5000"
    uids = demo.ok("UID SEARCH 1:5000").search()
    tag, uid, data = esearch(demo.ok("UID SEARCH RETURN (MIN MAX) 1:5000", tag=b"A285"))
    assert (tag, uid, data) == (b"A285", True, {"MIN": str(min(uids)), "MAX": str(max(uids))})


def test_esearch_empty_return_list_means_all(demo):
    demo.select("INBOX", examine=True)
    for criteria in ("UNSEEN", "SEEN", "FLAGGED"):
        seqs = demo.ok("SEARCH " + criteria).search()
        _t, uid, empty = esearch(demo.ok("SEARCH RETURN () " + criteria))
        _t, _u, explicit = esearch(demo.ok("SEARCH RETURN (ALL) " + criteria))
        assert not uid
        assert empty == explicit == {"ALL": compressed(seqs)}
        _t, uid, empty = esearch(demo.ok("UID SEARCH RETURN () " + criteria))
        assert uid and expand(empty["ALL"]) == demo.ok("UID SEARCH " + criteria).search()


def test_esearch_without_matches(demo):
    demo.select("INBOX", examine=True)
    nothing = 'SUBJECT "no such subject anywhere"'
    assert demo.ok("SEARCH " + nothing).search() == []
    r = demo.ok("SEARCH RETURN (MIN MAX ALL) " + nothing, tag=b"A287")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "A287")\r\n'], r.untagged
    r = demo.ok("SEARCH RETURN () " + nothing, tag=b"A288")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "A288")\r\n'], r.untagged
    r = demo.ok("SEARCH RETURN (MIN COUNT) " + nothing, tag=b"A289")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "A289") COUNT 0\r\n'], r.untagged
    r = demo.ok("UID SEARCH RETURN (COUNT) " + nothing, tag=b"A290")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "A290") UID COUNT 0\r\n'], r.untagged
    r = demo.ok("UID SEARCH RETURN (ALL) " + nothing, tag=b"A291")
    assert r.lines(b"ESEARCH") == [b'* ESEARCH (TAG "A291") UID\r\n'], r.untagged


def test_esearch_unknown_return_option_is_bad(demo):
    demo.select("INBOX", examine=True)
    r = demo.command("SEARCH RETURN (BOGUS) ALL")
    assert r.status == "BAD", r.tagged
    assert not r.lines(b"ESEARCH") and not r.lines(b"SEARCH")


# -- NAMESPACE, ID, ENABLE ------------------------------------------------------------------


def test_namespace(demo):
    r = demo.ok("NAMESPACE")
    assert r.lines(b"NAMESPACE") == [b'* NAMESPACE (("" ".")) NIL NIL\r\n']


def test_id_answers_name_and_version(conn):
    from pushimapd import __version__

    for args in ('("name" "sodr" "version" "19.34" "vendor" "Pink Floyd Music Limited")', "NIL", "()"):
        r = conn.ok("ID " + args)
        (line,) = r.lines(b"ID ")
        v = parse(line)
        fields = v[2]
        assert isinstance(fields, list) and len(fields) % 2 == 0, line
        info = {fields[i].decode().lower(): fields[i + 1] for i in range(0, len(fields), 2)}
        assert info["name"] == b"pushimapd" and info["version"] == __version__.encode()
    conn.login("demo", "demo")
    assert conn.ok("ID NIL").lines(b"ID ")


@pytest.mark.parametrize("args", [
    "", ' ("name")', ' ("name" "x" "version")', " (name value)", ' ("name" "x"', ' "name"',
    ' (NIL "x")',  # the field is a string, never NIL (RFC 2971 4: string SPACE nstring)
])
def test_malformed_id_is_bad(conn, args):
    r = conn.command("ID" + args)
    assert r.status == "BAD", r.tagged
    assert not r.lines(b"ID ")
    assert conn.ok("NOOP")


def test_enable_unknown_capabilities(conn):
    r = conn.command("ENABLE CONDSTORE")
    assert r.status == "BAD", f"ENABLE is not valid before login: {r.tagged!r}"
    assert not r.lines(b"ENABLED")
    conn.login("demo", "demo")
    r = conn.ok("ENABLE X-NO-SUCH-THING UTF8=ACCEPT-NOT")
    assert r.untagged == [b"* ENABLED\r\n"]
    assert conn.command("ENABLE").status == "BAD"


# -- UNSELECT (RFC 3691) ---------------------------------------------------------------------


def test_unselect_keeps_deleted_messages_unlike_close(ext):
    box = "UnselectBox"
    uids = make_mailbox(ext, box, 3)
    ext.select(box)
    ext.ok(f"UID STORE {uids[0]},{uids[2]} +FLAGS.SILENT (\\Deleted)")
    r = ext.ok("UNSELECT")
    assert not r.numbers(b"EXPUNGE"), r.untagged
    assert ext.command("FETCH 1 FLAGS").status == "BAD", "UNSELECT returns to the authenticated state"
    assert ext.command("UNSELECT").status == "BAD", "UNSELECT without a selected mailbox is BAD"
    sel = ext.select(box)
    assert sel.numbers(b"EXISTS") == [3]
    assert uid_search(ext, "DELETED") == [uids[0], uids[2]]
    # UNSELECT from EXAMINE, too
    ext.select(box, examine=True)
    assert ext.ok("UNSELECT").untagged == []
    ext.select(box)
    r = ext.ok("CLOSE")
    assert not r.numbers(b"EXPUNGE"), "CLOSE expunges silently"
    assert ext.select(box).numbers(b"EXISTS") == [1]
    assert uid_search(ext) == [uids[1]]


# -- CHILDREN (RFC 3348) ----------------------------------------------------------------------


def test_children_attributes(demo, ext):
    entries = list_entries(demo.ok('LIST "" "*"'))
    for name, attrs in entries.items():
        assert len(attrs & {"\\haschildren", "\\hasnochildren"}) == 1, (name, attrs)
    assert "\\haschildren" in entries["Lists"]
    for name in ("INBOX", "Sent", "Lists.imap-protocol", "Entw&APw-rfe"):
        assert "\\hasnochildren" in entries[name], (name, entries[name])
    # independent of whether the pattern reaches the children
    assert "\\haschildren" in list_entries(demo.ok('LIST "" "%"'))["Lists"]
    assert "\\haschildren" in list_entries(demo.ok('LIST "" "Lists"'))["Lists"]

    ext.ok("CREATE ExtParent")
    assert "\\hasnochildren" in list_entries(ext.ok('LIST "" "ExtParent"'))["ExtParent"]
    ext.ok("CREATE ExtParent.Kid")
    assert "\\haschildren" in list_entries(ext.ok('LIST "" "ExtParent"'))["ExtParent"]
    ext.ok("DELETE ExtParent.Kid")
    attrs = list_entries(ext.ok('LIST "" "ExtParent"'))["ExtParent"]
    assert "\\hasnochildren" in attrs and "\\haschildren" not in attrs


# -- LITERAL+ (RFC 7888) ------------------------------------------------------------------------


def test_literal_plus_login_needs_no_continuation(conn):
    conn.send(b"L1 LOGIN {3+}\r\next {3+}\r\next\r\n")
    first = conn.read_response()
    assert not first.startswith(b"+"), "no continuation request for a non-synchronising literal"
    assert first.startswith(b"L1 OK "), first


def test_literal_plus_append_needs_no_continuation(ext):
    box = "LiteralPlusAppend"
    ext.ok(b"CREATE " + quote(box))
    data = message(box, 1)
    ext.send(b"P1 APPEND " + box.encode() + b" (\\Seen) " + literal(data, plus=True) + b"\r\n")
    first = ext.read_response()
    assert first.startswith(b"P1 OK [APPENDUID "), first
    ext.select(box)
    (uid,) = uid_search(ext)
    r = ext.ok(f"UID FETCH {uid} (RFC822.SIZE BODY.PEEK[])")
    (items,) = r.fetch_map().values()
    assert items["BODY[]"] == data and int(items["RFC822.SIZE"]) == len(data)


def test_literal_plus_to_a_missing_mailbox_resynchronises(ext):
    data = message("nowhere", 1)
    ext.send(b"P2 APPEND LiteralPlusNowhere " + literal(data, plus=True) + b"\r\nP3 NOOP\r\n")
    r = ext.read_until_tagged(b"P2")
    assert r.status == "NO" and r.code == "TRYCREATE", r.tagged
    assert ext.read_until_tagged(b"P3").ok


def test_append_literal_size_limit_is_the_same_for_both_forms(ext):
    box = "LiteralPlusLimit"
    ext.ok(b"CREATE " + quote(box))
    head = b"Subject: fits\r\n\r\n"
    fits = head + b"x" * (MAX_APPEND - len(head))
    assert appenduid(ext.ok(b"APPEND " + box.encode() + b" " + literal(fits, plus=True)))
    assert appenduid(ext.command_with_literals(["APPEND " + box + " ", fits]))
    too_big = fits + b"y"
    # synchronising: refused before the continuation request, the data is never sent
    ext.send(b"S1 APPEND " + box.encode() + b" {%d}\r\n" % len(too_big))
    r = ext.read_until_tagged(b"S1")
    assert r.status in ("NO", "BAD") and not any(u.startswith(b"+") for u in r.untagged), r
    # non-synchronising: the literal is read, discarded, and the command refused
    ext.send(b"S2 APPEND " + box.encode() + b" " + literal(too_big, plus=True) + b"\r\nS3 NOOP\r\n")
    r = ext.read_until_tagged(b"S2")
    assert r.status in ("NO", "BAD") and r.untagged == [], r
    r = ext.read_until_tagged(b"S3")
    assert r.ok and untagged_bad(r) == [], r
    assert status(ext, box)["MESSAGES"] == 2


def test_oversized_literal_plus_outside_append_resynchronises(conn):
    conn.send(b"S1 LOGIN {%d}\r\n" % (SMALL_LITERAL + 1))
    r = conn.read_until_tagged(b"S1")
    assert r.status == "BAD" and not any(u.startswith(b"+") for u in r.untagged), r
    # the same size as a LITERAL+ literal: refused, and everything up to the end of
    # the command (here a second literal) is skipped, not read as a new command
    conn.send(b"S2 LOGIN " + literal(b"u" * (SMALL_LITERAL + 1), plus=True) + b" "
              + literal(b"pass", plus=True) + b"\r\nS3 NOOP\r\n")
    r = conn.read_until_tagged(b"S2")
    assert r.status == "BAD" and r.untagged == [], r
    r = conn.read_until_tagged(b"S3")
    assert r.ok, r
    assert untagged_bad(r) == [], f"the rest of the refused command was parsed as a command: {r.untagged!r}"
    conn.login("ext", "ext")


# -- SASL-IR (RFC 4959) -----------------------------------------------------------------------------


def test_authenticate_plain_with_initial_response(conn):
    conn.send(b"A1 AUTHENTICATE PLAIN " + plain_response("ext", "ext") + b"\r\n")
    first = conn.read_response()
    assert first.startswith(b"A1 OK "), f"one round trip, no continuation: {first!r}"
    assert conn.ok("SELECT INBOX")


def test_authenticate_plain_with_wrong_initial_response(conn):
    r = conn.command(b"AUTHENTICATE PLAIN " + plain_response("ext", "wrong"))
    assert r.status == "NO", r.tagged
    r = conn.command(b"AUTHENTICATE PLAIN " + plain_response("ext", "ext", authzid="demo"))
    assert r.status == "NO", r.tagged
    r = conn.command(b"AUTHENTICATE PLAIN " + plain_response("ext", "ext", authzid="ext"))
    assert r.ok, r.tagged


def test_authenticate_plain_with_empty_initial_response(conn):
    # "=" is a zero-length initial response, not an absent one: no continuation;
    # PLAIN cannot succeed with an empty message
    conn.send(b"A2 AUTHENTICATE PLAIN =\r\n")
    first = conn.read_response()
    assert first.startswith(b"A2 "), f"'=' is the (empty) initial response: {first!r}"
    assert first.split()[1] in (b"NO", b"BAD"), first
    assert conn.command("SELECT INBOX").status == "BAD", "still not authenticated"
    assert any(c.startswith("AUTH=") for c in capability_command(conn))


def test_authenticate_plain_without_initial_response(srv, conn):
    conn.send(b"A3 AUTHENTICATE PLAIN\r\n")
    cont = conn.read_response()
    assert cont.rstrip(b"\r\n") in (b"+", b"+ "), f"empty server challenge expected: {cont!r}"
    conn.send(plain_response("ext", "ext") + b"\r\n")
    r = conn.read_until_tagged(b"A3")
    assert r.ok, r.tagged
    code_capabilities(r.code)
    # and a cancelled exchange
    other = RawIMAP(srv.port)
    try:
        other.send(b"A4 AUTHENTICATE PLAIN\r\n")
        assert other.read_response().startswith(b"+")
        other.send(b"*\r\n")
        assert other.read_until_tagged(b"A4").status == "BAD"
        assert other.ok("NOOP")
    finally:
        other.close()


# -- CAPABILITY in every state -------------------------------------------------------------------


def _check_pre_auth(caps: list[str]) -> None:
    assert ADVERTISED <= set(caps), set(ADVERTISED) - set(caps)
    assert len(caps) == len(set(caps)), f"duplicates in {caps}"


def _check_post_auth(caps: list[str]) -> None:
    assert ADVERTISED <= set(caps), set(ADVERTISED) - set(caps)
    assert len(caps) == len(set(caps)), f"duplicates in {caps}"
    leftovers = [c for c in caps if c.startswith(PRE_AUTH_ONLY)]
    assert not leftovers, f"{leftovers} must not be advertised after authentication"


def test_capabilities_in_each_state_with_login(conn):
    greeting = greeting_capabilities(conn)
    _check_pre_auth(greeting)
    assert "AUTH=PLAIN" in greeting and "LOGINDISABLED" not in greeting  # loopback is trusted
    assert "STARTTLS" not in greeting, "no TLS configured on this server"
    assert sorted(capability_command(conn)) == sorted(greeting)
    r = conn.login("ext", "ext")
    after_login = code_capabilities(r.code)
    _check_post_auth(after_login)
    assert sorted(capability_command(conn)) == sorted(after_login)
    conn.select("INBOX")
    assert sorted(capability_command(conn)) == sorted(after_login)


@pytest.mark.parametrize("initial_response", [True, False])
def test_capabilities_after_authenticate(conn, initial_response):
    if initial_response:
        r = conn.command(b"AUTHENTICATE PLAIN " + plain_response("ext", "ext"))
    else:
        conn.send(b"A5 AUTHENTICATE PLAIN\r\n")
        assert conn.read_response().startswith(b"+")
        conn.send(plain_response("ext", "ext") + b"\r\n")
        r = conn.read_until_tagged(b"A5")
    assert r.ok, r.tagged
    caps = code_capabilities(r.code)
    _check_post_auth(caps)
    assert sorted(capability_command(conn)) == sorted(caps)


def test_capabilities_around_starttls(tls_srv):
    c = RawIMAP(tls_srv.port)
    try:
        greeting = greeting_capabilities(c)
        _check_pre_auth(greeting)
        assert "STARTTLS" in greeting and "LOGINDISABLED" in greeting, greeting
        assert not any(x.startswith("AUTH=") for x in greeting), greeting
        assert sorted(capability_command(c)) == sorted(greeting)
        r = c.command("LOGIN demo demo")
        assert r.status == "NO", "LOGINDISABLED: no plaintext LOGIN before TLS"
        c.ok("STARTTLS")
        assert c.buf == b""
        ctx = ssl.create_default_context(cafile=tls_srv.cert)
        c.sock = ctx.wrap_socket(c.sock, server_hostname="localhost")
        secured = capability_command(c)
        _check_pre_auth(secured)
        assert "AUTH=PLAIN" in secured
        assert "STARTTLS" not in secured and "LOGINDISABLED" not in secured, secured
        assert c.command("STARTTLS").status == "BAD"
        r = c.login("demo", "demo")
        caps = code_capabilities(r.code)
        _check_post_auth(caps)
        assert sorted(capability_command(c)) == sorted(caps)
    finally:
        c.close()

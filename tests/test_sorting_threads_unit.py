"""The pure SORT and THREAD algorithms (storage.sorting, storage.threads), no server.

Base subjects follow RFC 5256 2.1 step by step; the collation is
i;unicode-casemap (RFC 5051); the thread trees are checked on crafted reply
chains, including missing parents, loops, truncated References and subject
merging, and one chain deeper than Python's recursion limit.
"""

from __future__ import annotations

import datetime

import pytest

from pushimapd.storage.sorting import SortSource, base_subject, casemap, sort_messages
from pushimapd.storage.threads import (
    ThreadMessage, build_threads, format_threads, message_ids, thread_message,
)


# -- base subject ---------------------------------------------------------------------------
@pytest.mark.parametrize("subject,base,reply", [
    ("Hello", "Hello", False),
    ("Re: Hello", "Hello", True),
    ("RE: re: Hello", "Hello", True),
    ("Fw: Hello", "Hello", True),
    ("FWD: Hello", "Hello", True),
    ("Fwd:Re:Hello", "Hello", True),
    ("Re[2]: Hello", "Hello", True),                       # subj-refwd with a blob
    ("Re [list]: Hello", "Hello", True),
    ("[list] Re: Hello", "Hello", True),                   # blobs before the refwd
    ("[list] Hello", "Hello", False),                      # a leading blob alone
    ("[PATCH] [v2] Hello", "Hello", False),                # repeated (3) and (4)
    ("Re: [list] Re: Hello", "Hello", True),
    ("[PATCH]", "[PATCH]", False),                         # a blob that would leave nothing stays
    ("Re: [PATCH]", "[PATCH]", True),
    ("Hello (fwd)", "Hello", True),                        # subj-trailer
    ("Hello (FWD) (fwd)  ", "Hello", True),
    ("[fwd: Hello]", "Hello", True),                       # subj-fwd, then again from (2)
    ("[Fwd: Re: [list] Hello (fwd)]", "Hello", True),
    ("  Hello\t\tworld  ", "Hello world", False),          # white space collapsed and trimmed
    ("Refactor: Hello", "Refactor: Hello", False),          # "re" must be followed by ":" or a blob
    ("Fwd Hello", "Fwd Hello", False),
    ("Re:", "", True),
    ("", "", False),
])
def test_base_subject(subject, base, reply):
    assert base_subject(subject) == (base, reply)


# -- i;unicode-casemap ----------------------------------------------------------------------
def test_casemap_is_case_insensitive_and_ignores_diacritics_first():
    assert casemap("hello") == casemap("HELLO") == casemap("HeLLo")
    assert casemap("Ärger").startswith("A")                  # Ä -> A + combining diaeresis
    assert casemap("ﬁle") == casemap("FILE")                  # compatibility decomposition
    assert casemap("ǆemal") == casemap("ǄEMAL")              # titlecase of a digraph
    words = ["banana", "Éclair", "apple", "eclair", "Zebra", "Ärger", "abc"]
    assert sorted(words, key=casemap) == ["abc", "apple", "Ärger", "banana", "eclair", "Éclair", "Zebra"]


# -- sort keys ------------------------------------------------------------------------------
MESSAGES = {
    1: (b"From: Zed <zed@example.org>\r\nTo: b@example.org\r\nSubject: Re: Banana\r\n"
        b"Date: Tue, 02 Jan 2024 10:00:00 +0000\r\n\r\n", 300),
    2: (b"From: =?UTF-8?Q?=C3=84rger?= <amy@example.org>\r\nTo: a@example.org\r\nCc: c@x.org\r\n"
        b"Subject: apple\r\nDate: Mon, 01 Jan 2024 12:00:00 +0100\r\n\r\n", 100),
    3: (b"From: bob@example.org\r\nTo: Charlie <zz@example.org>\r\nSubject: [list] banana\r\n"
        b"Date: not a date\r\n\r\n", 200),
    4: (b"From: \"Al\" <yy@example.org>\r\nSubject: Cherry\r\n"
        b"Date: Mon, 01 Jan 2024 10:30:00 +0000\r\n\r\n", 200),
}
ARRIVAL = {1: 40, 2: 30, 3: 20, 4: 10}  # days into 2024


def source():
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
    return SortSource(lambda uid: MESSAGES[uid][0],
                      lambda uid: start + datetime.timedelta(days=ARRIVAL[uid]),
                      lambda uid: MESSAGES[uid][1])


def order(*criteria) -> list[int]:
    parsed = []
    reverse = False
    for word in criteria:
        if word == "REVERSE":
            reverse = True
            continue
        parsed.append((word, reverse))
        reverse = False
    return [seq for seq, _uid in sort_messages([(n, n) for n in MESSAGES], parsed, source())]


@pytest.mark.parametrize("criteria,expected", [
    (("ARRIVAL",), [4, 3, 2, 1]),
    (("REVERSE", "ARRIVAL"), [1, 2, 3, 4]),
    (("DATE",), [4, 2, 1, 3]),                 # 2 is 11:00 UTC; 3 has no valid Date: INTERNALDATE (Jan 21)
    (("SIZE",), [2, 3, 4, 1]),                 # 3 and 4 tie: sequence order
    (("REVERSE", "SIZE"), [1, 3, 4, 2]),       # ties stay in sequence order under REVERSE
    (("SIZE", "REVERSE", "DATE"), [2, 3, 4, 1]),
    (("SUBJECT",), [2, 1, 3, 4]),              # apple, banana, banana, cherry
    (("SUBJECT", "REVERSE", "ARRIVAL"), [2, 1, 3, 4]),
    (("SUBJECT", "ARRIVAL"), [2, 3, 1, 4]),
    (("FROM",), [2, 3, 4, 1]),                 # amy, bob, yy, zed (the addr-mailbox)
    (("DISPLAYFROM",), [4, 2, 3, 1]),          # Al, Ärger, bob@example.org, Zed
    (("TO",), [4, 2, 1, 3]),                   # "" (no To), a, b, zz
    (("DISPLAYTO",), [4, 2, 1, 3]),            # "", a@.., b@.., Charlie
    (("CC", "ARRIVAL"), [4, 3, 1, 2]),
])
def test_sort_criteria(criteria, expected):
    assert order(*criteria) == expected


# -- message ids ------------------------------------------------------------------------------
def test_message_ids_are_normalised():
    assert message_ids('<"01KF8JCEOCBS0045PS"@xxx.yyy.com>') == ["01KF8JCEOCBS0045PS@xxx.yyy.com"]
    assert message_ids("<a@b> (comment <c@d>) <e @ f>") == ["a@b", "e@f"]
    assert message_ids("<no-at-sign> junk") == []


# -- threads ----------------------------------------------------------------------------------
def msg(seq, subject, day, mid=None, refs="", irt=""):
    headers = {"message-id": f"<{mid}>" if mid else None, "references": refs or None,
               "in-reply-to": irt or None, "subject": subject}
    return thread_message(seq, seq * 10, headers.get, float(day))


def threads(algorithm, messages) -> str:
    return format_threads(build_threads(algorithm, messages), lambda m: m.seq)


CHAIN = [
    msg(1, "Plans", 1, "a@x"),
    msg(2, "Re: Plans", 2, "b@x", refs="<a@x>"),
    msg(3, "Re: Plans", 3, "c@x", refs="<a@x> <b@x>"),
    msg(4, "Re: Plans", 4, "d@x", irt="<a@x>"),                 # In-Reply-To only
    msg(5, "Lunch", 5, "e@x"),
    msg(6, "Re: Plans", 6, "f@x"),                               # no references: by subject
    msg(7, "Re: missing", 7, "g@x", refs="<gone@x>"),            # parent absent (dummy)
    msg(8, "Re: missing", 8, "h@x", refs="<gone@x>"),
    msg(9, "[list] Lunch", 0.5, "i@x"),                          # older, same base subject
]


def test_references_links_chains_and_merges_subjects():
    # 9 and 5 share the base subject "Lunch", neither a reply: a dummy holds both;
    # 6 (a reply to "Plans" without references) hangs under 1; 7 and 8 share a
    # missing parent: a dummy at the top with two children
    assert threads("REFERENCES", CHAIN) == "((9)(5))(1 (2 3)(4)(6))((7)(8))"


def test_refs_links_without_subject_merging_and_orders_by_latest_message():
    # no subject merging: 5, 6 and 9 are threads of their own; threads ordered
    # by their latest message: 9 (0.5), 1.. (4), 5 (5), 6 (6), 7/8 (8)
    assert threads("REFS", CHAIN) == "(9)(1 (2 3)(4))(5)(6)((7)(8))"


def test_orderedsubject_groups_by_base_subject_and_date():
    assert threads("ORDEREDSUBJECT", CHAIN) == "(9 5)(1 (2)(3)(4)(6))(7 8)"


def test_a_reply_with_subject_of_a_root_becomes_its_child():
    messages = [msg(1, "Topic", 1, "a@x"), msg(2, "Re: Topic", 2, "b@x"), msg(3, "Fwd: Topic", 3, "c@x")]
    assert threads("REFERENCES", messages) == "(1 (2)(3))"


def test_two_replies_with_the_same_subject_get_a_dummy_parent():
    messages = [msg(1, "Re: Topic", 1, "a@x"), msg(2, "Re: Topic", 2, "b@x")]
    assert threads("REFERENCES", messages) == "((1)(2))"


def test_duplicate_message_ids_and_missing_ones():
    messages = [msg(1, "A", 1, "same@x"), msg(2, "B", 2, "same@x"), msg(3, "C", 3),
                msg(4, "Re: A", 4, "d@x", refs="<same@x>")]
    # only the first message keeps the duplicated id; 4 replies to it
    assert threads("REFERENCES", messages) == "(1 4)(2)(3)"


def test_reference_loops_are_not_created():
    messages = [msg(1, "A", 1, "a@x", refs="<b@x>"), msg(2, "B", 2, "b@x", refs="<a@x>"),
                msg(3, "C", 3, "c@x", refs="<c@x>")]
    out = threads("REFERENCES", messages)
    assert sorted(out.replace("(", " ").replace(")", " ").split()) == ["1", "2", "3"]
    assert "(3)" in out


def test_truncated_references_are_replaced_by_the_message_own():
    # 3 says b is a child of a; b's own References say its parent is x (absent)
    messages = [msg(1, "A", 1, "a@x"), msg(2, "B", 2, "b@x", refs="<x@x>"),
                msg(3, "Re: B", 3, "c@x", refs="<a@x> <b@x>")]
    assert threads("REFERENCES", messages) == "(1)(2 3)"


def test_a_dummy_in_the_middle_is_pruned():
    messages = [msg(1, "A", 1, "a@x"), msg(2, "Re: A", 2, "c@x", refs="<a@x> <gone@x>"),
                msg(3, "Re: A", 3, "d@x", refs="<a@x> <gone@x>")]
    assert threads("REFERENCES", messages) == "(1 (2)(3))"


def test_a_very_deep_chain_needs_no_recursion():
    depth = 5000
    messages = [msg(1, "Deep", 0, "m1@x")]
    for n in range(2, depth + 1):
        messages.append(msg(n, "Re: Deep", n, f"m{n}@x", irt=f"<m{n - 1}@x>"))
    for algorithm in ("REFERENCES", "REFS"):
        assert threads(algorithm, messages) == "(" + " ".join(str(n) for n in range(1, depth + 1)) + ")"


def test_empty_input():
    for algorithm in ("ORDEREDSUBJECT", "REFERENCES", "REFS"):
        assert threads(algorithm, []) == ""
    assert isinstance(ThreadMessage(1, 1, None, [], "", 0.0), ThreadMessage)

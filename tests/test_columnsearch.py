"""Searching over whole columns gives exactly what message-by-message
evaluation gives, for random key trees over a real Maildir with varied
headers, flags, sizes and dates."""

from __future__ import annotations

import datetime
import os
import random

from pushimapd.storage.columnsearch import search_positions
from pushimapd.storage.maildir.account import MailStore
from pushimapd.storage.mime import ParsedMessage
from pushimapd.storage.search import MessageFacts, matches
from pushimapd.wire.grammar import SearchKey, SequenceSet

SUBJECTS = ["Budget 2024", "Re: budget", "Lunch?", "=?utf-8?q?Gr=C3=BC=C3=9Fe?=", "[list] weekly", "résumé"]
FROMS = ["Alice <alice@example.org>", "<user-from (comment)@ (comment) domain.org>", "bob@example.net",
         '"Smith, Jo" <jo@example.com>', "=?utf-8?q?J=C3=BCrgen?= <j@example.de>"]
FLAGS = ["", "S", "FS", "RS", "T", "DS", "Sa"]


def build(tmp_path, count: int = 120):
    store = MailStore(str(tmp_path))
    box = store.account("u").open("INBOX")
    rng = random.Random(5)
    for i in range(count):
        subject, sender = rng.choice(SUBJECTS), rng.choice(FROMS)
        body = "x" * rng.randint(10, 3000)
        data = f"Subject: {subject}\nFrom: {sender}\nTo: t{i % 7}@example.org\nCc: c@example.org\n\n{body}\n"
        name = f"{1600000000 + i * 3607}.M{i}P1.host:2,{rng.choice(FLAGS)}"
        path = os.path.join(box.path, "cur", name)
        with open(path, "w") as f:
            f.write(data)
        os.utime(path, (1600000000 + i * 3607,) * 2)
    with open(os.path.join(box.path, "dovecot-keywords"), "w") as f:
        f.write("0 $Label1\n")
    box.sync(force=True)
    return box


def random_key(rng: random.Random, depth: int = 0) -> SearchKey:
    leaves = [
        lambda: SearchKey(rng.choice(["SEEN", "UNSEEN", "FLAGGED", "DELETED", "ANSWERED", "DRAFT", "ALL"])),
        lambda: SearchKey("KEYWORD", ("$label1",)),
        lambda: SearchKey("SUBJECT", (rng.choice(["budget", "RE:", "grüße", "RÉSUMÉ", "[list]", "zzz"]),)),
        lambda: SearchKey(rng.choice(["FROM", "TO", "CC", "BCC"]),
                          (rng.choice(["alice", "user-from@domain.org", "example", "jürgen", "smith, jo", "t3@"]),)),
        lambda: SearchKey("HEADER", ("Subject", rng.choice(["weekly", "Lunch"]))),
        lambda: SearchKey(rng.choice(["LARGER", "SMALLER"]), (rng.randint(0, 3000),)),
        lambda: SearchKey(rng.choice(["BEFORE", "ON", "SINCE"]),
                          (datetime.date(2020, 9, 13) + datetime.timedelta(days=rng.randint(0, 6)),)),
        lambda: SearchKey("UID", (SequenceSet(((rng.randint(1, 60), rng.choice([None, rng.randint(1, 130)])),)),)),
        lambda: SearchKey("SEQ", (SequenceSet(((rng.randint(1, 120), rng.randint(1, 120)),)),)),
        lambda: SearchKey("MODSEQ", (rng.randint(1, 4),)),
    ]
    if depth < 3 and rng.random() < 0.4:
        kind = rng.choice(["NOT", "OR", "AND"])
        if kind == "NOT":
            return SearchKey("NOT", (random_key(rng, depth + 1),))
        if kind == "OR":
            return SearchKey("OR", (random_key(rng, depth + 1), random_key(rng, depth + 1)))
        return SearchKey("AND", (tuple(random_key(rng, depth + 1) for _ in range(rng.randint(1, 3))),))
    return rng.choice(leaves)()


class Source:
    """Per-message facts read from the files, never from the index."""

    def __init__(self, box):
        self.box = box
        self.size = box.size
        self.modseq = box.modseq
        self.internal_date = box.internal_date
        self.message = box.message
        self.header_block = box.header_block

    def headers(self, uid):
        block = self.box.header_block(uid)
        return ParsedMessage(block if block.endswith(b"\r\n\r\n") else block + b"\r\n")

    def indexed_header(self, uid, field):
        return None


def test_column_search_equals_message_by_message(tmp_path):
    box = build(tmp_path)
    uids = box.uids
    source = Source(box)
    rng = random.Random(11)
    compared = 0
    for _ in range(400):
        keys = tuple(random_key(rng) for _ in range(rng.randint(1, 2)))
        got = search_positions(keys, box, set())
        if got is None:
            continue
        expected = [i for i, uid in enumerate(uids)
                    if all(matches(k, MessageFacts(source, i + 1, uid, len(uids), uids[-1], box.flags(uid), False))
                           for k in keys)]
        assert got == expected, keys
        compared += 1
    assert compared > 300  # nearly every tree is answered from the columns


def test_keys_that_need_the_message_fall_back(tmp_path):
    box = build(tmp_path, 5)
    assert search_positions((SearchKey("BODY", ("x",)),), box, set()) is None
    assert search_positions((SearchKey("HEADER", ("X-Other", "a")),), box, set()) is None
    assert search_positions((SearchKey("SENTSINCE", (datetime.date(2020, 1, 1),)),), box, set()) is None

"""Deterministic Maildir++ test data, generated once per run and copied per server.

Messages look like what an MTA leaves behind: 2-8 KB, LF line endings,
Return-Path/Received/From/To/Subject/Date/Message-ID/MIME headers, a plain
text body; file names ``<time>.M<n>P<pid>.<host>`` in ``new/`` (unread) or
``<name>:2,<flags>`` in ``cur/``, no S=/W= size fields (MTAs do not write
them); the file's mtime is the message date (the INTERNALDATE servers show).

The same seed gives the same bytes, names and mtimes, so every server is
measured over identical Maildirs.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
from email.utils import format_datetime
from datetime import datetime, timezone

# a fixed start date keeps names, dates and mtimes identical from run to run
EPOCH = 1672531200  # 2023-01-01T00:00:00Z
SEARCH_WORD = "budget"  # the Subject word the header search looks for (about 2% of messages)
_WORDS = (
    "the of and to in is that it for on with as was at by this be are from or have an they which you one "
    "were all we when there can been has more if will would about out up what some into them only other new "
    "time could these two may then first any my now such like our over man me even most made after also did "
    "many before must through back years where much your way well down should because each just those people "
    "how too little state good very make world still own see men work long get here between both life being "
    "under never day same another know while last might us great old year off come since against go came right "
    "used take three meeting report project release schedule invoice server update review draft notes agenda "
    "team launch customer support ticket deadline quarter plan design travel lunch office contract proposal"
).split()
_PEOPLE = [f"{first} {last}" for first, last in zip(
    "Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj Olivia Peggy Rupert Sybil Trent "
    "Victor Walter Yvonne Zoe Xavier Uma Quentin Lars Mona Nora Otto Paula Rita".split(),
    "Smith Jones Brown Taylor Wilson Davies Evans Thomas Johnson Roberts Walker Wright Robinson Thompson White "
    "Hughes Edwards Green Hall Wood Harris Lewis Martin Jackson Clarke Clark Turner Hill Scott Cooper".split())]


class Corpus:
    """A fixed pool of body text; bodies are slices of it (fast, deterministic)."""

    def __init__(self, seed: int = 1, size: int = 1 << 21):
        rng = random.Random(seed)
        lines, total = [], 0
        while total < size:
            words = rng.choices(_WORDS, k=rng.randint(6, 14))
            line = " ".join(words).capitalize() + ".\n"
            lines.append(line)
            total += len(line)
        self.text = "".join(lines).encode()
        self.starts = [0]
        for line in lines[:-1]:
            self.starts.append(self.starts[-1] + len(line))

    def body(self, rng: random.Random, length: int) -> bytes:
        start = self.starts[rng.randrange(len(self.starts) // 2)]
        end = self.text.find(b"\n", start + length) + 1
        return self.text[start:end]


class Generator:
    def __init__(self, seed: int = 42):
        self.seed = seed
        self.corpus = Corpus(seed)

    def message(self, rng: random.Random, n: int, user: str, date: int) -> bytes:
        sender = rng.choice(_PEOPLE)
        address = sender.lower().replace(" ", ".") + "@example.org"
        words = rng.choices(_WORDS, k=rng.randint(3, 8))
        if rng.random() < 0.02:
            words.insert(rng.randrange(len(words) + 1), SEARCH_WORD)
        subject = " ".join(words).capitalize()
        when = format_datetime(datetime.fromtimestamp(date, timezone.utc))
        head = (
            f"Return-Path: <{address}>\n"
            f"Received: from mx{n % 7}.example.org (mx{n % 7}.example.org [192.0.2.{n % 250 + 1}])\n"
            f"\tby mail.example.com (Postfix) with ESMTPS id {n:08X}\n"
            f"\tfor <{user}@example.com>; {when}\n"
            f"From: {sender} <{address}>\n"
            f"To: {user}@example.com\n"
            f"Subject: {subject}\n"
            f"Date: {when}\n"
            f"Message-ID: <{n}.{self.seed}.{date}@example.org>\n"
            "MIME-Version: 1.0\n"
            "Content-Type: text/plain; charset=us-ascii\n"
            "Content-Transfer-Encoding: 7bit\n"
            "\n"
        ).encode()
        target = rng.randint(2048, 8192)
        return head + self.corpus.body(rng, max(256, target - len(head)))

    def fill(self, folder: str, user: str, count: int, stream: int) -> int:
        """Write `count` messages into the Maildir `folder`; returns bytes written."""
        rng = random.Random(self.seed * 1_000_003 + stream)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(folder, sub), exist_ok=True)
        step = max(1, (365 * 86400) // max(count, 1))
        total = 0
        for i in range(count):
            date = EPOCH + i * step + rng.randrange(step)
            data = self.message(rng, stream * 1_000_000 + i, user, date)
            base = f"{date}.M{i:06d}P{4000 + stream}.benchhost"
            r = rng.random()
            if i >= count - max(1, count // 50):
                path = os.path.join(folder, "new", base)  # the newest 2%: just delivered, unread
            else:
                flags = ""
                if rng.random() < 0.10:
                    flags += "F"
                if r < 0.10:
                    flags += "R"
                if r < 0.80:
                    flags += "S"
                path = os.path.join(folder, "cur", f"{base}:2,{flags}")
            with open(path, "wb") as f:
                f.write(data)
            os.utime(path, (date, date))
            total += len(data)
        return total

    def append_message(self, rng: random.Random, n: int, user: str) -> bytes:
        """A message for APPEND, with CRLF line endings as IMAP requires."""
        return self.message(rng, n, user, EPOCH + 400 * 86400 + n).replace(b"\n", b"\r\n")


def generate(template: str, users: dict[str, int], seed: int = 42) -> dict:
    """Create `template/<user>/` Maildirs with users[user] messages in INBOX."""
    gen = Generator(seed)
    t0 = time.monotonic()
    total = count = 0
    for stream, (user, n) in enumerate(sorted(users.items())):
        total += gen.fill(os.path.join(template, user), user, n, stream + 1)
        count += n
    return {"messages": count, "bytes": total, "seconds": time.monotonic() - t0}


def copy_tree(src: str, dst: str) -> None:
    """A private copy for one server (cp -a keeps names and mtimes, and is fast)."""
    if os.path.exists(dst):
        shutil.rmtree(dst)
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    subprocess.run(["cp", "-a", src, dst], check=True)

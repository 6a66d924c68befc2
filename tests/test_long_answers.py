"""Long metadata FETCHes go out in pieces with the reactor free between
them: other connections are served meanwhile, pipelined commands wait their
turn, and a client that stops reading holds the rest back (back-pressure)."""

from __future__ import annotations

import os
import re
import time

import pytest

from conftest import ServerProcess
from imap_raw import RawIMAP

COUNT = 20_000


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("long"))
    cur = os.path.join(root, "demo", "cur")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(root, "demo", sub))
    for i in range(COUNT):
        with open(os.path.join(cur, f"{1600000000 + i}.M{i}P1.host:2,{'FS' if i % 7 == 0 else 'S'}"), "wb") as f:
            f.write(b"Subject: %d\n\nx\n" % i)
    server = ServerProcess(root)
    server.add_users()
    server.start()
    yield server
    server.stop()


def test_a_long_fetch_arrives_whole_and_others_are_served_meanwhile(big):
    with RawIMAP(big.port, timeout=30) as c, RawIMAP(big.port, timeout=30) as other:
        c.login()
        c.select("INBOX")
        other.login()
        c.send(b"f1 UID FETCH 1:* (FLAGS)\r\nf2 NOOP\r\n")
        started = time.monotonic()
        assert other.command("NOOP").ok  # served while f1 is still going out
        answered_other = time.monotonic() - started
        r = c.read_until_tagged(b"f1")
        assert r.ok and len(r.untagged) == COUNT
        flagged = [u for u in r.untagged if b"\\Flagged" in u]
        assert len(flagged) == len(range(0, COUNT, 7))
        assert [int(re.match(rb"\* (\d+) FETCH \(UID (\d+)", u).group(2)) for u in r.untagged[:3]] == [1, 2, 3]
        assert c.read_until_tagged(b"f2").ok  # the pipelined command ran after the FETCH finished
        assert answered_other < 5


def test_a_client_that_stops_reading_holds_the_rest_back(big):
    """The server does not build the whole answer in memory for a client that
    is not reading: once the socket buffers are full it waits, and goes on
    when the client reads again."""
    def rss_kib() -> int:
        with open(f"/proc/{big.proc.pid}/status") as f:
            return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))

    pipelined = 40
    with RawIMAP(big.port, timeout=30) as c:
        c.login()
        c.select("INBOX")
        before = rss_kib()
        c.send(b"".join(b"p%d UID FETCH 1:* (FLAGS)\r\n" % i for i in range(pipelined)))
        with RawIMAP(big.port, timeout=10) as other:  # served while c's answers wait
            other.login()
            assert other.command("NOOP").ok
        grown = rss_kib() - before
        received = bytearray(c.buf)
        last = b"p%d OK" % (pipelined - 1)
        c.sock.settimeout(30)
        while last not in received[-200:]:
            chunk = c.sock.recv(1 << 20)
            assert chunk, "connection closed"
            received += chunk
        assert received.count(b" FETCH (UID ") == pipelined * COUNT
        assert all(b"p%d OK FETCH completed" % i in received for i in range(pipelined))
        assert grown < 20_000, f"server grew by {grown} KiB while the client did not read"  # ~35 MB of answers queued

"""Faults over real TCP: each kind added with the real CLI while the server runs.

One server (sample mail, --trace-dir) for the module; every test clears the
fault table first. Exact bytes come from RawIMAP; waits have deadlines.
"""

from __future__ import annotations

import re
import socket
import time

import pytest

from imap_raw import ConnectionClosed, RawIMAP, literal
from push_util import HTTPReceiver, IMAP, wait_until
from testbed_util import add_fault, clear_faults, cli, parse_trace, start_testbed, trace_files, wait_trace

PASSWORD = "Fault-pw-9d1"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    base = tmp_path_factory.mktemp("faults")
    root, traces = str(base / "mail"), str(base / "traces")
    import os

    os.makedirs(root)
    server = start_testbed(root, traces, users=(("demo", PASSWORD), ("alice", "alice")),
                            extra_args=["--push-allow-http", "--push-allow-private"])
    server.root, server.traces = root, traces
    yield server
    server.stop()


@pytest.fixture
def srv(env):
    clear_faults(env.root)
    return env


def client(srv, user="demo", password=PASSWORD) -> RawIMAP:
    c = RawIMAP(srv.port)
    c.login(user, password)
    return c


def closed_without_a_word(c: RawIMAP) -> bool:
    return c.is_closed(10) and c.buf == b""


def test_disconnect_after_n_commands(srv):
    fault = add_fault(srv.root, "demo", "disconnect", "--after", "2")
    with client(srv) as c:
        c.ok("NOOP")
        c.ok("NOOP")
        c.send(b"t9 NOOP\r\n")
        assert closed_without_a_word(c)
    wait_until(lambda: re.search(rb"test bed: fault %d \(disconnect after 2\) fired on t9 NOOP" % fault, srv.log))
    # used up: the next session is not dropped
    with client(srv) as c:
        for _ in range(4):
            c.ok("NOOP")
    assert cli(srv.root, "fault", "list") == ""


def test_disconnect_in_the_middle_of_a_fetch_literal(srv):
    with client(srv) as c:
        c.select()
        sizes = c.ok("FETCH 1:* (RFC822.SIZE)").fetches()
        seq, size = max(((f[0], int(f[1]["RFC822.SIZE"])) for f in sizes), key=lambda f: f[1])
        assert size > 1_000_000  # the sample's big message
        whole = c.ok(f"FETCH {seq} (BODY.PEEK[])")
        answer = b"".join(whole.untagged) + whole.tagged
        add_fault(srv.root, "demo", "disconnect", "--command", "FETCH")
        c.ok("NOOP")  # not a FETCH: answered
        tag = c.next_tag()
        c.send(tag + f" FETCH {seq} (BODY.PEEK[])\r\n".encode())
        assert c.is_closed(10)
        got = c.buf
        assert got == answer[: len(answer) // 2], (len(got), len(answer))
        assert re.match(rb"\* %d FETCH \(BODY\[\] \{%d\}\r\n" % (seq, size), got)
    path = wait_trace(srv.traces, r"\{\d+ of %d bytes\}" % size, user="demo")
    lines = parse_trace(path)
    assert any(d == "*" and "disconnect on FETCH" in text for _, d, text in lines)


def test_bye_after_n_commands(srv):
    add_fault(srv.root, "demo", "bye", "--after", "1")
    with client(srv) as c:
        c.ok("NOOP")
        c.send(b"t7 NOOP\r\n")
        assert c.is_closed(10)
        assert re.fullmatch(rb"\* BYE pushimapd test bed: fault \d+ \(bye after 1\)\r\n", c.buf), c.buf


def test_delay_answers_late_without_blocking_others(srv):
    add_fault(srv.root, "demo", "delay", "--ms", "800", "--command", "NOOP")
    with client(srv) as slow, client(srv, "alice", "alice") as other:
        start = time.monotonic()
        slow.send(b"a1 NOOP\r\na2 CAPABILITY\r\n")  # pipelined: a2 must wait for a1
        t0 = time.monotonic()
        other.ok("NOOP")  # the reactor is not blocked meanwhile
        other_took = time.monotonic() - t0
        first = slow.read_until_tagged(b"a1")
        took = time.monotonic() - start
        second = slow.read_until_tagged(b"a2")
        assert first.ok and second.ok and second.lines(b"CAPABILITY")
        assert first.untagged == [] and took >= 0.8
        assert other_took < 0.5
    # count 1 by default: the next NOOP is prompt
    with client(srv) as c:
        t0 = time.monotonic()
        c.ok("NOOP")
        assert time.monotonic() - t0 < 0.5


def test_respond_no_unavailable_on_select(srv):
    fault = add_fault(srv.root, "demo", "respond", "--command", "SELECT", "--with", "NO", "--code", "UNAVAILABLE")
    with client(srv) as c:
        r = c.command("SELECT INBOX")
        assert r.tagged == b"%s NO [UNAVAILABLE] pushimapd test bed: fault %d (respond on SELECT with NO " \
                           b"[UNAVAILABLE])\r\n" % (r.tag, fault)
        assert r.untagged == []
        c.select()  # used up
        assert c.ok("EXAMINE INBOX")


def test_respond_bad_counts_and_until_cleared(srv):
    add_fault(srv.root, "demo", "respond", "--command", "NOOP", "--with", "BAD", "--count", "2")
    forever = add_fault(srv.root, "demo", "respond", "--command", "UID FETCH", "--with", "NO", "--count", "0")
    listed = cli(srv.root, "fault", "list", "demo")
    assert "respond on NOOP with BAD\t2 left" in listed and "until cleared" in listed
    with client(srv) as c:
        assert [c.command("NOOP").status for _ in range(3)] == ["BAD", "BAD", "OK"]
        c.select()
        assert c.command("FETCH 1 (FLAGS)").ok  # not the UID form
        for _ in range(3):
            assert c.command("UID FETCH 1 (FLAGS)").status == "NO"
        assert re.search(r"^%d\tdemo\trespond on UID FETCH with NO\tuntil cleared\tfired 3\t" % forever,
                         cli(srv.root, "fault", "list"), re.M)
        assert "cleared 1 fault(s)" in cli(srv.root, "fault", "clear", "--id", str(forever))
        assert c.command("UID FETCH 1 (FLAGS)").ok  # the CLI's clear is seen at the next command


def test_respond_on_append_refuses_before_the_literal(srv):
    add_fault(srv.root, "demo", "respond", "--command", "APPEND", "--with", "NO", "--code", "OVERQUOTA",
              "--count", "2")
    message = b"Subject: refused\r\n\r\nnot stored\r\n"
    with client(srv) as c:
        before = c.ok("STATUS INBOX (MESSAGES)").lines(b"STATUS")[0]
        c.send(b"a1 APPEND INBOX {%d}\r\n" % len(message))
        refusal = c.read_response()  # no "+": the client never sends the literal
        assert re.fullmatch(rb"a1 NO \[OVERQUOTA\] pushimapd test bed: fault \d+ .*\r\n", refusal), refusal
        # LITERAL+: the literal is read and thrown away, the stream stays in step
        r = c.command(b"APPEND INBOX " + literal(message, plus=True))
        assert r.status == "NO" and r.code == "OVERQUOTA"
        assert c.ok("STATUS INBOX (MESSAGES)").lines(b"STATUS")[0] == before
        c.append("INBOX", message)  # used up
        assert c.ok("STATUS INBOX (MESSAGES)").lines(b"STATUS")[0] != before


def test_faults_apply_to_sessions_already_open_and_only_to_their_user(srv):
    with client(srv) as demo, client(srv, "alice", "alice") as alice:
        demo.ok("NOOP")
        add_fault(srv.root, "demo", "respond", "--command", "NOOP", "--with", "NO", "--count", "0")
        assert alice.command("NOOP").ok
        assert demo.command("NOOP").status == "NO"  # the CLI's fault, no restart
        assert demo.command("NOOP").status == "NO"


def test_uidvalidity_fault_gives_bye_and_new_uids(srv):
    cli(srv.root, "event", "demo", "create", "--mailbox", "Rebuilt")
    for _ in range(3):
        cli(srv.root, "event", "demo", "deliver", "--folder", "Rebuilt", "--sample")
    with client(srv) as c:
        c.ok("SELECT Rebuilt")
        c.ok(b"UID STORE 1 +FLAGS (\\Deleted)")
        c.ok("EXPUNGE")
        before = c.ok("SELECT Rebuilt")
        old_validity = int(before.code_value("UIDVALIDITY"))
        old_uids = [int(f[1]["UID"]) for f in c.ok("FETCH 1:* (UID)").fetches()]
        assert old_uids == [2, 3]
        tag = c.next_tag()
        c.send(tag + b" IDLE\r\n")
        assert c.read_response().startswith(b"+")
        fault = add_fault(srv.root, "demo", "uidvalidity", "--mailbox", "Rebuilt")
        seen = c.wait_for(lambda r: r.startswith(b"* BYE"), timeout=10)
        assert re.fullmatch(rb"\* BYE .*UIDVALIDITY.*\r\n", seen[-1]), seen
        assert all(not re.match(rb"\* \d+ (EXISTS|EXPUNGE)", r) for r in seen), seen
        assert c.is_closed(10)
    with client(srv) as c:
        after = c.ok("SELECT Rebuilt")
        assert int(after.code_value("UIDVALIDITY")) > old_validity
        uids = [int(f[1]["UID"]) for f in c.ok("FETCH 1:* (UID FLAGS)").fetches()]
        assert uids == [1, 2]  # renumbered, as a rebuild would
    wait_until(lambda: re.search(rb"test bed: fault %d \(uidvalidity mailbox Rebuilt\) fired for demo: "
                                 rb"UIDVALIDITY is now \d+" % fault, srv.log))
    wait_trace(srv.traces, r" \* fault %d \(uidvalidity mailbox Rebuilt\) fired" % fault, user="demo")
    assert cli(srv.root, "fault", "list") == ""


def test_push_fault_answers_instead_of_the_endpoint(srv):
    receiver = HTTPReceiver().start()
    try:
        add_fault(srv.root, "demo", "push", "--status", "429", "--retry-after", "1", "--count", "2")
        with IMAP(srv.port) as c:
            c.login("demo", PASSWORD)
            assert c.push_put(receiver.url("/wake"), b"hi").status == "OK"
        cli(srv.root, "event", "demo", "deliver", "--sample")
        # two attempts answered 429 by the fault (no request sent), the third is real
        [request] = receiver.wait_for(1, timeout=20)
        assert request.method == "PUT" and request.body == b"hi"
        log = srv.log
        assert len(re.findall(rb"push attempt \d for demo: no request sent, answered 429 by push status 429 "
                              rb"Retry-After 1", log)) >= 2
        assert re.search(rb"push attempt 2 to \S+ failed \(HTTP 429\); retry in 2.0s", log)
        # a 410 ends the delivery at once, and nothing reaches the endpoint
        add_fault(srv.root, "demo", "push", "--status", "410")
        with IMAP(srv.port) as c:
            c.login("demo", PASSWORD)
            assert c.push_put(receiver.url("/gone"), b"x").status == "OK"
        cli(srv.root, "event", "demo", "deliver", "--sample")
        wait_until(lambda: re.search(rb"push to http://127.0.0.1:\d+/\[redacted\] for demo: gone \(HTTP 410\)",
                                     srv.log))
        assert receiver.for_path("/gone") == []
    finally:
        receiver.stop()


def test_faults_survive_a_restart(tmp_path):
    root, traces = str(tmp_path / "mail"), str(tmp_path / "traces")
    import os

    os.makedirs(root)
    server = start_testbed(root, traces, sample=False)
    try:
        add_fault(root, "demo", "respond", "--command", "NOOP", "--with", "NO", "--count", "2")
        with RawIMAP(server.port) as c:
            c.login()
            assert c.command("NOOP").status == "NO"
    finally:
        server.stop()
    server.start()
    try:
        with RawIMAP(server.port) as c:
            c.login()
            assert [c.command("NOOP").status for _ in range(2)] == ["NO", "OK"]
    finally:
        server.stop()


def test_fault_cli_refuses_what_it_cannot_do(env):
    from conftest import run_cli

    for args in (["nobody", "bye"], ["demo", "delay"], ["demo", "respond", "--with", "NO"],
                 ["demo", "respond", "--command", "SELECT", "--with", "MAYBE"], ["demo", "push"],
                 ["demo", "uidvalidity"], ["demo", "uidvalidity", "--mailbox", "Nope"],
                 ["demo", "bye", "--after", "-1"], ["demo", "push", "--status", "429", "--command", "X"]):
        done = run_cli("fault", "add", *args, root=env.root)
        assert done.returncode != 0, args
        assert done.stderr.startswith(b"pushimapd: ") and done.stderr.count(b"\n") == 1, done.stderr


def test_trace_files_parse_and_hold_no_password(srv):
    with client(srv) as c:
        c.ok("SELECT INBOX")
        c.ok("FETCH 1:* (BODY.PEEK[])")  # the big message is summarised
        c.append("INBOX", b"Subject: traced\r\n\r\n" + b"x" * 3000 + b"\r\n")
        c.ok("LOGOUT")
    with RawIMAP(srv.port) as c:  # a literal password and AUTHENTICATE PLAIN
        c.command_with_literals(["LOGIN demo ", PASSWORD.encode()])
        c.ok("LOGOUT")
    import base64

    with RawIMAP(srv.port) as c:
        c.ok(b"AUTHENTICATE PLAIN " + base64.b64encode(b"\0demo\0" + PASSWORD.encode()))
        c.ok("LOGOUT")
    with RawIMAP(srv.port) as c:  # never logs in
        c.ok("CAPABILITY")
    wait_until(lambda: len(trace_files(srv.traces, "demo")) >= 3 and trace_files(srv.traces, "-"))
    wait_until(lambda: all(open(p).read().rstrip().endswith("connection closed") for p in trace_files(srv.traces)))
    big = 0
    for path in trace_files(srv.traces):
        lines = parse_trace(path)
        text = open(path).read()
        assert PASSWORD not in text and base64.b64encode(b"\0demo\0" + PASSWORD.encode()).decode() not in text
        assert all(len(line) < 40_000 for line in text.splitlines())
        big += len(re.findall(r" [CS] \{\d{4,} bytes\}$", text, re.M))
        assert lines[0][1] == "*" and lines[-1][2] == "connection closed"
        name = path.rsplit("/", 1)[-1]
        assert re.fullmatch(r"\d{8}T\d{6}\.\d{3}Z-(demo|alice|-)-127\.0\.0\.1_\d+-\d+\.log", name), name
    assert big >= 2  # the FETCH's big literal (S) and the APPEND's (C)


def test_compressed_session_is_traced_as_plain_protocol(srv):
    import zlib

    with client(srv) as c:
        c.ok("COMPRESS DEFLATE")
        deflate, inflate = zlib.compressobj(wbits=-15), zlib.decompressobj(wbits=-15)
        c.send(deflate.compress(b"z1 SELECT INBOX\r\nz2 NOOP\r\n") + deflate.flush(zlib.Z_SYNC_FLUSH))
        got = b""
        while b"z2 OK" not in got:
            got += inflate.decompress(c.sock.recv(65536))
        assert b"z1 OK [READ-WRITE]" in got
    path = wait_trace(srv.traces, r" C z2 NOOP\\r\\n$", user="demo")
    lines = parse_trace(path)
    assert ("S", "z1 OK [READ-WRITE] SELECT completed\\r\\n") in [(d, t) for _, d, t in lines]

"""PUSH-NOTIFY-HTTP=PUT against a real pushimapd process, over real TCP.

The contract is docs/push.md. Every test starts its own
server over a copy of a template Maildir root (users demo/demo and
alice/alice, a few folders), registers push URLs over IMAP, delivers mail the
way an MTA does (tmp/ then rename into new/, from another process) and
watches a real HTTP receiver on 127.0.0.1.

"Nothing was sent" is never proven by sleeping: a *barrier* (alice registers
a URL, mail is delivered to alice, the test waits for that PUT) is a positive
event that comes after everything the server did with earlier deliveries,
because the watcher handles file events in order and fires synchronously.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import time

import pytest

from conftest import ServerProcess
from push_util import (HTTPReceiver, IMAP, Literal, PushServer, cli_deliver, make_folder, message, mta_deliver,
                       parse_push_list, push_list_cli, quote, wait_until)

PERMISSIVE = ("--push-allow-http", "--push-allow-private", "--sync-interval", "3600")
USERS = (("demo", "demo"), ("alice", "alice"), ("carol", "Pa55-w0rd-XYZ"))
FOLDERS = ("Junk", "spam", "Lists.imap-protocol", "Archive", "Archive.Junk")
PUT_HEADERS_CT = "application/x-www-form-urlencoded"


# --------------------------------------------------------------------------------------
# fixtures and helpers
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A Maildir root with both users and demo's folders, made once (user add is slow)."""
    root = str(tmp_path_factory.mktemp("push-template") / "mail")
    os.mkdir(root)
    ServerProcess(root, users=USERS).add_users()
    for folder in FOLDERS:
        make_folder(root, "demo", folder)
    return root


@pytest.fixture
def start_server(template, tmp_path):
    started: list[PushServer] = []

    def start(extra_args=PERMISSIVE, root: str | None = None) -> PushServer:
        if root is None:
            root = str(tmp_path / f"mail{len(started)}")
            shutil.copytree(template, root, symlinks=True)
        srv = PushServer(root, extra_args=list(extra_args), users=USERS).start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def server(start_server):
    return start_server()


@pytest.fixture
def receiver():
    rec = HTTPReceiver().start()
    yield rec
    rec.stop()


def login(srv: PushServer, user: str = "demo") -> IMAP:
    c = IMAP(srv.port)
    c.login(user, user)
    return c


def ok(resp):
    assert resp.status == "OK", resp.tagged
    return resp


_barriers = itertools.count(1)


def barrier(srv: PushServer, receiver: HTTPReceiver, user: str = "alice") -> None:
    """Returns once the server has handled every delivery made before the call."""
    path = f"/barrier/{next(_barriers)}"
    with login(srv, user) as c:
        ok(c.push_put(receiver.url(path), "barrier"))
    mta_deliver(srv.root, user)
    receiver.wait_for(1, path=path)


def non_barrier(receiver: HTTPReceiver) -> list:
    return [r for r in receiver.requests if not r.path.startswith(b"/barrier/")]


# --------------------------------------------------------------------------------------
# capability, state
# --------------------------------------------------------------------------------------
def test_capability_before_and_after_login(server):
    with IMAP(server.port) as c:
        pre = c.command(b"CAPABILITY")
        assert any(b"PUSH-NOTIFY-HTTP=PUT" in u.split() for u in pre.lines(b"CAPABILITY")), pre.untagged
        resp = c.login()
        code = resp.tagged.split(b"[", 1)[1].split(b"]", 1)[0] if b"[" in resp.tagged else b""
        assert code.startswith(b"CAPABILITY ") and b"PUSH-NOTIFY-HTTP=PUT" in code.split(), resp.tagged
        post = c.command(b"CAPABILITY")
        assert any(b"PUSH-NOTIFY-HTTP=PUT" in u.split() for u in post.lines(b"CAPABILITY")), post.untagged


def test_not_authenticated_never_ok(server, receiver):
    with IMAP(server.port) as c:
        for resp in (c.push_put(receiver.url("/pre"), "x"),
                     c.push_put(receiver.url("/pre"), "x", literal=True),
                     c.command(b"PUSH-NOTIFY-HTTP LIST"),
                     c.push_cancel(receiver.url("/pre"))):
            assert resp.status in ("BAD", "NO"), resp.tagged
            assert not any(b"PUSH-NOTIFY-HTTP PUT" in u.upper() for u in resp.untagged), resp.untagged
        bad_login = c.command(b'LOGIN "demo" "wrong"')
        assert bad_login.status == "NO"
        assert c.push_put(receiver.url("/pre"), "x").status in ("BAD", "NO")
        c.login()
        assert c.push_list() == []
    assert push_list_cli(server.root)[0] == 0


# --------------------------------------------------------------------------------------
# PUT / LIST / CANCEL
# --------------------------------------------------------------------------------------
TRICKY_PATH = "/push/v1/abc%2Fdef;x=1/~user!$'()*,=:@?token=a%2Bb&sig=%7e&empty=&&"
PRINTABLE = bytes(range(0x20, 0x7F))


def test_put_is_committed_and_the_request_is_exact(server, receiver):
    """PUT -> OK, committed before the tagged OK; the PUT request carries exactly the payload."""
    tricky, empty, biggest = receiver.url(TRICKY_PATH), receiver.url("/empty"), receiver.url("/max")
    with login(server) as c:
        ok(c.push_put(tricky, PRINTABLE))
        regs, _, text = push_list_cli(server.root)  # another process sees it right after the OK
        assert regs == 1 and tricky in text, text
        ok(c.push_put(empty, b""))
        ok(c.push_put(biggest, b"p" * 512, literal=True))
        assert c.push_list() == [(tricky.encode(), PRINTABLE), (empty.encode(), b""), (biggest.encode(), b"p" * 512)]
    cli_deliver(server.root, "demo")
    got = receiver.wait_for(3)
    by_path = {r.path: r for r in got}
    assert len(by_path) == 3, receiver.summary()
    expected = {TRICKY_PATH.encode().split(b"?")[0]: PRINTABLE, b"/empty": b"", b"/max": b"p" * 512}
    for r in got:
        body = expected[r.path]
        target = r.path if r.path in (b"/empty", b"/max") else TRICKY_PATH.encode()
        assert r.method == "PUT"
        assert r.version == "HTTP/1.1"
        assert r.target == target, (r.target, target)
        assert r.header("Content-Type") == [PUT_HEADERS_CT], r.headers
        assert r.header("Content-Length") == [str(len(body))], r.headers
        assert r.header("Transfer-Encoding") == [], r.headers
        assert r.body == body
    with login(server) as c:
        assert c.push_list() == []  # one-shot: consumed


def test_put_same_url_replaces_and_reorders(server, receiver):
    a, b, c_url = receiver.url("/a"), receiver.url("/b"), receiver.url("/c")
    with login(server) as c:
        ok(c.push_put(a, "first"))
        ok(c.push_put(b, "b"))
        ok(c.push_put(c_url, "c"))
        ok(c.push_put(a, "second"))
        assert c.push_list() == [(b.encode(), b"b"), (c_url.encode(), b"c"), (a.encode(), b"second")]
    cli_deliver(server.root, "demo")
    got = receiver.wait_for(3)
    assert sorted((r.path, r.body) for r in got) == [(b"/a", b"second"), (b"/b", b"b"), (b"/c", b"c")]


def test_limit_of_sixteen_and_replacement_does_not_count(server, receiver):
    urls = [receiver.url(f"/r{i}") for i in range(16)]
    with login(server) as c:
        for url in urls:
            ok(c.push_put(url, "x"))
        over = c.push_put(receiver.url("/r16"), "x")
        assert (over.status, over.code) == ("NO", "LIMIT"), over.tagged
        ok(c.push_put(urls[0], "replaced"))  # replacing at the limit is fine
        listed = c.push_list()
        assert [u for u, _ in listed] == [u.encode() for u in urls[1:] + urls[:1]]
        assert listed[-1][1] == b"replaced"
        ok(c.push_cancel(urls[5]))
        ok(c.push_put(receiver.url("/r16"), "x"))
        over = c.push_put(receiver.url("/r17"), "x")
        assert (over.status, over.code) == ("NO", "LIMIT"), over.tagged
        assert len(c.push_list()) == 16
    with login(server, "alice") as c:  # the limit is per user
        ok(c.push_put(receiver.url("/alice"), "x"))


INVALID = [
    ("ftp://example.com/push", "x"),
    ("mailto:push@example.com", "x"),
    ("file:///etc/passwd", "x"),
    ("example.com/push", "x"),
    ("/push/relative", "x"),
    ("//example.com/scheme-relative", "x"),
    ("https:example.com/push", "x"),
    ("https://user:pass@example.com/push", "x"),
    ("https://example.com/push#fragment", "x"),
    ("https://example.com/push#", "x"),
    ("https://example.com/" + "a" * 2029, "x"),  # 2049 octets
    ("", "x"),
    ("https://exa mple.com/push", "x"),
    ("https://example.com/caf\xe9".encode("latin-1"), "x"),
    ("https://example.com/push", "p" * 513),
    ("https://example.com/push", "tab\there"),
    ("https://example.com/push", "ctl\x01"),
    ("https://example.com/push", "del\x7f"),
    ("https://example.com/push", "line\r\nbreak"),
    ("https://example.com/push", "nul\x00"),
    ("https://example.com/push", "caf\xe9".encode("latin-1")),
    ("https://example.com/push", "caf\xc3\xa9".encode("latin-1")),
]


def test_invalid_url_or_payload_is_bad_and_stores_nothing(server, receiver):
    assert len("https://example.com/" + "a" * 2029) == 2049
    keep = receiver.url("/keep")
    failures = []
    with login(server) as c:
        ok(c.push_put(keep, "original"))
        for url, payload in INVALID:  # as literals: only the contract's rules can object
            resp = c.push_put(url, payload, literal=True)
            if resp.status != "BAD":
                failures.append((url, payload, resp.tagged))
        for payload in ("p" * 513, "tab\there", "caf\xe9".encode("latin-1")):  # replacing with junk
            resp = c.push_put(keep, payload, literal=True)
            if resp.status != "BAD":
                failures.append((keep, payload, resp.tagged))
        listed = c.push_list()
    assert not failures, failures
    assert listed == [(keep.encode(), b"original")]


def test_malformed_commands_are_bad(server, receiver):
    url = quote(receiver.url("/m"))
    with login(server) as c:
        for cmd in (b"PUSH-NOTIFY-HTTP", b"PUSH-NOTIFY-HTTP FROB", b"PUSH-NOTIFY-HTTP PUT " + url,
                    b"PUSH-NOTIFY-HTTP PUT " + url + b' "p" extra', b"PUSH-NOTIFY-HTTP CANCEL",
                    b"PUSH-NOTIFY-HTTP CANCEL " + url + b' "p"', b"PUSH-NOTIFY-HTTP LIST extra",
                    b"PUSH-NOTIFY-HTTP PUT (" + url + b') "p"'):
            resp = c.command(cmd)
            assert resp.status == "BAD", (cmd, resp.tagged)
        assert c.push_list() == []


def test_boundaries_and_forms_accepted(server, receiver):
    longest = receiver.url("/") + "a" * (2048 - len(receiver.url("/")))
    assert len(longest) == 2048
    with login(server) as c:
        ok(c.push_put(longest, "p" * 512, literal=True))
        ok(c.push_put(receiver.url("/x").replace("http://", "HTTP://"), "upper-case scheme"))
        # astring: atoms, quoted strings, synchronizing literals and LITERAL+
        ok(c.command(b"PUSH-NOTIFY-HTTP PUT " + receiver.url("/atom?a=1&b=2").encode() + b" atom-payload"))
        ok(c.command(b"PUSH-NOTIFY-HTTP PUT ", Literal(receiver.url("/lit")), b" ", Literal("lit payload")))
        ok(c.command(b"PUSH-NOTIFY-HTTP PUT ", Literal(receiver.url("/plus"), plus=True), b" ",
                     Literal('plus "payload"', plus=True)))
        listed = dict(c.push_list())
    assert listed[longest.encode()] == b"p" * 512
    assert listed[receiver.url("/atom?a=1&b=2").encode()] == b"atom-payload"
    assert listed[receiver.url("/lit").encode()] == b"lit payload"
    assert listed[receiver.url("/plus").encode()] == b'plus "payload"'


def test_keywords_are_case_insensitive(server, receiver):
    url = receiver.url("/case")
    with login(server) as c:
        ok(c.command(b"push-notify-http put ", quote(url), b' "lower"'))
        ok(c.command(b"Push-Notify-Http Put ", quote(url), b' "mixed"'))
        resp = ok(c.command(b"push-notify-http list"))
        assert parse_push_list(resp.untagged) == [(url.encode(), b"mixed")]
        ok(c.command(b"PUSH-notify-HTTP cAnCeL ", quote(url)))
        assert c.push_list() == []


def test_cancel(server, receiver):
    url = receiver.url("/cancel/Token")
    with login(server) as c:
        ok(c.push_put(url, "x"))
        for other in (url + "/", url.replace("Token", "token"), url.replace("127.0.0.1", "localhost"),
                      receiver.url("/never-registered")):
            resp = c.push_cancel(other)
            assert (resp.status, resp.code) == ("NO", "NONEXISTENT"), (other, resp.tagged)
        assert c.push_list() == [(url.encode(), b"x")]
        ok(c.push_cancel(url, literal=True))
        assert c.push_list() == []
        resp = c.push_cancel(url)
        assert (resp.status, resp.code) == ("NO", "NONEXISTENT"), resp.tagged
    mta_deliver(server.root, "demo")
    barrier(server, receiver)
    assert non_barrier(receiver) == []  # a cancelled registration never fires


def test_urls_compare_byte_for_byte(server, receiver):
    one, two = receiver.url("/Same"), receiver.url("/same")
    with login(server) as c:
        ok(c.push_put(one, "1"))
        ok(c.push_put(two, "2"))
        ok(c.push_put(one + "?", "3"))
        assert c.push_list() == [(one.encode(), b"1"), (two.encode(), b"2"), ((one + "?").encode(), b"3")]


def test_list_order_and_only_own_registrations(server, receiver):
    a, b, c_url, d = (receiver.url(p) for p in ("/a", "/b", "/c", "/d"))
    with login(server) as demo, login(server, "alice") as alice:
        ok(demo.push_put(a, "demo-a"))
        ok(demo.push_put(b, "demo-b"))
        ok(alice.push_put(d, "alice-d"))
        ok(alice.push_put(a, "alice-a"))  # same URL, other user: a separate registration
        ok(demo.push_put(c_url, "demo-c"))
        ok(demo.push_put(a, "demo-a2"))
        ok(demo.command(b"SELECT INBOX"))  # LIST works in the selected state too
        assert demo.push_list() == [(b.encode(), b"demo-b"), (c_url.encode(), b"demo-c"), (a.encode(), b"demo-a2")]
        assert alice.push_list() == [(d.encode(), b"alice-d"), (a.encode(), b"alice-a")]
        resp = alice.push_cancel(b)
        assert (resp.status, resp.code) == ("NO", "NONEXISTENT"), resp.tagged
        ok(alice.push_cancel(a))
        assert len(demo.push_list()) == 3
        assert alice.push_list() == [(d.encode(), b"alice-d")]


# --------------------------------------------------------------------------------------
# target policy (server started without --push-allow-*)
# --------------------------------------------------------------------------------------
REFUSED = [
    "http://push.example.com/x", "http://93.184.216.34/x",
    "https://127.0.0.1/x", "https://127.0.0.1:8443/x", "https://127.255.255.254/x", "HTTPS://127.0.0.1/x",
    "https://[::1]/x", "https://[::1]:8443/x",
    "https://10.1.2.3/x", "https://172.16.0.1/x", "https://172.31.255.255/x", "https://192.168.1.10/x",
    "https://169.254.169.254/latest/meta-data", "https://100.64.0.1/x", "https://100.127.255.254/x",
    "https://0.0.0.0/x", "https://224.0.0.1/x", "https://239.255.255.250/x", "https://255.255.255.255/x",
    "https://[::]/x", "https://[fd00::1]/x", "https://[fc00::1]/x", "https://[fe80::1]/x", "https://[ff02::1]/x",
    "https://[::ffff:127.0.0.1]/x", "https://[::ffff:7f00:1]/x", "https://[::ffff:10.0.0.1]/x",
    "https://[::ffff:192.168.0.1]/x", "https://[64:ff9b::a00:1]/x", "https://[2002:7f00:1::]/x",
    "https://[::127.0.0.1]/x",
]


def test_policy_refusals_are_no_cannot(start_server):
    srv = start_server(extra_args=())
    failures = []
    with login(srv) as c:
        for url in REFUSED:
            resp = c.push_put(url, "x")
            if (resp.status, resp.code) != ("NO", "CANNOT"):
                failures.append((url, resp.tagged))
        stored = c.push_list()
        # hostnames and public literals over https are fine
        for url in ("https://push.example.com/x", "https://93.184.216.34/x", "https://[2606:4700::1111]/x"):
            ok(c.push_put(url, "x"))
            ok(c.push_cancel(url))
    assert not failures, failures
    assert stored == []


def _refused_at_send(srv: PushServer, receiver: HTTPReceiver, url: str) -> None:
    with login(srv) as c:
        ok(c.push_put(url, "secret-payload"))  # a hostname: nothing to check at registration
    mta_deliver(srv.root, "demo")
    wait_until(lambda: push_list_cli(srv.root)[:2] == (0, 0),
               message=lambda: "fired delivery never finished:\n" + push_list_cli(srv.root)[2])
    srv.wait_log(rb"(?i)refused", timeout=5)
    assert receiver.connections == 0 and receiver.requests == [], receiver.summary()


def test_hostname_resolving_to_loopback_is_refused_at_send(start_server, receiver):
    srv = start_server(extra_args=())
    _refused_at_send(srv, receiver, receiver.url("/s3cr3t-path?token=s3cr3t", scheme="https", host="localhost"))


def test_http_allowed_but_private_still_refused(start_server, receiver):
    srv = start_server(extra_args=("--push-allow-http",))
    with login(srv) as c:
        for url in (receiver.url("/x"), receiver.url("/x", host="[::1]"), receiver.url("/x", host="10.0.0.1")):
            resp = c.push_put(url, "x")
            assert (resp.status, resp.code) == ("NO", "CANNOT"), (url, resp.tagged)
    _refused_at_send(srv, receiver, receiver.url("/s3cr3t?token=s3cr3t", host="localhost"))


def test_logs_redact_push_urls_and_never_show_passwords(server, receiver):
    """The server as started by default: no push URL path/query, no password in its log."""
    receiver.script("/s3cr3t-retry", [503, 200])
    with IMAP(server.port) as c:
        assert c.command(b'LOGIN "carol" "Wr0ng-Pa55-QQQ"').status == "NO"
        c.login("carol", "Pa55-w0rd-XYZ")
        ok(c.push_put(receiver.url("/s3cr3t-path?token=s3cr3t-token"), "s3cr3t-payload"))
        ok(c.push_put(receiver.url("/s3cr3t-retry?token=s3cr3t"), "p", literal=True))
        ok(c.push_put(receiver.url("/s3cr3t-cancel"), "p"))
        ok(c.push_cancel(receiver.url("/s3cr3t-cancel")))
        assert c.push_cancel(receiver.url("/s3cr3t-unknown")).code == "NONEXISTENT"
    mta_deliver(server.root, "carol")
    receiver.wait_for(2, path="/s3cr3t-retry", timeout=10)
    receiver.wait_for(1, path="/s3cr3t-path")
    server.wait_log(rb"127\.0\.0\.1:%d" % receiver.port)  # the host is shown ...
    wait_until(lambda: push_list_cli(server.root)[:2] == (0, 0))
    server.stop()
    leaked = [line for line in server.log.splitlines() if b"s3cr3t" in line or b"Pa55" in line]
    assert not leaked, leaked  # ... the path, query and payload are not


# --------------------------------------------------------------------------------------
# firing
# --------------------------------------------------------------------------------------
def test_one_shot_and_later_registration_not_fired(server, receiver):
    first, later = receiver.url("/first"), receiver.url("/later")
    with login(server) as c:
        ok(c.push_put(first, "1"))
    cli_deliver(server.root, "demo")
    receiver.wait_for(1, path="/first")
    with login(server) as c:
        assert c.push_list() == []
        ok(c.push_put(later, "2"))  # after the delivery was handled: not fired by it
        assert c.push_list() == [(later.encode(), b"2")]
    mta_deliver(server.root, "demo")
    receiver.wait_for(1, path="/later")
    mta_deliver(server.root, "demo")  # nothing registered any more
    barrier(server, receiver)
    assert [(r.path, r.body) for r in non_barrier(receiver)] == [(b"/first", b"1"), (b"/later", b"2")]


def test_registration_right_after_a_delivery_is_not_fired_by_it(server, receiver):
    """The delivery is complete (renamed into new/) before the PUT is even sent."""
    url = receiver.url("/right-after")
    with login(server) as c:
        mta_deliver(server.root, "demo")
        ok(c.push_put(url, "after"))
        barrier(server, receiver)
        assert c.push_list() == [(url.encode(), b"after")], "fired by a delivery made before it was registered"
    assert non_barrier(receiver) == []


def test_burst_gives_one_put_per_registration(server, receiver):
    with login(server) as c:
        ok(c.push_put(receiver.url("/one"), "1"))
        ok(c.push_put(receiver.url("/two"), "2"))
    for i in range(20):  # one MTA process writing 20 messages
        mta_deliver(server.root, "demo", data=message(f"burst {i}"))
    receiver.wait_for(2)
    barrier(server, receiver)
    assert sorted((r.path, r.body) for r in non_barrier(receiver)) == [(b"/one", b"1"), (b"/two", b"2")]
    with login(server) as c:
        assert c.push_list() == []


def test_quiet_folders_never_fire(server, receiver):
    url = receiver.url("/quiet")
    with login(server) as c:
        ok(c.push_put(url, "q"))
    cli_deliver(server.root, "demo", "Junk")
    mta_deliver(server.root, "demo", "spam")  # on disk .spam: case-insensitive
    barrier(server, receiver)
    with login(server) as c:
        assert c.push_list() == [(url.encode(), b"q")]
    assert non_barrier(receiver) == []
    cli_deliver(server.root, "demo", "Lists.imap-protocol")  # nested folders are not quiet
    receiver.wait_for(1, path="/quiet")
    with login(server) as c:
        ok(c.push_put(url, "again"))
    mta_deliver(server.root, "demo", "Archive.Junk")  # only the top-level Junk is
    assert [r.body for r in receiver.wait_for(2, path="/quiet")] == [b"q", b"again"]


def test_special_use_junk_folder_is_quiet(server, receiver):
    with login(server) as c:
        ok(c.command(b"CREATE Bulk (USE (\\Junk))"))
        listed = c.command(b'LIST "" "Bulk"')
        assert any(b"\\Junk" in u for u in listed.untagged), listed.untagged
        ok(c.push_put(receiver.url("/bulk"), "b"))
    wait_until(lambda: os.path.isdir(os.path.join(server.root, "demo", ".Bulk", "new")))
    cli_deliver(server.root, "demo", "Bulk")
    barrier(server, receiver)
    with login(server) as c:
        assert c.push_list() == [(receiver.url("/bulk").encode(), b"b")]
    mta_deliver(server.root, "demo")
    receiver.wait_for(1, path="/bulk")


def test_imap_client_operations_never_fire(server, receiver):
    url = receiver.url("/imap")
    mta_deliver(server.root, "demo")  # an unseen message in new/ before anything is registered
    mta_deliver(server.root, "demo")
    barrier(server, receiver)
    with login(server) as c:
        ok(c.push_put(url, "i"))
        ok(c.command(b"SELECT INBOX"))  # the server may move new/ -> cur/ now
        ok(c.command(b"FETCH 1:* (FLAGS BODY[])"))
        msg = message("appended")
        ok(c.command(b"APPEND INBOX ", Literal(msg)))
        ok(c.command(b"APPEND INBOX (\\Seen) ", Literal(msg)))
        ok(c.command(b"APPEND Archive ", Literal(msg, plus=True)))
        ok(c.command(b"CREATE Other"))
        ok(c.command(b"NOOP"))
        ok(c.command(b"COPY 1:2 Other"))
        ok(c.command(b"STORE 1 +FLAGS (\\Flagged \\Seen)"))
        ok(c.command(b"MOVE 2 Other"))
        ok(c.command(b"STORE 1 +FLAGS (\\Deleted)"))
        ok(c.command(b"EXPUNGE"))
        ok(c.command(b"RENAME Other Other2"))
        ok(c.command(b"SELECT Other2"))
        ok(c.command(b"STORE 1:* -FLAGS (\\Seen)"))
        ok(c.command(b"COPY 1 INBOX"))
        ok(c.command(b"LOGOUT"))
    barrier(server, receiver)
    with login(server) as c:
        assert c.push_list() == [(url.encode(), b"i")]
    assert non_barrier(receiver) == [], receiver.summary()
    cli_deliver(server.root, "demo", "Other2")  # a folder made over IMAP after start is watched
    assert [r.body for r in receiver.wait_for(1, path="/imap")] == [b"i"]


def test_folder_created_with_its_first_message_fires(server, receiver):
    """sieve ``fileinto :create``: the folder and its first message appear together."""
    with login(server) as c:
        ok(c.push_put(receiver.url("/fresh"), "f"))
    make_folder(server.root, "demo", "Fresh")
    mta_deliver(server.root, "demo", "Fresh")
    receiver.wait_for(1, path="/fresh", timeout=3)


def test_users_are_isolated(server, receiver):
    with login(server) as demo, login(server, "alice") as alice:
        ok(demo.push_put(receiver.url("/demo"), "d"))
        ok(alice.push_put(receiver.url("/alice"), "a"))
        assert demo.push_list() == [(receiver.url("/demo").encode(), b"d")]
        assert alice.push_list() == [(receiver.url("/alice").encode(), b"a")]
    cli_deliver(server.root, "alice")
    receiver.wait_for(1, path="/alice")
    with login(server) as demo:
        assert demo.push_list() == [(receiver.url("/demo").encode(), b"d")]
    mta_deliver(server.root, "demo")
    receiver.wait_for(1, path="/demo")
    assert sorted((r.path, r.body) for r in receiver.requests) == [(b"/alice", b"a"), (b"/demo", b"d")]


def test_re_put_drops_pending_retries(server, receiver):
    u, v = receiver.url("/u"), receiver.url("/v")
    receiver.script("/u", [503, 200])  # would retry after 1 s
    receiver.script("/v", [(503, {"Retry-After": "3"}), 200])  # retries after 3 s: a later event
    with login(server) as c:
        ok(c.push_put(u, "old"))
        ok(c.push_put(v, "v"))
        mta_deliver(server.root, "demo")
        receiver.wait_for(1, path="/u")
        ok(c.push_put(u, "new"))  # the client caught up: drop u's retries
    receiver.wait_for(2, path="/v", timeout=20)
    assert [(r.body, r.status) for r in receiver.for_path("/u")] == [(b"old", 503)]
    mta_deliver(server.root, "demo")
    assert [(r.body, r.status) for r in receiver.wait_for(2, path="/u")] == [(b"old", 503), (b"new", 200)]


# --------------------------------------------------------------------------------------
# durability: kill -9
# --------------------------------------------------------------------------------------
def test_registration_survives_kill_9(start_server, receiver):
    srv = start_server()
    url = receiver.url("/durable?k=1")
    mta_deliver(srv.root, "demo")  # old mail waiting in new/ must not fire on restart
    barrier(srv, receiver)
    with login(srv) as c:
        ok(c.push_put(url, "survives"))
    srv.stop(signal.SIGKILL)
    srv = start_server(root=srv.root)
    with login(srv) as c:
        assert c.push_list() == [(url.encode(), b"survives")]
    mta_deliver(srv.root, "demo")
    got = receiver.wait_for(1, path="/durable")
    assert (got[0].target, got[0].body) == (b"/durable?k=1", b"survives")


def test_unfinished_delivery_resumes_after_kill_9(start_server, receiver):
    srv = start_server()
    url = receiver.url("/resume")
    receiver.script("/resume", [503, 200])
    with login(srv) as c:
        ok(c.push_put(url, "at-least-once"))
    mta_deliver(srv.root, "demo")
    receiver.wait_for(1, path="/resume")  # answered 503: the server is in its backoff now
    srv.stop(signal.SIGKILL)
    srv = start_server(root=srv.root)
    got = receiver.wait_for(2, path="/resume", timeout=20)
    assert [(r.body, r.status) for r in got[:2]] == [(b"at-least-once", 503), (b"at-least-once", 200)]
    wait_until(lambda: push_list_cli(srv.root)[:2] == (0, 0),
               message=lambda: push_list_cli(srv.root)[2])
    with login(srv) as c:
        assert c.push_list() == []


# --------------------------------------------------------------------------------------
# IDLE
# --------------------------------------------------------------------------------------
def test_idle_sessions_hear_of_a_delivery(server):
    mta_deliver(server.root, "demo")
    sessions = [login(server), login(server)]
    try:
        counts = []
        for c in sessions:
            resp = ok(c.command(b"SELECT INBOX"))
            counts.append(max(int(u.split()[1]) for u in resp.untagged if u.upper().endswith(b" EXISTS\r\n")))
            c.idle_start()
        assert counts == [1, 1]
        cli_deliver(server.root, "demo")
        delivered = time.monotonic()
        for c in sessions:
            m = c.wait_untagged(rb"\* (\d+) EXISTS\r\n", timeout=5)
            assert int(m.group(1)) == 2
        assert time.monotonic() - delivered < 1.0, "EXISTS took longer than a second"
        for c in sessions:
            assert c.idle_done().status == "OK"
    finally:
        for c in sessions:
            c.close()

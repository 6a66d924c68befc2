"""The web console: its JSON endpoints and streams, its access rule, and the
real pages in headless Chromium (Debian's, driven by playwright)."""

from __future__ import annotations

import imaplib
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from conftest import REPO, require_binary
from imap_raw import RawIMAP
from push_util import HTTPReceiver, IMAP, wait_until
from testbed_util import start_testbed

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    base = tmp_path_factory.mktemp("console")
    root, traces = str(base / "mail"), str(base / "traces")
    os.makedirs(root)
    server = start_testbed(root, traces, console=True, users=(("demo", "demo"), ("alice", "alice")),
                           extra_args=["--push-allow-http", "--push-allow-private"])
    server.root = root
    server.base = f"http://127.0.0.1:{server.console_port}"
    yield server
    server.stop()


def get(srv, path: str, headers=None):
    request = urllib.request.Request(srv.base + path, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def post(srv, path: str, body: dict, content_type: str = "application/json"):
    request = urllib.request.Request(srv.base + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_sessions_appear_with_state_and_commands(srv):
    with RawIMAP(srv.port) as c:
        c.login("alice", "alice")
        c.ok("ENABLE CONDSTORE")
        c.select("INBOX")
        mine = wait_until(lambda: [s for s in get(srv, "/api/sessions")
                                   if s["user"] == "alice" and s["selected"] == "INBOX" and s["state"] == "selected"])
        [session] = mine
        assert session["enabled"] == ["CONDSTORE"]
        assert any("SELECT" in command for command in session["commands"])
        assert any("LOGIN [redacted]" in command for command in session["commands"])
        detail = get(srv, f"/api/sessions/{session['id']}")
        assert any(" C " in line and "SELECT" in line for line in detail["trace"])
        assert not any("alice alice" in line for line in detail["trace"])
    wait_until(lambda: get(srv, f"/api/sessions/{session['id']}")["state"] == "closed")


def test_faults_through_the_api(srv):
    status, fault = post(srv, "/api/faults", {"user": "alice", "kind": "respond", "command": "NOOP", "with": "NO",
                                              "code": "UNAVAILABLE", "count": "0"})
    assert status == 200 and fault["description"] == "respond on NOOP with NO [UNAVAILABLE]"
    assert [f["id"] for f in get(srv, "/api/faults")] == [fault["id"]]
    with RawIMAP(srv.port) as c:
        c.login("alice", "alice")
        r = c.command("NOOP")
        assert r.status == "NO" and r.code == "UNAVAILABLE"
        assert post(srv, "/api/faults/clear", {"user": "alice"}) == (200, {"cleared": 1})
        assert c.command("NOOP").ok
    assert post(srv, "/api/faults", {"user": "alice", "kind": "delay"})[0] == 400
    assert post(srv, "/api/faults", {"user": "nobody", "kind": "bye"})[0] == 400
    assert post(srv, "/api/faults", {"user": "alice", "kind": "bye"}, content_type="text/plain")[0] == 415
    assert get(srv, "/api/faults") == []


def test_events_through_the_api_reach_idle_sessions(srv):
    with RawIMAP(srv.port) as c:
        c.login("alice", "alice")
        exists = c.select("INBOX").numbers(b"EXISTS")[-1]
        c.send(b"i IDLE\r\n")
        assert c.read_response().startswith(b"+")
        status, done = post(srv, "/api/events", {"user": "alice", "kind": "deliver"})
        assert status == 200 and done["result"].startswith("deliver ")
        c.wait_for(lambda r: r == b"* %d EXISTS\r\n" % (exists + 1))
        status, done = post(srv, "/api/events", {"user": "alice", "kind": "flags", "mailbox": "INBOX",
                                                 "uid": "1", "flags": "+\\Flagged"})
        assert status == 200, done
        c.wait_for(lambda r: re.match(rb"\* 1 FETCH \(FLAGS \([^)]*\\Flagged", r) is not None)
    assert post(srv, "/api/events", {"user": "alice", "kind": "expunge", "mailbox": "INBOX"})[0] == 400


def test_stream_sends_session_events(srv):
    sock = socket.create_connection(("127.0.0.1", srv.console_port), timeout=10)
    sock.sendall(b"GET /api/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)
    assert b"text/event-stream" in data.split(b"\r\n\r\n")[0]
    with RawIMAP(srv.port) as c:
        c.login("alice", "alice")
        deadline = time.monotonic() + 10
        while not re.search(rb'event: session\r?\ndata: \{[^\n]*"user": "alice"[^\n]*"state": "authenticated"', data):
            assert time.monotonic() < deadline, data[-2000:]
            data += sock.recv(65536)
    sock.close()


def test_access_rule_unit():
    from pushimapd.testbed.console import access_allowed, endpoint_is_loopback, normalize_endpoint

    token = "s3cret-token"
    assert access_allowed("127.0.0.1", "127.0.0.1:8143", None, token)
    assert access_allowed("::1", "[::1]:8143", None, token)
    assert access_allowed("::ffff:127.0.0.1", "localhost:8143", None, token)
    assert not access_allowed("192.0.2.7", "192.0.2.1:8143", None, token)
    assert not access_allowed("192.0.2.7", "192.0.2.1:8143", "wrong", token)
    assert access_allowed("192.0.2.7", "192.0.2.1:8143", token, token)
    assert not access_allowed("127.0.0.1", "evil.example:8143", None, token)  # DNS rebinding
    assert normalize_endpoint("8143") == "tcp:8143:interface=127.0.0.1"
    assert normalize_endpoint("tcp:8143") == "tcp:8143:interface=127.0.0.1"
    assert normalize_endpoint("tcp:8143:interface=0.0.0.0") == "tcp:8143:interface=0.0.0.0"
    assert endpoint_is_loopback("tcp:0:interface=127.0.0.1") and not endpoint_is_loopback("tcp:1:interface=::")


def test_non_loopback_request_without_token_is_refused_by_the_resource():
    """The resource's own path (peer address from the request), with a peer
    that is not on loopback."""
    from twisted.internet.address import IPv4Address
    from twisted.web.test.requesthelper import DummyRequest

    from pushimapd.testbed.console import Console, ConsoleResource
    from pushimapd.testbed.hub import Hub

    class Book:
        on_reload: list = []

        def faults(self):
            return []

    class Users:
        def names(self):
            return ["demo"]

    console = Console(Hub(), Book(), None, "/nonexistent", Users(), token="tok")

    def render(peer: str, **headers) -> tuple[int, bytes]:
        request = DummyRequest([b"api", b"users"])
        request.path = b"/api/users"
        request.client = IPv4Address("TCP", peer, 40000)
        for name, value in headers.items():
            request.requestHeaders.setRawHeaders(name.replace("_", "-").encode(), [value.encode()])
        body = ConsoleResource(console).render(request)
        return request.responseCode or 200, body

    assert render("192.0.2.7")[0] == 403
    assert render("192.0.2.7", x_console_token="nope")[0] == 403
    assert render("192.0.2.7", x_console_token="tok") == (200, b'["demo"]')
    assert render("127.0.0.1") == (200, b'["demo"]')


def test_non_loopback_peer_needs_the_token_over_tcp(tmp_path):
    """For real: a private network namespace whose loopback interface also
    carries 10.77.0.1, the console bound to 0.0.0.0 and reached through it."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root, unshare and ip for a private network namespace")
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot make a network namespace here: {probe.stderr!r}")
    root = tmp_path / "mail"
    root.mkdir()
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    done = subprocess.run([unshare, "-n", sys.executable, os.path.join(REPO, "tests", "netns_console_check.py"),
                           str(root)], capture_output=True, timeout=120, env=env)
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert result == {"no_token": 403, "page_no_token": 403, "wrong_token": 403, "header_token": 200,
                      "query_token": 200, "loopback": 200}


# -- the real pages in a real browser ----------------------------------------------------------
@pytest.fixture
def browser(tmp_path):
    chromium = require_binary("chromium")
    try:
        import playwright.sync_api as playwright_api
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("playwright is not installed (the test extra has it)")
        pytest.skip("playwright is not installed")
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"), executable_path=chromium, headless=True, args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 760})
        context.set_default_timeout(15_000)
        try:
            yield context
        finally:
            context.close()


def screenshot(page, tmp_path, name: str) -> None:
    """Into tmp_path always; into docs/ when PUSHIMAPD_SCREENSHOTS=docs (how the docs' PNGs are made)."""
    page.screenshot(path=str(tmp_path / name))
    if os.environ.get("PUSHIMAPD_SCREENSHOTS") == "docs":
        shutil.copy(tmp_path / name, os.path.join(REPO, "docs", name))


def test_console_in_chromium(srv, browser, tmp_path):
    receiver = HTTPReceiver().start()
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        # sessions: one appears when imaplib logs in
        page.goto(srv.base + "/")
        imap = imaplib.IMAP4("127.0.0.1", srv.port)
        imap.login("demo", "demo")
        imap.select("INBOX")
        row = page.locator("#sessions tbody tr:not(.closed)", has_text="demo")
        row.locator("td.mailbox", has_text="INBOX").wait_for()
        assert "selected" in row.locator("td.state").inner_text()
        screenshot(page, tmp_path, "console-sessions.png")

        # a fault added from the page; the client hits it
        page.goto(srv.base + "/faults")
        page.select_option("#fault-form select[name=user]", "demo")
        page.select_option("#fault-form select[name=kind]", "respond")
        page.fill("#fault-form input[name=command]", "NOOP")
        page.select_option("#fault-form select[name=with]", "NO")
        page.fill("#fault-form input[name=code]", "UNAVAILABLE")
        page.click("#fault-form button[type=submit]")
        page.locator("#faults tbody tr", has_text="respond on NOOP with NO [UNAVAILABLE]").wait_for()
        page.fill("#fault-form input[name=command]", "FETCH")
        page.select_option("#fault-form select[name=kind]", "delay")
        page.click("#fault-form button[type=submit]")
        page.locator("#faults tbody tr", has_text="delay on FETCH 2000 ms").wait_for()
        screenshot(page, tmp_path, "console-faults.png")
        page.locator("#faults tbody tr", has_text="delay on FETCH").locator("button.clear").click()
        page.locator("#faults tbody tr", has_text="delay on FETCH").wait_for(state="detached")
        status, [text] = imap.noop()
        assert status == "NO" and text.startswith(b"[UNAVAILABLE] pushimapd test bed: fault ")
        page.locator("#faults tbody tr", has_text="respond on NOOP").wait_for(state="detached")  # used up
        assert imap.noop()[0] == "OK"

        # the session's trace shows it, live
        session_id = page.evaluate("fetch('/api/sessions').then(r => r.json())"
                                   ".then(s => s.find(x => x.user === 'demo' && x.state !== 'closed').id)")
        page.goto(srv.base + f"/session?id={session_id}")
        page.locator("#trace .dir-note", has_text="respond on NOOP with NO [UNAVAILABLE]) fired").wait_for()
        imap.store("1", "+FLAGS", "\\Flagged")
        page.locator("#trace", has_text="STORE 1 +FLAGS").wait_for()
        screenshot(page, tmp_path, "console-trace.png")

        # a push registration, then a delivery from the page: the attempt appears
        with IMAP(srv.port) as c:
            c.login("demo", "demo")
            assert c.push_put(receiver.url("/wake"), b"payload").status == "OK"
        assert post(srv, "/api/faults", {"user": "demo", "kind": "push", "status": "503"})[0] == 200
        page.goto(srv.base + "/push")
        page.locator("#registrations tbody tr", has_text="PUT").wait_for()
        page.select_option("#quick-deliver select[name=user]", "demo")
        page.click("#quick-deliver button[type=submit]")
        page.locator("#attempts tbody tr td.outcome-retry").wait_for()  # the fault's 503, no request
        page.locator("#attempts tbody tr td.outcome-delivered").wait_for()  # the retry, for real
        assert receiver.wait_for(1)[0].body == b"payload"
        screenshot(page, tmp_path, "console-push.png")
        imap.logout()
        assert errors == []
    finally:
        receiver.stop()

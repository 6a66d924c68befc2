"""Delta Chat device tokens (XDELTAPUSH) end to end: SETMETADATA of
``/private/devicetoken`` on INBOX over real TCP, MTA-style deliveries, and a
real HTTP notifier on 127.0.0.1 receiving one POST per token.

"Nothing was posted" is never proven by sleeping: a barrier delivery to
alice (who has a token of her own) is handled after every earlier delivery,
and once its POST has arrived the server's deliveries table shows whether
anything else was fired.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import time

import pytest

from conftest import ServerProcess
from push_util import HTTPReceiver, IMAP, Literal, PushServer, make_folder, mta_deliver, push_list_cli, quote

USERS = (("demo", "demo"), ("alice", "alice"))
PATH = "/notify"
ENTRY = b"/private/devicetoken"
DAY = 24 * 3600


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("devicetoken-template") / "mail")
    os.mkdir(root)
    ServerProcess(root, users=USERS).add_users()
    make_folder(root, "demo", "Junk")
    return root


@pytest.fixture
def receiver():
    rec = HTTPReceiver().start()
    yield rec
    rec.stop()


@pytest.fixture
def start(template, tmp_path, receiver):
    started: list[PushServer] = []

    def start_server(root: str | None = None, extra=(), notifier: bool = True) -> PushServer:
        if root is None:
            root = str(tmp_path / f"mail{len(started)}")
            shutil.copytree(template, root, symlinks=True)
        args = ["--push-allow-http", "--push-allow-private", "--sync-interval", "3600", *extra]
        if notifier:
            args += ["--devicetoken-notifier", receiver.url(PATH)]
        srv = PushServer(root, extra_args=args, users=USERS).start()
        started.append(srv)
        return srv

    yield start_server
    for srv in started:
        srv.stop()


@pytest.fixture
def srv(start):
    return start()


def login(srv, user: str = "demo") -> IMAP:
    c = IMAP(srv.port)
    c.login(user, user)
    return c


def set_token(c: IMAP, value, form: str = "quoted"):
    value = value.encode() if isinstance(value, str) else value
    if form == "nil":
        arg = b"NIL"
    elif form == "literal":
        return c.command(b"SETMETADATA INBOX (" + ENTRY + b" ", Literal(value), b")")
    elif form == "literal+":
        return c.command(b"SETMETADATA INBOX (" + ENTRY + b" ", Literal(value, plus=True), b")")
    else:
        arg = quote(value)
    return c.command(b"SETMETADATA INBOX (" + ENTRY + b" " + arg + b")")


def ok(resp):
    assert resp.status == "OK", resp.tagged
    return resp


def shown_token(c: IMAP):
    resp = ok(c.command(b"GETMETADATA INBOX " + ENTRY))
    lines = resp.lines(b"METADATA")
    if not lines:
        return None
    prefix = b'* METADATA "INBOX" (' + ENTRY + b' "'
    assert lines[0].startswith(prefix) and lines[0].endswith(b'")\r\n'), lines
    return lines[0][len(prefix):-4]


def tokens_in_db(root: str, user: str = "demo") -> list[bytes]:
    with sqlite3.connect(os.path.join(root, ".pushimapd.sqlite")) as db:
        return [bytes(r[0]) for r in db.execute("SELECT token FROM devicetoken WHERE user = ? ORDER BY sequence",
                                                (user,))]


def db_execute(root: str, sql: str, args=()) -> int:
    with sqlite3.connect(os.path.join(root, ".pushimapd.sqlite"), timeout=10) as db:
        return db.execute(sql, args).rowcount


def deliveries_in_flight(root: str) -> int:
    return push_list_cli(root)[1]


def barrier(srv, receiver: HTTPReceiver) -> None:
    """Returns once every delivery made before the call was handled (alice's token is POSTed)."""
    token = f"alice-barrier-{time.monotonic_ns()}"
    with login(srv, "alice") as c:
        ok(set_token(c, token))
    before = len(receiver.for_path(PATH))
    mta_deliver(srv.root, "alice")
    deadline = time.monotonic() + 15
    while not any(r.body == token.encode() for r in receiver.for_path(PATH)):
        receiver.wait_for(before + 1, path=PATH, timeout=max(0.1, deadline - time.monotonic()))
        before += 1
    with login(srv, "alice") as c:
        ok(set_token(c, None, "nil"))


def bodies(receiver: HTTPReceiver) -> list[bytes]:
    return [r.body for r in receiver.for_path(PATH) if not r.body.startswith(b"alice-barrier-")]


# --------------------------------------------------------------------------------------
# registration
# --------------------------------------------------------------------------------------
def test_capability_and_notifier_policy(srv, tmp_path):
    with IMAP(srv.port) as c:
        assert b" XDELTAPUSH" in c.greeting.split(b"]")[0]
        resp = c.login()
        assert b" XDELTAPUSH" in resp.tagged.split(b"]")[0]
    # the notifier URL obeys the push target policy: plain http needs --push-allow-http
    root = str(tmp_path / "strict")
    os.mkdir(root)
    strict = ServerProcess(root, extra_args=["--devicetoken-notifier", "http://127.0.0.1:9/notify"])
    with pytest.raises(RuntimeError, match="devicetoken-notifier"):
        strict.start(timeout=20)


def test_add_refresh_and_nil_removes_the_latest(srv, receiver):
    with login(srv) as c:
        assert shown_token(c) is None
        ok(set_token(c, "token-A"))
        ok(set_token(c, "token-B", "literal"))
        assert shown_token(c) == b"token-B"
        ok(set_token(c, "token-A", "literal+"))  # refreshed, not duplicated, and now the latest
        assert shown_token(c) == b"token-A"
        assert tokens_in_db(srv.root) == [b"token-B", b"token-A"]
        mta_deliver(srv.root, "demo")
        got = receiver.wait_for(2, path=PATH)
        assert sorted(r.body for r in got) == [b"token-A", b"token-B"]
        for r in got:
            assert r.method == "POST" and r.target == PATH.encode()
            assert r.header("Content-Length") == [str(len(r.body))]
        ok(set_token(c, None, "nil"))  # removes token-A, the one GETMETADATA showed
        assert shown_token(c) == b"token-B"
        assert tokens_in_db(srv.root) == [b"token-B"]
        mta_deliver(srv.root, "demo")  # tokens are not one-shot
        got = receiver.wait_for(3, path=PATH)
        assert got[2].body == b"token-B"
        ok(set_token(c, None, "nil"))
        assert shown_token(c) is None
        ok(set_token(c, None, "nil"))  # nothing left to remove: still OK
    barrier(srv, receiver)
    assert bodies(receiver) == [b"token-A", b"token-B", b"token-B"] or \
        bodies(receiver) == [b"token-B", b"token-A", b"token-B"]


def test_token_forms_and_limits(srv):
    exact = b"t" * 4096
    with login(srv) as c:
        ok(set_token(c, exact, "literal"))
        assert tokens_in_db(srv.root) == [exact]
        r = set_token(c, b"t" * 4097, "literal+")
        assert (r.status, r.code) == ("NO", "METADATA")
        assert b"[METADATA MAXSIZE 4096]" in r.tagged
        r = set_token(c, b"")
        assert r.status == "NO"
        # Delta Chat 2.65 sends the encrypted token as a quoted string (chatmail core's format)
        c.send(b'T99 SETMETADATA "INBOX" (/private/devicetoken "openpgp:d2VsbCBoZWxsbw==")\r\n')
        assert c.read_response() == b"T99 OK SETMETADATA completed\r\n"
        assert tokens_in_db(srv.root) == [exact, b"openpgp:d2VsbCBoZWxsbw=="]
    with login(srv, "alice") as c:
        assert shown_token(c) is None  # tokens are per user


def test_other_entries_are_plain_metadata(srv):
    with login(srv) as c:
        ok(c.command(b'SETMETADATA INBOX (/private/devicetoken/sub "x" /private/comment "y")'))
        ok(c.command(b"CREATE Other"))
        ok(c.command(b'SETMETADATA Other (/private/devicetoken "not a token")'))
        r = ok(c.command(b"GETMETADATA Other /private/devicetoken"))
        assert r.lines(b"METADATA") == [b'* METADATA "Other" (/private/devicetoken "not a token")\r\n']
    assert tokens_in_db(srv.root) == []


# --------------------------------------------------------------------------------------
# firing
# --------------------------------------------------------------------------------------
def test_junk_delivery_posts_nothing(srv, receiver):
    with login(srv) as c:
        ok(set_token(c, "demo-token"))
    mta_deliver(srv.root, "demo", "Junk")
    barrier(srv, receiver)
    assert deliveries_in_flight(srv.root) == 0
    assert bodies(receiver) == []
    mta_deliver(srv.root, "demo")  # the same token does fire for INBOX
    assert receiver.wait_for(2, path=PATH)[-1].body == b"demo-token"


def test_gone_token_is_deleted(srv, receiver):
    receiver.script(PATH, [410])
    with login(srv) as c:
        ok(set_token(c, "stale-token"))
    mta_deliver(srv.root, "demo")
    assert receiver.wait_for(1, path=PATH)[0].status == 410
    srv.wait_log(rb"device token of demo reported gone by the notifier: deleted \(1\)")
    assert tokens_in_db(srv.root) == []
    with login(srv) as c:
        assert shown_token(c) is None
    assert deliveries_in_flight(srv.root) == 0


def test_server_error_is_retried_until_success(srv, receiver):
    receiver.script(PATH, [500, 404, 200])  # anything but 2xx and 410 is retried
    with login(srv) as c:
        ok(set_token(c, "retry-token"))
    mta_deliver(srv.root, "demo")
    got = receiver.wait_for(3, path=PATH)
    assert [r.status for r in got] == [500, 404, 200]
    assert all(r.body == b"retry-token" for r in got)
    srv.wait_log(rb"push to http://127\.0\.0\.1:\d+/\[redacted\] for demo: delivered")
    assert deliveries_in_flight(srv.root) == 0
    assert tokens_in_db(srv.root) == [b"retry-token"]


def test_retries_stop_five_hours_after_the_fire(srv, receiver):
    receiver.script(PATH, [503])
    with login(srv) as c:
        ok(set_token(c, "patient-token"))
    mta_deliver(srv.root, "demo")
    receiver.wait_for(1, path=PATH)
    # the delivery was fired 5 hours ago as far as the database knows
    assert db_execute(srv.root, "UPDATE delivery SET fired_at = ? WHERE kind = 'devicetoken'",
                      (time.time() - 5 * 3600 - 60,)) == 1
    srv.wait_log(rb"for demo: gave-up \(HTTP 503\)")
    assert deliveries_in_flight(srv.root) == 0
    assert tokens_in_db(srv.root) == [b"patient-token"]  # only 410 deletes a token


def test_kill_9_mid_retry_resumes(start, receiver):
    srv = start()
    receiver.script(PATH, [(503, {"Retry-After": "3"}), 200])
    with login(srv) as c:
        ok(set_token(c, "durable-token"))
    mta_deliver(srv.root, "demo")
    receiver.wait_for(1, path=PATH)
    srv.wait_log(rb"retry in 3\.0s")
    srv.stop(signal.SIGKILL)
    assert deliveries_in_flight(srv.root) == 1
    srv2 = start(root=srv.root)
    got = receiver.wait_for(2, path=PATH)
    assert got[1].body == b"durable-token" and got[1].status == 200
    srv2.wait_log(rb"for demo: delivered")
    assert deliveries_in_flight(srv.root) == 0


def test_pending_notifications_are_dropped_when_the_notifier_is_turned_off(start, receiver):
    srv = start()
    receiver.script(PATH, [(503, {"Retry-After": "30"})])
    with login(srv) as c:
        ok(set_token(c, "orphan-token"))
    mta_deliver(srv.root, "demo")
    receiver.wait_for(1, path=PATH)
    srv.wait_log(rb"retry in 30\.0s")
    srv.stop(signal.SIGKILL)
    assert deliveries_in_flight(srv.root) == 1
    srv2 = start(root=srv.root, notifier=False)
    srv2.wait_log(rb"device tokens are off: dropped 1 pending notification")
    assert deliveries_in_flight(srv.root) == 0
    with login(srv2) as c:
        assert b"XDELTAPUSH" not in c.command(b"CAPABILITY").untagged[0]
        assert shown_token(c) is None  # now a plain entry, and none was stored as one


def test_token_expires_after_90_days(srv, receiver):
    with login(srv) as c:
        ok(set_token(c, "old-token"))
        ok(set_token(c, "fresh-token"))
    db_execute(srv.root, "UPDATE devicetoken SET refreshed_at = ? WHERE token = ?",
               (time.time() - 90 * DAY - 60, b"old-token"))
    with login(srv) as c:
        assert shown_token(c) == b"fresh-token"
        ok(set_token(c, None, "nil"))  # removes fresh-token; the expired one is not shown again
        assert shown_token(c) is None
        ok(set_token(c, "fresh-token"))
    mta_deliver(srv.root, "demo")
    barrier(srv, receiver)
    assert bodies(receiver) == [b"fresh-token"]
    assert tokens_in_db(srv.root) == [b"fresh-token"]
    # a token refreshed just inside the 90 days is kept
    db_execute(srv.root, "UPDATE devicetoken SET refreshed_at = ?", (time.time() - 89 * DAY,))
    mta_deliver(srv.root, "demo")
    receiver.wait_for(3, path=PATH)  # fresh-token, alice's barrier, fresh-token
    assert bodies(receiver) == [b"fresh-token", b"fresh-token"]


# --------------------------------------------------------------------------------------
# administration
# --------------------------------------------------------------------------------------
def test_push_list_shows_tokens_redacted(srv):
    with login(srv) as c:
        ok(set_token(c, "secret-token-value"))
    _, _, text = push_list_cli(srv.root)  # --show-urls
    assert "device tokens: 1" in text and "secret-token-value" in text
    from conftest import run_cli

    done = run_cli("push", "list", root=srv.root)
    assert done.returncode == 0
    shown = done.stdout.decode()
    assert "device tokens: 1" in shown and "secret-token-value" not in shown
    assert "[redacted 18 bytes, sha256 " in shown
    done = run_cli("user", "del", "demo", root=srv.root)
    assert done.returncode == 0 and b"1 device tokens" in done.stdout
    assert tokens_in_db(srv.root) == []

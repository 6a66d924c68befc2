"""PUSH-NOTIFY-HTTP=WEBPUSH against a real pushimapd process, over real TCP.

Registrations are made over IMAP with a subscriber's real P-256 key pair and
auth secret; mail is delivered as an MTA does; a real HTTP receiver records
the POST, and the test opens it as a push service and the subscriber would:
VAPID JWT checked against the key the server answered to VAPID (signature,
aud, exp, sub), the Web Push headers, and the body decrypted with the
subscriber's private key twice (http_ece, and an independent RFC 8291
decryption) to exactly the registered payload. The server fixtures, the
barrier and the raw IMAP client are those of the PUT contract tests.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from conftest import env_with_repo, run_cli
from push_util import IMAP, Literal, mta_deliver, push_list_cli, quote, wait_until
from test_push_contract import (PERMISSIVE, barrier, login, non_barrier, ok, receiver, server,  # noqa: F401
                                start_server, template)
from webpush_util import Subscriber, b64url, b64url_decode, body_header, open_push

PRINTABLE = bytes(range(0x20, 0x7F))


def origin(receiver) -> str:
    return f"http://127.0.0.1:{receiver.port}"


def cli_vapid(root: str, *extra: str) -> str:
    done = run_cli("push", "vapid", *extra, root=root)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1, done.stdout
    return lines[0]


def register(c: IMAP, url: str, payload, subscriber: Subscriber = None, literal: bool = False) -> Subscriber:
    subscriber = subscriber or Subscriber()
    ok(c.push_webpush(url, subscriber.p256dh, subscriber.auth, payload, literal=literal))
    return subscriber


# --------------------------------------------------------------------------------------
# capability and VAPID
# --------------------------------------------------------------------------------------
def test_capability_beside_put(server):
    with IMAP(server.port) as c:
        pre = c.command(b"CAPABILITY")
        [line] = pre.lines(b"CAPABILITY")
        assert b"PUSH-NOTIFY-HTTP=PUT" in line.split() and b"PUSH-NOTIFY-HTTP=WEBPUSH" in line.split(), line
        resp = c.login()
        code = resp.tagged.split(b"[", 1)[1].split(b"]", 1)[0]
        assert b"PUSH-NOTIFY-HTTP=WEBPUSH" in code.split(), resp.tagged
        [post] = c.command(b"CAPABILITY").lines(b"CAPABILITY")
        assert b"PUSH-NOTIFY-HTTP=WEBPUSH" in post.split(), post


def test_vapid_key_is_a_p256_point_and_the_cli_prints_it(server):
    with login(server) as c:
        key = c.push_vapid()
        assert c.push_vapid() == key
        ok(c.command(b"SELECT INBOX"))
        assert c.push_vapid() == key  # the selected state too
        resp = ok(c.command(b"push-notify-http vapid"))
        assert resp.untagged == [b"* PUSH-NOTIFY-HTTP VAPID " + key.encode() + b"\r\n"]
    assert "=" not in key and len(key) == 87
    raw = b64url_decode(key)
    assert len(raw) == 65 and raw[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    assert cli_vapid(server.root) == key
    db = os.path.join(server.root, ".pushimapd.sqlite")
    assert os.stat(db).st_mode & 0o777 == 0o600, oct(os.stat(db).st_mode)


def test_vapid_and_webpush_need_authentication(server, receiver):
    sub = Subscriber()
    with IMAP(server.port) as c:
        for resp in (c.command(b"PUSH-NOTIFY-HTTP VAPID"),
                     c.push_webpush(receiver.url("/pre"), sub.p256dh, sub.auth, "x")):
            assert resp.status in ("BAD", "NO"), resp.tagged
            assert not any(b"VAPID" in u for u in resp.untagged), resp.untagged
        c.login()
        assert c.push_list_all() == []


# --------------------------------------------------------------------------------------
# the request
# --------------------------------------------------------------------------------------
TRICKY_PATH = "/wpush/v2/gAAAAABk-_x%2Fy;z=1/~u!$'()*,=:@?token=a%2Bb&empty=&&"


def test_webpush_request_verifies_and_decrypts_to_the_exact_payload(server, receiver):
    urls = {"tricky": receiver.url(TRICKY_PATH), "empty": receiver.url("/empty"), "max": receiver.url("/max")}
    payloads = {"tricky": PRINTABLE, "empty": b"", "max": b"p" * 512}
    with login(server) as c:
        vapid = c.push_vapid()
        subs = {name: register(c, urls[name], payloads[name], literal=name == "max") for name in urls}
    mta_deliver(server.root, "demo")
    got = receiver.wait_for(3)
    topics = set()
    for rec in got:
        name = next(n for n in urls if rec.target == urls[n].split(str(receiver.port), 1)[1].encode())
        payload, claims, headers = open_push(rec, subs[name], vapid, origin(receiver))
        assert payload == payloads[name]
        assert rec.version == "HTTP/1.1"
        assert claims["aud"] == origin(receiver)
        assert claims["sub"].startswith("mailto:postmaster@"), claims
        assert headers["ttl"] == "86400" and headers["urgency"] == "normal"
        assert headers["content-encoding"] == "aes128gcm"
        salt, rs, keyid, record = body_header(rec.body)
        assert len(record) == len(payloads[name]) + 1 + 16  # one record: payload, delimiter, tag; no padding
        topics.add(headers["topic"])
    assert len(topics) == 3, "each registration has its own Topic"
    with login(server) as c:
        assert c.push_list_all() == []  # one-shot: consumed


def test_every_push_has_a_fresh_key_and_salt_and_the_same_topic(server, receiver):
    url = receiver.url("/again")
    sub = Subscriber()
    bodies = []
    for i in range(2):
        with login(server) as c:
            vapid = c.push_vapid()
            register(c, url, f"push {i}", sub)
        mta_deliver(server.root, "demo")
        [rec] = receiver.wait_for(i + 1)[i:]
        payload, _claims, headers = open_push(rec, sub, vapid, origin(receiver))
        assert payload == f"push {i}".encode()
        bodies.append((body_header(rec.body), headers["topic"], headers["authorization"]))
    (salt1, _, key1, _), topic1, auth1 = bodies[0]
    (salt2, _, key2, _), topic2, auth2 = bodies[1]
    assert key1 != key2 and salt1 != salt2
    assert topic1 == topic2, "the same registration, the same Topic: a push service collapses them"
    assert auth1 == auth2, "the JWT for one audience is reused while fresh"


def test_ttl_urgency_and_subject_options(start_server, receiver):
    srv = start_server(extra_args=PERMISSIVE + ("--webpush-ttl", "60", "--webpush-urgency", "high",
                                                "--vapid-subject", "https://push-admin.example.org/contact"))
    with login(srv) as c:
        vapid = c.push_vapid()
        sub = register(c, receiver.url("/opts"), "options")
    mta_deliver(srv.root, "demo")
    [rec] = receiver.wait_for(1)
    payload, claims, headers = open_push(rec, sub, vapid, origin(receiver))
    assert payload == b"options"
    assert headers["ttl"] == "60" and headers["urgency"] == "high"
    assert claims["sub"] == "https://push-admin.example.org/contact"


@pytest.mark.parametrize("args,complaint", [
    (("--vapid-subject", "postmaster@example.org"), b"--vapid-subject"),
    (("--vapid-subject", "mailto:nobody"), b"--vapid-subject"),
    (("--vapid-subject", "http://example.org/"), b"--vapid-subject"),
    (("--webpush-urgency", "urgent"), b"--webpush-urgency"),
    (("--webpush-ttl", "-1"), b"--webpush-ttl"),
])
def test_bad_options_stop_the_server_with_a_reason(tmp_path, args, complaint):
    cmd = [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n", "--pidfile=", "pushimapd",
           "--maildir-root", str(tmp_path), "--listen", "tcp:0:interface=127.0.0.1", *args]
    done = subprocess.run(cmd, capture_output=True, env=env_with_repo(), cwd=str(tmp_path), timeout=60)
    assert done.returncode != 0
    assert complaint in done.stdout + done.stderr, done.stdout + done.stderr


# --------------------------------------------------------------------------------------
# registrations: one per URL across kinds, LIST, CANCEL, the limit
# --------------------------------------------------------------------------------------
def test_list_shows_both_kinds_in_one_order(server, receiver):
    a, b, c_url = receiver.url("/a"), receiver.url("/b"), receiver.url("/c")
    sub = Subscriber()
    with login(server) as c:
        ok(c.push_put(a, "put-a"))
        ok(c.push_webpush(b, sub.p256dh + "=", sub.auth + "==", "web-b"))  # padding is optional
        ok(c.push_put(c_url, "put-c"))
        listed = c.push_list_all()
        assert listed == [("PUT", a.encode(), b"put-a"),
                          ("WEBPUSH", b.encode(), sub.p256dh.encode(), sub.auth.encode(), b"web-b"),
                          ("PUT", c_url.encode(), b"put-c")]
        assert c.push_list() == [(a.encode(), b"put-a"), (c_url.encode(), b"put-c")]  # PUT-only readers
    regs, _, text = push_list_cli(server.root)
    assert regs == 3
    [line] = [x for x in text.splitlines() if "/b" in x]
    assert "WEBPUSH" in line
    redacted = run_cli("push", "list", root=server.root).stdout.decode()
    assert "WEBPUSH" in redacted and "/b" not in redacted and "[redacted]" in redacted


def test_webpush_replaces_put_and_put_replaces_webpush(server, receiver):
    to_web, to_put = receiver.url("/to-web"), receiver.url("/to-put")
    first, second = Subscriber(), Subscriber()
    with login(server) as c:
        ok(c.push_put(to_web, "plain"))
        register(c, to_put, "web", first)
        ok(c.push_put(receiver.url("/other"), "o"))
        register(c, to_web, "now-web", second)  # replaces the PUT, moves to the end
        ok(c.push_put(to_put, "now-plain"))  # replaces the WEBPUSH
        assert c.push_list_all() == [("PUT", receiver.url("/other").encode(), b"o"),
                                     ("WEBPUSH", to_web.encode(), second.p256dh.encode(), second.auth.encode(),
                                      b"now-web"),
                                     ("PUT", to_put.encode(), b"now-plain")]
        vapid = c.push_vapid()
    mta_deliver(server.root, "demo")
    receiver.wait_for(3)
    [web] = receiver.for_path("/to-web")
    assert open_push(web, second, vapid, origin(receiver))[0] == b"now-web"
    [plain] = receiver.for_path("/to-put")
    assert (plain.method, plain.body, plain.header("Content-Encoding")) == ("PUT", b"now-plain", [])


def test_cancel_removes_a_webpush_registration(server, receiver):
    url = receiver.url("/cancel-web")
    with login(server) as c:
        register(c, url, "x")
        resp = c.push_cancel(receiver.url("/cancel-webX"))
        assert (resp.status, resp.code) == ("NO", "NONEXISTENT")
        ok(c.push_cancel(url))
        assert c.push_list_all() == []
        resp = c.push_cancel(url)
        assert (resp.status, resp.code) == ("NO", "NONEXISTENT")
    mta_deliver(server.root, "demo")
    barrier(server, receiver)
    assert non_barrier(receiver) == []


def test_limit_counts_both_kinds(server, receiver):
    sub = Subscriber()
    with login(server) as c:
        for i in range(16):
            if i % 2:
                ok(c.push_put(receiver.url(f"/l{i}"), "p"))
            else:
                register(c, receiver.url(f"/l{i}"), "w", sub)
        for over in (c.push_webpush(receiver.url("/l16"), sub.p256dh, sub.auth, "w"),
                     c.push_put(receiver.url("/l16"), "p")):
            assert (over.status, over.code) == ("NO", "LIMIT"), over.tagged
        register(c, receiver.url("/l1"), "was a PUT", sub)  # replacing at the limit is fine
        ok(c.push_put(receiver.url("/l0"), "was a WEBPUSH"))
        assert len(c.push_list_all()) == 16


def test_policy_refusal_is_no_cannot(start_server):
    srv = start_server(extra_args=())
    sub = Subscriber()
    with login(srv) as c:
        for url in ("http://push.example.com/x", "https://127.0.0.1/x", "https://[::1]/x", "https://10.0.0.1/x"):
            resp = c.push_webpush(url, sub.p256dh, sub.auth, "x")
            assert (resp.status, resp.code) == ("NO", "CANNOT"), (url, resp.tagged)
        ok(c.push_webpush("https://push.example.com/x", sub.p256dh, sub.auth, "x"))
        assert [r[0] for r in c.push_list_all()] == ["WEBPUSH"]


# --------------------------------------------------------------------------------------
# firing
# --------------------------------------------------------------------------------------
def test_junk_never_fires_and_one_shot(server, receiver):
    url = receiver.url("/junk-web")
    with login(server) as c:
        vapid = c.push_vapid()
        sub = register(c, url, "after junk")
    mta_deliver(server.root, "demo", "Junk")
    barrier(server, receiver)
    assert non_barrier(receiver) == []
    with login(server) as c:
        assert [r[0] for r in c.push_list_all()] == ["WEBPUSH"]
    mta_deliver(server.root, "demo")
    [rec] = receiver.wait_for(1, path="/junk-web")
    assert open_push(rec, sub, vapid, origin(receiver))[0] == b"after junk"
    mta_deliver(server.root, "demo")  # consumed: nothing more
    barrier(server, receiver)
    assert len(receiver.for_path("/junk-web")) == 1
    with login(server) as c:
        assert c.push_list_all() == []


def test_registration_after_a_delivery_is_not_fired_by_it(server, receiver):
    url = receiver.url("/late-web")
    with login(server) as c:
        mta_deliver(server.root, "demo")
        register(c, url, "later")
        barrier(server, receiver)
        assert [r[0] for r in c.push_list_all()] == ["WEBPUSH"]
    assert non_barrier(receiver) == []


def test_logs_redact_webpush_urls(server, receiver):
    with login(server) as c:
        register(c, receiver.url("/s3cr3t-web?token=s3cr3t"), "s3cr3t-payload")
    mta_deliver(server.root, "demo")
    receiver.wait_for(1)
    wait_until(lambda: push_list_cli(server.root)[:2] == (0, 0))
    server.stop()
    leaked = [line for line in server.log.splitlines() if b"s3cr3t" in line]
    assert not leaked, leaked


# --------------------------------------------------------------------------------------
# durability and the VAPID key across restarts and rotation
# --------------------------------------------------------------------------------------
def test_unfinished_webpush_resumes_after_kill_9(start_server, receiver):
    srv = start_server()
    receiver.script("/resume-web", [503, 201])
    with login(srv) as c:
        vapid = c.push_vapid()
        sub = register(c, receiver.url("/resume-web"), "at-least-once")
    mta_deliver(srv.root, "demo")
    receiver.wait_for(1, path="/resume-web")  # 503: the server is in its backoff now
    srv.stop(signal.SIGKILL)
    srv = start_server(root=srv.root)
    got = receiver.wait_for(2, path="/resume-web", timeout=20)
    assert [r.status for r in got[:2]] == [503, 201]
    for rec in got[:2]:  # each try is encrypted afresh; both open to the payload
        assert open_push(rec, sub, vapid, origin(receiver))[0] == b"at-least-once"
    assert body_header(got[0].body)[2] != body_header(got[1].body)[2]
    wait_until(lambda: push_list_cli(srv.root)[:2] == (0, 0), message=lambda: push_list_cli(srv.root)[2])


def test_vapid_key_survives_a_restart(start_server):
    srv = start_server()
    with login(srv) as c:
        key = c.push_vapid()
    srv.stop(signal.SIGKILL)
    srv = start_server(root=srv.root)
    with login(srv) as c:
        assert c.push_vapid() == key
    assert cli_vapid(srv.root) == key


def test_rotate_changes_the_key_and_drops_webpush_but_not_put(server, receiver):
    keep, web = receiver.url("/keep-put"), receiver.url("/web-dropped")
    receiver.script("/retrying-web", [(503, {"Retry-After": "4"}), 201])
    receiver.script("/slow-put", [(503, {"Retry-After": "6"}), 200])
    with login(server) as c:
        old = c.push_vapid()
        register(c, receiver.url("/retrying-web"), "in flight")
        ok(c.push_put(receiver.url("/slow-put"), "slow"))
    mta_deliver(server.root, "demo")
    receiver.wait_for(1, path="/retrying-web")  # a web push delivery now waits for its retry
    receiver.wait_for(1, path="/slow-put")
    with login(server) as c:
        ok(c.push_put(keep, "kept"))
        register(c, web, "dropped")
        assert len(c.push_list_all()) == 2
        _, deliveries, _ = push_list_cli(server.root)
        assert deliveries == 2
        done = run_cli("push", "vapid", "--rotate", root=server.root)
        assert done.returncode == 0, done.stderr
        new = done.stdout.decode().strip()
        assert new != old and len(b64url_decode(new)) == 65
        assert b"registrations: 1" in done.stderr and b"deliveries: 1" in done.stderr, done.stderr
        assert c.push_vapid() == new, "the running server answers the new key at once"
        assert c.push_list_all() == [("PUT", keep.encode(), b"kept")]
        sub = register(c, receiver.url("/after-rotation"), "new key")
    assert cli_vapid(server.root) == new
    receiver.wait_for(2, path="/slow-put", timeout=20)  # later than the dropped web push retry would have been
    assert len(receiver.for_path("/retrying-web")) == 1, "a dropped web push delivery was retried"
    mta_deliver(server.root, "demo")
    [rec] = receiver.wait_for(1, path="/after-rotation")
    assert open_push(rec, sub, new, origin(receiver))[0] == b"new key"
    assert receiver.for_path("/web-dropped") == []
    assert [r.body for r in receiver.wait_for(1, path="/keep-put")] == [b"kept"]


# --------------------------------------------------------------------------------------
# malformed VAPID / WEBPUSH commands
# --------------------------------------------------------------------------------------
_KEYS = Subscriber()
P256DH, AUTH = _KEYS.p256dh, _KEYS.auth
URL = quote("https://push.example.com/wp")


def _point(x: int, y: int, prefix: bytes = b"\x04") -> str:
    return b64url(prefix + x.to_bytes(32, "big") + y.to_bytes(32, "big"))


def _wp(url=URL, p256dh=P256DH, auth=AUTH, payload=b'"x"') -> list:
    """A WEBPUSH command as parts for IMAP.command (Literal parts get the literal dance)."""
    parts: list = [b"PUSH-NOTIFY-HTTP WEBPUSH"]
    for value in (url, p256dh, auth, payload):
        parts += [b" ", value.encode() if isinstance(value, str) else value]
    return parts


MALFORMED = [
    ("VAPID with an argument", b"PUSH-NOTIFY-HTTP VAPID now"),
    ("VAPID with a string", b'PUSH-NOTIFY-HTTP VAPID "x"'),
    ("WEBPUSH alone", b"PUSH-NOTIFY-HTTP WEBPUSH"),
    ("WEBPUSH url only", b"PUSH-NOTIFY-HTTP WEBPUSH " + URL),
    ("WEBPUSH without auth and payload", b"PUSH-NOTIFY-HTTP WEBPUSH " + URL + b" " + P256DH.encode()),
    ("WEBPUSH without payload", b"PUSH-NOTIFY-HTTP WEBPUSH " + URL + b" " + P256DH.encode() + b" " + AUTH.encode()),
    ("WEBPUSH extra argument", _wp() + [b" extra"]),
    ("WEBPUSH as a list", [b"PUSH-NOTIFY-HTTP WEBPUSH (" + URL + b" " + P256DH.encode() + b" " + AUTH.encode()
                           + b' "x")']),
    ("p256dh not base64", _wp(p256dh="!" + P256DH[1:])),
    ("p256dh standard base64 alphabet", _wp(p256dh=quote(P256DH[:-2] + "+/"))),
    ("p256dh wrong padding", _wp(p256dh=P256DH + "==")),  # 87 characters take one "="
    ("p256dh too much padding", _wp(p256dh=quote(P256DH[:-3] + "A==="))),
    ("p256dh empty", _wp(p256dh='""')),
    ("p256dh NIL", _wp(p256dh="NIL")),
    ("p256dh not on the curve", _wp(p256dh=_point(1, 1))),
    ("p256dh x beyond the field", _wp(p256dh=_point(2 ** 256 - 1, 1))),
    ("p256dh all zero", _wp(p256dh=b64url(bytes(65)))),
    ("p256dh compressed point", _wp(p256dh=b64url(b"\x02" + b64url_decode(P256DH)[1:33]))),
    ("p256dh without 0x04 prefix", _wp(p256dh=b64url(b64url_decode(P256DH)[1:]))),
    ("p256dh hybrid prefix 0x06", _wp(p256dh=b64url(b"\x06" + b64url_decode(P256DH)[1:]))),
    ("p256dh too long", _wp(p256dh=b64url(b64url_decode(P256DH) + b"\x00"))),
    ("auth 15 octets", _wp(auth=b64url(bytes(15)))),
    ("auth 17 octets", _wp(auth=b64url(bytes(17)))),
    ("auth empty", _wp(auth='""')),
    ("auth not base64", _wp(auth=quote("****************"))),
    ("auth and p256dh swapped", _wp(p256dh=AUTH, auth=P256DH)),
    ("8-bit in p256dh", _wp(p256dh=Literal(P256DH.encode()[:-1] + b"\xe9"))),
    ("8-bit in auth", _wp(auth=Literal(b"\xc3\xa9" + AUTH.encode()[2:]))),
    ("8-bit in url", _wp(url=Literal(b"https://push.example.com/caf\xc3\xa9"))),
    ("8-bit in payload", _wp(payload=Literal(b"caf\xe9"))),
    ("ftp url", _wp(url=quote("ftp://push.example.com/x"))),
    ("relative url", _wp(url=quote("/wp"))),
    ("url with a fragment", _wp(url=quote("https://push.example.com/x#f"))),
    ("url with userinfo", _wp(url=quote("https://u:p@push.example.com/x"))),
    ("url too long", _wp(url=Literal("https://push.example.com/" + "a" * 2030))),
    ("payload too long", _wp(payload=Literal(b"p" * 513))),
    ("payload with a control character", _wp(payload=Literal(b"tab\there"))),
]


def test_malformed_vapid_and_webpush_are_bad_or_no_and_the_connection_goes_on(server):
    failures = []
    with login(server) as c:
        for name, command in MALFORMED:
            resp = c.command(command) if isinstance(command, bytes) else c.command(*command)
            assert not resp.untagged or all(b"PUSH-NOTIFY-HTTP" not in u for u in resp.untagged), resp.untagged
            if resp.status not in ("BAD", "NO"):
                failures.append((name, resp.tagged))
            noop = c.command(b"NOOP")
            if noop.status != "OK":
                failures.append((name, "connection not usable afterwards", noop.tagged))
        listed = c.push_list_all()
        register(c, "https://push.example.com/wp", "valid after all that")
        assert [r[0] for r in c.push_list_all()] == ["WEBPUSH"]
    assert not failures, failures
    assert listed == [], "a malformed WEBPUSH was stored"
    assert len(MALFORMED) >= 25

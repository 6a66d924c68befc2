"""The web push delivery kind in the Dispatcher, in-process: real HTTP over 127.0.0.1,
backoff on a task.Clock (the receiver, fixtures and waiting of test_push_dispatcher).

Each request is opened as its receivers would (VAPID checked against the
server's key, body decrypted by http_ece and by the independent RFC 8291
code of webpush_util). pywebpush and py_vapid serve as an oracle for that
receiver code itself: what they encrypt and sign must open the same way.
"""

from __future__ import annotations

import time

import pytest
import pytest_twisted
from twisted.logger import formatEvent, globalLogPublisher

from pushimapd.push.models import Delivery, VapidKey
from pushimapd.push.webpush import (JWT_LIFETIME, VapidKeys, VapidSigner, WebPushKind, audience, check_subject,
                                    decode_subscription, topic)
from pushimapd.push.policy import InvalidRegistration
from test_push_dispatcher import clock, db, make_dispatcher, pending_delays, receiver  # noqa: F401
from webpush_util import Subscriber, b64url, body_header, check_request, decrypt_rfc8291, verify_vapid

SUBJECT = "mailto:postmaster@pushimapd.example"


class Headers:
    """twisted.web request headers as the [(name, value)] list webpush_util reads."""

    def __init__(self, rec):
        self.items = [(k.decode(), v.decode()) for k, vs in rec.headers.getAllRawHeaders() for v in vs]

    def map(self) -> dict:
        return {k.lower(): v for k, v in self.items}


def open_rec(rec, subscriber: Subscriber, vapid_key: str, origin: str) -> tuple[bytes, dict, dict]:
    headers = Headers(rec).map()
    payload, claims = check_request(rec.method.decode(), headers, rec.body, subscriber, vapid_key, origin)
    assert decrypt_rfc8291(rec.body, subscriber.private_key, subscriber.auth_secret) == payload
    assert headers["content-length"] == str(len(rec.body))
    return payload, claims, headers


@pytest.fixture
def keys(db):
    vapid = VapidKeys()
    vapid.ensure()
    return vapid


@pytest.fixture
def webpush(make_dispatcher, keys, clock):
    """A dispatcher (timing on ``clock``) that knows the web push kind."""
    dispatcher, outcomes = make_dispatcher(clock)
    dispatcher.add_kind(WebPushKind(VapidSigner(keys, SUBJECT)))
    return dispatcher, outcomes


@pytest.fixture
def logged():
    lines: list[str] = []

    def observe(event):
        text = formatEvent(event)
        if text:
            lines.append(text)

    globalLogPublisher.addObserver(observe)
    yield lines
    globalLogPublisher.removeObserver(observe)


def fired_web(url: str, subscriber: Subscriber, payload: bytes = b"new-mail", **fields) -> Delivery:
    """A web push Delivery row as PushRegistry.fire records it."""
    return Delivery.create(user="demo", url=url.encode(), payload=payload, kind="webpush",
                           p256dh=subscriber.public_raw, auth=subscriber.auth_secret, **fields)


def origin(receiver) -> str:
    return f"http://127.0.0.1:{receiver.port}"


# --------------------------------------------------------------------------------------
# the request
# --------------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_201_is_success_and_the_request_opens(webpush, receiver, keys):
    dispatcher, outcomes = webpush
    receiver.script("/wp", [201])
    sub = Subscriber()
    row = fired_web(receiver.url("/wp?x=1&"), sub, bytes(range(0x20, 0x7F)))
    dispatcher.schedule(row)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == ["delivered"]
    [rec] = receiver.requests
    assert rec.method == b"POST" and rec.uri == b"/wp?x=1&"
    payload, claims, headers = open_rec(rec, sub, keys.public_key(), origin(receiver))
    assert payload == bytes(range(0x20, 0x7F))
    assert claims["sub"] == SUBJECT and claims["aud"] == origin(receiver)
    assert time.time() + JWT_LIFETIME - 120 <= claims["exp"] <= time.time() + JWT_LIFETIME + 5
    assert headers["ttl"] == "86400" and headers["urgency"] == "normal"
    assert headers["topic"] == topic("demo", receiver.url("/wp?x=1&").encode()).decode()
    assert headers["content-type"] == "application/octet-stream"
    assert Delivery.get_or_none(Delivery.id == row.id) is None


@pytest_twisted.inlineCallbacks
def test_a_burst_costs_one_signature_per_audience(webpush, receiver, keys):
    dispatcher, outcomes = webpush
    subs = [Subscriber() for _ in range(4)]
    rows = [fired_web(receiver.url(f"/b{i}"), s, b"%d" % i) for i, s in enumerate(subs[:3])]
    rows.append(fired_web(receiver.url("/b3", host="localhost"), subs[3], b"3"))  # another origin
    dispatcher.deliveries_fired(rows)
    yield outcomes.wait_count(4)
    assert sorted(o for _, o in outcomes.events) == ["delivered"] * 4
    by_path = {r.path: r for r in receiver.requests}
    auths = {p: Headers(r).map()["authorization"] for p, r in by_path.items()}
    assert auths[b"/b0"] == auths[b"/b1"] == auths[b"/b2"] != auths[b"/b3"]
    keyids = {body_header(r.body)[2] for r in receiver.requests}
    assert len(keyids) == 4, "every request has its own ephemeral key"
    for i, sub in enumerate(subs):
        host = "localhost" if i == 3 else "127.0.0.1"
        payload, claims, _ = open_rec(by_path[b"/b%d" % i], sub, keys.public_key(),
                                      f"http://{host}:{receiver.port}")
        assert payload == b"%d" % i


# --------------------------------------------------------------------------------------
# outcomes
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("status,outcome", [
    (200, "delivered"), (201, "delivered"), (202, "delivered"),
    (404, "gone"), (410, "gone"),
    (400, "failed"), (401, "failed"), (403, "failed"), (413, "failed"),
])
@pytest_twisted.inlineCallbacks
def test_final_statuses_are_dropped_and_logged(webpush, receiver, clock, logged, status, outcome):
    dispatcher, outcomes = webpush
    receiver.script("/final", [(status, {"Retry-After": "1"})])
    row = fired_web(receiver.url("/final"), Subscriber())
    dispatcher.schedule(row)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == [outcome]
    assert len(receiver.requests) == 1 and clock.getDelayedCalls() == []
    assert Delivery.get_or_none(Delivery.id == row.id) is None
    ended = [line for line in logged if f": {outcome} (HTTP {status})" in line]
    assert ended, logged
    vapid_hint = [line for line in logged if "VAPID" in line and str(status) in line]
    assert bool(vapid_hint) == (status in (401, 403)), logged
    if status == 413:
        assert any("too large" in line for line in logged), logged


@pytest_twisted.inlineCallbacks
def test_429_retry_after_is_honoured(webpush, receiver, clock, keys):
    dispatcher, outcomes = webpush
    receiver.script("/ra", [(429, {"Retry-After": "30"}), 201])
    sub = Subscriber()
    row = fired_web(receiver.url("/ra"), sub, b"later")
    dispatcher.schedule(row)
    yield outcomes.wait_count(1)
    assert outcomes.of(row.id) == ["retry"]
    assert pending_delays(clock) == [pytest.approx(30)]
    clock.advance(29.9)
    assert len(receiver.requests) == 1
    clock.advance(0.1)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == ["retry", "delivered"]
    first, second = receiver.requests
    assert body_header(first.body)[2] != body_header(second.body)[2], "a retry is encrypted afresh"
    for rec in (first, second):
        assert open_rec(rec, sub, keys.public_key(), origin(receiver))[0] == b"later"


@pytest_twisted.inlineCallbacks
def test_5xx_and_408_retry_with_backoff_then_give_up(webpush, receiver, clock):
    dispatcher, outcomes = webpush
    receiver.script("/busy", [500, 502, 408, 503, 504])
    row = fired_web(receiver.url("/busy"), Subscriber())
    dispatcher.schedule(row)
    for attempt, wait in enumerate([1, 2, 4, 8], start=1):
        yield outcomes.wait_count(attempt)
        assert pending_delays(clock) == [pytest.approx(wait)]
        assert Delivery.get_by_id(row.id).attempts == attempt
        clock.advance(wait)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == ["retry"] * 4 + ["gave-up"]
    assert [r.method for r in receiver.requests] == [b"POST"] * 5


@pytest_twisted.inlineCallbacks
def test_rotation_between_tries_drops_the_delivery_and_new_pushes_use_the_new_key(webpush, receiver, clock, keys):
    dispatcher, outcomes = webpush
    receiver.script("/rot", [503])
    old = keys.public_key()
    row = fired_web(receiver.url("/rot"), Subscriber())
    dispatcher.schedule(row)
    yield outcomes.wait_count(1)
    registrations, deliveries = VapidKeys().rotate()  # as `pushimapd push vapid --rotate` does, from outside
    assert (registrations, deliveries) == (0, 1)
    assert VapidKey.select().count() == 1
    clock.advance(1)
    sub = Subscriber()
    after = fired_web(receiver.url("/after"), sub, b"new key")
    dispatcher.schedule(after)
    yield outcomes.wait_final(after.id)
    assert len(receiver.to("/rot")) == 1, "a delivery dropped by the rotation was tried again"
    new = keys.public_key()
    assert new != old
    [rec] = receiver.to("/after")
    assert open_rec(rec, sub, new, origin(receiver))[0] == b"new key"


# --------------------------------------------------------------------------------------
# the pieces
# --------------------------------------------------------------------------------------
def test_jwt_is_renewed_before_it_expires(keys):
    now = [1_700_000_000.0]
    signer = VapidSigner(keys, SUBJECT, clock=lambda: now[0])
    first = signer.authorization(b"https://push.example.net/a")
    assert signer.authorization(b"https://push.example.net/other/path?x") == first
    now[0] += JWT_LIFETIME - 3601
    assert signer.authorization(b"https://push.example.net/a") == first
    now[0] += 2
    renewed = signer.authorization(b"https://push.example.net/a")
    assert renewed != first
    claims = verify_vapid(renewed.decode(), keys.public_key(), "https://push.example.net", now=now[0])
    assert claims["exp"] == int(now[0]) + JWT_LIFETIME


@pytest.mark.parametrize("url,expected", [
    (b"https://push.example.net/wpush/v2/x", "https://push.example.net"),
    (b"HTTPS://Push.Example.NET:443/x", "https://push.example.net"),
    (b"https://push.example.net:8443/x?y", "https://push.example.net:8443"),
    (b"http://127.0.0.1:80/x", "http://127.0.0.1"),
    (b"http://[::1]:8080/x", "http://[::1]:8080"),
    (b"https://push.example.net?x", "https://push.example.net"),
])
def test_audience_is_the_origin(url, expected):
    assert audience(url) == expected


@pytest.mark.parametrize("subject,valid", [
    ("mailto:postmaster@example.org", True), ("https://example.org/contact", True), ("MAILTO:a@b.example", True),
    ("postmaster@example.org", False), ("mailto:", False), ("mailto:nobody", False), ("http://example.org", False),
    ("https://", False), ("mailto:a b@example.org", False), ("mailto:caf\xe9@example.org", False), ("", False),
])
def test_subject_validation(subject, valid):
    if valid:
        assert check_subject(subject) == subject
    else:
        with pytest.raises(ValueError):
            check_subject(subject)


def test_subscription_keys_decode_with_or_without_padding():
    sub = Subscriber()
    for p256dh, auth in ((sub.p256dh, sub.auth), (sub.p256dh + "=", sub.auth + "==")):
        assert decode_subscription(p256dh.encode(), auth.encode()) == (sub.public_raw, sub.auth_secret)
    with pytest.raises(InvalidRegistration):
        decode_subscription(sub.p256dh.encode(), sub.auth.encode() + b"=")


def test_receiver_code_opens_what_pywebpush_and_py_vapid_make(keys):
    """The oracle: an independent sender's body and VAPID header pass the same checks."""
    from py_vapid import Vapid02
    from pywebpush import WebPusher

    sub = Subscriber()
    pusher = WebPusher({"endpoint": "https://push.example.net/x", "keys": {"p256dh": sub.p256dh, "auth": sub.auth}})
    body = pusher.encode(b"from pywebpush")["body"]
    assert sub.decrypt(body) == b"from pywebpush"
    assert decrypt_rfc8291(body, sub.private_key, sub.auth_secret) == b"from pywebpush"
    _, private, _ = keys.current()
    vapid = Vapid02(private)
    header = vapid.sign({"aud": "https://push.example.net", "sub": SUBJECT})["Authorization"]
    claims = verify_vapid(header, keys.public_key(), "https://push.example.net")
    assert claims["sub"] == SUBJECT
    with pytest.raises(Exception):
        verify_vapid(header, b64url(Subscriber().public_raw), "https://push.example.net")  # another key


def test_vapid_key_is_made_once_and_cached_by_row(keys):
    first = keys.public_key()
    assert VapidKeys.ensure() is False
    assert VapidKeys().public_key() == first
    assert keys.current() is keys.current()
    VapidKeys.rotate()
    assert keys.public_key() != first

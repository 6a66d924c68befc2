"""The push Dispatcher in-process: real HTTP over 127.0.0.1, timing on a Clock.

Each test builds the real `pushimapd.push.dispatcher.Dispatcher` over a real
sqlite database (`Delivery` rows as the registry would record them) and a real
twisted.web receiver whose answer to each request is scripted. Backoff and
Retry-After run on a `twisted.internet.task.Clock` that the test advances;
the HTTP exchanges themselves run on the real reactor, and the test waits for
them (requests seen, outcomes reported) with deadlines, never fixed sleeps.
"""

from __future__ import annotations

import email.utils
import socket
import time

import pytest
import pytest_twisted
from twisted.internet import defer, reactor, task
from twisted.internet.interfaces import IPullProducer
from twisted.protocols import policies
from twisted.web import resource, server
from zope.interface import implementer

from pushimapd.db import open_database
from pushimapd.push.dispatcher import Dispatcher, RetrySettings
from pushimapd.push.models import Delivery, Registration
from pushimapd.push.policy import TargetPolicy
from pushimapd.push.registry import PushRegistry

OPEN = TargetPolicy(allow_http=True, allow_private=True)
CT = b"application/x-www-form-urlencoded"


# --------------------------------------------------------------------------------------
# waiting on events
# --------------------------------------------------------------------------------------
class Waitable:
    """Deferreds that fire when a predicate holds, checked one reactor turn after a
    change: observers never run inside the code that reported the change."""

    def __init__(self):
        self._waiters: list = []
        self._check = None

    def _changed(self) -> None:
        if self._check is None or not self._check.active():
            self._check = reactor.callLater(0, self._run_checks)

    def _run_checks(self) -> None:
        for entry in list(self._waiters):
            predicate, d, _call = entry
            if predicate():
                self._waiters.remove(entry)
                d.callback(None)

    def wait(self, predicate, timeout: float, what) -> defer.Deferred:
        if predicate():
            return defer.succeed(None)
        d = defer.Deferred()

        def expire():
            if entry in self._waiters:
                self._waiters.remove(entry)
                d.errback(AssertionError(f"timed out after {timeout}s waiting for {what()}"))

        entry = (predicate, d, reactor.callLater(timeout, expire))
        self._waiters.append(entry)
        d.addBoth(lambda result: (entry[2].active() and entry[2].cancel(), result)[1])
        return d


class Outcomes(Waitable):
    """What the dispatcher reports through its ``on_outcome`` hook."""

    def __init__(self, dispatcher: Dispatcher):
        super().__init__()
        self.events: list[tuple[int, str]] = []
        dispatcher.on_outcome = self._record

    def _record(self, delivery_id: int, outcome: str) -> None:
        self.events.append((delivery_id, outcome))
        self._changed()

    def wait_count(self, count: int, timeout: float = 10) -> defer.Deferred:
        return self.wait(lambda: len(self.events) >= count, timeout, lambda: f"{count} outcome(s), got {self.events}")

    def of(self, delivery_id: int) -> list[str]:
        return [o for i, o in self.events if i == delivery_id]

    def wait_final(self, delivery_id: int, timeout: float = 10) -> defer.Deferred:
        return self.wait(lambda: any(o != "retry" for o in self.of(delivery_id)), timeout,
                         lambda: f"a final outcome for {delivery_id}, got {self.events}")


# --------------------------------------------------------------------------------------
# the receiver: twisted.web, scripted per path
# --------------------------------------------------------------------------------------
class Rec:
    def __init__(self, request):
        self.request = request
        self.method = request.method
        self.uri = request.uri
        self.path = request.path
        self.headers = request.requestHeaders
        self.body = request.content.read()
        self.finished = False

    def release(self, status: int = 200) -> None:
        if not self.finished:
            self.request.setResponseCode(status)
            self.request.finish()


@implementer(IPullProducer)
class Endless:
    """An endless response body, written as fast as the client reads."""

    def __init__(self, request):
        self.request = request
        self.sent = 0
        self.stopped = False

    def resumeProducing(self):
        if not self.stopped:
            self.sent += 65536
            self.request.write(b"x" * 65536)

    def stopProducing(self):
        self.stopped = True


class Receiver(resource.Resource, Waitable):
    isLeaf = True

    def __init__(self):
        resource.Resource.__init__(self)
        Waitable.__init__(self)
        self.requests: list[Rec] = []
        self.scripts: dict[bytes, list] = {}
        self.active = 0
        self.max_active = 0
        self.connections = 0
        self.streams: list[Endless] = []
        self.port = 0

    def url(self, path: str = "/", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def script(self, path: str, answers: list) -> None:
        """Per-path answers in order (the last repeats): a status, (status, headers), "hold" or "stream"."""
        self.scripts[path.encode()] = list(answers)

    def render(self, request):
        rec = Rec(request)
        self.requests.append(rec)
        self.active += 1
        self.max_active = max(self.max_active, self.active)

        def done(_):
            rec.finished = True
            self.active -= 1
            self._changed()

        request.notifyFinish().addBoth(done)
        queue = self.scripts.get(request.path) or [200]
        answer = queue.pop(0) if len(queue) > 1 else queue[0]
        self._changed()
        if answer == "hold":
            return server.NOT_DONE_YET
        if answer == "stream":
            request.setHeader(b"content-length", b"%d" % (1 << 40))
            producer = Endless(request)
            self.streams.append(producer)
            request.registerProducer(producer, False)
            return server.NOT_DONE_YET
        status, headers = (answer, {}) if isinstance(answer, int) else answer
        request.setResponseCode(status)
        for name, value in headers.items():
            request.setHeader(name.encode(), value.encode())
        return b""

    def wait_requests(self, count: int, timeout: float = 10, path: str | None = None) -> defer.Deferred:
        def matching():
            return [r for r in self.requests if path is None or r.path == path.encode()]

        return self.wait(lambda: len(matching()) >= count, timeout,
                         lambda: f"{count} request(s) to {path or 'any path'}, got {[r.uri for r in self.requests]}")

    def to(self, path: str) -> list[Rec]:
        return [r for r in self.requests if r.path == path.encode()]


class Tracking(policies.WrappingFactory):
    """Counts connections and can abort them all."""

    def __init__(self, receiver: Receiver):
        super().__init__(server.Site(receiver))
        self.receiver = receiver

    def buildProtocol(self, addr):
        self.receiver.connections += 1
        return super().buildProtocol(addr)


@pytest.fixture
def db(tmp_path):
    database = open_database(str(tmp_path / "push.sqlite"))
    yield database
    database.close()


@pytest.fixture
def receiver():
    rec = Receiver()
    factory = Tracking(rec)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    rec.port = port.getHost().port
    yield rec
    for wrapper in list(factory.protocols):
        wrapper.transport.abortConnection()
    pytest_twisted.blockon(defer.maybeDeferred(port.stopListening))


@pytest.fixture
def clock():
    return task.Clock()


@pytest.fixture
def make_dispatcher(db):
    made: list[Dispatcher] = []

    def make(clock=None, policy: TargetPolicy = OPEN, **settings) -> tuple[Dispatcher, Outcomes]:
        dispatcher = Dispatcher(reactor, policy, RetrySettings(**settings), clock=clock)
        made.append(dispatcher)
        return dispatcher, Outcomes(dispatcher)

    yield make
    for dispatcher in made:  # nothing may fire on the real reactor after the test
        for call in list(dispatcher.scheduled.values()):
            if call.active():
                call.cancel()


def fired(url: str, payload: bytes = b"payload", **fields) -> Delivery:
    """A Delivery row as `PushRegistry.fire` records it."""
    return Delivery.create(user="demo", url=url.encode(), payload=payload, **fields)


def pending_delays(clock: task.Clock) -> list[float]:
    return sorted(call.getTime() - clock.seconds() for call in clock.getDelayedCalls())


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# --------------------------------------------------------------------------------------
# the request
# --------------------------------------------------------------------------------------
TARGETS = [
    "/push",
    "/v1/abc%2Fdef;x=1/~user!$'()*,=:@?token=a%2Bb&sig=%7e&empty=&&",
    "/wpush/v2/gAAAAABk-_x=?a=1&a=2",
    "/x?",
    "/?only=query",
]


@pytest.mark.parametrize("target", TARGETS)
@pytest_twisted.inlineCallbacks
def test_request_is_a_put_with_exact_target_headers_and_body(make_dispatcher, receiver, clock, target):
    dispatcher, outcomes = make_dispatcher(clock)
    payload = bytes(range(0x20, 0x7F))
    row = fired(receiver.url(target), payload)
    dispatcher.schedule(row)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == ["delivered"]
    [rec] = receiver.requests
    assert rec.method == b"PUT"
    assert rec.uri == target.encode()
    assert rec.request.clientproto == b"HTTP/1.1"
    assert rec.headers.getRawHeaders(b"content-type") == [CT]
    assert rec.headers.getRawHeaders(b"content-length") == [b"%d" % len(payload)]
    assert rec.headers.getRawHeaders(b"transfer-encoding") is None
    assert rec.body == payload
    assert Delivery.get_or_none(Delivery.id == row.id) is None


@pytest_twisted.inlineCallbacks
def test_empty_payload_has_content_length_zero(make_dispatcher, receiver, clock):
    dispatcher, outcomes = make_dispatcher(clock)
    row = fired(receiver.url("/empty"), b"")
    dispatcher.schedule(row)
    yield outcomes.wait_final(row.id)
    [rec] = receiver.requests
    assert rec.method == b"PUT" and rec.body == b""
    assert rec.headers.getRawHeaders(b"content-length") == [b"0"]
    assert rec.headers.getRawHeaders(b"content-type") == [CT]


# --------------------------------------------------------------------------------------
# outcomes by status
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
@pytest_twisted.inlineCallbacks
def test_2xx_is_success(make_dispatcher, receiver, clock, status):
    dispatcher, outcomes = make_dispatcher(clock)
    receiver.script("/ok", [status])
    row = fired(receiver.url("/ok"))
    dispatcher.schedule(row)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == ["delivered"]
    assert len(receiver.requests) == 1 and clock.getDelayedCalls() == []
    assert Delivery.get_or_none(Delivery.id == row.id) is None


@pytest_twisted.inlineCallbacks
def test_503_retries_after_1_2_4_8_seconds_then_gives_up(make_dispatcher, receiver, clock):
    dispatcher, outcomes = make_dispatcher(clock)
    receiver.script("/busy", [503])
    row = fired(receiver.url("/busy"))
    dispatcher.schedule(row)
    for attempt, wait in enumerate([1, 2, 4, 8], start=1):
        yield outcomes.wait_count(attempt)
        assert outcomes.events[-1] == (row.id, "retry")
        assert len(receiver.requests) == attempt
        assert pending_delays(clock) == [pytest.approx(wait)]
        stored = Delivery.get_by_id(row.id)  # recorded, so a restart resumes it
        assert stored.attempts == attempt
        assert stored.next_attempt_at == pytest.approx(time.time() + wait, abs=1.0)
        assert stored.last_error
        clock.advance(wait - 0.01)
        assert len(clock.getDelayedCalls()) == 1 and len(receiver.requests) == attempt  # not yet
        clock.advance(0.01)
        yield receiver.wait_requests(attempt + 1)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == ["retry"] * 4 + ["gave-up"]
    assert len(receiver.requests) == 5
    assert clock.getDelayedCalls() == []
    assert Delivery.get_or_none(Delivery.id == row.id) is None
    assert all(r.body == b"payload" and r.method == b"PUT" for r in receiver.requests)


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504, 599])
@pytest_twisted.inlineCallbacks
def test_retried_statuses(make_dispatcher, receiver, clock, status):
    dispatcher, outcomes = make_dispatcher(clock)
    receiver.script("/again", [status, 200])
    row = fired(receiver.url("/again"))
    dispatcher.schedule(row)
    yield outcomes.wait_count(1)
    assert outcomes.of(row.id) == ["retry"]
    assert pending_delays(clock) == [pytest.approx(1.0)]
    clock.advance(1.0)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == ["retry", "delivered"]
    assert len(receiver.requests) == 2
    assert Delivery.get_or_none(Delivery.id == row.id) is None


@pytest.mark.parametrize("status,outcome", [
    (404, "gone"), (410, "gone"),
    (400, "failed"), (401, "failed"), (403, "failed"), (405, "failed"), (413, "failed"), (499, "failed"),
    (300, "failed"), (301, "failed"), (302, "failed"), (303, "failed"), (307, "failed"), (308, "failed"),
])
@pytest_twisted.inlineCallbacks
def test_dropped_after_one_attempt_and_redirects_not_followed(make_dispatcher, receiver, clock, status, outcome):
    dispatcher, outcomes = make_dispatcher(clock)
    receiver.script("/drop", [(status, {"Location": receiver.url("/target"), "Retry-After": "1"})])
    row = fired(receiver.url("/drop"))
    dispatcher.schedule(row)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == [outcome]
    assert [r.path for r in receiver.requests] == [b"/drop"]  # the redirect target got nothing
    assert clock.getDelayedCalls() == []
    assert Delivery.get_or_none(Delivery.id == row.id) is None
    clock.advance(3600)
    assert [r.path for r in receiver.requests] == [b"/drop"]


# --------------------------------------------------------------------------------------
# Retry-After
# --------------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_retry_after_seconds_is_honoured(make_dispatcher, receiver, clock):
    dispatcher, outcomes = make_dispatcher(clock)
    receiver.script("/ra", [(503, {"Retry-After": "30"}), 200])
    row = fired(receiver.url("/ra"))
    dispatcher.schedule(row)
    yield outcomes.wait_count(1)
    assert pending_delays(clock) == [pytest.approx(30)]
    for step in (1, 1, 2, 4, 8):  # where the plain backoff would have retried
        clock.advance(step)
    clock.advance(29.9 - 16)
    assert len(receiver.requests) == 1 and len(clock.getDelayedCalls()) == 1
    clock.advance(0.1)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == ["retry", "delivered"] and len(receiver.requests) == 2


@pytest_twisted.inlineCallbacks
def test_retry_after_on_429_and_later_attempt(make_dispatcher, receiver, clock):
    dispatcher, outcomes = make_dispatcher(clock)
    receiver.script("/ra", [503, 503, 503, (429, {"Retry-After": "20"}), 200])
    row = fired(receiver.url("/ra"))
    dispatcher.schedule(row)
    for attempt, wait in enumerate([1, 2, 4], start=1):
        yield outcomes.wait_count(attempt)
        clock.advance(wait)
    yield outcomes.wait_count(4)
    assert pending_delays(clock) == [pytest.approx(20)]  # not 8
    clock.advance(8)
    assert len(receiver.requests) == 4
    clock.advance(12)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id)[-1] == "delivered" and len(receiver.requests) == 5


@pytest_twisted.inlineCallbacks
def test_retry_after_http_date(make_dispatcher, receiver, clock):
    dispatcher, outcomes = make_dispatcher(clock)
    when = email.utils.formatdate(time.time() + 120, usegmt=True)
    receiver.script("/date", [(503, {"Retry-After": when}), 200])
    row = fired(receiver.url("/date"))
    dispatcher.schedule(row)
    yield outcomes.wait_count(1)
    [delay] = pending_delays(clock)
    assert 117 <= delay <= 121, delay
    clock.advance(delay)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == ["retry", "delivered"]


@pytest.mark.parametrize("value", ["100000", "HTTP-DATE"])
@pytest_twisted.inlineCallbacks
def test_retry_after_is_capped_at_300_seconds(make_dispatcher, receiver, clock, value):
    if value == "HTTP-DATE":
        value = email.utils.formatdate(time.time() + 86400, usegmt=True)
    dispatcher, outcomes = make_dispatcher(clock)
    receiver.script("/cap", [(503, {"Retry-After": value}), 200])
    row = fired(receiver.url("/cap"))
    dispatcher.schedule(row)
    yield outcomes.wait_count(1)
    assert pending_delays(clock) == [pytest.approx(300)]
    clock.advance(300)
    yield outcomes.wait_final(row.id)
    assert outcomes.of(row.id) == ["retry", "delivered"]


@pytest.mark.parametrize("value", ["soon", "-5", "1.5e3", ""])
@pytest_twisted.inlineCallbacks
def test_unusable_retry_after_falls_back_to_backoff(make_dispatcher, receiver, clock, value):
    dispatcher, outcomes = make_dispatcher(clock)
    receiver.script("/bad-ra", [(503, {"Retry-After": value}), 200])
    row = fired(receiver.url("/bad-ra"))
    dispatcher.schedule(row)
    yield outcomes.wait_count(1)
    assert pending_delays(clock) == [pytest.approx(1.0)]


# --------------------------------------------------------------------------------------
# network failures
# --------------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_connection_refused_is_retried(make_dispatcher, clock):
    dispatcher, outcomes = make_dispatcher(clock)
    row = fired(f"http://127.0.0.1:{free_port()}/closed")
    dispatcher.schedule(row)
    yield outcomes.wait_count(1)
    assert outcomes.of(row.id) == ["retry"]
    assert pending_delays(clock) == [pytest.approx(1.0)]
    assert Delivery.get_by_id(row.id).last_error
    clock.advance(1.0)
    yield outcomes.wait_count(2)
    assert outcomes.of(row.id) == ["retry", "retry"]
    assert pending_delays(clock) == [pytest.approx(2.0)]


@pytest_twisted.inlineCallbacks
def test_timeout_is_retried(make_dispatcher, receiver, clock):
    dispatcher, outcomes = make_dispatcher(clock, timeout=0.5)
    receiver.script("/slow", ["hold"])
    row = fired(receiver.url("/slow"))
    dispatcher.schedule(row)
    yield receiver.wait_requests(1)
    yield outcomes.wait_count(1, timeout=5)
    assert outcomes.of(row.id) == ["retry"]
    assert pending_delays(clock) == [pytest.approx(1.0)]


@pytest_twisted.inlineCallbacks
def test_huge_response_body_does_not_stall(make_dispatcher, receiver, clock):
    dispatcher, outcomes = make_dispatcher(clock, concurrency=1)  # the next PUT waits for this one
    receiver.script("/huge", ["stream"])
    first, second = fired(receiver.url("/huge")), fired(receiver.url("/next"))
    started = time.monotonic()
    dispatcher.schedule(first)
    dispatcher.schedule(second)
    yield outcomes.wait_final(first.id, timeout=5)  # far less than the 10 s per-try timeout
    yield outcomes.wait_final(second.id, timeout=5)
    assert time.monotonic() - started < 5
    assert outcomes.of(first.id) == ["delivered"] and outcomes.of(second.id) == ["delivered"]
    yield receiver.wait(lambda: receiver.streams[0].stopped or receiver.requests[0].finished, 5,
                        lambda: "the receiver to see the hang-up")
    assert receiver.streams[0].sent < 16 << 20, "read far more than a few KiB of the body"


@pytest.mark.parametrize("host,dropped_at_once", [
    ("localhost", True), ("127.0.0.1", True), ("10.0.0.1", True), ("[::1]", False), ("[::ffff:127.0.0.1]", False),
])
@pytest_twisted.inlineCallbacks
def test_refused_target_at_send_time_gets_no_connection(make_dispatcher, receiver, clock, host, dropped_at_once):
    """The policy applies to the address connected to: a row for a refused target
    (say, registered before the server lost --push-allow-private) never connects."""
    dispatcher, outcomes = make_dispatcher(clock, policy=TargetPolicy(allow_http=True, allow_private=False))
    row = fired(f"http://{host}:{receiver.port}/secret")
    dispatcher.schedule(row)
    yield outcomes.wait_count(1)
    for _ in range(8):  # whatever else it does, it must not connect, and it must end
        if any(o != "retry" for o in outcomes.of(row.id)):
            break
        seen = len(outcomes.events)
        clock.advance(300)
        yield outcomes.wait_count(seen + 1, timeout=15)
    assert receiver.connections == 0 and receiver.requests == []
    assert Delivery.get_or_none(Delivery.id == row.id) is None
    if dropped_at_once:
        assert outcomes.of(row.id) == ["refused"], "a target refused by policy is dropped, not retried"


@pytest_twisted.inlineCallbacks
def test_ipv6_literal_target_is_delivered(make_dispatcher, clock):
    """An IPv6-literal URL (allowed and registrable) must reach its target."""
    rec = Receiver()
    factory = Tracking(rec)
    try:
        port = reactor.listenTCP(0, factory, interface="::1")
    except Exception as e:  # no IPv6 loopback here
        pytest.skip(f"no IPv6 loopback: {e}")
    try:
        rec.port = port.getHost().port
        dispatcher, outcomes = make_dispatcher(clock)
        row = fired(f"http://[::1]:{rec.port}/v6?k=1", b"six")
        dispatcher.schedule(row)
        yield outcomes.wait_count(1)
        assert outcomes.of(row.id) == ["delivered"], Delivery.get_or_none(Delivery.id == row.id).last_error
        assert [(r.uri, r.body) for r in rec.requests] == [(b"/v6?k=1", b"six")]
    finally:
        for wrapper in list(factory.protocols):
            wrapper.transport.abortConnection()
        yield port.stopListening()


# --------------------------------------------------------------------------------------
# re-PUT, concurrency, resume
# --------------------------------------------------------------------------------------
@pytest_twisted.inlineCallbacks
def test_re_put_cancels_pending_retries(make_dispatcher, receiver, clock):
    dispatcher, outcomes = make_dispatcher(clock)
    registry = PushRegistry(OPEN)
    registry.on_put = dispatcher.cancel_url
    registry.on_fired = dispatcher.deliveries_fired
    receiver.script("/u", [503])
    receiver.script("/v", [503])
    u, v = receiver.url("/u").encode(), receiver.url("/v").encode()
    registry.put("demo", u, b"old")
    registry.put("demo", v, b"v")
    rows = registry.fire("demo", "INBOX")
    assert len(rows) == 2
    yield outcomes.wait_count(2)
    assert pending_delays(clock) == [pytest.approx(1.0)] * 2
    registry.put("demo", u, b"new")  # the client caught up
    assert pending_delays(clock) == [pytest.approx(1.0)]  # v still retries
    assert [bytes(d.url) for d in Delivery.select()] == [v]
    clock.advance(1.0)
    yield receiver.wait_requests(2, path="/v")
    yield outcomes.wait_count(3)
    clock.advance(300)
    yield outcomes.wait_count(4)
    assert len(receiver.to("/u")) == 1
    assert [(bytes(r.url), bytes(r.payload)) for r in Registration.select()] == [(u, b"new")]


@pytest_twisted.inlineCallbacks
def test_re_put_while_the_attempt_is_in_flight(make_dispatcher, receiver, clock):
    dispatcher, outcomes = make_dispatcher(clock)
    registry = PushRegistry(OPEN)
    registry.on_put = dispatcher.cancel_url
    registry.on_fired = dispatcher.deliveries_fired
    receiver.script("/u", ["hold"])
    u = receiver.url("/u").encode()
    registry.put("demo", u, b"old")
    registry.fire("demo", "INBOX")
    yield receiver.wait_requests(1)
    registry.put("demo", u, b"new")
    receiver.requests[0].release(503)
    yield outcomes.wait_count(1)
    assert clock.getDelayedCalls() == [], "a retry was scheduled for a URL registered again"
    assert list(Delivery.select()) == []


@pytest_twisted.inlineCallbacks
def test_concurrency_is_bounded(make_dispatcher, receiver, clock):
    dispatcher, outcomes = make_dispatcher(clock, concurrency=2)
    receiver.script("/hold", ["hold"])
    rows = [fired(receiver.url("/hold"), b"%d" % i) for i in range(5)]
    dispatcher.deliveries_fired(rows)
    yield receiver.wait_requests(2)
    for released in range(5):
        assert receiver.active <= 2
        pending = [r for r in receiver.requests if not r.finished]
        assert pending, receiver.requests
        pending[0].release(200)
        if released < 3:
            yield receiver.wait_requests(released + 3)
    yield outcomes.wait_count(5)
    assert receiver.max_active == 2
    assert sorted(r.body for r in receiver.requests) == [b"0", b"1", b"2", b"3", b"4"]
    assert sorted(o for _, o in outcomes.events) == ["delivered"] * 5


@pytest_twisted.inlineCallbacks
def test_resume_all_after_a_restart(make_dispatcher, receiver, clock):
    receiver.script("/late", [503])
    now = time.time()
    due = fired(receiver.url("/due"), b"due")  # fired, never tried
    later = fired(receiver.url("/later"), b"later", attempts=2, next_attempt_at=now + 5)
    last = fired(receiver.url("/late"), b"last", attempts=4, next_attempt_at=now - 1)
    dispatcher, outcomes = make_dispatcher(clock)
    assert dispatcher.resume_all() == 3
    yield outcomes.wait_final(due.id)
    assert outcomes.of(due.id) == ["delivered"]
    clock.advance(0)
    yield outcomes.wait_final(last.id)
    assert outcomes.of(last.id) == ["gave-up"], "5 attempts in all, counting those before the restart"
    assert len(receiver.to("/later")) == 0
    assert pending_delays(clock) == [pytest.approx(5, abs=1)]
    clock.advance(5)
    yield outcomes.wait_final(later.id)
    assert outcomes.of(later.id) == ["delivered"]
    assert list(Delivery.select()) == []


@pytest_twisted.inlineCallbacks
def test_real_time_retry_then_success(make_dispatcher, receiver):
    dispatcher, outcomes = make_dispatcher(None, base_delay=0.05)
    receiver.script("/rt", [503, 200])
    row = fired(receiver.url("/rt"), b"real time")
    started = time.monotonic()
    dispatcher.schedule(row)
    yield outcomes.wait_final(row.id, timeout=5)
    assert outcomes.of(row.id) == ["retry", "delivered"]
    assert time.monotonic() - started >= 0.05
    assert [r.body for r in receiver.requests] == [b"real time"] * 2
    assert Delivery.get_or_none(Delivery.id == row.id) is None

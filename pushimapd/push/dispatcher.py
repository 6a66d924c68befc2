"""Sends fired notifications: one HTTP request each, with retries, bounded.

Every delivery is a `Delivery` row until it succeeds or is dropped, so a
restart resumes it. How a row becomes a request (PUT, Web Push POST, ...) and
which answers end it is up to its `DeliveryKind`; the sending, timeouts,
backoff and bookkeeping are shared. Timing (backoff, Retry-After) runs on an
injectable clock so tests can drive it with `twisted.internet.task.Clock`.
"""

from __future__ import annotations

import email.utils
import io
import time
from dataclasses import dataclass
from typing import Optional

import treq
from twisted.internet import defer, error as net_error
from twisted.logger import Logger
from twisted.web.client import (URI, Agent, FileBodyProducer, HTTPConnectionPool, ResponseDone,
                                ResponseFailed)
from twisted.web.error import SchemeNotSupported
from twisted.web.http_headers import Headers

from .models import Delivery
from .policy import PolicyReactor, TargetPolicy, redact

log = Logger()
BODY_CAP = 4096


@dataclass(frozen=True)
class RetrySettings:
    attempts: int = 5  # in all
    base_delay: float = 1.0  # waits 1, 2, 4, 8 s
    max_delay: float = 300.0  # cap, also for Retry-After
    timeout: float = 10.0  # per try: connect + response
    concurrency: int = 64


class ExactTargetAgent(Agent):
    """An Agent that sends the registered URL's path and query exactly.

    Agent (and treq in front of it) re-encode the URL: an empty query
    (``/x?``) is dropped and treq cannot encode IPv6 literal hosts. The
    contract wants the PUT to go to the URL as the client registered it.
    """

    def request(self, method, uri, headers=None, bodyProducer=None):
        parsed = URI.fromBytes(uri.strip())
        try:
            endpoint = self._getEndpoint(parsed)
        except SchemeNotSupported:
            return defer.fail()
        key = (parsed.scheme, parsed.host, parsed.port)
        return self._requestWithEndpoint(key, endpoint, method, parsed, headers, bodyProducer,
                                         request_target(uri))


def request_target(url: bytes) -> bytes:
    """``http://host:port/a/b?q`` -> ``/a/b?q`` (``/`` when the path is empty)."""
    rest = url.split(b"://", 1)[-1]
    cut = min((i for i in (rest.find(b"/"), rest.find(b"?")) if i >= 0), default=len(rest))
    target = rest[cut:]
    if not target.startswith(b"/"):
        target = b"/" + target
    return target


class _BodyTooLong(Exception):
    pass


def _capped_collector():
    """A treq.collect callback that gives up after BODY_CAP bytes."""
    seen = [0]

    def collect(data: bytes) -> None:
        seen[0] += len(data)
        if seen[0] > BODY_CAP:
            raise _BodyTooLong()

    return collect


def retry_after_seconds(value: Optional[bytes], now: float) -> Optional[float]:
    """Retry-After as delta-seconds or an HTTP date; None when absent or invalid."""
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - now)


class DeliveryKind:
    """How one kind of delivery is sent and judged; the plain PUT of the 2013 proposal.

    Subclasses override `request` (method, headers, body) and, if their
    service answers differently, `judge`.
    """

    name = "put"

    def request(self, row: Delivery) -> tuple[bytes, dict, bytes]:
        return b"PUT", {b"Content-Type": [b"application/x-www-form-urlencoded"]}, bytes(row.payload)

    def judge(self, status: int) -> Optional[str]:
        """The final outcome an HTTP status gives, or None to retry."""
        if 200 <= status < 300:
            return "delivered"
        if status in (404, 410):
            return "gone"
        if status < 500 and status not in (408, 429):
            return "failed"
        return None

    def may_retry(self, row: Delivery, attempt: int, settings: "RetrySettings") -> bool:
        return attempt < settings.attempts

    def finished(self, row: Delivery, outcome: str) -> None:
        """Called once a delivery of this kind has ended (e.g. a gone token is deleted)."""


class Dispatcher:
    def __init__(self, reactor, policy: TargetPolicy, settings: RetrySettings = RetrySettings(), clock=None):
        self.reactor = reactor
        self.clock = clock or reactor
        self.settings = settings
        self.policy_reactor = PolicyReactor(reactor, policy)
        pool = HTTPConnectionPool(reactor, persistent=True)
        pool.maxPersistentPerHost = 4
        self.agent = ExactTargetAgent(self.policy_reactor, pool=pool, connectTimeout=settings.timeout)
        self.semaphore = defer.DeferredSemaphore(settings.concurrency)
        self.scheduled: dict[int, object] = {}  # delivery id -> IDelayedCall
        self.in_flight: set[int] = set()
        self.on_outcome = lambda delivery_id, outcome: None  # tests and benchmarks listen here
        # the test bed: simulate(row) -> (status, retry_after, why) answers instead of the
        # endpoint; on_attempt(report) hears of every finished attempt (the console's list)
        self.simulate = None
        self.on_attempt = lambda report: None
        self.kinds: dict[str, DeliveryKind] = {}
        self.add_kind(DeliveryKind())

    def add_kind(self, kind: DeliveryKind) -> None:
        self.kinds[kind.name] = kind

    # -- scheduling ------------------------------------------------------------
    def resume_all(self) -> int:
        """Schedule every recorded delivery (after a restart)."""
        rows = list(Delivery.select())
        for row in rows:
            self.schedule(row)
        if rows:
            log.info("push: resuming {count} unfinished deliveries", count=len(rows))
        return len(rows)

    def schedule(self, row: Delivery) -> None:
        delay = max(0.0, row.next_attempt_at - time.time())
        if row.id in self.scheduled or row.id in self.in_flight:
            return
        if delay == 0 and row.attempts == 0:
            self._start(row.id)
        else:
            self.scheduled[row.id] = self.clock.callLater(delay, self._start, row.id)

    def deliveries_fired(self, rows: list[Delivery]) -> None:
        for row in rows:
            self.schedule(row)

    def cancel_url(self, user: str, url: bytes) -> None:
        """A new PUT of this URL: forget retries still pending for it."""
        for delivery_id, call in list(self.scheduled.items()):
            row = Delivery.get_or_none(Delivery.id == delivery_id)
            if row is None or (row.user == user and bytes(row.url) == url):
                if call.active():
                    call.cancel()
                del self.scheduled[delivery_id]

    def _start(self, delivery_id: int) -> None:
        self.scheduled.pop(delivery_id, None)
        self.in_flight.add(delivery_id)
        d = self.semaphore.run(self._attempt, delivery_id)
        d.addErrback(lambda f: log.failure("push attempt crashed", f))
        d.addBoth(lambda _: self.in_flight.discard(delivery_id))

    # -- one try -----------------------------------------------------------------
    @defer.inlineCallbacks
    def _attempt(self, delivery_id: int):
        row = Delivery.get_or_none(Delivery.id == delivery_id)
        if row is None:
            return  # cancelled by a new PUT of the URL
        url = bytes(row.url)
        attempt = row.attempts + 1
        log.info("push attempt {attempt} to {url} for {user}", attempt=attempt, url=redact(url), user=row.user)
        status, retry_after, problem = None, None, None
        simulated = self.simulate(row) if self.simulate is not None else None
        if simulated is not None:
            status, retry_after, why = simulated
            log.info("push attempt {attempt} for {user}: no request sent, answered {status} by {why}",
                     attempt=attempt, user=row.user, status=status, why=why)
            self._outcome(row, attempt, status, retry_after, None, simulated=why)
            return
        try:
            method, headers, body = self._kind(row).request(row)
            request = self.agent.request(method, url, Headers(headers), FileBodyProducer(io.BytesIO(body)))
            request.addTimeout(self.settings.timeout, self.reactor)
            response = yield request
            status = response.code
            retry_after = retry_after_seconds(response.headers.getRawHeaders(b"retry-after", [None])[0], time.time())
            body = treq.collect(response, _capped_collector())
            body.addTimeout(self.settings.timeout, self.reactor)
            try:
                yield body  # the body is ignored: the status decided; read a few KiB at most
            except Exception:
                pass
        except net_error.DNSLookupError as e:
            host = URI.fromBytes(url).host.decode("ascii", "replace")
            if host in self.policy_reactor.nameResolver.refused_hosts:
                self._report(row, attempt, None, "refused", "target address refused by policy")
                self._finish(row, "refused", "target address refused by policy")
                return
            problem = f"DNS lookup failed: {e}"
        except (defer.CancelledError, net_error.TimeoutError, net_error.ConnectingCancelledError):
            problem = "timeout"
        except (net_error.ConnectError, ResponseFailed, ResponseDone, net_error.ConnectionLost) as e:
            problem = f"connection error: {type(e).__name__}"
        except Exception as e:  # anything else from the network stack: retry
            problem = f"error: {type(e).__name__}"
        self._outcome(row, attempt, status, retry_after, problem)

    def _report(self, row: Delivery, attempt: int, status: Optional[int], outcome: str, detail: str,
                delay: Optional[float] = None, simulated: Optional[str] = None) -> None:
        try:
            self.on_attempt({"delivery": row.id, "user": row.user, "kind": row.kind, "url": redact(bytes(row.url)),
                             "attempt": attempt, "status": status, "outcome": outcome, "detail": detail,
                             "retry_in": delay, "simulated": simulated, "time": time.time()})
        except Exception:
            log.failure("reporting a push attempt failed")

    def _outcome(self, row: Delivery, attempt: int, status: Optional[int], retry_after: Optional[float],
                 problem: Optional[str], simulated: Optional[str] = None) -> None:
        kind = self._kind(row)
        final = kind.judge(status) if status is not None else None
        if final is not None:
            self._report(row, attempt, status, final, f"HTTP {status}", simulated=simulated)
            self._finish(row, final, f"HTTP {status}")
            return
        reason = problem or f"HTTP {status}"
        if not kind.may_retry(row, attempt, self.settings):
            self._report(row, attempt, status, "gave-up", reason, simulated=simulated)
            self._finish(row, "gave-up", reason)
            return
        delay = self.settings.base_delay * (2 ** (attempt - 1))
        if retry_after is not None:
            delay = max(delay, retry_after)
        delay = min(delay, self.settings.max_delay)
        updated = (Delivery.update(attempts=attempt, next_attempt_at=time.time() + delay, last_error=reason[:200])
                   .where(Delivery.id == row.id).execute())
        log.info("push attempt {attempt} to {url} failed ({reason}); retry in {delay}s", attempt=attempt,
                 url=redact(bytes(row.url)), reason=reason, delay=delay)
        self._report(row, attempt, status, "retry", reason, delay, simulated=simulated)
        if updated:
            self.scheduled[row.id] = self.clock.callLater(delay, self._start, row.id)
            self.on_outcome(row.id, "retry")
        else:  # a new PUT of the URL dropped it while this try was in flight
            log.info("push retry to {url} cancelled by a new registration", url=redact(bytes(row.url)))
            self.on_outcome(row.id, "cancelled")

    def _kind(self, row: Delivery) -> DeliveryKind:
        return self.kinds.get(row.kind) or self.kinds["put"]

    def _finish(self, row: Delivery, outcome: str, detail: str) -> None:
        Delivery.delete().where(Delivery.id == row.id).execute()
        self._kind(row).finished(row, outcome)
        emit = log.info if outcome == "delivered" else log.warn
        emit("push to {url} for {user}: {outcome} ({detail})", url=redact(bytes(row.url)), user=row.user,
             outcome=outcome, detail=detail)
        self.on_outcome(row.id, outcome)

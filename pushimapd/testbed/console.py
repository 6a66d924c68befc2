"""The web console (``--console ENDPOINT``): twisted.web in the server's process.

Pages are plain HTML with a little JavaScript, served from ``static/`` in the
package; they read JSON endpoints (``/api/...``, also what tests drive) and
follow Server-Sent Events (``/api/stream``, ``/api/sessions/ID/stream``).

Access: a request from a loopback address (with a loopback or ``localhost``
Host header, against DNS rebinding) needs nothing; any other peer must send
the token printed in the log at start, as the ``X-Console-Token`` header or
the ``token`` query parameter. Changes are POSTs with a JSON body
(``Content-Type: application/json``), which a cross-site form cannot send.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import os
import re
import secrets
from typing import Optional

from twisted.application import service
from twisted.internet import endpoints, task
from twisted.logger import Logger
from twisted.web import resource, server

from .events import Event, EventError, apply_event, sample_message
from .faults import FaultError, as_dict, describe, make_fault

log = Logger()
STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
PAGES = {b"": "index.html", b"session": "session.html", b"push": "push.html", b"faults": "faults.html",
         b"events": "events.html"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
KEEPALIVE_SECONDS = 15.0


def normalize_endpoint(text: str) -> str:
    """``8143`` and ``tcp:8143`` listen on loopback only; an endpoint that
    names its interface is taken as it is."""
    text = text.strip()
    if text.isdigit():
        return f"tcp:{text}:interface=127.0.0.1"
    if text.startswith(("tcp:", "tcp6:")) and "interface=" not in text:
        return text + (":interface=::1" if text.startswith("tcp6:") else ":interface=127.0.0.1")
    return text


def check_endpoint(text: str) -> None:
    """``--console`` must be an endpoint Twisted can listen on (usage error otherwise)."""
    from twisted.internet import reactor
    from twisted.python import usage

    try:
        endpoints.serverFromString(reactor, normalize_endpoint(text))
    except (ValueError, TypeError, KeyError) as e:
        raise usage.UsageError(f"--console: not an endpoint ({e})") from None


def endpoint_is_loopback(text: str) -> bool:
    m = re.search(r"interface=([^:]+(?:\\:[^:]*)*)", text)
    if not m:
        return text.startswith("unix:")
    return is_loopback(m.group(1).replace("\\:", ":"))


def is_loopback(host: Optional[str]) -> bool:
    if host is None:
        return True  # a UNIX socket: local
    host = host.strip("[]").split("%")[0]
    if host.lower() == "localhost":
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def access_allowed(peer_host: Optional[str], host_header: Optional[str], given_token: Optional[str],
                   token: str) -> bool:
    """The console's access rule (see the module docstring)."""
    if given_token and hmac.compare_digest(given_token.encode(), token.encode()):
        return True
    if not is_loopback(peer_host):
        return False
    if host_header is None:
        return True
    name = host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header
    if name.startswith("[") and "]" in name:
        name = name[1:name.index("]")]
    return is_loopback(name)


class ConsoleResource(resource.Resource):
    isLeaf = True

    def __init__(self, app: "Console"):
        super().__init__()
        self.app = app

    def render(self, request):
        request.setHeader(b"Cache-Control", b"no-store")
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        request.setHeader(b"Referrer-Policy", b"no-referrer")
        peer = request.getClientAddress()
        given = request.getHeader(b"x-console-token") or (request.args.get(b"token") or [b""])[0]
        host = request.getHeader(b"host")
        if not access_allowed(getattr(peer, "host", None), host.decode("latin-1") if host else None,
                              given.decode("latin-1") if given else None, self.app.token):
            request.setResponseCode(403)
            request.setHeader(b"Content-Type", b"text/plain; charset=utf-8")
            return b"Forbidden: the console needs its token (X-Console-Token header or ?token=) from here.\n"
        parts = [p for p in request.path.split(b"/") if p]
        try:
            return self.app.route(request, parts)
        except _HTTPError as e:
            return _json(request, {"error": e.message}, e.code)


class _HTTPError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _json(request, value, code: int = 200) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"Content-Type", b"application/json; charset=utf-8")
    return json.dumps(value, default=str).encode("utf-8")


def _body(request) -> dict:
    kind = (request.getHeader(b"content-type") or b"").split(b";")[0].strip().lower()
    if kind != b"application/json":
        raise _HTTPError(415, "send JSON (Content-Type: application/json)")
    try:
        value = json.loads(request.content.read() or b"{}")
    except ValueError:
        raise _HTTPError(400, "the body is not JSON") from None
    if not isinstance(value, dict):
        raise _HTTPError(400, "the body must be a JSON object")
    return value


def _int(value, name: str) -> Optional[int]:
    if value in (None, ""):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        raise _HTTPError(400, f"{name} must be a whole number") from None


def _float(value, name: str) -> Optional[float]:
    if value in (None, ""):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        raise _HTTPError(400, f"{name} must be a number") from None


def _text(value) -> Optional[str]:
    return None if value in (None, "") else str(value)


class Console:
    """Routes and actions; ``hub`` has the live state, ``book`` the faults."""

    def __init__(self, hub, book, store, root: str, users, token: Optional[str] = None):
        self.hub = hub
        self.book = book
        self.store = store
        self.root = root
        self.users = users
        self.token = token or secrets.token_urlsafe(24)
        self.streams: set = set()
        book.on_reload.append(lambda: hub.publish("faults", self.faults()))

    # -- routing ---------------------------------------------------------------------------
    def route(self, request, parts: list[bytes]):
        method = request.method
        if not parts or (len(parts) == 1 and parts[0] in PAGES):
            return self.static(request, PAGES[parts[0] if parts else b""])
        if parts[0] == b"static" and len(parts) == 2:
            return self.static(request, parts[1].decode("ascii", "replace"))
        if parts[0] != b"api":
            raise _HTTPError(404, "no such page")
        path = b"/".join(parts[1:])
        if method == b"GET":
            if path == b"sessions":
                return _json(request, self.hub.sessions())
            m = re.fullmatch(rb"sessions/(\d+)(/stream)?", path)
            if m:
                live = self.hub.session(int(m.group(1)))
                if live is None:
                    raise _HTTPError(404, "no such session")
                if m.group(2):
                    return self.trace_stream(request, live)
                return _json(request, dict(live.snapshot(), trace=list(live.trace.lines)))
            if path == b"push":
                return _json(request, self.push_state())
            if path == b"faults":
                return _json(request, self.faults())
            if path == b"users":
                return _json(request, self.users.names())
            if path == b"stream":
                return self.stream(request)
        elif method == b"POST":
            if path == b"faults":
                return _json(request, self.add_fault(_body(request)))
            if path == b"faults/clear":
                body = _body(request)
                cleared = self.book.clear(_text(body.get("user")), _int(body.get("id"), "id"))
                log.info("test bed: {count} fault(s) cleared from the console", count=cleared)
                return _json(request, {"cleared": cleared})
            if path == b"events":
                return _json(request, self.event(_body(request)))
        raise _HTTPError(404 if method in (b"GET", b"POST") else 405, "no such endpoint")

    def static(self, request, name: str) -> bytes:
        if not re.fullmatch(r"[a-z0-9-]+\.[a-z]+", name):
            raise _HTTPError(404, "no such file")
        path = os.path.join(STATIC, name)
        kind = TYPES.get(os.path.splitext(name)[1])
        if kind is None or not os.path.isfile(path):
            raise _HTTPError(404, "no such file")
        request.setHeader(b"Content-Type", kind.encode())
        request.setHeader(b"Content-Security-Policy",
                          b"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'")
        with open(path, "rb") as f:
            return f.read()

    # -- state ---------------------------------------------------------------------------------
    def faults(self) -> list[dict]:
        return [as_dict(f) for f in self.book.faults()]

    def push_state(self) -> dict:
        from ..push.models import Delivery, Registration
        from ..push.policy import redact
        from ..push.tokens import DeviceToken

        registrations = [{"user": r.user, "kind": r.kind.upper(), "url": redact(bytes(r.url)),
                          "payload_bytes": len(bytes(r.payload)), "registered_at": r.registered_at}
                         for r in Registration.select().order_by(Registration.id)]
        deliveries = [{"id": d.id, "user": d.user, "kind": d.kind.upper(), "url": redact(bytes(d.url)),
                       "attempts": d.attempts, "fired_at": d.fired_at, "next_attempt_at": d.next_attempt_at,
                       "last_error": d.last_error} for d in Delivery.select().order_by(Delivery.id)]
        tokens = [{"user": t.user, "kind": "DEVICETOKEN", "token": f"[{len(bytes(t.token))} bytes]",
                   "refreshed_at": t.refreshed_at} for t in DeviceToken.select().order_by(DeviceToken.id)]
        return {"registrations": registrations, "deliveries": deliveries, "device_tokens": tokens,
                "attempts": list(reversed(self.hub.attempts))}

    # -- actions ---------------------------------------------------------------------------------
    def add_fault(self, body: dict) -> dict:
        user = _text(body.get("user")) or ""
        if not self.users.exists(user):
            raise _HTTPError(400, f"no such user {user!r}")
        try:
            fields = make_fault(
                user, _text(body.get("kind")) or "", after=_int(body.get("after"), "after"),
                command=_text(body.get("command")), ms=_int(body.get("ms"), "ms"),
                status=_text(body.get("with") or body.get("status")), code=_text(body.get("code")),
                count=_int(body.get("count"), "count"), retry_after=_float(body.get("retry_after"), "retry_after"),
                mailbox=_text(body.get("mailbox")))
        except FaultError as e:
            raise _HTTPError(400, str(e)) from None
        if fields["kind"] == "uidvalidity" and not self.store.account(user).exists(fields["mailbox"]):
            raise _HTTPError(400, f"no mailbox {fields['mailbox']!r}")
        fault = self.book.add(fields)  # uidvalidity: applied by the monitor as the table is re-read
        log.info("test bed: fault {id} ({what}) added for {user} from the console", id=fault.id,
                 what=describe(fault), user=user)
        return as_dict(fault)

    def event(self, body: dict) -> dict:
        user = _text(body.get("user")) or ""
        if not self.users.exists(user):
            raise _HTTPError(400, f"no such user {user!r}")
        kind = _text(body.get("kind")) or ""
        data = None
        if kind == "deliver":
            message = body.get("message")
            data = message.encode("utf-8") if isinstance(message, str) and message.strip() else sample_message(user)
        event = Event(user=user, kind=kind, mailbox=_text(body.get("mailbox")), uid=_int(body.get("uid"), "uid"),
                      flags=_text(body.get("flags")), to=_text(body.get("to")),
                      folder=_text(body.get("folder")) or "INBOX", data=data)
        try:
            from .events import check

            check(event)
            self.hub.note_user(user, f"event (console): {event.describe()}")
            result = apply_event(self.store, self.root, event)
        except EventError as e:
            raise _HTTPError(400, str(e)) from None
        log.info("test bed: event for {user} from the console: {what}", user=user, what=result)
        return {"result": result}

    # -- Server-Sent Events ----------------------------------------------------------------------
    def _open_stream(self, request) -> None:
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"X-Accel-Buffering", b"no")
        request.write(b": pushimapd console\n\n")

    def _keepalive(self, request, cleanup) -> None:
        beat = task.LoopingCall(lambda: request.write(b": keepalive\n\n"))
        beat.start(KEEPALIVE_SECONDS, now=False)
        self.streams.add(request)

        def finished(_):
            if beat.running:
                beat.stop()
            self.streams.discard(request)
            cleanup()

        request.notifyFinish().addBoth(finished)

    def stream(self, request):
        self._open_stream(request)

        def send(event: str, data) -> None:
            request.write(f"event: {event}\ndata: {json.dumps(data, default=str)}\n\n".encode("utf-8"))

        for snapshot in self.hub.sessions():
            send("session", snapshot)
        self.hub.subscribers.append(send)
        self._keepalive(request, lambda: self.hub.subscribers.remove(send))
        return server.NOT_DONE_YET

    def trace_stream(self, request, live):
        self._open_stream(request)

        def send(line: str) -> None:
            request.write(f"event: line\ndata: {json.dumps(line)}\n\n".encode("utf-8"))

        for line in list(live.trace.lines):
            send(line)
        listeners = self.hub.trace_subscribers.setdefault(live.id, [])
        listeners.append(send)

        def cleanup():
            listeners.remove(send)
            if not listeners:
                self.hub.trace_subscribers.pop(live.id, None)

        self._keepalive(request, cleanup)
        return server.NOT_DONE_YET


class ConsoleService(service.Service):
    def __init__(self, endpoint: str, console: Console):
        self.endpoint = normalize_endpoint(endpoint)
        self.console = console
        self.port = None

    def startService(self) -> None:
        from twisted.internet import reactor

        super().startService()
        site = server.Site(ConsoleResource(self.console))
        site.displayTracebacks = False
        site.noisy = False
        d = endpoints.serverFromString(reactor, self.endpoint).listen(site)
        d.addCallbacks(self._listening, lambda f: log.failure("the console cannot listen on {endpoint}", f,
                                                              endpoint=self.endpoint))

    def _listening(self, port) -> None:
        self.port = port
        address = port.getHost()
        host = getattr(address, "host", "localhost")
        shown = f"[{host}]" if ":" in host else host
        url = f"http://{shown}:{getattr(address, 'port', '')}/"
        log.info("test bed console listening on {url}", url=url)
        if not endpoint_is_loopback(self.endpoint):
            log.info("test bed console token (needed from non-loopback addresses): {token} -- open "
                     "{url}?token={token} or send the X-Console-Token header", token=self.console.token, url=url)

    def stopService(self):
        super().stopService()
        for request in list(self.console.streams):
            try:
                request.finish()
            except Exception:
                pass
        if self.port is not None:
            return self.port.stopListening()
        return None


"""Helpers for the PUSH-NOTIFY-HTTP tests (the protocol is docs/push.md).

- `HTTPReceiver`: a real HTTP/1.1 server on 127.0.0.1 (stdlib, in a thread) for
  process-level tests. It records every connection and every request (method,
  request-target exactly as sent, headers, body), answers from a per-path
  script, and lets a test *wait* for the n-th request with a timeout.
- `PushServer`: conftest's `ServerProcess` whose log is drained by a thread
  (so a chatty server never blocks on a full pipe) and can be waited on.
- `IMAP`: a tiny raw-socket IMAP client that sends exact bytes (quoted
  strings, synchronizing literals, LITERAL+) and reads responses whole, with
  PUT / WEBPUSH / VAPID / CANCEL / LIST helpers.
- MTA-style delivery (tmp/ then rename into new/) and Maildir++ folder creation.

Every wait has a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Optional, Union

from conftest import ServerProcess, run_cli

WAIT = 15.0  # default deadline for anything the server should do "soon"


# --------------------------------------------------------------------------------------
# waiting
# --------------------------------------------------------------------------------------
def wait_until(predicate: Callable[[], object], timeout: float = WAIT, interval: float = 0.05,
               message: Union[str, Callable[[], str]] = "condition not met") -> object:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout}s: {text}")
        time.sleep(interval)


# --------------------------------------------------------------------------------------
# HTTP receiver (process-level tests)
# --------------------------------------------------------------------------------------
@dataclass
class Received:
    method: str
    target: bytes  # the request-target exactly as it was on the request line
    version: str
    headers: list  # [(name, value)] in the order sent
    body: bytes
    status: int = 0  # what the receiver answered

    @property
    def path(self) -> bytes:
        return self.target.split(b"?", 1)[0]

    def header(self, name: str) -> list:
        return [v for k, v in self.headers if k.lower() == name.lower()]


Answer = Union[int, tuple]  # 503 or (503, {"Retry-After": "3"})


class HTTPReceiver:
    """Records every request; answers per path from a script (default 200)."""

    def __init__(self):
        self.requests: list[Received] = []
        self.connections = 0
        self._cond = threading.Condition()
        self._scripts: dict[bytes, list] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self):
                super().setup()
                with receiver._cond:
                    receiver.connections += 1
                    receiver._cond.notify_all()

            def log_message(self, *args):
                pass

            def _handle(self):
                length = self.headers.get("Content-Length")
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    body = b""
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                        if size == 0:
                            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                                pass
                            break
                        body += self.rfile.read(size)
                        self.rfile.readline()
                else:
                    body = self.rfile.read(int(length)) if length else b""
                rec = Received(self.command, self.path.encode("latin-1"), self.request_version,
                               list(self.headers.items()), body)
                status, headers = receiver._answer(rec.path)
                rec.status = status
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.wfile.flush()
                with receiver._cond:  # recorded once the answer is on the wire
                    receiver.requests.append(rec)
                    receiver._cond.notify_all()

            do_PUT = do_POST = do_GET = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    def start(self) -> "HTTPReceiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def url(self, path: str = "/", scheme: str = "http", host: str = "127.0.0.1") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def script(self, path: str, answers: list) -> None:
        """Answers for requests to ``path`` in order; the last one repeats."""
        with self._cond:
            self._scripts[path.encode()] = list(answers)

    def _answer(self, path: bytes) -> tuple[int, dict]:
        with self._cond:
            queue = self._scripts.get(path)
            answer: Answer = 200
            if queue:
                answer = queue.pop(0) if len(queue) > 1 else queue[0]
        if isinstance(answer, tuple):
            return answer[0], dict(answer[1])
        return answer, {}

    def wait_for(self, count: int, timeout: float = WAIT, path: Optional[str] = None) -> list[Received]:
        """Wait until ``count`` requests (to ``path`` if given) have been answered."""
        want = path.encode() if path is not None else None

        def matching():
            return [r for r in self.requests if want is None or r.path == want]

        deadline = time.monotonic() + timeout
        with self._cond:
            while len(matching()) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} request(s){' to ' + path if path else ''} within "
                                         f"{timeout}s, got: {self.summary()}")
                self._cond.wait(left)
            return matching()

    def for_path(self, path: str) -> list[Received]:
        with self._cond:
            return [r for r in self.requests if r.path == path.encode()]

    def summary(self) -> str:
        return repr([(r.method, r.target, r.body, r.status) for r in self.requests]) + \
            f" ({self.connections} connection(s))"


# --------------------------------------------------------------------------------------
# the server process, with a drained log
# --------------------------------------------------------------------------------------
class PushServer(ServerProcess):
    """`ServerProcess` whose log keeps being read while it runs, and can be waited on.

    (conftest's `ServerProcess` may drain the log itself; if it does not, a
    thread here does, so a chatty server never blocks on a full pipe.)
    """

    _push_reader: Optional[threading.Thread] = None

    def start(self, timeout: float = 30) -> "PushServer":
        super().start(timeout)
        if not isinstance(getattr(self, "_drain", None), threading.Thread):
            self._push_reader = threading.Thread(target=self._push_read_log, args=(self.proc.stdout,), daemon=True)
            self._push_reader.start()
        return self

    def _push_read_log(self, stream) -> None:
        for line in iter(stream.readline, b""):
            self.log += line

    def wait_log(self, pattern: bytes, timeout: float = WAIT) -> re.Match:
        regex = re.compile(pattern)
        return wait_until(lambda: regex.search(self.log), timeout, interval=0.02,
                          message=lambda: f"server log never matched {pattern!r}:\n"
                          + self.log.decode(errors="replace")[-4000:])

    def stop(self, sig: int = signal.SIGTERM) -> None:
        reader, proc = self._push_reader, self.proc
        if reader is None or proc is None:
            return super().stop(sig)
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        reader.join(10)
        self._push_reader = None
        if proc.stdout:
            proc.stdout.close()
        self.proc = None


def push_list_cli(root: str, *extra: str) -> tuple[int, int, str]:
    """``pushimapd push list --show-urls``: (registrations pending, deliveries in flight, text)."""
    done = run_cli("push", "list", "--show-urls", *extra, root=root)
    assert done.returncode == 0, done.stderr
    text = done.stdout.decode()
    regs = re.search(r"registrations pending: (\d+)", text)
    dels = re.search(r"deliveries in flight: (\d+)", text)
    assert regs and dels, text
    return int(regs.group(1)), int(dels.group(1)), text


# --------------------------------------------------------------------------------------
# Maildir: MTA-style delivery and folders
# --------------------------------------------------------------------------------------
_seq = 0


def folder_path(root: str, user: str, folder: str) -> str:
    return os.path.join(root, user) if folder == "INBOX" else os.path.join(root, user, "." + folder)


def make_folder(root: str, user: str, folder: str) -> str:
    path = folder_path(root, user, folder)
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    if folder != "INBOX":
        open(os.path.join(path, "maildirfolder"), "ab").close()
    return path


def message(subject: str = "test") -> bytes:
    return (f"From: sender@example.com\r\nTo: demo@example.com\r\nSubject: {subject}\r\n"
            f"Message-ID: <{time.time_ns()}.{os.getpid()}@example.com>\r\n\r\nbody of {subject}\r\n").encode()


def mta_deliver(root: str, user: str, folder: str = "INBOX", data: Optional[bytes] = None) -> str:
    """Deliver like an MTA: write into tmp/, then rename into new/."""
    global _seq
    _seq += 1
    data = data if data is not None else message(f"mta {_seq}")
    path = folder_path(root, user, folder)
    now = time.time()
    name = f"{int(now)}.M{int((now % 1) * 1e6)}P{os.getpid()}Q{_seq}.testhost,S={len(data)}"
    tmp = os.path.join(path, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data)
    final = os.path.join(path, "new", name)
    os.rename(tmp, final)
    return final


def cli_deliver(root: str, user: str, folder: str = "INBOX", data: Optional[bytes] = None) -> None:
    args = ["deliver", user] + (["--folder", folder] if folder != "INBOX" else [])
    done = run_cli(*args, stdin=data if data is not None else message("cli"), root=root)
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------------------
# raw IMAP
# --------------------------------------------------------------------------------------
class Literal:
    """A literal argument: synchronizing ``{n}`` or, with plus, LITERAL+ ``{n+}``."""

    def __init__(self, data: Union[bytes, str], plus: bool = False):
        self.data = data.encode() if isinstance(data, str) else data
        self.plus = plus


def quote(value: Union[bytes, str]) -> bytes:
    if isinstance(value, str):
        value = value.encode()
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


_STATUS = re.compile(rb"(\S+) (OK|NO|BAD|BYE)(?: \[([^\]]*)\])?", re.I)
_LITERAL_END = re.compile(rb"\{(\d+)\+?\}\r\n\Z")


@dataclass
class Response:
    tagged: bytes
    untagged: list = field(default_factory=list)

    @property
    def status(self) -> str:
        m = _STATUS.match(self.tagged)
        return m.group(2).decode().upper() if m else ""

    @property
    def code(self) -> Optional[str]:
        m = _STATUS.match(self.tagged)
        return m.group(3).decode().split()[0].upper() if m and m.group(3) else None

    def lines(self, keyword: bytes) -> list:
        """Untagged responses ``* <keyword> ...`` (case-insensitive)."""
        want = b"* " + keyword.upper() + b" "
        return [u for u in self.untagged if u.upper().startswith(want)]


class IMAP:
    def __init__(self, port: int, timeout: float = 10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        self.counter = 0
        self.greeting = self.read_response()

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self) -> "IMAP":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- reading -----------------------------------------------------------------------
    def _line(self, deadline: Optional[float]) -> bytes:
        while b"\r\n" not in self.buf:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise socket.timeout("no response in time")
                self.sock.settimeout(left)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection; had " + repr(self.buf))
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line + b"\r\n"

    def _exact(self, n: int, deadline: Optional[float]) -> bytes:
        while len(self.buf) < n:
            if deadline is not None:
                self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("server closed the connection inside a literal")
            self.buf += data
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def read_response(self, timeout: Optional[float] = None) -> bytes:
        """One whole response, literals included, as received."""
        deadline = time.monotonic() + timeout if timeout is not None else None
        out = self._line(deadline)
        while True:
            m = _LITERAL_END.search(out)
            if not m:
                break
            out += self._exact(int(m.group(1)), deadline)
            out += self._line(deadline)
        if timeout is not None:
            self.sock.settimeout(10.0)
        return out

    # -- commands ----------------------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def next_tag(self) -> bytes:
        self.counter += 1
        return b"T%d" % self.counter

    def command(self, *parts: Union[bytes, str, Literal]) -> Response:
        """Send ``tag`` + parts + CRLF, doing the literal dance; read to the tagged reply."""
        tag = self.next_tag()
        pending = tag + b" "
        untagged: list[bytes] = []
        for part in parts:
            if isinstance(part, Literal):
                if part.plus:
                    pending += b"{%d+}\r\n" % len(part.data) + part.data
                    continue
                self.send(pending + b"{%d}\r\n" % len(part.data))
                pending = b""
                while True:
                    resp = self.read_response()
                    if resp.startswith(b"+"):
                        break
                    if resp.startswith(tag + b" "):
                        return Response(resp, untagged)  # refused before the literal
                    untagged.append(resp)
                pending = part.data
            else:
                pending += part.encode() if isinstance(part, str) else part
        self.send(pending + b"\r\n")
        while True:
            resp = self.read_response()
            if resp.startswith(tag + b" "):
                return Response(resp, untagged)
            untagged.append(resp)

    def login(self, user: str = "demo", password: str = "demo") -> Response:
        resp = self.command(b"LOGIN ", quote(user), b" ", quote(password))
        assert resp.status == "OK", resp
        return resp

    # -- PUSH-NOTIFY-HTTP ------------------------------------------------------------------
    def push_put(self, url: Union[bytes, str], payload: Union[bytes, str] = b"", literal: bool = False) -> Response:
        if literal:
            return self.command(b"PUSH-NOTIFY-HTTP PUT ", Literal(url), b" ", Literal(payload))
        return self.command(b"PUSH-NOTIFY-HTTP PUT ", quote(url), b" ", quote(payload))

    def push_cancel(self, url: Union[bytes, str], literal: bool = False) -> Response:
        return self.command(b"PUSH-NOTIFY-HTTP CANCEL ", Literal(url) if literal else quote(url))

    def push_list(self) -> list[tuple[bytes, bytes]]:
        resp = self.command(b"PUSH-NOTIFY-HTTP LIST")
        assert resp.status == "OK", resp
        return parse_push_list(resp.untagged)

    def push_webpush(self, url: Union[bytes, str], p256dh: Union[bytes, str], auth: Union[bytes, str],
                     payload: Union[bytes, str] = b"", literal: bool = False) -> Response:
        parts = (url, p256dh, auth, payload)
        args: list = [b"PUSH-NOTIFY-HTTP WEBPUSH"]
        for part in parts:
            args += [b" ", Literal(part) if literal else quote(part)]
        return self.command(*args)

    def push_vapid(self) -> str:
        """The server's VAPID key from ``* PUSH-NOTIFY-HTTP VAPID <key>``."""
        resp = self.command(b"PUSH-NOTIFY-HTTP VAPID")
        assert resp.status == "OK", resp
        [line] = resp.lines(b"PUSH-NOTIFY-HTTP VAPID")
        key, pos = _parse_string(line, len(b"* PUSH-NOTIFY-HTTP VAPID "))
        assert line[pos:] == b"\r\n", line
        return key.decode("ascii")

    def push_list_all(self) -> list[tuple]:
        """Both kinds, in the server's order: ("PUT", url, payload) / ("WEBPUSH", url, p256dh, auth, payload)."""
        resp = self.command(b"PUSH-NOTIFY-HTTP LIST")
        assert resp.status == "OK", resp
        return parse_push_list_all(resp.untagged)

    # -- IDLE ------------------------------------------------------------------------------
    def idle_start(self) -> bytes:
        tag = self.next_tag()
        self._idle_tag = tag
        self.send(tag + b" IDLE\r\n")
        while True:
            resp = self.read_response()
            if resp.startswith(b"+"):
                return tag
            assert not resp.startswith(tag + b" "), resp

    def wait_untagged(self, pattern: bytes, timeout: float) -> re.Match:
        regex = re.compile(pattern, re.I)
        deadline = time.monotonic() + timeout
        seen = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {pattern!r} within {timeout}s; saw {seen!r}")
            try:
                resp = self.read_response(timeout=left)
            except socket.timeout:
                raise AssertionError(f"no {pattern!r} within {timeout}s; saw {seen!r}") from None
            seen.append(resp)
            m = regex.match(resp)
            if m:
                return m

    def idle_done(self) -> Response:
        tag = self._idle_tag
        self.send(b"DONE\r\n")
        untagged = []
        while True:
            resp = self.read_response()
            if resp.startswith(tag + b" "):
                return Response(resp, untagged)
            untagged.append(resp)


def _parse_string(data: bytes, pos: int) -> tuple[bytes, int]:
    """An IMAP quoted string, literal or atom at ``pos``; returns (value, next pos)."""
    if data[pos:pos + 1] == b'"':
        out = bytearray()
        pos += 1
        while data[pos:pos + 1] != b'"':
            if data[pos:pos + 1] == b"\\":
                pos += 1
            out += data[pos:pos + 1]
            pos += 1
            if pos >= len(data):
                raise ValueError("unterminated quoted string")
        return bytes(out), pos + 1
    m = re.compile(rb"\{(\d+)\}\r\n").match(data, pos)
    if m:
        start = m.end()
        return data[start:start + int(m.group(1))], start + int(m.group(1))
    m = re.compile(rb"[^ \r\n()]+").match(data, pos)
    if not m:
        raise ValueError(f"no string at {pos} in {data!r}")
    return m.group(0), m.end()


def parse_push_list(untagged: list[bytes]) -> list[tuple[bytes, bytes]]:
    """``* PUSH-NOTIFY-HTTP PUT <url> <payload>`` responses -> [(url, payload)]."""
    out = []
    prefix = b"* PUSH-NOTIFY-HTTP PUT "
    for resp in untagged:
        if not resp.upper().startswith(prefix):
            continue
        url, pos = _parse_string(resp, len(prefix))
        assert resp[pos:pos + 1] == b" ", resp
        payload, pos = _parse_string(resp, pos + 1)
        assert resp[pos:] == b"\r\n", f"trailing data in {resp!r}"
        out.append((url, payload))
    return out


def parse_push_list_all(untagged: list[bytes]) -> list[tuple]:
    """PUT and WEBPUSH lines of a LIST, in order, as tuples of their words and strings."""
    out = []
    for resp in untagged:
        upper = resp.upper()
        for kind, count in ((b"PUT", 2), (b"WEBPUSH", 4)):
            prefix = b"* PUSH-NOTIFY-HTTP " + kind + b" "
            if upper.startswith(prefix):
                values, pos = [], len(prefix) - 1
                for _ in range(count):
                    assert resp[pos:pos + 1] == b" ", resp
                    value, pos = _parse_string(resp, pos + 1)
                    values.append(value)
                assert resp[pos:] == b"\r\n", f"trailing data in {resp!r}"
                out.append((kind.decode(), *values))
    return out

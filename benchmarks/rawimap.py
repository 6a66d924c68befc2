"""A lean asyncio IMAP client for load generation (raw protocol, no parsing
beyond what the benchmarks need: tagged status, untagged lines, literals)."""

from __future__ import annotations

import asyncio
import re
import time

_LITERAL = re.compile(rb"\{(\d+)\+?\}\r\n$")
LINE_LIMIT = 1 << 22


class IMAPError(Exception):
    pass


class Response:
    __slots__ = ("status", "untagged", "elapsed")

    def __init__(self, status: bytes, untagged: list, elapsed: float):
        self.status = status
        self.untagged = untagged
        self.elapsed = elapsed

    @property
    def ok(self) -> bool:
        return self.status.split(b" ", 2)[1:2] == [b"OK"]


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.reader = reader
        self.writer = writer
        self.n = 0
        self.greeting = b""

    @classmethod
    async def open(cls, port: int, timeout: float = 30.0) -> "Connection":
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, limit=LINE_LIMIT), timeout)
        conn = cls(reader, writer)
        conn.greeting = await asyncio.wait_for(conn.read_line(), timeout)
        if not conn.greeting.startswith(b"* OK"):
            conn.close()
            raise IMAPError(f"greeting: {conn.greeting[:100]!r}")
        return conn

    async def read_line(self) -> bytes:
        """One response line with its literals inlined (CRLF stripped)."""
        line = await self.reader.readuntil(b"\r\n")
        if not line.endswith(b"}\r\n"):
            return line[:-2]
        parts = []
        while True:
            m = _LITERAL.search(line)
            if not m:
                parts.append(line[:-2])
                return b"".join(parts)
            parts.append(line)
            parts.append(await self.reader.readexactly(int(m.group(1))))
            line = await self.reader.readuntil(b"\r\n")

    def next_tag(self) -> bytes:
        self.n += 1
        return b"A%d" % self.n

    async def command(self, text: bytes, literal: bytes | None = None, timeout: float = 60.0) -> Response:
        return await asyncio.wait_for(self._command(text, literal), timeout)

    async def _command(self, text: bytes, literal: bytes | None) -> Response:
        tag = self.next_tag()
        prefix = tag + b" "
        untagged = []
        t0 = time.perf_counter()
        if literal is None:
            self.writer.write(prefix + text + b"\r\n")
        else:
            self.writer.write(prefix + text + b" {%d}\r\n" % len(literal))
            while True:
                line = await self.read_line()
                if line.startswith(b"+"):
                    break
                if line.startswith(prefix):
                    return Response(line, untagged, time.perf_counter() - t0)
                untagged.append(line)
            self.writer.write(literal + b"\r\n")
        while True:
            line = await self.read_line()
            if line.startswith(prefix):
                return Response(line, untagged, time.perf_counter() - t0)
            untagged.append(line)

    async def login(self, user: str, password: str, timeout: float = 60.0) -> Response:
        r = await self.command(b'LOGIN "%s" "%s"' % (user.encode(), password.encode()), timeout=timeout)
        if not r.ok:
            raise IMAPError(f"LOGIN {user}: {r.status[:200]!r}")
        return r

    async def idle(self, timeout: float = 60.0) -> bytes:
        """Start IDLE; returns the tag (send DONE later with `done`)."""
        tag = self.next_tag()
        self.writer.write(tag + b" IDLE\r\n")

        async def wait_continuation():
            while True:
                line = await self.read_line()
                if line.startswith(b"+"):
                    return
                if line.startswith(tag + b" "):
                    raise IMAPError(f"IDLE refused: {line[:200]!r}")

        await asyncio.wait_for(wait_continuation(), timeout)
        return tag

    async def wait_for(self, suffix: bytes) -> bytes:
        while True:
            line = await self.read_line()
            if line.endswith(suffix):
                return line

    def close(self) -> None:
        try:
            self.writer.close()
        except Exception:
            pass

    async def logout(self, timeout: float = 10.0) -> Response | None:
        try:
            return await self.command(b"LOGOUT", timeout=timeout)
        except (asyncio.TimeoutError, OSError, asyncio.IncompleteReadError):
            return None
        finally:
            self.close()


def exists_of(untagged: list) -> int:
    for line in untagged:
        if line.endswith(b" EXISTS"):
            return int(line.split(b" ")[1])
    return -1

"""Reading messages of a folder: the parsed-message and header caches.

Mixed into `MaildirMailbox`, which supplies ``known_path(uid)`` (where the
file was last seen) and ``file_path(uid)`` (checked, rescanning the folder
when another program renamed it). Whole
messages are kept in a small LRU; headers alone (what SEARCH and SORT read)
in a bounded cache, read without the body. Both are dropped when nobody has
the folder open.
"""

from __future__ import annotations

import collections
from typing import Optional

from ..mime import ParsedMessage, normalize_crlf

_CACHE_SIZE = 32
_HEADER_CACHE_BYTES = 64 * 1024 * 1024


def header_end(data: bytes) -> int:
    """Offset just past the blank line ending the header, or -1."""
    if data.startswith(b"\n") or data.startswith(b"\r\n"):
        return data.index(b"\n") + 1
    lf = data.find(b"\n\n")
    crlf = data.find(b"\r\n\r\n")
    ends = [e for e in ((lf + 2) if lf >= 0 else -1, (crlf + 4) if crlf >= 0 else -1) if e >= 0]
    return min(ends) if ends else -1


class MessageReader:
    def __init__(self):
        self._headers: dict[int, bytes] = {}
        self._header_bytes = 0
        self._cache: collections.OrderedDict[int, ParsedMessage] = collections.OrderedDict()

    def file_path(self, uid: int) -> Optional[str]:
        raise NotImplementedError

    def known_path(self, uid: int) -> Optional[str]:
        return self.file_path(uid)

    def _open_file(self, uid: int):
        """The message file opened for reading, or None when it is gone. The
        known path is tried first (one system call when nothing moved)."""
        path = self.known_path(uid)
        if path is None:
            return None
        try:
            return open(path, "rb")
        except FileNotFoundError:
            pass
        path = self.file_path(uid)  # renamed or deleted behind our back: look again
        if path is None:
            return None
        try:
            return open(path, "rb")
        except FileNotFoundError:
            return None

    def message(self, uid: int) -> Optional[ParsedMessage]:
        """The CRLF-normalised, parsed message (LRU-cached), or None if gone."""
        cached = self._cache.get(uid)
        if cached is not None:
            self._cache.move_to_end(uid)
            return cached
        f = self._open_file(uid)
        if f is None:
            return None
        with f:
            raw = normalize_crlf(f.read())
        msg = ParsedMessage(raw)
        self._cache[uid] = msg
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return msg

    def header_block(self, uid: int, keep: bool = True) -> Optional[bytes]:
        """The message's header (CRLF form, up to and including the blank
        line), read without the body and kept in a bounded cache (unless
        ``keep`` is false: filling the index reads each header once)."""
        cached = self._headers.get(uid)
        if cached is not None:
            return cached
        msg = self._cache.get(uid)
        if msg is not None:
            block = msg.section((), "HEADER") or b""
        else:
            f = self._open_file(uid)
            if f is None:
                return None
            with f:
                data = f.read(16384)
                while True:
                    end = header_end(data)
                    if end >= 0:
                        data = data[:end]
                        break
                    more = f.read(65536)
                    if not more:
                        break
                    data += more
            block = normalize_crlf(data)
        if not keep:
            return block
        if self._header_bytes + len(block) > _HEADER_CACHE_BYTES:
            self._headers.clear()
            self._header_bytes = 0
        self._headers[uid] = block
        self._header_bytes += len(block)
        return block

    def forget_message(self, uid: int) -> None:
        self._cache.pop(uid, None)
        block = self._headers.pop(uid, None)
        if block is not None:
            self._header_bytes -= len(block)

    def drop_caches(self) -> None:
        self._cache.clear()
        self._headers.clear()
        self._header_bytes = 0


def give_memory_back() -> None:
    """Return freed heap pages to the system (glibc ``malloc_trim``): after a
    big folder's work, Python frees its objects but the C heap keeps the pages
    (tens of MB after a 50,000-message FETCH). No-op elsewhere."""
    global _trim
    if _trim is None:
        try:
            import ctypes

            _trim = ctypes.CDLL("libc.so.6").malloc_trim
        except (OSError, AttributeError):
            _trim = False
    if _trim:
        _trim(0)


_trim = None

"""COMPRESS=DEFLATE (RFC 4978) as a sans-IO codec: raw deflate both ways.

The transport feeds it the client's compressed bytes and takes the inflated
protocol out in bounded pieces (``inflate(max_length)``), so it can hand the
session one piece at a time and stop while the session takes no commands;
what waits meanwhile stays compressed (``backlog``). Output is flushed with
Z_SYNC_FLUSH after every batch: the client can decode each response the
moment it arrives, IDLE news included.

A stream that inflates far beyond what mail ever compresses to is a
decompression bomb: `CompressionError`, as for a corrupt stream. Neither can
be resynchronised; the transport says BYE and closes.
"""

from __future__ import annotations

import zlib

WINDOW_BITS = -15  # raw deflate (no zlib header), 32 KiB window: what RFC 4978 peers send
LEVEL = 1  # fastest: mail text still shrinks to ~40% (level 6: ~38%, at a quarter of the speed)
MEM_LEVEL = 5  # an 8 KiB hash table instead of 64 KiB: ~44 KiB per idle session instead of ~100, 3% larger output
INPUT_SLICE = 16 * 1024  # compressed bytes given to zlib at once (it copies back what it leaves)
MAX_RATIO = 100  # inflated bytes per compressed byte; mail text is 2-10, base64 attachments under 2
FREE_BYTES = 4 * 1024 * 1024  # inflated bytes allowed before the ratio counts (a burst of repetitive commands)


class CompressionError(Exception):
    """The client's compressed stream is unusable (corrupt, or a decompression bomb)."""


class DeflateCodec:
    """One connection's deflate state: an inflater for input, a deflater for output."""

    def __init__(self, level: int = LEVEL, max_ratio: int = MAX_RATIO, free_bytes: int = FREE_BYTES):
        self._inflater = zlib.decompressobj(WINDOW_BITS)
        self._deflater = zlib.compressobj(level, zlib.DEFLATED, WINDOW_BITS, MEM_LEVEL)
        self._waiting = bytearray()  # compressed input not yet given to zlib
        self._tail = b""  # input zlib was given but has not used yet
        self._full = False  # the last piece filled max_length: zlib may hold more output
        self.max_ratio = max_ratio
        self.free_bytes = free_bytes
        self.received = 0  # compressed bytes fed
        self.inflated = 0  # bytes handed out by inflate()

    # -- input ---------------------------------------------------------------------
    def feed(self, data: bytes) -> None:
        self._waiting += data
        self.received += len(data)

    @property
    def backlog(self) -> int:
        """Compressed bytes received and not inflated yet."""
        return len(self._waiting) + len(self._tail)

    @property
    def has_input(self) -> bool:
        """inflate() may have something to hand out."""
        return bool(self._waiting or self._tail or self._full)

    def inflate(self, max_length: int) -> bytes:
        """Up to ``max_length`` bytes of protocol; b"" when the input so far is used up."""
        while True:
            if not self._tail and self._waiting:
                self._tail = bytes(self._waiting[:INPUT_SLICE])
                del self._waiting[:INPUT_SLICE]
            if not self._tail and not self._full:
                return b""
            if self._inflater.eof:
                if self._tail:
                    raise CompressionError("data after the end of the compressed stream")
                return b""
            given = len(self._tail)
            try:
                out = self._inflater.decompress(self._tail, max_length)
            except zlib.error as e:
                raise CompressionError(f"corrupt compressed data ({e})") from None
            self._tail = self._inflater.unconsumed_tail
            self._full = len(out) == max_length
            if self._inflater.eof and self._inflater.unused_data:
                raise CompressionError("data after the end of the compressed stream")
            if out:
                self.inflated += len(out)
                used = self.received - self.backlog
                if self.inflated > self.free_bytes + self.max_ratio * used:
                    raise CompressionError(f"compressed input expands more than {self.max_ratio}:1")
                return out
            if self._tail and len(self._tail) == given:  # never expected from zlib; never spin
                raise CompressionError("the compressed stream makes no progress")

    # -- output --------------------------------------------------------------------
    def compress(self, data: bytes) -> bytes:
        """``data`` deflated and sync-flushed: the peer can inflate all of it now."""
        return self._deflater.compress(data) + self._deflater.flush(zlib.Z_SYNC_FLUSH)

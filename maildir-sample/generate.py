#!/usr/bin/env python3
"""Deterministic generator for the pushimapd sample Maildir++ tree.

All messages below were written for this project; every address uses the
reserved example.com / example.org / example.net domains and every IP address
comes from the documentation ranges (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32).

Usage (stdlib only, Python >= 3.11):

    python3 generate.py           # (re)create demo/, alice/ and README.md here
    python3 generate.py --check   # regenerate in a temp dir, compare byte for
                                  # byte with the tree on disk, and sanity-check
                                  # every message (S=/W= sizes, MIME parsing)

The output is identical on every run: timestamps are fixed, the per-message
random generators are seeded from SEED and the message key, and binary
attachments (PNG, PDF) are built by hand without zlib compression.
"""

from __future__ import annotations

import base64
import calendar
import datetime
import email
import email.policy
import filecmp
import os
import random
import shutil
import struct
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
SEED = 20260105
HOSTNAME = "sample"
USERS = ("demo", "alice")


# ---------------------------------------------------------------------------
# Small encoders
# ---------------------------------------------------------------------------

def mutf7(name: str) -> str:
    """IMAP modified UTF-7 (RFC 3501 section 5.1.3), as Dovecot stores it."""
    out: list[str] = []
    buf: list[str] = []

    def flush() -> None:
        if buf:
            raw = "".join(buf).encode("utf-16-be")
            b64 = base64.b64encode(raw).decode("ascii").rstrip("=")
            out.append("&" + b64.replace("/", ",") + "-")
            buf.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            buf.append(ch)
    flush()
    return "".join(out)


def ew_b(text: str, charset: str = "UTF-8") -> str:
    """RFC 2047 'B' encoded word."""
    data = base64.b64encode(text.encode(charset)).decode("ascii")
    return f"=?{charset}?B?{data}?="


def ew_q(text: str, charset: str = "ISO-8859-1") -> str:
    """RFC 2047 'Q' encoded word (safe for phrases and unstructured text)."""
    out = []
    for b in text.encode(charset):
        c = chr(b)
        if b == 0x20:
            out.append("_")
        elif b < 0x80 and (c.isalnum() or c in "!*+-/"):
            out.append(c)
        else:
            out.append("=%02X" % b)
    return f"=?{charset}?Q?{''.join(out)}?="


def qp(text: str, charset: str = "utf-8") -> str:
    """Quoted-printable (RFC 2045 6.7) with soft line breaks at 76 columns."""
    lines_out: list[str] = []
    for line in text.encode(charset).split(b"\n"):
        toks = []
        for i, b in enumerate(line):
            last = i == len(line) - 1
            if b == 0x3D or b > 0x7E or (b < 0x20 and b != 0x09):
                toks.append("=%02X" % b)
            elif b in (0x20, 0x09) and last:
                toks.append("=%02X" % b)
            else:
                toks.append(chr(b))
        cur = ""
        for tok in toks:
            if len(cur) + len(tok) > 75:
                lines_out.append(cur + "=")
                cur = ""
            cur += tok
        lines_out.append(cur)
    return "\n".join(lines_out)


def b64(data: bytes) -> str:
    """Base64 body, 76 characters per line, trailing newline."""
    return base64.encodebytes(data).decode("ascii")


# ---------------------------------------------------------------------------
# Deterministic binary attachments
# ---------------------------------------------------------------------------

def png_from_raw(width: int, height: int, raw: bytes) -> bytes:
    """Frame filtered RGB scanlines as a PNG. The zlib stream uses stored
    (uncompressed) blocks so the bytes do not depend on the zlib version."""
    z = bytearray(b"\x78\x01")
    for i in range(0, len(raw), 65535):
        block = raw[i:i + 65535]
        z.append(1 if i + 65535 >= len(raw) else 0)
        z += struct.pack("<HH", len(block), len(block) ^ 0xFFFF)
        z += block
    z += struct.pack(">I", zlib.adler32(raw) & 0xFFFFFFFF)

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", bytes(z)) + chunk(b"IEND", b""))


def make_png(width: int, height: int, pixel) -> bytes:
    """A valid 8-bit RGB PNG; pixel(x, y) -> (r, g, b)."""
    raw = bytearray()
    for y in range(height):
        raw.append(0)  # filter: none
        raw += b"".join(bytes(pixel(x, y)) for x in range(width))
    return png_from_raw(width, height, bytes(raw))


def logo_png() -> bytes:
    """24x24 'logo': a blue square with an orange diagonal."""
    def px(x, y):
        if abs(x - y) <= 1 or abs(x + y - 23) <= 1:
            return (245, 130, 32)
        if x in (0, 23) or y in (0, 23):
            return (20, 40, 90)
        return (40, 90, 200)
    return make_png(24, 24, px)


def map_png() -> bytes:
    """32x20 'map' thumbnail: green field, grey road, red pin."""
    def px(x, y):
        if (x - 20) ** 2 + (y - 7) ** 2 <= 6:
            return (210, 30, 30)
        if 9 <= y <= 11 or 14 <= x <= 15:
            return (150, 150, 150)
        return (110, 170 + (x * 3 + y) % 20, 90)
    return make_png(32, 20, px)


def panorama_png() -> bytes:
    """600x500 RGB 'photo' (~900 KB, uncompressed): sky, hills, noise."""
    state = [SEED]

    def noise() -> int:
        state[0] = (state[0] * 1103515245 + 12345) & 0x7FFFFFFF
        return (state[0] >> 16) % 23

    rows = []
    for y in range(500):
        row = bytearray([0])
        for x in range(600):
            horizon = 300 + ((x * 7) % 97) // 3 - ((x * 13) % 61) // 2
            n = noise()
            if y < horizon:
                row += bytes((90 + y // 6 + n, 140 + y // 8 + n, 230 - y // 10))
            else:
                row += bytes((60 + n, 110 + (y - horizon) // 4 + n, 40 + n))
        rows.append(bytes(row))
    return png_from_raw(600, 500, b"".join(rows))


def make_pdf(title: str, lines: list[str]) -> bytes:
    """A small, valid single-page PDF 1.4 with correct xref offsets."""
    def esc(s: str) -> str:
        return s.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    ops = ["BT", "/F1 18 Tf", "72 740 Td", f"({esc(title)}) Tj", "/F1 11 Tf"]
    for line in lines:
        ops += ["0 -18 Td", f"({esc(line)}) Tj"]
    ops.append("ET")
    stream = ("\n".join(ops) + "\n").encode("latin-1")
    objs = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"endstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ("<< /Title (%s) /Producer (pushimapd sample generator) "
         "/CreationDate (D:20260101000000Z) >>" % esc(title)).encode("latin-1"),
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for i, body in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    for off in offsets:
        out += b"%010d 00000 n \n" % off
    out += (b"trailer\n<< /Size %d /Root 1 0 R /Info 6 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objs) + 1, xref))
    return bytes(out)


# ---------------------------------------------------------------------------
# Dates, trace headers, MIME helpers
# ---------------------------------------------------------------------------

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun",
          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
FIRST_TS = calendar.timegm((2026, 1, 5, 0, 0, 0))
LAST_TS = calendar.timegm((2026, 11, 20, 23, 59, 59))


def ts_of(when: str) -> int:
    """'MM-DD HH:MM:SS' in 2026, UTC -> unix seconds."""
    d, t = when.split()
    mo, dd = (int(v) for v in d.split("-"))
    hh, mi, ss = (int(v) for v in t.split(":"))
    return calendar.timegm((2026, mo, dd, hh, mi, ss))


def rfc_date(ts: int, tz: int = 0, pad: bool = False, comment: str = "") -> str:
    """RFC 5322 date; tz is the offset in minutes east of UTC."""
    dt = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc)
    dt = dt + datetime.timedelta(minutes=tz)
    sign = "+" if tz >= 0 else "-"
    a = abs(tz)
    day = f"{dt.day:02d}" if pad else str(dt.day)
    s = (f"{DAYS[dt.weekday()]}, {day} {MONTHS[dt.month - 1]} {dt.year} "
         f"{dt.hour:02d}:{dt.minute:02d}:{dt.second:02d} "
         f"{sign}{a // 60:02d}{a % 60:02d}")
    return s + (f" ({comment})" if comment else "")


class Ctx:
    """Per-message context: delivery timestamp and a seeded RNG."""

    def __init__(self, key: str, when: str):
        self.key = key
        self.ts = ts_of(when)
        self.rng = random.Random(f"{SEED}/{key}")

    def _pick(self, alphabet: str, n: int) -> str:
        return "".join(alphabet[self.rng.getrandbits(16) % len(alphabet)]
                       for _ in range(n))

    def qid(self) -> str:
        """Postfix long queue id."""
        return self._pick("0123456789BCDFGHJKLMNPQRSTVWXYZbcdfghjklmnpqrstvwxyz", 15)

    def lmtp_id(self) -> str:
        return self._pick("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 22)

    def hexs(self, n: int) -> str:
        return self._pick("0123456789abcdef", n)

    def boundary(self, prefix: str = "----=_Part_") -> str:
        return prefix + self._pick("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 24)


def trace(c: Ctx, rcpt: str, envfrom: str, *, relay: str, relay_ip: str,
          client_ip: str = "", tz: int = 0, auth: bool = True,
          local: bool = False, extra: list[str] | None = None) -> list[str]:
    """Return-Path, Delivered-To and a plausible chain of Received headers
    (newest first), ending at delivery time c.ts."""
    t = c.ts
    h = [f"Return-Path: <{envfrom}>", f"Delivered-To: {rcpt}"]
    h.append(
        "Received: from mail.example.com\n"
        "\tby mail.example.com with LMTP\n"
        f"\tid {c.lmtp_id()}\n"
        f"\t(envelope-from <{envfrom}>)\n"
        f"\tfor <{rcpt}>; {rfc_date(t)}")
    if local:
        h.append(
            f"Received: from [{client_ip}] (unknown [{client_ip}])\n"
            "\t(Authenticated sender: " + envfrom.split("@")[0] + ")\n"
            f"\tby mail.example.com (Postfix) with ESMTPSA id {c.qid()};\n"
            f"\t{rfc_date(t - 2, tz)}")
        return h
    h.append(
        f"Received: from {relay} ({relay} [{relay_ip}])\n"
        "\t(using TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)\n"
        "\t key-exchange X25519 server-signature RSA-PSS (2048 bits))\n"
        "\t(No client certificate requested)\n"
        f"\tby mx1.example.com (Postfix) with ESMTPS id {c.qid()}\n"
        f"\tfor <{rcpt}>; {rfc_date(t - 2, 0, comment='UTC')}")
    if client_ip:
        how = "ESMTPSA" if auth else "ESMTP"
        h.append(
            f"Received: from [{client_ip}] (unknown [{client_ip}])\n"
            f"\tby {relay} (Postfix) with {how} id {c.qid()};\n"
            f"\t{rfc_date(t - 5, tz)}")
    h.extend(extra or [])
    return h


def auth_results(domain: str, ip: str, dkim: str = "pass") -> str:
    return ("Authentication-Results: mx1.example.com;\n"
            f"\tspf=pass (sender IP is {ip}) smtp.mailfrom={domain};\n"
            f"\tdkim={dkim} header.d={domain}")


def part(headers: list[str], body: str) -> str:
    """One MIME entity (headers, blank line, body)."""
    if body and not body.endswith("\n"):
        body += "\n"
    return "\n".join(headers) + "\n\n" + body


def multipart(boundary: str, parts: list[str],
              preamble: str = "This is a multi-part message in MIME format.\n",
              epilogue: str = "") -> str:
    out = preamble + ("\n" if preamble else "")
    for p in parts:
        out += f"--{boundary}\n{p}"
        if not out.endswith("\n"):
            out += "\n"
    out += f"--{boundary}--\n" + epilogue
    return out


def message(trace_lines: list[str], headers: list[str], body: str) -> str:
    return part(list(trace_lines) + list(headers), body)


# ---------------------------------------------------------------------------
# People (all invented) and message registry
# ---------------------------------------------------------------------------

DEMO = "Dana Demo <demo@example.com>"
ALICE = "Alice Lindqvist <alice@example.com>"
BOB = "Bob Okafor <bob@example.org>"
CARLA = f"{ew_b('Carla Jiménez')} <carla@example.net>"
JUERGEN = f"{ew_q('Jürgen Weiß')} <juergen.weiss@example.org>"
MEI = f"{ew_b('田中 芽衣 (Mei Tanaka)')} <mei.tanaka@example.net>"
FRANK = "Frank Hallworth <frank@example.org>"
PRIYA = "Priya Raman <priya@example.org>"
TOMAS = f"{ew_q('Tomás Ó Briain')} <tomas@example.net>"
NADIA = "Nadia Haddad <nadia@example.net>"

UA_DEMO = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) ExampleMail/128.4"


class Msg:
    def __init__(self, key, user, folder, ts, data, state, flags, keywords, note):
        self.key = key
        self.user = user
        self.folder = folder
        self.ts = ts
        self.data = data
        self.state = state
        self.flags = flags
        self.keywords = tuple(keywords)
        self.note = note
        self.filename = ""
        self.relpath = ""


MSGS: list[Msg] = []


def add(c: Ctx, user: str, folder: str, text: str, *, state: str = "cur",
        flags: str = "S", kw: tuple[str, ...] = (), crlf: bool = False,
        note: str | None = None, rstrip_final_newline: bool = False) -> None:
    if rstrip_final_newline:
        text = text.rstrip("\n")
    data = text.encode("utf-8")
    assert b"\r" not in data, c.key
    if crlf:
        data = data.replace(b"\n", b"\r\n")
    assert state in ("cur", "new")
    if state == "new":
        assert flags == "" and not kw, c.key
    MSGS.append(Msg(c.key, user, folder, c.ts, data, state, flags, kw, note))


# ===========================================================================
# Message-IDs shared between copies (sender's Sent, recipients' INBOXes)
# ===========================================================================

MID_Q1 = "<CAB7kq9xM3f0a1Lw@mail.example.org>"
MID_Q1_DEMO = "<5f1c2e0a-7b3d-4c8e-9a61-q1reply@example.com>"
MID_Q1_CARLA = "<a8d2f3c9-1e4b-47f0-b2d6-2026q1@example.net>"
MID_MEI = "<20260203075512.3F9A1C@mail.example.net>"
MID_MEI_REPLY = "<0b6e9d41-5a2f-4c13-8e77-travelreply@example.com>"
MID_MEI_FOLLOWUP = "<20260706151502.77B2E0@mail.example.net>"
MID_DESIGN = "<design-review.20260223151939.priya@example.org>"
MID_DESIGN_FWD = "<3c7a5e12-9d0b-4f6a-a1c8-fwddesign@example.com>"
MID_VENUE = "<venue.2026.03.05.0931@riverside.example.net>"
MID_VENUE_FWD = "<CAB7kq9xVenueFwd0312@mail.example.org>"
MID_LUNCH = "<e4b8c2d1-6f3a-4a9e-b5d0-lunch@example.com>"
MID_LUNCH_RE = "<9a1f7c3e-2b8d-4e6f-a0c4-lunchre@example.com>"
MID_CONTRACT = "<CAB7kq9xContract0914@mail.example.org>"
MID_CONTRACT_RE = "<71d0e5b3-8c2a-4f97-b6e1-contractre@example.com>"
MID_CONTRACT_RE2 = "<CAB7kq9xContract1117@mail.example.org>"
MID_COSTS = "<000a01dc8523$4f1e2b30$ed5a8190$@example.org>"
MID_BOOK = "<book-club.20260818@mail.example.net>"
MID_BOOK_RE = "<f2c9a7b4-3e1d-4b8a-9c05-bookre@example.com>"
MID_IDLE = "<87v8h2k3qx.fsf@lists-user1.example.org>"
MID_IDLE_RE1 = "<Zf9kQm2x8Lp0tRvA@nosuchhost.example.net>"
MID_IDLE_RE2 = "<87r0a9b1cz.fsf@lists-user1.example.org>"
MID_MODSEQ = "<a1b2c3d4e5f6.modseq@imap-dev.example.com>"
MID_MODSEQ_RE = "<modseq-reply-20260520@example.net>"

# ===========================================================================
# demo / INBOX
# ===========================================================================

# --- welcome: plain us-ascii ------------------------------------------------
c = Ctx("welcome", "01-05 08:02:11")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "postmaster@example.com", relay="", relay_ip="",
          client_ip="192.0.2.10", local=True),
    ["Date: " + rfc_date(c.ts - 4),
     "From: Example Mail Admin <postmaster@example.com>",
     "To: " + DEMO,
     "Subject: Welcome to your pushimapd demo mailbox",
     "Message-ID: <welcome.1767600127@mail.example.com>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii",
     "Content-Transfer-Encoding: 7bit"],
    """Hello Dana,

welcome to the demo account on mail.example.com. This mailbox is a test
bed for IMAP client developers. It contains a little bit of everything:

  * plain and HTML mail, quoted-printable and base64 bodies
  * attachments (PDF, PNG, plain text, CSV) and one message over 1 MB
  * forwarded messages (message/rfc822) and inline images
  * encoded and raw 8-bit headers, odd or missing headers
  * folders: Sent, Drafts, Junk, Trash, Archive, Lists/imap-protocol and
    one folder with a non-ASCII name

Nothing in here is real. All names are invented and all addresses use the
example.com, example.org and example.net domains.

Have fun breaking things,
-- 
The mail admins
"""), flags="S", note="plain text/plain us-ascii, first message of demo INBOX")

# --- Q1 kickoff thread (Bob -> demo, Cc alice, carla) -------------------------
Q1_HEADERS = [
    "Date: " + rfc_date(ts_of("01-09 14:31:07") - 41, 60),
    "From: " + BOB,
    "To: " + DEMO,
    "Cc: " + ALICE + ",\n " + CARLA,
    "Subject: Q1 planning kickoff",
    "Message-ID: " + MID_Q1,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=us-ascii",
    "Content-Transfer-Encoding: 7bit",
]
Q1_BODY = """Hi all,

let's get Q1 planning going. I'd like to meet next Tuesday at 10:00 in the
small meeting room (or on the usual video link for Carla).

Proposed agenda:

  1. What we shipped in Q4 and what slipped
  2. Candidate projects for Q1 (please bring one each)
  3. Staffing and holidays
  4. Any other business

If Tuesday doesn't work for you, reply with two alternatives.

Cheers,
Bob
"""
for key, user, when, ip in (("q1-kickoff", "demo", "01-09 14:31:07", "198.51.100.23"),
                            ("q1-kickoff-alice", "alice", "01-09 14:31:08", "198.51.100.23")):
    c = Ctx(key, when)
    add(c, user, "", message(
        trace(c, f"{user}@example.com", "bob@example.org", relay="smtp.example.org",
              relay_ip=ip, client_ip="192.0.2.77", tz=60)
        + [auth_results("example.org", ip)],
        Q1_HEADERS, Q1_BODY),
        flags="RS" if user == "demo" else "S",
        note="thread start; answered (R); Cc with two addresses" if user == "demo" else
        "same Message-ID as demo's copy (delivered to both users)")

Q1_REPLY_HEADERS = [
    "Message-ID: " + MID_Q1_DEMO,
    "Date: " + rfc_date(ts_of("01-09 15:12:40") - 1, 60),
    "MIME-Version: 1.0",
    UA_DEMO,
    "Subject: Re: Q1 planning kickoff",
    "Content-Language: en-US",
    "To: " + BOB,
    "Cc: " + ALICE + ",\n " + CARLA,
    "References: " + MID_Q1,
    "In-Reply-To: " + MID_Q1,
    "From: " + DEMO,
    "Content-Type: text/plain; charset=UTF-8; format=flowed",
    "Content-Transfer-Encoding: 7bit",
]
Q1_REPLY_BODY = """Tuesday 10:00 works for me. I'll bring the sync-performance idea we 
discussed before the holidays.

Dana

On 09.01.26 15:30, Bob Okafor wrote:
> Hi all,
>
> let's get Q1 planning going. I'd like to meet next Tuesday at 10:00 in the
> small meeting room (or on the usual video link for Carla).
>
> If Tuesday doesn't work for you, reply with two alternatives.
>
> Cheers,
> Bob
"""
c = Ctx("sent-q1-reply", "01-09 15:12:40")
add(c, "demo", "Sent", message([], Q1_REPLY_HEADERS, Q1_REPLY_BODY), flags="S",
    note="reply with References/In-Reply-To; format=flowed")
c = Ctx("q1-reply-alice", "01-09 15:12:43")
add(c, "alice", "", message(
    trace(c, "alice@example.com", "demo@example.com", relay="", relay_ip="",
          client_ip="192.0.2.51", tz=60, local=True),
    Q1_REPLY_HEADERS, Q1_REPLY_BODY), flags="S",
    note="demo's reply as received by alice (same Message-ID as demo/.Sent copy)")

c = Ctx("q1-carla", "01-09 16:05:52")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "carla@example.net", relay="mail.example.net",
          relay_ip="203.0.113.42", client_ip="198.51.100.140", tz=60),
    ["From: " + CARLA,
     "To: " + BOB,
     "Cc: " + DEMO + ", " + ALICE,
     "Subject: Re: Q1 planning kickoff",
     "Date: " + rfc_date(c.ts - 38, 60),
     "Message-ID: " + MID_Q1_CARLA,
     "In-Reply-To: " + MID_Q1_DEMO,
     "References: " + MID_Q1 + "\n " + MID_Q1_DEMO,
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=utf-8",
     "Content-Transfer-Encoding: quoted-printable"],
    qp("""Hola a todos,

el martes me va bien, me conecto por vídeo. Llevo una propuesta para
la migración del almacenamiento: menos disco, más índices y una caché
compartida entre réplicas. ¿Alguien sabe si la sala pequeña tiene cámara
nueva? La última vez el micrófono hacía un ruido horrible.

Un saludo,
Carla

El vie, 9 ene 2026 a las 16:12, Dana Demo <demo@example.com> escribió:
> Tuesday 10:00 works for me. I'll bring the sync-performance idea we
> discussed before the holidays.
""")), flags="S", note="UTF-8 B-encoded From name; quoted-printable utf-8 body; 3-level References")

# --- Jürgen: ISO-8859-1 Q headers and QP latin-1 body ------------------------
c = Ctx("juergen-costs", "01-14 09:47:30")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "juergen.weiss@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.201", tz=60)
    + [auth_results("example.org", "198.51.100.23")],
    ["From: " + JUERGEN,
     "To: " + ew_q("Dana Demo") + " <demo@example.com>",
     "Subject: " + ew_q("Übersicht der Kosten für Januar"),
     "Date: " + rfc_date(c.ts - 55, 60),
     "Message-ID: " + MID_COSTS,
     "MIME-Version: 1.0",
     "Content-Type: text/plain;\n\tcharset=\"iso-8859-1\"",
     "Content-Transfer-Encoding: quoted-printable",
     "X-Mailer: ExampleMail Desktop 16.0",
     "Thread-Index: AdyFI08B4nL0tXk2Qm2fXzJ1wF6ZpQ==",
     "Content-Language: de-de"],
    qp("""Hallo Dana,

anbei wie besprochen die Übersicht der Kosten für Januar. Die Positionen für Schulungen und Reisekosten sind gegenüber Dezember um 12 % gestiegen, das liegt hauptsächlich an der Messe in München.

  Server & Hosting ....... 1.240,00 €
  Lizenzen ............... 310,50 €
  Reisekosten ............ 2.018,75 €
  Schulungen ............. 890,00 €

Bitte prüf die Zahlen bis Freitag, danach schicke ich sie an die Buchhaltung weiter.

Schöne Grüße
Jürgen Weiß
""".replace("€", "EUR"), "iso-8859-1")), flags="S",
    note="ISO-8859-1 Q-encoded From name, To name and Subject; QP latin-1 body with soft line breaks")

# --- invoice with PDF ----------------------------------------------------------
c = Ctx("invoice-pdf", "01-20 11:10:05")
INVOICE_PDF = make_pdf("Invoice 2026-0042", [
    "Example Hosting Ltd., 1 Sample Street, Exampletown",
    "Bill to: Dana Demo, demo@example.com",
    "",
    "Virtual server S (January 2026) ........ 24.00",
    "Backup storage 200 GB .................. 6.00",
    "VAT 19% ................................ 5.70",
    "Total due ............................... 35.70 EUR",
    "",
    "This document was generated for the pushimapd sample mailbox.",
])
bnd = c.boundary("=_mixed_")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "bounces+inv0042@billing.example.org",
          relay="out3.billing.example.org", relay_ip="198.51.100.61")
    + [auth_results("billing.example.org", "198.51.100.61")],
    ["Date: " + rfc_date(c.ts - 7, 0, pad=True),
     "From: Example Hosting Billing <billing@example.org>",
     "Reply-To: Example Hosting Support <support@example.org>",
     "To: demo@example.com",
     "Subject: Your invoice 2026-0042",
     "Message-ID: <inv-2026-0042.1768907398@billing.example.org>",
     "MIME-Version: 1.0",
     f"Content-Type: multipart/mixed; boundary=\"{bnd}\""],
    multipart(bnd, [
        part(["Content-Type: text/plain; charset=us-ascii",
              "Content-Transfer-Encoding: 7bit"],
             """Dear customer,

please find attached your invoice 2026-0042 for January 2026.
The amount of 35.70 EUR will be debited from your account on file.

Example Hosting Billing
"""),
        part(["Content-Type: application/pdf; name=\"invoice-2026-0042.pdf\"",
              "Content-Transfer-Encoding: base64",
              "Content-Disposition: attachment; filename=\"invoice-2026-0042.pdf\";\n"
              f" size={len(INVOICE_PDF)}"],
             b64(INVOICE_PDF)),
    ])), flags="S", kw=("$Label1",),
    note="multipart/mixed with a base64 application/pdf attachment; Reply-To; keyword $Label1")

# --- newsletter: multipart/alternative, QP -------------------------------------
NEWS_HTML_STYLE = "body { font-family: sans-serif; color: #222; } h1 { color: #0a4d8c; }"


def newsletter(c: Ctx, user: str, issue: int, title: str, items: list[tuple[str, str]],
               state: str = "cur", flags: str = "S", note: str | None = None,
               folder: str = "") -> None:
    bnd = c.boundary("b1_")
    text = f"Example Weekly #{issue}: {title}\n\n"
    html = ("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
            f"<style>{NEWS_HTML_STYLE}</style><title>Example Weekly #{issue}</title></head>\n"
            f"<body><h1>Example Weekly #{issue}: {title}</h1>\n")
    for head, para in items:
        text += f"== {head} ==\n{para}\n\n"
        html += (f"<h2>{head}</h2>\n<p style=\"margin: 0 0 1em 0; line-height: 1.4\">"
                 f"{para.replace(chr(10), ' ')}</p>\n")
    text += ("You receive this because you subscribed at https://news.example.net/.\n"
             "Unsubscribe: https://news.example.net/unsubscribe?u=demo\n")
    html += ("<p style=\"font-size: small; color: #888\">You receive this because you "
             "subscribed at <a href=\"https://news.example.net/\">news.example.net</a>. "
             "<a href=\"https://news.example.net/unsubscribe?u=demo&amp;issue="
             f"{issue}\">Unsubscribe</a></p>\n</body></html>\n")
    add(c, user, folder, message(
        trace(c, f"{user}@example.com", f"bounce-{issue}-{user}=example.com@news.example.net",
              relay="mta2.news.example.net", relay_ip="203.0.113.88")
        + [auth_results("news.example.net", "203.0.113.88")],
        ["Date: " + rfc_date(c.ts - 93, -300),
         "From: Example Weekly <weekly@news.example.net>",
         "Reply-To: Example Weekly <no-reply@news.example.net>",
         f"To: {user}@example.com",
         f"Subject: Example Weekly #{issue}: {title}",
         f"Message-ID: <weekly-{issue}.{user}.{c.hexs(10)}@news.example.net>",
         f"List-Unsubscribe: <https://news.example.net/unsubscribe?u={user}&issue={issue}>",
         "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
         "Precedence: bulk",
         "MIME-Version: 1.0",
         f"Content-Type: multipart/alternative;\n boundary=\"{bnd}\""],
        multipart(bnd, [
            part(["Content-Type: text/plain; charset=utf-8",
                  "Content-Transfer-Encoding: quoted-printable"], qp(text)),
            part(["Content-Type: text/html; charset=utf-8",
                  "Content-Transfer-Encoding: quoted-printable"], qp(html)),
        ], preamble="")), state=state, flags=flags, note=note)


c = Ctx("newsletter-4", "01-27 18:22:45")
newsletter(c, "demo", 4, "Faster search, fewer folders", [
    ("Search got faster", "The new index format cuts full-text search time on large "
     "mailboxes by roughly 40 percent. Reindexing happens in the background – you "
     "won't notice a thing."),
    ("Fewer folders, more labels", "Readers keep asking whether they should file mail "
     "into folders or tag it. Our answer: whatever you will still understand in a year."),
    ("Tip of the week", "Use \"Mark all as read\" = less noise, but the same amount of "
     "unread work. Archive instead."),
], note="multipart/alternative text/plain + text/html, both quoted-printable (soft breaks, =3D)")

# --- Mei: UTF-8 B From and Subject, 8bit UTF-8 body ----------------------------
c = Ctx("mei-travel", "02-03 07:55:18")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "mei.tanaka@example.net", relay="mail.example.net",
          relay_ip="203.0.113.42", client_ip="198.51.100.9", tz=540),
    ["From: " + MEI,
     "To: " + DEMO,
     "Subject: " + ew_b("出張の件 / business trip in March"),
     "Date: " + rfc_date(c.ts - 6, 540),
     "Message-ID: " + MID_MEI,
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=UTF-8",
     "Content-Transfer-Encoding: 8bit"],
    """Dana さん

お疲れさまです。田中です。
3月の出張の件ですが、10日から13日までで調整しています。
ホテルは会場の近くを押さえました。

Short version in English: I'm planning the trip for 10–13 March and have
booked a hotel close to the venue. Could you send me the address of your
office and the name of the person at reception?

よろしくお願いします。
芽衣
"""), flags="RS", note="UTF-8 B-encoded Subject and From; 8bit UTF-8 body (Japanese)")

c = Ctx("sent-mei-reply", "02-05 10:20:33")
add(c, "demo", "Sent", message([], [
    "Message-ID: " + MID_MEI_REPLY,
    "Date: " + rfc_date(c.ts - 2, 60),
    "MIME-Version: 1.0",
    UA_DEMO,
    "Subject: " + ew_b("Re: 出張の件 / business trip in March"),
    "To: " + MEI,
    "References: " + MID_MEI,
    "In-Reply-To: " + MID_MEI,
    "From: " + DEMO,
    "Content-Type: text/plain; charset=UTF-8",
    "Content-Transfer-Encoding: 8bit"],
    """Hi Mei,

great, 10–13 March is perfect. Our address:

  Example Corp, 3rd floor
  42 Sample Avenue
  Exampletown

Ask for Grégoire at reception, he'll have your badge ready.
ありがとうございます！

Dana

Am 03.02.26 um 08:55 schrieb 田中 芽衣 (Mei Tanaka):
> Short version in English: I'm planning the trip for 10–13 March and have
> booked a hotel close to the venue.
"""), flags="S", note="sent reply, 8bit UTF-8 body")

# --- raw 8-bit UTF-8 headers ---------------------------------------------------
c = Ctx("koeln-raw8bit", "02-10 13:40:02")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "helga@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.133", tz=60),
    ["From: Helga Brück <helga@example.org>",
     "To: Dana Demo <demo@example.com>",
     "Subject: Grüße aus Köln",
     "Date: " + rfc_date(c.ts - 12, 60),
     "Message-ID: <c0e1b2a3-4d5e-6f70-8192-koeln@example.org>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=utf-8",
     "Content-Transfer-Encoding: 8bit"],
    """Liebe Dana,

viele Grüße aus Köln! Der Dom ist eingerüstet wie immer, das Kölsch ist
kalt wie immer, und am Rhein weht ein eisiger Wind. Nächste Woche bin ich
zurück im Büro – dann erzähle ich dir alles über die Konferenz.

Übrigens: Die Präsentation über „Maildir vs. mbox“ kam sehr gut an.

Bis bald,
Helga
"""), flags="S", kw=("$Label1",),
    note="RAW unencoded 8-bit UTF-8 in Subject and From display name (violates RFC 5322, common in practice); keyword $Label1")

# --- maintenance: multiple To, Reply-To ---------------------------------------
c = Ctx("maintenance-multito", "02-16 10:03:27")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "frank@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.18", tz=60),
    ["Date: " + rfc_date(c.ts - 21, 60),
     "From: " + FRANK,
     "Reply-To: Ops Team <ops-team@example.org>",
     "To: " + DEMO + ", " + ALICE + ",\n " + BOB + ",\n \"Raman, Priya\" <priya@example.org>",
     "Subject: Server maintenance window Saturday 21 February",
     "Message-ID: <ops-20260216-0902.frank@example.org>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii; format=flowed",
     "Content-Transfer-Encoding: 7bit"],
    """Hello everyone,

we will patch and reboot the mail and file servers on Saturday, 
21 February, between 06:00 and 09:00 CET. Expect short outages of IMAP, 
SMTP and the shared drives. IDLE connections will be dropped; clients 
should reconnect on their own.

Please reply to the ops team address if this collides with anything 
important.

Frank
"""), flags="S",
    note="four To addresses (one quoted display name with a comma), Reply-To, format=flowed")

# --- design notes: text attachment with filename, description, language --------
c = Ctx("design-notes", "02-23 15:19:44")
DESIGN_NOTES = """Design review 2026-02-23
========================

Attendees: Priya, Bob, Dana, Alice

Decisions
---------
- Keep Maildir++ as the only on-disk format for now.
- UIDs are assigned when a message is first seen and stored in a
  per-folder list; never reuse a UID after EXPUNGE.
- IDLE notifications are driven by inotify where available and by
  polling every 5 seconds elsewhere.

Open questions
--------------
- How to report messages that disappear from new/ and reappear in cur/
  under a different name (flag change by another client)?
- Do we need CONDSTORE in the first release?

Action items
------------
- Bob: prototype the UID list format.
- Dana: write down the flag letter mapping (D F P R S T + keywords).
- Alice: collect client quirks (which clients need \\Recent?).
"""
bnd = c.boundary("------------")
DESIGN_PARTS = [
    part(["Content-Type: text/plain; charset=UTF-8; format=flowed",
          "Content-Transfer-Encoding: 7bit"],
         """Hi Dana,

attached are my notes from today's design review. Please check the 
action items, especially the flag mapping one.

Priya
"""),
    part(["Content-Type: text/plain; charset=UTF-8; name=\"design-review-notes.txt\"",
          "Content-Description: Notes from the design review, 23 Feb 2026",
          "Content-Language: en",
          "Content-Disposition: attachment; filename=\"design-review-notes.txt\"",
          "Content-Transfer-Encoding: 7bit"],
         DESIGN_NOTES),
]
add(c, "demo", "", message(
    trace(c, "demo@example.com", "priya@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.64", tz=60),
    ["Message-ID: " + MID_DESIGN,
     "Date: " + rfc_date(c.ts - 9, 60),
     "MIME-Version: 1.0",
     "User-Agent: ExampleMail/115.2",
     "Content-Language: en-GB",
     "To: " + DEMO,
     "From: " + PRIYA,
     "Subject: Notes from the design review",
     f"Content-Type: multipart/mixed; boundary=\"{bnd}\""],
    multipart(bnd, DESIGN_PARTS)), flags="PS", kw=("$Forwarded",),
    note="text/plain attachment with Content-Disposition filename, Content-Description and Content-Language; flags P + $Forwarded")

# demo forwards it to alice (Sent copy + alice's INBOX copy)
c = Ctx("sent-design-fwd", "02-24 09:15:10")
bnd2 = c.boundary("------------")
FWD_HEADERS = [
    "Message-ID: " + MID_DESIGN_FWD,
    "Date: " + rfc_date(c.ts - 3, 60),
    "MIME-Version: 1.0",
    UA_DEMO,
    "Subject: Fwd: Notes from the design review",
    "To: " + ALICE,
    "From: " + DEMO,
    "References: " + MID_DESIGN,
    "X-Forwarded-Message-Id: " + MID_DESIGN,
    f"Content-Type: multipart/mixed; boundary=\"{bnd2}\"",
]
FWD_BODY = multipart(bnd2, [
    part(["Content-Type: text/plain; charset=UTF-8; format=flowed",
          "Content-Transfer-Encoding: 8bit"],
         """Alice, FYI - you have an action item in there (client quirks).

-------- Forwarded Message --------
Subject: 	Notes from the design review
Date: 	Mon, 23 Feb 2026 16:19:35 +0100
From: 	Priya Raman <priya@example.org>
To: 	Dana Demo <demo@example.com>

Hi Dana,

attached are my notes from today's design review. Please check the 
action items, especially the flag mapping one.

Priya
"""),
    DESIGN_PARTS[1],
])
add(c, "demo", "Sent", message([], FWD_HEADERS, FWD_BODY), flags="S",
    note="inline forward re-attaching the text attachment")
c2 = Ctx("design-fwd-alice", "02-24 09:15:13")
add(c2, "alice", "", message(
    trace(c2, "alice@example.com", "demo@example.com", relay="", relay_ip="",
          client_ip="192.0.2.51", tz=60, local=True),
    FWD_HEADERS, FWD_BODY), flags="S", kw=("$Label1",),
    note="forward from demo with text attachment; keyword $Label1")

# --- calendar invite: multipart/alternative with text/calendar ----------------
c = Ctx("calendar-invite", "03-02 09:00:36")
bnd = c.boundary("_cal_")
ICS = """BEGIN:VCALENDAR
PRODID:-//Example Corp//Sample Calendar 1.0//EN
VERSION:2.0
METHOD:REQUEST
BEGIN:VEVENT
UID:arch-sync-20260305@example.com
DTSTAMP:20260302T085900Z
DTSTART:20260305T130000Z
DTEND:20260305T140000Z
SUMMARY:Architecture sync
LOCATION:Room 3.14 / video link
ORGANIZER;CN=Bob Okafor:mailto:bob@example.org
ATTENDEE;CN=Dana Demo;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:
 mailto:demo@example.com
ATTENDEE;CN=Alice Lindqvist;ROLE=OPT-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSV
 P=TRUE:mailto:alice@example.com
DESCRIPTION:Walk through the UID list prototype and the IDLE design.
END:VEVENT
END:VCALENDAR
"""
add(c, "demo", "", message(
    trace(c, "demo@example.com", "bob@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.77", tz=60),
    ["From: " + BOB,
     "To: " + DEMO,
     "Cc: " + ALICE,
     "Subject: Invitation: Architecture sync @ Thu 5 Mar 2026 14:00 - 15:00 (CET)",
     "Date: " + rfc_date(c.ts - 40, 60),
     "Message-ID: <calendar-arch-sync-20260305.invite@example.org>",
     "MIME-Version: 1.0",
     f"Content-Type: multipart/alternative; boundary=\"{bnd}\""],
    multipart(bnd, [
        part(["Content-Type: text/plain; charset=us-ascii"],
             """You have been invited to the following event.

Architecture sync
When: Thu 5 Mar 2026 14:00 - 15:00 (CET)
Where: Room 3.14 / video link
Organizer: Bob Okafor

Walk through the UID list prototype and the IDLE design.
"""),
        part(["Content-Type: text/calendar; charset=utf-8; method=REQUEST",
              "Content-Transfer-Encoding: 7bit"], ICS),
    ], preamble="")), flags="S",
    note="multipart/alternative with text/plain + text/calendar (method=REQUEST)")

# --- forwarded message/rfc822 whose inner message is multipart/alternative -----
c = Ctx("fwd-rfc822", "03-09 12:12:59")
inner_bnd = c.boundary("==venue_alt_")
outer_bnd = c.boundary("==fwd_mixed_")
INNER = message([
    "Return-Path: <events@riverside.example.net>",
    "Received: from events.riverside.example.net (events.riverside.example.net [203.0.113.150])\n"
    "\tby smtp.example.org (Postfix) with ESMTPS id 4dT7mQ1ZxJz9vWk\n"
    "\tfor <bob@example.org>; Thu, 5 Mar 2026 08:31:12 +0000 (UTC)"], [
    "Date: Thu, 5 Mar 2026 09:31:04 +0100",
    "From: Riverside Conference Centre <events@riverside.example.net>",
    "To: Bob Okafor <bob@example.org>",
    "Subject: Venue options for the offsite",
    "Message-ID: " + MID_VENUE,
    "MIME-Version: 1.0",
    f"Content-Type: multipart/alternative; boundary=\"{inner_bnd}\""],
    multipart(inner_bnd, [
        part(["Content-Type: text/plain; charset=utf-8",
              "Content-Transfer-Encoding: quoted-printable"], qp(
            """Dear Mr Okafor,

thank you for your enquiry. For 12 people on 14–15 May we can offer:

  Room "Harbour"  – daylight, river view, 480 € per day
  Room "Boiler"   – industrial style, 390 € per day
  Room "Library"  – quiet, no natural light, 320 € per day

Catering (lunch and two coffee breaks) is 38 € per person and day.

Kind regards,
Riverside Conference Centre
""")),
        part(["Content-Type: text/html; charset=utf-8",
              "Content-Transfer-Encoding: quoted-printable"], qp(
            """<html><body>
<p>Dear Mr Okafor,</p>
<p>thank you for your enquiry. For 12 people on 14&ndash;15 May we can offer:</p>
<table border="1" cellpadding="4" style="border-collapse: collapse; font-family: Georgia, serif">
<tr><th>Room</th><th>Style</th><th>Price per day</th></tr>
<tr><td>Harbour</td><td>daylight, river view</td><td>480 €</td></tr>
<tr><td>Boiler</td><td>industrial style</td><td>390 €</td></tr>
<tr><td>Library</td><td>quiet, no natural light</td><td>320 €</td></tr>
</table>
<p>Catering (lunch and two coffee breaks) is 38&nbsp;€ per person and day.</p>
<p>Kind regards,<br>Riverside Conference Centre</p>
</body></html>
""")),
    ], preamble=""))
add(c, "demo", "", message(
    trace(c, "demo@example.com", "bob@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.77", tz=60),
    ["Date: " + rfc_date(c.ts - 30, 60),
     "From: " + BOB,
     "To: " + DEMO,
     "Subject: Fwd: Venue options for the offsite",
     "Message-ID: " + MID_VENUE_FWD,
     "MIME-Version: 1.0",
     f"Content-Type: multipart/mixed; boundary=\"{outer_bnd}\""],
    multipart(outer_bnd, [
        part(["Content-Type: text/plain; charset=us-ascii"],
             """Dana, see below. I like "Harbour" but it's the most expensive one.
What do you think? Forwarding the whole thing as an attachment.

Bob
"""),
        part(["Content-Type: message/rfc822",
              "Content-Disposition: inline; filename=\"Venue options for the offsite.eml\"",
              "Content-Description: Forwarded message"], INNER),
    ])), flags="S",
    note="multipart/mixed with a message/rfc822 part whose inner message is multipart/alternative (QP parts)")

# --- multipart/related: HTML + inline PNG with Content-ID ---------------------
LOGO = logo_png()
c = Ctx("related-inline", "03-16 16:44:21")
bnd = c.boundary("related_")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "product-news@example.net", relay="mta2.news.example.net",
          relay_ip="203.0.113.88"),
    ["Date: " + rfc_date(c.ts - 61, 0),
     "From: Example Product Team <product-news@example.net>",
     "To: demo@example.com",
     "Subject: Spring release notes",
     "Message-ID: <spring-2026-release.0316@example.net>",
     "MIME-Version: 1.0",
     f"Content-Type: multipart/related; type=\"text/html\";\n\tboundary=\"{bnd}\""],
    multipart(bnd, [
        part(["Content-Type: text/html; charset=us-ascii",
              "Content-Transfer-Encoding: 7bit",
              "Content-Location: https://www.example.net/newsletter/2026-spring.html",
              "Content-Language: en"],
             """<!DOCTYPE html>
<html>
<head><title>Spring release notes</title></head>
<body>
<p><img src="cid:logo.2026spring@example.net" alt="Example logo" width="24" height="24">
<b>Spring release 2026</b></p>
<ul>
<li>IMAP IDLE now survives server restarts.</li>
<li>Folder names can contain any Unicode character.</li>
<li>Search in attachments (PDF and plain text).</li>
</ul>
<p>Read the full notes on <a href="https://www.example.net/newsletter/2026-spring.html">our website</a>.</p>
</body>
</html>
"""),
        part(["Content-Type: image/png; name=\"logo.png\"",
              "Content-Transfer-Encoding: base64",
              "Content-ID: <logo.2026spring@example.net>",
              "Content-Disposition: inline; filename=\"logo.png\""],
             b64(LOGO)),
    ])), flags="S",
    note="multipart/related (type=text/html): HTML part with Content-Location + Content-Language, inline image/png with Content-ID")

# --- the one message over 1 MB ----------------------------------------------
PANORAMA = panorama_png()
c = Ctx("big-1mb", "03-23 08:30:09")
bnd = c.boundary("big_")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "tomas@example.net", relay="mail.example.net",
          relay_ip="203.0.113.42", client_ip="198.51.100.201", tz=0),
    ["Date: " + rfc_date(c.ts - 47, 0),
     "From: " + TOMAS,
     "To: " + DEMO,
     "Subject: Photo from the site visit (large!)",
     "Message-ID: <site-visit-panorama.20260323@example.net>",
     "MIME-Version: 1.0",
     f"Content-Type: multipart/mixed; boundary=\"{bnd}\""],
    multipart(bnd, [
        part(["Content-Type: text/plain; charset=ISO-8859-1",
              "Content-Transfer-Encoding: 8bit"],
             """Hi Dana,

here is the panorama from Friday's site visit. Sorry, it's an uncompressed
PNG straight from the camera tool, so the mail is quite big.

Tomas
"""),
        part(["Content-Type: image/png; name=\"site-panorama.png\"",
              "Content-Transfer-Encoding: base64",
              "Content-Disposition: attachment; filename=\"site-panorama.png\""],
             b64(PANORAMA)),
    ])), flags="S",
    note="THE ONE MESSAGE OVER 1 MB: ~900 KB uncompressed PNG as base64 attachment; ISO-8859-1 Q From")

# --- no Content-Type (and no MIME-Version), no final newline ------------------
c = Ctx("no-content-type", "03-30 19:05:00")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "cron@build.example.net", relay="build.example.net",
          relay_ip="203.0.113.7"),
    ["From: cron@build.example.net (Cron Daemon)",
     "To: demo@example.com",
     "Subject: Nightly build report for 2026-03-30",
     "Date: " + rfc_date(c.ts - 4, 0),
     "Message-Id: <20260330190456.1A2B3C4D5E@build.example.net>",
     "X-Cron-Env: <SHELL=/bin/sh>",
     "X-Cron-Env: <HOME=/var/lib/build>",
     "X-Cron-Env: <PATH=/usr/bin:/bin>"],
    """build #1187 started 2026-03-30 18:30:02
checkout ......... ok (rev 4f2a9c1)
compile .......... ok (312 s)
unit tests ....... ok (2481 passed, 3 skipped)
imap compliance .. FAILED (2 of 118)
  - FETCH BODYSTRUCTURE of message/rfc822 in multipart/mixed
  - SEARCH CHARSET UTF-8 with 8-bit literal
build #1187 finished 2026-03-30 19:04:55, status: UNSTABLE
"""), flags="S", rstrip_final_newline=True,
    note="NO Content-Type and no MIME-Version header (defaults to text/plain us-ascii); "
         "repeated X-Cron-Env headers; 'Message-Id' spelling; file does NOT end with a newline")

# --- no Date header ----------------------------------------------------------
c = Ctx("no-date", "04-06 06:15:42")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "facilities@example.org", relay="legacy.example.org",
          relay_ip="198.51.100.30"),
    ["From: Facilities <facilities@example.org>",
     "To: demo@example.com",
     "Subject: Reminder: badge renewal",
     "Message-ID: <badge-reminder-0406@legacy.example.org>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """Your building badge expires at the end of the month. Please bring it
to the front desk between 09:00 and 11:00 on any weekday to have it
renewed.

This message was sent by an automated system that does not set a Date
header. Please do not reply.
"""), flags="S", note="NO Date header (ENVELOPE date is NIL; INTERNALDATE comes from the file)")

# --- undisclosed recipients group -------------------------------------------
c = Ctx("undisclosed", "04-13 11:50:17")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "events@community.example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.140", tz=120),
    ["Date: " + rfc_date(c.ts - 75, 120),
     "From: Community Events <events@community.example.org>",
     "To: undisclosed-recipients:;",
     "Subject: Save the date: summer meetup on 27 June",
     "Message-ID: <save-the-date-2026@community.example.org>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii",
     "Content-Transfer-Encoding: 7bit"],
    """Hello friends of open mail software,

our summer meetup takes place on Saturday, 27 June, from 14:00 in the
courtyard of the Example Community Hall. Bring something for the grill
and a talk idea (five minutes, no slides required).

You received this message as a blind copy.
"""), flags="S", note="To: undisclosed-recipients:; (empty address group); recipient only via Bcc")

# --- very long folded subject -------------------------------------------------
c = Ctx("long-subject", "04-20 14:02:55")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "tracker@example.net", relay="tracker.example.net",
          relay_ip="203.0.113.61"),
    ["Date: " + rfc_date(c.ts - 3, 0),
     "From: Issue Tracker <tracker@example.net>",
     "To: demo@example.com",
     "Subject: [PROJ-1287] Intermittent timeout when synchronising very large\n"
     " folders over slow links after the connection pool has been exhausted by\n"
     " concurrent IDLE sessions from the same user (regression since 2.4.1,\n"
     " affects desktop and mobile clients, reproducible with the sample maildir)",
     "Message-ID: <JIRA.PROJ-1287.1776693772@tracker.example.net>",
     "Auto-Submitted: auto-generated",
     "X-Tracker-Project: PROJ",
     "X-Tracker-Issue: PROJ-1287",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """Bob Okafor created PROJ-1287:

  Summary:  Intermittent timeout when synchronising very large folders
            over slow links (see subject)
  Priority: Major
  Assignee: Dana Demo

Steps to reproduce:
  1. Open 12 IDLE sessions for the same user.
  2. From a 13th connection, SELECT a folder with 50,000 messages.
  3. FETCH 1:* (FLAGS) over a link throttled to 256 kbit/s.

Expected: the FETCH completes.
Actual:   the connection times out after 60 s.
"""), flags="S", note="very long Subject folded over four lines (~280 characters unfolded)")

# --- only a Message-ID header ------------------------------------------------
c = Ctx("msgid-only", "04-27 09:09:09")
add(c, "demo", "", "Message-ID: <only-a-message-id.20260427@example.net>\n\n"
    "This message has exactly one header field: Message-ID.\n"
    "No From, no To, no Subject, no Date, no Content-Type.\n",
    flags="", note="the ONLY header is Message-ID (ENVELOPE is almost all NIL); in cur/ with no flags (unseen)")

# --- empty body --------------------------------------------------------------
c = Ctx("empty-body", "05-04 17:37:31")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "bob@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.77", tz=120),
    ["Date: " + rfc_date(c.ts - 8, 120),
     "From: " + BOB,
     "To: " + DEMO,
     "Subject: Call me when you're free (EOM)",
     "Message-ID: <CAB7kq9xEOM0504@mail.example.org>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    ""), flags="S", note="EMPTY body (file ends with the blank line after the header)")

# --- CRLF on disk #1: CSV attachment with RFC 2231 filename ------------------
c = Ctx("crlf-csv", "05-11 10:10:48")
bnd = c.boundary("_000_")
CSV = """Quarter;Item;Planned;Actual
Q2;Server & Hosting;3600;3720
Q2;Licences;950;931
Q2;Travel;4000;4388
Q2;Training;2500;2250
"""
add(c, "demo", "", message(
    trace(c, "demo@example.com", "priya@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.64", tz=120),
    ["From: " + PRIYA,
     "To: " + DEMO,
     "Subject: Budget spreadsheet v3",
     "Thread-Topic: Budget spreadsheet v3",
     "Date: " + rfc_date(c.ts - 14, 120),
     "Message-ID: <DB9PR01MB1234ABCD5678EF90@exchange.example.org>",
     "Accept-Language: en-GB, de-DE",
     "Content-Language: en-GB",
     "X-Mailer: ExampleMail 7.2 for Windows",
     f"Content-Type: multipart/mixed;\n\tboundary=\"{bnd}\"",
     "MIME-Version: 1.0"],
    multipart(bnd, [
        part(["Content-Type: text/plain; charset=\"us-ascii\"",
              "Content-Transfer-Encoding: quoted-printable"],
             qp("Hi Dana,\n\nversion 3 of the budget is attached (semicolon separated). Travel is over plan because of the Munich fair, everything else looks fine.\n\nPriya\n", "us-ascii")),
        part(["Content-Type: text/csv; charset=\"utf-8\";\n\tname*=UTF-8''Budget%E2%80%93Q2%E2%80%93v3.csv",
              "Content-Description: Budget Q2 v3",
              "Content-Disposition: attachment;\n\tfilename*=UTF-8''Budget%E2%80%93Q2%E2%80%93v3.csv;\n"
              "\tsize=" + str(len(CSV.replace("\n", "\r\n"))),
              "Content-Transfer-Encoding: base64"],
             b64(CSV.replace("\n", "\r\n").encode("ascii"))),
    ], preamble="")), crlf=True, flags="S",
    note="CRLF LINE ENDINGS ON DISK (S= equals W=); text/csv attachment with RFC 2231 filename*=UTF-8''")

# --- RFC 2047 encoded word split over two lines ------------------------------
c = Ctx("split-encoded-word", "05-18 13:25:06")
SPLIT_SUBJ_1 = ew_b("Re: Presupuesto del segundo trimestre — ")
SPLIT_SUBJ_2 = ew_b("revisión y comentarios finales")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "carla@example.net", relay="mail.example.net",
          relay_ip="203.0.113.42", client_ip="198.51.100.140", tz=120),
    ["From: " + CARLA,
     "To: " + DEMO,
     "Cc: " + PRIYA,
     "Subject: " + SPLIT_SUBJ_1 + "\n " + SPLIT_SUBJ_2,
     "Date: " + rfc_date(c.ts - 33, 120),
     "Message-ID: <3e9f0a7c-5b21-4d8e-b6f3-presupuesto@example.net>",
     "In-Reply-To: <DB9PR01MB1234ABCD5678EF90@exchange.example.org>",
     "References: <DB9PR01MB1234ABCD5678EF90@exchange.example.org>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=utf-8",
     "Content-Transfer-Encoding: 8bit"],
    """Hola Dana:

he revisado la hoja de Priya. Los viajes se pasan del presupuesto, pero
lo compensamos con la formación. Por mi parte está aprobado.

Saludos,
Carla
"""), flags="RS",
    note="Subject is two UTF-8 B encoded words on two lines (decodes to one string); answered (R)")

# --- nested: mixed[alternative[plain, related[html, png]], pdf] ---------------
c = Ctx("booking-nested", "05-25 08:48:14")
b_mixed = c.boundary("mixed_")
b_alt = c.boundary("alt_")
b_rel = c.boundary("rel_")
MAP = map_png()
BOOKING_PDF = make_pdf("Booking confirmation EXA-7731", [
    "Guest: Dana Demo",
    "Hotel: Sample Harbour Hotel, Exampletown",
    "Check-in: 14 May 2026, check-out: 16 May 2026",
    "Room: double, non-smoking, breakfast included",
    "Confirmation number: EXA-7731",
])
add(c, "demo", "", message(
    trace(c, "demo@example.com", "bookings@travel.example.com", relay="out.travel.example.com",
          relay_ip="203.0.113.120")
    + [auth_results("travel.example.com", "203.0.113.120")],
    ["Date: " + rfc_date(c.ts - 5, 120),
     "From: Example Travel <bookings@travel.example.com>",
     "To: Dana Demo <demo@example.com>",
     "Subject: Your booking confirmation EXA-7731",
     "Message-ID: <EXA-7731.confirm.1779698889@travel.example.com>",
     "MIME-Version: 1.0",
     f"Content-Type: multipart/mixed; boundary=\"{b_mixed}\""],
    multipart(b_mixed, [
        part([f"Content-Type: multipart/alternative; boundary=\"{b_alt}\""],
             multipart(b_alt, [
                 part(["Content-Type: text/plain; charset=utf-8",
                       "Content-Transfer-Encoding: 8bit"],
                      """Your booking EXA-7731 is confirmed.

Sample Harbour Hotel, Exampletown
14 May 2026 – 16 May 2026, double room, breakfast included

Your confirmation is attached as a PDF.
"""),
                 part([f"Content-Type: multipart/related; boundary=\"{b_rel}\"; type=\"text/html\""],
                      multipart(b_rel, [
                          part(["Content-Type: text/html; charset=utf-8",
                                "Content-Transfer-Encoding: quoted-printable"],
                               qp("""<html><body style="font-family: Helvetica, Arial, sans-serif">
<h2>Your booking EXA-7731 is confirmed</h2>
<p><b>Sample Harbour Hotel</b>, Exampletown<br>14 May 2026 – 16 May 2026, double room, breakfast included</p>
<p><img src="cid:map-exa7731@travel.example.com" alt="Map" width="32" height="20"></p>
<p>Your confirmation is attached as a PDF.</p>
</body></html>
""")),
                          part(["Content-Type: image/png",
                                "Content-Transfer-Encoding: base64",
                                "Content-ID: <map-exa7731@travel.example.com>"],
                               b64(MAP)),
                      ], preamble="")),
             ], preamble="")),
        part(["Content-Type: application/pdf; name=\"EXA-7731.pdf\"",
              "Content-Transfer-Encoding: base64",
              "Content-Disposition: attachment; filename=\"EXA-7731.pdf\""],
             b64(BOOKING_PDF)),
    ])), flags="S",
    note="nested: multipart/mixed[ multipart/alternative[ text/plain, multipart/related[ text/html, image/png (Content-ID, no filename) ] ], application/pdf ]")

# --- IT helpdesk, marked \\Deleted -------------------------------------------
c = Ctx("deleted-helpdesk", "06-01 12:00:03")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "helpdesk@example.com", relay="", relay_ip="",
          client_ip="192.0.2.5", tz=120, local=True),
    ["Date: " + rfc_date(c.ts - 2, 120),
     "From: IT Helpdesk <helpdesk@example.com>",
     "To: all-staff@example.com",
     "Subject: Password policy changes from 1 July",
     "Message-ID: <pwpolicy-2026@helpdesk.example.com>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """Dear colleagues,

from 1 July passwords must be at least 14 characters long. Passphrases
made of several words are encouraged. You will be asked to change your
password at the next login after that date.

Your IT Helpdesk
"""), flags="ST", note="\\Deleted (T) but not expunged (the other one is in demo Trash); To is a list address, not the user")

# --- lunch thread with alice ---------------------------------------------------
LUNCH_HEADERS = [
    "Message-ID: " + MID_LUNCH,
    "Date: " + rfc_date(ts_of("06-15 09:28:38") - 1, 120),
    "MIME-Version: 1.0",
    "User-Agent: ExampleMail/128.4",
    "Subject: Lunch on Thursday?",
    "To: " + DEMO,
    "From: " + ALICE,
    "Content-Type: text/plain; charset=UTF-8; format=flowed",
    "Content-Transfer-Encoding: 7bit",
]
LUNCH_BODY = """Hi Dana,

shall we try the new noodle place on Thursday? 12:15 at the entrance?

Alice
"""
c = Ctx("sent-lunch-alice", "06-15 09:28:38")
add(c, "alice", "Sent", message([], LUNCH_HEADERS, LUNCH_BODY), flags="S",
    note="alice's Sent copy of the message in demo INBOX")
c = Ctx("lunch", "06-15 09:28:41")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "alice@example.com", relay="", relay_ip="",
          client_ip="192.0.2.52", tz=120, local=True),
    LUNCH_HEADERS, LUNCH_BODY), flags="RS", note="from alice (local delivery); answered")

LUNCH_RE_HEADERS = [
    "Message-ID: " + MID_LUNCH_RE,
    "Date: " + rfc_date(ts_of("06-15 11:02:19") - 1, 120),
    "MIME-Version: 1.0",
    UA_DEMO,
    "Subject: Re: Lunch on Thursday?",
    "To: " + ALICE,
    "References: " + MID_LUNCH,
    "In-Reply-To: " + MID_LUNCH,
    "From: " + DEMO,
    "Content-Type: text/plain; charset=UTF-8; format=flowed",
    "Content-Transfer-Encoding: 7bit",
]
LUNCH_RE_BODY = """Yes! 12:15 at the entrance. I'll reserve a table.

On 15.06.26 11:28, Alice Lindqvist wrote:
> shall we try the new noodle place on Thursday? 12:15 at the entrance?
"""
c = Ctx("sent-lunch-re", "06-15 11:02:19")
add(c, "demo", "Sent", message([], LUNCH_RE_HEADERS, LUNCH_RE_BODY), flags="S",
    note="reply to alice (alice INBOX has the delivered copy)")
c = Ctx("lunch-re-alice", "06-15 11:02:22")
add(c, "alice", "", message(
    trace(c, "alice@example.com", "demo@example.com", relay="", relay_ip="",
          client_ip="192.0.2.51", tz=120, local=True),
    LUNCH_RE_HEADERS, LUNCH_RE_BODY), flags="S",
    note="same Message-ID as the copy in demo/.Sent")

# --- Mei follow-up -----------------------------------------------------------
c = Ctx("mei-followup", "07-06 15:15:15")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "mei.tanaka@example.net", relay="mail.example.net",
          relay_ip="203.0.113.42", client_ip="198.51.100.9", tz=540),
    ["From: " + MEI,
     "To: " + DEMO,
     "Subject: " + ew_b("Re: 出張の件 / business trip in March"),
     "Date: " + rfc_date(c.ts - 13, 540),
     "Message-ID: " + MID_MEI_FOLLOWUP,
     "In-Reply-To: " + MID_MEI_REPLY,
     "References: " + MID_MEI + "\n\t" + MID_MEI_REPLY,
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=UTF-8",
     "Content-Transfer-Encoding: 8bit"],
    """Dana さん

先日はありがとうございました。とても有意義な出張でした。
Grégoire さんにもよろしくお伝えください。

Thanks again for the great week in March – the photos are on the shared
drive under /trips/2026-03.

芽衣
"""), flags="S", note="late reply in the Mei thread (References with two ids)")

# --- monitoring alert, flagged -----------------------------------------------
c = Ctx("alert-flagged", "08-03 10:40:26")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "alerts@monitor.example.net", relay="monitor.example.net",
          relay_ip="203.0.113.99"),
    ["Date: " + rfc_date(c.ts - 1, 0),
     "From: Monitoring <alerts@monitor.example.net>",
     "To: demo@example.com",
     "Subject: [ALERT] db-02: disk usage above 90% on /var/lib/mail",
     "Message-ID: <alert-db02-disk-20260803104025@monitor.example.net>",
     "Auto-Submitted: auto-generated",
     "X-Priority: 1 (Highest)",
     "Importance: high",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """ALERT  db-02  filesystem /var/lib/mail
  used:      91.4 %  (1.83 TB of 2.00 TB)
  threshold: 90 %
  trend:     +0.6 % per day, full in about 14 days

Acknowledge: https://monitor.example.net/ack/7731
"""), flags="FS", note="\\Flagged + \\Seen; X-Priority/Importance headers")

# --- group with members in Cc, QP utf-8 ---------------------------------------
c = Ctx("group-cc", "08-24 16:00:12")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "priya@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.64", tz=120),
    ["Date: " + rfc_date(c.ts - 19, 120),
     "From: " + PRIYA,
     "To: " + DEMO,
     "Cc: Project Team: bob@example.org, " + CARLA + ",\n alice@example.com;",
     "Subject: Retrospective notes (sprint 17)",
     "Message-ID: <retro-17.20260824@example.org>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=utf-8",
     "Content-Transfer-Encoding: quoted-printable"],
    qp("""Hi all,

here are the notes from today's retrospective:

What went well
  • The UID list prototype survived 10,000 concurrent flag changes.
  • Mei's test mailboxes found three encoding bugs before release.

What didn't
  • Too many meetings — we'll cut the daily stand-up to 10 minutes.
  • The staging server ran out of disk (again). See the db-02 alert.

Next sprint: finish CONDSTORE, then look at NOTIFY.

Priya
""")), flags="S", note="Cc is a named address group WITH members ('Project Team: a, b, c;'); QP utf-8 with bullets/em dash")

# --- flagged but unseen ------------------------------------------------------
CONTRACT_SUBJ = ew_q("Contract draft – please review by Friday", "UTF-8")
c = Ctx("contract-flagged-unseen", "09-14 11:11:11")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "bob@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.77", tz=120),
    ["Date: " + rfc_date(c.ts - 27, 120),
     "From: " + BOB,
     "To: " + DEMO,
     "Subject: " + CONTRACT_SUBJ,
     "Message-ID: " + MID_CONTRACT,
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """Dana,

the draft support contract with Example Hosting is in the shared folder
under /contracts/2026/hosting-support-draft-v2. Please review sections 4
(response times) and 7 (liability) by Friday.

Bob
"""), flags="F", note="\\Flagged but NOT \\Seen (cur/ with ':2,F'); UTF-8 Q-encoded Subject")

c = Ctx("sent-contract-re", "09-15 08:40:57")
add(c, "demo", "Sent", message([], [
    "Message-ID: " + MID_CONTRACT_RE,
    "Date: " + rfc_date(c.ts - 2, 120),
    "MIME-Version: 1.0",
    UA_DEMO,
    "Subject: " + ew_q("Re: Contract draft – please review by Friday", "UTF-8"),
    "To: " + BOB,
    "References: " + MID_CONTRACT,
    "In-Reply-To: " + MID_CONTRACT,
    "From: " + DEMO,
    "Content-Type: text/plain; charset=UTF-8",
    "Content-Transfer-Encoding: quoted-printable"],
    qp("""Bob,

section 4: 4 hours response time for "critical" is too slow for the mail service – we need 1 hour, at least during business hours.
section 7: fine with me, but legal should have a look at the liability cap.

Dana
""")), flags="S", note="QP body with soft line breaks")

# --- parcel notification, unseen in cur ----------------------------------------
c = Ctx("parcel-unseen", "10-05 07:30:40")
bnd = c.boundary("parcel_")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "noreply@parcels.example.com", relay="mailout.parcels.example.com",
          relay_ip="203.0.113.200"),
    ["Date: " + rfc_date(c.ts - 9, 120),
     "From: Example Parcels <noreply@parcels.example.com>",
     "To: demo@example.com",
     "Subject: Your parcel is on its way",
     "Message-ID: <trk-EXP0012345678.1791185431@parcels.example.com>",
     "MIME-Version: 1.0",
     f"Content-Type: multipart/alternative; boundary={bnd}"],
    multipart(bnd, [
        part(["Content-Type: text/plain; charset=us-ascii"],
             "Your parcel EXP0012345678 will be delivered tomorrow between 10:00 and 14:00.\n"),
        part(["Content-Type: text/html; charset=us-ascii"],
             "<html><body><p>Your parcel <b>EXP0012345678</b> will be delivered "
             "tomorrow between <b>10:00</b> and <b>14:00</b>.</p></body></html>\n"),
    ])), flags="", note="in cur/ without any flags (unseen, not \\Recent); unquoted boundary parameter")

# --- demo INBOX: new/ (unseen, \\Recent) ---------------------------------------
c = Ctx("maintenance-done", "11-02 08:14:23")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "frank@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.18", tz=60),
    ["Date: " + rfc_date(c.ts - 16, 60),
     "From: " + FRANK,
     "Reply-To: Ops Team <ops-team@example.org>",
     "To: " + DEMO,
     "Subject: Maintenance completed: storage migration",
     "Message-ID: <ops-20261102-0914.frank@example.org>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """Hi Dana,

the storage migration finished at 08:55. All mailboxes are on the new
array; please let me know if any client shows missing or duplicate mail.

Frank
"""), state="new", flags="", note="plain us-ascii in new/, Reply-To")

c = Ctx("newsletter-44", "11-05 13:37:00")
newsletter(c, "demo", 44, "Winter is coming to your inbox", [
    ("Server-side filters", "Sieve scripts can now file mail into folders with "
     "non-ASCII names such as Entwürfe or Черновики without any tricks."),
    ("Reader question", "\"Why does my phone show 3 unread messages and my laptop 5?\" "
     "Usually because one of them counts \\Recent = new arrivals instead of unseen mail."),
], state="new", flags="", note="newsletter in new/")

c = Ctx("crlf-new-utf8", "11-09 09:20:34")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "carla@example.net", relay="mail.example.net",
          relay_ip="203.0.113.42", client_ip="198.51.100.140", tz=60),
    ["From: " + CARLA,
     "To: " + DEMO,
     "Subject: " + ew_b("Agenda para la reunión del jueves"),
     "Date: " + rfc_date(c.ts - 44, 60),
     "Message-ID: <7d2e4f60-agenda-jueves@example.net>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=utf-8",
     "Content-Transfer-Encoding: 8bit"],
    """Hola Dana,

para el jueves propongo:

  1. Estado de la migración (Frank)
  2. Revisión del contrato de soporte
  3. Planificación de las vacaciones de Navidad

¿Te parece bien? Si falta algo, añádelo tú.

Carla
"""), state="new", flags="", crlf=True,
    note="CRLF LINE ENDINGS ON DISK, in new/; 8bit UTF-8 body")

c = Ctx("mei-b-subject", "11-12 17:45:50")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "mei.tanaka@example.net", relay="mail.example.net",
          relay_ip="203.0.113.42", client_ip="198.51.100.9", tz=540),
    ["From: " + MEI,
     "To: " + DEMO,
     "Subject: " + ew_b("年末のご挨拶"),
     "Date: " + rfc_date(c.ts - 10, 540),
     "Message-ID: <20261112174540.9C1D2E@mail.example.net>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=UTF-8",
     "Content-Transfer-Encoding: base64"],
    b64("""Dana さん

今年も大変お世話になりました。
来年もどうぞよろしくお願いいたします。

(Just a short end-of-year greeting - thank you for this year!)

芽衣
""".encode("utf-8"))), state="new", flags="",
    note="Subject entirely non-Latin (UTF-8 B); text/plain body in base64")

c = Ctx("contract-reply", "11-17 10:05:05")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "bob@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.77", tz=60),
    ["Date: " + rfc_date(c.ts - 22, 60),
     "From: " + BOB,
     "To: " + DEMO,
     "Subject: " + ew_q("Re: Contract draft – please review by Friday", "UTF-8"),
     "Message-ID: " + MID_CONTRACT_RE2,
     "In-Reply-To: " + MID_CONTRACT_RE,
     "References: " + MID_CONTRACT + "\n " + MID_CONTRACT_RE,
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """Finally got the hosting people to agree to 1 hour response time for
critical incidents, 24/7. Legal is fine with the liability cap. I'll
send the final version for signature next week.

Bob

> section 4: 4 hours response time for "critical" is too slow for the
> mail service - we need 1 hour, at least during business hours.
"""), state="new", flags="", note="reply to demo's Sent message (References: 2 ids), in new/")

c = Ctx("security-qp", "11-19 22:30:18")
add(c, "demo", "", message(
    trace(c, "demo@example.com", "helpdesk@example.com", relay="", relay_ip="",
          client_ip="192.0.2.5", tz=60, local=True),
    ["Date: " + rfc_date(c.ts - 3, 60),
     "From: IT Helpdesk <helpdesk@example.com>",
     "To: " + DEMO,
     "Subject: Security notice: new sign-in from an unknown device",
     "Message-ID: <signin-20261119-2230@helpdesk.example.com>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=utf-8",
     "Content-Transfer-Encoding: quoted-printable"],
    qp("""Hello Dana,

we noticed a new sign-in to your account:

  Time:     Thu, 19 Nov 2026 23:29 CET
  Client:   IMAP (ExampleMail for Android 5.1)
  Address:  2001:db8:4a1::17 (approximate location: Exampletown)

If this was you, there is nothing to do. If not, please change your password immediately at https://account.example.com/security?action=change-password&source=notice and contact us.

Thanks,
IT Helpdesk — “security first”
""")), state="new", flags="", note="QP with long line (soft breaks), =3D in URL, typographic quotes; newest message")

# ===========================================================================
# demo / Drafts
# ===========================================================================

c = Ctx("draft-report", "03-03 10:15:00")
add(c, "demo", "Drafts", message([], [
    "Message-ID: <d41f7b2a-draft-report@example.com>",
    "Date: " + rfc_date(c.ts, 60),
    "MIME-Version: 1.0",
    UA_DEMO,
    "Subject: Quarterly report outline",
    "To: " + BOB,
    "From: " + DEMO,
    "X-Mozilla-Draft-Info: internal/draft; vcard=0; receipt=0; DSN=0; uuencode=0;\n"
    " attachmentreminder=0; deliveryformat=0",
    "Content-Type: text/plain; charset=UTF-8; format=flowed",
    "Content-Transfer-Encoding: 8bit"],
    """Bob,

rough outline for the Q1 report:

1. Highlights
2. Numbers (ask Jürgen's team)
3. Risks
4. 

TODO: finish before Friday
"""), flags="DS", note="\\Draft + \\Seen")

c = Ctx("draft-no-to", "07-20 18:40:12")
add(c, "demo", "Drafts", message([], [
    "Message-ID: <8f0e2d13-draft-venue@example.com>",
    "Date: " + rfc_date(c.ts, 120),
    "MIME-Version: 1.0",
    UA_DEMO,
    "Subject: Re: Fwd: Venue options for the offsite",
    "In-Reply-To: " + MID_VENUE_FWD,
    "References: " + MID_VENUE_FWD,
    "From: " + DEMO,
    "Content-Type: text/plain; charset=UTF-8; format=flowed",
    "Content-Transfer-Encoding: 7bit"],
    """Harbour is nice but I think Boiler is good enough and we save 
"""), flags="D", note="\\Draft without \\Seen; NO To header; unfinished sentence")

c = Ctx("draft-workshop", "10-28 14:22:47")
bnd = c.boundary("------------")
add(c, "demo", "Drafts", message([], [
    "Message-ID: <5a9c3e71-draft-workshop@example.com>",
    "Date: " + rfc_date(c.ts, 60),
    "MIME-Version: 1.0",
    UA_DEMO,
    "Subject: Workshop proposal: IMAP for client developers",
    "To: events@community.example.org",
    "Cc: " + ALICE,
    "From: " + DEMO,
    f"Content-Type: multipart/mixed; boundary=\"{bnd}\""],
    multipart(bnd, [
        part(["Content-Type: text/plain; charset=UTF-8; format=flowed",
              "Content-Transfer-Encoding: 7bit"],
             """Hello,

I'd like to propose a 90-minute hands-on workshop for the winter meetup. 
Abstract attached.

Dana
"""),
        part(["Content-Type: text/markdown; charset=UTF-8; name=\"abstract.md\"",
              "Content-Disposition: attachment; filename=\"abstract.md\"",
              "Content-Transfer-Encoding: 7bit"],
             """# IMAP for client developers

* Connecting, authenticating, SELECT vs EXAMINE
* UIDs, UIDVALIDITY and why you must never trust sequence numbers
* FETCH BODYSTRUCTURE: walking nested multiparts
* IDLE: staying up to date without polling

Bring a laptop; a sample server with test mailboxes is provided.
"""),
    ])), flags="DFS", note="\\Draft + \\Flagged + \\Seen, with a text/markdown attachment")

# ===========================================================================
# demo / Junk  (keyword $Junk)
# ===========================================================================

def spam_trace(c: Ctx, envfrom: str, relay: str, ip: str, score: str, tests: str) -> list[str]:
    return trace(c, "demo@example.com", envfrom, relay=relay, relay_ip=ip) + [
        "X-Spam-Flag: YES",
        f"X-Spam-Score: {score}",
        f"X-Spam-Status: Yes, score={score} required=5.0\n\ttests={tests}\n\tautolearn=no",
    ]


c = Ctx("junk-prize", "02-12 03:14:15")
add(c, "demo", "Junk", message(
    spam_trace(c, "winner@lottery.example.net", "mx.lottery.example.net", "203.0.113.66",
               "17.3", "ADVANCE_FEE_3_NEW,FREEMAIL_FROM,LOTS_OF_MONEY,\n\tMONEY_FRAUD_5,"
               "UNDISC_MONEY"),
    ["Date: " + rfc_date(c.ts - 300, -600),
     "From: \"International Prize Office\" <winner@lottery.example.net>",
     "Reply-To: claims.department@example.net",
     "To: undisclosed-recipients:;",
     "Subject: CONGRATULATIONS!!! You have WON 1,500,000.00 EUR",
     "Message-ID: <ZXhhbXBsZS1wcml6ZQ@lottery.example.net>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """ATTN: LUCKY WINNER

YOUR EMAIL ADDRESS HAS BEEN SELECTED IN THE INTERNATIONAL E-MAIL
LOTTERY 2026. TO CLAIM YOUR PRIZE OF 1,500,000.00 EUR SEND YOUR FULL
NAME, ADDRESS AND BANK DETAILS TO THE CLAIMS DEPARTMENT IMMEDIATELY.

(This is a harmless sample spam message for the pushimapd test bed.)
"""), flags="", kw=("$Junk",), note="spam, unseen, keyword $Junk")

c = Ctx("junk-phish-html", "04-02 22:47:09")
add(c, "demo", "Junk", message(
    spam_trace(c, "security@account-verify.example.net", "mail.account-verify.example.net",
               "198.51.100.250", "12.8", "HTML_MESSAGE,MIME_HTML_ONLY,PHISH_GENERIC,\n\tURI_MISMATCH"),
    ["Date: " + rfc_date(c.ts - 120, 0),
     "From: " + ew_b("Account Security ⚠") + " <security@account-verify.example.net>",
     "To: demo@example.com",
     "Subject: URGENT: verify your acc0unt within 24 hours",
     "Message-ID: <phish.0402.2247@account-verify.example.net>",
     "MIME-Version: 1.0",
     "Content-Type: text/html; charset=\"utf-8\"",
     "Content-Transfer-Encoding: quoted-printable"],
    qp("""<html><body style="font-family: Arial"><div style="border: 2px solid #c00; padding: 12px">
<p><b>Your mailbox will be suspended!</b></p>
<p>We detected unusual activity. Click <a href="https://account-verify.example.net/login?id=demo">https://mail.example.com/verify</a> within 24 hours to keep your account active.</p>
<p style="font-size: 9px; color: #999">This is a harmless sample phishing message for the pushimapd test bed.</p>
</div></body></html>
""")), flags="S", kw=("$Junk",), note="HTML-only (no text/plain alternative), QP; spam")

c = Ctx("junk-emoji", "06-20 05:05:05")
add(c, "demo", "Junk", message(
    spam_trace(c, "offers@deals.example.org", "bulk7.deals.example.org", "198.51.100.77",
               "9.1", "EMOJI_SUBJ,BULK_RE_SUSP_NTLD,HTML_IMAGE_ONLY_08"),
    ["Date: " + rfc_date(c.ts - 12, 120),
     "From: Deals " + ew_b("💰") + " <offers@deals.example.org>",
     "To: demo@example.com",
     "Subject: " + ew_b("💰 Exclusive offer just for you") + "\n " + ew_b(" – 90 % off 🎉"),
     "Message-ID: <offer-7731-2026-06-20@deals.example.org>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=utf-8",
     "Content-Transfer-Encoding: 8bit"],
    """💰💰💰 ONLY TODAY 💰💰💰

Everything must go! 90 % off on products you never knew you needed.
Act now → https://deals.example.org/now

(This is a harmless sample spam message for the pushimapd test bed.)
"""), flags="", kw=("$Junk",), note="emoji (non-BMP, 4-byte UTF-8) in B-encoded Subject and From; spam")

c = Ctx("junk-fake-invoice", "09-01 01:23:45")
bnd = c.boundary("NextPart_")
FAKE_ATT = ("<html><body><h1>Invoice</h1><p>This is a harmless sample attachment "
            "from the pushimapd test bed. It contains no script.</p></body></html>\n")
add(c, "demo", "Junk", message(
    spam_trace(c, "accounts@invoices.example.net", "relay.invoices.example.net",
               "203.0.113.240", "8.7", "MIME_HTML_ATTACH,SUSPICIOUS_INVOICE"),
    ["Date: " + rfc_date(c.ts - 7, 180),
     "From: Accounts Payable <accounts@invoices.example.net>",
     "To: demo@example.com",
     "Subject: Re: your invoice #INV-99812 (overdue)",
     "Message-ID: <inv99812.overdue@invoices.example.net>",
     "MIME-Version: 1.0",
     f"Content-Type: multipart/mixed; boundary=\"{bnd}\""],
    multipart(bnd, [
        part(["Content-Type: text/plain; charset=us-ascii"],
             "Please see the attached overdue invoice and pay immediately.\n"),
        part(["Content-Type: text/html; name=\"INV-99812.html\"",
              "Content-Disposition: attachment; filename=\"INV-99812.html\"",
              "Content-Transfer-Encoding: base64"],
             b64(FAKE_ATT.encode("ascii"))),
    ])), flags="S", kw=("$Junk",), note="spam with base64 text/html attachment")

# ===========================================================================
# demo / Trash
# ===========================================================================

c = Ctx("trash-lunch-menu", "01-22 12:31:20")
add(c, "demo", "Trash", message(
    trace(c, "demo@example.com", "canteen@example.com", relay="", relay_ip="",
          client_ip="192.0.2.30", tz=60, local=True),
    ["Date: " + rfc_date(c.ts - 6, 60),
     "From: Canteen <canteen@example.com>",
     "To: all-staff@example.com",
     "Subject: Lunch menu week 4",
     "Message-ID: <menu-2026-w04@example.com>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=utf-8",
     "Content-Transfer-Encoding: 8bit"],
    """Mon  Lentil soup, bread
Tue  Pasta al pomodoro
Wed  Käsespätzle with salad
Thu  Vegetable curry with rice
Fri  Fish & chips / crispy tofu
"""), flags="ST", note="in Trash and \\Deleted (T); one of only two \\Deleted messages")

c = Ctx("trash-newsletter-18", "05-06 07:00:00")
newsletter(c, "demo", 18, "Keyboard shortcuts you should know", [
    ("j / k", "Move to the next / previous message. Works in almost every client."),
    ("Shift+Ctrl+A", "Archive the whole thread with one keystroke."),
], folder="Trash", flags="S", note="newsletter in Trash (not \\Deleted)")

c = Ctx("trash-ooo", "08-11 09:12:33")
add(c, "demo", "Trash", message(
    trace(c, "demo@example.com", "", relay="smtp.example.org", relay_ip="198.51.100.23"),
    ["Date: " + rfc_date(c.ts - 1, 120),
     "From: " + FRANK,
     "To: " + DEMO,
     "Subject: Out of office: Retrospective notes (sprint 17)",
     "Message-ID: <ooo-frank-20260811@example.org>",
     "Auto-Submitted: auto-replied",
     "X-Auto-Response-Suppress: All",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """I am on holiday until 24 August with no access to e-mail.
For urgent operational issues contact ops-team@example.org.

Frank
"""), flags="S", note="auto-reply in Trash, NOT \\Deleted; Return-Path is the null sender <>")

# ===========================================================================
# demo / Archive
# ===========================================================================

c = Ctx("archive-onboarding", "01-06 10:00:41")
bnd = c.boundary("------------")
add(c, "demo", "Archive", message(
    trace(c, "demo@example.com", "hr@example.com", relay="", relay_ip="",
          client_ip="192.0.2.40", tz=60, local=True),
    ["Date: " + rfc_date(c.ts - 3, 60),
     "From: People Team <hr@example.com>",
     "To: " + DEMO,
     "Subject: Onboarding checklist",
     "Message-ID: <onboarding-dana@example.com>",
     "MIME-Version: 1.0",
     f"Content-Type: multipart/mixed; boundary=\"{bnd}\""],
    multipart(bnd, [
        part(["Content-Type: text/plain; charset=us-ascii"],
             "Welcome aboard, Dana! Your checklist for the first week is attached.\n"),
        part(["Content-Type: text/plain; charset=us-ascii; name=\"checklist.txt\"",
              "Content-Disposition: attachment; filename=\"checklist.txt\"",
              "Content-Description: First week checklist"],
             """[ ] Pick up laptop and badge
[ ] Set up mail client (IMAP: mail.example.com, port 993)
[ ] Read the security guidelines
[ ] Lunch with your buddy (Alice)
[ ] Join the imap-protocol mailing list
"""),
    ])), flags="S", note="text/plain attachment with filename and Content-Description")

c = Ctx("archive-reimbursement", "02-27 16:20:02")
add(c, "demo", "Archive", message(
    trace(c, "demo@example.com", "finance@example.com", relay="", relay_ip="",
          client_ip="192.0.2.41", tz=60, local=True),
    ["Date: " + rfc_date(c.ts - 11, 60),
     "From: Finance <finance@example.com>",
     "To: " + DEMO,
     "Subject: Re: Conference travel reimbursement",
     "Message-ID: <reimb-4471@example.com>",
     "In-Reply-To: <dana-reimb-request@example.com>",
     "References: <dana-reimb-request@example.com>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """Hi Dana,

your claim 4471 (train tickets and hotel, 612.40 EUR) was approved and
will be paid with the March salary.

Finance
"""), flags="RS", note="reply whose parent is not in the mailbox")

c = Ctx("archive-allhands", "04-29 11:45:30")
ALLHANDS_PDF = make_pdf("All-hands April 2026", [
    "1. Revenue and customers", "2. Product roadmap", "3. Hiring", "4. Q&A"])
bnd = c.boundary("=_ah_")
add(c, "demo", "Archive", message(
    trace(c, "demo@example.com", "ceo-office@example.com", relay="", relay_ip="",
          client_ip="192.0.2.42", tz=120, local=True),
    ["Date: " + rfc_date(c.ts - 15, 120),
     "From: CEO Office <ceo-office@example.com>",
     "To: all-staff@example.com",
     "Subject: All-hands slides (April)",
     "Message-ID: <allhands-2026-04@example.com>",
     "MIME-Version: 1.0",
     f"Content-Type: multipart/mixed; boundary=\"{bnd}\""],
    multipart(bnd, [
        part(["Content-Type: text/plain; charset=us-ascii"],
             "Thanks for joining today's all-hands. Slides attached.\n"),
        part(["Content-Type: application/pdf",
              "Content-Disposition: attachment; filename=\"all-hands-2026-04.pdf\"",
              "Content-Transfer-Encoding: base64"],
             b64(ALLHANDS_PDF)),
    ])), flags="S", note="PDF attachment with filename only in Content-Disposition (no name= param)")

c = Ctx("archive-office-move", "07-31 17:05:55")
add(c, "demo", "Archive", message(
    trace(c, "demo@example.com", "facilities@example.org", relay="smtp.example.org",
          relay_ip="198.51.100.23", client_ip="192.0.2.140", tz=120),
    ["Date: " + rfc_date(c.ts - 29, 120),
     "From: Facilities <facilities@example.org>",
     "To: " + DEMO + ", " + ALICE + ",\n\t" + BOB,
     "Subject: Office move: new desk assignments",
     "Message-ID: <office-move-2026@example.org>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """Hello,

from Monday 10 August you will sit on the 3rd floor:

  Dana Demo        desk 3.14
  Alice Lindqvist  desk 3.15
  Bob Okafor       desk 3.21

Please pack your things into the blue boxes by Friday.

Facilities
"""), flags="S", note="three To addresses, second line folded with a TAB")

c = Ctx("archive-expenses", "10-20 08:08:08")
add(c, "demo", "Archive", message(
    trace(c, "demo@example.com", "finance@example.com", relay="", relay_ip="",
          client_ip="192.0.2.41", tz=120, local=True),
    ["Date: " + rfc_date(c.ts - 4, 120),
     "From: Finance <finance@example.com>",
     "To: " + DEMO,
     "Subject: Expense report approved",
     "Message-ID: <expenses-5120@example.com>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    "Your expense report 5120 (48.90 EUR) was approved.\n"), flags="S", note="one-line body")

# ===========================================================================
# demo / Lists.imap-protocol
# ===========================================================================

LIST_HEADERS = [
    "List-Id: IMAP protocol discussion <imap-protocol.lists.example.org>",
    "List-Unsubscribe: <mailto:imap-protocol-leave@lists.example.org>,\n"
    " <https://lists.example.org/mailman/options/imap-protocol>",
    "List-Archive: <https://lists.example.org/archives/imap-protocol/>",
    "List-Post: <mailto:imap-protocol@lists.example.org>",
    "List-Help: <mailto:imap-protocol-request@lists.example.org?subject=help>",
    "List-Subscribe: <mailto:imap-protocol-join@lists.example.org>",
    "Precedence: list",
]


def list_msg(key: str, when: str, sender: str, envname: str, subject: str, mid: str,
             refs: list[str], body: str, *, flags: str = "S", state: str = "cur",
             note: str | None = None, ctype: str = "text/plain; charset=us-ascii",
             tz: int = 0) -> None:
    c = Ctx(key, when)
    hdrs = ["Date: " + rfc_date(c.ts - 95, tz),
            "From: " + sender,
            "To: IMAP protocol discussion <imap-protocol@lists.example.org>",
            "Subject: " + subject,
            "Message-ID: " + mid]
    if refs:
        hdrs += ["In-Reply-To: " + refs[-1], "References: " + "\n ".join(refs)]
    hdrs += ["MIME-Version: 1.0", "Content-Type: " + ctype]
    hdrs += LIST_HEADERS
    hdrs += ["Errors-To: imap-protocol-bounces+demo=example.com@lists.example.org",
             "Sender: \"imap-protocol\" <imap-protocol-bounces+demo=example.com@lists.example.org>"]
    add(c, "demo", "Lists.imap-protocol", message(
        trace(c, "demo@example.com",
              "imap-protocol-bounces+demo=example.com@lists.example.org",
              relay="lists.example.org", relay_ip="198.51.100.5",
              extra=[f"Received: from {envname} ({envname} [203.0.113.{30 + len(key)}])\n"
                     f"\tby lists.example.org (Postfix) with ESMTPS id {c.qid()}\n"
                     f"\tfor <imap-protocol@lists.example.org>; {rfc_date(c.ts - 60, 0)}"]),
        hdrs, body), flags=flags, state=state, note=note)


list_msg("list-idle", "03-04 20:11:05", "Hannah Voss <hvoss@lists-user1.example.org>",
         "lists-user1.example.org", "[imap-protocol] IDLE and NOTIFY interplay", MID_IDLE, [],
         """Hi list,

if a client has issued NOTIFY SET (RFC 5465) and then enters IDLE, are
servers expected to send untagged STATUS responses for other mailboxes
during IDLE, or only once IDLE is terminated with DONE?

My reading of section 5 is "during IDLE", but two servers I tested
buffer them until DONE.

Hannah
""", note="mailing-list thread start with List-Id, List-Post, List-Unsubscribe etc.")

list_msg("list-idle-re1", "03-05 07:42:19", "Kwame Mensah <kwame@nosuchhost.example.net>",
         "nosuchhost.example.net", "Re: [imap-protocol] IDLE and NOTIFY interplay",
         MID_IDLE_RE1, [MID_IDLE],
         """On Wed, Mar 04, 2026 at 08:09:30PM +0000, Hannah Voss wrote:
> if a client has issued NOTIFY SET (RFC 5465) and then enters IDLE, are
> servers expected to send untagged STATUS responses for other mailboxes
> during IDLE, or only once IDLE is terminated with DONE?

During IDLE. The whole point of NOTIFY is that the client doesn't have
to leave IDLE to learn about other mailboxes. Buffering until DONE is
legal but defeats the purpose.

Kwame
""", note="list reply, In-Reply-To/References")

list_msg("list-idle-re2", "03-05 13:03:58", "Hannah Voss <hvoss@lists-user1.example.org>",
         "lists-user1.example.org", "Re: [imap-protocol] IDLE and NOTIFY interplay",
         MID_IDLE_RE2, [MID_IDLE, MID_IDLE_RE1],
         """Kwame Mensah <kwame@nosuchhost.example.net> writes:
> During IDLE. The whole point of NOTIFY is that the client doesn't have
> to leave IDLE to learn about other mailboxes.

Thanks, that matches my reading. I'll file bugs with the two servers.

Hannah
""", flags="FS", note="\\Flagged list message; References with two ids folded")

list_msg("list-modseq", "05-19 09:56:40", "Lin Qiao <lin@imap-dev.example.com>",
         "imap-dev.example.com", "[imap-protocol] CONDSTORE: HIGHESTMODSEQ after EXPUNGE",
         MID_MODSEQ, [],
         qp("""Hello,

quick question about CONDSTORE (RFC 7162): after an EXPUNGE, must HIGHESTMODSEQ increase even if no remaining message changed? My server currently keeps it unchanged and a client (which I won't name) then fails to notice the expunge when it resyncs with QRESYNC.

Thanks — Lin
"""), ctype="text/plain; charset=utf-8\nContent-Transfer-Encoding: quoted-printable",
         tz=480, note="QP utf-8 list post, new thread")

list_msg("list-modseq-re", "05-20 21:30:14", "Kwame Mensah <kwame@nosuchhost.example.net>",
         "nosuchhost.example.net", "Re: [imap-protocol] CONDSTORE: HIGHESTMODSEQ after EXPUNGE",
         MID_MODSEQ_RE, [MID_MODSEQ],
         """Lin Qiao wrote:
> after an EXPUNGE, must HIGHESTMODSEQ increase even if no remaining
> message changed?

Yes. With QRESYNC enabled the expunge itself is a change; clients use
VANISHED (EARLIER) together with the mod-sequence to catch up. Keep a
per-mailbox counter and bump it on every flag change and every expunge.

Kwame
""", flags="", note="unseen list reply in cur/ (no flags)")

c = Ctx("list-announce", "11-16 15:00:00")
bnd = c.boundary("ann_")
list_msg("list-announce", "11-16 15:00:00", "Lin Qiao <lin@imap-dev.example.com>",
         "imap-dev.example.com", "[imap-protocol] [ANN] imap-conformance-kit 0.9 released",
         "<ann-ick-0.9@imap-dev.example.com>", [],
         multipart(bnd, [
             part(["Content-Type: text/plain; charset=us-ascii"],
                  """Hi all,

imap-conformance-kit 0.9 is out. New in this release:

  - 40 new tests for BODYSTRUCTURE of nested multiparts
  - checks for modified UTF-7 mailbox names
  - a test mailbox with a 1 MB message, raw 8-bit headers and CRLF files

Download: https://imap-dev.example.com/ick/0.9/

Lin
"""),
             part(["Content-Type: text/html; charset=us-ascii"],
                  """<html><body><p>Hi all,</p>
<p><b>imap-conformance-kit 0.9</b> is out. New in this release:</p>
<ul><li>40 new tests for BODYSTRUCTURE of nested multiparts</li>
<li>checks for modified UTF-7 mailbox names</li>
<li>a test mailbox with a 1&nbsp;MB message, raw 8-bit headers and CRLF files</li></ul>
<p><a href="https://imap-dev.example.com/ick/0.9/">Download</a></p><p>Lin</p></body></html>
"""),
         ], preamble=""),
         ctype=f"multipart/alternative; boundary=\"{bnd}\"", flags="", state="new", tz=480,
         note="list announcement in new/, multipart/alternative")

# ===========================================================================
# demo / Entw&APw-rfe  ("Entwürfe")
# ===========================================================================

ENTWUERFE = mutf7("Entwürfe")
assert ENTWUERFE == "Entw&APw-rfe", ENTWUERFE

c = Ctx("entwurf-sommerfest", "04-08 19:30:00")
add(c, "demo", ENTWUERFE, message([], [
    "Message-ID: <e7c1a9d0-entwurf-sommerfest@example.com>",
    "Date: " + rfc_date(c.ts, 120),
    "MIME-Version: 1.0",
    UA_DEMO,
    "Subject: Einladung zum Sommerfest",
    "Content-Language: de-DE",
    "To: " + JUERGEN + ",\n " + ew_q("Helga Brück", "UTF-8") + " <helga@example.org>",
    "From: " + DEMO,
    "Content-Type: text/plain; charset=UTF-8",
    "Content-Transfer-Encoding: 8bit"],
    """Liebe Kolleginnen und Kollegen,

am Freitag, dem 26. Juni, feiern wir ab 17 Uhr unser Sommerfest im
Innenhof. Für Getränke und Grillgut ist gesorgt; über Salate und
Kuchen freuen wir uns sehr.

Bitte gebt bis zum 19. Juni Bescheid, ob ihr kommt.

Viele Grüße
Dana
"""), flags="DS",
    note="draft in the non-ASCII folder 'Entwürfe' (on disk .Entw&APw-rfe); 8bit UTF-8; Content-Language: de-DE")

c = Ctx("entwurf-juergen", "09-22 20:45:10")
add(c, "demo", ENTWUERFE, message([], [
    "Message-ID: <b3d5f7a9-entwurf-juergen@example.com>",
    "Date: " + rfc_date(c.ts, 120),
    "MIME-Version: 1.0",
    UA_DEMO,
    "Subject: " + ew_q("Re: Übersicht der Kosten für Januar", "UTF-8"),
    "To: " + JUERGEN,
    "In-Reply-To: " + MID_COSTS,
    "References: " + MID_COSTS,
    "From: " + DEMO,
    "Content-Type: text/plain; charset=UTF-8",
    "Content-Transfer-Encoding: quoted-printable"],
    qp("""Hallo Jürgen,

danke für die Übersicht. Die Reisekosten sind höher als geplant, aber nachvollziehbar – die Messe hat sich gelohnt.

(Entwurf – noch nicht abschicken!)
""")), flags="D", note="\\Draft only; UTF-8 Q-encoded Subject; QP body")

# ===========================================================================
# alice
# ===========================================================================

BOOK_HEADERS = [
    "From: " + NADIA,
    "To: " + ALICE,
    "Subject: Book club: next title",
    "Date: " + rfc_date(ts_of("08-18 19:02:37") - 50, 120),
    "Message-ID: " + MID_BOOK,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    "Content-Transfer-Encoding: quoted-printable",
]
c = Ctx("alice-book-club", "08-18 19:02:37")
add(c, "alice", "", message(
    trace(c, "alice@example.com", "nadia@example.net", relay="mail.example.net",
          relay_ip="203.0.113.42", client_ip="198.51.100.77", tz=120),
    BOOK_HEADERS,
    qp("""Hi Alice,

for September I suggest either “The Left Hand of Darkness” or something lighter – maybe a cookbook? I'm joking. Mostly.

Vote by Friday: reply with 1 (novel) or 2 (cookbook).

Nadia ☕
""")), flags="RS", note="QP utf-8 body (typographic quotes, en dash, ☕); answered")

c = Ctx("alice-sent-book-re", "08-19 07:48:02")
add(c, "alice", "Sent", message([], [
    "Message-ID: " + MID_BOOK_RE,
    "Date: " + rfc_date(c.ts - 1, 120),
    "MIME-Version: 1.0",
    "User-Agent: ExampleMail/128.4",
    "Subject: Re: Book club: next title",
    "To: " + NADIA,
    "In-Reply-To: " + MID_BOOK,
    "References: " + MID_BOOK,
    "From: " + ALICE,
    "Content-Type: text/plain; charset=UTF-8; format=flowed",
    "Content-Transfer-Encoding: 7bit"],
    """1, definitely.

Alice
"""), flags="S", note="reply with In-Reply-To/References, format=flowed")

c = Ctx("alice-webinar", "04-15 12:00:00")
add(c, "alice", "Trash", message(
    trace(c, "alice@example.com", "webinars@events.example.net", relay="mta2.news.example.net",
          relay_ip="203.0.113.88"),
    ["Date: " + rfc_date(c.ts - 30, 0),
     "From: Example Webinars <webinars@events.example.net>",
     "To: alice@example.com",
     "Subject: Reminder: \"Scaling IMAP\" starts in one hour",
     "Message-ID: <webinar-reminder-0415@events.example.net>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """The webinar "Scaling IMAP" starts at 13:00 UTC.
Join here: https://events.example.net/w/scaling-imap
"""), flags="S", note="alice's only Trash message (not \\Deleted)")

c = Ctx("alice-subscription", "11-10 06:30:00")
newsletter(c, "alice", 45, "Time to renew", [
    ("Renewal", "Your yearly subscription to Example Weekly renews on 1 December. "
     "Nothing to do if you want to keep reading."),
], state="new", flags="", note="multipart/alternative newsletter in new/")

c = Ctx("alice-hike", "11-18 20:15:44")
add(c, "alice", "", message(
    trace(c, "alice@example.com", "nadia@example.net", relay="mail.example.net",
          relay_ip="203.0.113.42", client_ip="198.51.100.77", tz=60),
    ["From: " + NADIA,
     "To: " + ALICE,
     "Cc: Dana Demo <demo@example.com>",
     "Subject: Weekend hike?",
     "Date: " + rfc_date(c.ts - 25, 60),
     "Message-ID: <hike-20261118@mail.example.net>",
     "MIME-Version: 1.0",
     "Content-Type: text/plain; charset=us-ascii"],
    """Forecast says sunny on Saturday. Ridge trail, 09:00 at the station?
Bring warm socks.

Nadia
"""), state="new", flags="", note="plain text in new/; Cc to demo")


# ===========================================================================
# Layout
# ===========================================================================

FOLDERS = {
    "demo": ["", "Sent", "Drafts", "Junk", "Trash", "Archive", "Lists",
             "Lists.imap-protocol", ENTWUERFE],
    "alice": ["", "Sent", "Trash"],
}
SUBSCRIPTIONS = {
    "demo": [f for f in FOLDERS["demo"] if f and f != "Archive"],
    "alice": ["Sent", "Trash"],
}
KEYWORD_ORDER = ("$Forwarded", "$Label1", "$Junk")


def folder_dir(user: str, folder: str) -> str:
    return user if not folder else f"{user}/.{folder}"


def assign_names() -> dict[tuple[str, str], list[str]]:
    """Compute file names; returns the keyword list per mailbox."""
    keywords: dict[tuple[str, str], list[str]] = {}
    for m in MSGS:
        box = keywords.setdefault((m.user, m.folder), [])
        for k in m.keywords:
            if k not in box:
                box.append(k)
    for box in keywords.values():
        box.sort(key=KEYWORD_ORDER.index)
    for m in MSGS:
        rng = random.Random(f"{SEED}/name/{m.key}")
        micros = rng.getrandbits(20) % 1000000
        pid = 1000 + rng.getrandbits(16) % 60000
        size = len(m.data)
        wsize = size + m.data.count(b"\n") - m.data.count(b"\r\n")
        name = f"{m.ts}.M{micros}P{pid}.{HOSTNAME},S={size},W={wsize}"
        if m.state == "cur":
            letters = [chr(ord("a") + keywords[(m.user, m.folder)].index(k))
                       for k in m.keywords]
            flags = "".join(sorted(set(m.flags) | set(letters)))
            name += ":2," + flags
        m.filename = name
        m.relpath = f"{folder_dir(m.user, m.folder)}/{m.state}/{name}"
    return keywords


def sanity() -> None:
    keys = [m.key for m in MSGS]
    assert len(keys) == len(set(keys)), "duplicate message key"
    for m in MSGS:
        assert FIRST_TS <= m.ts <= LAST_TS, m.key
        assert m.folder in FOLDERS[m.user], (m.key, m.folder)
        assert set(m.flags) <= set("DFPRST"), m.key
    seen = {}
    for m in MSGS:
        k = (m.user, m.folder, m.ts)
        assert k not in seen, f"same timestamp in one mailbox: {m.key} / {seen[k]}"
        seen[k] = m.key
    big = [m.key for m in MSGS if len(m.data) > 1024 * 1024]
    assert big == ["big-1mb"], big
    crlf = [m.key for m in MSGS if b"\r\n" in m.data]
    assert crlf == ["crlf-csv", "crlf-new-utf8"], crlf


def write_tree(root: str) -> dict[tuple[str, str], list[str]]:
    sanity()
    keywords = assign_names()
    for user in USERS:
        path = os.path.join(root, user)
        if os.path.isdir(path):
            shutil.rmtree(path)
        for folder in FOLDERS[user]:
            d = os.path.join(root, folder_dir(user, folder))
            for sub in ("cur", "new", "tmp"):
                os.makedirs(os.path.join(d, sub))
            if folder:
                with open(os.path.join(d, "maildirfolder"), "wb"):
                    pass
            kws = keywords.get((user, folder))
            if kws:
                with open(os.path.join(d, "dovecot-keywords"), "wb") as f:
                    f.write("".join(f"{i} {k}\n" for i, k in enumerate(kws)).encode("ascii"))
        with open(os.path.join(path, "subscriptions"), "wb") as f:
            f.write("".join(s + "\n" for s in SUBSCRIPTIONS[user]).encode("ascii"))
    for m in sorted(MSGS, key=lambda m: m.relpath):
        p = os.path.join(root, m.relpath)
        with open(p, "wb") as f:
            f.write(m.data)
        os.utime(p, (m.ts, m.ts))  # mtime = delivery time (Dovecot's INTERNALDATE)
    with open(os.path.join(root, "README.md"), "wb") as f:
        f.write(readme(keywords).encode("utf-8"))
    return keywords


# ===========================================================================
# README
# ===========================================================================

FOLDER_LABEL = {"": "INBOX", ENTWUERFE: "Entw&APw-rfe (= \"Entwürfe\")"}


def readme(keywords) -> str:
    lines = []
    w = lines.append
    w("# maildir-sample: sample mail for pushimapd")
    w("")
    w("**Generated by `generate.py` — do not edit by hand.** Change the generator")
    w("and run `python3 generate.py` (stdlib only, Python 3.11+); the output is")
    w("byte-for-byte reproducible. `python3 generate.py --check` verifies that the")
    w("tree on disk matches the generator and that every file is sane (S=/W=")
    w("sizes, MIME parsing).")
    w("")
    w("All messages were written for this project. Every person is invented; all")
    w("addresses use example.com / example.org / example.net and all IP addresses")
    w("are from the documentation ranges.")
    w("")
    w("## Logins (local testing only)")
    w("")
    w("The passwords are set by the server, not stored here: `demo` / `demo` and")
    w("`alice` / `alice`. They are for local testing only — never deploy them.")
    w("")
    w("## Layout (Maildir++, as Dovecot/Courier use it)")
    w("")
    w("- `demo/` and `alice/` are each a user's INBOX Maildir (`cur/`, `new/`, `tmp/`).")
    w("- Folders are subdirectories `.Name` (nested: `.Parent.Child`), each with")
    w("  `cur/new/tmp` and an empty `maildirfolder` file. Names are stored in IMAP")
    w("  modified UTF-7, e.g. `.Entw&APw-rfe` is the folder `Entwürfe`.")
    w("- Empty `cur/`, `new/` and `tmp/` directories are not kept by git; the server")
    w("  recreates missing ones.")
    w("- `subscriptions`: one subscribed folder per line (modified UTF-7, `.` as the")
    w("  separator, INBOX not listed). demo is subscribed to everything except `Archive`.")
    w("- `dovecot-keywords` (only in mailboxes that use keywords): `<index> <name>`;")
    w("  index 0 is the filename letter `a`, 1 is `b`, ...")
    w("- File names: `<unix secs>.M<micros>P<pid>.sample,S=<size>,W=<size with CRLF>`,")
    w("  plus `:2,<flags>` in `cur/` (D=\\Draft F=\\Flagged P=passed (forwarded)")
    w("  R=\\Answered S=\\Seen T=\\Deleted, then keyword letters). Files in `new/` have")
    w("  no `:2,` part. Sorting names sorts by delivery time. The file mtime is set")
    w("  to the same timestamp, but git does not preserve mtimes, so derive")
    w("  INTERNALDATE from the name prefix when the mtime is useless.")
    w("- All files use bare LF line endings except the two CRLF messages listed below.")
    w("- Only two messages carry \\Deleted (T): `deleted-helpdesk` in demo INBOX and")
    w("  `trash-lunch-menu` in demo Trash.")
    w("- Copies of the same message in several mailboxes share the Message-ID (e.g.")
    w("  demo's Sent replies and the copies delivered to alice).")
    w("")
    w("Finding a message in tests: the `<unix secs>` prefix of a file name is fixed")
    w("per message, while `S=`/`W=` change whenever a message is edited. Prefer the")
    w("prefix or the Message-ID over the full file name.")
    w("")
    w("## Mailboxes and message counts")
    w("")
    w("| user | IMAP name | directory | cur | new | total | keywords file |")
    w("| --- | --- | --- | ---: | ---: | ---: | --- |")
    total = 0
    for user in USERS:
        for folder in FOLDERS[user]:
            msgs = [m for m in MSGS if m.user == user and m.folder == folder]
            ncur = sum(1 for m in msgs if m.state == "cur")
            nnew = len(msgs) - ncur
            total += len(msgs)
            imap = "INBOX" if not folder else FOLDER_LABEL.get(folder, folder)
            kws = keywords.get((user, folder))
            kwtext = ", ".join(f"{chr(97 + i)}={k}" for i, k in enumerate(kws)) if kws else ""
            w(f"| {user} | {imap} | `{folder_dir(user, folder)}/` | {ncur} | {nnew} | "
              f"{len(msgs)} | {kwtext} |")
    w(f"| | **total** | | | | **{total}** | |")
    w("")
    w("With UTF8=ACCEPT the folder `Entw&APw-rfe` is listed as `Entwürfe`.")
    w("")
    w("`Lists` is an intentionally empty parent folder (only `Lists.imap-protocol`")
    w("holds mail).")
    w("")
    w("## Quick index of notable messages")
    w("")
    quick = [
        ("big-1mb", "the one message over 1 MB"),
        ("koeln-raw8bit", "raw (unencoded) 8-bit UTF-8 Subject and From"),
        ("crlf-csv", "CRLF line endings on disk (1 of 2)"),
        ("crlf-new-utf8", "CRLF line endings on disk (2 of 2), in new/"),
        ("no-content-type", "no Content-Type / MIME-Version, no final newline"),
        ("no-date", "no Date header"),
        ("msgid-only", "Message-ID is the only header"),
        ("empty-body", "empty body"),
        ("undisclosed", "To: undisclosed-recipients:;"),
        ("group-cc", "address group with members in Cc"),
        ("long-subject", "very long folded Subject"),
        ("maintenance-multito", "multiple To addresses"),
        ("split-encoded-word", "RFC 2047 Subject split over two lines"),
        ("juergen-costs", "ISO-8859-1 Q-encoded From/Subject, QP latin-1 body"),
        ("mei-travel", "UTF-8 B-encoded From/Subject, 8bit UTF-8 body"),
        ("fwd-rfc822", "message/rfc822 containing multipart/alternative"),
        ("related-inline", "multipart/related with Content-ID image, Content-Location"),
        ("booking-nested", "mixed > alternative > related nesting + PDF"),
        ("invoice-pdf", "base64 PDF attachment"),
        ("design-notes", "text attachment with filename, Content-Description, Content-Language"),
        ("newsletter-4", "multipart/alternative, quoted-printable"),
        ("deleted-helpdesk", "\\Deleted flag in INBOX"),
    ]
    by_key = {m.key: m for m in MSGS}
    w("| what | file |")
    w("| --- | --- |")
    for key, what in quick:
        w(f"| {what} | `{by_key[key].relpath}` |")
    w("")
    w("## All messages")
    w("")
    w("Key = the generator's name for the message (search for it in generate.py).")
    for user in USERS:
        for folder in FOLDERS[user]:
            msgs = sorted((m for m in MSGS if m.user == user and m.folder == folder),
                          key=lambda m: m.filename)
            if not msgs:
                continue
            imap = "INBOX" if not folder else FOLDER_LABEL.get(folder, folder)
            w("")
            w(f"### {user} / {imap}")
            w("")
            w("| key | file | size | what it exercises |")
            w("| --- | --- | ---: | --- |")
            for m in msgs:
                note = (m.note or "").replace("|", "\\|")
                w(f"| {m.key} | `{m.state}/{m.filename}` | {len(m.data)} | {note} |")
    w("")
    return "\n".join(lines)


# ===========================================================================
# Verification
# ===========================================================================

def read_bytes(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def verify(root: str) -> list[str]:
    """Check an on-disk tree; returns a list of problems."""
    import re
    problems = []
    name_re = re.compile(r"^(\d{10})\.M(\d+)P(\d+)\.[^,:/]+,S=(\d+),W=(\d+)(:2,([A-Za-z]*))?$")
    count = 0
    for user in USERS:
        for folder in FOLDERS[user]:
            d = os.path.join(root, folder_dir(user, folder))
            if folder and os.path.getsize(os.path.join(d, "maildirfolder")) != 0:
                problems.append(f"{d}: maildirfolder not empty")
            for sub in ("cur", "new", "tmp"):
                sd = os.path.join(d, sub)
                for fn in sorted(os.listdir(sd)) if os.path.isdir(sd) else []:
                    count += 1
                    p = os.path.join(sd, fn)
                    mo = name_re.match(fn)
                    if sub == "tmp" or not mo:
                        problems.append(f"{p}: unexpected file")
                        continue
                    data = read_bytes(p)
                    s, w_ = int(mo.group(4)), int(mo.group(5))
                    want_w = len(data) + data.count(b"\n") - data.count(b"\r\n")
                    if s != len(data) or w_ != want_w:
                        problems.append(f"{p}: S={s} W={w_}, actual {len(data)}/{want_w}")
                    if (sub == "new") != (mo.group(6) is None):
                        problems.append(f"{p}: :2, suffix does not match {sub}/")
                    flags = mo.group(7) or ""
                    if flags != "".join(sorted(flags)):
                        problems.append(f"{p}: flags not sorted")
                    problems += check_message(p, data)
    if count != len(MSGS):
        problems.append(f"found {count} messages, expected {len(MSGS)}")
    return problems


RAW_8BIT_HEADER_KEYS = ("koeln-raw8bit",)  # deliberate unencoded 8-bit headers


def check_message(p: str, data: bytes) -> list[str]:
    """Parse with the email package; report defects and undecodable parts.
    Non-ASCII header bytes are only accepted in the deliberate raw-8bit message."""
    out = []
    raw_ok = any(p.endswith(m.relpath) for m in MSGS if m.key in RAW_8BIT_HEADER_KEYS)
    msg = email.message_from_bytes(data, policy=email.policy.default)
    for part_ in msg.walk():
        for d in part_.defects:
            out.append(f"{p}: defect {type(d).__name__} in {part_.get_content_type()}")
        for name, value in part_.items():
            for d in getattr(value, "defects", ()):
                if raw_ok and type(d).__name__ == "UndecodableBytesDefect":
                    continue
                out.append(f"{p}: header {name}: {type(d).__name__}: {d}")
        if not part_.is_multipart() and part_.get_content_maintype() not in ("message",):
            try:
                part_.get_payload(decode=True)
            except Exception as e:  # pragma: no cover
                out.append(f"{p}: cannot decode {part_.get_content_type()}: {e}")
    return out


def main(argv: list[str]) -> int:
    if argv[1:] == ["--check"]:
        with tempfile.TemporaryDirectory() as tmp:
            write_tree(tmp)  # also assigns MSGS[*].relpath used by verify()
            problems = []
            for user in USERS:
                cmp = filecmp.dircmp(os.path.join(tmp, user), os.path.join(HERE, user))
                problems += diff_report(cmp)
            if read_bytes(os.path.join(tmp, "README.md")) != \
                    read_bytes(os.path.join(HERE, "README.md")):
                problems.append("README.md differs from generator output")
        problems += verify(HERE)
        for pr in problems:
            print(pr)
        print(f"{len(MSGS)} messages, {len(problems)} problem(s)")
        return 1 if problems else 0
    if len(argv) > 1:
        print(__doc__)
        return 2
    write_tree(HERE)
    print(f"wrote {len(MSGS)} messages under {HERE}")
    return 0


def diff_report(cmp: filecmp.dircmp) -> list[str]:
    out = []
    for n in cmp.left_only:
        out.append(f"missing on disk: {cmp.right}/{n}")
    for n in cmp.right_only:
        out.append(f"not produced by generator: {cmp.right}/{n}")
    # dircmp compares shallowly (size+mtime); compare contents explicitly
    for n in cmp.common_files:
        a = read_bytes(os.path.join(cmp.left, n))
        b = read_bytes(os.path.join(cmp.right, n))
        if a != b:
            out.append(f"content differs: {cmp.right}/{n}")
    for sub in cmp.subdirs.values():
        out += diff_report(sub)
    return out


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""End-to-end: mutt (2.2) reading demo's sample INBOX from pushimapd over IMAP.

mutt is a full-screen program, so every run happens on a pseudo-terminal
(``pty``, stdlib; no tmux needed): the keys to press are queued up front with
``-e 'push "...<quit>"'``, mutt runs them and exits, and everything it drew is
replayed through the small VT100 screen model below to read the index the
way a user would see it. ``$index_format`` and ``$status_format`` are set to
easily parsed forms (``@@ <number>|<flags>|<Message-ID>|<subject>|<author>@@``
and ``STATUS total=... unread=...``); the terminal is big enough for the
whole sample INBOX to fit on one screen.

What mutt writes when it copies a message from IMAP into a local Maildir is
exactly the message as fetched from the server, line endings as LF, plus two
fields it appends at the end of the header: ``Content-Length:`` (the body's
size in bytes) and ``Lines:`` (its number of lines). The copy tests check the
values of those two and remove exactly them before comparing with the
server's file byte for byte.

Everything on the server side is checked by reading the Maildir from disk.
Note that the server moves ``new/`` files to ``cur/`` (adding ``:2,``) when a
client selects the mailbox read-write, so files are identified by the unique
part of their name (``MaildirFile.base``), not by their path.
"""

from __future__ import annotations

import codecs
import email.header
import fcntl
import os
import re
import select
import struct
import subprocess
import termios
import time
import unicodedata
from dataclasses import dataclass

from conftest import require_binary
from clients_util import (  # noqa: F401  (imap_sample_server is a fixture)
    USER, PASSWORD, by_message_id, client_env, crlf, header_fields, imap_sample_server, lf, read_maildir,
    server_messages, split_header,
)

ROWS, COLS = 60, 400  # the sample INBOX (36 messages) fits, and no index line is cut off
MUTT_TIMEOUT = 30  # seconds; a run takes well under one. A pending prompt eats the keys and would hang.
KOELN_MID = "<c0e1b2a3-4d5e-6f70-8192-koeln@example.org>"
_INDEX_LINE = re.compile(r"^@@ *(\d+)\|(...)\|(<[^|]*>)?\|(.*)\|(.*)@@$")
_STATUS_LINE = re.compile(r"STATUS total=(\d+) unread=(\d+) flagged=(\d+) deleted=(\d+) tagged=(\d+)")


# -- a minimal VT100 screen model (what ncurses sends for TERM=vt100) -------------------------------


class Screen:
    """Applies terminal output to a ROWS x COLS character grid.

    It understands what ncurses emits for ``TERM=vt100``: cursor addressing
    and relative moves (CUP, CUU/CUD/CUF/CUB), erase in line/display, scroll
    regions with index/reverse index, save/restore cursor, CR/LF/BS/TAB and
    auto-wrap; attributes and character set switches are ignored. Wide (East
    Asian) characters take two cells, as on a real terminal.
    """

    def __init__(self, rows: int = ROWS, cols: int = COLS):
        self.rows, self.cols = rows, cols
        self.grid = [[" "] * cols for _ in range(rows)]
        self.row = self.col = 0
        self.top, self.bottom = 0, rows - 1
        self.saved = (0, 0)
        self.wrap_pending = False
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._pending = ""

    # grid helpers
    def _scroll_up(self) -> None:
        del self.grid[self.top]
        self.grid.insert(self.bottom, [" "] * self.cols)

    def _scroll_down(self) -> None:
        del self.grid[self.bottom]
        self.grid.insert(self.top, [" "] * self.cols)

    def _linefeed(self) -> None:
        if self.row == self.bottom:
            self._scroll_up()
        elif self.row < self.rows - 1:
            self.row += 1

    def _clamp(self) -> None:
        self.row = max(0, min(self.rows - 1, self.row))
        self.col = max(0, min(self.cols - 1, self.col))
        self.wrap_pending = False

    def _put(self, ch: str) -> None:
        if unicodedata.combining(ch):
            return  # keep the base character; good enough for reading text
        width = 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
        if self.wrap_pending or self.col + width > self.cols:
            self.col = 0
            self._linefeed()
            self.wrap_pending = False
        self.grid[self.row][self.col] = ch
        if width == 2 and self.col + 1 < self.cols:
            self.grid[self.row][self.col + 1] = ""
        if self.col + width >= self.cols:
            self.col = self.cols - 1
            self.wrap_pending = True
        else:
            self.col += width

    def _csi(self, params: str, final: str) -> None:
        private = params.startswith("?")
        nums = [int(p) if p.isdigit() else 0 for p in params.lstrip("?").split(";")] if params else []
        n = (nums[0] if nums else 0) or 1
        if private or final in "mhl":
            return
        if final in "Hf":
            self.row = (nums[0] or 1) - 1 if nums else 0
            self.col = (nums[1] or 1) - 1 if len(nums) > 1 else 0
            self._clamp()
        elif final == "s":
            self.saved = (self.row, self.col)
        elif final == "u":
            self.row, self.col = self.saved
            self._clamp()
        elif final == "A":
            self.row -= n
            self._clamp()
        elif final == "B":
            self.row += n
            self._clamp()
        elif final == "C":
            self.col += n
            self._clamp()
        elif final == "D":
            self.col -= n
            self._clamp()
        elif final == "G":
            self.col = n - 1
            self._clamp()
        elif final == "d":
            self.row = n - 1
            self._clamp()
        elif final == "K":
            mode = nums[0] if nums else 0
            line = self.grid[self.row]
            span = {0: range(self.col, self.cols), 1: range(0, self.col + 1), 2: range(self.cols)}.get(mode, ())
            for c in span:
                line[c] = " "
            self.wrap_pending = False
        elif final == "J":
            mode = nums[0] if nums else 0
            if mode == 0:
                self._csi("0", "K")
                rows = range(self.row + 1, self.rows)
            elif mode == 1:
                self._csi("1", "K")
                rows = range(0, self.row)
            else:
                rows = range(self.rows)
            for r in rows:
                self.grid[r] = [" "] * self.cols
        elif final == "r":
            self.top = (nums[0] - 1) if nums and nums[0] else 0
            self.bottom = (nums[1] - 1) if len(nums) > 1 and nums[1] else self.rows - 1
            self.row = self.col = 0  # DECSTBM homes the cursor
            self.wrap_pending = False
        # anything else (device queries, tab stops, ...) does not change the text

    def feed(self, data: bytes) -> None:
        text = self._pending + self._decoder.decode(data)
        self._pending = ""
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "\x1b":
                if i + 1 >= n:
                    self._pending = text[i:]
                    return
                nxt = text[i + 1]
                if nxt == "[":
                    m = re.compile(r"\x1b\[([0-9;?]*)([@-~])").match(text, i)
                    if m is None:
                        if re.compile(r"\x1b\[[0-9;?]*$").match(text, i):
                            self._pending = text[i:]
                            return
                        i += 2
                        continue
                    self._csi(m.group(1), m.group(2))
                    i = m.end()
                    continue
                if nxt in "()*+":  # designate character set: one more character
                    if i + 2 >= n:
                        self._pending = text[i:]
                        return
                    i += 3
                    continue
                if nxt == "7":
                    self.saved = (self.row, self.col)
                elif nxt == "8":
                    self.row, self.col = self.saved
                    self._clamp()
                elif nxt == "D":
                    self._linefeed()
                elif nxt == "E":
                    self.col = 0
                    self._linefeed()
                elif nxt == "M":
                    if self.row == self.top:
                        self._scroll_down()
                    elif self.row > 0:
                        self.row -= 1
                elif nxt == "c":
                    self.__init__(self.rows, self.cols)
                i += 2
                continue
            if ch == "\r":
                self.col = 0
                self.wrap_pending = False
            elif ch in "\n\x0b\x0c":
                self._linefeed()
                self.wrap_pending = False
            elif ch == "\b":
                if self.col > 0:
                    self.col -= 1
                self.wrap_pending = False
            elif ch == "\t":
                self.col = min(self.cols - 1, (self.col // 8 + 1) * 8)
            elif ch >= " " and ch != "\x7f":
                self._put(ch)
            # other control characters (BEL, SO/SI, NUL padding) draw nothing
            i += 1

    def lines(self) -> list[str]:
        return ["".join(r).rstrip() for r in self.grid]

    def text(self) -> str:
        return "\n".join(line for line in self.lines())


def run_on_pty(cmd: list[str], env: dict, timeout: float = MUTT_TIMEOUT) -> tuple[int, bytes]:
    """Run ``cmd`` with a ROWS x COLS pseudo-terminal as its terminal; (exit status, all it wrote)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLS, 0, 0))
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{cmd[0]} still running after {timeout}s (waiting at a prompt?); "
                                     f"screen:\n{screen_of(bytes(out)).text()}")
            ready, _, _ = select.select([master], [], [], left)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: every holder of the slave side has closed it (the client exited)
                break
            if not chunk:
                break
            out += chunk
        return proc.wait(timeout=max(1.0, deadline - time.monotonic())), bytes(out)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def screen_of(output: bytes) -> Screen:
    screen = Screen()
    screen.feed(output)
    return screen


# -- driving mutt ---------------------------------------------------------------------------------


@dataclass
class IndexLine:
    number: int
    flags: str  # mutt's %Z: three characters
    message_id: str
    subject: str
    author: str


@dataclass
class MuttRun:
    returncode: int
    output: bytes
    screen: Screen

    @property
    def index(self) -> list[IndexLine]:
        out = []
        for line in self.screen.lines():
            m = _INDEX_LINE.match(line)
            if m:
                out.append(IndexLine(int(m.group(1)), m.group(2), m.group(3) or "", m.group(4), m.group(5)))
        return out

    @property
    def status(self) -> dict[str, int]:
        found = [m for m in map(_STATUS_LINE.search, self.screen.lines()) if m]
        assert len(found) == 1, self.screen.text()
        names = ("total", "unread", "flagged", "deleted", "tagged")
        return dict(zip(names, (int(x) for x in found[0].groups())))

    def assert_no_error(self) -> None:
        text = self.output.decode("utf-8", "replace")
        for bad in ("Error opening mailbox", "Could not connect", "Login failed", "authentication failed",
                    "Connection lost", "Server closed connection", "Error saving", "Error performing",
                    "Error parsing", "Mailbox is read-only", "Not found", "No tagged messages"):
            assert bad not in text, f"mutt reported {bad!r}; screen:\n{self.screen.text()}"


class Mutt:
    """mutt 2.2 with a muttrc of its own (``-n``: no system muttrc), HOME inside tmp_path."""

    def __init__(self, tmp_path, server, **settings: str):
        self.binary = require_binary("mutt")
        self.server = server
        self.env = client_env(tmp_path)
        self.env["TERM"] = "vt100"
        for var in ("COLUMNS", "LINES", "TERMINFO", "TERMCAP", "MUTT", "MUTTRC", "EDITOR", "VISUAL"):
            self.env.pop(var, None)
        home = self.env["HOME"]
        self.folder = os.path.join(home, "Mail")
        os.makedirs(self.folder, exist_ok=True)
        self.url = f"imap://{USER}@127.0.0.1:{server.port}/INBOX"
        self.muttrc = os.path.join(home, "muttrc")
        options = {
            "imap_user": USER,
            "imap_pass": PASSWORD,
            "ssl_starttls": "no",
            "ssl_force_tls": "no",
            "folder": self.folder,
            "mbox_type": "Maildir",
            "sort": "mailbox-order",
            "ascii_chars": "yes",
            "index_format": "@@%4C|%Z|%i|%s|%n@@",
            "status_format": "STATUS total=%m unread=%u flagged=%F deleted=%d tagged=%t",
            "quit": "yes",
            "delete": "no",
            "move": "no",
            "mark_old": "no",
            "confirmappend": "no",
            "confirmcreate": "no",
            "wait_key": "no",
            "sleep_time": "0",
            "beep": "no",
            "ts_enabled": "no",
            "imap_passive": "yes",
            "header_cache": "",
            "message_cachedir": "",
        }
        options.update(settings)
        with open(self.muttrc, "w") as f:
            for name, value in options.items():
                f.write(f'set {name}="{value}"\n')
        os.chmod(self.muttrc, 0o600)

    def run(self, keys: str = "") -> MuttRun:
        """Open the server's INBOX, press ``keys`` (mutt's push syntax), then quit."""
        assert '"' not in keys
        cmd = [self.binary, "-n", "-F", self.muttrc, "-f", self.url, "-e", f'push "{keys}<quit>"']
        returncode, output = run_on_pty(cmd, self.env)
        run = MuttRun(returncode, output, screen_of(output))
        print(f"$ mutt ... push {keys!r} -> {returncode}\n{run.screen.text().rstrip()}")
        assert returncode == 0, run.screen.text()
        return run


# -- expectations from the server's files ---------------------------------------------------------


def decoded_header(data: bytes, name: str) -> str:
    """A header field as mutt shows it: unfolded (line break + indent = one space), RFC 2047
    encoded-words decoded, raw 8-bit taken as UTF-8; "" when the field is missing."""
    raws = [raw for field, raw in header_fields(data) if field == name.lower()]
    if not raws:
        return ""
    value = re.sub(rb"\r?\n[ \t]+", b" ", raws[0].split(b":", 1)[1]).strip().decode("utf-8")
    return str(email.header.make_header(email.header.decode_header(value)))


def by_base(files) -> dict:
    return {f.base: f for f in files}


def state(files) -> dict:
    """base -> (all flag letters of the name incl. keywords, sorted; content)."""
    return {f.base: ("".join(sorted(f.info or "")), f.data) for f in files}


# -- the tests ------------------------------------------------------------------------------------


def test_open_sample_inbox_shows_every_message(tmp_path, imap_sample_server):
    server = imap_sample_server
    files = server_messages(server)
    remote = by_message_id(files)
    mutt = Mutt(tmp_path, server)
    run = mutt.run()
    run.assert_no_error()

    # the status line counts what is on disk
    assert run.status == {
        "total": len(files),
        "unread": sum("S" not in f.flags for f in files),
        "flagged": sum("F" in f.flags for f in files),
        "deleted": sum("T" in f.flags for f in files),
        "tagged": 0,
    }
    assert run.status["total"] == 36

    # one index line per message, numbered 1..n, each for a different file
    index = run.index
    assert [line.number for line in index] == list(range(1, len(files) + 1)), run.screen.text()
    assert sorted(line.message_id for line in index) == sorted(remote)
    for line in index:
        f = remote[line.message_id]
        # %Z: N = unread, r = answered, D = deleted, ! = flagged
        assert ("N" in line.flags) == ("S" not in f.flags), (line, f.filename)
        assert ("r" in line.flags) == ("R" in f.flags), (line, f.filename)
        assert ("D" in line.flags) == ("T" in f.flags), (line, f.filename)
        assert ("!" in line.flags) == ("F" in f.flags), (line, f.filename)
        assert line.subject == decoded_header(f.data, "Subject"), (line, f.filename)

    # the message with a raw (unencoded) UTF-8 Subject and From name
    (koeln,) = [line for line in index if line.message_id == KOELN_MID]
    assert koeln.subject == "Grüße aus Köln"
    assert koeln.author == "Helga Brück"
    assert "Grüße aus Köln" in run.screen.text()

    # opening and quitting changed nothing on the server
    assert state(server_messages(server)) == state(files)


def test_copy_all_messages_to_local_maildir(tmp_path, imap_sample_server):
    server = imap_sample_server
    before = server_messages(server)
    remote = by_message_id(before)
    local = str(tmp_path / "local")
    mutt = Mutt(tmp_path, server)
    run = mutt.run(f"<tag-pattern>~A<enter><tag-prefix><copy-message><kill-line>{local}<enter>")
    run.assert_no_error()
    assert run.status["tagged"] == len(before) == 36

    copies = by_message_id(read_maildir(local))
    assert sorted(copies) == sorted(remote)
    for mid, copy in copies.items():
        original = lf(crlf(remote[mid].data))
        head, body = split_header(copy.data)
        # mutt appends exactly Content-Length: and Lines: to the header; check and remove them
        m = re.search(rb"\nContent-Length: (\d+)\nLines: (\d+)\n\n\Z", b"\n" + head)
        assert m, (mid, head[-300:])
        assert int(m.group(1)) == len(body), mid
        assert int(m.group(2)) == body.count(b"\n"), mid
        stripped = (b"\n" + head)[1:m.start()] + b"\n\n" + body
        assert stripped == original, (mid, remote[mid].filename)
        # the flags travel along (mutt does not copy \Deleted)
        assert copy.flags == remote[mid].flags.replace("T", ""), (mid, copy.filename, remote[mid].filename)

    # mutt fetched with BODY.PEEK: nothing changed on the server
    assert state(server_messages(server)) == state(before)


def test_flag_message_and_sync(tmp_path, imap_sample_server):
    server = imap_sample_server
    before = server_messages(server)
    (koeln,) = [f for f in before if f.message_id == KOELN_MID]
    assert koeln.flags == "S" and koeln.info == "Sb"  # Seen, keyword $Label1

    mutt = Mutt(tmp_path, server, delete="no")
    run = mutt.run("<tag-pattern>~i c0e1b2a3-4d5e-6f70-8192-koeln<enter><tag-prefix-cond><flag-message>"
                   "<sync-mailbox>")
    run.assert_no_error()

    after = by_base(server_messages(server))
    assert sorted(after) == sorted(by_base(before))  # nothing expunged (delete=no keeps \Deleted ones)
    flagged = after[koeln.base]
    assert flagged.flags == "FS", flagged.filename
    assert flagged.info == "FSb", flagged.filename  # the keyword letter is kept
    assert flagged.data == koeln.data
    # every other file is untouched
    expected = state(before)
    expected[koeln.base] = ("FSb", koeln.data)
    assert state(after.values()) == expected

    # a new session sees the flag
    again = Mutt(tmp_path, server).run()
    (line,) = [x for x in again.index if x.message_id == KOELN_MID]
    assert "!" in line.flags
    assert again.status["flagged"] == sum("F" in f.flags for f in before) + 1


def test_delete_message_and_sync(tmp_path, imap_sample_server):
    server = imap_sample_server
    before = server_messages(server)
    (koeln,) = [f for f in before if f.message_id == KOELN_MID]
    already_deleted = [f for f in before if "T" in f.flags]
    assert len(already_deleted) == 1  # deleted-helpdesk, \Deleted in the sample

    mutt = Mutt(tmp_path, server, delete="yes")
    run = mutt.run("<tag-pattern>~i c0e1b2a3-4d5e-6f70-8192-koeln<enter><tag-prefix-cond><delete-message>"
                   "<sync-mailbox>")
    run.assert_no_error()

    # the message is gone from disk; EXPUNGE also removed the one that was \Deleted already
    after = server_messages(server)
    gone = {koeln.base} | {f.base for f in already_deleted}
    assert not os.path.exists(koeln.path)
    assert all(f.message_id != KOELN_MID for f in after)
    expected = {base: v for base, v in state(before).items() if base not in gone}
    assert state(after) == expected
    assert len(after) == len(before) - 2

    again = Mutt(tmp_path, server).run()
    again.assert_no_error()
    assert again.status["total"] == len(before) - 2
    assert again.status["deleted"] == 0
    assert KOELN_MID not in {line.message_id for line in again.index}
    assert "Grüße aus Köln" not in again.screen.text()


def test_mutt_resynchronises_with_qresync_from_its_header_cache(tmp_path, imap_sample_server):
    """mutt 2.2 with a header cache, ``imap_condstore`` and ``imap_qresync``:
    the second run selects with CONDSTORE and asks ``UID FETCH ... (FLAGS)
    (CHANGEDSINCE modseq VANISHED)``, and learns of a flag change and an
    expunge made by another client meanwhile from the VANISHED (EARLIER) and
    FETCH answers, not by fetching every flag again."""
    from imap_raw import RawIMAP

    server = imap_sample_server
    files = server_messages(server)
    cache = tmp_path / "hcache"
    cache.mkdir()
    mutt = Mutt(tmp_path, server, header_cache=str(cache), imap_condstore="yes", imap_qresync="yes")
    first = mutt.run()
    first.assert_no_error()
    assert first.status["total"] == len(files)
    flagged_before = first.status["flagged"]
    with RawIMAP(server.port) as other:  # another client, between mutt's runs
        other.login(USER, PASSWORD)
        other.select("INBOX")
        unflagged = [seq for seq, items in other.ok("FETCH 1:* (FLAGS)").fetches() if b"\\Flagged" not in items["FLAGS"]]
        other.ok("STORE %d +FLAGS (\\Flagged)" % unflagged[0])
        other.ok("STORE %d +FLAGS.SILENT (\\Deleted)" % unflagged[1])
        other.ok("EXPUNGE")
    second = mutt.run()
    second.assert_no_error()
    already_deleted = sum("T" in f.flags for f in files)  # EXPUNGE removes those too
    assert second.status["total"] == len(files) - 1 - already_deleted
    assert second.status["flagged"] == flagged_before + 1
    trace = server.trace()
    assert re.search(r"ENABLE[^\\]*QRESYNC", trace), "mutt did not enable QRESYNC"
    # mutt resynchronises with UID FETCH (CHANGEDSINCE modseq VANISHED) after SELECT (CONDSTORE)
    assert re.search(r"UID FETCH \S+ \(FLAGS\) \(CHANGEDSINCE \d+ VANISHED\)", trace), "no QRESYNC resync"
    assert "VANISHED (EARLIER)" in trace

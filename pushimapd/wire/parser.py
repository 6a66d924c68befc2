"""RFC 3501 command grammar: whole command bytes -> `Command`.

A recursive-descent reader over the wire form (literals inline, as the
`CommandReader` framed them). Every method is named after the ABNF rule it
reads and raises `ParseError` with a human reason, which becomes ``BAD``.
"""

from __future__ import annotations

import datetime
import re
from typing import Callable, Optional

from .grammar import Command, FetchItem, ParseError, SearchKey, Section, SequenceSet

_ATOM = re.compile(rb"[^\x00-\x20\x7f-\xff(){%*\"\\\]]+")
_ASTRING_CHARS = re.compile(rb"[^\x00-\x20\x7f(){%*\"\\]+")
_TAG = re.compile(rb"[^\x00-\x20\x7f-\xff(){%*\"\\+]+(?= |\Z)")
_LIST_CHARS = re.compile(rb"[^\x00-\x20\x7f(){\"\\]+")
_NUMBER = re.compile(rb"\d+")
_LITERAL = re.compile(rb"~?\{(\d+)\+?\}\r?\n")
_SEQ_SET = re.compile(rb"[0-9*:,$]+")
# flag keywords are atoms; "[" is refused too, so no keyword can look like a "BODY[" label
_FLAG = re.compile(rb"\\?[^\x00-\x20\x7f-\xff(){%*\"\\\[\]]+|\\\*")
_FIELD_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+")  # RFC 5322 ftext
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DATE = re.compile(rb"(\d{1,2})-([A-Za-z]{3})-(\d{4})")
_DATE_TIME = re.compile(rb'"([ \d]\d)-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)"')
MAX_NUMBER = 4294967295


class Cursor:
    """A position in the command bytes with one method per grammar rule."""

    def __init__(self, data: bytes):
        if data.endswith(b"\r\n"):
            data = data[:-2]
        elif data.endswith(b"\n"):
            data = data[:-1]
        self.data = data
        self.pos = 0

    # -- primitives --------------------------------------------------------
    def at_end(self) -> bool:
        return self.pos >= len(self.data)

    def peek(self, n: int = 1) -> bytes:
        return self.data[self.pos : self.pos + n]

    def expect(self, token: bytes, what: Optional[str] = None) -> None:
        if self.data[self.pos : self.pos + len(token)].upper() != token.upper():
            raise ParseError(what or f"Expected {token.decode()!r}")
        self.pos += len(token)

    def try_(self, token: bytes) -> bool:
        if self.data[self.pos : self.pos + len(token)].upper() == token.upper():
            self.pos += len(token)
            return True
        return False

    def sp(self) -> None:
        if self.peek() != b" ":
            raise ParseError("Expected a space" if not self.at_end() else "Missing argument")
        self.pos += 1

    def end(self) -> None:
        if not self.at_end():
            raise ParseError("Unexpected extra arguments")

    def _match(self, pattern: re.Pattern, what: str) -> bytes:
        m = pattern.match(self.data, self.pos)
        if not m:
            raise ParseError(f"Expected {what}" if not self.at_end() else f"Missing {what}")
        self.pos = m.end()
        return m.group(0)

    # -- strings -----------------------------------------------------------
    def atom(self) -> str:
        return self._match(_ATOM, "an atom").decode("ascii", "surrogateescape")

    def number(self, nonzero: bool = False) -> int:
        value = int(self._match(_NUMBER, "a number"))
        if value > MAX_NUMBER or (nonzero and value == 0):
            raise ParseError("Number out of range")
        return value

    def number64(self, nonzero: bool = False) -> int:
        """number64 (RFC 9051): sizes and offsets up to 2^63-1."""
        value = int(self._match(_NUMBER, "a number"))
        if value >= 1 << 63 or (nonzero and value == 0):
            raise ParseError("Number out of range")
        return value

    def mod_sequence(self, nonzero: bool = False) -> int:
        """mod-sequence-value (RFC 7162): 1..2^63-1 (0 allowed where valzer)."""
        value = int(self._match(_NUMBER, "a mod-sequence"))
        if value >= 1 << 63 or (nonzero and value == 0):
            raise ParseError("Mod-sequence out of range")
        return value

    def quoted(self) -> bytes:
        self.expect(b'"')
        out = bytearray()
        data = self.data
        while True:
            if self.pos >= len(data):
                raise ParseError("Unterminated quoted string")
            ch = data[self.pos]
            if ch == 0x22:
                self.pos += 1
                return bytes(out)
            if ch == 0x5C:
                nxt = data[self.pos + 1 : self.pos + 2]
                if nxt not in (b'"', b"\\"):
                    raise ParseError("Invalid escape in quoted string")
                out += nxt
                self.pos += 2
                continue
            if ch in (0x00, 0x0A, 0x0D):
                raise ParseError("Invalid character in quoted string")
            out.append(ch)
            self.pos += 1

    def literal(self, allow8: bool = True) -> bytes:
        """A literal; ``allow8`` admits a literal8 ``~{n}`` (RFC 3516: only
        message data, as in APPEND, may be binary)."""
        m = _LITERAL.match(self.data, self.pos)
        if not m:
            raise ParseError("Expected a literal")
        if not allow8 and self.data[self.pos] == 0x7E:
            raise ParseError("A literal8 (~{n}) is only allowed for message data")
        size = int(m.group(1))
        start = m.end()
        if start + size > len(self.data):
            raise ParseError("Literal shorter than announced")
        self.pos = start + size
        return self.data[start : start + size]

    def at_literal(self) -> bool:
        """A literal starts here: ``{`` or a literal8's ``~{`` (a lone ``~``
        is an ordinary ATOM-CHAR, e.g. the mailbox ``~foo``)."""
        c = self.peek()
        return c == b"{" or (c == b"~" and self.peek(2) == b"~{")

    def string(self) -> bytes:
        c = self.peek()
        if c == b'"':
            return self.quoted()
        if self.at_literal():
            return self.literal(allow8=False)
        raise ParseError("Expected a string")

    def astring(self) -> bytes:
        if self.peek() == b'"' or self.at_literal():
            return self.string()
        return self._match(_ASTRING_CHARS, "a string")

    def nstring_or_nil(self) -> Optional[bytes]:
        if self.try_(b"NIL"):
            return None
        return self.string()

    def mailbox(self) -> bytes:
        return self.astring()

    def list_mailbox(self) -> bytes:
        if self.peek() == b'"' or self.at_literal():
            return self.string()
        return self._match(_LIST_CHARS, "a mailbox pattern")

    # -- structured values -------------------------------------------------
    def sequence_set(self) -> SequenceSet:
        raw = self._match(_SEQ_SET, "a sequence set").decode("ascii")
        if raw == "$":  # SEARCHRES (RFC 5182): the saved result, resolved by the command
            return SequenceSet((), last_result=True)
        if "$" in raw:
            raise ParseError("$ stands alone: it cannot be combined with other sequence numbers")
        ranges = []
        for piece in raw.split(","):
            ends = piece.split(":")
            if len(ends) > 2 or not all(ends):
                raise ParseError("Invalid sequence set")
            values = []
            for e in ends:
                if e == "*":
                    values.append(None)
                elif e.isdigit():
                    n = int(e)
                    if n == 0 or n > MAX_NUMBER:
                        raise ParseError("Invalid sequence number 0" if n == 0 else "Sequence number out of range")
                    values.append(n)
                else:
                    raise ParseError("Invalid sequence set")
            ranges.append((values[0], values[-1]))
        return SequenceSet(tuple(ranges))

    def flag(self) -> str:
        raw = self._match(_FLAG, "a flag").decode("ascii", "surrogateescape")
        if raw.startswith("\\"):
            return "\\" + raw[1:].capitalize() if raw != "\\*" else raw
        return raw

    def flag_list(self) -> list[str]:
        self.expect(b"(", "Expected a flag list")
        flags = []
        while not self.try_(b")"):
            if flags:
                self.sp()
            flags.append(self.flag())
        return flags

    def date(self) -> datetime.date:
        quoted = self.try_(b'"')
        m = _DATE.match(self.data, self.pos)
        if not m:
            raise ParseError("Invalid date (expected d-Mon-yyyy)")
        self.pos = m.end()
        if quoted:
            self.expect(b'"', "Unterminated date")
        try:
            month = _MONTHS.index(m.group(2).decode().upper()) + 1
            return datetime.date(int(m.group(3)), month, int(m.group(1)))
        except ValueError:
            raise ParseError("Invalid date") from None

    def date_time(self) -> datetime.datetime:
        m = _DATE_TIME.match(self.data, self.pos)
        if not m:
            raise ParseError('Invalid date-time (expected "dd-Mon-yyyy hh:mm:ss +zzzz")')
        self.pos = m.end()
        day, mon, year, hh, mm, ss, sign, zh, zm = (g.decode() for g in m.groups())
        try:
            month = _MONTHS.index(mon.upper()) + 1
            offset = datetime.timedelta(hours=int(zh), minutes=int(zm))
            tz = datetime.timezone(-offset if sign == "-" else offset)
            return datetime.datetime(int(year), month, int(day), int(hh), int(mm), int(ss), tzinfo=tz)
        except ValueError:
            raise ParseError("Invalid date-time") from None

    def named_options(self, what: str, known: dict) -> dict:
        """``(NAME [value] ...)``: ``known`` maps each name to a parser of its
        value (called after the space) or None for a bare name; a name given
        twice, an unknown one or an empty list is BAD. {name: value or True}."""
        options: dict = {}
        self.expect(b"(", f"Expected '(' before {what}s")
        while not self.try_(b")"):
            if options:
                self.sp()
            name = self.atom().upper()
            if name in options:
                raise ParseError(f"{what} {name} given twice")
            if name not in known:
                raise ParseError(f"Unknown {what} {name}")
            parse = known[name]
            if parse is None:
                options[name] = True
            else:
                self.sp()
                options[name] = parse(self)
        if not options:
            raise ParseError(f"Empty {what} list")
        return options

    def paren_list(self, item: Callable[[], object]) -> list:
        self.expect(b"(", "Expected '('")
        out = []
        while not self.try_(b")"):
            if out:
                self.sp()
            out.append(item())
        return out


def parse_tag(cursor: Cursor) -> str:
    m = _TAG.match(cursor.data, cursor.pos)
    if not m:
        raise ParseError("Invalid tag")
    cursor.pos = m.end()
    return m.group(0).decode("ascii")


def parse_command(data: bytes, handlers: dict[str, Callable[[Cursor], tuple]]) -> Command:
    """Parse one command; ``handlers`` maps names to argument parsers.

    Raises `CommandError` (carrying the tag when known) for anything invalid.
    """
    cursor = Cursor(data)
    try:
        tag = parse_tag(cursor)
    except ParseError as e:
        raise CommandError("*", str(e)) from None
    try:
        cursor.sp()
        name = cursor.atom().upper()
        uid = False
        if name == "UID":
            cursor.sp()
            name = cursor.atom().upper()
            uid = True
            if name not in ("FETCH", "SEARCH", "STORE", "COPY", "MOVE", "EXPUNGE", "SORT", "THREAD"):
                raise ParseError(f"Unknown UID command {name}")
        parse_args = handlers.get(name)
        if parse_args is None:
            raise ParseError(f"Unknown command {name}")
        args = parse_args(cursor)
        cursor.end()
        return Command(tag=tag, name=name, args=args, uid=uid)
    except BadCharset as e:
        raise CommandError(tag, f"[BADCHARSET (UTF-8 US-ASCII)] Unsupported charset {e}", "NO") from None
    except ParseError as e:
        raise CommandError(tag, str(e)) from None


class CommandError(Exception):
    """A command that cannot be parsed: answered ``tag status text``."""

    def __init__(self, tag: str, text: str, status: str = "BAD"):
        super().__init__(text)
        self.tag = tag
        self.text = text
        self.status = status


# -- FETCH -------------------------------------------------------------------
_FETCH_MACROS = {
    "ALL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"),
    "FAST": ("FLAGS", "INTERNALDATE", "RFC822.SIZE"),
    "FULL": ("FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"),
}
_SIMPLE_FETCH = {
    "ENVELOPE", "FLAGS", "INTERNALDATE", "RFC822", "RFC822.HEADER", "RFC822.SIZE",
    "RFC822.TEXT", "BODYSTRUCTURE", "UID", "BODY", "MODSEQ", "SAVEDATE",
}
_FETCH_NAME = re.compile(rb"[A-Za-z0-9.]+")


def fetch_attributes(cursor: Cursor) -> list[FetchItem]:
    if cursor.peek() == b"(":
        items = cursor.paren_list(lambda: fetch_att(cursor))
        if not items:
            raise ParseError("Empty FETCH attribute list")
        return items
    m = _FETCH_NAME.match(cursor.data, cursor.pos)
    if m and m.group(0).upper().decode() in _FETCH_MACROS:
        cursor.pos = m.end()
        return [FetchItem(n) for n in _FETCH_MACROS[m.group(0).upper().decode()]]
    return [fetch_att(cursor)]


def fetch_att(cursor: Cursor) -> FetchItem:
    m = _FETCH_NAME.match(cursor.data, cursor.pos)
    if not m:
        raise ParseError("Expected a FETCH attribute")
    cursor.pos = m.end()
    name = m.group(0).upper().decode()
    if name in ("BODY", "BODY.PEEK", "BINARY", "BINARY.PEEK", "BINARY.SIZE") and cursor.peek() == b"[":
        cursor.pos += 1
        section = section_spec(cursor)
        cursor.expect(b"]", "Expected ']' after section")
        partial = None
        if cursor.peek() == b"<" and name != "BINARY.SIZE":
            cursor.pos += 1
            origin = cursor.number64()
            cursor.expect(b".", "Expected '.' in partial")
            count = cursor.number64(nonzero=True)
            cursor.expect(b">", "Expected '>' after partial")
            partial = (origin, count)
        base = name.split(".")[0] if name != "BINARY.SIZE" else name
        if base.startswith("BINARY") and section.text is not None:
            raise ParseError("BINARY takes only part numbers")
        return FetchItem(base, section, peek=name.endswith(".PEEK"), partial=partial)
    if name == "PREVIEW":
        return FetchItem(name, modifiers=_preview_modifiers(cursor))
    if name not in _SIMPLE_FETCH:
        raise ParseError(f"Unknown FETCH attribute {name}")
    return FetchItem(name)


def _preview_modifiers(cursor: Cursor) -> tuple[str, ...]:
    """``PREVIEW [(LAZY)]`` (RFC 8970); a following "(" that does not start
    with LAZY belongs to the FETCH modifiers (CHANGEDSINCE)."""
    if cursor.peek(6).upper() != b" (LAZY":
        return ()
    cursor.pos += 1
    modifiers = tuple(m.upper() for m in cursor.paren_list(cursor.atom))
    if any(m != "LAZY" for m in modifiers):
        raise ParseError("The only PREVIEW modifier is LAZY")
    return ("LAZY",)


def section_spec(cursor: Cursor) -> Section:
    parts: list[int] = []
    while cursor.peek().isdigit():
        parts.append(cursor.number(nonzero=True))
        if not cursor.try_(b"."):
            return Section(tuple(parts))
    if cursor.peek() == b"]":
        if parts:
            raise ParseError("Invalid section")
        return Section(())
    m = re.compile(rb"HEADER\.FIELDS\.NOT|HEADER\.FIELDS|HEADER|TEXT|MIME", re.I).match(cursor.data, cursor.pos)
    if not m:
        raise ParseError("Invalid section")
    cursor.pos = m.end()
    text = m.group(0).upper().decode()
    if text == "MIME" and not parts:
        raise ParseError("MIME needs a part number")
    fields: tuple[str, ...] = ()
    if text.startswith("HEADER.FIELDS"):
        cursor.sp()
        raw = cursor.paren_list(cursor.astring)
        if not raw:
            raise ParseError("Empty header field list")
        for name in raw:
            if not _FIELD_NAME.fullmatch(name):
                raise ParseError("Header field names are printable US-ASCII without colon or space")
        fields = tuple(f.decode("ascii") for f in raw)
    return Section(tuple(parts), text, fields)


# -- SEARCH ------------------------------------------------------------------
_SEARCH_FLAG_KEYS = {
    "ALL", "ANSWERED", "DELETED", "DRAFT", "FLAGGED", "NEW", "OLD", "RECENT", "SEEN",
    "UNANSWERED", "UNDELETED", "UNDRAFT", "UNFLAGGED", "UNSEEN", "SAVEDATESUPPORTED",
}
_SEARCH_STRING_KEYS = {"BCC", "BODY", "CC", "FROM", "SUBJECT", "TEXT", "TO"}
_SEARCH_DATE_KEYS = {"BEFORE", "ON", "SINCE", "SENTBEFORE", "SENTON", "SENTSINCE",
                     "SAVEDBEFORE", "SAVEDON", "SAVEDSINCE"}  # SAVED*: RFC 8514
_SEARCH_WORD = re.compile(rb"[A-Za-z0-9.\-]+")


MAX_SEARCH_DEPTH = 64  # nested NOT/OR/parentheses; deeper is BAD, never a RecursionError


class SearchParser:
    """search-key grammar; strings are decoded with the command's CHARSET."""

    def __init__(self, cursor: Cursor, charset: str = "utf-8"):
        self.cursor = cursor
        self.charset = charset
        self.depth = 0

    def text(self) -> str:
        raw = self.cursor.astring()
        try:
            return raw.decode(self.charset)
        except UnicodeDecodeError:
            raise ParseError(f"String is not valid {self.charset}") from None

    def keys(self) -> tuple[SearchKey, ...]:
        keys = [self.key()]
        while not self.cursor.at_end() and self.cursor.peek() == b" ":
            self.cursor.sp()
            keys.append(self.key())
        return tuple(keys)

    def key(self) -> SearchKey:
        self.depth += 1
        try:
            if self.depth > MAX_SEARCH_DEPTH:
                raise ParseError(f"Search keys nested deeper than {MAX_SEARCH_DEPTH} levels")
            return self._key()
        finally:
            self.depth -= 1

    def _key(self) -> SearchKey:
        c = self.cursor
        if c.peek() == b"(":
            c.pos += 1
            inner = [self.key()]
            while not c.try_(b")"):
                c.sp()
                inner.append(self.key())
            return SearchKey("AND", (tuple(inner),))
        if c.peek().isdigit() or c.peek() in (b"*", b"$"):
            return SearchKey("SEQ", (c.sequence_set(),))
        m = _SEARCH_WORD.match(c.data, c.pos)
        if not m:
            raise ParseError("Expected a search key")
        c.pos = m.end()
        name = m.group(0).upper().decode()
        if name in _SEARCH_FLAG_KEYS:
            return SearchKey(name)
        if name in _SEARCH_STRING_KEYS:
            c.sp()
            return SearchKey(name, (self.text(),))
        if name in _SEARCH_DATE_KEYS:
            c.sp()
            return SearchKey(name, (c.date(),))
        if name in ("KEYWORD", "UNKEYWORD"):
            c.sp()
            return SearchKey(name, (c.flag(),))
        if name in ("LARGER", "SMALLER"):
            c.sp()
            return SearchKey(name, (c.number64(),))
        if name in ("OLDER", "YOUNGER"):  # WITHIN (RFC 5032): an interval in seconds
            c.sp()
            return SearchKey(name, (c.number(nonzero=True),))
        if name == "HEADER":
            c.sp()
            field = c.astring().decode("ascii", "replace")
            c.sp()
            return SearchKey(name, (field, self.text()))
        if name == "UID":
            c.sp()
            return SearchKey(name, (c.sequence_set(),))
        if name == "MODSEQ":
            return self._modseq()
        if name == "NOT":
            c.sp()
            return SearchKey(name, (self.key(),))
        if name == "OR":
            c.sp()
            first = self.key()
            c.sp()
            return SearchKey(name, (first, self.key()))
        raise ParseError(f"Unknown search key {name}")


    def _modseq(self) -> SearchKey:
        """``MODSEQ [entry-name entry-type] n`` (RFC 7162): every flag of a
        message shares its modseq here, so the entry is checked and ignored."""
        c = self.cursor
        c.sp()
        if c.peek() == b'"':
            entry = c.quoted()
            if not entry.lower().startswith(b"/flags/"):
                raise ParseError("MODSEQ entry names are /flags/<flag>")
            c.sp()
            kind = c.atom().lower()
            if kind not in ("priv", "shared", "all"):
                raise ParseError("MODSEQ entry type is priv, shared or all")
            c.sp()
        return SearchKey("MODSEQ", (c.mod_sequence(),))


SUPPORTED_CHARSETS = {"UTF-8": "utf-8", "US-ASCII": "ascii"}
# ESEARCH (RFC 4731), SEARCHRES's SAVE (RFC 5182), CONTEXT=SEARCH/SORT's UPDATE,
# CONTEXT and PARTIAL (RFC 5267; PARTIAL's negative ranges: RFC 9394)
RETURN_OPTIONS = {"MIN", "MAX", "COUNT", "ALL", "SAVE", "UPDATE", "CONTEXT", "PARTIAL"}
_PARTIAL_RANGE = re.compile(rb"(-?)(\d+):(-?)(\d+)")


def partial_range(cursor: Cursor) -> tuple[int, int]:
    """``1:100`` (the first results) or ``-1:-100`` (the last), as given."""
    m = _PARTIAL_RANGE.match(cursor.data, cursor.pos)
    if not m:
        raise ParseError("Expected a partial range (n:m or -n:-m)")
    cursor.pos = m.end()
    first, last = int(m.group(1) + m.group(2)), int(m.group(3) + m.group(4))
    if first == 0 or last == 0 or (first < 0) != (last < 0):
        raise ParseError("A partial range is two non-zero positions of one sign")
    if max(abs(first), abs(last)) > MAX_NUMBER:
        raise ParseError("Partial range out of range")
    return first, last


def return_options(cursor: Cursor) -> dict:
    """``(opt ...)`` after RETURN: {option: True, or PARTIAL's range}."""
    cursor.expect(b"(", "Expected '(' after RETURN")
    options: dict = {}
    first = True
    while not cursor.try_(b")"):
        if not first:
            cursor.sp()
        first = False
        name = cursor.atom().upper()
        if name not in RETURN_OPTIONS:
            raise ParseError(f"Unknown RETURN option {name}")
        if name == "PARTIAL":
            if name in options:
                raise ParseError("PARTIAL given twice")
            cursor.sp()
            options[name] = partial_range(cursor)
        else:
            options[name] = True
    if "PARTIAL" in options and "ALL" in options:
        raise ParseError("PARTIAL and ALL cannot be combined")
    return options


def search_arguments(cursor: Cursor) -> tuple:
    """[RETURN (opts)] [CHARSET name] keys -> (return options or None, charset or None, keys)."""
    returns: Optional[dict] = None
    if cursor.try_(b"RETURN "):
        returns = return_options(cursor)
        cursor.sp()
    charset = None  # none given: UTF-8
    if cursor.try_(b"CHARSET "):
        charset = cursor.astring().decode("ascii", "replace").upper()
        if charset not in SUPPORTED_CHARSETS:
            raise BadCharset(charset)
        cursor.sp()
    keys = SearchParser(cursor, SUPPORTED_CHARSETS[charset or "UTF-8"]).keys()
    return returns, charset, keys


class BadCharset(ParseError):
    """Answered ``NO [BADCHARSET (UTF-8 US-ASCII)]`` rather than BAD."""

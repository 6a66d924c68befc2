"""Preview text of a message (RFC 8970): what a client shows under the subject.

Up to 256 characters of the first text/plain or text/html part that is not
an attachment (HTML reduced to its text; the first other text part when
there is neither), white space folded to single spaces. Quoted lines (``>``) and a
signature (after ``-- ``) are left out of plain text unless nothing else
is left.
"""

from __future__ import annotations

import html.parser
import re
import unicodedata

PREVIEW_LENGTH = 256  # characters, RFC 8970 section 3
_READ_CHARACTERS = 64 * 1024  # of a part's text, enough for any preview
_SPACE = re.compile(r"\s+")


class _HTMLText(html.parser.HTMLParser):
    """The text of an HTML document: no tags, no script/style/head content."""

    _HIDDEN = {"script", "style", "head", "title", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in ("br", "p", "div", "li", "tr", "td", "h1", "h2", "h3", "blockquote"):
            self.parts.append(" ")

    def handle_endtag(self, tag):
        if tag in self._HIDDEN and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


def html_text(markup: str) -> str:
    parser = _HTMLText()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # html.parser is lenient; anything left is just not text
        pass
    return " ".join(parser.parts)


def _without_quotes(text: str) -> str:
    kept = []
    for line in text.splitlines():
        if line.rstrip() == "--":  # "-- " signature separator
            break
        if not line.lstrip().startswith(">"):
            kept.append(line)
    return "\n".join(kept)


def fold(text: str) -> str:
    """White space runs -> one space; other control characters dropped."""
    text = "".join(c for c in text if c.isspace() or unicodedata.category(c) not in ("Cc", "Cf", "Cs"))
    return _SPACE.sub(" ", text).strip()


def preview_text(msg) -> str:
    """The preview of a parsed message ("" when it has no text part)."""
    chosen = None
    alternatives = list(msg.body_texts())
    for subtype, text in alternatives:
        if subtype == b"plain":
            chosen = fold(_without_quotes(text[:_READ_CHARACTERS])) or fold(text[:_READ_CHARACTERS])
            break
        if subtype == b"html" and chosen is None:
            chosen = fold(html_text(text[:_READ_CHARACTERS]))
            break
    if chosen is None and alternatives:
        chosen = fold(alternatives[0][1][:_READ_CHARACTERS])
    return (chosen or "")[:PREVIEW_LENGTH].rstrip()

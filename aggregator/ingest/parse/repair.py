"""Well-known breakage the fast tier repairs before reading a document strictly again.

Real feeds are often not well-formed XML in a few ways whose meaning is not in doubt. Each repair
here gives the document its author meant and keeps its structure, so the strict reader then
yields the entries the tolerant tier (feedparser) would, several times faster and by the same
rules as every other feed:

* control characters XML forbids (removed from every string later anyway);
* a bare ``&`` that cannot start a reference (``Tom & Jerry``), written ``&amp;``;
* an HTML named entity XML does not define (``&nbsp;``, ``&colon;``), written as the numeric
  reference of its character;
* a declared encoding the bytes are not in, when they are valid UTF-8;
* text after the root element's end tag (a CDN's injected ``<script>``), cut off.

CDATA sections are left alone (a ``&`` there is text). Documents in UTF-16 or UTF-32, or that
declare entities of their own, are not repaired. What still does not parse goes to feedparser.
"""

from __future__ import annotations

import html.entities
import re

from lxml import etree

from .lxml_tier import read_tree, safe_parser

_CDATA = re.compile(rb"(<!\[CDATA\[.*?\]\]>)", re.DOTALL)
_CONTROLS = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f]+")
# Only a "&" that cannot start any reference: "&amp B" or "?a=1&b=2" are left to feedparser,
# which reads them as HTML would (legacy references without the semicolon).
_BARE_AMP = re.compile(rb"&(?![A-Za-z#])")
_NAMED = re.compile(rb"&([A-Za-z][A-Za-z0-9]*);")
_XML_ENTITIES = frozenset({b"amp", b"lt", b"gt", b"quot", b"apos"})
_WIDE = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_ROOT_NAME = re.compile(rb"<([A-Za-z_][\w.:-]*)")
"""The first element's name (the prolog's <?...?> and <!...> do not match)."""
_UTF8_PARSER = safe_parser(encoding="utf-8")
_DECLARED_ENCODING = re.compile(
    rb"(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?\sencoding\s*=\s*[\"']([^\"']*)[\"']"
)
_UTF8_NAME = re.compile(rb"utf-?8", re.IGNORECASE)


def repair(body: bytes, url: str) -> etree._Element | None:
    """The root of a document that is not well-formed, read strictly after the repairs above;
    None when it is not one of these cases or still does not parse."""
    if body.startswith(_WIDE) or b"\x00" in body[:64]:
        return None
    fixed = b"".join(
        part if part.startswith(b"<![CDATA[") else _repair_text(part)
        for part in _CDATA.split(_CONTROLS.sub(b"", _without_trailer(body)))
    )
    # Unchanged bytes already failed; the UTF-8 parser only differs when another encoding is named.
    root = read_tree(fixed, url)[0] if fixed != body else None
    declared = _DECLARED_ENCODING.match(fixed)
    if root is None and declared and not _UTF8_NAME.fullmatch(declared[1]) and _is_utf8(fixed):
        root = read_tree(fixed, url, _UTF8_PARSER)[0]
    return root


def _without_trailer(body: bytes) -> bytes:
    """``body`` up to the end tag of its root element, when only junk follows that tag."""
    first = _ROOT_NAME.search(body)
    if first is None:
        return body
    end = body.rfind(b"</" + first.group(1))
    close = body.find(b">", end)
    if end < 0 or close < 0 or not body[close + 1 :].strip():
        return body
    return body[: close + 1]


def _repair_text(part: bytes) -> bytes:
    return _NAMED.sub(_numeric_reference, _BARE_AMP.sub(b"&amp;", part))


def _numeric_reference(match: re.Match[bytes]) -> bytes:
    name = match.group(1)
    if name in _XML_ENTITIES:
        return match.group(0)
    text = html.entities.html5.get(name.decode("ascii") + ";")
    if text is None:  # not an HTML entity either: keep it as text
        return b"&amp;" + name + b";"
    return b"".join(b"&#%d;" % ord(char) for char in text)


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True

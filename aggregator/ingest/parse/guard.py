"""Checks made before any tier reads a document: entity declarations, HTML pages, JSON, binary."""

from __future__ import annotations

import re

from lxml import etree

from aggregator.model.entry import FeedParseError

from .lxml_tier import safe_parser

# A replacement text that is only character references (&#160;) expands to nothing dangerous.
_CHAR_REFS_ONLY = re.compile(r"(?:[^&%<]|&#\d+;|&#x[0-9a-fA-F]+;)*")
_HTML_HEAD = re.compile(
    rb"^(?:\s|<\?xml[^>]*>|<!--.*?-->)*(?:<!doctype\s+html|<html[\s>])", re.IGNORECASE | re.DOTALL
)
_FEED_ROOT = re.compile(rb"<(?:[\w-]+:)?(?:rss|feed|rdf)[\s>]", re.IGNORECASE)
_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_SNIFF = 4096
MAX_ENTITY_LENGTH = 64
"""Longest replacement text allowed: nbsp-style entities are short; long ones are blowups."""
MAX_EXPANSION_BYTES = 4 * 1024 * 1024
"""Most bytes the declared entities may add to a document when expanded: a short entity
referenced millions of times is a blowup too, however short it is."""


_RECOVER_PARSER = safe_parser(recover=True)


def internal_dtd(body: bytes) -> etree.DTD | None:
    """The DTD internal subset of a (possibly ill-formed) document, read without expanding it."""
    try:
        root = etree.fromstring(body, _RECOVER_PARSER)
    except etree.XMLSyntaxError:
        return None
    return root.getroottree().docinfo.internalDTD if root is not None else None


def screen_expansion(body: bytes, dtd: etree.DTD | None) -> None:
    """Raise FeedParseError when expanding the DTD's internal entities would add more than
    MAX_EXPANSION_BYTES to ``body`` (each reference counted by its replacement's length)."""
    if dtd is None:
        return
    added = 0
    for entity in dtd.iterentities():
        value = (entity.content or "").encode()
        added += body.count(b"&" + entity.name.encode() + b";") * max(0, len(value) - 2)
        if added > MAX_EXPANSION_BYTES:
            raise FeedParseError(
                f"entity expansion refused: entity {entity.name!r} would add more than "
                f"{MAX_EXPANSION_BYTES} bytes to the document"
            )


def screen_entities(dtd: etree.DTD | None, body: bytes = b"") -> bool:
    """Raise FeedParseError when the DTD declares external, parameter or nested entities;
    else True when it declares any entity at all.

    Short plain-text and character-reference entities (``<!ENTITY nbsp "&#160;">``) are
    allowed; anything that reads a file or URL, expands into other entities (billion laughs)
    or is long (quadratic blowup) is not.
    """
    if dtd is None:
        return False
    declared = False
    for entity in dtd.iterentities():
        declared = True
        if entity.system_url or entity.content is None:
            raise FeedParseError(f"entity expansion refused: external entity {entity.name!r}")
        value = entity.orig or entity.content
        if not _CHAR_REFS_ONLY.fullmatch(value):
            raise FeedParseError(f"entity expansion refused: nested entity {entity.name!r}")
        if len(value) > MAX_ENTITY_LENGTH:
            raise FeedParseError(
                f"entity expansion refused: entity {entity.name!r} is {len(value)} characters long"
            )
    if declared and body:
        screen_expansion(body, dtd)
    return declared


def head_text(body: bytes) -> bytes:
    """The first bytes of the document as ASCII-compatible bytes (UTF-16/32 narrowed)."""
    head = body[:_SNIFF]
    for bom in _BOMS:
        head = head.removeprefix(bom)
    if b"\x00" in head[:64]:
        head = head.replace(b"\x00", b"")
    return head


def looks_like_html(body: bytes) -> bool:
    """True when the document opens as an HTML page and shows no feed root element early on."""
    head = head_text(body)
    return bool(_HTML_HEAD.match(head)) and not _FEED_ROOT.search(head)


def looks_like_json(body: bytes, content_type: str | None) -> bool:
    """True when the content type says JSON or the document opens with '{'."""
    if content_type and "json" in content_type.lower():
        return True
    return head_text(body).lstrip().startswith(b"{")


def looks_like_markup(body: bytes) -> bool:
    """True when the document's first non-blank character is '<'."""
    return head_text(body).lstrip().startswith(b"<")

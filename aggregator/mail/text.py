"""Text and links fit for output, in one place.

For mail and digests (``digest/render.py``, ``mail/message.py``): one clipped line of plain text
(``clipped_line``) and absolute http(s) links taken as they are or not at all (``checked_url``).
For the published feeds (``publish/feeds.py``), which keep the text whole and %-encode a link
rather than refuse it: ``xml_safe``, ``one_line`` and ``encoded_url``.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

URL_CHARS = 2000

# C0/C1 controls, line/paragraph separators, bidi overrides and isolates become spaces.
_INVISIBLE = dict.fromkeys(
    [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F)]
    + [*range(0x2066, 0x206A), 0xFEFF],
    " ",
)
_SPACES = re.compile(r"\s+")
# Characters XML 1.0 forbids (§2.2 Char), lone surrogates and the non-characters U+FFFE/U+FFFF.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_NEWLINES = re.compile(r"\r\n?")
# Everything a URI may carry literally; the rest (spaces, quotes, <>, non-ASCII) gets %-encoded.
_URI_SAFE = ":/?#[]@!$&'()*+,;=%~"


def clipped_line(value: str | None, limit: int) -> str:
    """One line of plain text: controls removed, whitespace collapsed, at most ``limit`` chars
    (cut at a word where it can, with "…")."""
    if not value:
        return ""
    text = _SPACES.sub(" ", value.lstrip()[: limit * 4].translate(_INVISIBLE)).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,;:.-") + "…"


def checked_url(value: str | None) -> str | None:
    """The URL as it is when it is an absolute http(s) link without spaces or controls, else
    None (a URL with a space is refused, never %-encoded)."""
    if not value:
        return None
    url = value.strip()
    if len(url) > URL_CHARS or url != url.translate(_INVISIBLE) or " " in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    return url


def xml_safe(text: str) -> str:
    """`text` without XML 1.0-invalid characters or lone surrogates, with CR/CRLF as LF."""
    return _NEWLINES.sub("\n", _XML_INVALID.sub("", str(text)))


def one_line(text: str) -> str:
    """`xml_safe` text with every run of whitespace (CR/LF, tabs) folded to one space."""
    return _SPACES.sub(" ", xml_safe(text)).strip()


def encoded_url(url: str | None) -> str | None:
    """An absolute http(s) URL with unsafe characters %-encoded, or None for anything else."""
    if not url:
        return None
    cleaned = quote(one_line(url), safe=_URI_SAFE)
    try:
        parts = urlsplit(cleaned)
    except ValueError:  # e.g. a broken IPv6 literal
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return cleaned

"""Text and links fit for mail and digests: one clipped line of plain text, and absolute http(s)
links taken as they are or not at all.

Digests (``digest/render.py``) and mail headers (``mail/message.py``) pass every value through
these before it is written. (The feeds' own, which keep the text whole and %-encode a link
rather than refuse it, are ``xml_safe``, ``one_line`` and ``encoded_url`` in ``publish/model.py``.)
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

URL_CHARS = 2000

# C0/C1 controls, line/paragraph separators, bidi overrides and isolates become spaces.
_INVISIBLE = dict.fromkeys(
    [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F)]
    + [*range(0x2066, 0x206A), 0xFEFF],
    " ",
)
_SPACES = re.compile(r"\s+")


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

"""HTML sanitizing (nh3 allowlist) and plain-text helpers for feed content."""

from __future__ import annotations

import html
import re
from urllib.parse import urlsplit

import lxml.html
import nh3
from lxml import etree

URL_SCHEMES = frozenset({"http", "https", "mailto", "ftp", "tel"})
"""Schemes allowed in href/src; javascript:, vbscript: and data: are dropped."""

_TAGS = frozenset(nh3.ALLOWED_TAGS - {"area", "map"}) | {"audio", "video", "source", "picture"}
_ATTRIBUTES = {
    **{tag: set(attrs) for tag, attrs in nh3.ALLOWED_ATTRIBUTES.items()},
    "*": {"title", "lang", "dir"},
    "img": {"src", "alt", "width", "height", "srcset"},
    "audio": {"src", "controls"},
    "video": {"src", "controls", "poster", "width", "height"},
    "source": {"src", "type", "srcset"},
}
_CLEAN_CONTENT_TAGS = frozenset({"script", "style", "noscript", "template"})

PIXEL_HOSTS = (
    ("feeds.feedburner.com", "/~r/"),
    ("feeds.feedburner.com", "/~ff/"),
    ("pixel.wp.com", "/"),
    ("stats.wordpress.com", "/"),
    ("feeds.wordpress.com", "/1.0/"),
    ("pixel.quantserve.com", "/"),
    ("www.google-analytics.com", "/"),
)
"""(host, path prefix) pairs whose images are tracking pixels."""

# nh3 serializes every attribute as name="value" with '"' escaped, so this matches whole tags.
_IMG_TAG = re.compile(r'<img(?:\s+[^\s"=/>]+(?:="[^"]*")?)*\s*/?>')
_IMG_ATTR = re.compile(r'([^\s"=/>]+)="([^"]*)"')
# XML 1.0 forbids C0 controls (except tab, LF, CR), surrogates and U+FFFE/U+FFFF; C1 controls
# and DEL are legal but never wanted in titles or text.
_INVALID_CHARS = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]+")
_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
_BLOCK_TAGS = frozenset(
    ["address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul"]
)


def clean_text(text: str) -> str:
    """Remove characters that XML 1.0 cannot carry (controls, lone surrogates, U+FFFE/F)."""
    return _INVALID_CHARS.sub("", text)


def collapse(text: str) -> str:
    """Clean and collapse all whitespace runs to single spaces, trimmed."""
    return _SPACES.sub(" ", clean_text(text)).strip()


def _is_pixel(attrs: dict[str, str]) -> bool:
    """True for images that only track: 1x1 (or 0) in size, or served by a known pixel host."""
    for dim in ("width", "height"):
        value = attrs.get(dim, "").strip().removesuffix("px")
        if value.isdigit() and int(value) <= 1:
            return True
    src = html.unescape(attrs.get("src", ""))
    if not src:
        return True
    parts = urlsplit(src)
    host = (parts.hostname or "").lower()
    return any(host == h and parts.path.startswith(p) for h, p in PIXEL_HOSTS)


def _drop_pixel(match: re.Match[str]) -> str:
    return "" if _is_pixel(dict(_IMG_ATTR.findall(match.group(0)))) else match.group(0)


def _safe_base(base_url: str | None) -> str | None:
    if not base_url:
        return None
    parts = urlsplit(base_url)
    return base_url if parts.scheme in ("http", "https") and parts.netloc else None


def sanitize_html(html_text: str, base_url: str | None = None) -> str:
    """Allowlist-sanitize an HTML fragment with nh3.

    Scripts, styles, frames, forms and event handlers go; only http(s)/mailto/ftp/tel URLs
    stay, relative ones resolved against ``base_url`` (an http(s) URL) or else dropped;
    links get rel="noopener noreferrer"; tracking pixels are removed.
    """
    if not html_text:
        return ""
    base = _safe_base(base_url)
    cleaned = nh3.clean(
        clean_text(html_text),
        tags=set(_TAGS),
        clean_content_tags=set(_CLEAN_CONTENT_TAGS),
        attributes=_ATTRIBUTES,
        url_schemes=set(URL_SCHEMES),
        url_relative=("rewrite_with_base", base) if base else "deny",
        link_rel="noopener noreferrer",
    )
    if "<img" in cleaned:
        cleaned = _IMG_TAG.sub(_drop_pixel, cleaned)
    return cleaned.strip()


def html_to_text(html_text: str) -> str:
    """Plain text of an HTML fragment: tags stripped, entities decoded, blocks on own lines."""
    if not html_text or not html_text.strip():
        return ""
    if "<" not in html_text:
        return collapse(html.unescape(html_text))
    try:
        root = lxml.html.fragment_fromstring(clean_text(html_text), create_parent="div")
    except (etree.ParserError, ValueError):
        return collapse(html.unescape(html_text))
    parts: list[str] = []
    skip = 0
    for event, element in etree.iterwalk(root, events=("start", "end")):
        tag = element.tag if isinstance(element.tag, str) else None
        if tag in _CLEAN_CONTENT_TAGS:
            skip += 1 if event == "start" else -1
        elif not skip:
            if tag in _BLOCK_TAGS:
                parts.append("\n")
            if event == "start" and tag is not None and element.text:
                parts.append(element.text)
        if event == "end" and not skip and element.tail and element is not root:
            parts.append(element.tail)
    lines = (_SPACES.sub(" ", line).strip() for line in "".join(parts).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(line for line in lines if line)).strip()


def text_to_html(text: str) -> str:
    """Escape plain text for use as HTML content, keeping paragraph breaks."""
    return "<br>".join(html.escape(line) for line in text.strip().splitlines())

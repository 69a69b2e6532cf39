"""The output feed formats, named once: a new format is one entry here and one template.

The publisher renders every format of every feed from this list, the web server serves each
suffix with its media type, and the archive page links each of them. Atom and RSS name an XSL
stylesheet, so a person opening them in a browser reads a page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class FeedFormat:
    suffix: str
    """The file suffix, without the dot: ``feed.<suffix>``."""
    label: str
    """What readers call it."""
    media_type: str
    template: str | None
    """The Jinja2 template that writes it (autoescaped), or None when code writes it."""
    styled: bool = False
    """It names :data:`STYLESHEET`, and a browser asking for it is sent ``application/xml``
    (Chromium shows ``application/atom+xml`` and ``application/rss+xml`` as plain text, without
    applying the stylesheet)."""

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8"


FORMATS = (
    FeedFormat("atom", "Atom", "application/atom+xml", "feed.atom.j2", styled=True),
    FeedFormat("rss", "RSS 2.0", "application/rss+xml", "feed.rss.j2", styled=True),
    FeedFormat("json", "JSON Feed", "application/feed+json", None),
)
FEED_SUFFIXES = tuple(f".{f.suffix}" for f in FORMATS)
STYLESHEET = "feed.xsl"
"""The XSL stylesheet the Atom and RSS feeds name (``<?xml-stylesheet?>``), published at the
top of the public folder, so a browser opening a feed shows a page (feed readers ignore it)."""

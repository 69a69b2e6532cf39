"""The output feed formats, named once: a new format is one entry here and one template.

The publisher renders every format of every feed from this list, the web server serves each
suffix with its media type, and the archive page links each of them.
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

    @property
    def content_type(self) -> str:
        return f"{self.media_type}; charset=utf-8"


FORMATS = (
    FeedFormat("atom", "Atom", "application/atom+xml", "feed.atom.j2"),
    FeedFormat("rss", "RSS 2.0", "application/rss+xml", "feed.rss.j2"),
    FeedFormat("json", "JSON Feed", "application/feed+json", None),
)
FEED_SUFFIXES = tuple(f".{f.suffix}" for f in FORMATS)

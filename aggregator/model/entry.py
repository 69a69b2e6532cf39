"""The normalised shape every parser tier produces."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(slots=True)
class Entry:
    """One feed entry, normalised: absolute URLs, UTC dates, sanitized HTML."""

    key: str
    """Stable per-source key: guid, else link, else a hash of title+content."""
    title: str
    url: str | None = None
    guid: str | None = None
    author: str | None = None
    content_html: str = ""
    """Sanitized HTML (nh3 allowlist)."""
    content_text: str = ""
    """Plain text of content_html."""
    published: datetime | None = None
    """UTC, timezone-aware; None when the feed gives no date (the store uses first-seen)."""
    updated: datetime | None = None
    tags: list[str] = field(default_factory=list)
    story_signature: bytes | None = None
    """What story grouping compares (``stories.grouping.Signature``), made where the entry is
    parsed (in the parser processes); None: the grouping makes it."""

    def __reduce__(self) -> tuple:
        """Pickled as its field values: entries cross from the parser processes by the ten
        thousand, and a slotted dataclass's own pickling is about three times slower."""
        return (Entry, tuple(getattr(self, name) for name in self.__slots__))


@dataclass(slots=True)
class ParsedFeed:
    """A parsed feed document."""

    title: str = ""
    site_url: str | None = None
    feed_id: str | None = None
    entries: list[Entry] = field(default_factory=list)
    ttl_minutes: int | None = None
    """RSS <ttl>, when given."""
    hub_url: str | None = None
    self_url: str | None = None
    """The feed's own URL as it names it (``rel="self"``), the WebSub topic."""
    updated: datetime | None = None
    """The feed's own last update (Atom ``updated``, RSS ``lastBuildDate`` or ``dc:date``), UTC."""
    parser: str = ""
    """Which tier parsed it: "fast", "feedparser" or "json"."""
    warning: str | None = None
    """A recoverable problem (feedparser's bozo), entries were still yielded."""


class FeedParseError(ValueError):
    """The document is not a feed any tier can read. The message is one line for the operator."""

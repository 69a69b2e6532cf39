"""What the feed writers take in: plain dataclasses, entry ids and the brief as HTML."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup, escape

from aggregator.mail.text import encoded_url, one_line
from aggregator.model.brief import Brief

_ENTRY_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://aggregator.invalid/ns/entry")


@dataclass(slots=True, kw_only=True)
class FeedSource:
    """The original feed an entry came from (becomes atom:source, RSS <source>, JSON `_aggregator`)."""

    id: str
    """The original feed's id (Atom id), else its URL."""
    title: str
    url: str | None
    """The source's site (HTML) link."""
    feed_url: str
    updated: datetime


@dataclass(slots=True, kw_only=True)
class FeedEntry:
    """One published item: a brief of an original story."""

    id: str
    """Stable id that survives re-publishing; see `entry_id`."""
    title: str
    link: str | None
    published: datetime
    sources: list[FeedSource]
    """The first is the primary source; cross-source duplicates list every source once."""
    updated: datetime | None = None
    """Defaults to `published`."""
    author: str | None = None
    summary: str = ""
    """Plain text: the brief's paragraph."""
    content_html: str = ""
    """HTML of the brief; see `brief_html`."""
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.sources:
            raise ValueError(f"feed entry {self.id!r} has no source; give at least the primary one")


@dataclass(slots=True, kw_only=True)
class FeedMeta:
    """The combined feed's own metadata."""

    title: str
    id: str
    """A permanent IRI for the feed (e.g. a urn:uuid or the canonical feed URL)."""
    home_url: str
    base_url: str
    """Where the feed files are served from; self links are base_url + file name."""
    author: str
    updated: datetime | None = None
    """None: the newest entry's update time (so unchanged entries give unchanged bytes)."""
    hub_url: str | None = None
    description: str = ""


def entry_id(source_feed_url: str, item_key: str) -> str:
    """A deterministic `urn:uuid:` id for an item of a source feed; equal inputs give equal ids."""
    return uuid.uuid5(_ENTRY_NAMESPACE, f"{source_feed_url}\n{item_key}").urn


def brief_html(
    brief: Brief,
    link: str | None,
    source_title: str,
    coverage: Sequence[tuple[str, str]] = (),
) -> str:
    """The brief as HTML: bullets as <ul>, terms as <dl>, then a link to the full story, and
    for a story from several publishers (``coverage``: each one's name and article link) a
    "Covered by N sources:" line.

    Every string is escaped, so hostile brief text cannot inject markup. Without bullets the
    brief's paragraph is used instead.
    """
    parts: list[Markup] = []
    if brief.bullets:
        items = Markup("").join(Markup("<li>{}</li>").format(b) for b in brief.bullets)
        parts.append(Markup("<ul>{}</ul>").format(items))
    elif brief.paragraph:
        parts.append(Markup("<p>{}</p>").format(brief.paragraph))
    if brief.terms:
        rows = Markup("").join(
            Markup("<dt>{}</dt><dd>{}</dd>").format(t.term, t.definition) for t in brief.terms
        )
        parts.append(Markup("<dl>{}</dl>").format(rows))
    href = encoded_url(link)
    if href:
        label = f"Read full story at {one_line(source_title)} \u2192"
        parts.append(Markup('<p><a href="{}">{}</a></p>').format(href, label))
    covered = [(one_line(n), to) for n, link in coverage if (to := encoded_url(link))]
    if len(covered) > 1:
        links = Markup(", ").join(Markup('<a href="{}">{}</a>').format(u, n) for n, u in covered)
        parts.append(Markup("<p>Covered by {} sources: {}</p>").format(len(covered), links))
    return str(Markup("\n").join(parts))


def with_paragraph(content_html: str, paragraph: str) -> str:
    """``content_html`` led by the brief's paragraph (escaped), for formats without a summary.

    RSS has one ``<description>`` where Atom and JSON Feed have a summary and a content, so it
    gets both. Nothing is added when the content already shows the paragraph (a brief without
    bullets, or an entry whose content is its summary).
    """
    if not paragraph or str(escape(paragraph)) in content_html:
        return content_html
    lead = Markup("<p>{}</p>").format(paragraph)
    return f"{lead}\n{content_html}" if content_html else str(lead)

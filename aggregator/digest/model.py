"""What a digest shows: plain view objects the templates read, free of any database type."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from aggregator.model.brief import Brief


@dataclass(slots=True)
class SourceRef:
    """A publisher carrying a story: its display name and (optionally) its site's or its
    article's URL."""

    name: str
    url: str | None = None


@dataclass(slots=True)
class StoryView:
    """One story in a digest. A story carried by several sources names all of them."""

    title: str
    url: str | None
    sources: list[SourceRef]
    brief: Brief
    published: datetime | None = None
    coverage: list[SourceRef] = field(default_factory=list)
    """With two or more publishers: each one's name and its article ("Covered by N sources")."""


@dataclass(slots=True)
class DigestView:
    """One digest edition.

    The personal fields (``unsubscribe_url``, ``preferences_url``, ``recipient``) may stay empty
    when the view is passed to :func:`aggregator.digest.render.prepare`; they are filled in per
    subscriber by :meth:`RenderedDigest.personalise`.
    """

    name: str
    """Machine name of the digest, e.g. ``"daily"``."""
    title: str
    """Human title, e.g. ``"Daily digest"``."""
    period_label: str
    """Date or period shown under the title, e.g. ``"Tuesday 14 May 2024"``."""
    site_name: str
    lead: StoryView | None = None
    more: list[StoryView] = field(default_factory=list)
    archive_url: str | None = None
    site_url: str | None = None
    subscribe_url: str | None = None
    """Set for the public copy (an archive page): its footer invites a reader to subscribe here
    instead of speaking to a subscriber (no unsubscribe or preferences links)."""
    unsubscribe_url: str = ""
    preferences_url: str = ""
    recipient: str = ""
    language: str = ""
    """The reader's language (a BCP 47 tag): the mail's own words come from its catalogue; empty:
    English words, and every brief in its source's language."""
    untranslated: int = 0
    """Stories whose brief is not in ``language`` (no model, or its translation failed): the
    digest says once, at the top, that they are in their sources' language."""

"""The subscription forms: what a subscriber may choose, and reading their choices safely.

The state changes the forms ask for (subscribe, confirm, preferences, unsubscribe) belong to the
store (``store/subscribers.py``), the one owner of a subscriber's status.
"""

from __future__ import annotations

import unicodedata
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Protocol, TypeVar

from babel import Locale

from aggregator.config import Settings
from aggregator.store import subscribers as store_subscribers
from aggregator.store.db import Database
from aggregator.store.listing import live_sources
from aggregator.store.subscribers import Choices

MAX_CHOICES = 200
T = TypeVar("T")


class FormError(ValueError):
    """Unusable form input; the message is one sentence fit to show back."""


MAX_NUMBER_DIGITS = 18
"""The longest whole number a form, query or request header may give (fits a 64-bit integer)."""


def whole_number(value: object, *, max_digits: int = MAX_NUMBER_DIGITS) -> int | None:
    """``value`` as a non-negative integer if it is 1 to ``max_digits`` ASCII digits, else None.

    The one parser of numbers from outside: ``str.isdigit`` and ``int`` also take Unicode digits
    ("²", "٣"), signs, spaces and underscores, which a form or header must not carry.
    """
    if not isinstance(value, str) or not 0 < len(value) <= max_digits:
        return None
    if not value.isascii() or not value.isdigit():
        return None
    return int(value)


class FormData(Protocol):
    def getlist(self, key: str) -> Sequence[object]: ...


@dataclass(frozen=True, slots=True)
class Catalogue:
    """What a subscriber may choose from."""

    digests: list[tuple[str, str]]
    """(name, title) of each configured digest."""
    tags: list[str]
    sources: list[tuple[int, str]]
    """(id, label) of each enabled, live source."""


def load_catalogue(db: Database, settings: Settings) -> Catalogue:
    digests = [(d.name, d.title or d.name.capitalize()) for d in settings.digests]
    with db.session() as session:
        rows = live_sources(session)
        sources = [(s.id, s.label) for s in rows]
        tags = sorted({str(tag) for s in rows for tag in (s.tags or [])})
    return Catalogue(digests, tags, sources)


@cache
def timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def parse_email(raw: object) -> str:
    """A syntactically valid address in lower case (no DNS lookups), else FormError."""
    if not isinstance(raw, str) or not raw.strip():
        raise FormError("Enter your email address.")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in raw.strip()):
        raise FormError("That does not look like an email address.")
    try:
        return store_subscribers.normalise_email(raw)
    except store_subscribers.SubscriberError:
        raise FormError("That does not look like an email address.") from None


def _pick(form: FormData, field: str, allowed: dict[str, T], label: str) -> list[T]:
    values = form.getlist(field)
    if len(values) > MAX_CHOICES:
        raise FormError(f"Too many {label} selected.")
    picked: list[T] = []
    for value in values:
        if not isinstance(value, str) or value not in allowed:
            raise FormError(f"Unknown {label[:-1]} selected; reload the page and try again.")
        if allowed[value] not in picked:
            picked.append(allowed[value])
    return picked


def parse_choices(form: FormData, catalogue: Catalogue) -> Choices:
    """The digests, tags and sources ticked on a form; at least one digest is required."""
    digests = _pick(form, "digest", {n: n for n, _ in catalogue.digests}, "digests")
    if not digests:
        raise FormError("Choose at least one digest.")
    tags = _pick(form, "tag", {t: t for t in catalogue.tags}, "topics")
    sources = _pick(form, "source", {str(i): i for i, _ in catalogue.sources}, "sources")
    return Choices(digests, tags, sources)


def parse_language(value: object) -> str | None:
    """The digest language typed on the form ("" for the sources' own; None when the form has no
    such field: unchanged), else FormError."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise FormError("Choose a language from the list, or leave it empty.")
    try:
        return store_subscribers.check_language(value)
    except store_subscribers.SubscriberError:
        raise FormError(
            "Enter a language code such as fr, de or pt-BR, or leave it empty."
        ) from None


LANGUAGE_SUGGESTIONS = ("en", "fr", "de", "es", "it", "pt", "pt-BR", "nl", "pl", "sv", "ja", "zh")
"""Offered on the preferences page; any other language tag may be typed."""


@cache
def language_names() -> list[tuple[str, str]]:
    """(tag, the language's own name) of each suggested language."""
    return [
        (tag, Locale.parse(tag.replace("-", "_")).get_display_name() or tag)
        for tag in LANGUAGE_SUGGESTIONS
    ]


def parse_timezone(value: object) -> str:
    if not isinstance(value, str) or value not in timezones():
        raise FormError("Choose a time zone from the list.")
    return value

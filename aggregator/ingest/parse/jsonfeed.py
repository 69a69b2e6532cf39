"""JSON Feed 1.0 and 1.1 reader (https://www.jsonfeed.org/version/1.1/); feedparser lacks it."""

from __future__ import annotations

import json
from typing import Any

from aggregator.model.entry import FeedParseError

from .normalize import RawEntry, RawFeed, Text

VERSION_PREFIX = "https://jsonfeed.org/version/"


def load(body: bytes) -> dict[str, Any]:
    """Decode a JSON Feed document; FeedParseError when it is not JSON or not a JSON Feed."""
    try:
        data = json.loads(body)
    except UnicodeDecodeError:
        data = _loads(body.decode("utf-8", errors="replace"))
    except (ValueError, RecursionError) as exc:
        raise FeedParseError(f"malformed JSON: {_one_line(exc)}") from None
    if not isinstance(data, dict):
        raise FeedParseError("not a feed: JSON document is not an object")
    version = data.get("version")
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        raise FeedParseError("not a feed: JSON without a jsonfeed.org version")
    if not isinstance(data.get("items", []), list):
        raise FeedParseError("not a feed: JSON Feed 'items' is not a list")
    return data


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise FeedParseError(f"malformed JSON: {_one_line(exc)}") from None


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def read_feed(data: dict[str, Any], url: str) -> RawFeed:
    """Map a decoded JSON Feed to RawFeed (1.0 ``author`` and 1.1 ``authors`` both read)."""
    hubs = _list(data.get("hubs"))
    hub = next((_str(h.get("url")) for h in hubs if isinstance(h, dict)), None)
    return RawFeed(
        title=Text(_str(data.get("title")) or "", False),
        site_url=_str(data.get("home_page_url")),
        feed_id=_str(data.get("feed_url")),
        hub_url=hub,
        self_url=_str(data.get("feed_url")),
        base=_str(data.get("feed_url")) or url,
        entries=[_entry(item) for item in data.get("items", []) if isinstance(item, dict)],
    )


def _str(value: Any) -> str | None:
    """A string field; numbers (ids in the wild) become strings, anything else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


def _author(item: dict[str, Any]) -> str | None:
    authors = item.get("authors")
    if not isinstance(authors, list) or not authors:
        authors = [item.get("author")]
    names = [_str(a.get("name")) for a in authors if isinstance(a, dict)]
    return ", ".join(n for n in names if n) or None


def _entry(item: dict[str, Any]) -> RawEntry:
    bodies = [
        Text(value, is_html)
        for value, is_html in (
            (_str(item.get("content_html")), True),
            (_str(item.get("content_text")), False),
            (_str(item.get("summary")), False),
        )
        if value
    ]
    tags = _list(item.get("tags"))
    return RawEntry(
        guid=_str(item.get("id")),
        link=_str(item.get("url")) or _str(item.get("external_url")),
        title=Text(_str(item.get("title")) or "", False),
        author=_author(item),
        bodies=bodies,
        published=_str(item.get("date_published")),
        updated=_str(item.get("date_modified")),
        tags=[t for t in map(_str, tags) if t],
    )

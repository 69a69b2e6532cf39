"""The combined output feeds: Atom 1.0, RSS 2.0 and JSON Feed 1.1, overall and per tag.

Input strings are hostile. They are cleaned once, into the views below (XML-invalid characters
dropped, titles folded to one line, links kept only when they are absolute http(s) URLs); the Atom
and RSS templates autoescape, and JSON Feed is written with json.dumps.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

from markupsafe import escape

from aggregator.ingest.sanitize import strip_markup
from aggregator.mail.text import encoded_url, one_line, xml_safe
from aggregator.publish.atomic import write_if_changed
from aggregator.publish.formats import FEED_SUFFIXES, FORMATS, STYLESHEET
from aggregator.publish.model import FeedEntry, FeedMeta, FeedSource, with_paragraph
from aggregator.templating import render
from aggregator.templating import source as template_source

JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_STEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_PLAIN_TAG = re.compile(r"[a-z0-9]+(?:[ _-]+[a-z0-9]+)*")
_SLUG_MAX = 48


@dataclass(slots=True, frozen=True)
class _Time:
    """One instant in the three spellings the formats use."""

    value: datetime

    @property
    def rfc3339(self) -> str:
        return self.value.isoformat(timespec="seconds").replace("+00:00", "Z")

    @property
    def rfc822(self) -> str:
        return format_datetime(self.value, usegmt=True)


@dataclass(slots=True)
class _SourceView:
    id: str
    title: str
    link: str | None
    """The source's site, else its feed URL."""
    feed_url: str | None
    updated: _Time


@dataclass(slots=True)
class _EntryView:
    id: str
    title: str
    link: str | None
    author: str | None
    published: _Time
    updated: _Time
    summary: str
    content_html: str
    description_html: str
    """RSS <description>: the summary and the content in one (RSS has no separate summary)."""
    tags: list[str]
    sources: list[_SourceView]


@dataclass(slots=True)
class _FeedView:
    id: str
    title: str
    description: str
    home_url: str
    author: str
    updated: _Time
    hub_url: str | None
    urls: dict[str, str]
    """Self URL per file suffix."""
    stylesheet: str
    """The stylesheet's address relative to the feed (the feed's folder may be below it)."""
    entries: list[_EntryView]


def write_feeds(
    out_dir: Path,
    meta: FeedMeta,
    entries: Sequence[FeedEntry],
    *,
    stem: str = "feed",
    templates_dir: Path | None = None,
) -> list[Path]:
    """Write `<stem>.atom`, `<stem>.rss` and `<stem>.json`, newest first; return the changed paths.
    ``templates_dir``: the operator's templates (``Settings.templates_dir``)."""
    if not _STEM.fullmatch(stem):
        raise ValueError(
            f"feed file stem {stem!r} must be a plain file name (letters, digits, ._-)"
        )
    return _write(out_dir, stem, meta, _prepare(entries), templates_dir)


def write_tag_feeds(
    out_dir: Path,
    meta: FeedMeta,
    candidates: Mapping[str, Sequence[FeedEntry]],
    *,
    limit: int | None = None,
    templates_dir: Path | None = None,
) -> list[Path]:
    """Write `tags/<slug>.atom|.rss|.json` for each tag of ``candidates``: the newest ``limit``
    of its candidate entries that carry the tag (none: an empty feed); return the changed paths.

    Tags that differ only in case or separators share a feed (named by the first of them); the
    feeds of tags not in ``candidates`` are removed.
    """
    groups: dict[str, tuple[str, list[FeedEntry]]] = {}
    for tag, entries in candidates.items():
        if name := _clean_tag(tag):
            slug = tag_slug(name)
            groups.setdefault(slug, (name, []))[1].extend(e for e in entries if _carries(e, slug))
    changed: list[Path] = []
    for slug, (tag, tagged) in sorted(groups.items()):
        tag_meta = replace(
            meta,
            title=f"{meta.title}: {tag}",
            id=uuid.uuid5(uuid.NAMESPACE_URL, f"{meta.id}\ntag\n{slug}").urn,
            description=f"Entries tagged \u201c{tag}\u201d from {meta.title}",
        )
        changed += _write(
            out_dir, f"tags/{slug}", tag_meta, _prepare(tagged)[:limit], templates_dir
        )
    for path in (out_dir / "tags").glob("*") if (out_dir / "tags").is_dir() else ():
        if path.suffix in FEED_SUFFIXES and path.stem not in groups:
            path.unlink()
    return changed


def write_stylesheet(out_dir: Path, templates_dir: Path | None = None) -> list[Path]:
    """Write the stylesheet the Atom and RSS feeds name into ``out_dir`` (the operator's, when
    ``templates_dir`` has one); return it if changed."""
    path = out_dir / STYLESHEET
    return (
        [path]
        if write_if_changed(path, template_source(STYLESHEET, templates_dir).encode())
        else []
    )


def tag_slug(tag: str) -> str:
    """A file-name-safe slug for a tag: `[a-z0-9-]`, never empty, never a path.

    Plain tags ("Machine learning") give readable slugs ("machine-learning"); anything else
    (punctuation, non-ASCII, "../x") gets a hash suffix so distinct tags never share a file.
    """
    folded = one_line(tag).casefold()
    ascii_text = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    base = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")[:_SLUG_MAX].strip("-")
    if base and _PLAIN_TAG.fullmatch(folded) and len(folded) <= _SLUG_MAX:
        return base
    digest = hashlib.sha256(folded.encode("utf-8")).hexdigest()[:10]
    return f"{base}-{digest}" if base else f"tag-{digest}"


def _write(
    out_dir: Path,
    rel_stem: str,
    meta: FeedMeta,
    entries: list[_EntryView],
    templates_dir: Path | None = None,
) -> list[Path]:
    """Render the three formats of one feed and write those whose bytes changed.

    An empty feed is dated when it was first written empty, and keeps that date while it stays
    empty (so publishing it again changes nothing).
    """
    if not entries and meta.updated is None:
        since = _written_updated(out_dir / f"{rel_stem}.atom")
        meta = replace(meta, updated=since or datetime.now(UTC))
    view = _feed_view(meta, rel_stem, entries)
    outputs = {
        fmt.suffix: (
            render(fmt.template, {"feed": view}, templates_dir).encode("utf-8")
            if fmt.template
            else _json_feed(view)
        )
        for fmt in FORMATS
    }
    paths = [(out_dir / f"{rel_stem}.{suffix}", data) for suffix, data in outputs.items()]
    return [path for path, data in paths if write_if_changed(path, data)]


_FEED_UPDATED = re.compile(rb"<updated>([^<]{1,40})</updated>")


def _written_updated(path: Path) -> datetime | None:
    """The feed-level ``updated`` of an Atom file written earlier (not the 1970 placeholder)."""
    try:
        with path.open("rb") as handle:
            found = _FEED_UPDATED.search(handle.read(8192))
        moment = datetime.fromisoformat(found[1].decode()) if found else None
    except (OSError, ValueError):
        return None
    return moment if moment and moment.tzinfo and moment > _EPOCH else None


def _feed_view(meta: FeedMeta, rel_stem: str, entries: list[_EntryView]) -> _FeedView:
    home_url, base_url = encoded_url(meta.home_url), encoded_url(meta.base_url)
    if home_url is None or base_url is None:
        raise ValueError(
            f"feed home_url {meta.home_url!r} and base_url {meta.base_url!r} "
            "must be absolute http(s) URLs"
        )
    if meta.hub_url and encoded_url(meta.hub_url) is None:
        raise ValueError(f"WebSub hub_url {meta.hub_url!r} must be an absolute http(s) URL")
    if meta.updated is not None:
        updated = _utc(meta.updated)
    else:
        updated = max((e.updated.value for e in entries), default=_EPOCH)
    title = one_line(meta.title)
    return _FeedView(
        id=one_line(meta.id),
        title=title,
        description=one_line(meta.description) or title,
        home_url=home_url,
        author=one_line(meta.author) or title,
        updated=_Time(updated),
        hub_url=encoded_url(meta.hub_url),
        urls={f.suffix: f"{base_url.rstrip('/')}/{rel_stem}.{f.suffix}" for f in FORMATS},
        stylesheet="../" * rel_stem.count("/") + STYLESHEET,
        entries=entries,
    )


def _prepare(entries: Sequence[FeedEntry]) -> list[_EntryView]:
    """Clean every entry, sort newest first, and merge entries that share an id."""
    views = sorted(
        (_entry_view(e) for e in entries),
        key=lambda v: (v.published.value, v.id),
        reverse=True,
    )
    by_id: dict[str, _EntryView] = {}
    for view in views:
        kept = by_id.setdefault(view.id, view)
        if kept is not view:
            known = {s.id for s in kept.sources}
            kept.sources += [s for s in view.sources if s.id not in known]
    return list(by_id.values())


def _entry_view(entry: FeedEntry) -> _EntryView:
    published = _utc(entry.published)
    summary = xml_safe(entry.summary).strip()
    sources: dict[str, _SourceView] = {}
    for source in entry.sources:
        view = _source_view(source)
        sources.setdefault(view.id, view)
    tags = dict.fromkeys(t for t in map(_clean_tag, entry.tags) if t)
    content_html = xml_safe(entry.content_html).strip() or str(escape(summary))
    return _EntryView(
        id=one_line(entry.id),
        title=one_line(strip_markup(entry.title)),  # plain text, also in rows stored before
        link=encoded_url(entry.link),
        author=one_line(strip_markup(entry.author or "")) or None,
        published=_Time(published),
        updated=_Time(_utc(entry.updated) if entry.updated else published),
        summary=summary,
        content_html=content_html,
        description_html=with_paragraph(content_html, summary),
        tags=list(tags),
        sources=list(sources.values()),
    )


def _carries(entry: FeedEntry, slug: str) -> bool:
    return any(tag_slug(clean) == slug for tag in entry.tags if (clean := _clean_tag(tag)))


def _clean_tag(tag: str) -> str:
    """A tag as the feeds show it: plain text on one line (empty: no tag)."""
    return one_line(strip_markup(tag))


def _source_view(source: FeedSource) -> _SourceView:
    feed_url = encoded_url(source.feed_url)
    return _SourceView(
        id=one_line(source.id) or one_line(source.feed_url),
        title=one_line(source.title),
        link=encoded_url(source.url) or feed_url,
        feed_url=feed_url,
        updated=_Time(_utc(source.updated)),
    )


def _json_feed(view: _FeedView) -> bytes:
    """JSON Feed 1.1; the sources travel in the `_aggregator` extension of each item."""
    feed: dict = {
        "version": JSON_FEED_VERSION,
        "title": view.title,
        "home_page_url": view.home_url,
        "feed_url": view.urls["json"],
        "description": view.description,
        "authors": [{"name": view.author}],
    }
    if view.hub_url:
        feed["hubs"] = [{"type": "WebSub", "url": view.hub_url}]
    feed["items"] = [_json_item(entry) for entry in view.entries]
    return (json.dumps(feed, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _json_item(entry: _EntryView) -> dict:
    item: dict = {"id": entry.id, "title": entry.title}
    if entry.link:
        item["url"] = entry.link
    if entry.summary:
        item["summary"] = entry.summary
    item["content_html"] = entry.content_html
    item["date_published"] = entry.published.rfc3339
    item["date_modified"] = entry.updated.rfc3339
    if entry.author:
        item["authors"] = [{"name": entry.author}]
    if entry.tags:
        item["tags"] = entry.tags
    item["_aggregator"] = {"sources": [_json_source(s) for s in entry.sources]}
    return item


def _json_source(source: _SourceView) -> dict:
    out = {"id": source.id, "title": source.title, "updated": source.updated.rfc3339}
    if source.link:
        out["home_page_url"] = source.link
    if source.feed_url:
        out["feed_url"] = source.feed_url
    return out


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC; naive datetimes (as SQLite returns them) are taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC, microsecond=0)
    return moment.astimezone(UTC).replace(microsecond=0)

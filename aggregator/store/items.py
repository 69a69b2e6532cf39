"""Storing parsed entries: batch upserts keyed per source, and cross-source story keys."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy import Connection, bindparam, delete, func, select, update
from sqlalchemy.orm import Session

from aggregator.model.dates import sane_date
from aggregator.model.entry import Entry
from aggregator.model.links import without_tracking
from aggregator.store.chunks import scalars_in
from aggregator.store.claims import write_transaction
from aggregator.store.db import Database, chunked, conflict_insert
from aggregator.store.locks import hold_window_fence
from aggregator.store.models import ITEMS, BriefRow, Item, Source
from aggregator.store.schedule import PolledSource


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def canonical_link(url: str) -> str:
    """A comparable form of a story link: no scheme, www., fragment, tracking params
    (``model.links``, the rule an item's key follows too) or trailing /."""
    parts = urlsplit(without_tracking(url.strip()))
    host = (parts.hostname or "").lower().removeprefix("www.")
    if parts.port and parts.port not in (80, 443):
        host = f"{host}:{parts.port}"
    query = parts.query and urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    path = parts.path.rstrip("/") or ""
    return urlunsplit(("", host, path, query, "")).lstrip("/")


def story_key(entry: Entry, source_id: int) -> str:
    """Entries with the same canonical link are one story, whichever source carried them."""
    if entry.url and urlsplit(entry.url).scheme in ("http", "https"):
        return sha1("link:" + canonical_link(entry.url))
    return sha1(f"source:{source_id}:{entry.key}")


def entry_fingerprint(entry: Entry) -> str:
    """What tells a changed entry from the one stored: sha1 of its title, link and content."""
    return sha1("\x1f".join((entry.title, entry.url or "", entry.content_html)))


@dataclass(slots=True)
class StoreResult:
    new: int = 0
    changed: int = 0
    new_ids: list[int] = field(default_factory=list)
    changed_ids: list[int] = field(default_factory=list)


_KNOWN_KEYS = select(Item.key_hash, Item.content_hash).where(
    Item.source_id == bindparam("source_id")
)
"""A source's stored keys and fingerprints (built once: a poll asks for a thousand sources)."""


def first_seen_now(session: Session | Connection, clock: Callable[[], datetime]) -> datetime:
    """The time to stamp on the items this write transaction stores, taken inside it under the
    window fence: a digest window that closes at a moment sees every item first seen by then."""
    connection = session.connection() if isinstance(session, Session) else session
    hold_window_fence(connection)
    return clock()


def settled_now(db: Database, clock: Callable[[], datetime]) -> datetime:
    """Now, once every store under way has committed: each item first seen at or before the
    returned moment is visible to what reads after it (where a digest window may close)."""
    with write_transaction(db) as connection:  # on SQLite, waits for the writer
        hold_window_fence(connection, exclusive=True)
        return clock()


def store_entries(
    session: Session, source: Source | PolledSource, entries: Sequence[Entry], now: datetime
) -> StoreResult:
    """Insert new entries and update changed ones, in one batch per kind.

    Known keys are read first, so unchanged entries cost one dictionary look-up. Entries
    without a date get ``now`` (first seen: take it with :func:`first_seen_now`). Duplicate keys within one document keep the first.
    """
    connection = session.connection()  # Core statements: the ORM's execution layer is not needed
    known = dict(connection.execute(_KNOWN_KEYS, {"source_id": source.id}).all())
    fresh: dict[str, dict] = {}
    changed: dict[str, dict] = {}
    for entry in entries:
        key = sha1(entry.key)
        if key in fresh or key in changed:
            continue
        digest = entry_fingerprint(entry)
        if key not in known:
            fresh[key] = _row(entry, source.id, key, digest, now)
        elif known[key] != digest:
            row = _row(entry, source.id, key, digest, now)
            # It keeps its story until grouping compares it again (and may take it out).
            del row["first_seen_at"], row["source_id"], row["key_hash"], row["story_key"]
            row["changed_at"] = now
            row["story_pending"] = True
            changed[key] = row
    result = StoreResult(changed=len(changed))
    if fresh:
        # Core, not the ORM bulk path: a poll inserts thousands of rows and needs no objects.
        # A row that another writer stored first is skipped, never an error.
        inserted = dict(
            connection.execute(
                conflict_insert(connection.dialect.name, ITEMS)
                .on_conflict_do_nothing()
                .returning(Item.key_hash, Item.id),
                list(fresh.values()),
            ).all()
        )
        result.new_ids = [inserted[k] for k in fresh if k in inserted]
        result.new = len(result.new_ids)
    for key, row in changed.items():
        if row["published_at"] is now:
            del row["published_at"]  # keep the first-seen date of an undated entry
        session.execute(
            update(Item).where(Item.source_id == source.id, Item.key_hash == key).values(**row)
        )
    for chunk in chunked(list(changed)):
        ids = dict(
            session.execute(
                select(Item.key_hash, Item.id).where(
                    Item.source_id == source.id, Item.key_hash.in_(chunk)
                )
            ).all()
        )
        result.changed_ids += [ids[k] for k in chunk]
        # A changed item's brief no longer fits it: without one, it is briefed again.
        session.execute(delete(BriefRow).where(BriefRow.item_id.in_(list(ids.values()))))
    return result


def _row(entry: Entry, source_id: int, key: str, digest: str, now: datetime) -> dict:
    opens = story_key(entry, source_id)
    published = sane_date(entry.published, now)  # the parser's bounds, for every other caller
    return {
        "source_id": source_id,
        "key_hash": key,
        "guid": entry.guid,
        "url": entry.url,
        "story_key": opens,
        "link_key": opens,
        "story_signature": entry.story_signature,
        "story_pending": True,
        "title": entry.title,
        "author": entry.author,
        "content_html": entry.content_html,
        "content_text": entry.content_text,
        "tags": list(entry.tags),
        "content_hash": digest,
        "published_at": published or now,
        "dated": published is not None,  # undated: ranked by first seen, no date shown
        "updated_at": sane_date(entry.updated, now),
        "first_seen_at": now,
    }


def briefed(db: Database, item_ids: Iterable[int]) -> set[int]:
    """Those of the items that have a brief."""
    with db.session() as session:
        return set(scalars_in(session, select(BriefRow.item_id), BriefRow.item_id, list(item_ids)))


def content_version(db: Database) -> tuple:
    """A cheap fingerprint of what the published feeds show: it changes when an item is added
    or changed, or a brief is made."""
    with db.engine.connect() as connection:
        items = connection.execute(select(func.max(Item.id), func.max(Item.changed_at))).one()
        briefs = connection.execute(select(func.count(), func.max(BriefRow.created_at))).one()
    return (*items, *briefs)

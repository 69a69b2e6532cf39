"""Grouping stored items into stories: each item awaiting grouping joins or opens a story.

An item awaits grouping while ``story_pending`` is set: when it is stored, and again when its
content changes. Its ``story_signature`` is made where the entry is parsed (the parser
processes, ``ingest.parse.parse_and_sign``), or here when the store got none. :func:`group_pending` takes those items a batch at a time, in order of
publication, under one lock (a transaction-level advisory lock on PostgreSQL, ``BEGIN
IMMEDIATE`` on SQLite), so several workers grouping at once take turns and reach the result one
would. Each batch reads the signatures of the items published within ``WINDOW`` of it (an index
of the window, built from narrow rows), so a batch costs what its window holds, not the table.

What a batch writes:

* an item that reports the same event as a stored story (by link or text) takes that story's
  key; one that opens a story keeps its own ``link_key``;
* when an item connects two stories, the later-opened story's items take the earlier's key;
* a changed item's old story is formed again from its other members: if the item was all that
  held it together, it splits, and the item itself may leave.
"""

from __future__ import annotations

import gc
import hashlib
import logging
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, text, update

from aggregator.store.claims import write_transaction
from aggregator.store.db import Database
from aggregator.store.models import ITEMS
from aggregator.stories.grouping import (
    WINDOW,
    Index,
    Member,
    Signature,
    Stories,
    anchor_links,
    opening_order,
    signature,
)
from aggregator.stories.publishers import load_publishers

log = logging.getLogger("aggregator.stories")
BATCH = 500
"""Items grouped per transaction."""
_LOCK = text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :name))")

_MEMBER = (
    ITEMS.c.id,
    ITEMS.c.source_id,
    ITEMS.c.link_key,
    ITEMS.c.story_key,
    ITEMS.c.published_at,
    ITEMS.c.story_signature,
)
"""What grouping reads of an item, pending or already in a story."""
_PENDING = (
    select(*_MEMBER, ITEMS.c.changed_at)
    .where(ITEMS.c.story_pending)
    .order_by(ITEMS.c.published_at, ITEMS.c.id)
    .limit(bindparam("limit"))
)
_WINDOW = select(*_MEMBER).where(
    ~ITEMS.c.story_pending,
    ITEMS.c.published_at >= bindparam("lo"),
    ITEMS.c.published_at <= bindparam("hi"),
)
_SET_GROUPED = (
    update(ITEMS)
    .where(ITEMS.c.id == bindparam("_id"))
    .values(story_key=bindparam("_key"), story_pending=False)
)
_SET_SIGNED = _SET_GROUPED.values(story_signature=bindparam("_signature"))
"""The same for an item whose signature was made here (an item signed where it was parsed is
written without it: its signature stays as stored)."""
_SET_KEY = update(ITEMS).where(ITEMS.c.id == bindparam("_id")).values(story_key=bindparam("_key"))
_RENAME_STORY = (
    update(ITEMS).where(ITEMS.c.story_key == bindparam("_old")).values(story_key=bindparam("_key"))
)


@dataclass(slots=True)
class _Row:
    """An item of the batch's window, as grouping reads it."""

    member: Member
    story_key: str
    pending: bool
    changed: bool = False
    """A pending item whose content changed: its story is formed again."""
    stored: bytes | None = None
    """The signature as stored (None: made here, so written with the item)."""


def group_pending(db: Database, *, batch: int = BATCH) -> int:
    """Group every item awaiting grouping, a batch at a time; returns how many were grouped."""
    grouped = 0
    decoded: dict[bytes, Signature] = {}
    sites: dict[int, int] | None = None
    while True:
        with write_transaction(db) as connection, _no_collection():
            if not db.is_sqlite:
                connection.execute(_LOCK, {"name": ":stories"})
            rows = connection.execute(_PENDING, {"limit": batch}).all()
            if not rows:
                return grouped
            sites = sites if sites is not None else _sites(connection)
            decoded = _group_batch(connection, rows, sites, decoded)
        grouped += len(rows)


@contextmanager
def _no_collection() -> Iterator[None]:
    """No cyclic garbage collection during one batch: a batch makes only short-lived objects,
    and each collection would walk every object of the process (a poll's, too)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _sites(connection: Connection) -> dict[int, int]:
    """Each source's publisher, numbered: its feeds are compared as one feed is (read once per
    grouping; a source added meanwhile is its own until the next)."""
    numbers: dict[str, int] = {}
    return {
        source_id: numbers.setdefault(publisher.key, len(numbers))
        for source_id, publisher in load_publishers(connection).items()
    }


def _row(r: Any, sig: Signature, sites: dict[int, int], *, pending: bool) -> _Row:
    """A database row of the window as grouping reads it."""
    site = sites.get(r.source_id, -1)
    member = Member(r.id, r.published_at, r.link_key or r.story_key, sig, r.source_id, site)
    changed = pending and r.changed_at is not None
    return _Row(member, r.story_key, pending, changed, r.story_signature)


def _group_batch(
    connection: Connection,
    pending_rows: Sequence,
    sites: dict[int, int],
    decoded: dict[bytes, Signature],
) -> dict[bytes, Signature]:
    """Group one batch; returns its window's signatures by their stored form, for the next.

    ``decoded``: the previous batch's, so a signature read again is not decoded again, and
    equal ones (twin feeds' copies) are one object, compared once per search."""
    window: dict[bytes, Signature] = {}

    def decode(data: bytes) -> Signature:
        sig = window.get(data) or decoded.get(data) or Signature.decode(data)
        window[data] = sig
        return sig

    texts = _texts(connection, [r.id for r in pending_rows if r.story_signature is None])
    pending = [_row(r, _signature(r, texts, decode), sites, pending=True) for r in pending_rows]
    lo = _shifted(min(r.member.published for r in pending), -WINDOW)
    hi = _shifted(max(r.member.published for r in pending), WINDOW)
    known = [
        _row(r, decode(r.story_signature), sites, pending=False)
        for r in connection.execute(_WINDOW, {"lo": lo, "hi": hi})
    ]
    groups = _regroup(known, pending)
    _write(connection, groups, pending)
    return window


def _texts(connection: Connection, ids: list[int]) -> dict[int, tuple[str, str]]:
    """The titles and texts of the items among a batch that have no signature yet (stored
    before this upgrade, or by a caller that did not parse them)."""
    if not ids:
        return {}
    rows = select(ITEMS.c.id, ITEMS.c.title, ITEMS.c.content_text).where(ITEMS.c.id.in_(ids))
    return {r.id: (r.title or "", r.content_text or "") for r in connection.execute(rows)}


def _signature(
    row: Any, texts: dict[int, tuple[str, str]], decode: Callable[[bytes], Signature]
) -> Signature:
    """A pending item's signature: the parser's, or made from its text when it has none."""
    if row.story_signature is not None:
        return decode(row.story_signature)
    return signature(*texts[row.id])


def _shifted(moment: datetime, by: timedelta) -> datetime:
    """``moment + by``, held at the calendar's ends (an item dated in year 1 or 9999)."""
    try:
        return moment + by
    except OverflowError:
        return (
            datetime.min.replace(tzinfo=UTC)
            if by < timedelta(0)
            else datetime.max.replace(tzinfo=UTC)
        )


def _regroup(known: list[_Row], pending: list[_Row]) -> list[list[_Row]]:
    """The window's groups once the pending items are placed.

    Stored stories stay whole, except those a changed item belonged to: their stored members are
    placed again by link and text alone. Each pending item is then placed (``Stories.place``).
    """
    rows = {r.member.id: r for r in (*known, *pending)}
    reopened = _reopened(pending)
    index = Index(anchor_links(r.member for r in rows.values()))
    stories = Stories(index)
    first_of_story: dict[str, int] = {}
    for row in sorted(known, key=lambda r: opening_order(r.member)):
        stories.add(row.member)
        index.add(row.member)
        stories.join_by_link(row.member)
        if row.story_key not in reopened:
            stories.union(first_of_story.setdefault(row.story_key, row.member.id), row.member.id)
    again = [r for r in known if r.story_key in reopened]
    for row in sorted(again, key=lambda r: opening_order(r.member)):
        stories.place(row.member)
    for row in sorted(pending, key=lambda r: opening_order(r.member)):
        stories.add(row.member)
        if not stories.join_by_link(row.member):
            stories.place(row.member)
        index.add(row.member)
    groups: dict[int, list[_Row]] = defaultdict(list)
    for row in rows.values():
        groups[stories.root(row.member.id)].append(row)
    return [sorted(g, key=lambda r: opening_order(r.member)) for g in groups.values()]


def _reopened(pending: list[_Row]) -> set[str]:
    """The stories of the changed items among ``pending``: formed again without them."""
    return {r.story_key for r in pending if r.changed}


def _kept_key(group: list[_Row], reopened: set[str]) -> str | None:
    """The key of the earliest-opened stored story in ``group`` that stayed whole, if any."""
    for row in group:  # in opening order
        if not row.pending and row.story_key not in reopened:
            return row.story_key
    return None


def _story_keys(groups: list[list[_Row]], reopened: set[str]) -> list[str]:
    """Each group's key: a stored story's that stayed whole (:func:`_kept_key`), or else its
    opening item's link key, made its own when another group of the window holds that key
    (one feed's entries under one link can be different stories)."""
    kept = [_kept_key(group, reopened) for group in groups]
    taken = {key for key in kept if key is not None}
    keys = []
    for group, key in zip(groups, kept, strict=True):
        if key is None:
            opener = group[0].member
            key = opener.link_key
            if key in taken:
                key = hashlib.sha1(f"{key}:{opener.id}".encode()).hexdigest()
            taken.add(key)
        keys.append(key)
    return keys


def _write(connection: Connection, groups: list[list[_Row]], pending: list[_Row]) -> None:
    reopened = _reopened(pending)
    grouped, signed, moved, renamed = [], [], [], {}
    for group, key in zip(groups, _story_keys(groups, reopened), strict=True):
        for row in group:
            if row.pending and row.stored is not None:
                grouped.append({"_id": row.member.id, "_key": key})
            elif row.pending:
                made = row.member.signature.encode()
                signed.append({"_id": row.member.id, "_key": key, "_signature": made})
            elif row.story_key not in reopened:
                if row.story_key != key:
                    renamed[row.story_key] = key
            elif row.story_key != key:
                moved.append({"_id": row.member.id, "_key": key})
    if renamed:  # whole stories merged into an earlier one, their members outside the window too
        connection.execute(_RENAME_STORY, [{"_old": o, "_key": k} for o, k in renamed.items()])
    if moved:
        connection.execute(_SET_KEY, moved)
    for statement, values in ((_SET_GROUPED, grouped), (_SET_SIGNED, signed)):
        if values:
            connection.execute(statement, values)
    log.debug(
        "grouped %d item(s): %d stor(ies) merged, %d item(s) moved",
        len(grouped) + len(signed),
        len(renamed),
        len(moved),
    )

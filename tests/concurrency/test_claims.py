"""Claims with leases on real databases: disjoint claims, lease expiry, lost claims, dead workers."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from aggregator.config import from_mapping
from aggregator.ingest.fetch import FetchResult
from aggregator.ingest.poll import Poller, PollReport
from aggregator.model.entry import Entry, ParsedFeed
from aggregator.model.status import PollResult
from aggregator.store.claims import (
    claim,
    claim_ids,
    reap_dead_local_claims,
    release,
    renew,
)
from aggregator.store.db import Database
from aggregator.store.models import Item, Source
from tests.concurrency.fleet import rounds

SOURCES = Source.__table__
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LEASE = timedelta(minutes=5)


def add_sources(db: Database, count: int) -> list[int]:
    with db.session() as session:
        rows = [Source(url=f"https://s{n}.example/feed", origin="cli") for n in range(count)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def claim_some(db: Database, token: str, limit: int, now: datetime = NOW) -> list[int]:
    return claim(db, SOURCES, token=token, lease=LEASE, now=now, limit=limit)


@pytest.mark.parametrize("round_", rounds(5))
def test_workers_claiming_at_once_get_disjoint_rows(db: Database, round_: int) -> None:
    ids = add_sources(db, 60)
    barrier = threading.Barrier(4)
    got: dict[str, list[int]] = {}

    def worker(token: str) -> None:
        barrier.wait()
        mine: list[int] = []
        while batch := claim_some(db, token, 7):
            mine += batch
        got[token] = mine

    threads = [threading.Thread(target=worker, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    claimed = [i for batch in got.values() for i in batch]
    assert sorted(claimed) == ids  # every row once, none twice
    with db.session() as session:
        owners = dict(session.execute(select(Source.id, Source.claimed_by)).all())
    assert all(owners[i] == token for token, batch in got.items() for i in batch)


def test_an_expired_lease_is_claimed_again(db: Database) -> None:
    add_sources(db, 3)
    assert len(claim_some(db, "a", 10)) == 3
    assert claim_some(db, "b", 10, NOW + LEASE - timedelta(seconds=1)) == []
    # renewing keeps it: b still gets nothing after the first lease would have run out
    assert renew(db, [SOURCES], token="a", lease=LEASE, now=NOW + LEASE) == 3
    assert claim_some(db, "b", 10, NOW + LEASE + timedelta(seconds=1)) == []
    later = NOW + 2 * LEASE + timedelta(seconds=1)
    assert claim_some(db, "b", 10, later) == [1, 2, 3]


def test_recording_with_a_lost_claim_changes_nothing(db: Database) -> None:
    [source_id] = add_sources(db, 1)
    assert claim_some(db, "slow", 1) == [source_id]
    later = NOW + LEASE + timedelta(seconds=1)
    assert claim_some(db, "fast", 1, later) == [source_id]  # took it over

    with db.engine.begin() as connection:
        assert release(connection, SOURCES, [source_id], token="slow") == set()
    with db.session() as session:
        assert session.get(Source, source_id).claimed_by == "fast"

    # the poller's recording step refuses to store items under a lost claim
    settings = from_mapping({}, root=Path("."), origin="test")
    poller = Poller(db, settings, clock=lambda: later, token="slow")
    parsed = ParsedFeed(
        entries=[Entry(key="guid:1", title="T", url="https://s.example/1", content_html="<p>x</p>")]
    )
    result = FetchResult(url="https://s0.example/feed", status=200, body=b"", elapsed=0.1)
    known = poller._load([source_id])[source_id]
    with db.session() as session:
        outcome = poller._store(session, known, result, parsed, PollReport())
    assert outcome.result == PollResult.LOST
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 0
        source = session.get(Source, source_id)
        assert source.claimed_by == "fast" and source.last_checked_at is None


def test_claim_ids_skips_rows_held_by_another_worker(db: Database) -> None:
    ids = add_sources(db, 4)
    assert claim_ids(db, SOURCES, ids[:2], token="a", lease=LEASE, now=NOW) == ids[:2]
    assert claim_ids(db, SOURCES, ids, token="b", lease=LEASE, now=NOW) == ids[2:]


def test_a_poll_of_named_sources_leaves_those_held_elsewhere_and_says_so(db: Database) -> None:
    ids = add_sources(db, 2)
    assert claim_some(db, "other", 2) == ids
    settings = from_mapping({}, root=Path("."), origin="test")
    report = asyncio.run(Poller(db, settings, clock=lambda: NOW, token="me").poll(ids))
    assert [(o.source_id, o.result, o.label) for o in report.outcomes] == [
        (ids[0], PollResult.BUSY, "https://s0.example/feed"),
        (ids[1], PollResult.BUSY, "https://s1.example/feed"),
    ]
    assert report.busy == 2
    with db.session() as session:
        rows = [session.get(Source, i) for i in ids]
        assert [(r.claimed_by, r.last_checked_at) for r in rows] == [("other", None)] * 2


def test_claims_of_a_killed_worker_on_this_host_are_freed_on_restart(db: Database) -> None:
    add_sources(db, 5)
    # a real process claims, then dies without releasing (SIGKILL leaves the same state)
    code = (
        "import sys; from datetime import UTC, datetime, timedelta\n"
        "from aggregator.store.db import Database\n"
        "from aggregator.store.claims import claim, new_token\n"
        "from aggregator.store.models import Source\n"
        "db = Database(sys.argv[1], migrate=False)\n"
        "ids = claim(db, Source.__table__, token=new_token(), lease=timedelta(hours=1),"
        " now=datetime.now(UTC), limit=3)\n"
        "print(len(ids))\n"
    )
    url = db.engine.url.render_as_string(hide_password=False)
    out = subprocess.run([sys.executable, "-c", code, url], capture_output=True, text=True)
    assert out.stdout.strip() == "3", out.stderr
    with db.session() as session:
        assert session.scalar(select(func.count()).where(Source.claimed_by.is_not(None))) == 3
    # a live claim of this process and one of another host are left alone
    with db.engine.begin() as connection:
        connection.execute(
            update(Source)
            .where(Source.id == 4)
            .values(claimed_by="otherhost:1:ab", claimed_until=NOW)
        )
    assert reap_dead_local_claims(db, [SOURCES]) == 3
    with db.session() as session:
        held = session.scalars(
            select(Source.claimed_by).where(Source.claimed_by.is_not(None))
        ).all()
    assert held == ["otherhost:1:ab"]

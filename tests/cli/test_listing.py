"""The store's reports behind the command line's lists, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from aggregator.model.brief import Brief
from aggregator.store.db import Database
from aggregator.store.listing import (
    find_item,
    item_brief,
    list_editions,
    list_items,
    list_sources,
    list_subscribers,
    mailed_edition,
    overview,
)
from aggregator.store.models import (
    BriefRow,
    Delivery,
    DigestRun,
    Edition,
    Item,
    Source,
    Subscriber,
)


def _item(source: Source, n: int, title: str, text: str, day: int) -> Item:
    return Item(
        source=source,
        key_hash=f"key-{n}",
        guid=f"guid-{n}",
        url=f"https://example.test/{n}",
        story_key=f"story-{n}",
        title=title,
        content_text=text,
        content_hash=f"hash-{n}",
        published_at=datetime(2024, 5, day, 10, tzinfo=UTC),
    )


def test_items_are_found_by_source_date_and_literal_text(db: Database) -> None:
    with db.session() as session:
        blog = Source(url="https://blog.test/feed", name="Blog", tags=["search"])
        news = Source(url="https://news.test/rss", feed_title="News Daily")
        session.add_all(
            [
                _item(blog, 1, "Search engine news", "An engine for the small web.", 1),
                _item(blog, 2, "100% pure_gold", "Wildcards, literally.", 2),
                _item(news, 3, "Markets", "Rates rose 5%; nothing else.", 3),
            ]
        )
    with db.session() as session:
        titles = [r.title for r in list_items(session)]
        assert titles == ["Markets", "100% pure_gold", "Search engine news"]  # newest first
        assert list_items(session, limit=1)[0].source == "News Daily"  # its feed's title
        blog_id = session.scalar(select(Source.id).where(Source.name == "Blog"))
        assert [r.title for r in list_items(session, source_id=blog_id)] == titles[1:]
        since = datetime(2024, 5, 2, tzinfo=UTC)
        assert [r.title for r in list_items(session, since=since)] == titles[:2]
        # `_` and `%` are literal ("e_g" would match "engine" as a pattern); case is ignored
        assert [r.title for r in list_items(session, search="E_G")] == ["100% pure_gold"]
        assert [r.title for r in list_items(session, search="5%;")] == ["Markets"]
        assert [r.title for r in list_items(session, search="SMALL WEB")] == [titles[2]]
        first = list_items(session, search="Markets")[0]
        assert find_item(session, str(first.id)) == first.id
        assert find_item(session, "https://example.test/3") == first.id
        assert find_item(session, "guid-3") == first.id
        assert find_item(session, "999999") is None
        rows = list_sources(session)
        assert [(r.name, r.state, r.tags, r.items) for r in rows] == [
            ("Blog", "new", ["search"], 2),
            ("News Daily", "new", [], 1),
        ]


def test_status_overview_and_subscriber_list(db: Database) -> None:
    soon, later = (datetime(2024, 5, 1, h, tzinfo=UTC) for h in (9, 12))
    with db.session() as session:
        ok = Source(url="https://ok.test/feed", name="Fine", next_check_at=later)
        ok.last_success_at = soon
        failing = Source(url="https://bad.test/feed", name="Broken", next_check_at=soon)
        failing.consecutive_failures, failing.last_error = 2, "HTTP 500"
        gone = Source(url="https://gone.test/feed", name="Gone", status="retired")
        off = Source(url="https://off.test/feed", name="Off", enabled=False, next_check_at=soon)
        item = _item(ok, 1, "Briefed", "text", 1)
        item.brief = BriefRow(
            content_hash="h", data=Brief(bullets=["One."]).to_dict(), summarizer="extractive"
        )
        session.add_all([failing, gone, off, item, _item(ok, 2, "Bare", "text", 2)])
        alice = Subscriber(email="alice@example.org", status="active", digests=["daily"])
        alice.tags = ["ml"]
        bob = Subscriber(email="bob@example.org", status="unsubscribed", status_reason="left")
        run = DigestRun(digest_name="daily", scheduled_for=soon, cutoff=soon)
        session.add_all([alice, bob, run])
        session.flush()
        session.add_all(
            [
                Delivery(run=run, subscriber_id=alice.id, state="pending"),
                Delivery(run=run, subscriber_id=bob.id, state="bounced"),
            ]
        )
    with db.session() as session:
        report = overview(session)
        assert report.sources == 4
        assert report.source_states == {"disabled": 1, "failing": 1, "ok": 1, "retired": 1}
        assert report.next_check == soon  # the disabled source's plan does not count
        assert [(s.name, s.state, s.last_error) for s in report.failing] == [
            ("Broken", "failing", "HTTP 500"),
            ("Gone", "retired", None),
        ]
        assert (report.items, report.briefs) == (2, 1)
        assert report.subscribers == {"active": 1, "unsubscribed": 1}
        assert (report.pending, report.failed) == (1, 1)
        assert report.last_runs == {"daily": soon}

        everyone = list_subscribers(session)
        assert [(s.email, s.status, s.digests, s.tags, s.note) for s in everyone] == [
            ("alice@example.org", "active", ["daily"], ["ml"], None),
            ("bob@example.org", "unsubscribed", [], [], "left"),
        ]
        assert [s.email for s in list_subscribers(session, "unsubscribed")] == ["bob@example.org"]

        briefed, bare = (find_item(session, f"guid-{n}") for n in (1, 2))
        assert briefed is not None and bare is not None
        shown = item_brief(session, briefed)
        assert shown is not None
        assert (shown.title, shown.source, shown.brief.bullets) == ("Briefed", "Fine", ["One."])
        assert item_brief(session, bare) is None


def test_editions_newest_mailed_first_with_their_lead_and_archive(
    db: Database, tmp_path: Path
) -> None:
    slot, mailed, later = (datetime(2024, 5, 1, h, tzinfo=UTC) for h in (7, 9, 11))
    with db.session() as session:
        source = Source(url="https://ok.test/feed", name="Fine")
        lead, other = _item(source, 1, "The lead", "text", 1), _item(source, 2, "Other", "t", 1)
        people = [Subscriber(email=f"p{n}@example.org", status="active") for n in range(4)]
        first = DigestRun(digest_name="daily", scheduled_for=slot, cutoff=slot)
        second = DigestRun(digest_name="weekly", scheduled_for=slot, cutoff=slot)
        session.add_all([lead, other, *people, first, second])
        session.flush()
        main, few = (
            Edition(run_id=first.id, key_hash=k, subject="s", item_ids=ids, html_pieces=["<p>", "recipient", "</p>"], text_pieces=["to ", "recipient"])
            for k, ids in (("a", [lead.id, other.id]), ("b", [other.id]))
        )  # fmt: skip
        session.add_all([main, few])
        session.flush()
        session.add_all(
            [
                Delivery(run=first, subscriber_id=people[0].id, state="sent", sent_at=mailed, edition_id=main.id),
                Delivery(run=first, subscriber_id=people[1].id, state="sent", sent_at=later, edition_id=main.id),
                Delivery(run=first, subscriber_id=people[2].id, state="bounced", edition_id=few.id),
                Delivery(run=first, subscriber_id=people[3].id, state="skipped"),
                Delivery(run=second, subscriber_id=people[0].id, state="sent", sent_at=mailed),
            ]
        )  # fmt: skip
        first_id, second_id = first.id, second.id
    page = tmp_path / "digests" / "daily" / "2024-05-01-0700" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text("<!DOCTYPE html>")
    with db.session() as session:
        rows = list_editions(session, public_dir=tmp_path, base_url="https://news.test")
        report = overview(session)
        shown = mailed_edition(session, first_id)
        nothing = mailed_edition(session, second_id)
    assert [(r.run, r.sent_at) for r in rows] == [(first_id, later), (second_id, mailed)]
    top = rows[0]
    assert (top.sent, top.failed, top.bounced, top.skipped) == (2, 0, 1, 1)
    assert top.lead == "The lead"
    assert top.archive == "https://news.test/digests/daily/2024-05-01-0700/"
    assert rows[1].archive is None and rows[1].lead is None
    assert report.last_mailed == {"daily": later, "weekly": mailed}
    assert shown is not None and shown.recipients == 2 and shown.html_pieces[0] == "<p>"
    assert nothing is None

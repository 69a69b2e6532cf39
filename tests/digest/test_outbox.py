"""The outbox end to end against a real aiosmtpd server: headers, retries, bounces, windows."""

from __future__ import annotations

import email
import email.policy
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from sqlalchemy import select

from aggregator.briefs.pipeline import make_briefs
from aggregator.config import Settings, from_mapping
from aggregator.digest.outbox import Outbox
from aggregator.mail.transport import SMTPTransport
from aggregator.model.entry import Entry
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import Delivery, DigestRun, Source, Subscriber
from aggregator.store.subscribers import upsert_subscriber
from tests.support.smtpserver import SMTPTestServer

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)
STORY = (
    "<p>The lab released a new interpretability toolkit on Monday. Mechanistic interpretability "
    "is a research field that reverse-engineers what neural networks compute. The toolkit traces "
    "features through every layer of a transformer model. Researchers say it finds circuits in "
    "minutes that used to take weeks of manual work. The release includes notebooks and a "
    "tutorial for newcomers. Critics warn that the method has not been tested on the largest "
    "models yet. The team plans a larger study next spring.</p>"
)


class Clock:
    """A controllable clock for the outbox."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def make_settings(tmp_path: Path, **mail) -> Settings:
    glossary = tmp_path / "glossary.toml"
    glossary.write_text(
        '"RLHF" = "Reinforcement learning from human feedback trains models on human preference judgements."\n'
    )
    return from_mapping(
        {
            "general": {"name": "Test Digest", "base_url": "https://news.example.org"},
            "briefs": {"glossary": str(glossary)},
            "mail": {
                "from_address": "digest@news.example.org",
                "list_id": "daily.news.example.org",
                **mail,
            },
            "digests": [
                {"name": "daily", "title": "Daily digest", "schedule": "0 7 * * *", "max_items": 10}
            ],
        },
        root=tmp_path,
        origin="test",
    )


def add_stories(
    db: Database, settings: Settings, when: datetime, titles: list[str], *, tag: str = "ai"
) -> None:
    with db.session() as session:
        source = session.scalar(select(Source).where(Source.name == tag))
        if source is None:
            source = Source(url=f"https://{tag}.example/feed", name=tag, tags=[tag], priority=3)
            session.add(source)
            session.flush()
        entries = [
            Entry(
                key=f"guid:{title}",
                title=title,
                url=f"https://{tag}.example/{i}-{when:%H%M%S}",
                content_html=STORY.replace("toolkit", f"toolkit ({title})")
                + "<p>RLHF helped too. The team says RLHF made the difference.</p>",
                content_text="",
                published=when,
            )
            for i, title in enumerate(titles)
        ]
        result = store_entries(session, source, entries, when)
    make_briefs(db, settings, result.new_ids)


def subscribe(db: Database, email_address: str, **kw) -> int:
    with db.session() as session:
        row, _ = upsert_subscriber(session, email_address, digests=["daily"], **kw)
        return row.id


def outbox_for(
    db: Database, settings: Settings, server: SMTPTestServer, clock: Clock, **kw
) -> Outbox:
    transport = SMTPTransport(
        "127.0.0.1", server.port, security="none", concurrency=kw.pop("concurrency", 2)
    )
    return Outbox(db, settings, secret_key="test-secret", transport=transport, clock=clock)


def parsed(message) -> email.message.EmailMessage:  # noqa: ANN001
    return email.message_from_bytes(message.data, policy=email.policy.default)


def test_digest_arrives_with_every_header_and_the_brief(
    db: Database, tmp_path: Path, smtp_server
) -> None:
    settings = make_settings(tmp_path)
    server = smtp_server(security="none")
    clock = Clock(T0)
    add_stories(
        db, settings, T0 - timedelta(hours=3), ["Toolkit ships", "Second story", "Third story"]
    )
    subscribe(db, "reader@example.com")
    outbox = outbox_for(db, settings, server, clock)
    clock.advance(hours=1, minutes=5)  # 07:05, the run is due
    run_id = outbox.start_run("daily", T0 + timedelta(hours=1))
    assert run_id is not None
    assert outbox.start_run("daily", T0 + timedelta(hours=1)) is None  # never twice
    report = outbox.deliver()
    assert report.sent == 1 and not report.errors

    [received] = server.messages
    msg = parsed(received)
    for header in (
        "Date",
        "Message-ID",
        "List-Id",
        "List-Unsubscribe",
        "List-Unsubscribe-Post",
        "From",
        "To",
        "Subject",
    ):
        assert msg[header], header
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "<https://news.example.org/unsubscribe/" in msg["List-Unsubscribe"]
    assert "mailto:" in msg["List-Unsubscribe"]
    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "In brief" in text or "IN BRIEF" in text
    doc = lxml.html.fromstring(html)
    assert not doc.xpath("//script")
    body_text = doc.text_content()
    assert "In brief" in body_text or "IN BRIEF" in body_text.upper()
    assert "Terms in this brief".upper() in body_text.upper()
    assert "Reinforcement learning from human feedback" in body_text
    assert any("Read full story at" in a.text_content() for a in doc.xpath("//a"))
    unsubscribe = [
        a.get("href") for a in doc.xpath("//a") if "unsubscribe" in (a.get("href") or "")
    ]
    preferences = [
        a.get("href") for a in doc.xpath("//a") if "preferences" in (a.get("href") or "")
    ]
    assert unsubscribe and preferences
    lead_bullets = doc.xpath("(//ul)[1]/li")
    assert 3 <= len(lead_bullets) <= 8
    with db.session() as session:
        run = session.get(DigestRun, run_id)
        assert run.status == "done"
        row = session.scalar(select(Delivery))
        assert row.state == "sent" and row.message_id == msg["Message-ID"]


def test_each_subscriber_gets_what_is_new_since_their_last_digest(
    db: Database, tmp_path: Path, smtp_server
) -> None:
    settings = make_settings(tmp_path)
    server = smtp_server(security="none")
    clock = Clock(T0)
    add_stories(db, settings, T0 - timedelta(hours=2), ["Monday one", "Monday two"])
    subscribe(db, "early@example.com")
    outbox = outbox_for(db, settings, server, clock)
    clock.advance(hours=1)
    outbox.start_run("daily", T0 + timedelta(hours=1))
    outbox.deliver()
    assert len(server.messages) == 1

    add_stories(db, settings, T0 + timedelta(hours=20), ["Tuesday news"])
    subscribe(db, "late@example.com")
    clock.advance(days=1)
    outbox.start_run("daily", T0 + timedelta(days=1, hours=1))
    outbox.deliver()
    by_rcpt = {m.rcpt_tos[0]: parsed(m) for m in server.messages[1:]}
    early = by_rcpt["early@example.com"].get_body(("plain",)).get_content()
    late = by_rcpt["late@example.com"].get_body(("plain",)).get_content()
    assert "Tuesday news" in early and "Monday one" not in early
    # a new subscriber's first digest covers the schedule's last period
    assert "Tuesday news" in late and "Monday one" not in late


def test_tags_filter_and_empty_digests_are_not_sent(
    db: Database, tmp_path: Path, smtp_server
) -> None:
    settings = make_settings(tmp_path)
    server = smtp_server(security="none")
    clock = Clock(T0 + timedelta(hours=1))
    add_stories(db, settings, T0 - timedelta(hours=2), ["AI story"], tag="ai")
    add_stories(db, settings, T0 - timedelta(hours=2), ["Sports story"], tag="sport")
    subscribe(db, "ai@example.com", tags=["ai"])
    subscribe(db, "chess@example.com", tags=["chess"])
    outbox = outbox_for(db, settings, server, clock)
    outbox.start_run("daily", T0 + timedelta(hours=1))
    report = outbox.deliver()
    assert report.sent == 1
    [msg] = [parsed(m) for m in server.messages]
    text = msg.get_body(("plain",)).get_content()
    assert msg["To"] == "ai@example.com" and "AI story" in text and "Sports story" not in text
    with db.session() as session:
        states = dict(
            session.execute(select(Subscriber.email, Delivery.state).join(Delivery)).all()
        )
    assert states == {"ai@example.com": "sent", "chess@example.com": "skipped"}


def test_temporary_failures_are_retried_and_all_mail_arrives(
    db: Database, tmp_path: Path, smtp_server
) -> None:
    settings = make_settings(tmp_path)
    server = smtp_server(security="none")
    server.handler.tempfail("slow1@example.com", 1)
    server.handler.tempfail("slow2@example.com", 2)
    clock = Clock(T0 + timedelta(hours=1))
    add_stories(db, settings, T0, ["Story"])
    for name in ("ok1", "ok2", "slow1", "slow2"):
        subscribe(db, f"{name}@example.com")
    outbox = outbox_for(db, settings, server, clock)
    outbox.start_run("daily", T0 + timedelta(hours=1))
    first = outbox.deliver()
    assert (first.sent, first.retried) == (2, 2)
    assert outbox.deliver().sent == 0  # not due yet: backoff
    clock.advance(minutes=1, seconds=1)
    assert outbox.deliver().sent == 1  # slow1 recovered; slow2 deferred again
    clock.advance(minutes=2, seconds=1)
    assert outbox.deliver().sent == 1
    received = Counter(m.rcpt_tos[0] for m in server.messages)
    assert received == Counter({f"{n}@example.com": 1 for n in ("ok1", "ok2", "slow1", "slow2")})


def test_permanent_failure_bounces_only_that_subscriber(
    db: Database, tmp_path: Path, smtp_server
) -> None:
    settings = make_settings(tmp_path, bounce_threshold=1)
    server = smtp_server(security="none")
    server.handler.reject("gone@example.com")
    clock = Clock(T0 + timedelta(hours=1))
    add_stories(db, settings, T0, ["Story"])
    for name in ("a", "gone", "b"):
        subscribe(db, f"{name}@example.com")
    outbox = outbox_for(db, settings, server, clock)
    outbox.start_run("daily", T0 + timedelta(hours=1))
    report = outbox.deliver()
    assert (report.sent, report.bounced) == (2, 1)
    with db.session() as session:
        gone = session.scalar(select(Subscriber).where(Subscriber.email == "gone@example.com"))
        assert gone.status == "suspended" and gone.hard_bounces == 1
        assert "550" in gone.status_reason
        delivery = session.scalar(select(Delivery).where(Delivery.subscriber_id == gone.id))
        assert delivery.state == "bounced" and "550" in delivery.last_error
    assert sorted(m.rcpt_tos[0] for m in server.messages) == ["a@example.com", "b@example.com"]


def test_unsubscribing_before_the_send_takes_effect(
    db: Database, tmp_path: Path, smtp_server
) -> None:
    settings = make_settings(tmp_path)
    server = smtp_server(security="none")
    clock = Clock(T0 + timedelta(hours=1))
    add_stories(db, settings, T0, ["Story"])
    leaving = subscribe(db, "leaving@example.com")
    subscribe(db, "staying@example.com")
    outbox = outbox_for(db, settings, server, clock)
    outbox.start_run("daily", T0 + timedelta(hours=1))  # queued while still active
    with db.session() as session:
        session.get(Subscriber, leaving).status = "unsubscribed"
    outbox.deliver()
    assert [m.rcpt_tos[0] for m in server.messages] == ["staying@example.com"]


def test_hostile_titles_cannot_inject_headers(db: Database, tmp_path: Path, smtp_server) -> None:
    settings = make_settings(tmp_path)
    server = smtp_server(security="none")
    clock = Clock(T0 + timedelta(hours=1))
    add_stories(db, settings, T0, ["Evil\r\nBcc: victim@example.net\r\n<script>alert(1)</script>"])
    subscribe(db, "reader@example.com")
    outbox = outbox_for(db, settings, server, clock)
    outbox.start_run("daily", T0 + timedelta(hours=1))
    outbox.deliver()
    [received] = server.messages
    assert received.rcpt_tos == ("reader@example.com",)
    msg = parsed(received)
    assert msg["Bcc"] is None
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and not lxml.html.fromstring(html).xpath("//script")


def test_subscriber_import_never_resets_unsubscribed(db: Database) -> None:
    from aggregator.store.subscribers import import_csv

    with db.session() as session:
        row, _ = upsert_subscriber(session, "left@example.com", digests=["daily"])
        row.status = "unsubscribed"
    csv_text = "email,digests,tags\nleft@example.com,daily,\nnew@example.com,daily,ai\nnot-an-address,daily,\nx@example.com,weekly,\n"
    with db.session() as session:
        report = import_csv(
            session, csv_text, name="people.csv", known_digests=["daily"], default_digests=["daily"]
        )
    assert (report.added, report.kept) == (1, 1)
    assert len(report.errors) == 2
    assert report.errors[0].startswith("people.csv: line 4:")
    assert report.errors[1].startswith("people.csv: line 5: unknown digest 'weekly'")
    with db.session() as session:
        statuses = dict(session.execute(select(Subscriber.email, Subscriber.status)).all())
    assert statuses == {"left@example.com": "unsubscribed", "new@example.com": "active"}


def test_an_empty_cell_in_an_import_keeps_the_subscribers_value(db: Database) -> None:
    """An existing subscriber keeps what a row leaves empty (or a column the file lacks: their
    source filter); a new one gets the defaults."""
    from aggregator.store.subscribers import import_csv

    with db.session() as session:
        row, _ = upsert_subscriber(
            session,
            "berlin@example.com",
            digests=["weekly"],
            tags=["ai"],
            sources=[7],
            timezone="Europe/Berlin",
        )
    known = ["daily", "weekly"]
    csv_text = (
        "email,digests,tags,timezone\n"
        "berlin@example.com,,,\n"
        "new@example.com,,,\n"
        "tagged@example.com,weekly,,Asia/Tokyo\n"
    )
    with db.session() as session:
        report = import_csv(
            session, csv_text, name="people.csv", known_digests=known, default_digests=known
        )
        assert (report.added, report.updated, report.errors) == (2, 1, [])
    with db.session() as session:
        import_csv(
            session,
            "tagged@example.com,,policy\n",
            name="more.csv",
            known_digests=known,
            default_digests=known,
        )
    with db.session() as session:
        rows = {
            r.email: (r.digests, r.tags, r.sources, r.timezone)
            for r in session.scalars(select(Subscriber))
        }
    assert rows == {
        "berlin@example.com": (["weekly"], ["ai"], [7], "Europe/Berlin"),
        "new@example.com": (["daily", "weekly"], [], [], "UTC"),
        "tagged@example.com": (["weekly"], ["policy"], [], "Asia/Tokyo"),
    }


def test_dates_follow_the_subscribers_timezone(
    sqlite_db: Database, tmp_path: Path, smtp_server
) -> None:
    """The run at 23:30 UTC is already the next day in Tokyo, and still that day in London."""
    settings = make_settings(tmp_path)
    server = smtp_server(security="none")
    late = datetime(2026, 11, 2, 23, 30, tzinfo=UTC)
    clock = Clock(late + timedelta(minutes=1))
    add_stories(sqlite_db, settings, late - timedelta(hours=1), ["Story"])
    subscribe(sqlite_db, "tokyo@example.com", timezone="Asia/Tokyo")
    subscribe(sqlite_db, "london@example.com", timezone="Europe/London")
    outbox = outbox_for(sqlite_db, settings, server, clock)
    outbox.start_run("daily", late)
    assert outbox.deliver().sent == 2
    texts = {m.rcpt_tos[0]: parsed(m).get_body(("plain",)).get_content() for m in server.messages}
    assert "Tuesday 3 November 2026" in texts["tokyo@example.com"]
    assert "Monday 2 November 2026" in texts["london@example.com"]


@pytest.mark.parametrize(
    ("sent", "zone", "heading"),
    [
        # west of UTC: Monday 02:00 UTC is still Sunday evening in New York and Los Angeles
        (datetime(2026, 12, 7, 2, 0, tzinfo=UTC), "America/New_York", "Sunday 6 December 2026"),
        (datetime(2026, 12, 7, 2, 0, tzinfo=UTC), "America/Los_Angeles", "Sunday 6 December 2026"),
        (datetime(2026, 12, 7, 2, 0, tzinfo=UTC), "UTC", "Monday 7 December 2026"),
        # east of UTC: Sunday 23:30 UTC is already Monday morning in Berlin and Tokyo
        (datetime(2026, 12, 6, 23, 30, tzinfo=UTC), "Europe/Berlin", "Monday 7 December 2026"),
        (datetime(2026, 12, 6, 23, 30, tzinfo=UTC), "Asia/Tokyo", "Monday 7 December 2026"),
        (datetime(2026, 12, 6, 23, 30, tzinfo=UTC), "UTC", "Sunday 6 December 2026"),
    ],
)
def test_an_edition_is_headed_with_the_day_it_is_sent_where_the_subscriber_is(
    sqlite_db: Database, tmp_path: Path, smtp_server, sent: datetime, zone: str, heading: str
) -> None:
    """The run was scheduled a week before it is sent (a weekly caught up late): the heading is
    the day of sending in the subscriber's timezone, never the run's scheduled day."""
    settings = make_settings(tmp_path)
    server = smtp_server(security="none")
    add_stories(sqlite_db, settings, sent - timedelta(hours=3), ["Story"])
    subscribe(sqlite_db, "reader@example.com", timezone=zone)
    outbox = outbox_for(sqlite_db, settings, server, Clock(sent))
    outbox.start_run("daily", sent - timedelta(days=7))
    assert outbox.deliver().sent == 1
    [message] = server.messages
    text = parsed(message).get_body(("plain",)).get_content()
    html = parsed(message).get_body(("html",)).get_content()
    assert f"Daily digest — {heading}" in text
    assert heading in html
    assert "November" not in text + html  # the run's scheduled day, a week back


def test_a_greylisted_subscriber_never_gets_the_same_story_twice(
    db: Database, tmp_path: Path, smtp_server
) -> None:
    """The relay answers 451 to one subscriber, so run 1 waits for its retry; run 2 is queued
    and rendered meanwhile; then the relay accepts. Run 2's window starts where run 1's ends for
    the greylisted subscriber too (a mail on its way counts, not only a sent one)."""
    settings = make_settings(tmp_path)
    server = smtp_server(security="none")
    server.handler.tempfail("grey@example.com", 1)
    clock = Clock(T0 + timedelta(hours=1))
    add_stories(db, settings, T0, ["First story"])
    for name in ("ok", "grey"):
        subscribe(db, f"{name}@example.com")
    outbox = outbox_for(db, settings, server, clock)
    outbox.start_run("daily", T0 + timedelta(hours=1))
    first = outbox.deliver()
    assert (first.sent, first.retried) == (1, 1)  # grey@ is greylisted

    clock.advance(seconds=20)
    add_stories(db, settings, clock.now, ["Second story"])
    clock.advance(seconds=10)
    outbox.start_run("daily", clock.now)
    assert outbox.render_pending() == 2  # run 2 rendered while run 1 waits for grey@'s retry
    clock.advance(minutes=2)
    assert outbox.deliver().sent == 3  # run 1 to grey@, run 2 to both
    texts: dict[str, list[str]] = {}
    for message in server.messages:
        body = parsed(message).get_body(("plain",)).get_content()
        texts.setdefault(message.rcpt_tos[0], []).append(body)
    for address in ("ok@example.com", "grey@example.com"):
        [one, two] = sorted(texts[address], key=lambda t: "Second story" in t)
        assert "First story" in one and "Second story" not in one
        assert "Second story" in two and "First story" not in two, address

"""SQLAlchemy 2 models: sources, items, briefs, subscribers, digest runs and the outbox."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from aggregator.model.status import (
    DeliveryState,
    PushState,
    RunStatus,
    SourceOrigin,
    SourceStatus,
    SubscriberStatus,
)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC, returns timezone-aware UTC, on every backend."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


def source_label(name: str, feed_title: str | None, url: str) -> str:
    """How a source is named in output: its configured name, else its feed's title, else its URL."""
    return name or feed_title or url


class Source(Base):
    """A feed we poll, with its HTTP validators and health."""

    __tablename__ = "sources"
    __table_args__ = (Index("ix_sources_claimed_by", "claimed_by"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    """The current URL; 301/308 update it."""
    config_url: Mapped[str | None] = mapped_column(Text, unique=True)
    """The URL as written in config.toml, so the entry is found again after a redirect."""
    origin: Mapped[str] = mapped_column(String(16), default=SourceOrigin.CONFIG)
    """A ``SourceOrigin``."""
    name: Mapped[str] = mapped_column(Text, default="")
    publisher: Mapped[str] = mapped_column(Text, default="", server_default="")
    """The publisher's name as the operator sets it; empty: named from the site's domain."""
    tags: Mapped[list[Any]] = mapped_column(default=list)
    priority: Mapped[int] = mapped_column(Integer, default=3)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_by: Mapped[str | None] = mapped_column(String(16))
    """Who disabled it: a ``DisabledBy``."""
    full_text: Mapped[bool | None] = mapped_column(Boolean)
    llm: Mapped[bool | None] = mapped_column(Boolean)
    min_interval_minutes: Mapped[float | None] = mapped_column(Float)
    max_interval_minutes: Mapped[float | None] = mapped_column(Float)

    status: Mapped[str] = mapped_column(String(16), default=SourceStatus.ACTIVE)
    """A ``SourceStatus``."""
    feed_title: Mapped[str | None] = mapped_column(Text)
    site_url: Mapped[str | None] = mapped_column(Text)
    feed_id: Mapped[str | None] = mapped_column(Text)
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    document_error: Mapped[str | None] = mapped_column(Text)
    """Why the fetched document the validators belong to could not be used (not a feed, broken);
    None when it could. While it is set, a 304 means that document, so the failure stands."""
    ttl_minutes: Mapped[float | None] = mapped_column(Float)
    hub_url: Mapped[str | None] = mapped_column(Text)
    self_url: Mapped[str | None] = mapped_column(Text)
    """The feed's own URL as it names it (``rel="self"``): the WebSub topic."""
    push_until: Mapped[datetime | None]
    newsletter_address: Mapped[str | None] = mapped_column(String(320), unique=True)
    """A newsletter source's address (``<random>@<domain>``): mail to it becomes its items, and
    it is never polled."""
    dkim_domains: Mapped[list[Any]] = mapped_column(default=list)
    """A newsletter source takes only mail with a valid DKIM signature of one of these domains
    (or a subdomain); empty: any mail."""
    """While a hub pushes this source (a verified WebSub lease), until when: polled then at its
    maximum interval only."""

    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_checked_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_new_at: Mapped[datetime | None]
    next_check_at: Mapped[datetime | None]
    feed_updated_at: Mapped[datetime | None]
    """The feed's own updated date (Atom ``updated``, RSS ``lastBuildDate``), when it has one."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    """The worker polling the source now (see store/claims.py), until ``claimed_until``."""
    claimed_until: Mapped[datetime | None]

    items: Mapped[list[Item]] = relationship(back_populates="source", passive_deletes=True)

    @property
    def label(self) -> str:
        return source_label(self.name, self.feed_title, self.url)


class Item(Base):
    """One story as one source carried it."""

    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source_id", "key_hash", name="uq_items_source_key"),
        Index("ix_items_first_seen", "first_seen_at"),
        Index("ix_items_story", "story_key"),
        Index("ix_items_claimed_by", "claimed_by"),
        Index("ix_items_source_published", "source_id", "published_at"),
        Index("ix_items_published", "published_at"),
        Index(
            "ix_items_ungrouped",
            "published_at",
            "id",
            sqlite_where=text("story_pending = 1"),
            postgresql_where=text("story_pending"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(40))
    """sha1 of the entry's stable key (guid, else link, else title+content hash)."""
    guid: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)
    story_key: Mapped[str] = mapped_column(String(40))
    """The item's story: its own ``link_key`` until grouping (``aggregator/stories/``) finds it
    reports the same event as a story already stored, then that story's key."""
    link_key: Mapped[str | None] = mapped_column(String(40))
    """sha1 of the canonical link (or of the source and entry key): the key the item opens a
    story with; two sources carrying one link share it."""
    story_signature: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    """What grouping compares (``stories.grouping.Signature``): made by the parser, or by
    grouping when NULL."""
    story_pending: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """The item awaits grouping: it is new, or its content changed."""
    title: Mapped[str] = mapped_column(Text, default="")
    author: Mapped[str | None] = mapped_column(Text)
    content_html: Mapped[str] = mapped_column(Text, default="")
    content_text: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(default=list)
    content_hash: Mapped[str] = mapped_column(String(40))
    published_at: Mapped[datetime]
    updated_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    changed_at: Mapped[datetime | None]
    """Set when the content changed after the item was first stored."""
    full_text: Mapped[str | None] = mapped_column(Text)
    """Article text extracted from the page, for teaser-only feeds."""
    dated: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    """False when the feed gave no date and ``published_at`` is when the item was first seen."""
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    """The worker briefing the item now (see store/claims.py), until ``claimed_until``."""
    claimed_until: Mapped[datetime | None]

    source: Mapped[Source] = relationship(back_populates="items")
    brief: Mapped[BriefRow | None] = relationship(
        back_populates="item", uselist=False, passive_deletes=True
    )


class BriefRow(Base):
    """The brief of an item, keyed by the content hash it was made from."""

    __tablename__ = "briefs"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    content_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]
    summarizer: Mapped[str] = mapped_column(String(100))
    llm_tried: Mapped[str | None] = mapped_column(String(100))
    """The LLM (model and prompt) that answered for this content without a usable brief."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    item: Mapped[Item] = relationship(back_populates="brief")


class BriefTranslation(Base):
    """An item's brief in one reader language, keyed by what it was made from (the brief, the
    model and prompt, the language); ``data`` is None when the model answered without a usable
    translation (that content is not sent to that model again)."""

    __tablename__ = "brief_translations"

    item_id: Mapped[int] = mapped_column(
        ForeignKey("items.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(16), primary_key=True)
    content_hash: Mapped[str] = mapped_column(String(64))
    data: Mapped[dict[str, Any] | None]
    translator: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Subscriber(Base):
    """A person who receives digests."""

    __tablename__ = "subscribers"
    __table_args__ = {"sqlite_autoincrement": True}
    """Ids are never reused (links sign them; see migration 0005)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=SubscriberStatus.PENDING)
    """pending, active, paused, unsubscribed or suspended."""
    status_reason: Mapped[str | None] = mapped_column(Text)
    digests: Mapped[list[Any]] = mapped_column(default=list)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    """Source ids; empty means every source."""
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    language: Mapped[str] = mapped_column(String(16), server_default=text("''"))
    """The digest's language (a BCP 47 tag such as "fr" or "pt-BR"); empty: the sources' own."""
    hard_bounces: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    confirmation_sent_at: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class DigestRun(Base):
    """One firing of a digest schedule; unique per schedule time so catch-up never repeats."""

    __tablename__ = "digest_runs"
    __table_args__ = (UniqueConstraint("digest_name", "scheduled_for", name="uq_run_schedule"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    digest_name: Mapped[str] = mapped_column(String(64))
    scheduled_for: Mapped[datetime]
    cutoff: Mapped[datetime]
    """Items first seen up to this instant belong to the run."""
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    """A ``RunStatus``: queued (every delivery row exists) or done."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archive_html: Mapped[str | None] = mapped_column(Text)

    deliveries: Mapped[list[Delivery]] = relationship(back_populates="run")

    @property
    def archive_path(self) -> str:
        """Where the run's public page lives, relative to the published folder."""
        return archive_path(self.digest_name, self.scheduled_for)


def archive_path(digest_name: str, scheduled_for: datetime) -> str:
    """A run's archive page folder, relative to the published folder and to the base URL:
    ``digests/<name>/<YYYY-MM-DD-HHMM>/`` (its scheduled time, UTC)."""
    return f"digests/{digest_name}/{scheduled_for:%Y-%m-%d-%H%M}/"


class Edition(Base):
    """One rendered digest of a run, shared by every subscriber with the same window and filters.

    The HTML and text are stored split at the personal values (``pieces``), so a subscriber's mail
    is spliced together at send time instead of being rendered and stored per subscriber.
    """

    __tablename__ = "editions"
    __table_args__ = (UniqueConstraint("run_id", "key_hash", name="uq_edition_run_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("digest_runs.id", ondelete="CASCADE"))
    key_hash: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(Text)
    item_ids: Mapped[list[Any]] = mapped_column(default=list)
    html_pieces: Mapped[list[Any]] = mapped_column(default=list)
    text_pieces: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Delivery(Base):
    """The outbox: one row per (run, subscriber), so a crash neither loses nor repeats a mail."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("run_id", "subscriber_id", name="uq_delivery_run_subscriber"),
        Index("ix_deliveries_state_next", "state", "next_attempt_at"),
        Index("ix_deliveries_claimed_by", "claimed_by"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("digest_runs.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16), default=DeliveryState.PENDING)
    """pending, rendered, sent, failed, bounced or skipped."""
    since: Mapped[datetime | None]
    """The window's start (exclusive), fixed when the delivery is rendered."""
    window_end: Mapped[datetime | None]
    """The window's end, fixed when rendered: the subscriber's next digest starts here."""
    edition_id: Mapped[int | None] = mapped_column(ForeignKey("editions.id", ondelete="SET NULL"))
    message_id: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_attempt_at: Mapped[datetime | None]
    """When a send was last tried (sent or failed)."""
    fault: Mapped[str | None] = mapped_column(String(16))
    """Whose fault the last failure was when not the recipient's (a ``DeliveryFault``)."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(40))
    """The worker rendering or sending the delivery now (see store/claims.py)."""
    claimed_until: Mapped[datetime | None]

    run: Mapped[DigestRun] = relationship(back_populates="deliveries")
    subscriber: Mapped[Subscriber] = relationship()
    edition: Mapped[Edition | None] = relationship()


class AppState(Base):
    """Installation-wide values every worker shares (the signing key), written once."""

    __tablename__ = "app_state"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RateHit(Base):
    """One rate-limited event (a sign-up from an address), so a limit holds across workers."""

    __tablename__ = "rate_hits"
    __table_args__ = (Index("ix_rate_hits_key_at", "key", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]


class WebSubPing(Base):
    """A hub ping not yet accepted: retried with backoff until the hub takes it."""

    __tablename__ = "websub_pings"

    topic: Mapped[str] = mapped_column(Text, primary_key=True)
    hub_url: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class PushSubscription(Base):
    """A WebSub subscription of one source to its hub (ingest/websub.py)."""

    __tablename__ = "push_subscriptions"

    source_id: Mapped[int] = mapped_column(
        ForeignKey("sources.id", ondelete="CASCADE"), primary_key=True
    )
    callback_token: Mapped[str] = mapped_column(String(64), unique=True)
    """The unguessable last part of the callback URL."""
    hub_url: Mapped[str] = mapped_column(Text)
    topic_url: Mapped[str] = mapped_column(Text)
    secret: Mapped[str] = mapped_column(String(128))
    """The ``hub.secret`` pushed content is signed with."""
    state: Mapped[str] = mapped_column(String(16), default=PushState.SUBSCRIBING)
    """A ``PushState``."""
    lease_until: Mapped[datetime | None]
    verified_at: Mapped[datetime | None]
    """When the hub last verified a subscription (its lease runs from there)."""
    requested_at: Mapped[datetime | None]
    """When the hub was last asked (subscribe, renew or unsubscribe)."""
    next_attempt_at: Mapped[datetime | None]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_push_at: Mapped[datetime | None]
    pushes: Mapped[int] = mapped_column(Integer, default=0)


class InboundMail(Base):
    """A mail the inbound listener accepted for a newsletter source (``sources show``)."""

    __tablename__ = "inbound_mails"
    __table_args__ = (Index("ix_inbound_mails_source", "source_id", "received_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id", ondelete="CASCADE"))
    received_at: Mapped[datetime]
    mail_from: Mapped[str] = mapped_column(Text, default="")
    """The envelope sender."""
    from_header: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    message_id: Mapped[str] = mapped_column(Text, default="")
    dkim: Mapped[str] = mapped_column(String(16), default="none")
    """``pass`` (with ``dkim_domain``), ``fail`` or ``none``; prefixed ``refused:`` when the
    source requires a signature this is not."""
    dkim_domain: Mapped[str | None] = mapped_column(Text)
    spf: Mapped[str] = mapped_column(String(16), default="none")
    """The SPF result the trusted relay in front recorded (inbound/spf.py), else ``none``."""
    item_id: Mapped[int | None] = mapped_column(ForeignKey("items.id", ondelete="SET NULL"))
    """The item it became; None when it was one already stored."""


def table_of(model: type[Base]) -> Table:
    """The Core table of a model, for statements that need no ORM objects."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


SOURCES = table_of(Source)
ITEMS = table_of(Item)
DELIVERIES = table_of(Delivery)
PUSH_SUBSCRIPTIONS = table_of(PushSubscription)
CLAIMED_TABLES = (SOURCES, ITEMS, DELIVERIES)
"""The tables whose rows workers claim (store/claims.py)."""

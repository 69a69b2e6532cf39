"""The outbox: one row per (digest run, subscriber), so a crash neither loses nor repeats a mail.

A run moves through three steps, each committed before the next begins:

1. **queue** (:meth:`Outbox.start_run`): the run row and a ``pending`` delivery per active
   subscriber are written in one transaction, so a crash leaves either all of them or none.
2. **render** (:meth:`Outbox.render_pending`): each pending row gets its edition (rendered once
   for every subscriber with the same window and filters) and a fixed Message-ID, and becomes
   ``rendered``.
3. **send** (:meth:`Outbox.send_due`): each rendered row's mail is spliced from its edition,
   handed to the transport and its outcome committed at once: ``sent``, retried later after a
   temporary failure, or ``bounced`` after a permanent one.

Rendering and sending work on claimed rows (``store/claims.py``): any number of workers, in one
process or many, render and send the same queue, and each delivery has one owner at a time, so
nobody gets a digest twice. A killed worker's claims run out after the lease and its rows are
taken over. Restarting after a kill at any moment resumes where the rows say. The one window that can repeat
a mail is between the server accepting a message and our commit of ``sent``: at most one message
per connection, which we keep as short as one commit.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    bindparam,
    exists,
    func,
    insert,
    select,
    true,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from aggregator.briefs.llm import LLMSummarizer
from aggregator.briefs.pipeline import llm_for, on_demand
from aggregator.briefs.translate import TranslationJob, translate_briefs
from aggregator.config import DigestSettings, Settings
from aggregator.digest.compose import (
    choose_stories,
    digest_view,
    previous_fire_time,
    same_language,
    subject_line,
)
from aggregator.digest.render import personal_values, prepare
from aggregator.mail.links import link_path
from aggregator.mail.message import (
    MessageError,
    MessageTemplate,
    dkim_signer,
    make_message_id,
)
from aggregator.mail.transport import (
    DeliveryError,
    MessageRefused,
    PermanentFailure,
    SendResult,
    Transport,
    TransportUnavailable,
    transport_for,
)
from aggregator.mail.verp import bounce_address
from aggregator.model.brief import Brief
from aggregator.model.status import (
    NOTHING_NEW,
    UNFINISHED,
    DeliveryFault,
    DeliveryState,
    RunStatus,
    SubscriberStatus,
)
from aggregator.store.claims import claim, new_token, release, write_transaction
from aggregator.store.db import Database, chunked
from aggregator.store.items import settled_now
from aggregator.store.models import (
    DELIVERIES,
    Delivery,
    DigestRun,
    Edition,
    Item,
    Subscriber,
    source_label,
    utcnow,
)
from aggregator.store.stories import BriefMissing, Story
from aggregator.store.subscribers import record_hard_bounce

log = logging.getLogger("aggregator.outbox")
RENDER_BATCH = 500
SEND_BATCH = 100
"""Deliveries claimed at a time for sending: small enough that several workers share a run."""
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
_MARK_SENT = (
    update(Delivery)
    .where(Delivery.id == bindparam("delivery"), Delivery.claimed_by == bindparam("token"))
    .values(
        state=DeliveryState.SENT,
        sent_at=bindparam("now"),
        last_attempt_at=bindparam("now"),
        last_error=None,
        fault=None,
        attempts=Delivery.attempts + 1,
        claimed_by=None,
        claimed_until=None,
    )
)
_RECORD_RENDER = (
    update(Delivery)
    .where(Delivery.id == bindparam("_id"))
    .values(
        {
            c: bindparam(c)
            for c in ("state", "edition_id", "message_id", "next_attempt_at", "since", "window_end")
        }
        | {"last_error": bindparam("error")}
    )
)


@dataclass(slots=True)
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    bounced: int = 0
    transport_failures: int = 0
    """Failures of the relay or the configuration (a refused sender or message, no server):
    retried, and no subscriber's bounce."""
    errors: list[str] = field(default_factory=list)


class Outbox:
    """Queues, renders and sends digest runs; every step is resumable."""

    def __init__(
        self,
        db: Database,
        settings: Settings,
        *,
        secret_key: str,
        transport: Transport | None = None,
        clock: Callable[[], datetime] = utcnow,
        token: str | None = None,
        brief_missing: BriefMissing | None = None,
    ):
        self.db = db
        self.brief_missing = brief_missing or on_demand(db, settings)
        """Makes the briefs an edition is about to show (claimed by the pipeline's token)."""
        self.settings = settings
        self.secret_key = secret_key
        self.transport = transport or transport_for(settings)
        self.clock = clock
        self.token = token or new_token()
        """This worker's claim token."""
        self.lease = timedelta(seconds=settings.general.lease_seconds)
        self.stopping = threading.Event()
        """Set on shutdown: no new batch is claimed and no new mail started (the pipeline then gives
back what this worker still holds)."""
        self._sign = dkim_signer(settings)

    # --- 1. queue -------------------------------------------------------------------------

    def start_run(
        self, digest_name: str, scheduled_for: datetime, *, only: Sequence[int] = ()
    ) -> int | None:
        """Create the run for ``scheduled_for`` with a pending row per active subscriber (or per
        active subscriber among ``only``).

        Returns the run id, or None when that scheduled time already has a run (never twice), or
        when none of ``only`` gets this digest (then no run is written).
        """
        digest = self._digest(digest_name)
        now = self.clock()
        try:
            with self.db.session() as session:
                run = DigestRun(
                    digest_name=digest.name,
                    scheduled_for=scheduled_for,
                    cutoff=now,
                    status=RunStatus.QUEUED,
                )
                session.add(run)
                session.flush()
                rows = self._queue_rows(session, digest, run, only=only)
                if rows:
                    session.execute(insert(Delivery), rows)
                elif only:  # a send to a few who do not get this digest: no run at all
                    session.rollback()
                    return None
                else:
                    run.status = RunStatus.DONE
                run_id = run.id
        except IntegrityError:
            return None
        log.info("digest=%s run=%d queued deliveries=%d", digest.name, run_id, len(rows))
        return run_id

    def top_up(
        self, digest_name: str, scheduled_for: datetime, *, only: Sequence[int] = ()
    ) -> tuple[int | None, int]:
        """Add to the run of ``scheduled_for`` the active subscribers who have no row in it yet:
        those who arrived (or resumed, or chose this digest) after it was queued get the latest
        edition now instead of waiting for the next one. Returns (run id, rows added).
        """
        digest = self._digest(digest_name)
        with self.db.session() as session:
            run = session.scalar(
                select(DigestRun).where(
                    DigestRun.digest_name == digest.name, DigestRun.scheduled_for == scheduled_for
                )
            )
            if run is None:
                return None, 0
            rows = self._queue_rows(session, digest, run, only=only)
            insert_rows = self.db.insert(Delivery).on_conflict_do_nothing()
            added = session.execute(insert_rows.returning(Delivery.id), rows).all() if rows else []
            revived = self._revive_empty(session, run, only)
            if added or revived:
                run.status = RunStatus.QUEUED
                log.info(
                    "digest=%s run=%d added deliveries=%d revived=%d",
                    digest.name,
                    run.id,
                    len(added),
                    revived,
                )
            return run.id, len(added) + revived

    def _queue_rows(
        self,
        session: Session,
        digest: DigestSettings,
        run: DigestRun,
        *,
        only: Sequence[int] = (),
    ) -> list[dict]:
        """Pending rows for the active subscribers of ``digest`` that ``run`` does not have."""
        query = (
            select(Subscriber)
            .where(Subscriber.status == SubscriberStatus.ACTIVE)
            .where(
                ~exists().where(Delivery.run_id == run.id, Delivery.subscriber_id == Subscriber.id)
            )
            .order_by(Subscriber.id)
        )
        if only:
            query = query.where(Subscriber.id.in_(only))
        chosen = [s for s in session.scalars(query) if digest.name in (s.digests or [])]
        return [
            {
                "run_id": run.id,
                "subscriber_id": s.id,
                "state": DeliveryState.PENDING,
                "attempts": 0,
                "created_at": self.clock(),
            }
            for s in chosen
        ]

    def _revive_empty(self, session: Session, run: DigestRun, only: Sequence[int]) -> int:
        """Put back in the queue this run's deliveries skipped as empty when items were stored
        after their window closed: an edition skipped for want of news is not "had"."""
        query = (
            update(Delivery)
            .where(
                Delivery.run_id == run.id,
                Delivery.state == DeliveryState.SKIPPED,
                Delivery.last_error == NOTHING_NEW,
                Delivery.window_end.is_not(None),
                exists().where(Item.first_seen_at > Delivery.window_end),
            )
            .values(state=DeliveryState.PENDING, last_error=None, window_end=None)
        )
        if only:
            query = query.where(Delivery.subscriber_id.in_(only))
        return session.connection().execute(query).rowcount

    # --- 2. render ------------------------------------------------------------------------

    def render_pending(self) -> int:
        """Give every pending delivery its edition and Message-ID; returns how many were handled.

        Subscribers with the same window and filters share one edition, rendered once; the
        per-subscriber part (links, headers) is spliced in when the mail is sent.
        """
        done = 0
        editions: dict[tuple, int | None] = {}
        llm = llm_for(self.settings)  # translations for readers of another language, this run
        while not self.stopping.is_set():
            ids = claim(
                self.db,
                DELIVERIES,
                token=self.token,
                lease=self.lease,
                now=self.clock(),
                where=[DELIVERIES.c.state == DeliveryState.PENDING],
                limit=RENDER_BATCH,
            )
            if not ids:
                break
            outcomes = self._render_batch(ids, editions, llm)
            with self.db.engine.begin() as connection:
                held = release(connection, DELIVERIES, ids, token=self.token, what="delivery")
                rows = [{"_id": i} | values for i, values in outcomes.items() if i in held]
                if rows:
                    connection.execute(_RECORD_RENDER, rows)
            done += len(ids)
        return done

    def _render_batch(
        self, ids: Sequence[int], editions: dict[tuple, int | None], llm: LLMSummarizer | None
    ) -> dict[int, dict]:
        """What each claimed delivery becomes: rendered (with its edition), skipped or failed.

        Each window is fixed now: from the end of the subscriber's last digest of that name that
        was sent or is on its way (a greylisted mail still waiting for its retry counts), to
        this moment, so a run queued before the first poll mails what that poll brought.
        """
        outcomes: dict[int, dict] = {}
        now = settled_now(self.db, self.clock)  # what a store under way brings is in, or later
        with self.db.session() as session:
            rows = session.scalars(
                select(Delivery)
                .where(Delivery.id.in_(ids))
                .options(joinedload(Delivery.subscriber), joinedload(Delivery.run))
                .order_by(Delivery.id)
            ).all()
            starts = window_starts(session, {(r.run.digest_name, r.subscriber_id) for r in rows})
            for row in rows:
                try:
                    outcomes[row.id] = self._render_one(session, row, editions, starts, now, llm)
                except Exception as exc:  # one bad row must not stop the run
                    log.exception("delivery=%d could not be rendered", row.id)
                    outcomes[row.id] = _rendered(
                        DeliveryState.FAILED, f"render failed: {exc}"[:1000]
                    )
        return outcomes

    def _render_one(
        self,
        session: Session,
        row: Delivery,
        editions: dict[tuple, int | None],
        starts: dict[tuple[str, int], datetime],
        now: datetime,
        llm: LLMSummarizer | None = None,
    ) -> dict:
        subscriber, run = row.subscriber, row.run
        if subscriber.status != SubscriberStatus.ACTIVE:
            return _rendered(DeliveryState.SKIPPED, f"subscriber is {subscriber.status}")
        digest = self.settings.digest(run.digest_name)
        if digest is None:
            return _rendered(
                DeliveryState.SKIPPED, f"digest {run.digest_name!r} is no longer configured"
            )
        since = starts.get((digest.name, subscriber.id)) or first_window_start(digest, run, now)
        key = (
            run.id,
            since,
            now,
            tuple(sorted(subscriber.tags)),
            tuple(sorted(subscriber.sources)),
            subscriber.timezone,
        ) + ((subscriber.language,) if subscriber.language else ())
        if key not in editions:
            editions[key] = self._edition(session, digest, run, (since, now), subscriber, key, llm)
        window = {"since": since, "window_end": now}
        if editions[key] is None:
            return _rendered(DeliveryState.SKIPPED, NOTHING_NEW, **window)
        starts[(digest.name, subscriber.id)] = now  # a later run in this batch starts here
        return _rendered(
            DeliveryState.RENDERED,
            None,
            edition_id=editions[key],
            message_id=make_message_id(self.settings.mail.from_address.rpartition("@")[2]),
            next_attempt_at=now,
            **window,
        )

    def _edition(
        self,
        session: Session,
        digest: DigestSettings,
        run: DigestRun,
        window: tuple[datetime, datetime],
        subscriber: Subscriber,
        key: tuple,
        llm: LLMSummarizer | None = None,
    ) -> int | None:
        """The id of the stored edition for one group of subscribers (None: nothing to send):
        one per window, filters, time zone and language."""
        key_hash = hashlib.sha1(repr(key).encode()).hexdigest()
        existing = session.scalar(
            select(Edition.id).where(Edition.run_id == run.id, Edition.key_hash == key_hash)
        )
        if existing is not None:
            return existing
        chosen = choose_stories(
            session,
            digest,
            since=window[0],
            until=window[1],
            source_ids=subscriber.sources or (),
            tags=subscriber.tags or (),
            brief_missing=self.brief_missing,
        )
        if not chosen and not digest.send_empty:
            return None
        language = subscriber.language
        view = digest_view(
            self.settings,
            digest,
            chosen,
            moment=window[1],  # headed with the day it is sent, in the subscriber's zone
            timezone=subscriber.timezone,
            archive_url=archive_url(self.settings, run),
            language=language,
            translated=story_translations(self.db, chosen, language, llm) if language else None,
        )
        rendered = prepare(view, templates_dir=self.settings.templates_dir)
        edition = {
            "run_id": run.id,
            "key_hash": key_hash,
            "subject": subject_line(digest, view, len(chosen)),
            "item_ids": [i.id for s in chosen for i in s.items],
            "html_pieces": rendered.pieces("html"),
            "text_pieces": rendered.pieces("text"),
            "created_at": self.clock(),
        }
        # Another worker may render the same edition at the same time: the first one stored wins.
        with write_transaction(self.db) as connection:
            connection.execute(self.db.insert(Edition).values(edition).on_conflict_do_nothing())
            return connection.scalar(
                select(Edition.id).where(Edition.run_id == run.id, Edition.key_hash == key_hash)
            )

    # --- 3. send --------------------------------------------------------------------------

    def send_due(self) -> SendReport:
        """Send every rendered delivery whose next attempt is due.

        Deliveries are claimed a batch at a time, so several workers share a run. Each sending
        thread commits a message's outcome on its own connection right after the server answers,
        before it sends anything else: per connection, at most one accepted message is ever
        uncommitted, and only for the time of one small commit.
        """
        report = SendReport()
        sender = self.settings.mail.from_address
        templates: dict[int, tuple[MessageTemplate, datetime]] = {}
        lock = threading.Lock()
        local = threading.local()
        connections: list[Connection] = []

        def mark_sent(delivery_id: int) -> None:
            connection = getattr(local, "connection", None)
            if connection is None:
                connection = local.connection = self.db.engine.connect()
                with lock:
                    connections.append(connection)
            marked = connection.execute(
                _MARK_SENT, {"delivery": delivery_id, "now": self.clock(), "token": self.token}
            ).rowcount
            connection.commit()
            if not marked:
                log.warning("delivery=%d sent, but its claim was lost (lease ran out)", delivery_id)

        def send_one(row: Row) -> None:
            if self.stopping.is_set():
                return  # the pipeline gives it back; whoever runs next sends it
            try:
                message = self._message(row, templates)
                outcome: SendResult | DeliveryError = self.transport.send(
                    self._envelope_sender(sender, row.id), row.email, message
                )
            except (MessageError, ValueError) as exc:
                outcome = MessageRefused(row.email, None, str(exc), "build")  # ours, not theirs
            except DeliveryError as exc:
                outcome = exc
            if isinstance(outcome, DeliveryError):
                with lock:
                    self._record_failure(row.id, outcome, report)
                return
            mark_sent(row.id)
            with lock:
                report.sent += 1

        try:
            with ThreadPoolExecutor(max_workers=self.transport.concurrency) as pool:
                while not self.stopping.is_set():
                    now = self.clock()
                    ids = claim(
                        self.db,
                        DELIVERIES,
                        token=self.token,
                        lease=self.lease,
                        now=now,
                        where=[
                            DELIVERIES.c.state == DeliveryState.RENDERED,
                            DELIVERIES.c.next_attempt_at <= now,
                        ],
                        limit=SEND_BATCH,
                    )
                    if not ids:
                        break
                    with self.db.session() as session:
                        due = self._rows(session, Delivery.id.in_(ids), None, templates)
                    for future in [pool.submit(send_one, row) for row in due]:
                        future.result()
        finally:
            for connection in connections:
                connection.close()
        self._close_finished_runs()
        return report

    def _envelope_sender(self, sender: str, delivery_id: int) -> str:
        """With the inbound listener on, a VERP address naming the delivery (its late bounce
        comes back there), else ``sender``."""
        inbound = self.settings.mail.inbound
        if not inbound.enabled:
            return sender
        return bounce_address(
            inbound.bounce_local_part, inbound.domain, self.secret_key, delivery_id
        )

    def _rows(
        self, session: Session, where: ColumnElement[bool], limit: int | None, templates: dict
    ) -> list[Row]:
        """Rendered deliveries matching ``where``, loading their editions' templates."""
        query = (
            select(
                Delivery.id,
                Delivery.subscriber_id,
                Delivery.edition_id,
                Delivery.message_id,
                Subscriber.email,
            )
            .join(Subscriber)
            .where(Delivery.state == DeliveryState.RENDERED, where)
            .order_by(Delivery.id)
            .limit(limit)
        )
        due = list(session.execute(query).all())
        for edition_id in {r.edition_id for r in due} - templates.keys():
            templates[edition_id] = self._template(session, edition_id)
        return due

    def messages(self, limit: int) -> list[tuple[str, bytes]]:
        """``(recipient, mail)`` of the first rendered deliveries, built exactly as sending would."""
        templates: dict[int, tuple[MessageTemplate, datetime]] = {}
        with self.db.session() as session:
            due = self._rows(session, true(), limit, templates)
        return [(row.email, self._message(row, templates)) for row in due]

    def _template(self, session: Session, edition_id: int) -> tuple[MessageTemplate, datetime]:
        """The edition as a mail template, and when it was rendered (every mail's Date header)."""
        edition, digest_name, created = session.execute(
            select(Edition, DigestRun.digest_name, Edition.created_at)
            .join(DigestRun)
            .where(Edition.id == edition_id)
        ).one()
        digest = self.settings.digest(digest_name)
        mail = self.settings.mail
        template = MessageTemplate(
            sender=mail.from_address,
            sender_name=mail.from_name,
            subject=edition.subject,
            text=edition.text_pieces,
            html=edition.html_pieces,
            list_id=mail.list_id,
            list_name=f"{self.settings.general.name} {digest.title if digest else digest_name}",
            unsubscribe_mailto=mail.unsubscribe_mailto or mail.from_address,
        )
        return template, created

    def _message(self, row: Row, templates: dict[int, tuple[MessageTemplate, datetime]]) -> bytes:
        """One subscriber's mail: the edition's template with their links and headers."""
        template, date = templates[row.edition_id]
        base = self.settings.general.base_url
        unsubscribe = base + link_path(self.secret_key, "unsubscribe", row.subscriber_id)
        preferences = base + link_path(self.secret_key, "preferences", row.subscriber_id)
        html_values, text_values = personal_values(
            unsubscribe_url=unsubscribe, preferences_url=preferences, recipient=row.email
        )
        message = template.build(
            recipient=row.email,
            unsubscribe_url=unsubscribe,
            text_values=text_values,
            html_values=html_values,
            message_id=row.message_id,
            date=date,
        )
        return self._sign(message) if self._sign is not None else message

    def _record_failure(self, delivery_id: int, outcome: DeliveryError, report: SendReport) -> None:
        """Retry later, give up, or bounce (and perhaps suspend the subscriber)."""
        with self.db.session() as session:
            if release(session.connection(), DELIVERIES, [delivery_id], token=self.token):
                row = session.get(Delivery, delivery_id)
                assert row is not None
                self._failure(row, outcome, report)

    def _failure(self, row: Delivery, outcome: DeliveryError, report: SendReport) -> None:
        now = self.clock()
        row.attempts += 1
        row.last_error = str(outcome)[:1000]
        row.last_attempt_at = now
        row.fault = _fault(outcome)
        if isinstance(outcome, PermanentFailure):
            row.state = DeliveryState.BOUNCED
            report.bounced += 1
            self._hard_bounce(row.subscriber, str(outcome))
        elif row.attempts >= self.settings.mail.max_attempts:
            row.state = DeliveryState.FAILED
            report.failed += 1
        else:
            row.next_attempt_at = now + min(RETRY_BASE * 2 ** (row.attempts - 1), RETRY_CAP)
            report.retried += 1
        report.errors.append(f"{row.subscriber.email}: {outcome}")
        fault = isinstance(outcome, (MessageRefused, TransportUnavailable))
        if fault:
            report.transport_failures += 1
        log.log(
            logging.ERROR if fault else logging.WARNING,
            "delivery=%d subscriber=%s state=%s error=%s%s",
            row.id,
            row.subscriber.email,
            row.state,
            row.last_error,
            " (a relay or configuration fault, not the subscriber's: nobody bounced)"
            if fault
            else "",
        )

    def _hard_bounce(self, subscriber: Subscriber, error: str) -> None:
        if record_hard_bounce(subscriber, error, threshold=self.settings.mail.bounce_threshold):
            log.warning("subscriber=%s suspended: %s", subscriber.email, subscriber.status_reason)

    def _close_finished_runs(self) -> None:
        with self.db.session() as session:
            open_runs = session.scalars(
                select(DigestRun).where(DigestRun.status == RunStatus.QUEUED)
            ).all()
            for run in open_runs:
                busy = session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.run_id == run.id, Delivery.state.in_(UNFINISHED))
                )
                if not busy:
                    run.status = RunStatus.DONE

    # --- all together ---------------------------------------------------------------------

    def deliver(self) -> SendReport:
        """Render what is pending, then send what is due."""
        self.render_pending()
        return self.send_due()

    def _digest(self, name: str) -> DigestSettings:
        digest = self.settings.digest(name)
        if digest is None:
            known = ", ".join(d.name for d in self.settings.digests) or "none"
            raise ValueError(f"no digest named {name!r} in {self.settings.origin} (known: {known})")
        return digest


def _fault(outcome: DeliveryError) -> DeliveryFault | None:
    """Whose fault a failed send was, when it was the relay's."""
    if isinstance(outcome, TransportUnavailable):
        return DeliveryFault.UNAVAILABLE
    if isinstance(outcome, MessageRefused) and outcome.by_relay:
        return DeliveryFault.REFUSED
    return None


def story_translations(
    db: Database, stories: Sequence[Story], language: str, llm: LLMSummarizer | None
) -> dict[int, Brief]:
    """The briefs of ``stories`` in ``language`` that the cache or the model has, by primary
    item id; a source the model does not serve (and every source, without a model) gets only
    what the cache holds."""
    served: list[TranslationJob] = []
    others: list[TranslationJob] = []
    for story in stories:
        item, row = story.primary, story.primary.brief
        if row is None or same_language(story.brief.language, language):
            continue
        source = item.source
        job = TranslationJob(
            item.id,
            item.title or story.brief.title,
            story.brief,
            row.content_hash,
            source_label(source.name, source.feed_title, source.url),
        )
        uses_llm = llm is not None and llm.serves(source.tags or (), source.llm)
        (served if uses_llm else others).append(job)
    return translate_briefs(db, llm, served, language) | translate_briefs(
        db, None, others, language
    )


HAD = (DeliveryState.SENT, DeliveryState.RENDERED)
"""A subscriber has had a window when its mail was sent or is on its way (awaiting a retry)."""


def first_window_start(digest: DigestSettings, run: DigestRun, now: datetime) -> datetime:
    """Where a subscriber's first digest of ``digest`` starts: the schedule's firing before the
    run's (a day back when there is none)."""
    return previous_fire_time(digest, run.scheduled_for) or now - timedelta(days=1)


def window_starts(
    session: Session, pairs: Iterable[tuple[str, int]]
) -> dict[tuple[str, int], datetime]:
    """Per (digest name, subscriber id), the end of the last window they had (sent, or rendered
    and on its way): their next digest of that name holds what is new since then."""
    wanted = set(pairs)
    ends: dict[tuple[str, int], datetime] = {}
    end = func.max(func.coalesce(Delivery.window_end, DigestRun.cutoff))
    query = (
        select(DigestRun.digest_name, Delivery.subscriber_id, end)
        .join(DigestRun)
        .where(Delivery.state.in_(HAD))
        .group_by(DigestRun.digest_name, Delivery.subscriber_id)
    )
    for chunk in chunked(sorted({subscriber for _name, subscriber in wanted})):
        for name, subscriber, last in session.execute(
            query.where(Delivery.subscriber_id.in_(chunk))
        ):
            if (name, subscriber) in wanted:
                ends[(name, subscriber)] = last
    return ends


def archive_url(settings: Settings, run: DigestRun) -> str:
    """The public URL of the run's archive page."""
    return f"{settings.general.base_url}/{run.archive_path}"


def _rendered(state: str, error: str | None, **values: object) -> dict:
    """The columns a render records for one delivery."""
    return {
        "state": state,
        "error": error,
        "edition_id": None,
        "message_id": None,
        "next_attempt_at": None,
        "since": None,
        "window_end": None,
    } | values

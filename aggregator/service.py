"""The service: one cycle (``run --once``) and the long-lived scheduler plus web server (``run``).

Data flows one way: poll → brief → digest → deliver, and store → publish. Each step is a plain
function of the App and a clock, so tests drive them without sleeping.

Any number of processes may run at once on one database. Polling, briefing and delivery work on
claimed rows, so they are shared and nothing is done twice; the singletons (cron digest runs and
their catch-up, publishing, the archive index, WebSub pings) run only on the leader, the one
process holding the leader lock. Only the outbox tick renders and sends mail: a digest job
queues its run and wakes that tick.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import exists, func, select

from aggregator.app import App
from aggregator.briefs.llm import LLMSummarizer
from aggregator.briefs.llm_queue import spend_llm_calls
from aggregator.briefs.pipeline import (
    BriefWorkers,
    fetch_full_texts,
    glossary_for,
    llm_for,
    make_brief_batches,
    make_briefs,
)
from aggregator.config import DigestSettings
from aggregator.digest.compose import latest_fire_time, next_fire_time
from aggregator.digest.outbox import Outbox, SendReport
from aggregator.inbound.listener import start_listener
from aggregator.ingest.poll import Poller, PollReport, SourceOutcome
from aggregator.ingest.websub import maintain_now as maintain_subscriptions
from aggregator.logs import source_fields
from aggregator.mail.transport import Transport
from aggregator.metrics import record_poll
from aggregator.model.status import POLL_FAILURES, PollResult
from aggregator.publish.archive import run_page, write_index, write_run_page
from aggregator.publish.publisher import PublishResult, publish
from aggregator.publish.websub import send_due_pings
from aggregator.store.claims import (
    Heartbeat,
    claim,
    claim_ids,
    new_token,
    reap_dead_local_claims,
    release_all,
)
from aggregator.store.items import briefed, content_version
from aggregator.store.llm_usage import record_llm_run
from aggregator.store.locks import Leadership
from aggregator.store.models import CLAIMED_TABLES, ITEMS, BriefRow, DigestRun, Source, utcnow
from aggregator.templating import TemplateError
from aggregator.web.server import raise_open_files_limit

log = logging.getLogger("aggregator.service")


BRIEF_BATCH = 200
LLM_BRIEF_BATCH = 20
"""Items claimed at a time for briefs: fewer with an LLM, whose calls are slow."""
BRIEF_WAIT_SECONDS = 10.0
"""How long a digest or the feed waits for a brief another worker is making."""


@dataclass(slots=True)
class CycleReport:
    """What one ``run --once`` cycle did."""

    poll: PollReport
    runs: list[int]
    delivery: SendReport
    published: PublishResult


class Pipeline:
    """The steps of the pipeline, sharing one App, one clock, one claim token and one outbox."""

    def __init__(
        self,
        app: App,
        *,
        transport: Transport | None = None,
        clock: Callable[[], datetime] = utcnow,
    ):
        self.app = app
        self.clock = clock
        self.token = new_token()
        """This process's claim token, for every table it works on."""
        self.lease = timedelta(seconds=app.settings.general.lease_seconds)
        self.poller = Poller(app.db, app.settings, clock=clock, token=self.token)
        self.outbox = Outbox(
            app.db,
            app.settings,
            secret_key=app.secret_key,
            transport=transport,
            clock=clock,
            token=self.token,
            brief_missing=self.brief_missing,
        )
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        """Serialises polls and publishing between the scheduler's jobs."""
        self._brief_lock = threading.Lock()
        self._brief_workers: BriefWorkers | None = None
        self._published: tuple | None = None
        reap_dead_local_claims(app.db, CLAIMED_TABLES)
        self.heartbeat = Heartbeat(
            app.db, CLAIMED_TABLES, token=self.token, lease=self.lease, clock=clock
        ).start()

    def poll(
        self,
        *,
        due_only: bool = True,
        ids: list[int] | None = None,
        on_outcome: Callable[[SourceOutcome], None] | None = None,
    ) -> PollReport:
        """Poll (the sources ``ids``, else the due ones, else all), store what is new and fetch
        article text for teasers; briefs are a separate step (:meth:`brief`)."""
        with self._lock:
            if ids is None and not due_only:
                ids = self.poller.choose(due_only=False)
            if ids is None:
                report = asyncio.run(self.poller.poll_due(on_outcome=on_outcome))
            elif ids:
                report = asyncio.run(self.poller.poll(ids, on_outcome=on_outcome))
            else:
                report = PollReport()
            for outcome in report.outcomes:
                if outcome.result != PollResult.BUSY:  # not polled here
                    record_poll(outcome.elapsed, outcome.result not in POLL_FAILURES)
            fresh = report.new_item_ids + report.changed_item_ids
            if fresh:
                asyncio.run(fetch_full_texts(self.app.db, self.app.settings, fresh))
            return report

    @property
    def brief_workers(self) -> BriefWorkers:
        """The processes that make extractive briefs (started on the first big batch)."""
        if self._brief_workers is None:
            self._brief_workers = BriefWorkers(glossary_for(self.app.settings))
        return self._brief_workers

    def brief(self) -> int:
        """Brief every item without a brief (new, changed, or left by a worker that died),
        newest first (what the next digest and the published feed show); returns how many
        briefs were made.

        Items are claimed a batch at a time, so two workers never brief the same item; the
        briefs are made on every core, the next batch claimed while they make one. Stops at the
        next batch on shutdown.
        """
        settings, db = self.app.settings, self.app.db
        llm = llm_for(settings)

        def claimed_batches() -> Iterator[list[int]]:
            while not self.stopping.is_set():
                ids = claim(
                    db,
                    ITEMS,
                    token=self.token,
                    lease=self.lease,
                    now=self.clock(),
                    where=[~exists().where(BriefRow.item_id == ITEMS.c.id)],
                    order_by=[ITEMS.c.published_at.desc(), ITEMS.c.id.desc()],
                    limit=BRIEF_BATCH,
                )
                if not ids:
                    return
                yield ids

        with self._brief_lock:
            made = make_brief_batches(
                db,
                settings,
                claimed_batches(),
                claim_token=self.token,
                workers=self.brief_workers,
            ).made

            def with_llm(ids: list[int]) -> None:
                nonlocal made
                ids = claim_ids(
                    db, ITEMS, ids, token=self.token, lease=self.lease, now=self.clock()
                )
                if ids and not self.stopping.is_set():
                    made += self._make(ids, llm)

            if llm is not None:
                spend_llm_calls(db, llm, with_llm, LLM_BRIEF_BATCH)
                record_llm_run(db, llm.usage())
        return made

    def _make(self, ids: list[int], llm: LLMSummarizer | None) -> int:
        report = make_briefs(
            self.app.db,
            self.app.settings,
            ids,
            llm=llm,
            claim_token=self.token,
            workers=self.brief_workers,
        )
        return report.made

    def brief_missing(self, item_ids: Sequence[int]) -> None:
        """Make the briefs of these items now (a digest or the published feed is about to show
        them); an item another worker is briefing is waited for, a few seconds at most."""
        db = self.app.db
        ids = claim_ids(db, ITEMS, item_ids, token=self.token, lease=self.lease, now=self.clock())
        if ids and (made := self._make(ids, None)):
            log.info("briefs: %d made on demand", made)
        others = set(item_ids) - set(ids)
        deadline = time.monotonic() + BRIEF_WAIT_SECONDS
        while others and time.monotonic() < deadline and not self.stopping.is_set():
            time.sleep(0.1)
            others -= briefed(db, others)

    def start_due_digests(self) -> list[int]:
        """Queue each digest's latest scheduled time (the catch-up); returns the runs that got
        new deliveries.

        A service that was down at 07:00 sends the 07:00 digest once when it starts; older
        missed times are not repeated. A run stays open until the next scheduled time:
        subscribers who arrive meanwhile get it too (a first digest in minutes, not tomorrow).
        """
        runs = (self.start_due_digest(digest) for digest in self.app.settings.digests)
        return [run_id for run_id in runs if run_id is not None]

    def start_due_digest(self, digest: DigestSettings) -> int | None:
        """Queue the run of the digest's latest scheduled time, or add newcomers to it; returns
        the run's id when it got new deliveries."""
        fire_time = latest_fire_time(digest, self.clock())
        if fire_time is None:
            return None
        return self.queue_digest(digest, fire_time)

    def queue_digest(
        self,
        digest: DigestSettings,
        scheduled_for: datetime,
        *,
        only: Sequence[int] = (),
        publish: bool = True,
    ) -> int | None:
        """Create the run of ``scheduled_for`` (writing its archive page), or top it up with
        subscribers it lacks; returns the run's id when it got new deliveries.

        A test send (``publish`` False, ``only`` a few subscribers) writes no archive page; the
        run's page is written when the run is next topped up for everyone.
        """
        run_id = self.outbox.start_run(digest.name, scheduled_for, only=only)
        if run_id is None:
            run_id, added = self.outbox.top_up(digest.name, scheduled_for, only=only)
            if run_id is None or not added:
                return None
            if not publish or self._has_page(run_id):
                return run_id
        elif not publish:
            return run_id
        try:
            write_run_page(self.app.db, self.app.settings, run_id, brief_missing=self.brief_missing)
            write_index(self.app.db, self.app.settings)
        except TemplateError as exc:  # the mail is queued all the same
            log.error("run=%d archive page not written: %s", run_id, exc)
        return run_id

    def _has_page(self, run_id: int) -> bool:
        """Whether the run's archive page is written."""
        with self.app.db.session() as session:
            run = session.get(DigestRun, run_id)
            return run is None or run_page(self.app.settings, run).is_file()

    def deliver(self) -> SendReport:
        """Render what is pending and send what is due (the one path that sends mail)."""
        return self.outbox.deliver()

    def publish(self) -> PublishResult:
        with self._lock:
            self._published = content_version(self.app.db)
            result = publish(self.app.db, self.app.settings, brief_missing=self.brief_missing)
        write_index(self.app.db, self.app.settings)
        return result

    def publish_if_changed(self) -> PublishResult | None:
        """Publish when items or briefs changed since this process last published."""
        if self._published is not None and content_version(self.app.db) == self._published:
            return None
        return self.publish()

    def run_once(self) -> CycleReport:
        """Poll what is due, run the digests that are due, deliver, publish.

        Only the briefs the digests and the published feed show are made (on demand, when they
        are written); the rest wait for the service's brief job or ``aggregator poll``.
        """
        poll = self.poll(due_only=True)
        runs = self.start_due_digests()
        return CycleReport(poll, runs, self.deliver(), self.publish())

    def stop(self) -> None:
        """Ask every step under way to stop at its next safe point (shutdown)."""
        self.stopping.set()
        self.poller.stopping.set()
        self.outbox.stopping.set()

    def give_back(self) -> int:
        """Stop the brief processes and free every claim this process still holds, so other
        workers take the work now."""
        if self._brief_workers is not None:
            self._brief_workers.shutdown()
        self.heartbeat.stop()
        return sum(release_all(self.app.db, t, token=self.token) for t in CLAIMED_TABLES)


class ListenError(RuntimeError):
    """The web server cannot listen on its address; one line for the operator."""


ROLES = ("all", "worker", "web")
"""``all``: scheduler and web server; ``worker``: polls, briefs and delivers (and leads when it
holds the leader lock); ``web``: serves the pages and published files only."""
STOP_SECONDS = 8.0
"""How long a shutdown waits for running jobs before it gives their work back and exits."""
SIGNAL_POLL_SECONDS = 0.2


def _until(signals: list[int]) -> None:
    """Return once a stop signal is noted in ``signals``.

    The handler only appends to the list: setting an Event there could deadlock, for Python runs
    the handler in the main thread between two bytecodes, perhaps while that thread holds the
    Event's lock. Sleeping in short steps, rather than blocking on a lock, also sees a signal
    that woke another thread instead of this one."""
    while not signals:
        time.sleep(SIGNAL_POLL_SECONDS)


class Service:
    """``aggregator run``: the scheduler's jobs in background threads, the web server in front."""

    def __init__(self, pipeline: Pipeline, *, role: str = "all"):
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; use one of {', '.join(ROLES)}")
        self.pipeline = pipeline
        self.role = role
        self.settings = pipeline.app.settings
        self.leadership = Leadership(pipeline.app.db.engine)
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )
        self._running = 0
        self._idle = threading.Condition()
        self._mail_queued = threading.Event()
        """Set when a run got deliveries: the outbox tick under way runs once more."""

    def _job(self, fn: Callable[..., object]) -> Callable[..., None]:
        """``fn`` as a scheduler job: counted while it runs (shutdown waits for it), and an
        error is logged, never fatal."""

        def job(*args: object) -> None:
            if self.pipeline.stopping.is_set():
                return
            with self._idle:
                self._running += 1
            try:
                fn(*args)
            except Exception:
                log.exception("job %s failed; it runs again on the next tick", fn.__name__)
            finally:
                with self._idle:
                    self._running -= 1
                    self._idle.notify_all()

        job.__name__ = fn.__name__
        return job

    def poll_tick(self) -> None:
        report = self.pipeline.poll(due_only=True)
        for o in report.outcomes:
            if o.result in POLL_FAILURES:
                fields = source_fields(o.source_id, o.label, o.url)
                log.warning("poll failed: %s", o.error, extra=fields)
        if report.outcomes:
            log.info(
                "poll: %d source(s), %d new item(s), %d changed, %d not modified, %d failed",
                len(report.outcomes),
                report.new,
                report.changed,
                report.not_modified,
                report.failed,
            )
        fresh = report.new_item_ids + report.changed_item_ids
        if fresh:  # brief them now, newest first, unless the brief job is already at it
            self.scheduler.modify_job("brief", next_run_time=datetime.now(UTC))
            # an open run's deliveries skipped for want of news get them now, not a tick later
            if self.leadership.held() and self.pipeline.start_due_digests():
                self._wake_outbox()

    def brief_tick(self) -> None:
        started = time.monotonic()
        made = self.pipeline.brief()
        if made:
            log.info("briefs: %d made in %.1f s", made, time.monotonic() - started)

    def outbox_tick(self) -> None:
        """Deliver; again at once when a run was queued meanwhile (its wake-up was missed)."""
        while True:
            self._mail_queued.clear()
            self._deliver()
            if not self._mail_queued.is_set() or self.pipeline.stopping.is_set():
                return

    def _deliver(self) -> None:
        report = self.pipeline.deliver()
        if report.sent or report.retried or report.failed or report.bounced:
            log.info(
                "mail: %d sent, %d to retry, %d bounced, %d failed",
                report.sent,
                report.retried,
                report.bounced,
                report.failed,
            )

    def leader_tick(self) -> None:
        """On the leader only: catch-up digest runs, publishing, WebSub retries, and the
        subscriptions to the hubs of source feeds."""
        if not self.leadership.held():
            return
        if self.pipeline.start_due_digests():
            self._wake_outbox()
        result = self.pipeline.publish_if_changed()
        if result is not None and result.changed:
            log.info(
                "published %d entries, %d file(s) changed", result.entries, len(result.changed)
            )
        send_due_pings(self.pipeline.app.db, self.settings)
        maintain_subscriptions(self.pipeline.app.db, self.settings)

    def digest_job(self, digest: DigestSettings) -> None:
        """On the leader only: queue the run for this firing; the outbox tick sends it."""
        if not self.leadership.held():
            return
        run_id = self.pipeline.start_due_digest(digest)
        if run_id is not None:
            log.info("digest=%s run=%d queued", digest.name, run_id)
            self._wake_outbox()

    def _wake_outbox(self) -> None:
        self._mail_queued.set()
        self.scheduler.modify_job("outbox", next_run_time=datetime.now(UTC))

    def schedule(self) -> None:
        """Poll, outbox and leader ticks (sources keep their own adaptive next check), digests
        on cron."""
        tick = self.settings.general.tick_seconds
        now = datetime.now(UTC)
        jobs: list[tuple[str, Callable[[], None]]] = [
            ("leader", self.leader_tick),
            ("poll", self.poll_tick),
            ("brief", self.brief_tick),
            ("outbox", self.outbox_tick),
        ]
        for name, fn in jobs:
            self.scheduler.add_job(
                self._job(fn), IntervalTrigger(seconds=tick), id=name, next_run_time=now
            )
        for digest in self.settings.digests:
            trigger = CronTrigger.from_crontab(digest.schedule, timezone=ZoneInfo(digest.timezone))
            self.scheduler.add_job(
                self._job(self.digest_job), trigger, args=[digest], id=f"digest:{digest.name}"
            )

    def startup_line(self) -> str:
        """What the service says when it starts: its role, where it serves, its database, how
        many sources it polls (the enabled ones in the database), mail, the next digests."""
        settings, db = self.settings, self.pipeline.app.db
        with db.session() as session:
            enabled = session.scalar(select(func.count()).select_from(Source).where(Source.enabled))
        parts = [f"role={self.role}"]
        if self.role != "worker":
            parts.append(f"serving http://{settings.web.host}:{settings.web.port}/")
        parts += [
            f"database={db.engine.url.render_as_string(hide_password=True)}",
            f"config={settings.origin}",
            f"sources={enabled or 0} enabled",
            f"mail={settings.mail.transport}",
        ]
        if self.role != "web":
            now = datetime.now(UTC)
            for digest in settings.digests:
                parts.append(f"next {digest.name} digest {next_fire_time(digest, now)}")
        return "aggregator: " + "; ".join(parts)

    def run(self) -> None:
        """Start the jobs (unless web-only), serve the web app (unless worker-only) until
        SIGTERM/Ctrl-C, then stop within a bounded time, giving unfinished work back."""
        listening = self._listen() if self.role != "worker" else None
        signals: list[int] = []  # what the handler saw: appending takes no lock (see below)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda number, _frame: signals.append(number))
        log.info("%s", self.startup_line())
        raise_open_files_limit()  # before the first poll, mail or web connection
        if self.role != "web":
            self.schedule()
            self.scheduler.start()
        listener = None
        if self.role != "web" and self.settings.mail.inbound.enabled:
            app = self.pipeline.app
            listener = start_listener(app.db, self.settings, secret_key=app.secret_key)
        forced = False
        try:
            if self.role == "worker":
                _until(signals)
            elif not signals:
                assert listening is not None
                self._serve(signals, listening)
        finally:
            log.warning("stopping: finishing the jobs under way (at most %.0f s)", STOP_SECONDS)
            self.pipeline.stop()
            if listener is not None:
                listener.stop()
            if self.role != "web":
                self.scheduler.shutdown(wait=False)
                forced = not self._wait_idle(STOP_SECONDS)
            given = self.pipeline.give_back()
            self.leadership.resign()
            log.warning(
                "stopped%s; %d unfinished piece(s) of work given back",
                " (jobs still running were abandoned)" if forced else "",
                given,
            )
        if forced:  # a job stuck in I/O must not keep the process alive: its work is given back
            logging.shutdown()
            os._exit(0)

    def _wait_idle(self, seconds: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout=seconds)

    def _listen(self) -> socket.socket:
        """The web server's socket, bound before anything starts; ListenError when the address
        cannot be had (a port in use, a privileged port, an address not on this machine)."""
        host, port = self.settings.web.host, self.settings.web.port
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((host, port))
        except (OSError, OverflowError) as exc:
            sock.close()
            reason = getattr(exc, "strerror", None) or str(exc)
            raise ListenError(f"cannot listen on {host}:{port}: {reason.lower()}") from None
        return sock

    def _serve(self, signals: list[int], sock: socket.socket) -> None:
        """Serve the web app on ``sock`` until a signal is noted in ``signals`` or uvicorn
        receives SIGTERM/SIGINT."""
        import uvicorn

        from aggregator.web.app import create_app
        from aggregator.web.security import proxy_options
        from aggregator.web.server import server_config

        web = self.settings.web
        config = server_config(
            create_app(self.pipeline.app, transport=self.pipeline.outbox.transport),
            web,
            log_level="warning",
            access_log=False,
            lifespan="off",
            **proxy_options(web),
        )
        server = uvicorn.Server(config)

        def exit_on_stop() -> None:  # a signal that came before uvicorn took the handlers over
            _until(signals)
            server.should_exit = True

        threading.Thread(target=exit_on_stop, daemon=True).start()
        # uvicorn handles SIGTERM/SIGINT while it runs, then passes the signal on to the handler
        # installed above, which only notes it: the process finishes its jobs and exits 0.
        server.run(sockets=[sock])

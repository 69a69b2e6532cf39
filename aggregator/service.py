"""The service: one cycle (``run --once``) and the long-lived scheduler plus web server (``run``).

Data flows one way: poll → brief → digest → deliver, and store → publish. Each step is a plain
function of the App and a clock, so tests drive them without sleeping.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from aggregator.app import App
from aggregator.briefs.pipeline import (
    fetch_full_texts,
    llm_for,
    make_briefs,
    unbriefed_item_ids,
)
from aggregator.config import DigestSettings
from aggregator.digest.compose import latest_fire_time
from aggregator.digest.outbox import Outbox, SendReport
from aggregator.digest.transport import Transport
from aggregator.ingest.poll import Poller, PollReport, SourceOutcome
from aggregator.metrics import record_poll
from aggregator.publish.archive import write_index, write_run_page
from aggregator.publish.publisher import PublishResult, publish

log = logging.getLogger("aggregator.service")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class CycleReport:
    poll: PollReport | None = None
    runs: list[int] = field(default_factory=list)
    delivery: SendReport | None = None
    published: PublishResult | None = None


class Pipeline:
    """The steps of the pipeline, sharing one App, one clock and one outbox."""

    def __init__(
        self,
        app: App,
        *,
        transport: Transport | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ):
        self.app = app
        self.clock = clock
        self.poller = Poller(app.db, app.settings, clock=clock)
        self.outbox = Outbox(
            app.db, app.settings, secret_key=app.secret_key, transport=transport, clock=clock
        )
        self._lock = threading.Lock()
        """Serialises poll/brief/publish between the scheduler's jobs."""

    def poll_and_brief(
        self,
        *,
        due_only: bool = False,
        ids: list[int] | None = None,
        on_outcome: Callable[[SourceOutcome], None] | None = None,
    ) -> PollReport:
        """Poll (the sources ``ids``, else all or the due ones), fetch article text for teasers,
        brief."""
        with self._lock:
            if ids is None:
                ids = self.poller.choose(due_only=due_only)
            report = (
                asyncio.run(self.poller.poll(ids, on_outcome=on_outcome)) if ids else PollReport()
            )
            for outcome in report.outcomes:
                record_poll(outcome.elapsed, outcome.result not in ("failed", "retired"))
            fresh = report.new_item_ids + report.changed_item_ids
            if fresh:
                asyncio.run(fetch_full_texts(self.app.db, self.app.settings, fresh))
            self.brief(fresh)
            return report

    def brief(self, item_ids: list[int]) -> None:
        """Brief the given items plus any left without a brief (after a crash)."""
        pending = list(dict.fromkeys(item_ids + unbriefed_item_ids(self.app.db)))
        if pending:
            make_briefs(self.app.db, self.app.settings, pending, llm=llm_for(self.app.settings))

    def start_due_digests(self) -> list[int]:
        """Start a run for each digest's latest scheduled time that has none (the catch-up).

        A service that was down at 07:00 sends the 07:00 digest once when it starts; older
        missed times are not repeated.
        """
        runs = (self.start_due_digest(digest) for digest in self.app.settings.digests)
        return [run_id for run_id in runs if run_id is not None]

    def start_due_digest(self, digest: DigestSettings) -> int | None:
        """Start the run for the digest's latest scheduled time, unless that time has one."""
        fire_time = latest_fire_time(digest, self.clock())
        if fire_time is None:
            return None
        run_id = self.outbox.start_run(digest.name, fire_time)
        if run_id is not None:
            write_run_page(self.app.db, self.app.settings, run_id)
            write_index(self.app.db, self.app.settings)
        return run_id

    def deliver(self) -> SendReport:
        return self.outbox.deliver()

    def publish(self) -> PublishResult:
        with self._lock:
            result = publish(self.app.db, self.app.settings)
        write_index(self.app.db, self.app.settings)
        return result

    def run_once(self) -> CycleReport:
        """Poll all, brief, run the digests that are due, deliver, publish."""
        report = CycleReport()
        report.poll = self.poll_and_brief(due_only=False)
        report.runs = self.start_due_digests()
        report.delivery = self.deliver()
        report.published = self.publish()
        return report


class Service:
    """``aggregator run``: the scheduler's jobs in background threads, the web server in front."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.settings = pipeline.app.settings
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 300},
        )

    def _poll_job(self) -> None:
        report = self.pipeline.poll_and_brief(due_only=True)
        if report.new or report.changed:
            self.pipeline.publish()

    def _digest_job(self, digest: DigestSettings) -> None:
        run_id = self.pipeline.start_due_digest(digest)
        self.pipeline.deliver()
        job = self.scheduler.get_job(f"digest:{digest.name}")
        log.info(
            "digest=%s run=%s; next=%s", digest.name, run_id, job.next_run_time if job else None
        )

    def schedule(self) -> None:
        """Poll and outbox ticks (sources keep their own adaptive next check), digests on cron."""
        tick = IntervalTrigger(seconds=self.settings.general.tick_seconds)
        self.scheduler.add_job(self._poll_job, tick, id="poll", next_run_time=datetime.now(UTC))
        self.scheduler.add_job(self.pipeline.deliver, tick, id="outbox")
        for digest in self.settings.digests:
            trigger = CronTrigger.from_crontab(digest.schedule, timezone=ZoneInfo(digest.timezone))
            self.scheduler.add_job(
                self._digest_job, trigger, args=[digest], id=f"digest:{digest.name}"
            )

    def run(self) -> None:
        """Catch up missed digests, start the jobs, serve the web app until SIGTERM/Ctrl-C."""
        import uvicorn

        from aggregator.web.app import create_app

        self.pipeline.start_due_digests()
        self.schedule()
        self.scheduler.start()
        web = self.settings.web
        config = uvicorn.Config(
            create_app(self.pipeline.app, transport=self.pipeline.outbox.transport),
            host=web.host,
            port=web.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
        )
        server = uvicorn.Server(config)
        # uvicorn stops on SIGTERM/SIGINT, then re-raises the signal to the previous handler:
        # make that handler a no-op so the process finishes its jobs and exits 0.
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda number, _frame: log.info("received signal %d", number))
        log.info("serving http://%s:%d/", web.host, web.port)
        try:
            server.run()
        finally:
            log.info("stopping: waiting for running jobs to finish")
            self.scheduler.shutdown(wait=True)
            log.info("stopped")

"""Prometheus metrics: counters bumped as work happens, and gauges read from the store per scrape.

The poller records each poll with one call::

    from aggregator.metrics import record_poll
    record_poll(seconds=elapsed, ok=result_ok)

Counters live in this process (the service runs the poller and the web app together); the gauges
are computed from the database at scrape time, so they are right whichever process did the work.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from aggregator.model.status import DeliveryFault, DeliveryState, SourceHealth, SubscriberStatus
from aggregator.store.db import Database
from aggregator.store.listing import SOURCE_HEALTH, relay_faults
from aggregator.store.llm_usage import last_llm_run
from aggregator.store.models import BriefRow, Delivery, DigestRun, Item, Subscriber

REGISTRY = CollectorRegistry()

POLLS = Counter("aggregator_feed_polls", "Feed polls made.", registry=REGISTRY)
POLL_FAILURES = Counter(
    "aggregator_feed_poll_failures", "Feed polls that ended in an error.", registry=REGISTRY
)
POLL_DURATION = Histogram(
    "aggregator_feed_poll_duration_seconds",
    "Time to fetch, parse and store one feed.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60),
    registry=REGISTRY,
)
SUBSCRIBE_REQUESTS = Counter(
    "aggregator_web_subscribe_requests",
    "Subscribe form submissions by outcome.",
    ["outcome"],
    registry=REGISTRY,
)
"""Outcomes: accepted, invalid, honeypot, rate_limited, csrf."""


def record_poll(seconds: float, ok: bool) -> None:
    """Count one feed poll and its duration."""
    POLLS.inc()
    POLL_DURATION.observe(max(0.0, seconds))
    if not ok:
        POLL_FAILURES.inc()


class StoreCollector(Collector):
    """Gauges counted in the database at scrape time."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def collect(self) -> Iterator[Metric]:
        with self.db.session() as session:
            sources = _grouped(
                session.execute(select(SOURCE_HEALTH, func.count()).group_by(SOURCE_HEALTH)),
                "aggregator_sources",
                "Sources by health: " + ", ".join(SourceHealth) + ".",
                "health",
                tuple(SourceHealth),
            )
            subscribers = _grouped(
                session.execute(
                    select(Subscriber.status, func.count()).group_by(Subscriber.status)
                ),
                "aggregator_subscribers",
                "Subscribers by status.",
                "status",
                tuple(SubscriberStatus),
            )
            deliveries = _grouped(
                session.execute(select(Delivery.state, func.count()).group_by(Delivery.state)),
                "aggregator_deliveries",
                "Digest mails by delivery state (sent, failed, bounced, ...).",
                "state",
                (
                    DeliveryState.PENDING,
                    DeliveryState.SENT,
                    DeliveryState.FAILED,
                    DeliveryState.BOUNCED,
                ),
            )
            totals = {
                "aggregator_items": ("Stored items.", select(func.count()).select_from(Item)),
                "aggregator_briefs": ("Stored briefs.", select(func.count()).select_from(BriefRow)),
                "aggregator_digest_runs": (
                    "Digest runs started.",
                    select(func.count()).select_from(DigestRun),
                ),
            }
            for name, (help_text, query) in totals.items():
                yield GaugeMetricFamily(name, help_text, value=session.scalar(query) or 0)
            relay = relay_faults(session)
        faults = GaugeMetricFamily(
            "aggregator_delivery_transport_failures",
            "Mails not yet delivered whose last try in the last day failed because of the relay: "
            "refused (the sender or the message, at MAIL FROM or DATA) or unavailable.",
            labels=["fault"],
        )
        faults.add_metric([DeliveryFault.REFUSED], relay.refused)
        faults.add_metric([DeliveryFault.UNAVAILABLE], relay.unavailable)
        yield faults
        yield from (sources, subscribers, deliveries)
        yield from _llm_gauges(last_llm_run(self.db))


def _llm_gauges(usage: dict[str, Any] | None) -> Iterator[Metric]:
    """The last LLM run's calls and tokens, its budget, and its tokens per source."""
    if not usage:
        return
    for name, key, help_text in (
        ("aggregator_llm_last_run_calls", "calls", "Calls the last LLM run made."),
        ("aggregator_llm_last_run_tokens", "tokens", "Tokens the last LLM run spent."),
        ("aggregator_llm_token_budget", "max_tokens_per_run", "Tokens a run may spend (0: none)."),
    ):
        value = usage.get(key)
        yield GaugeMetricFamily(name, help_text, value=value if isinstance(value, int) else 0)
    family = GaugeMetricFamily(
        "aggregator_llm_last_run_source_tokens",
        "Tokens the last LLM run spent on each source's items.",
        labels=["source"],
    )
    by_source = usage.get("by_source")
    for source, tokens in by_source.items() if isinstance(by_source, dict) else ():
        if isinstance(tokens, int):
            family.add_metric([str(source)], tokens)
    yield family


def _grouped(
    rows: Iterable[Sequence[Any]],
    name: str,
    help_text: str,
    label: str,
    always: tuple[str, ...],
) -> GaugeMetricFamily:
    """A gauge with one sample per label value; the ``always`` values appear even when zero."""
    counts = dict.fromkeys(always, 0) | {str(row[0]): int(row[1]) for row in rows}
    family = GaugeMetricFamily(name, help_text, labels=[label])
    for key, value in sorted(counts.items()):
        family.add_metric([key], value)
    return family


class _ProcessCounters(Collector):
    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def render_metrics(db: Database) -> tuple[bytes, str]:
    """The Prometheus text exposition of every metric, and its content type."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProcessCounters())
    registry.register(StoreCollector(db))
    return generate_latest(registry), CONTENT_TYPE_LATEST

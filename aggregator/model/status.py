"""Every status a row can be in, named once. The values are what the database stores."""

from __future__ import annotations

from enum import StrEnum


class SourceStatus(StrEnum):
    ACTIVE = "active"
    RETIRED = "retired"
    """The server said 410 Gone: not polled until an operator enables the source again."""


class SourceOrigin(StrEnum):
    CONFIG = "config"
    """From config.toml."""
    CLI = "cli"
    """Added with ``sources add`` or an OPML import."""
    REMOVED = "removed"
    """Removed with ``sources remove``: not polled, items kept; ``sources add`` revives it."""


class DisabledBy(StrEnum):
    CONFIG = "config"
    """config.toml says so, or no longer lists the source."""
    OPERATOR = "operator"
    """``sources disable`` or ``remove``: outlasts restarts."""


class SubscriberStatus(StrEnum):
    PENDING = "pending"
    """Signed up, not confirmed yet."""
    ACTIVE = "active"
    PAUSED = "paused"
    UNSUBSCRIBED = "unsubscribed"
    SUSPENDED = "suspended"
    """Too many hard bounces."""


STICKY = (SubscriberStatus.UNSUBSCRIBED, SubscriberStatus.SUSPENDED)
"""Statuses that only the subscriber (resubscribing) or an operator may leave."""


class DeliveryState(StrEnum):
    PENDING = "pending"
    """Queued: waiting for its edition."""
    RENDERED = "rendered"
    """Has its edition and Message-ID: waiting to be sent (or retried)."""
    SENT = "sent"
    FAILED = "failed"
    """Gave up after ``mail.max_attempts`` temporary failures."""
    BOUNCED = "bounced"
    """Refused for good by the server."""
    SKIPPED = "skipped"
    """Nothing new, or the subscriber left before it was rendered."""


class DeliveryFault(StrEnum):
    """Why a send failed when it was not the recipient's fault."""

    REFUSED = "refused"
    """The relay refused the sender (5xx at MAIL FROM) or the message (5xx at DATA)."""
    UNAVAILABLE = "unavailable"
    """The relay could not be used at all (connect, TLS or login failed)."""


NOTHING_NEW = "nothing new"
"""Why a delivery was skipped when its window held no story: such an edition was not "had",
and the delivery is queued again when news comes while its run is open."""

UNFINISHED = (DeliveryState.PENDING, DeliveryState.RENDERED)
UNDELIVERED = (DeliveryState.FAILED, DeliveryState.BOUNCED)


class RunStatus(StrEnum):
    QUEUED = "queued"
    """Every delivery row exists; some are not finished."""
    DONE = "done"


class SourceHealth(StrEnum):
    """How a source is doing, as ``sources list``, ``status`` and ``/metrics`` report it
    (store/listing.py computes it, in SQL, in this order)."""

    RETIRED = "retired"
    REMOVED = "removed"
    DISABLED = "disabled"
    FAILING = "failing"
    OK = "ok"
    NEW = "new"
    """Never polled successfully yet."""


class PollResult(StrEnum):
    """What one source's poll came to."""

    NEW = "new"
    """New or changed items stored."""
    UNCHANGED = "unchanged"
    """A document came, with nothing new in it."""
    NOT_MODIFIED = "not-modified"
    FAILED = "failed"
    RETIRED = "retired"
    """410 Gone: not polled again until an operator enables it."""
    LOST = "lost"
    """Another worker took the source over after this worker's lease ran out: nothing recorded."""
    BUSY = "busy"
    """Named for this poll, but another worker is polling it now: left to that worker."""


POLL_FAILURES = frozenset({PollResult.FAILED, PollResult.RETIRED})


class PushState(StrEnum):
    """A WebSub subscription of one source (ingest/websub.py)."""

    SUBSCRIBING = "subscribing"
    """Asked the hub; waiting for its intent verification."""
    ACTIVE = "active"
    """Verified: the hub pushes until the lease ends (renewed before)."""
    UNSUBSCRIBING = "unsubscribing"
    """The source was removed or disabled: asked the hub to stop."""
    ENDED = "ended"
    """Unsubscribed, denied by the hub, or the lease ran out without a renewal."""

"""WebSub (W3C) publisher side: tell the hub which topics changed, and advertise the hub.

Changed topics are queued in the store (:mod:`aggregator.store.pings`) and pinged from there, so
a ping the hub refused or never got is retried with backoff, also after a restart.
"""

from __future__ import annotations

import logging
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from aggregator.config import Settings
from aggregator.mail.text import encoded_url
from aggregator.store import pings
from aggregator.store.db import Database

_USER_AGENT = "aggregator-websub/0.1"
log = logging.getLogger("aggregator.publish")


class WebSubError(RuntimeError):
    """The hub could not be reached or refused the publish ping. The message is one line."""


def ping_hub(hub_url: str, topic_urls: list[str], timeout: float = 10) -> None:
    """POST `hub.mode=publish` with one `hub.url` per topic; raise WebSubError unless the hub says 2xx."""
    hub = encoded_url(hub_url)
    if hub is None:
        raise WebSubError(f"WebSub hub URL {hub_url!r} is not an absolute http(s) URL")
    if not topic_urls:
        return
    form = [("hub.mode", "publish")] + [("hub.url", topic) for topic in topic_urls]
    request = urllib.request.Request(
        hub,
        data=urlencode(form).encode("ascii"),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "User-Agent": _USER_AGENT,
        },
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as err:
        body = err.read(200).decode("utf-8", "replace").strip().replace("\n", " ")
        raise WebSubError(
            f"WebSub hub {hub} refused the publish ping: HTTP {err.code} {body}"
        ) from err
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise WebSubError(f"WebSub hub {hub} unreachable: {reason}") from err


def send_due_pings(
    db: Database, settings: Settings, *, now: datetime | None = None, timeout: float = 10
) -> int:
    """Ping the configured hub for every queued topic that is due; return how many it accepted.

    Called after each publish and on every service tick; a tick with nothing due only reads.
    Pings queued for a hub that is no longer configured are dropped when they come due.
    """
    hub = settings.publish.hub_url
    now = now or datetime.now(UTC)
    with db.session() as session:
        waiting = pings.due(session, now)
        if stale := [ping.topic for ping in waiting if ping.hub_url != hub]:
            pings.forget(session, stale)
    topics = [ping.topic for ping in waiting if ping.hub_url == hub]
    if not topics:
        return 0
    try:
        ping_hub(hub, topics, timeout)
    except WebSubError as exc:
        with db.session() as session:
            pings.mark_failed(session, hub, topics, str(exc), now)
        log.warning("websub hub=%s ping of %d topics failed, will retry: %s", hub, len(topics), exc)
        return 0
    with db.session() as session:
        pings.mark_done(session, hub, topics, now)
    return len(topics)


def topic_url(base_url: str, relative: Path) -> str:
    """The public URL of a published file: what the hub is pinged with and what the file's
    ``Link: rel=self`` names, so the two always match."""
    return f"{base_url.rstrip('/')}/{relative.as_posix()}"


def link_header(hub_url: str, self_url: str) -> str:
    """The HTTP `Link` header value advertising the hub and the topic (WebSub §4)."""
    hub, topic = encoded_url(hub_url), encoded_url(self_url)
    if hub is None or topic is None:
        raise ValueError(
            f"Link header needs absolute http(s) URLs, got {hub_url!r} and {self_url!r}"
        )
    return f'<{hub}>; rel="hub", <{topic}>; rel="self"'

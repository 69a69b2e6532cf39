"""WebSub subscriber: discovery at poll time, subscription and intent verification with a
loopback hub, signed pushes stored through the poll's path, thin pings, leases and unsubscribe."""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from aggregator.ingest.fetch import FetchResult
from aggregator.ingest.parse import parse_feed
from aggregator.ingest.poll import Poller
from aggregator.ingest.websub import discover, link_relations, maintain, signature_ok
from aggregator.model.status import PushState
from aggregator.store.listing import list_sources
from aggregator.store.models import Item, PushSubscription, Source, utcnow
from aggregator.store.sources import add_source, disable_source
from tests.cli import ok, run_cli
from tests.support.feedserver import FeedServer
from tests.support.websubhub import LoopbackHub, call
from tests.web.conftest import Site, SiteFactory


def atom(feed_url: str, hub_url: str | None, entries: list[str]) -> bytes:
    hub = f'<link rel="hub" href="{hub_url}"/>' if hub_url else ""
    items = "".join(
        f"<entry><id>urn:{e}</id><title>Entry {e}</title><link href='http://example.test/{e}'/>"
        f"<updated>2026-12-0{i + 1}T10:00:00Z</updated><content type='html'>&lt;p&gt;Body {e}"
        "&lt;/p&gt;&lt;script&gt;alert(1)&lt;/script&gt;</content></entry>"
        for i, e in enumerate(entries)
    )
    return (
        '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Pushed</title>'
        f"<id>urn:feed</id><updated>2026-12-01T10:00:00Z</updated>{hub}"
        f'<link rel="self" href="{feed_url}"/>{items}</feed>'
    ).encode()


@pytest.fixture
def hub() -> Iterator[LoopbackHub]:
    running = LoopbackHub().start()
    yield running
    running.stop()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    with FeedServer() as server:
        yield server


class Pushed:
    def __init__(self, site: Site, hub: LoopbackHub, feeds: FeedServer) -> None:
        self.site, self.hub, self.feeds = site, hub, feeds
        self.db, self.settings = site.app.db, site.app.settings
        self.topic = feeds.url("/feed.atom")
        feeds.add("/feed.atom", atom(self.topic, hub.url, ["a"]), "application/atom+xml")
        with self.db.session() as session:
            self.source_id = add_source(session, self.topic, name="Pushed")[0].id

    def poll(self) -> None:
        report = asyncio.run(Poller(self.db, self.settings).poll([self.source_id]))
        assert report.failed == 0, report.outcomes

    def maintain(self, **kwargs: object) -> int:
        return asyncio.run(maintain(self.db, self.settings, **kwargs))  # type: ignore[arg-type]

    def subscription(self) -> PushSubscription:
        with self.db.session() as session:
            row = session.get(PushSubscription, self.source_id)
            assert row is not None
            session.expunge(row)
            return row

    def source(self) -> Source:
        with self.db.session() as session:
            row = session.get(Source, self.source_id)
            assert row is not None
            session.expunge(row)
            return row

    def titles(self) -> list[str]:
        with self.db.session() as session:
            return sorted(
                session.scalars(select(Item.title).where(Item.source_id == self.source_id))
            )

    def subscribed(self) -> None:
        self.poll()
        assert self.maintain() == 1
        self.hub.wait(self.topic)
        assert self.subscription().state == PushState.ACTIVE


@pytest.fixture
def pushed(make_site: SiteFactory, hub: LoopbackHub, feeds: FeedServer) -> Pushed:
    site = make_site(websub={"subscribe": "always"}, fetch={"allow_networks": ["127.0.0.0/8"]})
    return Pushed(site, hub, feeds)


def test_poll_discovers_hub_and_self_and_leader_subscribes(pushed: Pushed) -> None:
    pushed.poll()
    source = pushed.source()
    assert (source.hub_url, source.self_url) == (pushed.hub.url, pushed.topic)
    assert pushed.maintain() == 1
    sub = pushed.hub.wait(pushed.topic)
    assert sub.verified  # the callback echoed the challenge
    request = pushed.hub.requests[0]
    assert request["hub.mode"] == "subscribe" and request["hub.topic"] == pushed.topic
    row = pushed.subscription()
    assert request["hub.secret"] == row.secret and len(row.secret) >= 32
    assert request["hub.callback"].endswith("/websub/" + row.callback_token)
    assert row.state == PushState.ACTIVE and row.lease_until is not None
    assert pushed.source().push_until == row.lease_until
    with pushed.db.session() as session:
        assert [r.push for r in list_sources(session)] == ["-", "-", "active"]
    assert pushed.maintain() == 0  # nothing to renew yet: no second request


def test_callbacks_differ_per_source_and_are_unguessable(pushed: Pushed) -> None:
    other = pushed.feeds.url("/other.atom")
    pushed.feeds.add("/other.atom", atom(other, pushed.hub.url, ["z"]), "application/atom+xml")
    with pushed.db.session() as session:
        second = add_source(session, other)[0].id
    asyncio.run(Poller(pushed.db, pushed.settings).poll([pushed.source_id, second]))
    assert pushed.maintain() == 2
    with pushed.db.session() as session:
        rows = session.scalars(select(PushSubscription)).all()
    assert len({r.callback_token for r in rows}) == 2
    assert len({r.secret for r in rows}) == 2
    assert all(len(r.callback_token) >= 40 for r in rows)


def test_signed_push_is_stored_at_once_once_and_sanitized(pushed: Pushed) -> None:
    pushed.subscribed()
    assert pushed.titles() == ["Entry a"]
    body = atom(pushed.topic, None, ["b"])
    started = time.monotonic()
    status, answer = pushed.hub.publish(pushed.topic, body)
    assert status == 200, answer
    assert pushed.titles() == ["Entry a", "Entry b"]  # stored before the hub had its answer
    assert time.monotonic() - started < 2
    assert pushed.hub.publish(pushed.topic, body, sign="sha1")[0] == 200  # same entry again
    assert pushed.titles() == ["Entry a", "Entry b"]
    with pushed.db.session() as session:
        html = session.scalar(select(Item.content_html).where(Item.title == "Entry b"))
    assert html is not None and "Body b" in html and "script" not in html
    source = pushed.source()
    assert source.hub_url == pushed.hub.url  # a push without the hub link does not drop it
    assert pushed.subscription().pushes == 2


@pytest.mark.parametrize("sign, secret", [(None, None), ("sha256", "not-the-secret")])
def test_unsigned_or_wrongly_signed_push_stores_nothing(
    pushed: Pushed, sign: str | None, secret: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    pushed.subscribed()
    with caplog.at_level(logging.WARNING, logger="aggregator"):
        status, _ = pushed.hub.publish(
            pushed.topic, atom(pushed.topic, None, ["evil"]), sign=sign, secret=secret
        )
    assert status == 403
    assert pushed.titles() == ["Entry a"]
    assert pushed.subscription().pushes == 0
    [refused] = [r for r in caplog.records if "push refused" in r.getMessage()]
    assert refused.getMessage() == "websub push refused: X-Hub-Signature missing or wrong"
    assert refused.__dict__["source_id"] == pushed.source_id  # a field, not in the message


def test_push_with_a_signature_over_another_body_is_refused(pushed: Pushed) -> None:
    pushed.subscribed()
    secret = pushed.subscription().secret
    good = atom(pushed.topic, None, ["b"])
    assert signature_ok(secret, _sign(secret, good), good)
    assert not signature_ok(secret, _sign(secret, good), good + b" ")
    assert not signature_ok(secret, "md5=" + _sign(secret, good).split("=")[1], good)
    assert not signature_ok(secret, "sha256=", good)


def _sign(secret: str, body: bytes) -> str:
    import hashlib
    import hmac

    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def test_push_over_the_size_cap_is_refused(
    make_site: SiteFactory, hub: LoopbackHub, feeds: FeedServer
) -> None:
    site = make_site(
        websub={"subscribe": "always"},
        fetch={"allow_networks": ["127.0.0.0/8"], "max_body_bytes": 4096},
    )
    pushed = Pushed(site, hub, feeds)
    pushed.subscribed()
    status, _ = hub.publish(pushed.topic, atom(pushed.topic, None, ["x" * 5000]))
    assert status == 413
    assert pushed.titles() == ["Entry a"]


def test_thin_ping_polls_the_source_now(pushed: Pushed) -> None:
    pushed.subscribed()
    pushed.feeds.replace("/feed.atom", atom(pushed.topic, pushed.hub.url, ["a", "c"]))
    status, _ = pushed.hub.publish(pushed.topic, b"")
    assert status == 202
    deadline = time.monotonic() + 10
    while pushed.titles() != ["Entry a", "Entry c"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pushed.titles() == ["Entry a", "Entry c"]


def test_a_pushed_source_is_polled_at_its_maximum_interval_until_the_lease_ends(
    pushed: Pushed,
) -> None:
    pushed.subscribed()
    pushed.poll()
    source = pushed.source()
    assert source.next_check_at and source.last_checked_at
    gap = source.next_check_at - source.last_checked_at
    assert gap == timedelta(minutes=pushed.settings.fetch.max_interval_minutes)
    with pushed.db.session() as session:  # the lease is over: back to its own rhythm
        session.get(Source, pushed.source_id).push_until = utcnow() - timedelta(seconds=1)  # type: ignore[union-attr]
    pushed.feeds.replace("/feed.atom", atom(pushed.topic, pushed.hub.url, ["a", "b", "c"]))
    pushed.poll()
    source = pushed.source()
    assert source.next_check_at and source.last_checked_at
    assert source.next_check_at - source.last_checked_at < gap


def test_renewal_before_the_lease_ends_and_resubscribe_after_it(pushed: Pushed) -> None:
    pushed.hub.lease_seconds = 600
    pushed.subscribed()
    lease = pushed.subscription().lease_until
    assert lease is not None
    assert pushed.maintain(now=lease - timedelta(seconds=400)) == 0  # not yet half-way
    assert pushed.maintain(now=lease - timedelta(seconds=200)) == 1  # renewal
    pushed.hub.wait(pushed.topic, requests=2)
    renewed = pushed.subscription()
    assert renewed.state == PushState.ACTIVE and renewed.lease_until is not None
    assert renewed.lease_until > lease
    assert renewed.secret == pushed.subscription().secret
    # The hub goes away: the lease runs out, the source keeps polling and is subscribed anew.
    pushed.hub.stop()
    after = renewed.lease_until + timedelta(seconds=1)
    assert pushed.maintain(now=after) == 0
    row = pushed.subscription()
    assert row.state == PushState.SUBSCRIBING and row.last_error
    assert "unreachable" in row.last_error
    pushed.hub.start()  # a new hub elsewhere: not the source's
    pushed.poll()  # polling is not affected by the hub's absence
    assert pushed.source().last_error is None


def test_verification_only_for_a_pending_request_of_ours(pushed: Pushed) -> None:
    pushed.subscribed()
    row = pushed.subscription()
    callback = pushed.hub.subscriptions[pushed.topic].callback
    replay = f"{callback}?hub.mode=subscribe&hub.topic={pushed.topic}&hub.challenge=x"
    assert call("GET", replay)[0] == 404  # verified already: no pending request
    base = pushed.site.url + "/websub/"
    for url in (
        f"{base}nosuchtoken?hub.mode=subscribe&hub.topic={pushed.topic}&hub.challenge=x",
        f"{callback}?hub.mode=subscribe&hub.topic=http://other.example/&hub.challenge=x",
        f"{callback}?hub.mode=unsubscribe&hub.topic={pushed.topic}&hub.challenge=x",
        f"{callback}?hub.mode=subscribe&hub.topic={pushed.topic}&hub.challenge=" + "x" * 2000,
    ):
        assert call("GET", url)[0] == 404, url
    assert pushed.subscription().lease_until == row.lease_until
    assert call("POST", base + "nosuchtoken", body=b"")[0] == 410


def test_hub_denial_ends_the_subscription(pushed: Pushed) -> None:
    pushed.subscribed()
    callback = pushed.hub.subscriptions[pushed.topic].callback
    status, _ = call("GET", f"{callback}?hub.mode=denied&hub.topic={pushed.topic}&hub.reason=no")
    assert status == 200
    row = pushed.subscription()
    assert row.state == PushState.ENDED and "denied" in (row.last_error or "")
    assert pushed.source().push_until is None


def test_disabling_the_source_unsubscribes(pushed: Pushed) -> None:
    pushed.subscribed()
    with pushed.db.session() as session:
        disable_source(session.get(Source, pushed.source_id))  # type: ignore[arg-type]
    assert pushed.maintain() == 1
    sub = pushed.hub.wait(pushed.topic, mode="unsubscribe")
    assert sub.verified
    assert pushed.hub.requests[-1]["hub.mode"] == "unsubscribe"
    assert pushed.subscription().state == PushState.ENDED
    assert pushed.source().push_until is None
    status, _ = pushed.hub.publish(pushed.topic, atom(pushed.topic, None, ["late"]))
    assert status == 410
    assert pushed.titles() == ["Entry a"]


def test_no_subscription_when_base_url_is_loopback(
    make_site: SiteFactory, hub: LoopbackHub, feeds: FeedServer
) -> None:
    site = make_site(fetch={"allow_networks": ["127.0.0.0/8"]})  # websub.subscribe = auto
    pushed = Pushed(site, hub, feeds)
    pushed.poll()
    assert pushed.maintain() == 0
    assert hub.requests == []


def test_link_header_wins_over_the_document() -> None:
    body = atom("http://feed.example/doc-self", "http://hub.example/doc", ["a"])
    parsed = parse_feed(body, "http://feed.example/feed")
    links = ('<https://hub.example/h>; rel="hub", </feed>; rel="self"',)
    assert discover(parsed, links, "http://feed.example/x") == (
        "https://hub.example/h",
        "http://feed.example/feed",
    )
    assert discover(parsed, (), "") == ("http://hub.example/doc", "http://feed.example/doc-self")
    assert link_relations(['<a>; rel="x hub"', "<b>;rel=hub", "<<>>; rel="], "http://h/") == {
        "x": "http://h/a",
        "hub": "http://h/a",
    }
    assert FetchResult(url="u", status=200).links == ()
    assert discover(parsed, ("<javascript:alert(1)>; rel=hub",), "")[0] == "http://hub.example/doc"


def test_items_are_counted_once_per_entry(pushed: Pushed) -> None:
    pushed.subscribed()
    for _ in range(3):
        pushed.hub.publish(pushed.topic, atom(pushed.topic, None, ["a", "b"]))
    with pushed.db.session() as session:
        count = session.scalar(
            select(func.count()).select_from(Item).where(Item.source_id == pushed.source_id)
        )
    assert count == 2


def test_cli_lists_the_pushed_entry_and_the_push_state(pushed: Pushed, tmp_path: Path) -> None:
    pushed.subscribed()
    assert pushed.hub.publish(pushed.topic, atom(pushed.topic, None, ["pushed-now"]))[0] == 200
    config = tmp_path / "cli" / "config.toml"
    config.parent.mkdir()
    url = pushed.settings.database_url
    config.write_text(f'[database]\nurl = "{url}"\n[web]\nsecret_env = "NO_SUCH_SECRET"\n')
    items = ok(run_cli(config, "items", "list"))
    assert "Entry pushed-now" in items
    listed = ok(run_cli(config, "sources", "list")).splitlines()
    assert listed[0].split()[:4] == ["id", "name", "state", "push"]
    assert re.match(rf"{pushed.source_id}\s+Pushed\s+\w+\s+active\s", listed[-1]), listed


def test_a_hub_on_a_private_address_is_not_asked_unless_allowed() -> None:
    from aggregator.config import FetchSettings
    from aggregator.ingest.fetch import BlockedAddressError, Fetcher

    async def ask() -> None:
        async with Fetcher(FetchSettings(), "test") as fetcher:
            await fetcher.post_form("http://127.0.0.1:9/hub", [("hub.mode", "subscribe")])

    with pytest.raises(BlockedAddressError):
        asyncio.run(ask())


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(max_size=300), max_size=5), st.text(max_size=50))
def test_link_headers_of_any_shape_give_http_urls_or_nothing(values: list[str], base: str) -> None:
    parsed = parse_feed(atom("http://feed.example/f", None, []), "http://feed.example/f")
    hub, topic = discover(parsed, values, base)
    for url in (hub, topic):
        assert url is None or url.startswith(("http://", "https://"))
    link_relations(values, base)

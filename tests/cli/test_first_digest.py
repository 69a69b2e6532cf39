"""A first digest in minutes: a run with no subscribers yet stays open, and `digest send`."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from pathlib import Path

from tests.cli import run_cli
from tests.support.feedserver import FeedServer, rss_feed


def text_part(mail: Path) -> str:
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    return body.get_content()


def mails(config: Path) -> list[Path]:
    new = config.parent / "outbox" / "new"
    return sorted(new.iterdir()) if new.is_dir() else []


def test_a_subscriber_added_after_the_first_cycle_gets_the_digest_now(
    make_config: Callable[..., Path], feed_server: FeedServer
) -> None:
    feed = feed_server.add("/news.xml", rss_feed("News", items=3))
    config = make_config([{"url": feed, "name": "News"}])
    first = run_cli(config, "run", "--once")
    assert first.returncode == 0, first.stderr
    assert mails(config) == []  # nobody to mail yet, and the run is not used up by that

    assert run_cli(config, "subscribers", "add", "me@example.org").returncode == 0
    second = run_cli(config, "run", "--once")
    assert second.returncode == 0, second.stderr
    [mail] = mails(config)
    assert "News item 0" in text_part(mail)

    assert run_cli(config, "run", "--once").returncode == 0
    assert len(mails(config)) == 1  # the same edition never twice
    again = run_cli(config, "digest", "send")
    assert again.returncode == 0 and "nothing to send now: 1 already had it" in again.stdout
    assert len(mails(config)) == 1


def test_an_edition_skipped_as_empty_is_sent_when_the_news_comes(
    make_config: Callable[..., Path], feed_server: FeedServer
) -> None:
    """The subscriber is due before any item is stored (the feed is down): the run's edition is
    empty and skipped, which is not "had"; once the feed answers, the same run mails it."""
    feed = feed_server.add("/news.xml", b"down", status=503)
    config = make_config([{"url": feed, "name": "News"}])
    assert run_cli(config, "subscribers", "add", "me@example.org").returncode == 0
    assert run_cli(config, "run", "--once").returncode == 0
    assert mails(config) == []
    told = run_cli(config, "digest", "send", "--name", "daily")
    assert "1 had no story new to them yet" in told.stdout, told.stdout
    assert "already had" not in told.stdout and "0 sent" in told.stdout

    feed_server.add("/news.xml", rss_feed("News", items=3))
    assert run_cli(config, "poll").returncode == 0
    sent = run_cli(config, "digest", "send", "--name", "daily")
    assert sent.returncode == 0, sent.stderr
    [mail] = mails(config)
    assert "News item 0" in text_part(mail)
    assert "queued now" in sent.stdout and "1 sent" in sent.stdout


def test_digest_send_now_and_its_errors(
    make_config: Callable[..., Path], feed_server: FeedServer
) -> None:
    feed = feed_server.add("/news.xml", rss_feed("News", items=2))
    config = make_config([{"url": feed, "name": "News"}])
    assert run_cli(config, "poll").returncode == 0
    for address in ("a@example.org", "b@example.org"):
        assert run_cli(config, "subscribers", "add", address).returncode == 0
    one = run_cli(config, "digest", "send", "--subscriber", "a@example.org")
    assert one.returncode == 0, one.stderr
    assert "1 sent" in one.stdout and len(mails(config)) == 1
    rest = run_cli(config, "digest", "send")
    assert "1 sent" in rest.stdout and len(mails(config)) == 2  # b, and not a again
    nothing_new = run_cli(config, "digest", "send", "--now")
    assert nothing_new.returncode == 0 and len(mails(config)) == 2  # an empty edition is skipped
    feed_server.replace("/news.xml", rss_feed("Later", items=2, link="https://later.example/"))
    assert run_cli(config, "poll").returncode == 0
    fresh = run_cli(config, "digest", "send", "--now", "--name", "daily")
    assert fresh.returncode == 0, fresh.stderr
    assert len(mails(config)) == 4  # a new edition for both, with what is new
    assert all("Later item" in text_part(m) for m in mails(config)[2:])

    unknown = run_cli(config, "digest", "send", "--name", "weekly")
    assert unknown.returncode == 1 and "no digest named 'weekly'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    nobody = run_cli(config, "digest", "send", "--subscriber", "who@example.org")
    assert nobody.returncode == 1 and "no such subscriber" in nobody.stderr

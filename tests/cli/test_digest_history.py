"""What was sent: ``digest list``, ``digest show``, ``status``'s last mailing, and test sends
that touch only the one subscriber's digests, through the real command line and real SMTP."""

from __future__ import annotations

import email
import email.policy
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import select

from aggregator.store.db import Database
from aggregator.store.models import DigestRun
from tests.cli import ENV, ok, one_line_error, run_cli, run_cli_all
from tests.support.feedserver import FeedServer, rss_feed

pytestmark = pytest.mark.slow  # each command is a subprocess of ~1 s

WEEKLY = '[[digests]]\nname = "weekly"\nschedule = "0 8 * * mon"\ntimezone = "UTC"\n'
HOSTILE = "Markup [bold]x[/] news"


def _runs(db: Database) -> list[tuple[str, int]]:
    with db.session() as session:
        return [(r.digest_name, r.id) for r in session.scalars(select(DigestRun))]


def test_a_test_send_touches_only_the_subscribers_digests_and_publishes_nothing(
    make_config: Callable[..., Path],
    feed_server: FeedServer,
    smtp_server,  # noqa: ANN001 - the aiosmtpd fixture
    open_db: Callable[[Path], Database],
) -> None:
    smtp = smtp_server(security="none")
    feed = feed_server.add("/news.xml", rss_feed("News", items=3))
    config = make_config([{"url": feed, "name": "News"}], smtp_port=smtp.port, extra=WEEKLY)
    ok(run_cli(config, "poll"))
    ok(run_cli(config, "subscribers", "add", "tester@example.org", "--digest", "daily"))
    ok(run_cli(config, "subscribers", "add", "reader@example.org"))

    out = ok(run_cli(config, "digest", "send", "--now", "--subscriber", "tester@example.org"))
    assert "daily, edition of" in out and "weekly" not in out
    assert [m.rcpt_tos for m in smtp.messages] == [("tester@example.org",)]
    # The scheduled edition, for the tester only (nothing new to them now, so no mail).
    ok(run_cli(config, "digest", "send", "--subscriber", "tester@example.org"))
    assert [name for name, _ in _runs(open_db(config))] == ["daily", "daily"]
    public = config.parent / "public"
    assert not (public / "digests").exists()  # no archive page for a test send
    assert not (public / "index.html").exists()

    refused = run_cli(
        config, "digest", "send", "--now", "--name", "weekly", "--subscriber", "tester@example.org"
    )
    assert one_line_error(refused) == (
        "error: tester@example.org does not get the digest 'weekly' (they get: daily)"
    )
    assert len(smtp.messages) == 1 and len(_runs(open_db(config))) == 2

    # The schedule's edition gets its archive page once everyone is sent it.
    ok(run_cli(config, "digest", "send"))
    assert sorted(m.rcpt_tos for m in smtp.messages[1:]) == [("reader@example.org",)] * 2
    assert len(list((public / "digests" / "daily").iterdir())) == 1
    assert len(list((public / "digests" / "weekly").iterdir())) == 1


def test_digest_list_show_and_status_say_what_was_mailed_and_when(
    make_config: Callable[..., Path],
    feed_server: FeedServer,
    smtp_server,  # noqa: ANN001 - the aiosmtpd fixture
    tmp_path: Path,
) -> None:
    smtp = smtp_server(security="none")
    smtp.handler.reject("bad@example.org")
    feed = feed_server.add("/news.xml", rss_feed(HOSTILE, items=2))
    config = make_config([{"url": feed, "name": "News", "priority": 5}], smtp_port=smtp.port)
    ok(run_cli(config, "poll"))
    for address in ("good@example.org", "bad@example.org"):
        ok(run_cli(config, "subscribers", "add", address))
    ok(run_cli(config, "run", "--once"))  # the scheduled edition: published, mailed now
    assert [m.rcpt_tos for m in smtp.messages] == [("good@example.org",)]

    listed, as_json, status, status_json = run_cli_all(
        config,
        ("digest", "list"),
        ("digest", "list", "--json"),
        ("status",),
        ("status", "--json"),
    )
    [edition] = json.loads(ok(as_json))
    assert edition["digest"] == "daily" and edition["run"] == 1
    assert (edition["sent"], edition["failed"], edition["bounced"], edition["skipped"]) == (
        1,
        0,
        1,
        0,
    )
    assert edition["lead"] in (f"{HOSTILE} item 0", f"{HOSTILE} item 1")
    slug = re.fullmatch(r"http://127\.0\.0\.1:8080/digests/daily/([\d-]+)/", edition["archive"])
    assert slug, edition["archive"]
    assert (config.parent / "public" / "digests" / "daily" / slug[1] / "index.html").is_file()
    sent_at = edition["sent_at"]
    assert sent_at and sent_at > edition["scheduled_for"]  # when mail went out, not the slot

    table = ok(listed)
    header, row = table.splitlines()[:2]
    assert header.split() == [
        "run", "digest", "mailed", "sent", "failed", "bounced", "skipped", "lead", "story", "archive"
    ]  # fmt: skip
    assert edition["lead"] in row  # printed as written, never as markup
    assert edition["archive"] in row

    daily = json.loads(ok(status_json))["digests"][0]
    assert daily["last_mailed"] == sent_at
    line = next(line for line in ok(status).splitlines() if line.startswith("daily"))
    assert re.search(r"\b\d+s ago\b", line), line  # mailed seconds ago
    assert "last mailed" in ok(status)

    # The edition as mailed: HTML, or the text part; an unknown run is one line.
    html, text, unknown = run_cli_all(
        config,
        ("digest", "show", "1"),
        ("digest", "show", "1", "--text"),
        ("digest", "show", "99"),
    )
    mailed = email.message_from_bytes(smtp.messages[0].data, policy=email.policy.default)
    mailed_text = mailed.get_body(preferencelist=("plain",)).get_content()
    shown_html = ok(html)
    assert shown_html.lstrip().startswith("<!DOCTYPE html>")
    assert "lead-title" in shown_html and "This Daily digest was sent to 1 recipient." in shown_html
    shown_text = ok(text)
    lead_line = next(line for line in mailed_text.splitlines() if "item" in line)
    assert lead_line in shown_text and "TOP STORY" in shown_text
    assert "/unsubscribe/" not in shown_html + shown_text  # nobody's own links
    assert one_line_error(unknown) == "error: no run 99 (see `aggregator digest list`)"

    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {tmp_path / "opened.txt"}\n')
    browser.chmod(0o755)
    opened = run_cli(config, "digest", "show", "1", "--open", env={**ENV, "BROWSER": str(browser)})
    assert ok(opened).startswith("wrote ")
    uri = (tmp_path / "opened.txt").read_text().strip()
    assert uri.startswith("file://") and uri.endswith(".html")
    assert Path(uri.removeprefix("file://")).read_text().strip() == shown_html.strip()


def test_digest_list_and_show_refuse_bad_numbers_in_one_line(
    make_config: Callable[..., Path],
) -> None:
    config = make_config()
    empty, negative, huge, nothing = run_cli_all(
        config,
        ("digest", "list"),
        ("digest", "list", "--limit", "-5"),
        ("digest", "show", str(2**70)),
        ("digest", "show", "1"),
    )
    assert ok(empty).strip() == "No digest has been sent yet."
    assert one_line_error(negative, 2).startswith("error: Invalid value for '--limit'")
    assert one_line_error(huge, 2).startswith("error: Invalid value for 'RUN'")
    assert one_line_error(nothing) == "error: no run 1 (see `aggregator digest list`)"

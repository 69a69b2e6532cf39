"""``aggregator subscribers ...``, ``digest preview`` and ``deliveries ...`` with real mail."""

from __future__ import annotations

import re
from pathlib import Path

import lxml.html
import pytest
from sqlalchemy import select

from aggregator.store.models import Delivery, Subscriber
from tests.cli import ok, one_line_error, run_cli, run_cli_all
from tests.support.feedserver import FeedServer, rss_feed

pytestmark = pytest.mark.slow  # each command is a subprocess of ~1 s

PEOPLE = """email,digests,tags,timezone
new@example.com,daily,ml;policy,Europe/Paris
not-an-address,daily,,
other@example.com,weekly,,
gone@example.com,,,
# a comment line
Second@Example.com,,,
"""


def _subscribers(db) -> dict[str, Subscriber]:  # noqa: ANN001 - a Database
    with db.session() as session:
        rows = session.scalars(select(Subscriber)).all()
        session.expunge_all()
    return {row.email: row for row in rows}


def test_subscribers_add_remove_import_and_list(tmp_path: Path, make_config, open_db) -> None:
    config = make_config()
    out = ok(run_cli(config, "subscribers", "add", "Gone@Example.com", "--tag", "ML"))
    assert out.strip() == "added gone@example.com (active; digests: daily)"
    invalid, unmailable, removed = run_cli_all(
        config,
        ("subscribers", "add", "no-at-sign.example.com"),
        ("subscribers", "add", "jörg@example.org"),  # SMTPUTF8: no digest could be sent to it
        ("subscribers", "remove", "gone@example.com"),
    )
    assert one_line_error(invalid).startswith("error: 'no-at-sign.example.com': ")
    assert one_line_error(unmailable).startswith("error: 'jörg@example.org': ")
    assert ok(removed).strip() == "unsubscribed gone@example.com"
    out = ok(run_cli(config, "subscribers", "add", "gone@example.com"))
    assert out.strip() == (
        "kept gone@example.com (unsubscribed; digests: daily)"
        " — left unchanged: they unsubscribed or were suspended"
    )

    (tmp_path / "people.csv").write_text(PEOPLE)
    result = run_cli(config, "subscribers", "import", "people.csv")
    assert ok(result).strip() == (
        "people.csv: 2 added, 0 updated, 1 kept unsubscribed/suspended, 2 skipped"
    )
    errors = result.stderr.splitlines()
    assert len(errors) == 2
    assert errors[0].startswith("people.csv: line 3: ")
    assert errors[1] == "people.csv: line 4: unknown digest 'weekly' (configured: daily)"

    rows = _subscribers(open_db(config))
    assert set(rows) == {"gone@example.com", "new@example.com", "second@example.com"}
    new = rows["new@example.com"]
    assert (new.status, new.digests, new.tags, new.timezone) == (
        "active",
        ["daily"],
        ["ml", "policy"],
        "Europe/Paris",
    )
    assert rows["gone@example.com"].status == "unsubscribed"
    assert rows["gone@example.com"].tags == ["ml"]  # the refused re-add changed nothing

    out = ok(run_cli(config, "subscribers", "list"))
    listed = {line.split()[1]: line.split()[2] for line in out.splitlines()[1:] if line.strip()}
    assert listed == {
        "gone@example.com": "unsubscribed",
        "new@example.com": "active",
        "second@example.com": "active",
    }


def test_digest_preview_leads_with_the_top_story(
    tmp_path: Path, feed_server: FeedServer, make_config
) -> None:
    high = feed_server.add("/high.xml", rss_feed("Important", items=2, link="http://hi.test/"))
    low = feed_server.add("/low.xml", rss_feed("Minor", items=2, link="http://lo.test/"))
    config = make_config(
        [
            {"url": low, "name": "Low", "priority": 1, "tags": ["misc"]},
            {"url": high, "name": "High", "priority": 5, "tags": ["core"]},
        ]
    )
    ok(run_cli(config, "poll"))

    preview, unknown = run_cli_all(
        config,
        ("digest", "preview", "--output", "preview.html"),
        ("digest", "preview", "--subscriber", "nobody@example.com"),
    )
    out = ok(preview)
    assert re.fullmatch(r"wrote preview\.html \(4 stories, \d+ KB\)\n", out), out
    page = lxml.html.fromstring((tmp_path / "preview.html").read_bytes())
    lead = page.xpath("string(//h2[contains(@class, 'lead-title')])").strip()
    assert lead.startswith("Important item "), lead
    text = page.text_content()
    assert "Minor item 0" in text and "Minor item 1" in text and "Important item" in text

    assert one_line_error(unknown) == "error: no subscriber 'nobody@example.com'"
    assert not (tmp_path / "digest-preview.html").exists()

    # as a French reader gets it, with no model: the mail's words in French, the briefs as
    # written, said once
    ok(run_cli(config, "subscribers", "add", "fr@example.com", "--language", "fr"))
    french = run_cli(
        config, "digest", "preview", "--subscriber", "fr@example.com", "--output", "fr.html"
    )
    ok(french)
    page = lxml.html.fromstring((tmp_path / "fr.html").read_bytes())
    text = page.text_content()
    assert page.get("lang") == "fr" and "À la une" in text and "Important item" in text
    assert text.count("Ce digest est dans la langue originale de ses sources.") == 1


def test_bounce_is_listed_and_requeue_retries_it(
    tmp_path: Path, feed_server: FeedServer, smtp_server, make_config, open_db
) -> None:
    smtp = smtp_server(security="none")
    smtp.handler.reject("bad@example.com")
    feed = feed_server.add("/a.xml", rss_feed("Alpha", items=2))
    config = make_config([{"url": feed, "name": "Alpha"}], smtp_port=smtp.port)
    (tmp_path / "people.csv").write_text("good@example.com\nbad@example.com\n")
    ok(run_cli(config, "subscribers", "import", "people.csv"))

    out = ok(run_cli(config, "run", "--once"))
    assert "mail: 1 sent, 0 to retry, 1 bounced, 0 failed" in out
    assert [m.rcpt_tos for m in smtp.messages] == [("good@example.com",)]

    runs, run_1 = run_cli_all(config, ("deliveries", "list"), ("deliveries", "list", "--run", "1"))
    header, row = ok(runs).splitlines()[:2]
    assert header.split()[-6:] == ["pending", "rendered", "sent", "failed", "bounced", "skipped"]
    assert re.match(r"1\s+daily\s+\S+ \S+ UTC\s+done\s+0\s+0\s+1\s+0\s+1\s+0\s*$", row), row

    out = ok(run_1)
    bad = next(line for line in out.splitlines() if "bad@example.com" in line)
    assert re.match(r"\d+\s+bad@example\.com\s+bounced\s+1\s+-\s+-\s+.*550", bad), bad
    sent = r"good@example\.com\s+sent\s+1\s+-\s+\d{4}-\d\d-\d\d \d\d:\d\d UTC\s*$"
    assert re.search(sent, out, re.M), out

    assert ok(run_cli(config, "deliveries", "requeue", "--run", "1")).strip() == (
        "requeued 1 deliveries"
    )
    with open_db(config).session() as session:
        states = dict(
            session.execute(select(Subscriber.email, Delivery.state).join(Delivery)).all()
        )
    assert states == {"good@example.com": "sent", "bad@example.com": "rendered"}

    out = ok(run_cli(config, "run", "--once"))
    assert "digests: 0 run(s) started; mail: 0 sent, 0 to retry, 1 bounced, 0 failed" in out
    assert smtp.handler.rcpt_attempts["bad@example.com"] == 2  # retried once, not more
    assert len(smtp.messages) == 1  # good@ did not get the digest twice
    with open_db(config).session() as session:
        bounced = session.scalar(select(Subscriber).where(Subscriber.email == "bad@example.com"))
        assert (bounced.hard_bounces, bounced.status) == (2, "active")  # threshold is 3


def test_subscribers_choose_a_digest_language_on_add_and_import(
    tmp_path: Path, make_config, open_db
) -> None:
    config = make_config()
    added, hostile, unknown = run_cli_all(
        config,
        ("subscribers", "add", "fr@example.com", "--language", "FR"),
        ("subscribers", "add", "x@example.com", "--language", "fr\nBcc: evil@example.com"),
        ("subscribers", "add", "y@example.com", "--language", "qq"),
    )
    assert ok(added).startswith("added fr@example.com")
    assert one_line_error(hostile).startswith("error: 'x@example.com': not a language tag")
    assert one_line_error(unknown) == "error: 'y@example.com': unknown language 'qq'"
    (tmp_path / "langs.csv").write_text(
        "email,digests,tags,timezone,language\n"
        "br@example.com,daily,,UTC,pt-br\n"
        "plain@example.com,daily,,UTC,\n"
        "bad@example.com,daily,,UTC,<script>alert(1)</script>\n"
    )
    result = run_cli(config, "subscribers", "import", "langs.csv")
    assert (
        ok(result).strip().endswith("2 added, 0 updated, 0 kept unsubscribed/suspended, 1 skipped")
    )
    assert result.stderr.strip().startswith("langs.csv: line 4: not a language tag")
    rows = _subscribers(open_db(config))
    assert {e: r.language for e, r in rows.items()} == {
        "fr@example.com": "fr",
        "br@example.com": "pt-BR",
        "plain@example.com": "",
    }
    listed = ok(run_cli(config, "subscribers", "list"))
    assert "pt-BR" in listed

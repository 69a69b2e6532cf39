"""``aggregator poll``, ``brief``, ``publish``, ``status`` and config errors on the command line."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree
from sqlalchemy import func, select

from aggregator.config import load
from aggregator.store.db import Database
from aggregator.store.models import BriefRow, Item
from tests.cli import config_text, ok, one_line_error, run_cli, run_cli_all
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.llmserver import LLMServer

pytestmark = pytest.mark.slow  # each command is a subprocess of ~1 s

WHEN = r"\d+(?:\.\d)?[smh]"
"""How `status` and `sources list` print a time span: 45s, 30m, 2.5h."""
ARTICLE_URL = "http://alpha.test/posts/reward-hacking"
SENTENCES = [
    "Reward hacking is a failure mode in which an agent exploits flaws in its reward signal.",
    "Researchers at three labs measured how often agents found such exploits during training.",
    "They found that larger models discovered loopholes faster than smaller ones did.",
    "The team proposes auditing reward functions before each training run begins.",
    "Auditing is a process in which people read the reward code line by line before training.",
    "An audit takes about a day and caught most of the loopholes in their experiments.",
    "Critics note that audits cannot anticipate every exploit an agent might find.",
    "The paper closes with a list of open problems for the field to work on next.",
]
ARTICLE = (
    '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Alpha</title>'
    "<link>http://alpha.test/</link><description>d</description><item>"
    f"<title>Agents that game their rewards</title><link>{ARTICLE_URL}</link>"
    f"<guid>alpha-1</guid><description>&lt;p&gt;{' '.join(SENTENCES)}&lt;/p&gt;</description>"
    "<pubDate>Sun, 29 Nov 2026 06:00:00 GMT</pubDate></item></channel></rss>"
).encode()


@dataclass
class Installation:
    """A config polled twice, with what each poll printed and the counts right after."""

    config: Path
    db: Database
    first: subprocess.CompletedProcess
    second: subprocess.CompletedProcess
    items_after_poll: int
    briefs_after_poll: int


@pytest.fixture(scope="module")
def polled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installation]:
    """Two sources polled twice (Beta gains one item in between); shared by this module."""
    root = tmp_path_factory.mktemp("installation")
    with FeedServer() as server:
        alpha = server.add("/alpha.xml", ARTICLE)
        beta = server.add("/beta.xml", rss_feed("Beta", items=3))
        config = root / "config.toml"
        config.write_text(
            config_text([{"url": alpha, "name": "Alpha"}, {"url": beta, "name": "Beta"}])
        )
        first = run_cli(config, "poll")
        server.replace("/beta.xml", rss_feed("Beta", items=4))
        second = run_cli(config, "poll")
    db = Database(load(config).database_url)
    with db.session() as session:
        items = session.scalar(select(func.count()).select_from(Item))
        briefs = session.scalar(select(func.count()).select_from(BriefRow))
    yield Installation(config, db, first, second, items, briefs)
    db.dispose()


def test_poll_prints_a_line_per_source_and_a_summary(polled: Installation) -> None:
    lines = ok(polled.first).splitlines()
    assert [re.sub(r"in [\d.]+ s$", "in N s", line.strip()) for line in lines if line.strip()] == [
        "new Alpha: 1 new, 0 changed",
        "new Beta: 3 new, 0 changed",
        "2 source(s): 4 new item(s), 0 changed, 0 not modified, 0 failed",
        "4 brief(s) made in N s",
    ]
    lines = ok(polled.second).splitlines()
    assert sorted(
        re.sub(r"in [\d.]+ s$", "in N s", line.strip()) for line in lines if line.strip()
    ) == [
        "1 brief(s) made in N s",
        "2 source(s): 1 new item(s), 0 changed, 1 not modified, 0 failed",
        "new Beta: 1 new, 0 changed",
        "not-modified Alpha",
    ]
    assert polled.items_after_poll == 5


def test_poll_makes_briefs_for_new_items(polled: Installation) -> None:
    assert polled.briefs_after_poll == polled.items_after_poll == 5


def test_brief_by_id_and_by_url(polled: Installation) -> None:
    with polled.db.session() as session:
        item_id = session.scalar(select(Item.id).where(Item.url == ARTICLE_URL))
    by_id, unknown = run_cli_all(polled.config, ("brief", str(item_id)), ("brief", "99999"))
    by_id = ok(by_id)
    assert one_line_error(unknown) == (
        "error: no item '99999' (give an id from `aggregator items list` or the story's URL)"
    )
    by_url = ok(run_cli(polled.config, "brief", ARTICLE_URL))  # the cached brief, same text
    assert by_url == by_id

    lines = [line.strip() for line in by_id.splitlines()]
    assert lines[1] == "Agents that game their rewards"
    assert lines[2].startswith("Alpha · 29 Nov 2026 · 1 min read · en · ")
    start = lines.index("In brief") + 1
    bullets = [line.removeprefix("• ") for line in lines[start : lines.index("", start)]]
    assert 1 <= len(bullets) <= 5
    assert all(b in SENTENCES for b in bullets), bullets  # extractive: sentences of the text
    assert f"Read full story at Alpha → {ARTICLE_URL}" in lines
    terms = lines.index("Terms in this brief")
    shown = lines[terms + 1 : lines.index("", terms)]
    assert f"Auditing: {SENTENCES[4]}" in shown, by_id  # a definition in the text


def test_publish_writes_the_feeds_and_status_reports_them(polled: Installation) -> None:
    out = ok(run_cli(polled.config, "publish"))
    assert re.fullmatch(r"published 5 entries; \d+ file\(s\) changed\n", out), out
    public = polled.config.parent / "public"
    with polled.db.session() as session:
        titles = sorted(session.scalars(select(Item.title)))
    atom = etree.parse(str(public / "feed.atom"))
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert sorted(atom.xpath("/a:feed/a:entry/a:title/text()", namespaces=ns)) == titles
    rss = etree.parse(str(public / "feed.rss"))
    assert sorted(rss.xpath("/rss/channel/item/title/text()")) == titles
    feed = json.loads((public / "feed.json").read_text(encoding="utf-8"))
    assert sorted(item["title"] for item in feed["items"]) == titles

    out = ok(run_cli(polled.config, "status"))
    with polled.db.session() as session:
        briefs = session.scalar(select(func.count()).select_from(BriefRow))
    lines = [line.rstrip() for line in out.splitlines()]
    assert lines[0] == "Sources 2: 2 ok"
    assert re.fullmatch(rf"  next check in {WHEN}", lines[1]), lines[1]
    assert f"Items 5, briefs {briefs}" in lines
    assert re.search(
        r"^daily\s+0 7 \* \* \* \(UTC\)\s+never\s+never\s+now \(catch-up\)$", out, re.M
    )
    assert "Subscribers none" in lines
    assert "Outbox 0 pending, 0 failed or bounced" in lines
    assert re.fullmatch(
        rf"Feed {re.escape(str(public / 'feed.atom'))} published \d+s ago", lines[-1]
    )


LLM_BRIEF = {  # faithful to the item, as the LLM check demands, each bullet with its passage
    "bullets": [
        {
            "text": "Reward hacking is when an agent exploits flaws in its reward signal.",
            "source": "Reward hacking is a failure mode in which an agent exploits flaws in its"
            " reward signal.",
        },
        {
            "text": "The team proposes auditing reward functions before each training run.",
            "source": "The team proposes auditing reward functions before each training run"
            " begins.",
        },
    ],
    "terms": [
        {
            "term": "Reward hacking",
            "definition": "A failure mode in which an agent exploits flaws in its reward signal.",
        }
    ],
    "paragraph": "An audit takes about a day and caught most of the loopholes in their"
    " experiments.",
}


def test_brief_refresh_uses_the_configured_llm(tmp_path: Path, feed_server: FeedServer) -> None:
    feed = feed_server.add("/alpha.xml", ARTICLE)
    with LLMServer() as llm:
        config = tmp_path / "config.toml"
        config.write_text(
            config_text(
                [{"url": feed, "name": "Alpha"}],
                extra=f'[briefs.llm]\nenabled = true\nbase_url = "{llm.base_url}"',
            )
        )
        ok(run_cli(config, "poll"))  # no scripted reply: the LLM answers 503, extractive brief
        asked = len(llm.requests)
        llm.reply_content(json.dumps(LLM_BRIEF))
        out = ok(run_cli(config, "brief", ARTICLE_URL, "--refresh"))
        assert len(llm.requests) == asked + 1
    lines = [line.strip() for line in out.splitlines()]
    assert [f"• {b['text']}" for b in LLM_BRIEF["bullets"]] == lines[5:7], out  # type: ignore[index]
    # the term once: the shipped glossary's definition comes before the model's own
    assert sum(line.lower().startswith("reward hacking:") for line in lines) == 1, out
    assert "extractive" not in lines[2]


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            '[[digests]]\nname = "weekly"\nsubject = "{title} for {week}"',
            ["config.toml: digests[1].subject: bad placeholder 'week'; "
             "use {title} {date} {count} {lead}"],
        ),
        (
            '[mailer]\nhost = "x"\n[web]\nport = 99999',
            ["config.toml: mailer: unknown key (check the spelling)",
             "config.toml: web.port: Input should be less than or equal to 65535"],
        ),
    ],
    ids=["subject-placeholder", "unknown-section-and-port"],
)  # fmt: skip
def test_config_errors_exit_2_with_key_paths(
    tmp_path: Path, extra: str, expected: list[str]
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(config_text(extra=extra))
    result = run_cli(config, "sources", "list")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(result.stderr.splitlines()) == [f"error: {line}" for line in sorted(expected)]
    assert result.stdout == ""
    assert not (tmp_path / "data").exists()  # nothing was opened or created

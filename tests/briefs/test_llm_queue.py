"""Where the LLM's calls go: readers' stories first, cache keys with the model, later runs."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from aggregator.briefs.llm import LLMSummarizer
from aggregator.briefs.llm_queue import llm_order, spend_llm_calls
from aggregator.briefs.pipeline import make_briefs
from aggregator.config import from_mapping
from aggregator.model.entry import Entry
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import BriefRow, Item, Source
from aggregator.store.sources import sync_config_sources
from tests.briefs.test_pipeline import NOW, TEXT
from tests.support.llmserver import LLMServer, completion

REPLY = json.dumps(
    {
        "bullets": [
            "Researchers released a new benchmark for language models on Monday.",
            "The benchmark tests long-context reasoning over legal documents.",
        ],
        "terms": [],
        "paragraph": "Researchers released a new benchmark for language models on Monday.",
    }
)


def _store(db: Database, priority: int, ages_hours: list[int], name: str) -> list[int]:
    with db.session() as session:
        source = Source(url=f"https://{name}.example/feed", name=name, priority=priority)
        session.add(source)
        session.flush()
        entries = [
            Entry(
                key=f"guid:{name}{h}",
                title=f"{name} {h}",
                url=f"https://{name}.example/{h}",
                content_html=TEXT,
                published=NOW - timedelta(hours=h),
            )
            for h in ages_hours
        ]
        result = store_entries(session, source, entries, NOW)
        return result.new_ids


def _summarizers(db: Database) -> dict[int, str]:
    with db.session() as session:
        return dict(session.execute(select(BriefRow.item_id, BriefRow.summarizer)).all())


def _settings(tmp_path: Path):
    return from_mapping({}, root=tmp_path, origin="test")


def _client(server: LLMServer, model: str = "tiny", max_calls: int = 2) -> LLMSummarizer:
    return LLMSummarizer(base_url=server.base_url, model=model, timeout=2.0, max_calls=max_calls)


def test_calls_go_to_the_highest_priority_newest_items_first(
    sqlite_db: Database, tmp_path: Path
) -> None:
    low = _store(sqlite_db, 2, [1, 2], "low")
    high = _store(sqlite_db, 5, [30, 3, 10], "high")
    settings = _settings(tmp_path)
    make_briefs(sqlite_db, settings, low + high)  # extractive first, as the service does
    with LLMServer() as server:
        for _ in range(2):
            server.reply_content(REPLY)
        llm = _client(server)
        assert llm_order(sqlite_db, llm, 10) == [high[1], high[2], high[0], low[0], low[1]]
        spend_llm_calls(
            sqlite_db, llm, lambda ids: make_briefs(sqlite_db, settings, ids, llm=llm), batch=1
        )
        assert len(server.requests) == 2
    made = _summarizers(sqlite_db)
    assert [made[i] for i in (high[1], high[2])] == ["llm:tiny:p2", "llm:tiny:p2"]
    assert {made[i] for i in (high[0], *low)} == {"extractive"}


def test_a_fallback_gets_its_llm_brief_on_a_later_run_and_a_new_model_rebriefs_lazily(
    sqlite_db: Database, tmp_path: Path
) -> None:
    [item] = _store(sqlite_db, 3, [1], "s")
    settings = _settings(tmp_path)
    with LLMServer() as server:
        server.reply(500)
        first = make_briefs(sqlite_db, settings, [item], llm=_client(server))
        assert first.made == 1 and _summarizers(sqlite_db)[item] == "extractive"
        # without a model (or with its calls spent) the extractive brief is kept
        assert make_briefs(sqlite_db, settings, [item]).cached == 1
        server.reply_content(REPLY)
        assert make_briefs(sqlite_db, settings, [item], llm=_client(server)).made == 1
        assert _summarizers(sqlite_db)[item] == "llm:tiny:p2"
        # the LLM brief is kept by extractive runs and by runs of the same model
        assert make_briefs(sqlite_db, settings, [item]).cached == 1
        assert make_briefs(sqlite_db, settings, [item], llm=_client(server)).cached == 1
        assert len(server.requests) == 2
        # a new model: kept until that model has a call to spare for it
        assert (
            make_briefs(sqlite_db, settings, [item], llm=_client(server, max_calls=0)).cached == 1
        )
        server.reply_content(REPLY)
        assert make_briefs(sqlite_db, settings, [item], llm=_client(server, "big")).made == 1
    assert _summarizers(sqlite_db)[item] == "llm:big:p2"


def test_a_stalled_server_costs_three_timeouts_per_run_not_one_per_item(
    sqlite_db: Database, tmp_path: Path
) -> None:
    ids = _store(sqlite_db, 3, list(range(1, 21)), "many")
    settings = _settings(tmp_path)
    make_briefs(sqlite_db, settings, ids)
    with LLMServer() as server:
        for _ in range(20):
            server.reply_content(REPLY, delay=2.0)
        llm = LLMSummarizer(base_url=server.base_url, model="tiny", timeout=0.2, max_calls=50)
        started = time.monotonic()
        spend_llm_calls(sqlite_db, llm, lambda ids: make_briefs(sqlite_db, settings, ids, llm=llm))
        elapsed = time.monotonic() - started
        assert len(server.requests) == 3 and not llm.available
    assert elapsed < 3 * 0.2 + 1.5
    assert set(_summarizers(sqlite_db).values()) == {"extractive"}  # every item still has one


def _reply_with_usage(server: LLMServer, tokens: int) -> None:
    body = json.loads(completion(REPLY))
    body["usage"] = {"prompt_tokens": tokens - 50, "completion_tokens": 50, "total_tokens": tokens}
    server.reply(200, json.dumps(body).encode())


def test_token_budgets_per_run_and_per_source_hold_and_a_second_run_makes_no_call(
    sqlite_db: Database, tmp_path: Path
) -> None:
    a = _store(sqlite_db, 5, [1, 2, 3, 4], "a")
    b = _store(sqlite_db, 4, [1, 2, 3, 4], "b")
    settings = _settings(tmp_path)
    make_briefs(sqlite_db, settings, a + b)
    with LLMServer() as server:
        for _ in range(20):
            _reply_with_usage(server, 700)
        llm = LLMSummarizer(base_url=server.base_url, model="tiny", timeout=2.0, max_calls=50,
                            max_tokens_per_run=5000, max_tokens_per_source=2000,
                            reply_tokens=300)  # fmt: skip
        spend_llm_calls(sqlite_db, llm, lambda ids: make_briefs(sqlite_db, settings, ids, llm=llm))
        assert llm.tokens <= 5000 and all(v <= 2000 for v in llm.tokens_by_source.values())
        assert llm.tokens_by_source == {"a": 1400, "b": 1400}  # a third call would pass 2,000
        assert len(server.requests) == 4
        # a second run over the same items: everything fits, no call
        again = LLMSummarizer(base_url=server.base_url, model="tiny", timeout=2.0, max_calls=2)
        for ids in (a[:2], b[:2]):
            assert make_briefs(sqlite_db, settings, ids, llm=again).cached == 2
        assert len(server.requests) == 4 and again.calls == 0


def test_the_model_serves_only_the_sources_opted_in(sqlite_db: Database, tmp_path: Path) -> None:
    ai = _store(sqlite_db, 3, [1], "ai")
    other = _store(sqlite_db, 5, [1], "other")
    refused = _store(sqlite_db, 5, [2], "refused")
    with sqlite_db.session() as session:
        for source in session.scalars(select(Source)):
            source.tags = ["AI"] if source.name == "ai" else ["news"]
            source.llm = False if source.name == "refused" else None
    settings = _settings(tmp_path)
    make_briefs(sqlite_db, settings, ai + other + refused)
    with LLMServer() as server:
        server.reply_content(REPLY)
        llm = LLMSummarizer(base_url=server.base_url, model="tiny", timeout=2.0, tags=("ai",))
        assert llm_order(sqlite_db, llm, 10) == ai
        make_briefs(sqlite_db, settings, ai + other + refused, llm=llm, refresh=True)
        assert len(server.requests) == 1
        everyone = LLMSummarizer(base_url=server.base_url, model="tiny", timeout=2.0)
        assert sorted(llm_order(sqlite_db, everyone, 10)) == sorted(other)  # "ai" is done
    made = _summarizers(sqlite_db)
    assert made[ai[0]] == "llm:tiny:p2" and made[other[0]] == made[refused[0]] == "extractive"


def test_an_answer_that_fails_the_check_is_not_asked_again_until_the_content_changes(
    sqlite_db: Database, tmp_path: Path
) -> None:
    [item] = _store(sqlite_db, 3, [1], "s")
    settings = _settings(tmp_path)
    make_briefs(sqlite_db, settings, [item])
    invented = json.dumps({"bullets": ["Microsoft bought the benchmark for 9 billion dollars."]})
    with LLMServer() as server:
        server.reply_content(invented)
        run = _client(server, max_calls=5)
        spend_llm_calls(sqlite_db, run, lambda ids: make_briefs(sqlite_db, settings, ids, llm=run))
        assert len(server.requests) == 1 and _summarizers(sqlite_db)[item] == "extractive"
        # the next run: same content, same model and prompt: no call, nothing offered
        again = _client(server, max_calls=5)
        assert llm_order(sqlite_db, again, 10) == []
        assert make_briefs(sqlite_db, settings, [item], llm=again).cached == 1
        assert len(server.requests) == 1
        # a new model is asked; so is the same model once the item changes
        assert llm_order(sqlite_db, _client(server, "other"), 10) == [item]
        with sqlite_db.session() as session:
            session.get(Item, item).content_html = TEXT + "<p>An update was added on Tuesday.</p>"
        make_briefs(sqlite_db, settings, [item])
        assert llm_order(sqlite_db, _client(server, max_calls=5), 10) == [item]


def test_a_sources_llm_setting_comes_from_the_config(sqlite_db: Database, tmp_path: Path) -> None:
    settings = from_mapping(
        {
            "briefs": {"llm": {"tags": [" AI "]}},
            "sources": [
                {"url": "https://yes.example/feed", "llm": True},
                {"url": "https://no.example/feed", "llm": False, "tags": ["ai"]},
                {"url": "https://tagged.example/feed", "tags": ["ai"]},
            ],
        },
        root=tmp_path,
        origin="test",
    )
    assert settings.briefs.llm.tags == ["ai"]
    with sqlite_db.session() as session:
        rows = {row.url: row.llm for row in sync_config_sources(session, settings)}
    assert rows == {
        "https://yes.example/feed": True,
        "https://no.example/feed": False,
        "https://tagged.example/feed": None,
    }

"""The LLM back end against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import logging
import time

import pytest

from aggregator.briefs.llm import LLMSummarizer
from aggregator.briefs.summarize import make_brief
from tests.briefs.corpus import items
from tests.support.llmserver import LLMServer

TITLE, HTML = items("5739ef9f30ed2331.xml")[1]  # "Inside Claude Code's Web Tools"
GOOD = {
    "bullets": [
        "Claude Code has two web tools, WebFetch and WebSearch.",
        "WebFetch answers a question from one known page.",
        "WebSearch finds the pages it needs to read.",
    ],
    "terms": [{"term": "WebFetch", "definition": "A tool that answers questions from one page."}],
    "paragraph": "Claude Code uses WebFetch to read one page and WebSearch to find pages.",
}


@pytest.fixture
def server():
    with LLMServer() as s:
        yield s


def llm(server: LLMServer, **kw) -> LLMSummarizer:
    kw.setdefault("timeout", 2.0)
    return LLMSummarizer(base_url=server.base_url, model="test-model", api_key="sk-test", **kw)


def test_valid_reply_is_used(server: LLMServer) -> None:
    server.reply_content(json.dumps(GOOD))
    brief = make_brief(TITLE, HTML, llm=llm(server))
    assert brief.summarizer == "llm:test-model:p2"
    assert brief.bullets == GOOD["bullets"]
    assert [t.term for t in brief.terms] == ["WebFetch"]
    assert brief.paragraph == GOOD["paragraph"]
    assert brief.language == "en" and brief.reading_minutes >= 2
    (req,) = server.requests
    assert req.headers["Authorization"] == "Bearer sk-test"
    assert req.body["model"] == "test-model"
    assert req.body["response_format"] == {"type": "json_object"}
    assert "WebSearch" in req.body["messages"][-1]["content"]


def test_reply_in_a_code_fence_is_accepted(server: LLMServer) -> None:
    server.reply_content("```json\n" + json.dumps(GOOD) + "\n```")
    assert make_brief(TITLE, HTML, llm=llm(server)).summarizer == "llm:test-model:p2"


def test_glossary_wins_over_the_model(server: LLMServer) -> None:
    server.reply_content(json.dumps(GOOD))
    glossary = {"WebFetch": "Claude Code's page reader.", "Kubernetes": "Not in this item."}
    brief = make_brief(TITLE, HTML, llm=llm(server), glossary=glossary)
    assert [(t.term, t.definition) for t in brief.terms] == [
        ("WebFetch", "Claude Code's page reader.")
    ]


def _bad(**change: object) -> str:
    return json.dumps({**GOOD, **change})


@pytest.mark.parametrize(
    ("content", "why"),
    [
        ("this is not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        (_bad(bullets="One sentence."), "bullets"),
        (_bad(bullets=[]), "bullets"),
        (_bad(bullets=["no capital and no full stop"]), "no bullet"),
        (_bad(bullets=[42, {"x": 1}]), "no bullet"),
    ],
)
def test_malformed_output_falls_back_to_extractive(
    server: LLMServer, caplog: pytest.LogCaptureFixture, content: str, why: str
) -> None:
    server.reply_content(content)
    with caplog.at_level(logging.WARNING, logger="aggregator.briefs.llm"):
        brief = make_brief(TITLE, HTML, llm=llm(server), item_label="item-7")
    assert brief.summarizer == "extractive" and brief.bullets
    (record,) = caplog.records
    assert "item-7" in record.getMessage() and why in record.getMessage()


def test_partly_bad_reply_is_repaired_not_thrown_away(server: LLMServer) -> None:
    reply = {
        **GOOD,
        "bullets": [*GOOD["bullets"], "what is this?", 42, "See https://example.com for more."],
        "terms": [
            {"term": "WebFetch"},
            {"term": "Kubernetes", "definition": "A container scheduler."},
            {"term": "web tools", "definition": "Claude Code uses two tools to work with the web."},
            {"term": "WebFetch", "definition": "A tool a model uses to read any web page."},
            {"term": "WebSearch", "definition": "A search tool. It finds pages. It ranks them."},
        ],
        "paragraph": "Claude Code has two web tools. " * 12,
    }
    server.reply_content(json.dumps(reply))
    brief = make_brief(TITLE, HTML, llm=llm(server))
    assert brief.summarizer == "llm:test-model:p2"
    assert brief.bullets == GOOD["bullets"]
    # "web tools" is not written verbatim in the item, but its words are, and the item says
    # what its definition says: kept; a definition from general knowledge is not
    assert [t.term for t in brief.terms] == ["web tools"]
    assert brief.paragraph.count("Claude Code has two web tools.") == 10  # at most 10 sentences


def test_unfaithful_sentences_are_dropped_and_mostly_unfaithful_falls_back(
    server: LLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    invented = [
        "Claude Code has two web tools, WebFetch and WebSearch.",
        "Microsoft copied WebFetch in 2031.",  # a name and a number the item does not give
        "WebFetch reads 4,096,123 pages a second.",
    ]
    server.reply_content(json.dumps({**GOOD, "bullets": GOOD["bullets"] + invented[1:2]}))
    brief = make_brief(TITLE, HTML, llm=llm(server))
    assert brief.summarizer == "llm:test-model:p2" and brief.bullets == GOOD["bullets"]

    server.reply_content(json.dumps({**GOOD, "bullets": invented}))
    with caplog.at_level(logging.WARNING, logger="aggregator.briefs.llm"):
        fallback = make_brief(TITLE, HTML, llm=llm(server), item_label="item-9")
    assert fallback.summarizer == "extractive"
    assert "only 1 of 3 bullets are supported" in caplog.records[0].getMessage()


def test_the_prompt_asks_for_the_products_shape(server: LLMServer) -> None:
    server.reply_content(json.dumps({**GOOD, "title": "Claude Code's web tools"}))
    brief = make_brief("", HTML, llm=llm(server))
    prompt = server.requests[0].body["messages"][0]["content"]
    for asked in (
        "only when the item itself says why",
        "The first bullet states the news",
        "copied exactly",
        "sponsor reads",
        "Example, for an item",
        "up to 10",
    ):
        assert asked in prompt  # fmt: skip
    assert "Language: en" in server.requests[0].body["messages"][1]["content"]
    assert brief.title == "Claude Code's web tools"  # the item had no title


def test_circuit_breaker_stops_calling_a_stalled_server_until_the_next_run(
    server: LLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    for _ in range(5):
        server.reply_content(json.dumps(GOOD), delay=2.0)
    client = llm(server, timeout=0.2, breaker_after=3)
    with caplog.at_level(logging.WARNING, logger="aggregator.briefs.llm"):
        started = time.monotonic()
        names = [make_brief(TITLE, HTML, llm=client).summarizer for _ in range(6)]
        elapsed = time.monotonic() - started
    assert names == ["extractive"] * 6
    assert len(server.requests) == 3 and not client.available
    assert elapsed < 3 * 0.2 + 2.0  # the three later briefs did not wait for the server
    assert any("3 times in a row" in r.getMessage() for r in caplog.records)
    server.replies.clear()
    server.reply_content(json.dumps(GOOD))
    assert make_brief(TITLE, HTML, llm=llm(server)).summarizer == "llm:test-model:p2"  # next run


def test_a_good_reply_resets_the_breaker(server: LLMServer) -> None:
    for reply in (500, 500, 200, 500, 500, 200):
        if reply == 200:
            server.reply_content(json.dumps(GOOD))
        else:
            server.reply(reply)
    client = llm(server, breaker_after=3)
    names = [make_brief(TITLE, HTML, llm=client).summarizer for _ in range(6)]
    assert names.count("llm:test-model:p2") == 2 and len(server.requests) == 6


def test_http_error_falls_back(server: LLMServer, caplog: pytest.LogCaptureFixture) -> None:
    server.reply(500, b'{"error": "boom"}')
    with caplog.at_level(logging.WARNING, logger="aggregator.briefs.llm"):
        brief = make_brief(TITLE, HTML, llm=llm(server), item_label="item-8")
    assert brief.summarizer == "extractive"
    assert "HTTP 500" in caplog.records[0].getMessage()


def test_not_a_completion_falls_back(server: LLMServer) -> None:
    server.reply(200, b'{"choices": []}')
    assert make_brief(TITLE, HTML, llm=llm(server)).summarizer == "extractive"


def test_timeout_falls_back(server: LLMServer, caplog: pytest.LogCaptureFixture) -> None:
    server.reply_content(json.dumps(GOOD), delay=3.0)
    with caplog.at_level(logging.WARNING, logger="aggregator.briefs.llm"):
        brief = make_brief(TITLE, HTML, llm=llm(server, timeout=0.3), item_label="slow")
    assert brief.summarizer == "extractive"
    assert "timed out" in caplog.records[0].getMessage()


def test_unreachable_server_falls_back() -> None:
    with LLMServer() as s:
        url = s.base_url
    dead = LLMSummarizer(base_url=url, model="m", timeout=1.0)
    assert make_brief(TITLE, HTML, llm=dead).summarizer == "extractive"


def test_call_cap_holds(server: LLMServer) -> None:
    for _ in range(3):
        server.reply_content(json.dumps(GOOD))
    client = llm(server, max_calls=2)
    names = [make_brief(TITLE, HTML, llm=client).summarizer for _ in range(3)]
    assert names == ["llm:test-model:p2", "llm:test-model:p2", "extractive"]
    assert len(server.requests) == 2 and client.calls == 2


def test_no_key_no_authorization_and_json_mode_off(server: LLMServer) -> None:
    server.reply_content(json.dumps(GOOD))
    client = LLMSummarizer(base_url=server.base_url, model="m", json_mode=False)
    make_brief(TITLE, HTML, llm=client)
    (req,) = server.requests
    assert "Authorization" not in req.headers and "response_format" not in req.body


def test_title_only_item_does_not_call_the_model(server: LLMServer) -> None:
    brief = make_brief("Just a title", "", llm=llm(server))
    assert brief.bullets == [] and server.requests == []

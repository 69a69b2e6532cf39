"""The LLM back end against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import logging

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
    assert brief.summarizer == "llm:test-model"
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
    assert make_brief(TITLE, HTML, llm=llm(server)).summarizer == "llm:test-model"


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
        (_bad(bullets=["A fine sentence here."] * 9), "bullets"),
        (_bad(bullets=["no capital and no full stop"]), "not a sentence"),
        (_bad(bullets=[42, "A sentence it is."]), "not a sentence"),
        (_bad(terms=[{"term": "WebFetch"}]), "term"),
        (_bad(terms=[{"term": "Kubernetes", "definition": "A scheduler."}]), "does not occur"),
        (_bad(terms=[{"term": "WebFetch", "definition": "fetches"}]), "not one sentence"),
        (_bad(paragraph=""), "paragraph"),
        (_bad(paragraph="Word " * 200 + "end."), "paragraph longer"),
    ],
)
def test_invalid_output_falls_back_to_extractive(
    server: LLMServer, caplog: pytest.LogCaptureFixture, content: str, why: str
) -> None:
    server.reply_content(content)
    with caplog.at_level(logging.WARNING, logger="aggregator.briefs.llm"):
        brief = make_brief(TITLE, HTML, llm=llm(server), item_label="item-7")
    assert brief.summarizer == "extractive" and brief.bullets
    (record,) = caplog.records
    assert "item-7" in record.getMessage() and why in record.getMessage()


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
    assert names == ["llm:test-model", "llm:test-model", "extractive"]
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

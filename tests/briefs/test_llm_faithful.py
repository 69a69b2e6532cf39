"""The faithfulness check, through a loopback model that answers like careless real ones."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.briefs.faithful import Support
from aggregator.briefs.llm import InvalidBrief, LLMSummarizer, parse_reply
from aggregator.briefs.summarize import make_brief
from aggregator.briefs.text import split_sentences, to_blocks
from tests.briefs.corpus import items
from tests.support.llmserver import LLMServer

DATA = Path(__file__).resolve().parents[1] / "data" / "llm"
ITEM = (
    "Apple and Google have agreed to remove the ICEBlock app from their stores after a request "
    "from the Justice Department. The app let users report sightings of immigration agents. "
    "Its developer said he would appeal the decision within 30 days. Microsoft declined to "
    "comment. Shares of Apple rose 2% on Friday."
)
TITLE = "Apple and Google pull an ICE-tracking app"
NEWS = "Apple and Google have agreed to remove the ICEBlock app from their stores."
FAITHFUL = [
    {"text": NEWS, "source": "Apple and Google have agreed to remove the ICEBlock app"},
    {"text": "The app let users report sightings of immigration agents.", "source": None},
    {
        "text": "The developer said he would appeal the decision within thirty days.",
        "source": "Its developer said he would appeal the decision within 30 days.",
    },
]
UNFAITHFUL = {
    "swapped subject": "Microsoft agreed to remove the ICEBlock app from its store.",
    "invented subject": "Amazon removed the app.",
    "flipped verb": "Apple and Google refused to remove the ICEBlock app from their stores.",
    "negation": "Apple and Google have not agreed to remove the ICEBlock app.",
    "antonym": "Shares of Apple fell 2% on Friday.",
    "invented significance": (
        "This matters because the law lets the government read every message sent in the country."
    ),
    "number in words": "Next, the app will return to the stores in thirteen days.",
    "invented date": "Shares of Apple rose 2% on Monday.",
    "invented quotation": 'The developer called it "a sad day for free speech".',
}


@pytest.fixture
def server():
    with LLMServer() as s:
        yield s


def client(server: LLMServer, **kw: object) -> LLMSummarizer:
    kw.setdefault("timeout", 2.0)
    return LLMSummarizer(base_url=server.base_url, model="m", **kw)  # type: ignore[arg-type]


def reply(bullets: list, paragraph: str = "", terms: list | None = None) -> str:
    return json.dumps(
        {"title": "", "bullets": bullets, "terms": terms or [], "paragraph": paragraph}
    )


@pytest.mark.parametrize("kind", list(UNFAITHFUL))
def test_each_kind_of_unfaithful_bullet_is_dropped_and_logged(
    server: LLMServer, caplog: pytest.LogCaptureFixture, kind: str
) -> None:
    bad = UNFAITHFUL[kind]
    server.reply_content(reply([*FAITHFUL, {"text": bad}], paragraph=f"{NEWS} {bad}"))
    with caplog.at_level(logging.INFO, logger="aggregator.briefs.llm"):
        brief = make_brief(TITLE, ITEM, llm=client(server), item_label="item=5")
    assert brief.summarizer.startswith("llm:")
    assert brief.bullets == [b["text"] for b in FAITHFUL]  # every faithful one kept
    assert brief.paragraph == NEWS
    dropped = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(dropped) == 2 and all("item=5" in m for m in dropped)


def test_each_unfaithful_sentence_has_its_reason() -> None:
    support = Support(ITEM, "en", TITLE)
    reasons = {kind: support.check(text) for kind, text in UNFAITHFUL.items()}
    assert all(reasons.values()), reasons
    assert (
        "Microsoft" not in (reasons["swapped subject"] or "")
        or "name" not in reasons["swapped subject"]
    )  # Microsoft is in the item: what rejects it is the swap against its passage
    assert "refused" in (reasons["flipped verb"] or "")
    assert "negation" in (reasons["negation"] or "")
    assert "13" in (reasons["number in words"] or "")
    assert "monday" in (reasons["invented date"] or "").casefold()


@pytest.mark.parametrize(
    ("language", "item", "good", "bad"),
    [
        (
            "fr",
            "Le conseil municipal a voté mardi l'interdiction des voitures dans la rue principale. "
            "La mesure entrera en vigueur dans trois mois.",
            "Le conseil municipal a voté mardi l'interdiction des voitures dans la rue principale.",
            "La mesure entrera en vigueur dans treize mois.",
        ),
        (
            "de",
            "Der Stadtrat hat am Dienstag ein Fahrverbot für die Hauptstraße beschlossen. "
            "Das Verbot gilt ab Juni.",
            "Der Stadtrat hat am Dienstag ein Fahrverbot für die Hauptstraße beschlossen.",
            "Der Stadtrat hat am Dienstag kein Fahrverbot für die Hauptstraße beschlossen.",
        ),
        (
            "es",
            "El ayuntamiento aprobó el martes la prohibición de coches en la calle mayor. "
            "La medida empieza en junio.",
            "El ayuntamiento aprobó el martes la prohibición de coches en la calle mayor.",
            "La medida empieza en veinticinco días.",
        ),
    ],
)
def test_other_languages(language: str, item: str, good: str, bad: str) -> None:
    support = Support(item, language)
    assert support.check(good) is None
    assert support.check(bad)


def test_a_quoted_passage_the_item_does_not_hold_rejects_the_bullet() -> None:
    support = Support(ITEM, "en", TITLE)
    fake = "The app let users track immigration agents in real time."
    assert support.check("The app let users report sightings of immigration agents.", fake)


def test_a_reply_whose_news_bullet_is_unfaithful_falls_back(
    server: LLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    # the only plausible bullet has a wrong name; the others are invented
    server.reply_content(
        reply(
            [
                {"text": UNFAITHFUL["swapped subject"]},
                {"text": UNFAITHFUL["invented significance"]},
                {"text": FAITHFUL[1]["text"]},
            ],
            paragraph=UNFAITHFUL["invented significance"],
        )
    )
    with caplog.at_level(logging.WARNING, logger="aggregator.briefs.llm"):
        brief = make_brief(TITLE, ITEM, llm=client(server), item_label="item=6")
    assert brief.summarizer == "extractive"
    assert any("first bullet" in r.getMessage() for r in caplog.records)


def test_unsupported_definitions_are_dropped(server: LLMServer) -> None:
    terms = [
        {
            "term": "ICEBlock",
            "definition": "ICEBlock is an app that let users report sightings "
            "of immigration agents.",
        },  # fmt: skip
        {"term": "ICEBlock", "definition": "ICEBlock is an app made by a Swiss startup in 2021."},
    ]
    server.reply_content(reply(FAITHFUL, paragraph=NEWS, terms=terms[1:] + terms[:1]))
    brief = make_brief(TITLE, ITEM, llm=client(server))
    assert [t.definition for t in brief.terms] == [terms[0]["definition"]]


def test_a_truncated_json_reply_falls_back(server: LLMServer) -> None:
    server.reply_content(reply(FAITHFUL, paragraph=NEWS)[:150])
    assert make_brief(TITLE, ITEM, llm=client(server)).summarizer == "extractive"


def test_a_reply_in_the_wrong_language_falls_back(
    server: LLMServer, caplog: pytest.LogCaptureFixture
) -> None:
    german = [
        {
            "text": "Apple und Google haben zugestimmt, die App ICEBlock aus ihren Stores zu entfernen."
        },
        {"text": "Mit der App konnten Nutzer Sichtungen von Einwanderungsbeamten melden."},
        {"text": "Der Entwickler will innerhalb von 30 Tagen gegen die Entscheidung vorgehen."},
    ]
    server.reply_content(reply(german))
    with caplog.at_level(logging.WARNING, logger="aggregator.briefs.llm"):
        assert make_brief(TITLE, ITEM, llm=client(server)).summarizer == "extractive"
    assert any("'de', not 'en'" in r.getMessage() for r in caplog.records)


def test_slow_then_failing_endpoint_falls_back_and_counts(server: LLMServer) -> None:
    server.reply_content(reply(FAITHFUL), delay=1.0)
    server.reply(502, b"bad gateway")
    llm = client(server, timeout=0.2)
    assert make_brief(TITLE, ITEM, llm=llm).summarizer == "extractive"
    assert make_brief(TITLE, ITEM, llm=llm).summarizer == "extractive"
    assert llm.failures == 2 and llm.calls == 2


def test_the_prompt_shows_the_glossary_and_says_when_the_item_was_cut(server: LLMServer) -> None:
    server.reply_content(reply(FAITHFUL))
    long_item = (ITEM + "\n") * 100
    make_brief(TITLE, long_item, llm=client(server, max_input_chars=1000),
               glossary={"ICEBlock": "An app."})  # fmt: skip
    user = server.requests[0].body["messages"][1]["content"]
    assert "Terms already defined: ICEBlock" in user
    assert "The item was cut here" in user and "characters are shown" in user
    assert len(user) < 1500


@pytest.mark.parametrize("case", sorted(p.name for p in DATA.glob("*.json")))
def test_hand_written_replies_for_real_items(server: LLMServer, case: str) -> None:
    spec = json.loads((DATA / case).read_text())
    title, html = next(i for i in items(spec["feed"]) if i[0] == spec["title"])
    server.reply_content(json.dumps(spec["reply"]))
    brief = make_brief(title, html, llm=client(server))
    expect = spec["expect"]
    assert brief.summarizer.startswith("llm:")
    assert brief.bullets == expect["bullets"]
    assert brief.paragraph == expect["paragraph"]
    assert [t.term for t in brief.terms] == expect["terms"]
    # and everything stored passes the check on its own
    clean = "\n".join(block for _kind, block in to_blocks(html))
    support = Support(clean, "en", title)
    stored = brief.bullets + split_sentences(brief.paragraph) + [t.definition for t in brief.terms]
    assert all(support.check(s) is None for s in stored)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(
    bullets=st.lists(
        st.text(max_size=120)
        | st.fixed_dictionaries({"text": st.text(max_size=80), "source": _JSON})
        | _JSON,
        max_size=6,
    ),  # fmt: skip
    rest=st.dictionaries(st.sampled_from(["title", "terms", "paragraph"]), _JSON),
)
def test_any_reply_is_a_checked_brief_or_refused(bullets: list, rest: dict) -> None:
    content = json.dumps({"bullets": bullets, **rest})
    try:
        brief = parse_reply(content, ITEM, title=TITLE, has_title=False)
    except InvalidBrief:
        return
    support = Support(ITEM, "en", TITLE)
    assert brief.bullets and all(support.check(b) is None for b in brief.bullets)

"""A translated brief is checked against the brief it translates, and cached per item and language."""

from __future__ import annotations

import json

import pytest

from aggregator.briefs.faithful import check_translation
from aggregator.briefs.llm import InvalidBrief
from aggregator.briefs.translate import TranslationJob, parse_translation, translation_key
from aggregator.model.brief import Brief, Term

ORIGINAL = "The city council voted 7-2 on Tuesday to ban cars from Main Street, Germany said."
FAITHFUL = (
    "Le conseil municipal a voté 7-2 mardi pour interdire les voitures de Main Street, "
    "a dit l'Allemagne."
)


def test_a_faithful_translation_passes() -> None:
    assert check_translation(ORIGINAL, FAITHFUL, "en", "fr") is None
    # numbers written in words count as numbers, in each language
    assert check_translation("Engineers found two cracks.", "Les ingénieurs ont trouvé deux fissures.", "en", "fr") is None  # fmt: skip
    # German capitalises its nouns: a capital there is not a new name
    assert check_translation("Researchers released two benchmarks on Monday.", "Forscher haben am Montag zwei Benchmarks veröffentlicht.", "en", "de") is None  # fmt: skip


@pytest.mark.parametrize(
    ("translated", "why"),
    [
        (FAITHFUL.replace("7-2", "8-2"), "number 7 was lost"),
        (FAITHFUL.replace("mardi", "lundi"), "month or day names"),
        (FAITHFUL.replace("Main Street", "la rue principale"), "name 'Street' was lost"),
        (FAITHFUL.replace("l'Allemagne", "la France"), "name 'Germany' was lost"),
        (FAITHFUL.replace("a voté", "n'a pas voté"), "adds a negation"),
        (FAITHFUL.replace("municipal", "de Londres"), "name 'Londres' is not in the original"),
        ("7-2 mardi, Main Street, Allemagne.", "5 words for the original's 15"),
        ("", "empty"),
    ],
)
def test_a_translation_that_loses_or_adds_a_fact_is_refused(translated: str, why: str) -> None:
    reason = check_translation(ORIGINAL, translated, "en", "fr")
    assert reason is not None and why in reason


JOB = TranslationJob(
    item_id=1,
    title="Council bans cars from Main Street",
    brief=Brief(
        bullets=[ORIGINAL, "The ban starts in June."],
        terms=[Term("ban", "A rule that forbids something.")],
        paragraph=ORIGINAL,
        language="en",
    ),
    brief_key="k1",
)
REPLY = {
    "title": "Le conseil interdit les voitures de Main Street",
    "bullets": [FAITHFUL, "L'interdiction commence en juin."],
    "terms": [{"term": "interdiction", "definition": "Une règle qui interdit quelque chose."}],
    "paragraph": FAITHFUL,
}


def test_the_reply_becomes_the_brief_in_the_reader_language() -> None:
    brief = parse_translation(json.dumps(REPLY), JOB, "fr")
    assert brief.language == "fr" and brief.title == REPLY["title"]
    assert brief.bullets == REPLY["bullets"] and brief.paragraph == FAITHFUL
    assert brief.terms == [Term("interdiction", "Une règle qui interdit quelque chose.")]


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"bullets": [FAITHFUL]}, "bullets are not 2 strings"),
        ({"terms": []}, "terms are not"),
        ({"title": ""}, "title is missing"),
        ({"bullets": [FAITHFUL, "L'interdiction commence en juillet."]}, "month or day"),
        ({"paragraph": FAITHFUL.replace("7-2", "9-2")}, "paragraph"),
    ],
)
def test_a_reply_with_any_unfaithful_or_missing_part_is_refused_whole(
    change: dict, why: str
) -> None:
    with pytest.raises(InvalidBrief, match=why):
        parse_translation(json.dumps({**REPLY, **change}), JOB, "fr")
    with pytest.raises(InvalidBrief, match="not JSON"):
        parse_translation("Voici la traduction", JOB, "fr")


def test_a_reply_in_another_language_is_refused() -> None:
    long = " ".join([ORIGINAL] * 3)
    job = TranslationJob(1, "", Brief(bullets=[long], language="en"), "k1")
    with pytest.raises(InvalidBrief, match="not 'fr'"):
        parse_translation(json.dumps({"bullets": [long], "terms": []}), job, "fr")


def test_the_cache_key_holds_the_language_the_model_and_what_was_translated() -> None:
    key = translation_key(JOB, "llm:tiny:t1", "fr")
    assert key != translation_key(JOB, "llm:tiny:t1", "de")
    assert key != translation_key(JOB, "llm:other:t1", "fr")
    changed = TranslationJob(1, JOB.title, JOB.brief, "k2")
    assert key != translation_key(changed, "llm:tiny:t1", "fr")

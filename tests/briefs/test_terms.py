"""Terms only with a definition: from the text's own definition sentences, or the glossary."""

from __future__ import annotations

import pytest

from aggregator.briefs.glossary import combined_glossary
from aggregator.briefs.summarize import make_brief
from aggregator.briefs.terms import find_terms
from tests.briefs.corpus import items, plain


def item(feed: str, title_start: str) -> tuple[str, str]:
    return next(i for i in items(feed) if i[0].startswith(title_start))


@pytest.mark.parametrize(
    ("feed", "title", "term", "definition"),
    [
        ("1965bffbdba53fa6.xml", "Laziness in PureScript", "PureScript",
         "PureScript is a Haskell dervied language that compiles to JavaScript."),
    ],
)  # fmt: skip
def test_terms_defined_in_real_text(feed: str, title: str, term: str, definition: str) -> None:
    t, html = item(feed, title)
    terms = {x.term: x.definition for x in make_brief(t, html).terms}
    assert terms.get(term) == definition
    text = plain(html)
    assert term in text
    assert definition.rstrip(".").casefold() in text.casefold()


def test_every_term_has_a_definition_and_at_most_four() -> None:
    seen = 0
    for feed in ("2b2c3f5ac3d2e836.xml", "0346e81559b251eb.xml", "1a2c4a5be370d054.xml"):
        for title, html in items(feed)[:15]:
            terms = make_brief(title, html).terms
            assert len(terms) <= 4
            for t in terms:
                assert t.term and t.definition.endswith((".", "!", "?")), t
                assert t.term.casefold() in f"{title} {plain(html)}".casefold()
            seen += len(terms)
    assert seen >= 2


@pytest.mark.parametrize(
    ("sentence", "term", "definition"),
    [
        ("Kubernetes is an open-source system for running containers.", "Kubernetes",
         "Kubernetes is an open-source system for running containers."),
        ("They used Terraform (a provisioning tool) for it.", "Terraform", "A provisioning tool."),
        ("Retrieval augmented generation (RAG) is a technique that looks passages up first.",
         "Retrieval augmented generation",
         "Retrieval augmented generation (RAG) is a technique that looks passages up first."),
        ("Overfitting refers to a model that memorises its training data.", "Overfitting",
         "Overfitting refers to a model that memorises its training data."),
    ],
)  # fmt: skip
def test_definition_patterns(sentence: str, term: str, definition: str) -> None:
    text = f"{sentence} Later {term} came up again."
    found = find_terms("", [sentence], text)
    assert [(t.term, t.definition) for t in found] == [(term, definition)]


@pytest.mark.parametrize(
    "sentence",
    [
        "It is a good day for a walk in the park.",
        "Here is an example answer to the question above:",
        "My copy is a bit crackly here and there.",
        "The ACME tool (TAT) is unrelated to the letters.",
        "In 2020, a new law came into force, they said.",
        "We moved to k8s, short for Kubernetes, last year.",
        "The Department of Energy (DOE) funds the lab.",
        "We met Ada Lovelace, a mathematician and writer, in the story.",
        "Daniel Ricciardo is a strong benchmark for the new driver.",
        "Nathan Lambert is a senior research scientist at Ai2.",
        "DKIM is a good example of crypto between businesses.",
        "EXPLAIN is a command we prepend to queries to see the plan.",
        "Psychology Today is a magazine about the mind and behaviour.",
        "Lisbon is a city on the Atlantic coast of Portugal.",
        "Acme Corp (a company founded in 1995) makes anvils.",
        "Authenticated Encryption is a concept that makes a lot of sense.",
        "Format string vulnerabilities are a pretty silly class of bug.",
        "Print debugging is a tool, and it has its uses in small programs.",
        "SUBLEQ is an interesting architecture because of its simplicity.",
        "However there is a class of attacks that is still a concern.",
        "Hey is an excellent CLI tool for that.",
        "Swizec is a talented and accomplished software engineer, originally from Slovenia.",
        "Whether this is a required part of the process depends on the project.",
        "Summarizer (https://kagi.com/summarizer) is an AI-powered tool for summaries.",
    ],
)
def test_no_term_without_a_real_definition(sentence: str) -> None:
    assert find_terms("", [sentence], sentence + " " + sentence) == []


def test_glossary_wins_and_counts_only_when_it_occurs() -> None:
    title, html = item("1965bffbdba53fa6.xml", "Laziness in PureScript")
    glossary = {
        "purescript": "A strictly evaluated language in the Haskell family.",
        "Kubernetes": "A container orchestrator.",
    }
    terms = make_brief(title, html, glossary=glossary).terms
    assert [(t.term, t.definition) for t in terms] == [
        ("purescript", "A strictly evaluated language in the Haskell family.")
    ]


def test_glossary_term_matches_whole_words_only() -> None:
    found = find_terms("Tech news", [], "Google shipped a release.", {"Go": "A language."})
    assert found == []


def test_shipped_glossary_counts_only_in_items_about_ai() -> None:
    glossary = combined_glossary(None)
    human = "Humans have a propensity towards generalization while craving novelty."
    assert find_terms("Living long", [], human, glossary) == []
    ai = human + " The same is true of machine learning."
    assert [t.term for t in find_terms("", [], ai, glossary)] == [
        "generalization",
        "machine learning",
    ]
    own = {**glossary, "generalization": "Drawing a broad rule from a few cases."}
    assert [t.term for t in find_terms("", [], human, own)] == ["generalization"]


def test_glossary_acronyms_match_only_in_capitals() -> None:
    glossary = {"LLM": "A large language model."}
    assert find_terms("", [], "The llm folder was renamed.", glossary) == []
    assert [t.term for t in find_terms("", [], "An LLM wrote it.", glossary)] == ["LLM"]

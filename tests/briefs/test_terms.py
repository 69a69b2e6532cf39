"""Terms only with a definition: from the text's own definition sentences, or the glossary."""

from __future__ import annotations

import pytest

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
        ("1965bffbdba53fa6.xml", "Go Dependency Injection", "DI", "Short for Dependency injection."),
        ("1cc034d2831f54bb.xml", "WKD for debian.org", "WKD", "Short for Web Key Directory."),
        ("2b2c3f5ac3d2e836.xml", "A catalog of side effects", "Cinder", "A Python JIT."),
    ],
)  # fmt: skip
def test_terms_defined_in_real_text(feed: str, title: str, term: str, definition: str) -> None:
    t, html = item(feed, title)
    terms = {x.term: x.definition for x in make_brief(t, html).terms}
    assert terms.get(term) == definition
    text = plain(html)
    assert term in text
    if definition.startswith("Short for "):
        assert f"{definition[10:-1]} ({term})" in text
    else:
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
    assert seen >= 5


@pytest.mark.parametrize(
    ("sentence", "term", "definition"),
    [
        ("Kubernetes is an open-source system for running containers.", "Kubernetes",
         "Kubernetes is an open-source system for running containers."),
        ("We moved to k8s, short for Kubernetes, last year.", "k8s", "Short for Kubernetes."),
        ("The Department of Energy (DOE) funds the lab.", "DOE", "Short for Department of Energy."),
        ("We met Ada Lovelace, a mathematician and writer, in the story.", "Ada Lovelace",
         "A mathematician and writer."),
        ("They used Terraform (a provisioning tool) for it.", "Terraform", "A provisioning tool."),
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

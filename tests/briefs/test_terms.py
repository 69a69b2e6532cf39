"""Terms only with a definition: from the text's own definition sentences, or the glossary."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.briefs.glossary import combined_glossary
from aggregator.briefs.summarize import make_brief
from aggregator.briefs.terms import expansions, find_terms
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
        ("They used Terraform (a provisioning tool) for the servers.", "Terraform",
         "They used Terraform (a provisioning tool) for the servers."),
        ("The team moved its builds to Terraform, a provisioning tool for clouds, last year.",
         "Terraform",
         "The team moved its builds to Terraform, a provisioning tool for clouds, last year."),
        ("The probability of a result at least this extreme is called the p-value.", "p-value",
         "The probability of a result at least this extreme is called the p-value."),
        ("The display aspect ratio (DAR) is the size of the video as it is viewed.",
         "display aspect ratio",
         "The display aspect ratio (DAR) is the size of the video as it is viewed."),
        ("Large language models (LLMs) are a kind of neural network trained on text.",
         "Large language models",
         "Large language models (LLMs) are a kind of neural network trained on text."),
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
    ("language", "sentence", "term"),
    [
        ("fr", "Kubernetes est un système libre qui orchestre des conteneurs.", "Kubernetes"),
        ("de", "Kubernetes ist ein Open-Source-System zur Verwaltung von Containern.", "Kubernetes"),
        ("es", "Kubernetes es un sistema de código abierto que gestiona contenedores.", "Kubernetes"),
        ("fr", "La probabilité d'un résultat au moins aussi extrême est appelée la p-valeur.",
         "p-valeur"),
        ("de", "Die Wahrscheinlichkeit eines so extremen Ergebnisses wird als p-Wert bezeichnet.",
         "p-Wert"),
        ("es", "La probabilidad de un resultado al menos tan extremo se llama el valor p.",
         "valor p"),
        ("fr", "Ils utilisent Terraform, un outil de provisionnement, depuis un an.", "Terraform"),
        ("de", "Sie nutzen Terraform, ein Werkzeug für die Bereitstellung, seit einem Jahr.",
         "Terraform"),
        ("es", "Usan Terraform, una herramienta de aprovisionamiento, desde hace un año.",
         "Terraform"),
    ],
)  # fmt: skip
def test_definitions_in_french_german_spanish(language: str, sentence: str, term: str) -> None:
    text = f"{sentence} {term} ?"
    assert [(t.term, t.definition) for t in find_terms("", [sentence], text, None, language)] == [
        (term, sentence)
    ]
    opinion = {"fr": "Kubernetes est un excellent outil.", "de": "Kubernetes ist ein tolles Werkzeug.",
               "es": "Kubernetes es una gran herramienta."}[language]  # fmt: skip
    assert find_terms("", [opinion], f"{opinion} Kubernetes.", None, language) == []


def test_this_is_called_takes_the_sentence_before() -> None:
    before = "A model that memorises its training examples does badly on new data."
    sentences = [before, "This is called overfitting.", "Overfitting is common."]
    found = find_terms("", sentences, " ".join(sentences))
    assert [(t.term, t.definition) for t in found] == [
        ("overfitting", f"{before} This is called overfitting.")
    ]


def test_a_term_the_story_needs_is_named_twice_or_in_the_brief() -> None:
    sentence = "Libxmp is a library that renders module files to PCM data."
    assert find_terms("Projects", [sentence], sentence) == []
    assert [t.term for t in find_terms("Libxmp 4.6", [sentence], sentence)] == ["Libxmp"]
    assert [t.term for t in find_terms("", [sentence], sentence, shown=[sentence])] == ["Libxmp"]


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
        "Ostrander refers to this period in his stories about the team.",
        "The platform is a client-server architecture that runs on a laptop.",
        "Comparing vectors is a powerful tool when working with embeddings.",
        "Temporal is an open-source tool for workflows in the sense described above.",
        "The model said it was “ChatGPT, a language model developed by OpenAI,” when asked.",
        "A category is a class of objects, such that there is a morphism between and .",
        "Trump called the plan “a disaster” on Monday.",
        "My dog is called Rex by the neighbours.",
    ],
)
def test_no_term_without_a_real_definition(sentence: str) -> None:
    assert find_terms("", [sentence], sentence + " " + sentence) == []


def test_a_sentence_opening_word_is_not_a_name() -> None:
    sentence = "Below is a recursive function that calculates the factorial of a number."
    text = f"{sentence} See the function below. Below the table is the result."
    assert find_terms("", [sentence], text) == []


def test_the_items_own_definition_comes_first_and_glossary_counts_only_when_it_occurs() -> None:
    title, html = item("1965bffbdba53fa6.xml", "Laziness in PureScript")
    glossary = {
        "purescript": "A strictly evaluated language in the Haskell family.",
        "Kubernetes": "A container orchestrator.",
        "Haskell": "A lazy functional programming language.",
    }
    terms = make_brief(title, html, glossary=glossary).terms
    assert [t.term for t in terms][:1] == ["PureScript"]
    assert terms[0].definition.startswith("PureScript is a Haskell dervied language")
    assert "purescript" not in [t.term for t in terms] and "Kubernetes" not in [
        t.term for t in terms
    ]


def test_glossary_term_matches_whole_words_only() -> None:
    found = find_terms("Tech news", [], "Google shipped a release.", {"Go": "A language."})
    assert found == []


def test_shipped_glossary_counts_only_in_items_about_ai() -> None:
    glossary = combined_glossary(None)
    human = "Humans have a propensity towards generalization while craving novelty."
    assert find_terms("On generalization", [], human, glossary) == []
    ai = human + " The same is true of overfitting in a neural network."
    assert [t.term for t in find_terms("On generalization", [], ai, glossary)] == [
        "generalization",
    ]
    own = {**glossary, "generalization": "Drawing a broad rule from a few cases."}
    assert [t.term for t in find_terms("On generalization", [], human, own)] == ["generalization"]


AGENCY = (
    "The agency's AGI rose in 2025. AGI is what the agency keeps after paying its suppliers, "
    "and the AGI of most agencies fell."
)


def test_the_term_itself_is_no_evidence_that_an_item_is_about_ai() -> None:
    glossary = combined_glossary(None)
    assert find_terms("Agency AGI grew", [], AGENCY, glossary) == []
    about_ai = (
        "Labs race to AGI. Its arrival, they say, would follow from scaling a large language model."
    )
    assert "AGI" in [t.term for t in find_terms("When AGI?", [], about_ai, glossary)]


def test_an_acronym_the_item_spells_out_otherwise_is_not_the_glossarys() -> None:
    glossary = combined_glossary(None)
    text = (
        "Agency gross income (AGI) is what an agency keeps. Large language models now write "
        "the reports, and AGI reports use machine learning."
    )
    assert "AGI" not in [t.term for t in find_terms("AGI in 2025", [], text, glossary)]
    assert expansions(text)["AGI"] == "Agency gross income"
    spelled = {
        "Organisation mondiale de la santé (OMS)": ("OMS", "Organisation mondiale de la santé"),
        "die Künstliche Intelligenz (KI) wächst": ("KI", "Künstliche Intelligenz"),
        "la Organización de las Naciones Unidas (ONU)": (
            "ONU",
            "Organización de las Naciones Unidas",
        ),
        "retrieval-augmented generation (RAG)": ("RAG", "retrieval-augmented generation"),
    }
    for text, (acronym, long) in spelled.items():
        assert expansions(text) == {acronym: long}


def test_no_glossary_term_from_headings_or_link_lists() -> None:
    glossary = combined_glossary(None)
    text = "Recent posts\nReward hacking in practice\nMachine Learning\nThe garden grew well this year."
    assert find_terms("Garden notes", ["The garden grew well this year."], text, glossary) == []


def test_broad_terms_only_in_the_title_and_alone() -> None:
    glossary = combined_glossary(None)
    text = (
        "A neural network learns from data. The neural network here predicts reward hacking "
        "and the reward model flags reward hacking."
    )
    found = [t.term for t in find_terms("Reward models", [], text, glossary)]
    assert "neural network" not in found and found[:2] == ["reward model", "reward hacking"]
    assert [
        t.term
        for t in find_terms(
            "Neural networks",
            [],
            "A neural network learns from data. The neural network model is small.",
            glossary,
        )
    ] == ["neural network"]


def test_the_example_digests_term() -> None:
    import feedparser

    sample = Path(__file__).resolve().parents[2] / "examples" / "sample-feed.xml"
    entry = feedparser.parse(str(sample)).entries[0]
    terms = make_brief(entry.title, entry.summary, glossary=combined_glossary(None)).terms
    assert [t.term for t in terms] == ["language model"]
    assert terms[0].definition.startswith("A language model is a system that estimates")


def test_glossary_acronyms_match_only_in_capitals() -> None:
    glossary = {"LLM": "A large language model."}
    assert find_terms("", [], "The llm folder was renamed. The llm folder.", glossary) == []
    assert [t.term for t in find_terms("LLM", [], "An LLM wrote it.", glossary)] == ["LLM"]

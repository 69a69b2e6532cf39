"""The shipped glossary, the operator glossary file, and how they combine."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.briefs.glossary import (
    SHIPPED_GLOSSARY,
    GlossaryError,
    combined_glossary,
    load_glossary,
)
from aggregator.briefs.terms import glossary_terms
from aggregator.briefs.text import is_complete_sentence, split_sentences


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "glossary.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_load(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        'Kubernetes = "An open-source system that runs containers."\n'
        '"machine learning" = """Software that learns\n patterns from data"""\n',
    )
    assert load_glossary(path) == {
        "Kubernetes": "An open-source system that runs containers.",
        "machine learning": "Software that learns patterns from data.",
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("k8s = 3\n", "'k8s': the definition must be a string"),
        ('k8s = ""\n', "'k8s': empty term or definition"),
        ("[section]\nk8s = 'x'\n", "'section': the definition must be a string"),
        ('k8s = "unclosed\n', "not valid TOML"),
        ('k8s = "' + "word " * 61 + '"\n', "longer than 60 words"),
    ],
)
def test_bad_glossary(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(GlossaryError) as err:
        load_glossary(path)
    assert message in str(err.value) and str(path) in str(err.value)
    assert "\n" not in str(err.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GlossaryError, match="cannot read glossary"):
        load_glossary(tmp_path / "nope.toml")


def test_shipped_glossary_has_200_two_sentence_entries() -> None:
    shipped = load_glossary(SHIPPED_GLOSSARY)
    assert len(shipped) >= 200
    for term, definition in shipped.items():
        sentences = [s for s in split_sentences(definition) if s]
        assert 1 <= len(sentences) <= 2, term
        assert all(is_complete_sentence(s) for s in sentences), term


def test_operator_glossary_adds_to_the_shipped_one_and_wins(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        '"rlhf" = "Our house definition of RLHF."\nKubernetes = "A container orchestrator."\n',
    )
    combined = combined_glossary(path)
    shipped = load_glossary(SHIPPED_GLOSSARY)
    assert combined["Kubernetes"] == "A container orchestrator."
    assert combined["rlhf"] == "Our house definition of RLHF."
    assert "RLHF" not in combined  # replaced, not doubled
    assert combined["reward hacking"] == shipped["reward hacking"]
    assert combined_glossary(SHIPPED_GLOSSARY) == shipped == combined_glossary(None)


def test_glossary_terms_longest_match_plurals_and_case() -> None:
    glossary = load_glossary(SHIPPED_GLOSSARY)
    text = "Two large language models were tested with RLHF; the LoRa radio and a fine thermostat."
    found = [t.term for t in glossary_terms(text, glossary)]
    assert found == ["large language model", "RLHF"]

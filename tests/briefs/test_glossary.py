"""The operator glossary file."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator.briefs.glossary import GlossaryError, load_glossary


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

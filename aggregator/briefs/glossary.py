"""The operator glossary: a TOML file of ``term = "definition"`` pairs.

    Kubernetes = "An open-source system that runs containers across many machines."
    "machine learning" = "Software that learns patterns from data instead of following rules."

A glossary definition wins over one found in the text; a term counts only when it occurs in the item.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

MAX_DEFINITION_WORDS = 60
SHIPPED_GLOSSARY = (Path(__file__).parent.parent / "glossary.toml").resolve()
"""The glossary shipped with the project (AI, machine learning, AI safety), next to ``templates/``."""


class GlossaryError(ValueError):
    """The glossary file cannot be used; the message is one line naming the file and key."""


def load_glossary(path: str | Path) -> dict[str, str]:
    """Read and check a glossary file: every value a one-line, non-empty definition."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GlossaryError(f"{path}: cannot read glossary: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise GlossaryError(f"{path}: not valid TOML: {exc}") from None
    glossary: dict[str, str] = {}
    for term, definition in data.items():
        if not isinstance(definition, str):
            raise GlossaryError(f"{path}: {term!r}: the definition must be a string")
        definition = " ".join(definition.split())
        if not term.strip() or not definition:
            raise GlossaryError(f"{path}: {term!r}: empty term or definition")
        if len(definition.split()) > MAX_DEFINITION_WORDS:
            raise GlossaryError(
                f"{path}: {term!r}: definition longer than {MAX_DEFINITION_WORDS} words"
            )
        if not definition.endswith((".", "!", "?")):
            definition += "."
        glossary[term.strip()] = definition
    return glossary


def combined_glossary(operator: Path | None) -> dict[str, str]:
    """The shipped glossary, then the operator's file (its entries added, and winning for the
    same term, compared without case). The operator's file may be the shipped one itself."""
    glossary = load_glossary(SHIPPED_GLOSSARY) if SHIPPED_GLOSSARY.is_file() else {}
    if operator is None or (operator.is_file() and operator.resolve() == SHIPPED_GLOSSARY):
        return glossary
    own = load_glossary(operator)
    folded = {t.casefold() for t in own}
    return {**{t: d for t, d in glossary.items() if t.casefold() not in folded}, **own}

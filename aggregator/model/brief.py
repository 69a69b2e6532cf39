"""The brief: the news-brief shape every summarizer returns."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

MAX_BULLETS = 10
MAX_BULLET_WORDS = 60
MAX_TERMS = 4
MAX_DEFINITION_WORDS = 40
"""The brief's shape: every summarizer keeps within these, and the digest caps to them."""


@dataclass(slots=True)
class Term:
    term: str
    definition: str


@dataclass(slots=True)
class Brief:
    """A short, faithful summary of one item."""

    bullets: list[str]
    """"In brief": 0 to 10 self-contained sentences (the extractive summarizer gives 3 to 8)."""
    terms: list[Term] = field(default_factory=list)
    """"Terms in this brief": 0 to 4 terms, each with a one-sentence definition."""
    paragraph: str = ""
    """One paragraph of 4-10 sentences (where the text has them), for "More briefs"."""
    reading_minutes: int = 1
    language: str = "en"
    summarizer: str = "extractive"
    title: str = ""
    """A title written for an item that has none (LLM only); empty otherwise."""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Brief:
        terms = [Term(**t) for t in data.get("terms", [])]
        return cls(
            bullets=list(data.get("bullets", [])),
            terms=terms,
            paragraph=data.get("paragraph", ""),
            reading_minutes=int(data.get("reading_minutes", 1)),
            language=data.get("language", "en"),
            summarizer=data.get("summarizer", "extractive"),
            title=data.get("title", ""),
        )

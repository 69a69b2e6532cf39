"""Candidate bullets: sentences that stand alone, in the sections of the article they come from.

A sentence that opens with a word pointing back ("This", "But", "It's when") is shown with the
sentence before it when the two fit in one bullet, and is not a candidate otherwise. Questions,
asides, sentences with a web address or an unbalanced quotation mark are never candidates. Each
candidate carries its zone: the section under one heading, one item of a list, or (for a long
article without structure) one quarter of the text, so the picks can cover the whole article.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.briefs.boilerplate import is_boilerplate
from aggregator.briefs.standalone import context_opener, stands_alone
from aggregator.briefs.text import HEADING, ITEM, is_complete_sentence, split_sentences
from aggregator.model.brief import MAX_BULLET_WORDS

LONG_WORDS = 600
"""Above this many words an article without headings or lists is cut into quarters."""
MIN_ITEMS = 3
SPLIT_CHARS = 40_000
"""At most this much text (about 6,500 words) is split into sentences, from both ends."""

_NUMBERED_RE = re.compile(r"^\s*#?\s*\d{1,2}\s*[.):–—-]\s*")
_NUMBER_RE = re.compile(r"\b\d{1,2}\b")
_PAREN_URL_RE = re.compile(r"\s*[(<\[]\s*(?:https?://|www\.)[^\s)>\]]*\s*[)>\]]")
_ASIDE_RE = re.compile(
    r"^(?:(?:edit|update|note|disclaimer|disclosure|p\.?s\.?|tl;?dr)\b\s*:"
    r"|\(.*\)[.!]?$|i\s+(?:think|guess|mean|hope|digress|know,|admit|suppose|wonder)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    block: int
    zone: int


@dataclass(frozen=True, slots=True)
class Unit:
    """One candidate bullet: sentences ``first``..``last`` of the item, joined."""

    text: str
    first: int
    last: int
    zone: int = 0


def structure(blocks: Sequence[tuple[str, str]]) -> str:
    """How the item is cut into sections: by its "headings", its list "items", or "" (none)."""
    if sum(kind == HEADING for kind, _ in blocks) >= 2:
        return "headings"
    return "items" if sum(kind == ITEM for kind, _ in blocks) >= MIN_ITEMS else ""


def is_listicle(title: str, blocks: Sequence[tuple[str, str]]) -> bool:
    """True when the item's headings are its points: most are numbered, or the title holds a
    number within one of how many headings there are ("8 tips …" over eight headings)."""
    heads = [text for kind, text in blocks if kind == HEADING]
    if len(heads) < MIN_ITEMS:
        return False
    if sum(_NUMBERED_RE.match(h) is not None for h in heads) * 2 > len(heads):
        return True
    return any(abs(int(n) - len(heads)) <= 1 for n in _NUMBER_RE.findall(title))


def sentences_of(
    blocks: Sequence[tuple[str, str]], language: str, cap: int, listicle: bool = False
) -> list[Sentence]:
    """The item's sentences with their block and zone; headings are dropped, except a
    ``listicle``'s: each is a sentence of its own when it is one, and otherwise opens the first
    sentence of its section ("Back up first: the upgrade rewrites …") when the two fit a bullet.

    A text of more than ``cap`` sentences (or ``SPLIT_CHARS`` characters) is read at its two
    ends: its first two thirds of the allowance and its last third, so a long piece's
    conclusion competes with its opening.
    """
    cut = structure(blocks)
    keep = _ends(blocks)
    zone, prev_kind, heading = 0, "", ""
    out: list[Sentence] = []
    for b, (kind, text) in enumerate(blocks):
        if (
            cut == "headings"
            and kind == HEADING
            or cut == "items"
            and (kind == ITEM or prev_kind == ITEM)
        ):
            zone += 1
        prev_kind = kind
        if kind == HEADING:
            heading = _NUMBERED_RE.sub("", text) if listicle else ""
            if len(heading.split()) <= 2 and _NUMBER_RE.search(heading):
                heading = ""  # a bare label ("Tip 4", "Étape 2") says nothing
            if heading and is_complete_sentence(heading):
                out.append(Sentence(heading, b, zone))
                heading = ""
            continue
        if b not in keep:
            continue
        found = split_sentences(text[:SPLIT_CHARS], language)
        if heading and found:
            joined = f"{heading.rstrip(' :.-–—')}: {found[0]}"
            if len(joined.split()) <= MAX_BULLET_WORDS:
                found[0] = joined
        heading = ""
        out += [Sentence(s, b, zone) for s in found]
    if len(out) > cap:
        out = out[: cap - cap // 3] + out[len(out) - cap // 3 :]
    return out if cut else in_quarters(out)


def _ends(blocks: Sequence[tuple[str, str]]) -> range | set[int]:
    """Indices of the blocks to split: all of them, or the two ends of an overlong text."""
    if sum(len(text) for _kind, text in blocks) <= SPLIT_CHARS:
        return range(len(blocks))
    keep: set[int] = set()
    for order, budget in ((range(len(blocks)), SPLIT_CHARS * 2 // 3),
                          (range(len(blocks) - 1, -1, -1), SPLIT_CHARS // 3)):  # fmt: skip
        for b in order:
            if budget <= 0:
                break
            keep.add(b)
            budget -= len(blocks[b][1])
    return keep


def in_quarters(sentences: Sequence[Sentence]) -> list[Sentence]:
    """A long text without structure: each quarter of its sentences is a zone."""
    if sum(len(s.text.split()) for s in sentences) <= LONG_WORDS:
        return list(sentences)
    n = len(sentences)
    return [Sentence(s.text, s.block, 4 * i // n) for i, s in enumerate(sentences)]


def candidate_units(sentences: Sequence[Sentence], language: str) -> list[Unit]:
    """Bullets a reader can take out of context, each a sentence or a sentence with its lead-in."""
    clean = [_PAREN_URL_RE.sub("", s.text) for s in sentences]
    ok = [_acceptable(c, language) for c in clean]
    units = []
    for i, s in enumerate(sentences):
        if not ok[i]:
            continue
        if not context_opener(clean[i], language):
            units.append(Unit(clean[i], i, i, s.zone))
            continue
        j = i - 1
        if j < 0 or sentences[j].block != s.block or not ok[j]:
            continue
        if context_opener(clean[j], language):
            continue
        joined = f"{clean[j]} {clean[i]}"
        if len(joined.split()) <= MAX_BULLET_WORDS:
            units.append(Unit(joined, j, i, s.zone))
    return units


def _acceptable(sentence: str, language: str) -> bool:
    return (
        len(sentence.split()) <= MAX_BULLET_WORDS
        and is_complete_sentence(sentence)
        and stands_alone(sentence, "")  # the opener is judged by the caller
        and not _ASIDE_RE.match(sentence)
    )


def fallback_units(sentences: Sequence[Sentence], language: str) -> list[Unit]:
    """For text without a single proper sentence (lower-case posts, unpunctuated lines): its
    statements of four or more words, capitalised and closed with a full stop; those that open
    with a word pointing back only when there is nothing else."""
    units = []
    for i, s in enumerate(sentences):
        text = _PAREN_URL_RE.sub("", s.text).strip()
        if not 4 <= len(text.split()) <= MAX_BULLET_WORDS:
            continue
        text = text[:1].upper() + text[1:]
        if not text.endswith((".", "!", "?", "…", '."', ".”")):
            text = text.rstrip(",;:—–- ") + "."
        if stands_alone(text, "") and not (_ASIDE_RE.match(text) or is_boilerplate(text)):
            units.append(Unit(text, i, i, s.zone))
    alone = [u for u in units if not context_opener(u.text, language)]
    return alone or units

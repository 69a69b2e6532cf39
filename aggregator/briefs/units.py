"""Candidate bullets: sentences that stand alone, in the sections of the article they come from.

A sentence that opens with a word pointing back ("This", "But", "It's when") is shown with the
sentence before it when the two fit in one bullet, and is not a candidate otherwise. Questions,
asides, sentences with a web address or an unbalanced quotation mark are never candidates. Each
candidate carries its zone: the section under one heading, one item of a list, or (for a long
article without structure) one quarter of the text, so the picks can cover the whole article.
A list item without a full stop that states something (a release's highlight, a feature) is made
a sentence by its own words only: capitalised and closed with a full stop.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.briefs.boilerplate import is_boilerplate
from aggregator.briefs.standalone import (
    bare_definite,
    leans_back,
    stands_alone,
    unnamed_speaker,
    unresolved_demonstrative,
)
from aggregator.briefs.text import HEADING, ITEM, is_complete_sentence, split_sentences
from aggregator.model.brief import MAX_BULLET_WORDS

LONG_WORDS = 600
"""Above this many words an article without headings or lists is cut into quarters."""
MIN_ITEMS = 3
POINT_WORDS = 6
"""A listicle's heading of this many words, not title-cased, says its point alone ("Milan is a
fashion capital of the world"); another ("Understand the problem", "The Birth of UNIX with Brian
Kernighan") opens its section's first sentence."""
STATEMENT_WORDS = 4
"""A list item without a full stop needs this many words to be a statement."""
POINT, MADE, BODY = "point", "made", "body"
"""Kinds of sentence: a listicle's point (its heading, alone or opening its section's first
sentence), a list item made a sentence, the body of a listicle's point; "" for prose."""
SPLIT_CHARS = 40_000
"""At most this much text (about 6,500 words) is split into sentences, from both ends."""

_NUMBERED_RE = re.compile(r"^\s*#?\s*\d{1,2}\s*[.):–—-]\s*")
_NUMBER_RE = re.compile(r"\b\d{1,2}\b")
_TIMESTAMP_RE = re.compile(r"\b\d{1,2}:\d{2}\b")
_LABEL_RE = re.compile(r"^(?P<label>[^:]{1,40}):\s*(?P<value>.*)$")
_KEY_RE = re.compile(r"^[a-z_][\w-]*$")
"""A configuration key ("name: Check out repo" in a YAML listing) is not a statement's label."""
_SENTENCE_STOP = (".", "!", "?", "…", '."', ".”")
_PAREN_URL_RE = re.compile(r"\s*[(<\[]\s*(?:https?://|www\.)[^\s)>\]]*\s*[)>\]]")
_ASIDE_RE = re.compile(
    r"^(?:(?:edit|update|note|disclaimer|disclosure|p\.?s\.?|tl;?dr)\b\s*:"
    r"|\(.*\)[.!]?$|\[.*\][.!]?$"
    r"|\[\d{1,3}\]|\^\d"  # a footnote's own line: "[1] See …", "^2 …"
    r"|i\s+(?:think|guess|mean|hope|digress|know,|admit|suppose|wonder)\b)",
    re.IGNORECASE,
)
_PARENS_RE = re.compile(r"\([^)]*\)")
_CONNECTORS = frozenset({
    "and", "or", "of", "the", "with", "a", "an", "&", "y", "e", "o", "et", "ou", "de", "du",
    "des", "la", "le", "les", "und", "oder", "der", "die", "das", "von", "van", "del", "los", "las",
})  # fmt: skip
"""Words that join names in a list of them ("Leslie, Fran and the Vienna Philharmonic")."""
# A note without its subject ("Need to be able to back up …", "Can be used to …", "Not sure
# how …"): English auxiliaries opening a sentence that is not a question.
_SUBJECTLESS_RE = re.compile(
    r"^(?:need|needs|can|could|should|must|might|is|are|was|were|has|have|had|not sure|unsure)"
    r"\s+(?:be\s|to\s|(?-i:[a-z]))",
    re.IGNORECASE,
)
# Not a statement: a list run into the sentence ("two things: - a dataset"), a reference entry
# ("… - PNAS (2025) - Xu et al.", "(Bricken et al.)"), or a gap where the feed lost a formula
# or a code span ("the official implementation uses .", "with , and").
_NOT_A_STATEMENT_RE = re.compile(r":\s+[-–•*]\s|\bet al\.?\)?\W*$|\(\d{4}\)\W*$|\w\s+[.,](?:\s|$)")


# What comes next: the future, by each language's grammar. English, German: the future's
# auxiliaries (German's with an infinitive closing the clause, not a passive's participle);
# French, Spanish: the future's endings, and aller/ir + infinitive.
_NEXT = {
    "en": r"\b(?:will|shall|won['’]t)\b(?=\s+\w)|\w['’]ll\b"
    r"|\b(?:am|is|are)\s+(?:going|set|due|about|scheduled|expected|planned)\s+to\b",
    "fr": r"\b\w+(?:er|ir|ur|rr|dr|vr)(?:ai|as|a|ons|ez|ont)\b"
    r"|\b(?:vais|vas|va|allons|allez|vont)\s+\w+(?:er|ir|re)\b",
    "de": r"\b(?:wird|werden|wirst|werdet)\b[^.!?]*\b(?!ge)\w+en\W*$",
    "es": r"\b\w+(?:ré|rás|rá|réis|rán)\b|\b(?:voy|vas|va|vamos|vais|van)\s+a\s+\w+(?:ar|er|ir)\b",
}
# Why it matters: each language's conjunctions of cause, purpose and consequence.
_WHY = {
    "en": r"\b(?:because|so that|in order to|which means|(?:this|that|it) means|means that"
    r"|as a result|the reason)\b",
    "fr": r"\b(?:parce qu|car\b|afin (?:de|d['’]|que|qu)|pour que|ce qui (?:signifie|veut dire)"
    r"|cela (?:signifie|veut dire)|en raison d|grâce à)",
    "de": r"\b(?:weil|damit|denn|sodass|so dass|was bedeutet|das bedeutet|deshalb|daher|aufgrund"
    r"|dadurch)\b",
    "es": r"\b(?:porque|para que|ya que|puesto que|lo que significa|esto significa|debido a"
    r"|gracias a|por eso|por lo que)\b",
}
_NEXT_RE = {lang: re.compile(p, re.IGNORECASE) for lang, p in _NEXT.items()}
_WHY_RE = {lang: re.compile(p, re.IGNORECASE) for lang, p in _WHY.items()}


def says_next(sentence: str, language: str) -> bool:
    """True when the sentence speaks of the future (see ``_NEXT``; English, French, German,
    Spanish)."""
    found = _NEXT_RE.get(language)
    return found is not None and found.search(sentence) is not None


def says_why(sentence: str, language: str) -> bool:
    """True when the sentence gives a cause, purpose or consequence (see ``_WHY``)."""
    found = _WHY_RE.get(language)
    return found is not None and found.search(sentence) is not None


@dataclass(frozen=True, slots=True)
class Sentence:
    text: str
    block: int
    zone: int
    kind: str = ""
    """POINT, MADE, BODY or "" (see above)."""


@dataclass(frozen=True, slots=True)
class Unit:
    """One candidate bullet: sentences ``first``..``last`` of the item, joined."""

    text: str
    first: int
    last: int
    zone: int = 0
    kind: str = ""
    """The kind of its first sentence."""


def structure(blocks: Sequence[tuple[str, str]]) -> str:
    """How the item is cut into sections: by its "headings", its list "items", or "" (none)."""
    if sum(kind == HEADING for kind, _ in blocks) >= 2:
        return "headings"
    return "items" if sum(kind == ITEM for kind, _ in blocks) >= MIN_ITEMS else ""


def is_listicle(title: str, blocks: Sequence[tuple[str, str]]) -> bool:
    """True when the item's headings are its points: most are numbered, or the title holds a
    number within one of how many headings there are ("8 tips …" over eight headings)."""
    heads = [text for kind, text in blocks if kind == HEADING and text.lower() != title.lower()]
    if len(heads) < MIN_ITEMS:
        return False
    if sum(_NUMBERED_RE.match(h) is not None for h in heads) * 2 > len(heads):
        return True
    return any(abs(int(n) - len(heads)) <= 1 for n in _NUMBER_RE.findall(title))


def sentences_of(
    blocks: Sequence[tuple[str, str]],
    language: str,
    cap: int,
    listicle: bool = False,
    title: str = "",
) -> list[Sentence]:
    """The item's sentences with their block, zone and kind; headings are dropped, except a
    ``listicle``'s: each is a point, a sentence of its own when it is one or is a
    :func:`statement` of ``POINT_WORDS`` words (not the ``title`` again), and otherwise opens the first whole
    sentence of its section ("Back up first: the upgrade rewrites …") when the two fit a bullet;
    the rest of its section is body.
    A list item that is one statement without a full stop is made a sentence (:func:`statement`).

    A text of more than ``cap`` sentences (or ``SPLIT_CHARS`` characters) is read at its two
    ends: its first two thirds of the allowance and its last third, so a long piece's
    conclusion competes with its opening.
    """
    cut = structure(blocks)
    keep = _ends(blocks)
    zone, prev_kind, heading, in_point = 0, "", "", False
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
            heading = _NUMBERED_RE.sub("", text) if listicle and text != title else ""
            if heading.endswith("?"):  # a question is not a point: its section is prose
                heading = ""
            in_point = bool(heading)
            if len(heading.split()) <= 2 and _NUMBER_RE.search(heading):
                heading = ""  # a bare label ("Tip 4", "Étape 2") says nothing
            alone = heading if is_complete_sentence(heading) else None
            if heading and alone is None and len(heading.split()) >= POINT_WORDS:
                alone = statement(heading)
            if alone:
                out.append(Sentence(alone, b, zone, POINT))
                heading = ""
            continue
        if b not in keep:
            continue
        found = split_sentences(text[:SPLIT_CHARS], language)
        kinds = [BODY if in_point else ""] * len(found)
        if kind == ITEM and len(found) == 1 and not is_complete_sentence(found[0]):
            made = statement(found[0])
            if made:
                found[0], kinds[0] = made, MADE
        whole = (m for m, f in enumerate(found) if is_complete_sentence(f))
        first = next(whole, None) if heading else None
        if heading and first is not None:  # lines before it ("Published May 2") stay body
            joined = f"{heading.rstrip(' :.-–—')}: {found[first]}"
            if len(joined.split()) <= MAX_BULLET_WORDS:
                found[first], kinds[first] = joined, POINT
            heading = ""
        out += [Sentence(s, b, zone, k) for s, k in zip(found, kinds, strict=True)]
    if len(out) > cap:
        out = out[: cap - cap // 3] + out[len(out) - cap // 3 :]
    return out if cut else in_quarters(out)


def statement(text: str) -> str | None:
    """A list item or heading without a full stop made a sentence by its own words (capitalised,
    closed with a full stop) when it states something: ``STATEMENT_WORDS`` words or more, not a
    title-cased name or label ("Victor Feldman – Vibes", "OS: Arch Linux"), no timestamp, no lead-in ending with a colon; None otherwise."""
    text = text.strip().lstrip("-*•·▪►–—✓✔✅➜→ ")
    label = _LABEL_RE.match(text)
    n = len(text.split())
    if (
        not STATEMENT_WORDS <= n <= MAX_BULLET_WORDS
        or text.endswith((":", "?"))
        or _TIMESTAMP_RE.search(text)
        or label is not None
        and (len(label.group("value").split()) < 3 or _KEY_RE.match(label.group("label")))
    ):
        return None
    later = [w for w in text.split()[1:] if w[:1].isalpha()]
    if sum(w[:1].isupper() for w in later) * 3 > len(later):
        return None
    text = as_sentence(text)
    return text if _acceptable(text, "") else None


def as_sentence(text: str) -> str:
    """Capitalised, and closed with a full stop unless it ends with a sentence's mark."""
    text = text[:1].upper() + text[1:]
    if not text.endswith(_SENTENCE_STOP):
        text = text.rstrip(",;:—–- ") + "."
    return text


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
    return [Sentence(s.text, s.block, 4 * i // n, s.kind) for i, s in enumerate(sentences)]


def candidate_units(sentences: Sequence[Sentence], language: str) -> list[Unit]:
    """Bullets a reader can take out of context, each a sentence or a sentence with its lead-in
    (never one whose demonstrative's noun or speaker the lead-in does not name either)."""
    clean = [_PAREN_URL_RE.sub("", s.text) for s in sentences]
    ok = [_acceptable(c, language) for c in clean]
    back = [leans_back(c, language, first=i == 0) for i, c in enumerate(clean)]
    units = []
    for i, s in enumerate(sentences):
        if not ok[i]:
            continue
        j = i - 1
        same_block = j >= 0 and sentences[j].block == s.block and ok[j]
        if not back[i]:
            # "The contents will …" after its antecedent: shown with it when the two fit
            lead = same_block and bare_definite(clean[i]) and not back[j]
            joined = f"{clean[j]} {clean[i]}" if lead else ""
            if lead and len(joined.split()) <= MAX_BULLET_WORDS:
                units.append(Unit(joined, j, i, s.zone, sentences[j].kind))
            else:
                units.append(Unit(clean[i], i, i, s.zone, s.kind))
            continue
        if not same_block or back[j]:
            continue
        joined = f"{clean[j]} {clean[i]}"
        if (
            len(joined.split()) <= MAX_BULLET_WORDS
            and unresolved_demonstrative(joined, language, len(clean[j])) is None
            and not (language == "en" and unnamed_speaker(joined))
        ):
            units.append(Unit(joined, j, i, s.zone, sentences[j].kind))
    return units


def _acceptable(sentence: str, language: str) -> bool:
    return (
        len(sentence.split()) <= MAX_BULLET_WORDS
        and is_complete_sentence(sentence)
        and stands_alone(sentence, "")  # the opener is judged by the caller
        and not _ASIDE_RE.match(sentence)
        and not _NOT_A_STATEMENT_RE.search(sentence)
        and not is_name_list(sentence)
        and not (language == "en" and _SUBJECTLESS_RE.match(sentence))
    )


def is_name_list(sentence: str) -> bool:
    """True for names and their roles without a verb ("Daniel Barenboim (conductor), Samuel
    Magad (violin), Chicago Symphony Orchestra."): outside parentheses, every word after the
    first is capitalised, a number or one that joins names."""
    later = re.findall(r"[^\W_][\w'’-]*", _PARENS_RE.sub(" ", sentence))[1:]
    named = [w for w in later if w[:1].isupper()]
    return len(named) >= 2 and all(
        w[:1].isupper() or w[:1].isdigit() or w.casefold() in _CONNECTORS for w in later
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
        text = as_sentence(text)
        if stands_alone(text, "") and not (_ASIDE_RE.match(text) or is_boilerplate(text)):
            units.append(Unit(text, i, i, s.zone, s.kind))
    alone = [u for u in units if not leans_back(u.text, language)]
    return alone or units

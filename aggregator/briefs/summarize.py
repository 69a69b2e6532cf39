"""Extractive summarizer: rank sentences by position blended with centrality, pick the top few.

Offline and deterministic. Each sentence scores

    position * 1/(1 + decay*i)  +  centrality * cos(s_i, rest of the text)  +  title * cos(s_i, title)

over TF-IDF vectors of stopword-free, prefix-stemmed words; the best ``k`` are taken greedily,
skipping near-duplicates, and returned in document order. The lead's sentence that best says
what the item is about (the title's words, the item named) is always one of them. The weights were tuned on ACLSum's
train and val splits by ``bench/summaries.py``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from aggregator.briefs.llm import LLMSummarizer
from aggregator.briefs.standalone import names_the_item, stands_alone
from aggregator.briefs.terms import find_terms, glossary_terms
from aggregator.briefs.text import (
    detect_language,
    reading_minutes,
    stopwords,
    to_blocks,
    truncate_words,
    words,
)
from aggregator.briefs.units import (
    BODY,
    MADE,
    POINT,
    Sentence,
    Unit,
    candidate_units,
    fallback_units,
    is_listicle,
    says_next,
    says_why,
    sentences_of,
    structure,
)
from aggregator.model.brief import MAX_BULLET_WORDS, Brief

BRIEF_VERSION = 7
"""Bump when a change to the summarizer should invalidate cached briefs."""
PARAGRAPH_WORDS = 220
"""A "More briefs" paragraph is at most this long, and of 4-10 sentences where the text has them."""
PARAGRAPH_SENTENCES = (4, 10)
MAX_SENTENCES = 400
MAX_EXTRACT_BULLETS = 8
FALLBACK_WORDS = 80
"""An item this long without one proper sentence is briefed from its plainer statements."""
MADE_WEIGHT = 0.8
"""A list item made a sentence scores this share of a prose sentence's score."""
CUE_SHARE = 0.5
"""A sentence saying why or what next replaces the weakest bullet when it scores at least this
share of that bullet's score."""
CUE_ROOM = 5
"""A brief shorter than this takes a why or what-next sentence as an extra bullet."""
NEXT_FROM = 1 / 3
"""What comes next is looked for after this share of the text (the future in a lead is the news)."""
LEAD_SHARE = 0.2
LEAD_MIN = 5
"""The lead, where a post says what it is about: its first fifth of sentences, at least five."""
ANCHOR_TITLE = 0.5
"""The lead's sentence saying what the item is about scores this much more per share of the
title's words it carries; it is always a bullet."""
TITLE_STEM = 5
"""Title words are matched on this many first letters."""

Vector = dict[str, float]


@dataclass(frozen=True, slots=True)
class Weights:
    """Knobs of the sentence score (see the module docstring)."""

    position: float = 1.0
    centrality: float = 0.8
    title: float = 0.15
    decay: float = 0.1
    redundancy: float = 0.3
    """Skip a sentence whose cosine with one already chosen is above this."""
    stem: int = 7
    """Words are cut to this many characters (a cheap, language-blind stemmer); 0 keeps them."""
    spread: float = 0.8
    """Each bullet already taken from a section multiplies the scores of the others in it by this."""


DEFAULT_WEIGHTS = Weights()


def _terms(text: str, stop: frozenset[str], stem: int) -> list[str]:
    return [w[:stem] if stem else w for w in words(text) if w not in stop and not w.isdigit()]


def _tfidf(bags: list[list[str]], extra: list[str]) -> tuple[list[Vector], Vector]:
    df = Counter(t for bag in bags for t in set(bag))
    n = len(bags)
    idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
    vecs = [{t: c * idf[t] for t, c in Counter(bag).items()} for bag in bags]
    return vecs, {t: idf.get(t, 0.0) for t in set(extra)}


def _dot(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def _cos(a: Vector, b: Vector) -> float:
    na = math.sqrt(_dot(a, a))
    nb = math.sqrt(_dot(b, b))
    return _dot(a, b) / (na * nb) if na and nb else 0.0


def score(
    sentences: Sequence[str],
    title: str = "",
    language: str = "en",
    weights: Weights = DEFAULT_WEIGHTS,
    in_zone: Sequence[int] | None = None,
) -> tuple[list[float], list[Vector]]:
    """Score of every sentence, and its TF-IDF vector (for redundancy checks).

    ``in_zone`` is each sentence's index within its section: when given, half the position
    weight goes to a section's opening, so a long article's later sections get their say.
    """
    stop = stopwords(language)
    bags = [_terms(s, stop, weights.stem) for s in sentences]
    vecs, title_vec = _tfidf(bags, _terms(title, stop, weights.stem))
    centroid: Counter[str] = Counter()
    for v in vecs:
        centroid.update(v)
    c_sq = _dot(centroid, centroid)
    central = []
    for v in vecs:
        v_c, v_sq = _dot(v, centroid), _dot(v, v)
        rest_sq = c_sq - 2 * v_c + v_sq
        central.append(
            (v_c - v_sq) / math.sqrt(v_sq * rest_sq) if v_sq > 0 and rest_sq > 1e-9 else 0.0
        )
    top = max(central, default=0.0) or 1.0
    scores = []
    for i, (v, c) in enumerate(zip(vecs, central, strict=True)):
        position = 1 / (1 + weights.decay * i)
        if in_zone is not None:
            position = (position + 1 / (1 + weights.decay * in_zone[i])) / 2
        s = weights.position * position + weights.centrality * c / top
        if title_vec:
            s += weights.title * _cos(v, title_vec)
        n_words = len(sentences[i].split())
        scores.append(s * min(1.0, n_words / 8))
    return scores, vecs


def summarize(
    sentences: Sequence[str],
    k: int,
    title: str = "",
    language: str = "en",
    weights: Weights = DEFAULT_WEIGHTS,
) -> list[int]:
    """Indices of the ``k`` sentences that carry the text, best first (sort for document order)."""
    units = [Unit(s, i, i) for i, s in enumerate(sentences)]
    return [u.first for u in pick_units(units, k, title, language, weights)]


def pick_units(
    units: Sequence[Unit],
    k: int,
    title: str = "",
    language: str = "en",
    weights: Weights = DEFAULT_WEIGHTS,
    sections: bool = False,
    scored: tuple[list[float], list[Vector]] | None = None,
) -> list[Unit]:
    """The ``k`` units that carry the text, best first (sort for document order).

    Greedy: the best-scoring unit that overlaps no chosen unit and is not a near-duplicate of
    one. No zone gives more than half the bullets. When the zones are ``sections`` (headings,
    list items), each unit already taken from one lowers the scores of the others in it
    (``weights.spread``) and a section's opening also counts as an opening; the quarters of a
    text without structure only share the bullets out.
    ``scored`` is :func:`score_units` of the same units, when the caller has it already.
    """
    if k <= 0 or not units:
        return []
    zoned = len({u.zone for u in units}) > 1
    scores, vecs = scored or score_units(units, title, language, weights, sections)
    left = sorted(range(len(units)), key=lambda j: (-scores[j], j))
    chosen: list[int] = []
    taken: Counter[int] = Counter()
    spare: list[int] = []
    most = max(1, math.ceil(k / 2)) if zoned else k
    spread = weights.spread if sections else 1.0
    while left and len(chosen) < k:
        best = max(left, key=lambda j: (scores[j] * spread ** taken[units[j].zone], -j))
        left.remove(best)
        if taken[units[best].zone] >= most or any(_overlap(units[best], units[j]) for j in chosen):
            continue
        if any(_cos(vecs[best], vecs[j]) > weights.redundancy for j in chosen):
            spare.append(best)
            continue
        chosen.append(best)
        taken[units[best].zone] += 1
    # Too few distinct units: fill up with the best of the near-duplicates.
    for j in spare:
        if len(chosen) < k and not any(
            _overlap(units[j], units[c]) or units[j].text == units[c].text for c in chosen
        ):
            chosen.append(j)
    return [units[j] for j in chosen]


def score_units(
    units: Sequence[Unit],
    title: str = "",
    language: str = "en",
    weights: Weights = DEFAULT_WEIGHTS,
    sections: bool = False,
) -> tuple[list[float], list[Vector]]:
    """:func:`score` of the units' texts, each section's opening counted as an opening when the
    zones are ``sections``."""
    in_zone = _index_in_zone(units) if sections else None
    return score([u.text for u in units], title, language, weights, in_zone)


def _index_in_zone(units: Sequence[Unit]) -> list[int]:
    seen: Counter[int] = Counter()
    out = []
    for u in units:
        out.append(seen[u.zone])
        seen[u.zone] += 1
    return out


def _overlap(a: Unit, b: Unit) -> bool:
    return a.first <= b.last and b.first <= a.last


def bullet_count(n_words: int, n_candidates: int) -> int:
    """3 bullets up to ~400 words, one more per ~200 words, at most 8; never more than exist."""
    return min(n_candidates, max(3, min(MAX_EXTRACT_BULLETS, 1 + round(n_words / 200))))


def brief_key(
    title: str,
    text: str,
    glossary: Mapping[str, str] | None = None,
    summarizer: str = "extractive",
) -> str:
    """Cache key of a brief: SHA-256 over the brief version, the summarizer (and so the model),
    title, text and glossary."""
    h = hashlib.sha256(f"brief-v{BRIEF_VERSION}\0{summarizer}\0{title}\0{text}".encode())
    if glossary:
        h.update(_encoded(tuple(sorted(glossary.items()))))
    return h.hexdigest()


@lru_cache(maxsize=4)
def _encoded(glossary: tuple[tuple[str, str], ...]) -> bytes:
    """The glossary as bytes, encoded once (a run uses one glossary for thousands of items)."""
    return json.dumps(glossary, ensure_ascii=False).encode()


def make_brief(
    title: str,
    text: str,
    *,
    glossary: Mapping[str, str] | None = None,
    llm: LLMSummarizer | None = None,
    item_label: str = "",
    weights: Weights = DEFAULT_WEIGHTS,
) -> Brief:
    """The brief of one item; ``text`` is its HTML (preferred: structure helps) or plain text.

    With ``llm`` the model writes it, falling back to the extractive summarizer on any failure.
    An item with no usable text (title only) gets no bullets and an empty paragraph: the title is
    shown beside the brief anyway, and repeating it would be padding.
    """
    title = " ".join((title or "").split())
    text = text or ""
    blocks = to_blocks(text)
    clean = "\n".join(block for _kind, block in blocks)
    language = detect_language(clean or title)
    minutes = reading_minutes(text)
    if llm is not None and clean:
        found = glossary_terms(f"{title}\n{clean}", glossary)
        brief = llm.brief(title, clean, glossary_terms=found, language=language,
                          reading_minutes=minutes, item_label=item_label)  # fmt: skip
        if brief is not None:
            return brief
    listicle = is_listicle(title, blocks)
    sentences = sentences_of(blocks, language, MAX_SENTENCES, listicle, title)
    sections = bool(structure(blocks))
    bullets, paragraph = _extract(
        title, sentences, len(clean.split()), language, weights, sections, listicle
    )
    shown = [*bullets, paragraph]
    terms = find_terms(title, [s.text for s in sentences], clean, glossary, language, shown)
    return Brief(bullets, terms, paragraph, minutes, language, "extractive")


def _extract(
    title: str,
    sentences: list[Sentence],
    n_words: int,
    language: str,
    weights: Weights,
    sections: bool,
    listicle: bool = False,
) -> tuple[list[str], str]:
    """Bullets in document order and the "More briefs" paragraph."""
    units = candidate_units(sentences, language)
    if not units and n_words >= FALLBACK_WORDS:
        units = fallback_units(sentences, language)
    if not units:
        # One overlong run-on sentence (or none): cut it at a word boundary rather than lose it.
        longs = [s.text for s in sentences if len(s.text.split()) > MAX_BULLET_WORDS]
        long = next((s for s in longs if stands_alone(s, language)), longs[0] if longs else None)
        if long is None:
            return [], ""
        return [truncate_words(long, MAX_BULLET_WORDS)], truncate_words(long, PARAGRAPH_WORDS)
    k = bullet_count(n_words, len(units))
    if sections:  # a listicle yields its items, a guide its sections
        k = min(len(units), max(k, min(MAX_EXTRACT_BULLETS, len({u.zone for u in units}))))
    scores, vecs = score_units(units, title, language, weights, sections)
    scores = [x * MADE_WEIGHT if u.kind == MADE else x for x, u in zip(scores, units, strict=True)]
    scored = (scores, vecs)
    points = [j for j, u in enumerate(units) if u.kind == POINT]
    more = pick_units(units, PARAGRAPH_SENTENCES[1], title, language, weights, sections, scored)
    if listicle and points:  # its points, one slot kept for the best of its intro and close
        others = [j for j, u in enumerate(units) if u.kind not in (POINT, BODY)]
        n_points = min(len(points), k - 1 if others else k)
        ranked = _pick_among(units, points, n_points, title, language, weights, scored)
        ranked += _pick_among(units, others, k - len(ranked), title, language, weights, scored)
    else:  # what the item is about, the best of the rest, why and what next
        anchor = _anchor(units, scores, title, language, weights)
        ranked = pick_units(units, k, title, language, weights, sections, scored)
        ranked = _with(anchor, ranked, units, scored, weights, k)
        ranked = _why_and_next(ranked, units, scored, language, weights)
        more = _with(anchor, more, units, scored, weights)
    return [u.text for u in sorted(ranked, key=_first)], _paragraph(more)


def _anchor(
    units: Sequence[Unit], scores: Sequence[float], title: str, language: str, weights: Weights
) -> Unit | None:
    """The unit of the lead that says what the item is about: the best of the lead's units by
    score plus ``ANCHOR_TITLE`` times the share of the title's words it carries (three carried
    are a full share; words compared on their first ``TITLE_STEM`` letters, so "layoffs" is
    "layoff"), half that again when its first word is one of the title's (its subject is what
    the title names), and as much when it names the item ("This video explores …"); None when
    the lead has no candidate."""
    stop = stopwords(language)
    head = set(_terms(title, stop, TITLE_STEM))
    end = max(LEAD_MIN, LEAD_SHARE * (units[-1].last + 1))
    full = max(1, min(3, len(head)))

    def value(j: int) -> float:
        bag = _terms(units[j].text, stop, TITLE_STEM)
        carried = min(1.0, len(head & set(bag)) / full)
        subject = bool(bag) and bag[0] in head and units[j].text[:1].isupper()
        itself = names_the_item(units[j].text, language)
        return scores[j] + ANCHOR_TITLE * (carried + subject / 2 + itself)

    lead = [j for j, u in enumerate(units) if u.first < end]
    return units[max(lead, key=lambda j: (value(j), -j))] if lead else None


def _with(
    anchor: Unit | None,
    chosen: list[Unit],
    units: Sequence[Unit],
    scored: tuple[list[float], list[Vector]],
    weights: Weights,
    k: int | None = None,
) -> list[Unit]:
    """The picks with ``anchor`` first, without those it overlaps; given ``k`` (bullets), also
    without those it repeats, and the weakest go while there are ``k`` or more."""
    if anchor is None:
        return chosen
    if anchor in chosen:
        return [anchor, *(u for u in chosen if u != anchor)]
    keep = [u for u in chosen if not _overlap(u, anchor)]
    if k is None:
        return [anchor, *keep]
    scores, vecs = scored
    index = {(u.first, u.last): j for j, u in enumerate(units)}

    def at(u: Unit) -> int:
        return index[(u.first, u.last)]

    a = vecs[at(anchor)]
    keep = [u for u in keep if _cos(vecs[at(u)], a) <= weights.redundancy]
    while keep and len(keep) >= k:
        keep.remove(min(keep, key=lambda u: scores[at(u)]))
    return [anchor, *keep]


def _pick_among(
    units: Sequence[Unit],
    keep: Sequence[int],
    k: int,
    title: str,
    language: str,
    weights: Weights,
    scored: tuple[list[float], list[Vector]],
) -> list[Unit]:
    """:func:`pick_units` over the ``keep`` units only, with their scores (a listicle's points,
    then its intro and close: the body under a point is never a bullet)."""
    scores, vecs = scored
    subset = ([scores[j] for j in keep], [vecs[j] for j in keep])
    return pick_units([units[j] for j in keep], k, title, language, weights, True, subset)


def _why_and_next(
    chosen: list[Unit],
    units: Sequence[Unit],
    scored: tuple[list[float], list[Vector]],
    language: str,
    weights: Weights,
) -> list[Unit]:
    """The picks, with a sentence saying what comes next (the future, after the text's first
    third) and one saying why (a conjunction of cause or consequence) when none of them does and
    the text has one that scores at least ``CUE_SHARE`` of the weakest pick. It is added to a
    brief of fewer than ``CUE_ROOM`` bullets, and otherwise takes the weakest pick's place
    (never the best's, nor the other cue's)."""
    scores, vecs = scored
    index = {(u.first, u.last): j for j, u in enumerate(units)}
    picked = [index[(u.first, u.last)] for u in chosen]
    start = NEXT_FROM * (units[-1].last + 1)
    cues = (
        lambda u: says_next(u.text, language) and u.first >= start,
        lambda u: says_why(u.text, language) and u.first > 0,
    )
    fixed = set(picked[:1])
    for says in cues:
        if not picked or any(says(units[j]) for j in picked):
            continue
        keep = picked
        if len(picked) >= CUE_ROOM:
            weakest = min((j for j in picked if j not in fixed), key=lambda j: scores[j])
            keep = [j for j in picked if j != weakest]
        floor = CUE_SHARE * min(scores[j] for j in picked)
        found = [
            j
            for j, u in enumerate(units)
            if says(u)
            and scores[j] >= floor
            and not any(_overlap(u, units[c]) for c in keep)
            and not any(_cos(vecs[j], vecs[c]) > weights.redundancy for c in keep)
        ]
        if found:
            best = max(found, key=lambda j: scores[j])
            picked = [*keep, best]
            fixed.add(best)
    return [units[j] for j in picked]


def _paragraph(ranked: Sequence[Unit]) -> str:
    """The best units, in document order, until 4 sentences and as many more as fit in
    ``PARAGRAPH_WORDS`` words (at most 10 sentences); it opens with the best of them when that
    one comes first in the text."""
    chosen: list[Unit] = []
    budget, n_sentences = PARAGRAPH_WORDS, 0
    least, most = PARAGRAPH_SENTENCES
    for u in ranked:
        n, m = len(u.text.split()), u.last - u.first + 1
        if chosen and (n > budget or n_sentences + m > most):
            if n_sentences >= least:
                break
            continue
        chosen.append(u)
        budget -= n
        n_sentences += m
    return truncate_words(" ".join(u.text for u in sorted(chosen, key=_first)), PARAGRAPH_WORDS)


def _first(unit: Unit) -> int:
    return unit.first

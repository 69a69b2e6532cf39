"""Extractive summarizer: rank sentences by position blended with centrality, pick the top few.

Offline and deterministic. Each sentence scores

    position * 1/(1 + decay*i)  +  centrality * cos(s_i, rest of the text)  +  title * cos(s_i, title)

over TF-IDF vectors of stopword-free, prefix-stemmed words; the best ``k`` are taken greedily,
skipping near-duplicates, and returned in document order. The weights were tuned on ACLSum's
train and val splits by ``bench/summaries.py``.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from aggregator.briefs.text import stopwords, words

Vector = dict[str, float]


@dataclass(frozen=True, slots=True)
class Weights:
    """Knobs of the sentence score (see the module docstring)."""

    position: float = 1.0
    centrality: float = 0.6
    title: float = 0.3
    decay: float = 0.5
    redundancy: float = 0.5
    """Skip a sentence whose cosine with one already chosen is above this."""
    stem: int = 6
    """Words are cut to this many characters (a cheap, language-blind stemmer); 0 keeps them."""


DEFAULT_WEIGHTS = Weights()


def _terms(text: str, stop: frozenset[str], stem: int) -> list[str]:
    return [w[:stem] if stem else w for w in words(text) if w not in stop and not w.isdigit()]


def _tfidf(bags: list[list[str]], extra: list[str]) -> tuple[list[Vector], Vector]:
    df = Counter(t for bag in bags for t in set(bag))
    n = len(bags)
    idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
    vecs = [{t: c * idf[t] for t, c in Counter(bag).items()} for bag in bags]
    return vecs, {t: idf.get(t, 0.0) for t in set(extra)}


def _dot(a: Vector, b: Vector) -> float:
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
) -> tuple[list[float], list[Vector]]:
    """Score of every sentence, and its TF-IDF vector (for redundancy checks)."""
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
        s = weights.position / (1 + weights.decay * i) + weights.centrality * c / top
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
    """Indices of the ``k`` sentences that carry the text, in document order."""
    if k <= 0 or not sentences:
        return []
    scores, vecs = score(sentences, title, language, weights)
    chosen: list[int] = []
    for i in sorted(range(len(sentences)), key=lambda j: (-scores[j], j)):
        if all(_cos(vecs[i], vecs[j]) <= weights.redundancy for j in chosen):
            chosen.append(i)
            if len(chosen) == k:
                break
    return sorted(chosen)

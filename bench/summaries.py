"""Score the extractive summarizer on ACLSum beside Lead-3, TextRank and LexRank; time briefs.

    python bench/summaries.py [--tune N] [--corpus DIR]

ACLSum (the ``aclsum`` package ships it): the source is every sentence of a paper's abstract,
introduction and conclusion; the reference is its three aspect summaries, one per line. Each
system picks three sentences. ROUGE-1/2/Lsum F1 (rouge-score, Porter stemmer). With ``--tune N``
N random weight settings are tried on train+val and the best is reported on test beside the
defaults. Then briefs/s over every item of the real-feed corpus, pinned to one core.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import random
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import feedparser
import numpy as np
from aclsum import ACLSum
from rouge_score import rouge_scorer

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator.briefs.summarize import (  # noqa: E402
    DEFAULT_WEIGHTS,
    Weights,
    make_brief,
    pick_units,
    summarize,
)
from aggregator.briefs.text import words  # noqa: E402
from aggregator.briefs.units import Sentence, candidate_units, in_quarters  # noqa: E402

ASPECTS = ("challenge", "approach", "outcome")
METRICS = ("rouge1", "rouge2", "rougeLsum")
CORPUS = str(Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-feeds")
Picker = Callable[[Sequence[str], str], list[int]]

_SCORER = rouge_scorer.RougeScorer(list(METRICS), use_stemmer=True)


def detokenized(sentence: str) -> str:
    """ACLSum's sentences are tokenized ("a model , which …"): written as running text is (as
    every system here reads it), so that a space before a comma is not taken for a lost formula."""
    sentence = re.sub(r"\s+([.,;:!?%)\]])", r"\1", sentence)
    return re.sub(r"([(\[])\s+", r"\1", sentence)


def evaluate(docs: list, pick: Picker) -> tuple[float, float, float]:
    """Mean ROUGE F1 (x100) of the sentences ``pick`` chooses, against the aspect summaries."""
    rows = []
    for doc in docs:
        sents = [detokenized(x) for x in doc.get_all_sentences()]
        ref = "\n".join(doc.summaries[a] for a in ASPECTS)
        cand = "\n".join(sents[i] for i in pick(sents, doc.title))
        s = _SCORER.score(ref, cand)
        rows.append([s[m].fmeasure for m in METRICS])
    r1, r2, rl = (100 * statistics.fmean(col) for col in zip(*rows, strict=True))
    return r1, r2, rl


def lead3(sents: Sequence[str], _title: str) -> list[int]:
    return list(range(min(3, len(sents))))


def _pagerank(sim: np.ndarray, damping: float = 0.85) -> np.ndarray:
    np.fill_diagonal(sim, 0.0)
    rows = sim.sum(axis=1, keepdims=True)
    trans = np.divide(sim, rows, out=np.full_like(sim, 1 / len(sim)), where=rows > 0)
    rank = np.full(len(sim), 1 / len(sim))
    for _ in range(100):
        rank = (1 - damping) / len(sim) + damping * trans.T @ rank
    return rank


def _top3(rank: np.ndarray) -> list[int]:
    return sorted(np.argsort(-rank, kind="stable")[:3].tolist())


def textrank(sents: Sequence[str], _title: str) -> list[int]:
    """Mihalcea & Tarau 2004: word-overlap similarity normalised by log lengths, PageRank."""
    bags = [set(words(s)) for s in sents]
    n = len(bags)
    sim = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            den = math.log(len(bags[i]) + 1) + math.log(len(bags[j]) + 1)
            sim[i, j] = sim[j, i] = len(bags[i] & bags[j]) / den if den else 0.0
    return _top3(_pagerank(sim))


def lexrank(sents: Sequence[str], _title: str) -> list[int]:
    """Erkan & Radev 2004: TF-IDF cosine graph thresholded at 0.1, PageRank."""
    bags = [words(s) for s in sents]
    vocab = {w: k for k, w in enumerate(sorted({w for b in bags for w in b}))}
    tf = np.zeros((len(bags), len(vocab)))
    for i, bag in enumerate(bags):
        for w in bag:
            tf[i, vocab[w]] += 1
    idf = np.log(len(bags) / (tf > 0).sum(axis=0))
    vec = tf * idf
    norm = np.linalg.norm(vec, axis=1, keepdims=True)
    vec = np.divide(vec, norm, out=np.zeros_like(vec), where=norm > 0)
    sim = vec @ vec.T
    return _top3(_pagerank((sim > 0.1).astype(float)))


def ours(weights: Weights) -> Picker:
    """The product's picks: three bullets that stand alone, spread over the text's quarters
    (a bullet that carries its lead-in sentence counts both)."""

    def pick(sents: Sequence[str], title: str) -> list[int]:
        units = candidate_units(in_quarters([Sentence(s, 0, 0) for s in sents]), "en")
        chosen = pick_units(units, 3, title, "en", weights)
        return sorted(i for u in chosen for i in range(u.first, u.last + 1))

    return pick


def ours_plain(weights: Weights) -> Picker:
    """The sentence scorer alone: no stand-alone filter, no sections."""
    return lambda sents, title: summarize(sents, 3, title, "en", weights)


def tune(docs: list, trials: int, seed: int = 7) -> Weights:
    """Random search over the weights on ``docs``; the objective is R1 + R2 + RL."""
    rng = random.Random(seed)
    best, best_sum = DEFAULT_WEIGHTS, sum(evaluate(docs, ours(DEFAULT_WEIGHTS)))
    for _ in range(trials):
        w = replace(
            DEFAULT_WEIGHTS,
            centrality=rng.choice([0.4, 0.6, 0.8, 1.0, 1.2, 1.5]),
            title=rng.choice([0.0, 0.1, 0.15, 0.2, 0.3, 0.5]),
            decay=rng.choice([0.03, 0.05, 0.1, 0.2, 0.5, 1.0]),
            redundancy=rng.choice([0.2, 0.3, 0.4, 0.5, 0.7]),
            stem=rng.choice([0, 5, 6, 7, 8]),
            spread=rng.choice([0.5, 0.7, 0.8, 0.9, 1.0]),
        )
        total = sum(evaluate(docs, ours(w)))
        if total > best_sum:
            best, best_sum = w, total
            print(f"  tune: {total / 3:.2f} mean F1 with {w}", file=sys.stderr)
    return best


def corpus_items(corpus: str) -> list[tuple[str, str]]:
    items = []
    for path in sorted(glob.glob(os.path.join(corpus, "*.xml"))):
        feed = feedparser.parse(path, sanitize_html=False, resolve_relative_uris=False)
        for e in feed.entries:
            content = (e.get("content") or [{}])[0].get("value") or e.get("summary") or ""
            items.append((e.get("title", ""), content))
    return items


def briefs_per_second(items: list[tuple[str, str]]) -> tuple[float, float]:
    """Briefs/s over all items and the slowest single brief in ms (after one warm-up)."""
    make_brief("Warm up", "<p>Load the models once. Then time the rest.</p>")
    slowest = 0.0
    start = time.perf_counter()
    for title, text in items:
        t = time.perf_counter()
        make_brief(title, text)
        slowest = max(slowest, time.perf_counter() - t)
    return len(items) / (time.perf_counter() - start), slowest * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tune", type=int, default=0, help="random weight settings to try")
    ap.add_argument("--corpus", default=CORPUS)
    args = ap.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    dev = list(ACLSum("train")) + list(ACLSum("val"))
    test = list(ACLSum("test"))
    systems: dict[str, Picker] = {"Lead-3": lead3, "TextRank": textrank, "LexRank": lexrank}
    systems["scorer alone"] = ours_plain(DEFAULT_WEIGHTS)
    systems["ours (defaults)"] = ours(DEFAULT_WEIGHTS)
    if args.tune:
        systems["ours (tuned now)"] = ours(tune(dev, args.tune))
    print(f"ACLSum: tuned on train+val ({len(dev)} papers), scored on test ({len(test)} papers)")
    print(f"{'system':<18} {'R-1':>6} {'R-2':>6} {'R-L':>6}   (dev R-1/R-2/R-L)")
    for name, pick in systems.items():
        t = evaluate(test, pick)
        d = evaluate(dev, pick)
        print(
            f"{name:<18} {t[0]:6.1f} {t[1]:6.1f} {t[2]:6.1f}   ({d[0]:.1f}/{d[1]:.1f}/{d[2]:.1f})"
        )

    items = corpus_items(args.corpus)
    rate, slowest = briefs_per_second(items)
    print(
        f"briefs: {len(items)} real-feed items, {rate:.0f} briefs/s on one core, slowest {slowest:.0f} ms"
    )


if __name__ == "__main__":
    main()

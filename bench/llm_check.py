"""How well the LLM faithfulness check keeps faithful sentences and drops unfaithful ones.

    python bench/llm_check.py [FEED_DIR] [--items N] [--seed S]

Every entry of the feed files in FEED_DIR (default: the 200 of ``shared/corpus/real-feeds``),
up to ``--items``, is briefed by the extractive summarizer: its bullets are the item's own
sentences, so the check must keep every one (a drop is a false rejection). Each bullet is then
changed the ways a careless model changes a sentence, and the check must drop the result:

- name: a capitalised name of the bullet replaced by a name from another item;
- number: a number of the bullet changed (n to n + 7);
- negation: "not" put after the bullet's first auxiliary verb (is, was, will, has, can ...);
- word: a content word of the bullet replaced by a content word of another item;
- foreign: a bullet of another feed's item, as if the model had mixed two items up.

Printed: for each kind, how many were tried and the share the check rejected; the time per check.
"""

from __future__ import annotations

import argparse
import random
import re
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from brief_quality import CORPUS, corpus_entries  # noqa: E402

from aggregator.briefs.faithful import Support  # noqa: E402
from aggregator.briefs.summarize import make_brief  # noqa: E402
from aggregator.briefs.text import detect_language, stopwords, to_blocks  # noqa: E402

AUXILIARY = re.compile(r"\b(is|are|was|were|will|has|have|had|can|could|would|should|does|did)\b")
NAME = re.compile(r"(?<=\s)[A-Z][a-z]{2,}\b")
NUMBER = re.compile(r"\b\d{1,4}\b")
WORD = re.compile(r"\b[a-z]{5,}\b")


def changes(bullet: str, other: str, stop: frozenset[str]) -> dict[str, str]:
    """The bullet changed each way that applies to it; ``other`` is another item's bullet."""
    out: dict[str, str] = {}
    names = [n for n in NAME.findall(other) if n not in bullet and n.casefold() not in stop]
    if (mine := NAME.search(bullet)) and mine.group().casefold() not in stop and names:
        out["name"] = bullet[: mine.start()] + names[0] + bullet[mine.end() :]
    if number := NUMBER.search(bullet):
        out["number"] = (
            f"{bullet[: number.start()]}{int(number.group()) + 7}{bullet[number.end() :]}"
        )
    if (aux := AUXILIARY.search(bullet)) and " not " not in bullet:
        out["negation"] = bullet[: aux.end()] + " not" + bullet[aux.end() :]
    words = [w for w in WORD.findall(other) if w not in stop and w not in bullet.casefold()]
    mine_words = [w for w in WORD.findall(bullet) if w not in stop]
    if words and mine_words:
        out["word"] = re.sub(rf"\b{mine_words[0]}\b", words[0], bullet, count=1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", nargs="?", default=str(CORPUS), type=Path)
    ap.add_argument("--items", type=int, default=1500)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    entries = [(t, h) for t, h in corpus_entries(args.folder) if h]
    rng.shuffle(entries)
    entries = entries[: args.items]
    briefs = []
    for title, html in entries:
        clean = "\n".join(block for _kind, block in to_blocks(html))
        if not clean:
            continue
        language = detect_language(clean or title)
        briefs.append((title, clean, language, make_brief(title, html).bullets))
    tried: Counter[str] = Counter()
    rejected: Counter[str] = Counter()
    examples: dict[str, str] = {}
    checks, seconds = 0, 0.0
    for n, (title, clean, language, bullets) in enumerate(briefs):
        support = Support(clean, language, title)
        other_bullets = briefs[(n + 1 + rng.randrange(len(briefs) - 1)) % len(briefs)][3]
        stop = stopwords(language) | stopwords("en")
        for bullet in bullets:
            other = rng.choice(other_bullets) if other_bullets else ""
            cases = {"faithful": bullet} | changes(bullet, other, stop)
            if other:
                cases["foreign"] = other
            for kind, sentence in cases.items():
                started = time.perf_counter()
                reason = support.check(sentence)
                seconds += time.perf_counter() - started
                checks += 1
                tried[kind] += 1
                if reason is not None:
                    rejected[kind] += 1
                    if kind == "faithful":
                        examples.setdefault(reason.split(" ")[0] + str(len(examples)), sentence)
    print(f"{len(briefs)} items, {checks} checks, {1000 * seconds / max(1, checks):.2f} ms a check")
    print("| kind | sentences | rejected |")
    print("|---|---|---|")
    for kind in ("faithful", "name", "number", "negation", "word", "foreign"):
        share = 100 * rejected[kind] / max(1, tried[kind])
        print(f"| {kind} | {tried[kind]} | {rejected[kind]} ({share:.1f}%) |")
    for sentence in list(examples.values())[:5]:
        print("kept wrongly dropped:", sentence[:140])


if __name__ == "__main__":
    main()

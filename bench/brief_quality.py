"""Count what a reader trips over in the briefs of real feeds.

    python bench/brief_quality.py [FEED_DIR] [--glossary FILE] [--dump FILE.jsonl]

Every feed file in FEED_DIR (default: the 200 of ``shared/corpus/real-feeds``) is parsed with the
product's parser and every entry briefed as the pipeline does (with the shipped glossary). Printed,
over all bullets and briefs: bullets opening with a context-dependent word without their
antecedent (the item's own first sentence needs none), questions, bullets with a URL, bullets
with unbalanced quotes; items of 80+ words with no bullet; briefs made only of boilerplate (every bullet carries a sponsor, call-to-action, caption
or comment cue of this script's own list, independent of the summarizer's); titles and briefs
with mojibake (ftfy's test); for items of 250+ words, "More briefs" paragraphs of 4-10 sentences;
for items over 800 words, the share of bullets taken from the first quarter of the text; terms
per brief, the share of briefs with a term, and that share among technical items, judged by
their vocabulary without the glossary or the terms code (:func:`technical`); the most repeated
terms. Then the structure counts (:class:`Structure`): paragraphs that open on the news, briefs
with list items made sentences, listicle bullets that are points, and briefs that say why or what
next when the item does. ``--dump`` writes every brief as JSON lines, for reading.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aggregator.briefs.glossary import SHIPPED_GLOSSARY, load_glossary  # noqa: E402
from aggregator.briefs.standalone import (  # noqa: E402
    context_opener,
    has_url,
    is_question,
    leans_back,
    unbalanced_quotes,
)
from aggregator.briefs.summarize import make_brief  # noqa: E402
from aggregator.briefs.text import HEADING, split_sentences, to_blocks  # noqa: E402
from aggregator.briefs.units import is_listicle, says_next, says_why  # noqa: E402
from aggregator.ingest.parse import parse_feed  # noqa: E402
from aggregator.model.brief import Brief  # noqa: E402
from aggregator.model.entry import FeedParseError  # noqa: E402

try:
    from ftfy.badness import is_bad as mojibake  # noqa: E402
except ImportError:  # an install without ftfy: nothing is counted as mojibake

    def mojibake(text: str) -> bool:
        return False


CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-feeds"
LONG_WORDS = 800
EMPTY_WORDS = 80
PARAGRAPH_ITEM_WORDS = 250
# What a reader calls boilerplate in a bullet (English, this script's own list).
# Technical vocabulary, in any language: acronyms (API, GPU), names with a capital or digit inside
# (JavaScript, IPv6, x86), dotted or underscored identifiers (node.js, snake_case), C++ and C#.
TECH_TOKEN = re.compile(
    r"(?<![\w/])(?:[A-Z]{2,6}s?|[A-Za-z]+\d+[A-Za-z\d]*|\d+[A-Za-z]+\w*|[a-z]+[A-Z]\w*"
    r"|[A-Z][a-z]+[A-Z]\w*|[A-Za-z]\w*(?:\.[A-Za-z]\w*)+|\w+_\w+|[A-Za-z]\+\+|[A-Za-z]#)(?!\w)"
)


def technical(text: str) -> bool:
    """An item about a technical subject: 3+ distinct technical tokens, 1% of its words or more."""
    words = text.split()
    tokens = set(TECH_TOKEN.findall(text))
    return len(tokens) >= 3 and len(tokens) >= 0.01 * len(words)


BOILERPLATE_CUE = re.compile(
    r"\b(?:use (?:my |our )?code|promo|sponsor|sign up|subscribe|check out|patreon|affiliate"
    r"|image source|photo:|credit:|let (?:me|us) know in the comments|click (?:here|the link)"
    r"|follow (?:us|me)|free trial|\d+% off)\b",
    re.IGNORECASE,
)


@dataclass
class Tally:
    """Counts over the corpus; ``rows`` turns them into the printed shares."""

    items: int = 0
    bullets: int = 0
    openers: int = 0
    questions: int = 0
    urls: int = 0
    quotes: int = 0
    wordy: int = 0
    wordy_empty: int = 0
    long_bullets: int = 0
    long_first_quarter: int = 0
    terms: int = 0
    with_terms: int = 0
    only_boilerplate: int = 0
    mojibake: int = 0
    long_items: int = 0
    long_paragraph_ok: int = 0
    technical: int = 0
    technical_with_terms: int = 0
    shown_terms: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    empty_examples: list[str] = field(default_factory=list)

    def add(self, title: str, text: str, brief: Brief) -> None:
        """Count one item's brief."""
        self.items += 1
        shown = [title, *brief.bullets, brief.paragraph]
        self.mojibake += any(mojibake(t) for t in shown if t)
        self.only_boilerplate += bool(brief.bullets) and all(
            BOILERPLATE_CUE.search(b) for b in brief.bullets
        )
        blocks = to_blocks(text)
        prose = [t for k, t in blocks if k != HEADING]
        first = split_sentences(prose[0], brief.language)[:1] if prose else []
        for b in brief.bullets:
            self.bullets += 1
            opening = first == [b] and not leans_back(b, brief.language, first=True)
            self.openers += context_opener(b, brief.language) and not opening
            self.questions += is_question(b)
            self.urls += has_url(b)
            self.quotes += unbalanced_quotes(b)
        clean = "\n".join(t for _k, t in blocks)
        n_words = len(clean.split())
        if n_words >= EMPTY_WORDS:
            self.wordy += 1
            if not brief.bullets:
                self.wordy_empty += 1
                self.empty_examples.append(title)
        if n_words > LONG_WORDS:
            for b in brief.bullets:
                at = clean.find(b[:40])
                if at >= 0:
                    self.long_bullets += 1
                    self.long_first_quarter += at < len(clean) / 4
        if n_words >= PARAGRAPH_ITEM_WORDS:
            self.long_items += 1
            n = len(split_sentences(brief.paragraph, brief.language)) if brief.paragraph else 0
            self.long_paragraph_ok += 4 <= n <= 10
        self.terms += len(brief.terms)
        self.with_terms += bool(brief.terms)
        is_technical = technical(clean)
        self.technical += is_technical
        self.technical_with_terms += is_technical and bool(brief.terms)
        self.shown_terms.update(t.term for t in brief.terms)

    def rows(self) -> list[tuple[str, str]]:
        """(measure, value) pairs as printed in the README."""

        def pct(n: int, d: int) -> str:
            return f"{100 * n / d:.1f}% ({n}/{d})" if d else "n/a"

        return [
            ("context-dependent openers (of bullets)", pct(self.openers, self.bullets)),
            ("briefs made only of boilerplate", pct(self.only_boilerplate, self.items)),
            ("titles or briefs with mojibake", pct(self.mojibake, self.items)),
            (
                f"paragraphs of 4-10 sentences (items of {PARAGRAPH_ITEM_WORDS}+ words)",
                pct(self.long_paragraph_ok, self.long_items),
            ),
            ("questions (of bullets)", pct(self.questions, self.bullets)),
            ("bullets with a URL", pct(self.urls, self.bullets)),
            ("bullets with unbalanced quotes", pct(self.quotes, self.bullets)),
            (f"items of {EMPTY_WORDS}+ words with no bullet", pct(self.wordy_empty, self.wordy)),
            (
                f"bullets from the first quarter (items over {LONG_WORDS} words)",
                pct(self.long_first_quarter, self.long_bullets),
            ),
            ("terms per brief", f"{self.terms / self.items:.2f}" if self.items else "n/a"),
            ("briefs with a term", pct(self.with_terms, self.items)),
            ("technical items with a term", pct(self.technical_with_terms, self.technical)),
            (
                "most repeated terms (of terms)",
                ", ".join(f"{t} {n}" for t, n in self.shown_terms.most_common(3)) or "n/a",
            ),
            ("bullets per brief", f"{self.bullets / self.items:.2f}" if self.items else "n/a"),
            ("briefs/s (this process)", f"{self.items / self.seconds:.0f}" if self.seconds else ""),
        ]


@dataclass
class Structure:
    """Counts of what the brief takes from the item's structure (separate from :class:`Tally`)."""

    counts: dict[str, list[int]] = field(default_factory=dict)

    def _count(self, name: str, hit: bool) -> None:
        row = self.counts.setdefault(name, [0, 0])
        row[0] += hit
        row[1] += 1

    def add(self, title: str, text: str, brief: Brief) -> None:
        """Count one item's brief."""
        blocks = to_blocks(text)
        clean = "\n".join(t for _k, t in blocks)
        if len(clean.split()) >= PARAGRAPH_ITEM_WORDS and brief.paragraph:
            lead = split_sentences(" ".join(clean.split("\n")[:3]), brief.language)[:3]
            self._count("paragraphs opening on one of the first 3 sentences", any(
                brief.paragraph.startswith(s) for s in lead
            ))  # fmt: skip
        made = [b for b in brief.bullets if b not in clean]
        self._count(
            "briefs with a bullet not verbatim in the text (list items made sentences)", bool(made)
        )
        if is_listicle(title, blocks):
            heads = [t.rstrip(" :.?") for k, t in blocks if k == HEADING]
            for b in brief.bullets:
                self._count("listicle bullets opening with a heading", any(
                    h and h in b[: len(h) + 8] for h in heads
                ))  # fmt: skip
        sents = split_sentences(clean.replace("\n", " "), brief.language) if clean else []
        lang, late = brief.language, sents[len(sents) // 3 :]
        if any(says_next(s, lang) for s in late) or any(says_why(s, lang) for s in sents[1:]):
            self._count("briefs saying why or what next, of items that do", any(
                says_next(b, lang) or says_why(b, lang) for b in brief.bullets
            ))  # fmt: skip

    def rows(self) -> list[tuple[str, str]]:
        return [(k, f"{100 * n / d:.1f}% ({n}/{d})") for k, (n, d) in self.counts.items()]


def corpus_entries(folder: Path) -> list[tuple[str, str]]:
    """(title, text) of every entry of every feed file in ``folder``, as the pipeline sees it."""
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() not in (".xml", ".json", ".rss", ".atom"):
            continue
        try:
            feed = parse_feed(path.read_bytes(), path.resolve().as_uri())
        except FeedParseError:
            continue
        out += [(e.title, e.content_html or e.content_text) for e in feed.entries]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder", nargs="?", default=str(CORPUS), type=Path)
    ap.add_argument("--glossary", type=Path, default=SHIPPED_GLOSSARY)
    ap.add_argument("--dump", type=Path, help="write every brief as JSON lines")
    args = ap.parse_args()
    glossary = load_glossary(args.glossary) if args.glossary.is_file() else {}
    entries = corpus_entries(args.folder)
    tally = Tally()
    shape = Structure()
    dump = args.dump.open("w", encoding="utf-8") if args.dump else None
    for title, text in entries:
        start = time.perf_counter()
        brief = make_brief(title, text, glossary=glossary)
        tally.seconds += time.perf_counter() - start
        tally.add(title, text, brief)
        shape.add(title, text, brief)
        if dump:
            row = {"item_title": title, **brief.to_dict()}
            dump.write(json.dumps(row, ensure_ascii=False) + "\n")
    if dump:
        dump.close()
    print(f"{tally.items} items from {args.folder} ({len(glossary)} glossary terms)")
    print("| measure | value |\n|---|---|")
    for name, value in tally.rows() + shape.rows():
        print(f"| {name} | {value} |")
    if tally.empty_examples:
        print("empty briefs:", "; ".join(repr(t[:60]) for t in tally.empty_examples[:10]))


if __name__ == "__main__":
    main()

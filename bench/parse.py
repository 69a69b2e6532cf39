"""Parse throughput over the real-feed corpus: lxml floor vs fast tier vs feedparser, one run.

    .venv/bin/python bench/parse.py [corpus_dir]

Every contender reads the same feeds (those the fast tier accepts) in the same process, so the
printed ratios compare like with like. "raw" is the tier's extraction alone; "full" adds the
shared normalisation (dates, URLs, nh3 sanitizing, plain text) that parse_feed does.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import fastfeedparser
import feedparser
from lxml import etree

from aggregator.ingest.parse import feedparser_tier, lxml_tier, parse_feed
from aggregator.ingest.parse.normalize import normalise_feed

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real-feeds"
NOW = datetime.now(UTC)


def load(corpus: Path) -> list[tuple[bytes, str]]:
    """(body, url) for every feed the fast tier reads."""
    rows = (line.split("\t") for line in (corpus / "urls.tsv").read_text().splitlines()[1:])
    feeds = []
    for name, url in rows:
        body = (corpus / name).read_bytes()
        root = lxml_tier.parse_tree(body, url.strip())
        if root is not None and lxml_tier.read_feed(root) is not None:
            feeds.append((body, url.strip()))
    return feeds


def run(name: str, fn: Callable[[bytes, str], object], feeds: list[tuple[bytes, str]]) -> float:
    start = time.perf_counter()
    for body, url in feeds:
        fn(body, url)
    return time.perf_counter() - start


def main() -> None:
    corpus = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CORPUS
    feeds = load(corpus)
    items = sum(len(parse_feed(b, u).entries) for b, u in feeds)
    megabytes = sum(len(b) for b, _ in feeds) / 1e6
    parser = lxml_tier.safe_parser()
    contenders: dict[str, Callable[[bytes, str], object]] = {
        "lxml tree only (floor)": lambda b, u: etree.fromstring(b, parser),
        "fast tier raw": lambda b, u: lxml_tier.read_feed(lxml_tier.parse_tree(b, u)),
        "fastfeedparser.parse": lambda b, u: fastfeedparser.parse(b),
        "feedparser raw (sanitize off)": lambda b, u: feedparser.parse(
            b, sanitize_html=False, resolve_relative_uris=False
        ),
        "feedparser default (sanitize on)": lambda b, u: feedparser.parse(b),
        "fast tier full (parse_feed)": lambda b, u: parse_feed(b, u, now=NOW),
        "feedparser tier full": lambda b, u: normalise_feed(
            feedparser_tier.parse(b, u, None)[0], "feedparser", NOW
        ),
    }
    print(f"{len(feeds)} feeds, {items} items, {megabytes:.1f} MB")
    times = {name: run(name, fn, feeds) for name, fn in contenders.items()}
    floor = times["lxml tree only (floor)"]
    print(f"{'contender':36} {'items/s':>10} {'MB/s':>8} {'x floor time':>13}")
    for name, seconds in times.items():
        print(
            f"{name:36} {items / seconds:>10,.0f} {megabytes / seconds:>8.1f} {seconds / floor:>13.1f}"
        )
    print(
        f"feedparser raw / fast tier raw time: "
        f"{times['feedparser raw (sanitize off)'] / times['fast tier raw']:.1f}x; "
        f"feedparser tier full / fast tier full: "
        f"{times['feedparser tier full'] / times['fast tier full (parse_feed)']:.1f}x"
    )


if __name__ == "__main__":
    main()

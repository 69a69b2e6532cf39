"""Real items from the shared real-feeds corpus, parsed with feedparser directly."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import lxml.html
import pytest

from aggregator.briefs.standalone import leans_back, stands_alone
from aggregator.briefs.text import HEADING, split_sentences, to_blocks

_CANDIDATES = [
    os.environ.get("AGGREGATOR_SHARED", ""),
    str(Path(__file__).resolve().parents[3] / "shared"),
    "/work/shared",
]


def corpus_dir() -> Path:
    for base in _CANDIDATES:
        path = Path(base) / "corpus" / "real-feeds" if base else None
        if path and path.is_dir():
            return path
    pytest.skip("shared/corpus/real-feeds is not present")


@cache
def items(feed_file: str) -> list[tuple[str, str]]:
    """(title, content HTML) of every entry of one corpus feed."""
    import feedparser

    feed = feedparser.parse(
        str(corpus_dir() / feed_file), sanitize_html=False, resolve_relative_uris=False
    )
    out = []
    for e in feed.entries:
        html = (e.get("content") or [{}])[0].get("value") or e.get("summary") or ""
        out.append((e.get("title", ""), html))
    return out


def alone(bullet: str, language: str, html: str) -> bool:
    """The bullet stands alone, or it is the item's opening sentence, which may name things with
    a demonstrative ("This recipe is my entry …"): nothing comes before it."""
    if stands_alone(bullet, language):
        return True
    prose = [text for kind, text in to_blocks(html) if kind != HEADING]
    first = split_sentences(prose[0], language)[:1] if prose else []
    return first == [bullet] and not leans_back(bullet, language, first=True)


def plain(html: str) -> str:
    """The item's visible text with whitespace collapsed, to look bullets up in (without the
    footnote marks, superscript links, that the summarizer drops)."""
    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for sup in root.xpath("//sup[.//a]"):
        sup.drop_tree()
    return " ".join(root.text_content().split())


def position(bullet: str, text: str) -> int:
    """Where the bullet is in the text: as it is, or as the list item it was made from (the
    item's own words, capitalised and closed with a full stop); -1 when it is not there."""
    if bullet in text:
        return text.index(bullet)
    core = bullet.removesuffix(".")
    for found in (core, core[:1].lower() + core[1:]):
        if found in text:
            return text.index(found)
    return -1

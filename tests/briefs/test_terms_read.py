"""The hand-read terms (tests/briefs/data/terms_read.tsv): 30 shown terms of held-out feeds, each
read as right or wrong; every term read as right is still shown with the definition read when
the brief still names it, and all but three of them are."""

from __future__ import annotations

from pathlib import Path

from aggregator.briefs.glossary import combined_glossary
from aggregator.briefs.summarize import make_brief
from aggregator.ingest.parse import parse_feed
from tests.briefs.corpus import corpus_dir

DATA = Path(__file__).parent / "data" / "terms_read.tsv"


def test_terms_read_as_right_are_still_shown() -> None:
    rows = [line.split("\t") for line in DATA.read_text().splitlines() if line[:1] != "#"]
    assert len(rows) == 30 and {r[4] for r in rows} <= {"right", "wrong"}
    glossary = combined_glossary(None)
    feeds: dict[str, list] = {}
    right = still = 0
    for feed_file, title, term, source, label, _note in rows:
        if feed_file not in feeds:
            path = corpus_dir() / feed_file
            feeds[feed_file] = parse_feed(path.read_bytes(), path.resolve().as_uri()).entries
        entry = next(e for e in feeds[feed_file] if e.title == title)
        brief = make_brief(entry.title, entry.content_html or entry.content_text, glossary=glossary)
        shown = {t.term: t.definition for t in brief.terms}
        named = term.casefold() in " ".join([*brief.bullets, brief.paragraph]).casefold()
        if label == "right":
            right += 1
            still += term in shown
            assert term in shown or not named, (feed_file, title, term)
            if term in shown:
                assert (shown[term] == glossary.get(term)) == (source == "glossary"), term
    assert right >= 25 and still >= right - 3, (still, right)

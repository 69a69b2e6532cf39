"""The third hand-read set (tests/briefs/data/read_items_3.tsv, 20 held-out entries of 250+ words,
one per feed, outside the other sets): every bullet is the item's own sentence, none is a question
or leaves a bracket or quotation open, and the items read as Good keep three or more standalone
bullets, the first opening as it did when read."""

from __future__ import annotations

from pathlib import Path

from aggregator.briefs.standalone import is_question, unbalanced_brackets, unbalanced_quotes
from aggregator.briefs.summarize import make_brief
from aggregator.ingest.parse import parse_feed
from tests.briefs.corpus import alone, corpus_dir, plain, position

DATA = Path(__file__).parent / "data"


def test_third_hand_read_set() -> None:
    lines = (DATA / "read_items_3.tsv").read_text().splitlines()
    rows = [line.split("\t") for line in lines if line[:1] != "#"]
    assert len(rows) == 20 and {r[2] for r in rows} <= {"Good", "Partial", "Poor"}
    assert len({r[0] for r in rows}) == 20  # one entry per feed
    others = {
        line.split("\t")[0]
        for path in DATA.glob("*.tsv")
        if path.name != "read_items_3.tsv"
        for line in path.read_text().splitlines()
        if line[:1] != "#"
    }
    assert not others & {r[0] for r in rows}  # feeds no other set has seen
    for feed_file, title, label, first, _note in rows:
        path = corpus_dir() / feed_file
        entries = parse_feed(path.read_bytes(), path.resolve().as_uri()).entries
        entry = next(e for e in entries if " ".join(e.title.split()) == title)
        html = entry.content_html or entry.content_text
        brief = make_brief(entry.title, html)
        text = plain(html).replace("`", "").replace("**", "")  # Markdown's marks are dropped
        for b in brief.bullets:
            assert position(b, text) >= 0, (feed_file, b)
            assert not (is_question(b) or unbalanced_brackets(b) or unbalanced_quotes(b)), b
        if label == "Good":
            assert len(brief.bullets) >= 3, feed_file
            assert brief.bullets[0].startswith(first), (feed_file, brief.bullets[0])
            assert all(alone(b, brief.language, html) for b in brief.bullets), feed_file

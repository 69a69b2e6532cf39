"""The second hand-read set (tests/briefs/data/read_items_2.tsv, 20 held-out entries of 250+ words):
the items read as Good keep a brief of three or more standalone bullets, and no bullet of the set
is a question or carries an unbalanced bracket."""

from __future__ import annotations

from pathlib import Path

from aggregator.briefs.standalone import is_question, unbalanced_brackets
from aggregator.briefs.summarize import make_brief
from aggregator.ingest.parse import parse_feed
from tests.briefs.corpus import alone, corpus_dir

DATA = Path(__file__).parent / "data" / "read_items_2.tsv"


def test_second_hand_read_set() -> None:
    rows = [line.split("\t") for line in DATA.read_text().splitlines() if line[:1] != "#"]
    assert len(rows) == 20 and {r[2] for r in rows} <= {"Good", "Partial", "Poor"}
    assert len({r[0] for r in rows}) == 20  # one entry per feed
    for feed_file, title, label, _note in rows:
        path = corpus_dir() / feed_file
        entries = parse_feed(path.read_bytes(), path.resolve().as_uri()).entries
        entry = next(e for e in entries if " ".join(e.title.split()) == title)
        brief = make_brief(entry.title, entry.content_html or entry.content_text)
        assert not any(is_question(b) or unbalanced_brackets(b) for b in brief.bullets), feed_file
        if label == "Good":
            assert len(brief.bullets) >= 3, feed_file
            html = entry.content_html or entry.content_text
            assert all(alone(b, brief.language, html) for b in brief.bullets), feed_file

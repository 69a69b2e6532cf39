"""The hand-read set (tests/briefs/data/read_items.tsv): every item still gets a brief, and the
items read as Good keep a brief of three or more standalone bullets."""

from __future__ import annotations

from pathlib import Path

from aggregator.briefs.standalone import stands_alone
from aggregator.briefs.summarize import make_brief
from aggregator.ingest.parse import parse_feed
from tests.briefs.corpus import corpus_dir

DATA = Path(__file__).parent / "data" / "read_items.tsv"


def test_hand_read_items_get_briefs() -> None:
    rows = [line.split("\t") for line in DATA.read_text().splitlines() if line[:1] != "#"]
    assert len(rows) >= 12 and {r[2] for r in rows} <= {"Good", "Partial", "Poor"}
    for feed_file, _title, label, _note in rows:
        path = corpus_dir() / feed_file
        entry = parse_feed(path.read_bytes(), path.resolve().as_uri()).entries[0]
        brief = make_brief(entry.title, entry.content_html or entry.content_text)
        assert brief.bullets, feed_file
        if label == "Good":
            assert len(brief.bullets) >= 3
            assert all(stands_alone(b, brief.language) for b in brief.bullets), feed_file

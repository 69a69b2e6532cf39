"""The per-publisher and undated caps spread an edition; they never leave it short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aggregator.digest.compose import rank
from aggregator.store.stories import StoryHead

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)


def head(
    key: str, publisher: str, hours: float, *, dated: bool = True, source: int = 1
) -> StoryHead:
    return StoryHead(
        key=key,
        published=NOW - timedelta(hours=hours),
        priority=3,
        source_count=1,
        dated=dated,
        publisher=publisher,
        source_id=source,
        best_chars=2000,
    )


def test_one_publisher_fills_the_edition_when_nobody_else_has_news() -> None:
    stories = [head(f"a{n}", "a.example", n) for n in range(8)]
    chosen = rank(stories, NOW, 5, per_publisher=3)
    assert [s.key for s in chosen] == ["a0", "a1", "a2", "a3", "a4"]


def test_the_cap_holds_while_other_publishers_fill_the_slots() -> None:
    busy = [head(f"a{n}", "a.example", n / 10) for n in range(8)]
    others = [head(f"b{n}", f"b{n}.example", 5 + n, source=10 + n) for n in range(4)]
    chosen = rank(busy + others, NOW, 6, per_publisher=3)
    assert sum(s.publisher == "a.example" for s in chosen) == 3
    assert {s.key for s in chosen} >= {"b0", "b1", "b2"}


def test_undated_pages_fill_only_what_dated_news_leaves_short() -> None:
    pages = [head(f"p{n}", "pages.example", 0, dated=False, source=2) for n in range(6)]
    dated = [head(f"d{n}", f"d{n}.example", 1 + n, source=20 + n) for n in range(3)]
    assert sum(not s.dated for s in rank(pages + dated, NOW, 5)) == 2
    assert sum(not s.dated for s in rank(pages + dated, NOW, 8)) == 5

"""Labeled sets of items (tests/stories/data) and the pairwise figures of a grouping over them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from itertools import combinations
from pathlib import Path

from aggregator.store.items import canonical_link, sha1
from aggregator.stories.grouping import Member, components, signature
from aggregator.stories.publishers import domain_of

DATA = Path(__file__).parent / "data"
TUNING_HARD_MERGES = {("n200", "n361")}
"""The hard-negative pair the tuning week's grouping merges: a report of the neighbours'
condemnation of the West Bank measures, and an explainer on what they mean for Jordan."""


@dataclass(slots=True)
class Labeled:
    """Items with their event (None: an event no other item reports) and hard negative groups."""

    items: list[dict]
    hard_negatives: list[list[str]]
    twins: list[list[str]]


def load(name: str) -> Labeled:
    data = json.loads((DATA / name).read_text())
    return Labeled(data["items"], data.get("hard_negatives", []), data.get("twins", []))


def link_key(item: dict) -> str:
    return sha1("link:" + canonical_link(item["link"])) if item.get("link") else sha1(item["id"])


def members(labeled: Labeled) -> list[Member]:
    """The items as grouping sees them; a feed's site is its URL's domain, as the store names a
    source's publisher when its feed gives no home page."""
    sources: dict[str, int] = {}
    sites: dict[str, int] = {}
    return [
        Member(
            id=number,
            published=datetime.fromisoformat(item["published"]),
            link_key=link_key(item),
            signature=signature(item["title"], item["text"]),
            source=sources.setdefault(item["source"], len(sources)),
            site=sites.setdefault(domain_of(item["source"]) or item["source"], len(sites)),
        )
        for number, item in enumerate(labeled.items)
    ]


@dataclass(slots=True)
class Figures:
    true_pairs: int
    found_pairs: int
    correct_pairs: int
    hard_merges: list[tuple[str, str]]
    twins_missed: list[tuple[str, str]]
    wrong: list[tuple[str, str]]
    missed: list[tuple[str, str]]

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.found_pairs if self.found_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0


def figures(labeled: Labeled, story_of: dict[str, object]) -> Figures:
    """Pairwise precision and recall of ``story_of`` (item id → its story) against the labels."""
    items = labeled.items
    event = {i["id"]: i["event"] for i in items}
    found = correct = true = 0
    wrong, missed = [], []
    for a, b in combinations(items, 2):
        same_story = story_of[a["id"]] == story_of[b["id"]]
        same_event = a["event"] is not None and a["event"] == b["event"]
        true += same_event
        found += same_story
        correct += same_story and same_event
        if same_story and not same_event:
            wrong.append((a["id"], b["id"]))
        if same_event and not same_story:
            missed.append((a["id"], b["id"]))
    hard = [
        (a, b)
        for group in labeled.hard_negatives
        for a, b in combinations(group, 2)
        if story_of[a] == story_of[b] and (event[a] is None or event[a] != event[b])
    ]
    twins = [
        (a, b)
        for group in labeled.twins
        for a, b in combinations(group, 2)
        if story_of[a] != story_of[b]
    ]
    return Figures(true, found, correct, hard, twins, wrong, missed)


def grouped(labeled: Labeled) -> dict[str, object]:
    """Each item's story by the grouping's pure core, taking the items in order of publication."""
    ordered = sorted(members(labeled), key=lambda m: (m.published, m.id))
    return {labeled.items[m.id]["id"]: g[0].id for g in components(ordered) for m in g}

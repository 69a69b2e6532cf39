"""Grouping's figures on the labeled sets (tests/stories/data, tests/stories/generated.py).

news-tuning.json is a real news week (13 world-news feeds of the shared corpus, 15–18 February
2026), labeled by event before any rule was written, and tuned on; news-held-out.json (the same
feeds, earlier days) was labeled at the same time and not tuned on; news-held-out-other-feeds.json
(eleven other feeds, 16–17 February 2026) was labeled after the rules were tuned and only
measured. The goal for a news day is recall ≥ 0.80 at precision ≥ 0.95; these tests hold the
figures reached (docs/stories.md), so a change that loses precision, merges a hard negative or
splits a twin fails.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from aggregator.stories.grouping import Member, Signature, components, same_event, signature
from tests.stories.generated import generated
from tests.stories.labeled import DATA, TUNING_HARD_MERGES, figures, grouped, link_key, load


def test_news_week_tuning_set() -> None:
    labeled = load("news-tuning.json")
    result = figures(labeled, grouped(labeled))
    assert set(result.hard_merges) <= TUNING_HARD_MERGES
    assert result.precision >= 0.95, result.wrong
    assert result.recall >= 0.75, result.missed  # short of the 0.80 goal: see docs/stories.md


def test_news_held_out_set_keeps_precision() -> None:
    labeled = load("news-held-out.json")
    result = figures(labeled, grouped(labeled))
    assert result.hard_merges == []
    assert result.precision >= 0.95, result.wrong


def test_news_held_out_other_feeds() -> None:
    labeled = load("news-held-out-other-feeds.json")
    result = figures(labeled, grouped(labeled))
    assert result.hard_merges == []
    assert result.precision >= 0.90, result.wrong  # one pair short of 0.95: see docs/stories.md
    assert result.recall >= 0.30, result.missed


def test_an_item_linked_to_two_stories_merges_only_the_one_it_resembles() -> None:
    labeled = load("news-tuning.json")
    story = grouped(labeled)
    rubio_in_budapest = {"n201", "n246", "n315"}  # n315 spells Orbán, the others Orban
    assert {story[i] for i in rubio_in_budapest} == {story["n201"]}
    assert story["n174"] != story["n201"]  # the opposition's campaign, linked to n315 alone


def test_accents_over_latin_letters_do_not_part_two_spellings() -> None:
    plain = signature("Rubio boosts Orban in Budapest", "Viktor Orban met Rubio in Budapest.")
    accented = signature("Rubio boosts Orbán in Budapest", "Viktor Orbán met Rubio in Budapest.")
    assert plain.names == accented.names and plain.terms == accented.terms
    # a mark over a letter of another script is part of the letter: Сергей is not Сергеи
    assert signature("", "Говорит Сергей.").names != signature("", "Говорит Сергеи.").names


def test_generated_cases() -> None:
    labeled = generated()
    result = figures(labeled, grouped(labeled))
    assert result.twins_missed == []
    assert result.hard_merges == []
    assert result.precision >= 0.95, result.wrong
    assert result.recall >= 0.80, result.missed


def test_signature_survives_its_binary_form() -> None:
    sig = signature("Magnitude 6.8 quake strikes off Hokkaido", "Kushiro and Nemuro " * 400)
    assert Signature.decode(sig.encode()) == sig
    empty = signature("", "")
    assert Signature.decode(empty.encode()) == empty
    # a signature stored before the title's lead was kept reads with none
    assert Signature.decode(sig.encode()[:-4]) == replace(sig, series=0)


def test_a_feeds_series_parts_are_never_one_story() -> None:
    weights = {}.get
    lesson = "Docker Compose runs Nginx, PHP and MySQL for the Laravel app in docker-compose.yml."
    volumes = signature("Docker Compose: Volumes", lesson + " Volumes keep the data.")
    services = signature("Docker Compose: Services", lesson + " Services start in order.")
    assert volumes.series == services.series != 0
    assert not same_event(volumes, services, lambda t: weights(t, 1.0), one_source=True)
    # from two feeds, the same pair is two reports compared by their words
    assert same_event(volumes, services, lambda t: weights(t, 1.0))
    part_1 = signature("Reflections, Part 1", lesson)
    part_2 = signature("Reflections, Part 2", lesson + " More.")
    assert not same_event(part_1, part_2, lambda t: 1.0, one_source=True)


def test_one_sites_twin_feeds_are_compared_as_its_one_feed() -> None:
    """A blog's Atom and JSON Feed carry two posts on one subject a day apart: the copies join
    by link, and the two posts stay two stories, as they do within one feed (compared as two
    sites' reports, their words would make them one). Other blogs' posts, weeks earlier, give
    the words their weights."""
    everything = json.loads((DATA / "blog-posts.json").read_text())
    posts = [p for p in everything if "Minitest" in p["title"]]
    others = [p for p in everything if p not in posts]
    assert len(posts) == 2
    day = datetime(2025, 10, 14, tzinfo=UTC)
    members = [
        Member(
            n,
            day - timedelta(days=30 + n),
            link_key(p),
            signature(p["title"], p["text"]),
            source=2 + n,
            site=2 + n,
        )  # fmt: skip
        for n, p in enumerate(others)
    ]
    for n, (post, feed) in enumerate((p, f) for p in posts for f in (0, 1)):
        signed = signature(post["title"], post["text"])
        members.append(Member(100 + n, day + timedelta(hours=n), link_key(post), signed, feed, 1))
    twins = {frozenset({100, 101}), frozenset({102, 103})}
    stories = {frozenset(m.id for m in g) for g in components(members)}
    assert twins <= stories
    as_sites = [replace(m, site=m.source) for m in members]  # as two publishers' feeds
    assert frozenset({100, 101, 102, 103}) in {
        frozenset(m.id for m in g) for g in components(as_sites)
    }

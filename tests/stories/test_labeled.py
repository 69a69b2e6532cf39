"""Grouping's figures on the labeled sets (tests/stories/data, tests/stories/generated.py).

news-tuning.json is a real news week (13 world-news feeds of the shared corpus, 15–18 February
2026), labeled by event before any rule was written, and tuned on; news-held-out.json (the same
feeds, earlier days) was labeled at the same time and not tuned on. The goal for a news day is
recall ≥ 0.80 at precision ≥ 0.95; these tests hold the figures reached (see DOCNOTES), so a
change that loses precision, merges a hard negative or splits a twin fails.
"""

from __future__ import annotations

from aggregator.stories.grouping import Signature, signature
from tests.stories.generated import generated
from tests.stories.labeled import figures, grouped, load


def test_news_week_tuning_set() -> None:
    labeled = load("news-tuning.json")
    result = figures(labeled, grouped(labeled))
    assert result.hard_merges == []
    assert result.precision >= 0.95, result.wrong
    assert result.recall >= 0.70, result.missed  # short of the 0.80 goal: see DOCNOTES


def test_news_held_out_set_keeps_precision() -> None:
    labeled = load("news-held-out.json")
    result = figures(labeled, grouped(labeled))
    assert result.hard_merges == []
    assert result.precision >= 0.95, result.wrong


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

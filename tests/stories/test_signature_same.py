"""``signature`` gives what its first, plainer form gave (kept here as the oracle): signatures
are stored, so any change of one would split the stories of stored and new items."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.ingest.parse import parse_feed
from aggregator.model.entry import FeedParseError
from aggregator.stories import grouping as g
from aggregator.stories.grouping import LEAD_CHARS, SHINGLE_CHARS, SKETCH, Signature, signature
from tests.conftest import CORPUS


def _tokens_and_capitalized(text: str) -> tuple[list[str], list[str]]:
    tokens, found = [], []
    first = True
    for gap, token in re.findall(r"(\W*)(" + g._WORD.pattern + ")", text):
        tokens.append(token)
        if not first and token[0].isupper() and len(token) > 1 and g._BREAKS.isdisjoint(gap):
            found.append(token)
        first = False
    return tokens, found


def _term(token: str) -> int:
    long = len(token) >= 2 or g._DIGIT.search(token) is not None
    return g._hash(g._word_of(token)[: g.STEM]) if long else -1


def _reference(title: str, text: str) -> Signature:
    """The signature as first written, without memos."""
    word = g._word_of
    title = g._normal(title).strip()
    text = g._normal_head(text, max(SHINGLE_CHARS, LEAD_CHARS))
    title_tokens = g._WORD.findall(title)
    words = [g._hash(w) for w in g._WORD.findall(f"{title}\n{text[:SHINGLE_CHARS]}".casefold())]
    shingles = {
        (a * 1000003 + b * 10007 + c) & 0xFFFFFFFF
        for a, b, c in zip(words, words[1:], words[2:], strict=False)
    }
    lead_tokens, inside = _tokens_and_capitalized(text[:LEAD_CHARS])
    names = set(map(word, inside))
    capitalized = [t for t in title_tokens if t[0].isupper() and len(t) > 1]
    if g._title_cased(title_tokens):
        written = {word(t) for t in lead_tokens if t[0].isupper()}
        capitalized = [t for t in capitalized if word(t) in written]
    names.update(map(word, capitalized))
    numbers = {word(t) for t in title_tokens if g._DIGIT.search(t)}
    names.update(numbers)
    names.update(word(t) for t in lead_tokens if g._DIGIT.search(t))
    terms: Counter[int] = Counter()
    for term in map(_term, title_tokens):
        if term >= 0:
            terms[term] += g.TITLE_WEIGHT
    terms.update(t for t in map(_term, lead_tokens) if t >= 0)
    return Signature(
        sketch=tuple(sorted(shingles)[:SKETCH]),
        shingles=len(shingles),
        names=frozenset(map(g._hash, names)),
        title_numbers=frozenset(map(g._hash, numbers)),
        terms={t: min(c, 255) for t, c in terms.items()},
        headline=g._hash(" ".join(map(word, title_tokens))),
        series=g._title_lead(title),
    )


def _assert_same(title: str, text: str) -> None:
    made, expected = signature(title, text), _reference(title, text)
    assert made == expected
    assert made.encode() == expected.encode()
    assert list(made.terms.items()) == list(expected.terms.items())


def _as_mojibake(text: str, codec: str) -> str:
    return text.encode("utf-8").decode(codec, errors="replace")


_CHARS = st.sampled_from(
    list("aeiostnrAEOSTNR019 ...,,''’-:;!?|\n\t_()")
    + list("éÉçÇöÖüßœİıﬁ½²ⅣΩωЖж日本語😀–—“”«»\xa0\u0301")
)
_WORDS = st.sampled_from(
    ["Mr", "U.S.", "Orbán", "Orban", "Gisèle", "2024", "1,000", "3.5", "it's", "O’Neill", "Part"]
)
_PIECE = st.one_of(
    st.text(_CHARS, max_size=12),
    _WORDS,
    st.builds(_as_mojibake, st.text(_CHARS, max_size=8), st.sampled_from(["cp1252", "latin-1"])),
    st.text(max_size=4),
)
_TEXT = st.lists(_PIECE, max_size=40).map(" ".join)


@settings(max_examples=250, deadline=None)
@given(_TEXT, _TEXT, st.integers(0, 3))
def test_signature_is_what_it_was(title: str, text: str, long: int) -> None:
    _assert_same(title, text * (1 + long * 40))  # long texts: cut for shingles and the lead


def test_signature_is_what_it_was_when_its_memos_are_cleared(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(g, "_MEMO_SIZE", 3)
    for memo in (g._HASHES, g._WORDS, g._TERMS):
        memo.clear()  # words other tests left there would be hits, and never clear the memo
    text = "Rescue teams in California searched on Tuesday for 10 skiers. Six were found alive."
    _assert_same("Avalanche: 10 Skiers Missing Near Lake Tahoe", text)
    assert 0 < len(g._HASHES) <= 3 and 0 < len(g._WORDS) <= 3 and 0 < len(g._TERMS) <= 3


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.sets(st.integers(0, 0xFFFFFFFF), max_size=400),
        st.sets(st.integers(0xFFFF0000, 0xFFFFFFFF), min_size=90, max_size=400),
    )
)
def test_the_sketch_is_the_smallest_hashes(hashes: set[int]) -> None:
    assert g._smallest(hashes) == tuple(sorted(hashes)[:SKETCH])


def test_signature_is_what_it_was_on_every_corpus_item() -> None:
    real = CORPUS / "real-feeds"
    if not real.is_dir():
        pytest.skip("shared corpus is not present")
    rows = (line.split("\t") for line in (real / "urls.tsv").read_text().splitlines()[1:])
    items = 0
    for name, url in rows:
        try:
            entries = parse_feed((real / name).read_bytes(), url.strip()).entries
        except FeedParseError:
            continue
        for entry in entries:
            _assert_same(entry.title, entry.content_text)
            items += 1
    assert items > 6000

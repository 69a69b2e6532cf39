"""The mojibake screen changes no text: ``strip_invalid_chars`` gives what it gave when every
text with a character of ftfy's mojibake categories was scanned by ftfy."""

from __future__ import annotations

import re
from functools import cache

import ftfy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml import etree

from aggregator.ingest import sanitize
from aggregator.ingest.sanitize import _MOJIBAKE_SCREEN, _mojibake_screen, strip_invalid_chars
from tests.conftest import CORPUS

_HINTLESS = frozenset({"common", "start_punctuation", "end_punctuation"})
_HINT = re.compile(
    "["
    + "".join(v for k, v in ftfy.badness.MOJIBAKE_CATEGORIES.items() if k not in _HINTLESS)
    + "ŒœØÙÂÃÎÐ√≈ā"
    + "]"
)


def _reference(text: str) -> str:
    """``strip_invalid_chars`` as it was before the screen: the oracle."""
    if text.isascii():
        if text.isprintable() or sanitize._ANY_INVALID.search(text) is None:
            return text
        return sanitize._INVALID_CHARS.sub("", text)
    if sanitize._ANY_INVALID.search(text) is not None:
        if sanitize._C1.search(text):
            text = text.translate(sanitize._CP1252_C1)
        text = sanitize._INVALID_CHARS.sub("", text)
    if _HINT.search(text) is None:
        return text
    return ftfy.fix_encoding(text) if ftfy.badness.is_bad(text) else text


@cache
def _named() -> list[str]:
    """Every character ftfy's mojibake patterns name."""
    every = re.compile("[" + "".join(ftfy.badness.MOJIBAKE_CATEGORIES.values()) + "]")
    named = {chr(c) for c in range(0x80, 0x10000) if every.match(chr(c))}
    return sorted(named | {c for c in ftfy.badness.BADNESS_RE.pattern if ord(c) > 0x7F})


_PLAIN = list("aeZ .,?!\n\t1-'\"") + list("éêçáíöüàèßñœŒÃÂ’‘“”«»—–… \xa0日本語€😀ЖжΩ©®")


def _as_mojibake(text: str, codec: str) -> str:
    return text.encode("utf-8").decode(codec, errors="replace")


_PIECE = st.one_of(
    st.text(st.sampled_from(_PLAIN), max_size=8),
    st.text(st.sampled_from(_named() + _PLAIN), max_size=6),
    st.builds(
        _as_mojibake,
        st.text(st.sampled_from(_PLAIN), max_size=6),
        st.sampled_from(["cp1252", "latin-1"]),
    ),
    st.text(max_size=4),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECE, max_size=6).map("".join))
def test_the_screen_changes_no_text(text: str) -> None:
    assert strip_invalid_chars(text) == _reference(text)
    if ftfy.badness.is_bad(text):
        assert _MOJIBAKE_SCREEN.search(text) is not None, repr(text)


@settings(max_examples=300, deadline=None)
@given(st.text(st.sampled_from(_named() + list("aZe .,?!\n1")), max_size=10))
def test_the_screen_finds_every_match_of_ftfy_s_patterns(text: str) -> None:
    if ftfy.badness.is_bad(text):
        assert _MOJIBAKE_SCREEN.search(text) is not None, repr(text)


def test_the_screen_passes_accented_letters_and_finds_mojibake() -> None:
    for clean in (
        "réseau à l’été, « déjà » ça",
        "Grüße, Straße",
        "“quoted” — it’s ‘fine’ … ok",
        "日本語 😀",
    ):
        assert _MOJIBAKE_SCREEN.search(clean) is None, clean
    for bad in ("donâ€™t", "cafÃ©", "Ã ", "naÃ¯ve", "вЂ“"):
        assert _MOJIBAKE_SCREEN.search(bad) is not None, bad
        assert strip_invalid_chars(bad) != bad


def test_a_pattern_the_screen_cannot_read_is_refused() -> None:
    with pytest.raises(ValueError, match="flat alternation"):
        _mojibake_screen(re.compile("(?:ab)|c"))
    with pytest.raises(ValueError, match="without ASCII"):
        _mojibake_screen(re.compile("[a-z]|é"))
    assert _mojibake_screen(re.compile(r"\s?[a-z]é[ ]|^Ã")).pattern == r"[éÃ](?:(?<=é)[ ]|(?<=Ã))"


def _corpus_texts() -> list[str]:
    real = CORPUS / "real-feeds"
    if not real.is_dir():
        pytest.skip("shared corpus is not present")
    parser = etree.XMLParser(recover=True, resolve_entities=False, no_network=True, huge_tree=True)
    texts: list[str] = []
    for path in sorted(real.glob("*.xml")):
        root = etree.fromstring(path.read_bytes(), parser)
        if root is not None:
            texts.extend(t for t in root.itertext() if not t.isascii())
    return texts


def test_the_screen_changes_no_corpus_text() -> None:
    texts = _corpus_texts()
    assert len(texts) > 1000
    changed = 0
    for text in texts:
        assert strip_invalid_chars(text) == _reference(text)
        changed += strip_invalid_chars(text) != text
    assert changed  # the corpus has mojibake the screen let through to ftfy

"""Cleaning, boilerplate and code detection, sentence splitting, language, reading time."""

from __future__ import annotations

import pytest

from aggregator.briefs.boilerplate import is_boilerplate
from aggregator.briefs.text import (
    detect_language,
    is_complete_sentence,
    looks_like_code,
    reading_minutes,
    split_sentences,
    to_paragraphs,
    truncate_words,
)
from tests.briefs.corpus import items


@pytest.mark.parametrize(
    "line",
    [
        "Continue reading →",
        "Read more",
        "Share this:",
        "Click to share on Twitter (Opens in new window)",
        "We use cookies to give you the best experience. By browsing you accept them.",
        "The post Lecture 132: First Hand Accounts appeared first on Society of Gilbert Keith Chesterton.",
        "This entry was posted in Uncategorized and tagged rss.",
        "Comments",
        "12 comments",
        "By Jane Smith",
        "Photo: Reuters",
        "https://example.com/a/b?c=d",
        "Follow us on Mastodon for more.",
    ],
)
def test_boilerplate(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "By default the parser keeps every entry.",
        "Share prices rose five percent on Monday.",
        "Comments from readers shaped the second draft of the plan.",
        "The cookie jar was empty when we got home.",
    ],
)
def test_prose_is_not_boilerplate(line: str) -> None:
    assert not is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "def register(name: str) -> None:",
        "public class Person {",
        "let x = foo(bar[0]) || {};",
        "}",
        "$ pip install aggregator",
        "console.log(`${a} => ${b}`)",
    ],
)
def test_code_lines(line: str) -> None:
    assert looks_like_code(line)


def test_prose_with_a_little_code_is_not_code() -> None:
    assert not looks_like_code("Call the open() method before you read from the file.")


def test_html_captions_code_and_footnote_marks_are_dropped() -> None:
    title, html = next(i for i in items("2b2c3f5ac3d2e836.xml") if "perf/samply" in i[0])
    paragraphs = to_paragraphs(html)
    joined = " ".join(paragraphs)
    assert "register_with_perf" not in joined  # the <pre> code block
    assert any(p.startswith("Brief one today.") for p in paragraphs)
    assert "ZJIT1:" not in joined and "ZJIT:" in joined  # <sup> footnote mark removed


def test_paragraph_boundaries_come_from_block_tags_not_source_newlines() -> None:
    html = "<p>One line\nwraps here.</p><p>Second<br>third.</p><h2>Heading</h2>"
    assert to_paragraphs(html) == ["One line wraps here.", "Second", "third.", "Heading"]


def test_huge_markup_is_bounded_but_a_long_article_is_read_whole() -> None:
    paragraphs = to_paragraphs("<p>" + "word " * 300_000 + "</p>")
    assert sum(len(p) for p in paragraphs) <= 1_000_000
    article = "".join(
        f"<p>Paragraph {i} says a thing about the topic at length.</p>" for i in range(900)
    )
    assert to_paragraphs(article)[-1] == "Paragraph 899 says a thing about the topic at length."


def test_layout_table_text_is_kept() -> None:
    html = (
        "<table><tr><td><p>The shop now ships to every country in Europe.</p></td>"
        "<td><p>Orders over fifty euros travel free of charge.</p></td></tr></table>"
    )
    assert to_paragraphs(html) == [
        "The shop now ships to every country in Europe.",
        "Orders over fifty euros travel free of charge.",
    ]


def test_sentence_splitting_keeps_abbreviations() -> None:
    assert split_sentences("Dr. Smith met Mr. Jones at 3 p.m. on Jan. 5. They talked.") == [
        "Dr. Smith met Mr. Jones at 3 p.m. on Jan. 5.",
        "They talked.",
    ]
    assert split_sentences("Der Hund bellt. Die Katze z.B. schläft.", "de") == [
        "Der Hund bellt.",
        "Die Katze z.B. schläft.",
    ]
    assert split_sentences("今日は晴れです。明日は雨です。", "ja") == [
        "今日は晴れです。",
        "明日は雨です。",
    ]


@pytest.mark.parametrize(
    ("sentence", "ok"),
    [
        ("The bridge opens in May.", True),
        ("“Is it safe?” she asked.", True),
        ("the bridge opens in May.", False),
        ("The bridge opens in", False),
        ("The bridge opens in May and…", False),
        ("Opens in May.", False),
        ("今日は晴れです。", True),
    ],
)
def test_complete_sentence(sentence: str, ok: bool) -> None:
    assert is_complete_sentence(sentence) is ok


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("The committee will publish its report on the new railway next week.", "en"),
        (
            "Der Ausschuss wird seinen Bericht über die neue Bahnstrecke nächste Woche vorlegen.",
            "de",
        ),
        ("Le comité publiera son rapport sur la nouvelle ligne la semaine prochaine.", "fr"),
        ("El comité publicará su informe sobre la nueva línea la próxima semana.", "es"),
        ("Комитет опубликует свой доклад о новой железной дороге на следующей неделе.", "ru"),
        ("委员会将于下周发布关于新铁路的报告。", "zh"),
        ("", "en"),
    ],
)
def test_detect_language(text: str, lang: str) -> None:
    assert detect_language(text) == lang


def test_reading_minutes_and_truncation() -> None:
    assert reading_minutes("") == 1
    assert reading_minutes("<p>" + "word " * 1000 + "</p>") == 5
    assert truncate_words("one two three four", 3) == "one two three…"
    assert truncate_words("one two", 3) == "one two"


def test_splitter_never_cuts_inside_parentheses_or_code() -> None:
    assert split_sentences("Use .querySelector() to find the node. It is fast.") == [
        "Use .querySelector() to find the node.",
        "It is fast.",
    ]
    assert split_sentences("The release (see the notes. They are long) is out. More soon.") == [
        "The release (see the notes. They are long) is out.",
        "More soon.",
    ]

"""Article text from a fetched page (trafilatura, offline) and teaser detection."""

from __future__ import annotations

from aggregator.briefs.extract import extract_main_text, is_teaser
from tests.briefs.corpus import items, plain

TITLE, ARTICLE = items("6d28cf55da15a12d.xml")[0]


def page(article_html: str) -> str:
    """The item's HTML inside a typical page: navigation, sidebar, footer."""
    nav = "".join(f"<li><a href='/p{i}'>Menu entry {i}</a></li>" for i in range(12))
    return (
        f"<html><head><title>{TITLE}</title></head><body>"
        f"<nav><ul>{nav}</ul></nav>"
        f"<article><h1>{TITLE}</h1>{article_html}</article>"
        "<aside><p>Subscribe to our newsletter for weekly updates.</p></aside>"
        "<footer><p>Copyright 2025 Example Corp. All rights reserved.</p></footer>"
        "</body></html>"
    )


def test_main_text_is_the_article_not_the_page_chrome() -> None:
    text = extract_main_text(page(ARTICLE), "https://example.com/post")
    first = plain(ARTICLE)[:60]
    assert first.split()[0] in text and len(text.split()) > 300
    assert "Menu entry 3" not in text and "All rights reserved" not in text
    assert "\n\n" in text


def test_bytes_in_and_empty_pages() -> None:
    text = extract_main_text(page(ARTICLE).encode("utf-8"), None)
    assert len(text.split()) > 300
    assert extract_main_text("", None) == ""
    assert extract_main_text(b"<html><body></body></html>", None) == ""
    assert isinstance(extract_main_text("<html><body><p>Unclosed <b>tags", None), str)


def test_teasers() -> None:
    teaser = next(h for _, h in items("a345f48640cf8255.xml") if "[&#8230;]" in h or "[…]" in h)
    assert is_teaser(teaser, min_words=150)
    assert is_teaser("<p>Short intro to the story.</p><p><a href='/x'>Continue reading</a></p>", 20)
    assert is_teaser("<p>Only a few words here.</p>", 50)
    assert not is_teaser(ARTICLE, 150)

"""Digest rendering: structure, escaping, size cap, per-subscriber substitution."""

from __future__ import annotations

import re

import lxml.html
import pytest

from aggregator.digest.model import SourceRef, StoryView
from aggregator.digest.render import (
    MAX_HTML_BYTES,
    PARAGRAPH_CHARS,
    TITLE_CHARS,
    prepare,
    render_html,
    render_text,
)
from aggregator.model.brief import MAX_BULLETS, Brief, Term
from tests.digest import LEAD, MORE, sample_view

UNSUB = "https://news.example.org/u/abc123?list=daily&sig=x"


def _doc(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(html)


def _xpath(selector: str) -> str:
    """A small CSS subset as XPath: descendant steps of ``tag.class.class``, ``,`` for union."""
    paths = []
    for alternative in selector.split(","):
        steps = []
        for step in alternative.split():
            tag, *classes = step.split(".")
            tests = "".join(
                f"[contains(concat(' ', normalize-space(@class), ' '), ' {c} ')]" for c in classes
            )
            steps.append(f"{tag or '*'}{tests}")
        paths.append(".//" + "//".join(steps))
    return " | ".join(paths)


def _all(node: lxml.html.HtmlElement, selector: str) -> list[lxml.html.HtmlElement]:
    return node.xpath(_xpath(selector))


def _one(node: lxml.html.HtmlElement, selector: str) -> lxml.html.HtmlElement:
    found = _all(node, selector)
    assert len(found) == 1, f"{selector}: {len(found)} matches"
    return found[0]


def test_lead_story_has_title_bullets_terms_and_read_more():
    doc = _doc(render_html(sample_view()))
    title = _one(doc, ".lead-title a")
    assert title.get("href") == LEAD.url
    assert title.text_content() == LEAD.title
    bullets = [li.text_content() for li in _all(doc, ".lead ul.bullets li")]
    assert bullets == LEAD.brief.bullets
    labels = [p.text_content() for p in _all(doc, ".lead .section-label")]
    assert labels == ["In brief", "Terms in this brief"]
    terms = [p.text_content() for p in _all(doc, ".lead .term")]
    assert terms == [f"{t.term} — {t.definition}" for t in LEAD.brief.terms]
    read = _one(doc, "a.read-full")
    assert read.get("href") == LEAD.url
    assert read.text_content() == "Read full story at Example Science Desk\xa0→"
    meta = _one(doc, ".lead .meta")
    assert [a.text for a in _all(meta, "a")] == ["Example Science Desk", "HPC Wire Weekly"]
    assert "6 min read" in meta.text_content()


def test_more_briefs_list_every_other_story_with_sources_and_links():
    doc = _doc(render_html(sample_view()))
    assert _one(doc, ".more-heading h2").text_content() == "More briefs"
    cells = _all(doc, ".more-briefs .brief-cell")
    assert [_all(c, ".brief-title")[0].text_content() for c in cells] == [s.title for s in MORE]
    python = cells[1]
    assert _all(python, ".brief-text")[0].text_content() == MORE[1].brief.paragraph
    assert (
        _all(python, ".brief-meta")[0].text_content().startswith("Dev Notes, Planet Python Mirror")
    )
    assert [a.get("href") for a in _all(python, ".brief-meta a")] == ["https://dev.example.org/"]
    assert _all(python, ".read-more a")[0].get("href") == MORE[1].url
    # no paragraph: the bullets stand in
    assert _all(cells[2], ".brief-text")[0].text_content() == MORE[2].brief.bullets[0]


def test_footer_links_are_visible_and_personal():
    doc = _doc(render_html(sample_view()))
    unsubscribe = _one(doc, "a.unsubscribe")
    assert unsubscribe.get("href") == UNSUB
    assert unsubscribe.text_content() == "Unsubscribe"
    assert _one(doc, "a.preferences").get("href") == "https://news.example.org/p/abc123"
    assert _one(doc, "a.archive").get("href") == "https://news.example.org/archive/2025-06-10"
    for node in [unsubscribe, *unsubscribe.iterancestors()]:
        style = (node.get("style") or "").replace(" ", "")
        assert "display:none" not in style and "font-size:1px" not in style
    assert "sent to reader@example.com" in _one(doc, ".sent-to").text_content()


def test_css_is_inlined_and_dark_mode_kept_without_scripts_images_or_links():
    html = render_html(sample_view())
    doc = _doc(html)
    assert "font-size: 26px" in _one(doc, ".lead-title").get("style")
    style = _one(doc, "head style").text
    assert "prefers-color-scheme: dark" in style
    assert "max-width: 620px" in style
    assert not _all(doc, "script, img, link, iframe, form")
    assert doc.xpath("//meta[@name='viewport']")


def test_terms_heading_is_omitted_without_terms():
    lead = StoryView(LEAD.title, LEAD.url, LEAD.sources, Brief(bullets=LEAD.brief.bullets))
    doc = _doc(render_html(sample_view(lead=lead)))
    labels = [p.text_content() for p in _all(doc, ".section-label")]
    assert labels == ["In brief"]
    assert "Terms in this brief" not in render_text(sample_view(lead=lead))


def test_text_part_mirrors_the_html():
    text = render_text(sample_view())
    assert "<" not in text.replace("<https", "")
    assert "TOP STORY" in text and "MORE BRIEFS" in text
    assert "* The JUPITER system at Forschungszentrum Jülich" in text
    assert "- Exaflop: A rate of one quintillion" in text
    assert f"Read full story at Example Science Desk:\n{LEAD.url}" in text
    assert f"Unsubscribe: {UNSUB}" in text
    assert "sent to reader@example.com" in text
    assert all(len(line) <= 80 or line.startswith("http") for line in text.splitlines())


HOSTILE = "<script>alert('x')</script>\r\nBcc: victim@example.com"


def test_feed_values_are_escaped_and_unsafe_links_dropped():
    lead = StoryView(
        title=HOSTILE,
        url="javascript:alert(1)",
        sources=[SourceRef('Evil"><b>bold</b>', "data:text/html,<script>x</script>")],
        brief=Brief(
            bullets=['<img src=x onerror="alert(1)"> & more', "\u202eevil\u2028line"],
            terms=[Term("<i>t</i>", "<a href='https://x'>d</a>")],
        ),
    )
    more = [StoryView("ok", "https://ok.example/\x00bad", [], Brief([], paragraph="</td></tr>"))]
    html = render_html(sample_view(lead=lead, more=more))
    doc = _doc(html)
    assert not _all(doc, "script, img, b, i, .lead-title a, .read-full")
    assert _one(doc, ".lead-title").text_content() == (
        "<script>alert('x')</script> Bcc: victim@example.com"
    )
    assert not [a for a in doc.iter("a") if not a.get("href", "").startswith("https://")]
    bullets = [li.text_content() for li in _all(doc, ".bullets li")]
    assert bullets == ['<img src=x onerror="alert(1)"> & more', "evil line"]
    assert _one(doc, ".brief-text").text_content() == "</td></tr>"
    text = render_text(sample_view(lead=lead))
    assert "\r" not in text and "\u202e" not in text
    assert not [line for line in text.splitlines() if line.startswith("Bcc:")]


def test_huge_item_is_bounded():
    giant = "word " * 1_000_000  # 5 MB
    lead = StoryView(
        giant, LEAD.url, [SourceRef(giant)], Brief([giant] * 50, [Term(giant, giant)] * 9, giant)
    )
    rendered = prepare(
        sample_view(lead=lead, more=[StoryView(giant, None, [], Brief([], paragraph=giant))])
    )
    html, text = rendered.personalise(unsubscribe_url=UNSUB, preferences_url=UNSUB)
    assert len(html.encode()) < 40_000
    assert len(text) < 20_000
    doc = _doc(html)
    assert len(_one(doc, ".lead-title a").text_content()) <= TITLE_CHARS
    assert len(_all(doc, ".bullets li")) == MAX_BULLETS
    assert len(_all(doc, ".term")) == 4
    assert len(_one(doc, ".brief-text").text_content()) <= PARAGRAPH_CHARS
    assert _one(doc, ".lead-title a").text_content().endswith("word…")


def test_size_cap_drops_trailing_briefs_and_points_to_the_archive():
    more = [
        StoryView(
            f"Story number {i} with a reasonably long headline for testing",
            f"https://example.com/story/{i}",
            [SourceRef(f"Source {i}", "https://example.com/")],
            Brief([], paragraph=f"Paragraph {i}. " + "Lorem ipsum dolor sit amet. " * 30),
        )
        for i in range(300)
    ]
    rendered = prepare(sample_view(more=more))
    assert rendered.hidden > 0 and rendered.shown + rendered.hidden == 300
    longest = "https://news.example.org/u?" + "a" * 950
    html, text = rendered.personalise(
        unsubscribe_url=longest, preferences_url=longest, recipient="x" * 60 + "@example.com"
    )
    assert len(html.encode()) <= MAX_HTML_BYTES
    doc = _doc(html)
    titles = [t.text_content() for t in _all(doc, ".brief-title")]
    assert titles == [s.title for s in more[: rendered.shown]]
    overflow = _one(doc, ".overflow")
    assert overflow.text_content() == f"And {rendered.hidden} more briefs in the archive."
    assert _all(overflow, "a")[0].get("href") == sample_view().archive_url
    assert f"And {rendered.hidden} more briefs in the archive:" in text
    # it drops only what it must: the page is filled close to the cap
    assert len(rendered.html.encode()) > MAX_HTML_BYTES - 12_000


def test_personalise_substitutes_escaped_values_per_subscriber():
    rendered = prepare(sample_view())
    assert not re.search(r"reader@example\.com|abc123", rendered.html)
    odd = 'https://news.example.org/u?a=1&b="2"<3>'
    html_a, text_a = rendered.personalise(
        unsubscribe_url=odd, preferences_url="https://p.example/a", recipient="a@example.com"
    )
    html_b, _ = rendered.personalise(
        unsubscribe_url="https://u.example/b", preferences_url="https://p.example/b", recipient=""
    )
    doc_a, doc_b = _doc(html_a), _doc(html_b)
    assert _one(doc_a, "a.unsubscribe").get("href") == odd
    assert _one(doc_b, "a.unsubscribe").get("href") == "https://u.example/b"
    assert "sent to a@example.com" in _one(doc_a, ".sent-to").text_content()
    assert not _all(doc_b, ".sent-to")
    assert f"Unsubscribe: {odd}" in text_a
    assert not re.search(r"zq[0-9a-f]{16}", html_a + html_b + text_a)


@pytest.mark.parametrize(
    "bad", ["", "javascript:alert(1)", "https://x.example/\r\nBcc: y", "/relative"]
)
def test_personalise_rejects_unusable_links(bad):
    with pytest.raises(ValueError, match="unsubscribe_url must be an absolute http"):
        prepare(sample_view()).personalise(unsubscribe_url=bad, preferences_url=UNSUB)


def test_subject_names_the_lead_and_counts_the_rest():
    assert prepare(sample_view()).subject == f"Daily digest: {LEAD.title} (+3 more)"
    lead = StoryView(HOSTILE, None, [], Brief([]))
    subject = prepare(sample_view(lead=lead, more=[])).subject
    assert "\r" not in subject and "\n" not in subject
    assert prepare(sample_view(lead=None, more=[])).subject == "Daily digest — Tuesday 10 June 2025"


def test_empty_digest_says_so():
    view = sample_view(lead=None, more=[], archive_url=None)
    doc = _doc(render_html(view))
    assert _one(doc, ".empty").text_content() == "No new stories this time."
    assert not _all(doc, ".more-heading, a.archive")
    assert "No new stories this time." in render_text(view)

"""sanitize_html on feedparser's hostile-markup corpus and on our own rules (pixels, URLs, rel)."""

from __future__ import annotations

import html

import lxml.html
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aggregator.ingest.parse import parse_feed
from aggregator.ingest.sanitize import html_to_text, sanitize_html, sanitized_html_to_text
from aggregator.model.entry import FeedParseError
from tests.conftest import CORPUS

SANITIZE = CORPUS / "feedparser-tests" / "sanitize"
_URL_ATTRS = ("href", "src", "srcset", "poster", "cite", "action", "background")


def assert_safe(html: str) -> None:
    """Parse the output as a browser would and look for anything that runs script."""
    if not html.strip():
        return
    for element in lxml.html.fragment_fromstring(html, create_parent="div").iter():
        if not isinstance(element.tag, str):
            continue
        assert element.tag not in ("script", "style", "iframe", "object", "embed", "form")
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (name, value)
            if name in _URL_ATTRS:
                scheme = "".join(value.split()).lower().partition(":")[0]
                assert scheme in ("http", "https", "mailto", "ftp", "tel"), value


@pytest.mark.skipif(not SANITIZE.is_dir(), reason="shared corpus is not present")
def test_feedparser_sanitize_corpus() -> None:
    parsed = failed = 0
    for path in sorted(SANITIZE.glob("*.xml")):
        try:
            feed = parse_feed(path.read_bytes(), "http://example.com/feed")
        except FeedParseError:
            failed += 1
            continue
        parsed += 1
        for entry in feed.entries:
            assert_safe(entry.content_html)
            assert "<script" not in entry.content_html.lower()
            assert "javascript:" not in entry.content_html.lower()
    print(f"sanitize corpus: {parsed} parsed, {failed} not feeds")
    assert parsed >= 700


@pytest.mark.parametrize(
    "dirty",
    [
        '<a href="javascript:alert(1)">x</a>',
        '<a href=" JaVaScRiPt:alert(1)">x</a>',
        '<a href="vbscript:msgbox(1)">x</a>',
        '<img src="data:image/svg+xml;base64,PHN2Zz4=">',
        '<p onmouseover="x()" style="background:url(javascript:x)">p</p>',
        "<svg><script>alert(1)</script></svg>",
        '<iframe src="https://e.example/"></iframe><object data="x"></object>',
        '<form action="https://e.example/"><input name="q"></form>',
        "<math><mi xlink:href='javascript:alert(1)'>x</mi></math>",
        "<scr<script>ipt>alert(1)</script>",
    ],
)
def test_hostile_markup_is_neutralised(dirty: str) -> None:
    clean = sanitize_html(dirty, "https://base.example/")
    assert_safe(clean)
    assert "alert" not in clean or "<script" not in clean


def test_links_get_rel_and_absolute_urls() -> None:
    clean = sanitize_html(
        '<a href="/p?a=1&amp;b=2">p</a> <img src="i.png" alt="i">', "https://b.example/x/"
    )
    link = lxml.html.fragment_fromstring(clean, create_parent="div").find("a")
    assert link.get("href") == "https://b.example/p?a=1&b=2"
    assert link.get("rel") == "noopener noreferrer"
    assert 'src="https://b.example/x/i.png"' in clean


def test_relative_urls_without_a_base_are_dropped() -> None:
    assert "href" not in sanitize_html('<a href="/p">p</a>')
    assert sanitize_html('<a href="/p">p</a>', "javascript:alert(1)//") == (
        '<a rel="noopener noreferrer">p</a>'
    )


@pytest.mark.parametrize(
    "pixel",
    [
        '<img src="https://e.example/t.gif" width="1" height="1">',
        '<img src="https://e.example/t.gif" width="0">',
        '<img src="https://e.example/t.gif" height="1px">',
        '<img src="http://feeds.feedburner.com/~r/blog/~4/abc">',
        '<img src="https://pixel.wp.com/g.gif?blog=1">',
        '<img src="https://stats.wordpress.com/b.gif?x=1" alt="">',
        '<img src="https://PIXEL.wp.com/g.gif">',  # hosts compare without case
        '<img src="https://pixel.wp&#10;.com/g.gif">',  # a URL's newlines do not count
    ],
)
def test_tracking_pixels_are_removed(pixel: str) -> None:
    assert sanitize_html(f"<p>a{pixel}b</p>", "https://e.example/") == "<p>ab</p>"


def test_real_images_stay() -> None:
    img = '<img src="https://e.example/photo.jpg" width="640" height="480" alt="a > b">'
    assert "photo.jpg" in sanitize_html(img)


def test_html_to_text() -> None:
    html = "<h1>T</h1><p>a &amp; <b>b</b>\n  c</p><ul><li>1</li><li>2</li></ul><!-- x --><script>s</script>"
    assert html_to_text(html) == "T\na & b c\n1\n2"
    assert html_to_text("") == "" and html_to_text("plain &lt;3") == "plain <3"


def _corpus_html() -> list[str]:
    """Sanitized content of every real-feed entry and of every hostile-markup sample."""
    out = [sanitize_html(p.read_text(errors="replace")) for p in sorted(SANITIZE.glob("*.xml"))]
    real = CORPUS / "real-feeds"
    for line in (real / "urls.tsv").read_text().splitlines()[1:]:
        name, url = line.split("\t")
        try:
            feed = parse_feed((real / name).read_bytes(), url.strip())
        except FeedParseError:
            continue
        out += [e.content_html for e in feed.entries]
    return out


@pytest.mark.skipif(not SANITIZE.is_dir(), reason="shared corpus is not present")
def test_sanitized_text_matches_the_tree_walk_on_the_corpus() -> None:
    """The regex path for nh3 output gives exactly the text the lxml tree walk gives."""
    htmls = _corpus_html()
    assert len(htmls) > 5000
    differ = [h[:200] for h in htmls if sanitized_html_to_text(h) != html_to_text(h)]
    assert differ == []


_WHITESPACE = " \t\n\r\x0b\x0c\x1f\xa0\u2003\u2028\u3000"
_PIECE = st.text(alphabet=st.sampled_from([*"ab<&é", *_WHITESPACE]), max_size=12)


@settings(max_examples=1000, deadline=None)
@given(st.lists(st.lists(_PIECE, max_size=4), max_size=5))
def test_block_text_is_each_blocks_words_on_its_own_line(blocks: list[list[str]]) -> None:
    """Whatever whitespace a block holds (tabs, no-break and ideographic spaces, line separators,
    runs, or none to collapse), its words come out joined by single spaces, one block a line."""
    markup = "".join(
        "<p>" + "<b></b>".join(html.escape(piece, quote=False) for piece in block) + "</p>"
        for block in blocks
    )
    expected = "\n".join(filter(None, (" ".join("".join(block).split()) for block in blocks)))
    assert sanitized_html_to_text(markup) == expected


@pytest.mark.parametrize(
    "dirty",
    [
        '<p title="a > b <i>">x</p><div>y</div>',
        '<img src="https://e.example/p.jpg" alt="</p><p>">z',
        # a tag-like attribute value must not swallow the text after it (nh3 escapes its "<")
        '<p><img alt="<p " src="https://e.example/x.png">Hello "world" <b>bold</b> "more"</p>',
        "a &lt;b&gt; &amp;lt; c&nbsp;d<br>e<BR/>f",
        "<P>upper</P>case<LI>item",
        "&#1;&#x7f;&#128;&#xfdd0;x\u2028y",
    ],
)
def test_sanitized_text_of_awkward_markup(dirty: str) -> None:
    cleaned = sanitize_html(dirty, "https://e.example/")
    assert sanitized_html_to_text(cleaned) == html_to_text(cleaned)

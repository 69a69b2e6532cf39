"""make_brief on real corpus items and on the edge cases: empty, huge, foreign, run-on."""

from __future__ import annotations

import re
from functools import cache

import pytest

from aggregator.briefs.summarize import PARAGRAPH_WORDS, brief_key, make_brief
from aggregator.briefs.text import is_complete_sentence, split_sentences
from aggregator.model.brief import Brief
from tests.briefs.corpus import alone, items, plain, position

# Feeds chosen for their trouble: share prompts and cookie text, "The post … appeared first on",
# "[…]" teasers, code blocks, figure captions, "Continue reading", German and Portuguese posts.
FEEDS = [
    "a345f48640cf8255.xml",
    "db8e17e910bb4b0e.xml",
    "6d28cf55da15a12d.xml",
    "b38787f0a7eb3696.xml",
    "48ef849a22eeebb1.xml",
    "c717c9312dd08044.xml",
    "1cd3201079a0015b.xml",
    "5739ef9f30ed2331.xml",
    "58f18ec53b21a9c7.xml",
]
BOILERPLATE = re.compile(
    r"appeared first on|^continue reading|^read more|^share this|click to share|this entry was posted"
    r"|\[(?:…|\.\.\.)\]|we use cookies|^https?://\S+$|[{};]\s*$|^(?:photo|image|credit):",
    re.IGNORECASE,
)
BYLINE = re.compile(r"^By [A-Z]\w+(?: [A-Z]\w+)*\.?$")


def real_items() -> list[tuple[str, str]]:
    return [item for feed in FEEDS for item in items(feed)[:12]]


@cache
def brief_of(title: str, html: str) -> Brief:
    return make_brief(title, html)


def test_bullets_are_whole_sentences_of_the_text_in_document_order() -> None:
    checked = 0
    for title, html in real_items():
        brief = brief_of(title, html)
        text = plain(html)
        assert len(brief.bullets) <= 8
        positions = []
        for bullet in brief.bullets:
            assert is_complete_sentence(bullet), bullet
            assert alone(bullet, brief.language, html), bullet
            at = position(bullet, text)
            assert at >= 0, f"{title}: bullet not in the text: {bullet!r}"
            positions.append(at)
        assert positions == sorted(positions), title
        checked += len(brief.bullets)
    assert checked > 200


def test_long_items_get_three_to_eight_bullets_and_short_ones_are_not_padded() -> None:
    long_title, long_html = max(items("6d28cf55da15a12d.xml"), key=lambda i: len(i[1]))
    assert 3 <= len(make_brief(long_title, long_html).bullets) <= 8
    short = "<p>The release is out today. The login bug is fixed.</p>"
    assert make_brief("Release", short).bullets == [
        "The release is out today.",
        "The login bug is fixed.",
    ]


def test_no_boilerplate_reaches_a_brief() -> None:
    for title, html in real_items():
        brief = brief_of(title, html)
        for line in [*brief.bullets, brief.paragraph, *(t.definition for t in brief.terms)]:
            assert not BOILERPLATE.search(line), f"{title}: {line!r}"
            assert not BYLINE.match(line), f"{title}: {line!r}"


def test_boilerplate_lines_are_dropped_around_a_real_story() -> None:
    story = "<p>The council approved the new bridge on Monday after a long debate.</p>"
    junk = [
        "<p>Continue reading →</p>",
        "<p>Share this:</p><ul><li>Click to share on Twitter (Opens in new window)</li></ul>",
        "<p>We use cookies to improve your browsing experience. Accept all cookies.</p>",
        "<p>The post Bridge vote appeared first on City News.</p>",
        "<p>This entry was posted in Local news.</p>",
        "<p>By Jane Smith</p>",
        "<figure><img src='x.jpg'><figcaption>The bridge at dusk.</figcaption></figure>",
        "<pre><code>def build(bridge):\n    return bridge.open()</code></pre>",
        "<p>https://example.com/bridge</p>",
        "<p>It will open in 2027, officials said […]</p>",
        "<p>Comments</p>",
    ]
    brief = make_brief("Bridge vote", story + "".join(junk))
    assert brief.bullets == ["The council approved the new bridge on Monday after a long debate."]


def test_paragraph_has_4_to_10_sentences_where_the_text_has_them() -> None:
    long_ok = long_items = 0
    for title, html in real_items():
        brief = brief_of(title, html)
        paragraph = brief.paragraph
        assert len(paragraph.split()) <= PARAGRAPH_WORDS + 1, title
        assert "\n" not in paragraph
        n = len(split_sentences(paragraph, brief.language)) if paragraph else 0
        assert n <= 10, title
        if len(plain(html).split()) >= 250:
            long_items += 1
            long_ok += n >= 4
    assert long_items and long_ok >= 0.8 * long_items


def test_paragraph_opens_on_the_news() -> None:
    html = "".join(
        f"<p>{s}</p>"
        for s in [
            "The city of Lyon will ban cars from its centre from next May, the mayor said.",
            "The ban covers the two islands between the rivers and the old town.",
            "Delivery vans may still enter before ten in the morning on weekdays.",
            "Residents who own a car get a permit for the streets around their home.",
            "Shops had asked for a longer delay, fearing a fall in their sales.",
            "The council expects traffic in the centre to fall by a third in a year.",
        ]
    )
    brief = make_brief("Lyon bans cars from its centre", html)
    assert brief.paragraph.startswith("The city of Lyon will ban cars")
    assert 4 <= len(split_sentences(brief.paragraph)) <= 10


def test_title_only_item_has_no_bullets() -> None:
    brief = make_brief("Dungeonborne", "")
    assert brief.bullets == [] and brief.paragraph == "" and brief.terms == []
    assert brief.reading_minutes == 1


def test_non_english_item() -> None:
    title, html = next(i for i in items("1cd3201079a0015b.xml") if i[0].startswith("64'er Magazin"))
    brief = make_brief(title, html)
    assert brief.language == "de"
    assert brief.bullets and all(position(b, plain(html)) >= 0 for b in brief.bullets)
    portuguese = next(
        make_brief(t, h) for t, h in items("6d28cf55da15a12d.xml") if "Diário de Campo" in t
    )
    assert portuguese.language == "pt" and portuguese.bullets


def test_huge_item_is_capped() -> None:
    title, html = max(items("6d28cf55da15a12d.xml"), key=lambda i: len(i[1]))
    huge = html * (1_000_000 // len(html) + 1)
    brief = make_brief(title, huge)
    assert 3 <= len(brief.bullets) <= 8
    assert all(b in plain(html) for b in brief.bullets)
    assert brief.reading_minutes > 100  # counted over the whole item, not the capped part


def test_one_long_sentence_is_cut_at_a_word_boundary() -> None:
    words = re.sub(r"[.?!…]", "", plain(items("db8e17e910bb4b0e.xml")[0][1])).split()
    run_on = " ".join((words * 20)[:3000])
    brief = make_brief("Run-on", f"<p>{run_on}</p>")
    (bullet,) = brief.bullets
    assert bullet.endswith("…") and len(bullet.split()) <= 60
    assert run_on.startswith(bullet[:-1])
    assert brief.paragraph.endswith("…") and len(brief.paragraph.split()) <= PARAGRAPH_WORDS


def test_plain_text_input() -> None:
    text = "Rain is due on Friday.\nThe storm will pass by Sunday, forecasters said.\n\nRead more"
    assert make_brief("Weather", text).bullets == [
        "Rain is due on Friday.",
        "The storm will pass by Sunday, forecasters said.",
    ]


def test_deterministic() -> None:
    title, html = items("5739ef9f30ed2331.xml")[0]
    assert make_brief(title, html) == make_brief(title, html)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("T", "text"), ("T", "text!")),
        (("T", "text"), ("T2", "text")),
        (("T", "ab"), ("Ta", "b")),
    ],
)
def test_content_hash_changes_with_content(a: tuple[str, str], b: tuple[str, str]) -> None:
    assert brief_key(*a) == brief_key(*a)
    assert brief_key(*a) != brief_key(*b)


def test_content_hash_covers_the_glossary() -> None:
    assert brief_key("T", "x", {"A": "B."}) != brief_key("T", "x", {"A": "C."})
    assert brief_key("T", "x", {}) == brief_key("T", "x")


def test_a_listicle_shows_its_points_with_their_first_sentence() -> None:
    tips = [
        ("Back up your data", "The upgrade rewrites the database files in place."),
        ("Read the release notes", "Three settings changed their defaults in this version."),
        ("Schedule downtime", "The migration takes about an hour for a large site."),
        ("Warn your users", "A banner a week ahead cuts the support tickets by half."),
    ]
    html = "".join(
        f"<h2>{i}. {head}</h2><p>{first}</p><p>Each step matters for a calm upgrade day.</p>"
        for i, (head, first) in enumerate(tips, 1)
    )
    brief = make_brief("4 tips for a safe upgrade", html)
    shown = [f"{head}: {first}" for head, first in tips]
    assert sum(b in shown for b in brief.bullets) >= 3
    guide = html.replace("<h2>1. ", "<h2>").replace("<h2>2. ", "<h2>").replace("<h2>3. ", "<h2>")
    plain_brief = make_brief("How we upgrade", guide.replace("<h2>4. ", "<h2>"))
    assert not any(b in shown for b in plain_brief.bullets)  # not a listicle: headings dropped

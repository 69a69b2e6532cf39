"""Render a digest to HTML (CSS inlined) and plain text, once per edition.

Rendering and CSS inlining happen once per digest in :func:`prepare`; the per-subscriber values
(unsubscribe and preferences links, recipient address) are random alphanumeric placeholders until
:meth:`RenderedDigest.personalise` swaps in the escaped values, which costs a few string replaces.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import css_inline
from babel.dates import format_date

from aggregator.digest.model import DigestView, SourceRef, StoryView
from aggregator.mail.text import checked_url, clipped_line
from aggregator.model.brief import MAX_BULLETS, MAX_TERMS, Brief, Term
from aggregator.templating import locale_for, translations
from aggregator.templating import render as render_template

MAX_HTML_BYTES = 102_000
"""Gmail clips HTML beyond about 102 KB; a personalised digest stays under this."""
MAX_PERSONAL_CHARS = 1024
"""Longest escaped unsubscribe/preferences URL or recipient that :meth:`personalise` accepts."""

TITLE_CHARS = 240
BULLET_CHARS = 500
PARAGRAPH_CHARS = 900
TERM_CHARS = 80
DEFINITION_CHARS = 320
SOURCE_NAME_CHARS = 80
LABEL_CHARS = 120
MAX_SOURCES = 6
MAX_COVERAGE = 12
"""Articles listed on a story's "Covered by" line."""
SUBJECT_CHARS = 180

_LANGUAGE = re.compile(r"[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*")
_INLINER = css_inline.CSSInliner(keep_style_tags=True, load_remote_stylesheets=False)


def date_label(value: datetime | None, language: str = "") -> str:
    """``"14 May 2024"`` (``"14 mai 2024"`` in French), or ``""`` when the date is unknown."""
    if value is None:
        return ""
    locale = locale_for(language)
    if locale is None:
        return f"{value.day} {value:%b %Y}"
    return format_date(value, "d MMM y", locale=locale)


def _date_labeller(language: str) -> Callable[[datetime | None], str]:
    return lambda value: date_label(value, language)


def _clean_brief(brief: Brief) -> Brief:
    bullets = [clipped_line(b, BULLET_CHARS) for b in brief.bullets[:MAX_BULLETS]]
    terms = [
        Term(clipped_line(t.term, TERM_CHARS), clipped_line(t.definition, DEFINITION_CHARS))
        for t in brief.terms[:MAX_TERMS]
    ]
    paragraph = clipped_line(brief.paragraph, PARAGRAPH_CHARS)
    bullets = [b for b in bullets if b]
    if not paragraph and bullets:
        paragraph = clipped_line(" ".join(bullets[:3]), PARAGRAPH_CHARS)
    language = brief.language if _LANGUAGE.fullmatch(brief.language or "") else ""
    return replace(
        brief,
        bullets=bullets,
        terms=[t for t in terms if t.term and t.definition],
        paragraph=paragraph,
        reading_minutes=max(1, min(int(brief.reading_minutes or 1), 999)),
        language=language,
    )


def _clean_story(story: StoryView) -> StoryView:
    sources = [
        SourceRef(clipped_line(s.name, SOURCE_NAME_CHARS), checked_url(s.url))
        for s in story.sources[:MAX_SOURCES]
    ]
    return StoryView(
        title=clipped_line(story.title, TITLE_CHARS) or "(untitled)",
        url=checked_url(story.url),
        sources=[s for s in sources if s.name],
        brief=_clean_brief(story.brief),
        published=story.published,
        coverage=[
            SourceRef(name, url)
            for s in story.coverage[:MAX_COVERAGE]
            if (name := clipped_line(s.name, SOURCE_NAME_CHARS)) and (url := checked_url(s.url))
        ],
    )


@dataclass(frozen=True, slots=True)
class _Placeholders:
    """Unguessable alphanumeric stand-ins; escaping and CSS inlining leave them intact."""

    unsubscribe: str
    preferences: str
    recipient: str
    sent_to_start: str
    sent_to_end: str

    @classmethod
    def new(cls) -> _Placeholders:
        token = secrets.token_hex(8)
        return cls(*(f"zq{token}{name}" for name in ("unsub", "prefs", "rcpt", "sts", "ste")))


@dataclass(frozen=True, slots=True)
class RenderedDigest:
    """A digest rendered once, ready to be personalised per subscriber."""

    html: str
    text: str
    subject: str
    shown: int
    """How many "More briefs" items fit under the size cap."""
    hidden: int
    """How many were dropped to stay under :data:`MAX_HTML_BYTES`."""
    _ph: _Placeholders

    def personalise(
        self, *, unsubscribe_url: str, preferences_url: str, recipient: str = ""
    ) -> tuple[str, str]:
        """``(html, text)`` for one subscriber. Raises ValueError for an unusable link."""
        html_values, text_values = personal_values(
            unsubscribe_url=unsubscribe_url, preferences_url=preferences_url, recipient=recipient
        )
        keep = bool(text_values["recipient"])
        return (
            _substitute(self.html, self._keyed(html_values), self._ph, keep_sent_to=keep),
            _substitute(self.text, self._keyed(text_values), self._ph, keep_sent_to=keep),
        )

    def pieces(self, part: str) -> list[str]:
        """The HTML or text split at the personal values, for a per-edition mail template.

        Fixed text stands at even positions and slot names (keys of :func:`personal_values`) at
        odd ones; the "sent to" line is kept, since every mail has a recipient.
        """
        doc = self.html if part == "html" else self.text
        doc = doc.replace(self._ph.sent_to_start, "").replace(self._ph.sent_to_end, "")
        names = {getattr(self._ph, slot): slot for slot in SLOTS}
        return [names.get(piece, piece) for piece in re.split(f"({'|'.join(names)})", doc)]

    def _keyed(self, values: dict[str, str]) -> dict[str, str]:
        return {getattr(self._ph, slot): value for slot, value in values.items()}


SLOTS = ("unsubscribe", "preferences", "recipient")


def personal_values(
    *, unsubscribe_url: str, preferences_url: str, recipient: str = ""
) -> tuple[dict[str, str], dict[str, str]]:
    """The per-subscriber values by slot, escaped for HTML and plain for text; ValueError if bad."""
    unsubscribe = _personal_url("unsubscribe_url", unsubscribe_url)
    preferences = _personal_url("preferences_url", preferences_url)
    rcpt = clipped_line(recipient, 254)
    text_values = {"unsubscribe": unsubscribe, "preferences": preferences, "recipient": rcpt}
    return {k: html.escape(v) for k, v in text_values.items()}, text_values


def filled(pieces: Sequence[str], values: Mapping[str, str]) -> str:
    """A document stored as :meth:`RenderedDigest.pieces` (fixed text, slot names) with each
    slot filled from ``values`` (as :func:`personal_values` gives them)."""
    return "".join(values[p] if i % 2 else p for i, p in enumerate(pieces))


def _personal_url(name: str, value: str) -> str:
    url = checked_url(value)
    if url is None:
        raise ValueError(f"{name} must be an absolute http(s) URL, got {value[:80]!r}")
    if len(html.escape(url)) > MAX_PERSONAL_CHARS:
        raise ValueError(f"{name} is longer than {MAX_PERSONAL_CHARS} characters")
    return url


def _substitute(doc: str, values: dict[str, str], ph: _Placeholders, *, keep_sent_to: bool) -> str:
    if not keep_sent_to:
        start, end = doc.find(ph.sent_to_start), doc.find(ph.sent_to_end)
        if 0 <= start < end:
            doc = doc[:start] + doc[end + len(ph.sent_to_end) :]
    doc = doc.replace(ph.sent_to_start, "").replace(ph.sent_to_end, "")
    for placeholder, value in values.items():
        doc = doc.replace(placeholder, value)
    return doc


def _subject(view: DigestView, lead: StoryView | None, story_count: int) -> str:
    title = clipped_line(view.title, LABEL_CHARS)
    if lead is None:
        return clipped_line(f"{title} — {view.period_label}", SUBJECT_CHARS)
    head = f"{title}: "
    more = translations(view.language).ngettext(
        "(+%(num)d more)", "(+%(num)d more)", story_count - 1
    )
    tail = " " + more % {"num": story_count - 1} if story_count > 1 else ""
    return head + clipped_line(lead.title, SUBJECT_CHARS - len(head) - len(tail)) + tail


def prepare(
    view: DigestView,
    *,
    max_html_bytes: int | None = MAX_HTML_BYTES,
    templates_dir: Path | None = None,
) -> RenderedDigest:
    """Render and inline the digest once; drop trailing "More briefs" to stay under the cap
    (None: no cap, for the archive page that the mail's overflow line links to).
    ``templates_dir``: the operator's templates (``Settings.templates_dir``)."""
    lead = _clean_story(view.lead) if view.lead else None
    more = [_clean_story(s) for s in view.more]
    ph = _Placeholders.new()
    language = view.language if _LANGUAGE.fullmatch(view.language) else ""
    context = {
        "title": clipped_line(view.title, LABEL_CHARS),
        "period_label": clipped_line(view.period_label, LABEL_CHARS),
        "site_name": clipped_line(view.site_name, LABEL_CHARS),
        "site_url": checked_url(view.site_url),
        "archive_url": checked_url(view.archive_url),
        "subscribe_url": checked_url(view.subscribe_url),
        "lead": lead,
        "date_label": _date_labeller(language),
        "links": ph,
        "language": language,
        "untranslated": view.untranslated,
        "stories": len(more) + (lead is not None),
    }

    def render(shown: int) -> tuple[str, str]:
        ctx = context | {"more": more[:shown], "hidden": len(more) - shown}
        html_doc = _INLINER.inline(render_template("digest.html.j2", ctx, templates_dir, language))
        return html_doc, render_template("digest.txt.j2", ctx, templates_dir, language)

    def fits(html_doc: str) -> bool:
        if max_html_bytes is None:
            return True
        growth = sum(html_doc.count(p) for p in (ph.unsubscribe, ph.preferences, ph.recipient))
        return len(html_doc.encode()) + growth * MAX_PERSONAL_CHARS <= max_html_bytes

    shown = len(more)
    html_doc, text_doc = render(shown)
    if not fits(html_doc):
        low, high = 0, shown - 1  # invariant: answer in [low, high]
        while low < high:
            mid = (low + high + 1) // 2
            if fits(render(mid)[0]):
                low = mid
            else:
                high = mid - 1
        shown = low
        html_doc, text_doc = render(shown)
    subject = _subject(view, lead, len(more) + (lead is not None))
    return RenderedDigest(html_doc, text_doc, subject, shown, len(more) - shown, ph)


def _personalised(
    view: DigestView,
    max_html_bytes: int | None = MAX_HTML_BYTES,
    templates_dir: Path | None = None,
) -> tuple[str, str]:
    return prepare(view, max_html_bytes=max_html_bytes, templates_dir=templates_dir).personalise(
        unsubscribe_url=view.unsubscribe_url,
        preferences_url=view.preferences_url,
        recipient=view.recipient,
    )


def render_html(
    view: DigestView,
    *,
    max_html_bytes: int | None = MAX_HTML_BYTES,
    templates_dir: Path | None = None,
) -> str:
    """The personalised HTML for a view that carries its subscriber's links."""
    return _personalised(view, max_html_bytes, templates_dir)[0]


def render_text(view: DigestView) -> str:
    """The personalised plain text for a view that carries its subscriber's links."""
    return _personalised(view)[1]

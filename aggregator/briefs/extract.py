"""Article main text from a fetched page (trafilatura, no network), and teaser detection."""

from __future__ import annotations

import logging
import re

import trafilatura

from aggregator.briefs.text import TAG_RE, to_paragraphs

log = logging.getLogger(__name__)

_TEASER_END_RE = re.compile(
    r"(?:\[\s*(?:…|\.\.\.|&hellip;)\s*\]|…|\.\.\.|&hellip;|continue reading\W*|read more\W*"
    r"|read the (?:rest|full (?:article|story|post))\W*)\s*$",
    re.IGNORECASE,
)


def extract_main_text(html: str | bytes, url: str | None = None) -> str:
    """The page's main text as plain paragraphs separated by blank lines; "" when none is found."""
    if not html:
        return ""
    try:
        text = trafilatura.extract(
            html,
            url=url,
            include_comments=False,
            include_tables=True,
            include_images=False,
            favor_precision=True,
            deduplicate=False,
        )
    except Exception as exc:  # trafilatura raises assorted parser errors on broken pages
        log.warning("extract %s: no main text (%s)", url or "page", exc)
        return ""
    return "\n\n".join(p.strip() for p in (text or "").split("\n") if p.strip())


def is_teaser(text: str, min_words: int) -> bool:
    """True when a feed's text is only a teaser: under ``min_words`` words of clean prose, or it
    ends in a "[…]", "…", "Continue reading" or "Read more" cut."""
    tail = TAG_RE.sub(" ", text[-400:]).strip()
    if _TEASER_END_RE.search(tail):
        return True
    return sum(len(p.split()) for p in to_paragraphs(text)) < min_words

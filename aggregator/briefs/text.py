"""Item text for briefs: HTML or plain text in, clean paragraphs and whole sentences out.

Boilerplate (see :mod:`aggregator.briefs.boilerplate`: sponsor reads, calls to action, captions,
bylines, link lists, sections under a "Sponsors" heading), code and "[…]" are dropped here, so
they can never reach a brief.
The whole article is read: only markup beyond ``HTML_CAP`` characters (far longer than any
article) is ignored, and the text of layout tables is kept.
"""

from __future__ import annotations

import html
import math
import re
from functools import lru_cache

import justext
import lxml.html
import nupunkt
import py3langid
import pysbd
from lxml import etree

from aggregator.briefs.boilerplate import (
    is_appeal,
    is_boilerplate,
    is_boilerplate_element,
    is_boilerplate_heading,
    is_url_only,
)

HTML_CAP = 1_000_000
WORDS_PER_MINUTE = 230
LANGUAGE_SAMPLE = 1_000

_HTML_RE = re.compile(r"<[a-zA-Z!/][^>]*>|&(?:[a-zA-Z]+|#\d+|#x[0-9a-fA-F]+);")
TAG_RE = re.compile(r"<[^>]*>")
_WS_RE = re.compile(r"\s+")
_WORD_RE = re.compile(r"\w+")

_DROP_TAGS = frozenset({
    "script", "style", "noscript", "template", "pre", "figure", "figcaption",
    "iframe", "video", "audio", "svg", "math", "form", "button", "nav", "aside", "footer",
    "header", "object", "embed", "canvas", "select", "textarea"
})  # fmt: skip
_BLOCK_TAGS = frozenset({
    "p", "div", "li", "ul", "ol", "dl", "dt", "dd", "h1", "h2", "h3", "h4", "h5", "h6",
    "blockquote", "section", "article", "main", "br", "hr", "tr", "td", "th", "caption",
    "details", "summary", "address", "center"
})  # fmt: skip

_ELLIPSIS_MARK_RE = re.compile(
    r"\[\s*(?:…|\.\.\.|&hellip;)\s*\]|\(\s*(?:…|\.\.\.)\s*\)"
    r"|\s*(?:…|\.\.\.)?\s*(?:read more|continue reading)\W*$",
    re.IGNORECASE,
)
_CODE_START_RE = re.compile(
    r"^(?:def |class \w+[:(]|import |from [\w.]+ import |#include|function\b|var |let |const |"
    r"public |private |return\b|if ?\(|for ?\(|while ?\(|\$ |>>> |//|/\*|<\?|@\w+\(|\}|\{)"
)
_CODE_CHARS = frozenset("{}[]();=<>$#|\\`_*&^~")
_SENTENCE_END_RE = re.compile(r"""[.!?。！？][\"'”’»)\]]*$""")
_TRUNCATED_END_RE = re.compile(r"(?:…|\.\.\.)[\"'”’»)\]]*$")
_BULLET_MARK_RE = re.compile(r"^(?:[-*•·▪►–—]+|\d+[.)])\s+")

_JUSTEXT_NAMES = {
    "en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
    "pt": "Portuguese", "nl": "Dutch", "sv": "Swedish", "da": "Danish", "no": "Norwegian_Bokmal",
    "nb": "Norwegian_Bokmal", "fi": "Finnish", "pl": "Polish", "cs": "Czech", "ru": "Russian",
    "uk": "Ukrainian", "tr": "Turkish", "id": "Indonesian", "ro": "Romanian", "hu": "Hungarian",
}  # fmt: skip

# pysbd is 30x slower than nupunkt but knows these languages' abbreviations and full stops.
_PYSBD_LANGS = frozenset(pysbd.languages.LANGUAGE_CODES) - {"en"}


def has_markup(text: str) -> bool:
    """True when the text carries markup or entities and must be parsed as HTML."""
    return _HTML_RE.search(text[:5000]) is not None


HEADING, ITEM, PARAGRAPH = "h", "li", "p"
"""Kinds of block: a heading, a list item (or a numbered paragraph), a paragraph."""
_TEXT_BLOCK_TAGS = frozenset({"p", "li", "dd", "blockquote", "td"})
_HEADING_TAGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6", "dt"})
_KIND_MARK = {HEADING: "\ue001", ITEM: "\ue002"}
_MARK_KIND = {v: k for k, v in _KIND_MARK.items()}
_MD_HEADING_RE = re.compile(r"^#{1,6}\s+")
_BLOCK_TAG_RE = re.compile(
    r"<(?:p|div|li|h[1-6]|ul|ol|blockquote|table|section|article|pre|dl|hr)\b", re.IGNORECASE
)
_BR_RE = re.compile(r"<br\b", re.IGNORECASE)
# Markdown's inline marks: images (dropped), links (their text kept), emphasis and code spans.
_MD_IMAGE_RE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK_RE = re.compile(r"\[([^\]]+)\]\((?:https?://|/|#)[^)\s]*\)")
_MD_EMPHASIS_RE = re.compile(r"(\*\*|`)(?=\S)([^*_`\n]+?)(?<=\S)\1")
_GLUED_ELLIPSIS_RE = re.compile(r"(?<=\w)(\.\.\.|…)(?=[A-ZÀ-ÖØ-Þ])")
LABEL_WORDS = 12
"""A block of at most this many words right above a bare web address is that link's label."""


def to_paragraphs(text: str) -> list[str]:
    """Clean paragraphs of an item, HTML or plain text, boilerplate and code removed."""
    return [block for _kind, block in to_blocks(text)]


def to_blocks(text: str) -> list[tuple[str, str]]:
    """Clean blocks of an item as (kind, text): headings, list items and paragraphs, in order.

    Text with an entity or an inline tag but no block tag (Markdown, plain text with a link) keeps
    its line structure.
    """
    if not has_markup(text):
        raw = _plain_blocks(text)
    elif _html_structured(text[:HTML_CAP]):
        raw = _html_blocks(text[:HTML_CAP])
    else:
        raw = _plain_blocks(_html_text(text[:HTML_CAP]))
    out: list[tuple[str, str]] = []
    skipping = False  # inside a section whose heading names boilerplate ("Sponsors")
    for i, block in enumerate(raw):
        kind = _MARK_KIND.get(block[:1], PARAGRAPH)
        block = block.lstrip("\ue001\ue002 ")
        if kind == PARAGRAPH and _MD_HEADING_RE.match(block):
            kind, block = HEADING, _MD_HEADING_RE.sub("", block)
        unmarked = _BULLET_MARK_RE.sub("", block)
        if unmarked != block and kind == PARAGRAPH:
            kind = ITEM
        block = _ELLIPSIS_MARK_RE.sub("", unmarked).strip()
        block = _GLUED_ELLIPSIS_RE.sub(r"\1 ", _markdown_inline(block))
        if "&" in block:  # entities escaped once too often by the feed ("&amp;nbsp;")
            block = " ".join(html.unescape(block).split())
        if kind == HEADING:
            skipping = is_boilerplate_heading(block)
        if (
            skipping
            or not block
            or is_boilerplate(block)
            or is_appeal(block)
            or looks_like_code(block)
        ):
            continue
        if i + 1 < len(raw) and is_url_only(raw[i + 1]) and len(block.split()) <= LABEL_WORDS:
            continue  # a link's label ("Check out our store!" above its address)
        out.append((kind, block))
    return out


def _html_structured(text: str) -> bool:
    """True when the markup carries the blocks: a block tag, ``<br>`` line breaks in text
    without blank lines, or no line break at all (Markdown with a link or a ``<br>`` keeps its
    paragraphs)."""
    if _BLOCK_TAG_RE.search(text) or "\n" not in text:
        return True
    return _BR_RE.search(text) is not None and "\n\n" not in text


def _markdown_inline(block: str) -> str:
    """The block without Markdown's inline marks (``**bold**``, `` `code` ``, ``[text](url)``
    links keep their words; images go)."""
    if not any(mark in block for mark in ("**", "__", "`", "](")):
        return block
    block = _MD_LINK_RE.sub(r"\1", _MD_IMAGE_RE.sub("", block))
    return " ".join(_MD_EMPHASIS_RE.sub(r"\2", block).split())


def _html_blocks(html: str) -> list[str]:
    try:
        root = lxml.html.fragment_fromstring(html, create_parent="div")
    except (etree.ParserError, ValueError):
        return _plain_blocks(TAG_RE.sub(" ", html))
    for el in list(root.iter()):
        droppable = (
            not isinstance(el.tag, str)
            or el.tag in _DROP_TAGS
            or _is_footnote_ref(el)
            or el.tag in _TEXT_BLOCK_TAGS
            and is_boilerplate_element(el)
        )
        if droppable and el.getparent() is not None:
            el.drop_tree()
    for el in root.iter():
        el.text = _WS_RE.sub(" ", el.text) if el.text else el.text
        el.tail = _WS_RE.sub(" ", el.tail) if el.tail else el.tail
        if el.tag in _BLOCK_TAGS:
            mark = _KIND_MARK[HEADING] if el.tag in _HEADING_TAGS else ""
            mark = _KIND_MARK[ITEM] if el.tag == "li" else mark
            el.text = "\n" + mark + (el.text or "")
            el.tail = "\n" + (el.tail or "")
    out: list[str] = []
    mark = ""
    for line in root.text_content().split("\n"):
        line = " ".join(line.split())
        if line.strip("\ue001\ue002 "):
            out.append(mark + line if line[:1] not in _MARK_KIND else line)
            mark = ""
        elif line:
            mark = line[:1]  # a list item whose text sits in a nested block
    return out


def _html_text(html: str) -> str:
    try:
        return lxml.html.fragment_fromstring(html, create_parent="div").text_content()
    except (etree.ParserError, ValueError):
        return TAG_RE.sub(" ", html)


def _is_footnote_ref(el: lxml.html.HtmlElement) -> bool:
    return el.tag == "sup" and el.find(".//a") is not None


def _plain_blocks(text: str) -> list[str]:
    """Split plain text into paragraphs: blank lines and sentence-final line ends break them."""
    blocks: list[str] = []
    current: list[str] = []
    for line in text[:HTML_CAP].splitlines():
        line = line.strip()
        if line and looks_like_code(line):
            line = ""
        starts_block = _BULLET_MARK_RE.match(line) or _MD_HEADING_RE.match(line)
        if current and (
            not line
            or starts_block
            or _SENTENCE_END_RE.search(current[-1])
            or len(current[-1]) < 40
            or _MD_HEADING_RE.match(current[0])
        ):
            blocks.append(" ".join(current))
            current = []
        if line:
            current.append(line)
    if current:
        blocks.append(" ".join(current))
    return [" ".join(b.split()) for b in blocks]


def looks_like_code(line: str) -> bool:
    """True for a line that reads as source code rather than prose."""
    line = line.strip()
    if not line:
        return False
    if _CODE_START_RE.match(line) or line.endswith((";", "{", "=>", "):")):
        return True
    symbols = sum(1 for ch in line if ch in _CODE_CHARS)
    return symbols >= 4 and symbols / len(line) > 0.08


def split_sentences(paragraph: str, language: str = "en") -> list[str]:
    """Sentences of one paragraph: nupunkt (fast), or pysbd for the languages it knows.

    A split inside a quotation or parentheses, inside code (".querySelector()"), or after a "!"
    or "?" that belongs to a name ("The try! Swift app"), is undone.
    """
    if language in _PYSBD_LANGS:
        parts = _pysbd(language).segment(paragraph)
    else:
        parts = nupunkt.sent_tokenize(paragraph)
    out: list[str] = []
    for part in (p.strip() for p in parts):
        if part and out and _split_too_early(out[-1], part):
            glued = out[-1] + part  # ".querySelector()" was one token in the text
            out[-1] = glued if glued in paragraph else f"{out[-1]} {part}"
        elif part:
            out.append(part)
    return out


def _split_too_early(before: str, after: str) -> bool:
    """True when ``before`` ends inside an open quotation or a name with "!"/"?" in it."""
    if before.count('"') % 2 or before.count("“") > before.count("”"):
        return True
    if before.count("(") > before.count(")"):  # never inside parentheses
        return True
    if before.endswith(("!", "?")) and len(before.split()) < 4:
        return not after[:1].isupper() or len(before.split()) < 3
    return after[:1].islower()


@lru_cache(maxsize=32)
def _pysbd(language: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=language, clean=False)


def is_complete_sentence(sentence: str, min_words: int = 4) -> bool:
    """A whole sentence: enough words, a capital (or uncased) start, a final full stop, no boilerplate."""
    if len(sentence.split()) < min_words and not _is_unspaced_script(sentence):
        return False
    first = sentence.lstrip("\"'“‘«([¿¡")[:1]
    if (
        not first
        or (first.isalpha() and first.islower())
        or not (first.isalnum() or first in "$€£¥")
    ):
        return False
    if not _SENTENCE_END_RE.search(sentence) or _TRUNCATED_END_RE.search(sentence):
        return False
    return not (is_boilerplate(sentence) or looks_like_code(sentence))


def _is_unspaced_script(text: str) -> bool:
    """Chinese, Japanese and Thai write sentences without spaces between words."""
    return any("\u3040" <= ch <= "\u9fff" or "\u0e00" <= ch <= "\u0e7f" for ch in text[:20])


def detect_language(text: str) -> str:
    """ISO 639-1 code of the text (py3langid, offline, on its first 1,000 characters: plenty
    to tell a language, and its cost grows with the length); "en" when there is no text."""
    sample = text[:LANGUAGE_SAMPLE]
    if not _WORD_RE.search(sample):
        return "en"
    code, _score = py3langid.classify(sample)
    if len(code) != 2:  # a few of its languages have only ISO 639-3 codes
        code = next(c for c, _ in py3langid.rank(sample) if len(c) == 2)
    return code


@lru_cache(maxsize=32)
def stopwords(language: str) -> frozenset[str]:
    """justext's stoplist for the language (lower case), empty when it has none."""
    name = _JUSTEXT_NAMES.get(language)
    return justext.get_stoplist(name) if name else frozenset()


def word_count(text: str) -> int:
    """Words in HTML or plain text (tags removed)."""
    return len(TAG_RE.sub(" ", text).split()) if "<" in text else len(text.split())


def reading_minutes(text: str) -> int:
    """Whole minutes to read the item at 230 words a minute, at least 1."""
    return max(1, math.ceil(word_count(text) / WORDS_PER_MINUTE))


def words(text: str) -> list[str]:
    """Lower-case word tokens."""
    return _WORD_RE.findall(text.lower())


def truncate_words(text: str, max_words: int) -> str:
    """Cut text at a word boundary to at most ``max_words`` words, marking the cut with "…"."""
    parts = text.split()
    if len(parts) <= max_words:
        return text
    return " ".join(parts[:max_words]).rstrip(",;:—–-") + "…"

"""Key terms of an item, each with a one-sentence definition from the glossary or the text.

A term appears only when a definition is found: in the operator glossary (which wins), or in the
text as "X is a …", "X, short for Y,", "Long Name (LN)", "X (a …)" or an appositive "X, a …,".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from aggregator.briefs.model import MAX_DEFINITION_WORDS, MAX_TERMS, Term
from aggregator.briefs.text import is_complete_sentence, stopwords

_NAME = r"[A-Z][\w.+#-]*(?:\s+[A-Z][\w.+#-]*){0,3}"
_COPULA_RE = re.compile(
    r"^(?P<term>[\w.+#-]+(?:\s+[\w.+#-]+){0,3}?)\s+"
    r"(?:(?:is|are)\s+an?|refers\s+to|stands\s+for|means)\s+\S+(?:\s+\S+){2,}"
)
_SHORT_FOR_RE = re.compile(
    r"(?P<term>\b[\w.+#-]+),\s+(?:short|shorthand|an abbreviation)\s+for\s+(?P<long>[^,;.()]{3,80})[,;.]"
)
_ACRONYM_RE = re.compile(r"\((?P<acr>[A-Z][A-Za-z0-9&]*[A-Z0-9])s?\)")
_GLOSS_RE = re.compile(rf"(?P<term>\b{_NAME})\s+\((?P<def>an?\s[^()]{{5,120}})\)")
_APPOSITIVE_RE = re.compile(
    rf"(?:^|(?<=[\s(\"“]))(?P<term>{_NAME}),\s+(?P<def>(?:an?)\s[^,;()]{{5,120}}),"
)


def find_terms(
    title: str,
    sentences: list[str],
    full_text: str,
    glossary: Mapping[str, str] | None = None,
    language: str = "en",
) -> list[Term]:
    """Up to four terms: glossary entries that occur in the item, then terms the text defines."""
    haystack = f"{title}\n{full_text}"
    return merge_terms(
        glossary_terms(haystack, glossary), _defined_terms(sentences, haystack, language)
    )


def glossary_terms(item_text: str, glossary: Mapping[str, str] | None) -> list[Term]:
    """Glossary entries whose term occurs in the item, in order of first occurrence."""
    hits = []
    for term, definition in (glossary or {}).items():
        m = _find(term, item_text)
        if m and definition.strip():
            hits.append((m.start(), Term(term, definition.strip())))
    return [t for _, t in sorted(hits, key=lambda h: h[0])]


def merge_terms(first: Sequence[Term], then: Sequence[Term]) -> list[Term]:
    """``first`` (the glossary's, which win), then the others not already defined; at most four."""
    seen = {t.term.casefold() for t in first}
    return [*first, *(t for t in then if t.term.casefold() not in seen)][:MAX_TERMS]


def _defined_terms(sentences: list[str], haystack: str, language: str) -> list[Term]:
    """Terms the text defines, most often mentioned first."""
    stop = stopwords(language)
    seen: set[str] = set()
    ranked: list[tuple[int, int, Term]] = []
    for term, definition in _text_definitions(sentences, stop):
        if term.casefold() in seen or not _ok_definition(definition, stop):
            continue
        count = len(re.findall(_pattern(term), haystack, re.IGNORECASE))
        if count >= 2 or " " in term or term.isupper():
            seen.add(term.casefold())
            ranked.append((-count, len(ranked), Term(term, definition)))
    return [t for _, _, t in sorted(ranked, key=lambda r: r[:2])]


def _pattern(term: str) -> str:
    return rf"(?<!\w){re.escape(term.strip())}(?!\w)"


def _find(term: str, text: str) -> re.Match[str] | None:
    return re.search(_pattern(term), text, re.IGNORECASE) if term.strip() else None


def _text_definitions(sentences: Iterable[str], stop: frozenset[str]) -> Iterable[tuple[str, str]]:
    for s in sentences:
        m = _COPULA_RE.match(s)
        if m and _is_term(m["term"], stop) and is_complete_sentence(s):
            yield m["term"], s
        for m in _SHORT_FOR_RE.finditer(s):
            if _is_term(m["term"], stop):
                yield m["term"], _as_sentence(f"Short for {m['long'].strip()}")
        for m in _ACRONYM_RE.finditer(s):
            long = _expansion(s[: m.start()], m["acr"])
            if long:
                yield m["acr"], _as_sentence(f"Short for {long}")
        for m in _GLOSS_RE.finditer(s):
            if _is_term(m["term"], stop):
                yield m["term"], _as_sentence(m["def"])
        for m in _APPOSITIVE_RE.finditer(s):
            if _is_term(m["term"], stop):
                yield m["term"], _as_sentence(m["def"])


def _is_term(term: str, stop: frozenset[str]) -> bool:
    """A name-like term: not led by a stopword, and every word of a phrase capitalised."""
    parts = term.split()
    first = parts[0].casefold()
    if first in stop or first in _DEICTIC or first.isdigit() or len(term) < 2:
        return False
    return len(parts) == 1 or all(p[0].isupper() or p[0].isdigit() for p in parts)


def _expansion(before: str, acronym: str) -> str:
    """The words right before "(ACR)" whose initials spell the acronym, if any."""
    letters = [c for c in acronym.upper() if c.isalpha()]
    tokens = before.split()
    for extra in range(3):
        n = len(letters) + extra
        if n > len(tokens):
            break
        window = tokens[-n:]
        every = [w[0].upper() for w in window if w[0].isalpha()]
        content = [w[0].upper() for w in window if w[0].isalpha() and w.casefold() not in _JOINERS]
        spelled = letters in (every, content)
        leads = window[0][0].isupper() and window[0].casefold() not in _JOINERS
        if spelled and leads and window[-1][0].isalpha():
            return " ".join(window).strip(",;:")
    return ""


_DEICTIC = frozenset({
    "here", "there", "this", "that", "these", "those", "it", "its", "today", "now", "my", "our",
    "your", "his", "her", "their",
})  # fmt: skip
_JOINERS = frozenset(
    {"of", "and", "for", "the", "a", "an", "in", "on", "to", "&", "de", "du", "la"}
)


def _as_sentence(text: str) -> str:
    text = " ".join(text.split()).rstrip(",;:")
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _ok_definition(definition: str, stop: frozenset[str]) -> bool:
    """Two to forty words, and an "A/An …" gloss must go on with a content word."""
    parts = definition.split()
    if not 2 <= len(parts) <= MAX_DEFINITION_WORDS or "…" in definition or "..." in definition:
        return False
    return parts[0] not in ("A", "An") or parts[1].casefold().strip(".,") not in stop

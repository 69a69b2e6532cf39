"""Key terms of an item, each with a one-sentence definition from the glossary or the text.

A term appears only when a definition is found: in the operator glossary (which wins), or in the
text as "X is a …", "X, short for Y,", "Long Name (LN)", "X (a …)" or an appositive "X, a …,".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from aggregator.briefs.model import Term
from aggregator.briefs.text import stopwords

MAX_TERMS = 4
MAX_DEFINITION_WORDS = 40

_NAME = r"[A-Z][\w.+#-]*(?:\s+[A-Z][\w.+#-]*){0,3}"
_COPULA_RE = re.compile(
    r"^(?P<term>[\w.+#-]+(?:\s+[\w.+#-]+){0,3}?)\s+(?:is|are|was|refers to|means)\s+"
    r"(?:an?|the)\s+\w+(?:\s+\S+){2,}"
)
_SHORT_FOR_RE = re.compile(
    r"(?P<term>\b[\w.+#-]+),\s+(?:short|shorthand|an abbreviation)\s+for\s+(?P<long>[^,;.()]{3,80})[,;.]"
)
_ACRONYM_RE = re.compile(r"\((?P<acr>[A-Z][A-Za-z0-9&]*[A-Z0-9])s?\)")
_GLOSS_RE = re.compile(rf"(?P<term>\b{_NAME})\s+\((?P<def>(?:an?|the)\s[^()]{{5,120}})\)")
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
    """Up to four terms: glossary entries that occur in the item first, then defined terms."""
    haystack = f"{title}\n{full_text}"
    chosen = [Term(t, d) for t, d in _glossary_hits(haystack, glossary or {})]
    seen = {t.term.casefold() for t in chosen}
    stop = stopwords(language)
    ranked: list[tuple[int, int, Term]] = []
    for term, definition in _text_definitions(sentences, stop):
        if term.casefold() in seen or not _ok_definition(definition):
            continue
        count = _count(term, haystack)
        if count >= 2 or " " in term or term.isupper():
            seen.add(term.casefold())
            ranked.append((-count, len(ranked), Term(term, definition)))
    chosen += [t for _, _, t in sorted(ranked, key=lambda r: r[:2])]
    return chosen[:MAX_TERMS]


def _glossary_hits(haystack: str, glossary: Mapping[str, str]) -> list[tuple[str, str]]:
    """Glossary entries whose term occurs in the item, in order of first occurrence."""
    hits = []
    for term, definition in glossary.items():
        m = re.search(rf"(?<!\w){re.escape(term)}(?!\w)", haystack, re.IGNORECASE)
        if m and term.strip() and definition.strip():
            hits.append((m.start(), term, definition.strip()))
    return [(term, definition) for _, term, definition in sorted(hits)]


def _count(term: str, haystack: str) -> int:
    return len(re.findall(rf"(?<!\w){re.escape(term)}(?!\w)", haystack))


def _text_definitions(sentences: Iterable[str], stop: frozenset[str]) -> Iterable[tuple[str, str]]:
    for s in sentences:
        m = _COPULA_RE.match(s)
        if m and _is_term(m["term"], stop):
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
    first = term.split()[0].casefold()
    return first not in stop and not first.isdigit() and len(term) > 1


def _expansion(before: str, acronym: str) -> str:
    """The words right before "(ACR)" whose initials spell the acronym, if any."""
    letters = [c for c in acronym.upper() if c.isalpha()]
    tokens = before.split()
    for extra in range(3):
        n = len(letters) + extra
        if n > len(tokens):
            break
        window = tokens[-n:]
        initials = [w[0].upper() for w in window if w[0].isalpha() and w.casefold() not in _JOINERS]
        if initials == letters and window[0][0].isupper() and window[-1][0].isalpha():
            return " ".join(window).strip(",;:")
    return ""


_JOINERS = frozenset({"of", "and", "for", "the", "in", "on", "to", "&", "de", "du", "la"})


def _as_sentence(text: str) -> str:
    text = " ".join(text.split()).rstrip(",;:")
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _ok_definition(definition: str) -> bool:
    return 2 <= len(definition.split()) <= MAX_DEFINITION_WORDS

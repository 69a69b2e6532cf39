"""Key terms of an item, each with a definition from the glossary or the text.

A term appears only when a true definition is found: in the glossary (which wins), or in the
text as a definitional sentence, "X is a <kind> …" or "X refers to <kind> …", or a gloss
"X (a <kind> …)", where the kind is a word for a kind of thing (a tool, a technique, a protocol),
never a person, a place or an organisation. A bare expansion ("Short for …"), an opinion ("X is a
great …") or a sentence that speaks to the reader ("we", "you") is not a definition.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache

from aggregator.briefs.glossary import SHIPPED_GLOSSARY, load_glossary
from aggregator.briefs.standalone import context_opener
from aggregator.briefs.text import is_complete_sentence, stopwords
from aggregator.model.brief import MAX_DEFINITION_WORDS, MAX_TERMS, Term

_NAME = r"[A-Z][\w.+#-]*(?:\s+[A-Z][\w.+#-]*){0,3}"
_COPULA_RE = re.compile(
    r"^(?P<term>[\w.+#-]+(?:\s+[\w.+#-]+){0,3}?)(?:\s+\([^()]{2,60}\))?\s+"
    r"(?:(?:is|are)\s+an?|refers\s+to(?:\s+an?|\s+the)?)\s+(?P<rest>\S+(?:\s+\S+){2,})"
)
_GLOSS_RE = re.compile(rf"(?P<term>\b{_NAME})\s+\((?P<def>an?\s[^()]{{5,120}})\)")
_AI_CONTEXT_RE = re.compile(
    r"\b(?:AI|A\.I\.|AGI|LLMs?|GPT[-\w]*|ChatGPT|Claude|Gemini)\b|(?i:\bartificial intelligence\b"
    r"|\bmachine learning\b|\bdeep learning\b|\bneural net|\blanguage models?\b|\bchatbots?\b)"
)
_SPEAKER_RE = re.compile(
    r"\b(?:I|I'm|I’m|we|we're|we’re|us|our|you|your|my|me)\b|[?!]"
    r"|\b(?:makes? (?:a lot of |no |some )?sense|a lot|great|awesome|nice|cool|silly|stupid)\b",
    re.IGNORECASE,
)
"""Sentences that speak to the reader or give an opinion: not definitions."""
_DANGLING_RE = re.compile(r"\b(?:this|that|these|those|it|here|there)\W*$|https?://|www\.", re.I)
"""A definition sentence that ends pointing elsewhere ("… for that.") or carries an address."""
_KINDS = frozenset({
    "algorithm", "api", "app", "application", "approach", "architecture", "benchmark", "browser",
    "chip", "class", "command", "compiler", "component", "compound", "concept", "condition",
    "database", "dataset", "device", "dialect", "disease", "distribution", "editor", "engine",
    "environment", "extension", "file", "filesystem", "format", "framework", "function", "game",
    "interface", "kernel", "language", "library", "measure", "measurement", "mechanism",
    "metaphor", "method", "metric", "model", "module", "molecule", "network", "notation",
    "operator", "package", "paradigm", "parser", "pattern", "phenomenon", "platform", "plugin",
    "practice", "principle", "procedure", "process", "processor", "program", "property",
    "protocol", "runtime", "scheme", "server", "service", "shell", "software", "specification",
    "standard", "strategy", "structure", "syntax", "system", "technique", "technology", "term",
    "test", "theorem", "theory", "tool", "toolkit", "type", "unit", "utility", "variant",
})  # fmt: skip
_OPINION = frozenset({
    "amazing", "awesome", "bad", "best", "better", "big", "bit", "brilliant", "fantastic",
    "favorite", "favourite", "few", "fun", "good", "great", "huge", "little", "lot", "must",
    "nice", "perfect", "popular", "real", "simple", "strong", "terrible", "true", "weak",
    "wonderful", "worse", "worst", "pretty", "really", "very", "quite", "super", "silly",
    "stupid", "cool", "neat", "interesting", "excellent", "handy", "useful",
})  # fmt: skip
_KIND_SCAN = 8
"""Words after "is a" searched for the kind of thing, up to a "that", "which" or comma."""


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
    """Glossary entries whose term occurs in the item, in order of first occurrence.

    The shipped glossary's entries define AI terms, so they count only in an item about AI
    ("AI", "machine learning", "language model" …); an operator's entries count anywhere.
    One pass per case rule: a term with a capital after its first letter ("RLHF", "LoRA") must
    match exactly, the others match in any case; plurals count, and the longest term wins where
    two overlap ("large language model" over "language model").
    """
    if not glossary:
        return []
    first: dict[str, int] = {}
    entries = tuple(glossary.items())
    if _AI_CONTEXT_RE.search(item_text) is None:
        entries = _operators_own(entries)  # the shipped entries do not count here: skip them
    for pattern, key in _matchers(entries):
        for m in pattern.finditer(item_text):
            term = key(m["t"])
            if term is not None:
                first.setdefault(term, m.start())
    chosen: list[Term] = []
    for term in sorted(first, key=first.__getitem__):
        t = Term(term, glossary[term].strip())
        if not any(_restates(t, c) or _restates(c, t) for c in chosen):
            chosen.append(t)
    return chosen


def _restates(a: Term, b: Term) -> bool:
    """True when ``b``'s definition names ``a`` ("RAG, or retrieval-augmented generation, …")."""
    return _plain(a.term) in _plain(b.definition)


def _plain(text: str) -> str:
    return text.casefold().replace("-", " ")


@lru_cache(maxsize=8)
def _matchers(
    entries: tuple[tuple[str, str], ...],
) -> list[tuple[re.Pattern[str], Callable[[str], str | None]]]:
    exact = {t.strip(): t for t, d in entries if t.strip() and d.strip() and _exact_case(t)}
    folded = {
        t.strip().casefold(): t
        for t, d in entries
        if t.strip() and d.strip() and not _exact_case(t)
    }
    out: list[tuple[re.Pattern[str], Callable[[str], str | None]]] = []
    for table, flags in ((exact, 0), (folded, re.IGNORECASE)):
        if table:
            alts = "|".join(re.escape(t) for t in sorted(table.values(), key=len, reverse=True))
            pattern = re.compile(rf"(?<!\w)(?P<t>{alts})(?:e?s)?(?!\w)", flags)
            key = (
                table.get if flags == 0 else (lambda text, table=table: table.get(text.casefold()))
            )
            out.append((pattern, key))
    return out


@lru_cache(maxsize=8)
def _operators_own(entries: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The entries that are not the shipped glossary's (an operator's, or an operator's
    definition of a shipped term)."""
    shipped = _shipped()
    return tuple((term, text) for term, text in entries if shipped.get(term) != text)


@lru_cache(maxsize=1)
def _shipped() -> dict[str, str]:
    return load_glossary(SHIPPED_GLOSSARY) if SHIPPED_GLOSSARY.is_file() else {}


def _exact_case(term: str) -> bool:
    return term.strip()[1:] != term.strip()[1:].lower()


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


def _text_definitions(sentences: Iterable[str], stop: frozenset[str]) -> Iterable[tuple[str, str]]:
    for s in sentences:
        if _SPEAKER_RE.search(s):
            continue
        m = _COPULA_RE.match(s)
        if (
            m
            and _is_term(m["term"], stop)
            and _names_a_kind(m["rest"])
            and is_complete_sentence(s)
            and not (context_opener(s) or _DANGLING_RE.search(s))
        ):
            yield m["term"], s
        for m in _GLOSS_RE.finditer(s):
            if _is_term(m["term"], stop) and _names_a_kind(m["def"].split(None, 1)[1]):
                yield m["term"], _as_sentence(m["def"])


def _names_a_kind(phrase: str) -> bool:
    """True when the head noun of the phrase after "is a" is a kind of thing (a tool, a
    protocol), not a role, a place or an opinion: "a talented software engineer" is a person."""
    head: list[str] = []
    bare_kind = False  # "X is a tool, and …": a kind and nothing said about it
    for word in phrase.split()[:_KIND_SCAN]:
        bare = word.strip(".,;:()\"“”'’").casefold()
        if bare in _HEAD_ENDS:
            break
        head.append(bare)
        if word.endswith((",", ";", ":", ".")):
            bare_kind = len(head) == 1
            break
    if not head or head[0] in _OPINION or bare_kind:
        return False
    noun = head[-1]
    return noun in _KINDS or noun.rstrip("s") in _KINDS


_HEAD_ENDS = frozenset({
    "that", "which", "who", "whose", "where", "when", "used", "designed", "built", "written",
    "based", "focused", "aimed", "developed", "made", "capable", "inspired", "comparable",
    "similar", "for", "of", "from", "with", "in", "on", "to", "by", "at", "as", "like", "—",
})  # fmt: skip
"""Words that end the noun phrase after "is a": the word before them is its head."""


def _is_term(term: str, stop: frozenset[str]) -> bool:
    """A name-like term or a short noun phrase, not led by a stopword or a pointing word."""
    parts = term.split()
    first = parts[0].casefold()
    if first.isdigit() or len(term) < 2:
        return False
    if any(p.casefold() in stop or p.casefold() in _DEICTIC for p in parts):
        return False
    if all(p[0].isupper() or p[0].isdigit() for p in parts):
        return True
    return len(parts) <= 3 and all(p.isalpha() and p.islower() for p in parts[1:])


_DEICTIC = frozenset({
    "here", "there", "this", "that", "these", "those", "it", "its", "today", "now", "my", "our",
    "your", "his", "her", "their",
})  # fmt: skip


def _as_sentence(text: str) -> str:
    text = " ".join(text.split()).rstrip(",;:")
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def _ok_definition(definition: str, stop: frozenset[str]) -> bool:
    """Two to forty words, and an "A/An …" gloss must go on with a content word."""
    parts = definition.split()
    if not 2 <= len(parts) <= MAX_DEFINITION_WORDS or "…" in definition or "..." in definition:
        return False
    return parts[0] not in ("A", "An") or parts[1].casefold().strip(".,") not in stop

"""Optional LLM back end: the product's brief from an OpenAI-compatible ``/chat/completions`` API.

OpenAI, Ollama, vLLM and llama.cpp all serve this API. The model is asked for the digest's shape
(what happened, why it matters, what comes next, in plain self-contained sentences; terms a
layperson understands; a paragraph for "More briefs"), and its reply is repaired rather than
thrown away: a bullet, sentence or term that is malformed, or that names a number or a name the
item does not contain, is dropped. When nothing usable is left, or most bullets were unfaithful,
``brief`` logs one line naming the item and returns None, and the caller falls back to the
extractive summarizer. So it does once ``max_calls`` calls have been made, and once the circuit
breaker is open: after ``breaker_after`` consecutive failures (a stalled or broken endpoint) no
more calls are made in this run. The client is the standard library's urllib: one blocking call
per brief, so no event loop is needed inside the scheduler's worker threads.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field

from aggregator.briefs.standalone import has_url, is_question, unbalanced_quotes
from aggregator.briefs.terms import merge_terms
from aggregator.briefs.text import is_complete_sentence, split_sentences
from aggregator.model.brief import (
    MAX_BULLET_WORDS,
    MAX_BULLETS,
    MAX_TERMS,
    Brief,
    Term,
)

log = logging.getLogger(__name__)

MAX_PARAGRAPH_SENTENCES = 10
MAX_PARAGRAPH_WORDS = 250
MAX_TERM_DEFINITION_WORDS = 60
MAX_REPLY_BYTES = 1_000_000

SYSTEM_PROMPT = """You write news briefs that a reader can trust. Use only facts stated in the \
item: never add a number, a name, a date or a claim that the item does not contain. Write in the \
item's language.
Reply with one JSON object and nothing else:
{"title": "a short title, only when the item has none, else an empty string",
 "bullets": ["up to 10 plain sentences that retell the story: what happened, then why it matters \
(for example 'This matters because ...'), then what comes next (for example 'Next, ...'). Each \
bullet is one complete sentence that makes sense on its own, without the others"],
 "terms": [{"term": "a key term from the item that a layperson may not know", "definition": \
"one or two plain sentences a layperson understands: what it is, then why it matters"}],
 "paragraph": "4 to 10 sentences that tell the story as one paragraph, for a list of briefs"}
Give 0 to 4 terms. A short item gets fewer bullets and a shorter paragraph; never pad."""

_FENCE_RE = re.compile(r"^```(?:json)?\s*|\s*```$")
_NUMBER_RE = re.compile(r"\d+(?:[.,]\d+)*")
_NAME_RE = re.compile(r"(?<![.!?:]\s)(?<!^)\b([A-Z][\w'’-]*[a-z0-9][\w'’-]*|[A-Z]{2,}\w*)")


class InvalidBrief(ValueError):
    """The model's reply is not a usable brief; the message says why."""


@dataclass
class LLMSummarizer:
    """A chat-completions client with a per-run call cap and a circuit breaker.

    Share one instance per run: the cap and the breaker count within it, so a later run (a new
    instance) tries the endpoint again.
    """

    base_url: str
    """e.g. "https://api.openai.com/v1" or "http://127.0.0.1:11434/v1"."""
    model: str
    api_key: str | None = None
    timeout: float = 30.0
    max_calls: int = 100
    json_mode: bool = True
    """Send ``response_format: json_object`` (turn off for servers that reject it)."""
    max_input_chars: int = 12_000
    breaker_after: int = 3
    """Consecutive failures after which this run makes no more calls."""
    calls: int = field(default=0, init=False)
    failures: int = field(default=0, init=False)
    """Consecutive failures so far (a usable reply resets it)."""
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def name(self) -> str:
        return f"llm:{self.model}"

    @property
    def available(self) -> bool:
        """True while calls remain and the breaker is closed."""
        return self.calls < self.max_calls and self.failures < self.breaker_after

    def _take_call(self) -> bool:
        with self._lock:
            if not self.available:
                return False
            self.calls += 1
            if self.calls == self.max_calls:
                log.info("LLM call cap of %d reached; later briefs are extractive", self.max_calls)
            return True

    def _record(self, ok: bool) -> None:
        with self._lock:
            if ok:
                self.failures = 0
                return
            self.failures += 1
            if self.failures == self.breaker_after:
                log.warning(
                    "LLM %s failed %d times in a row; no more calls this run, the rest of the "
                    "briefs are extractive (the next run tries again)",
                    self.model,
                    self.failures,
                )

    def brief(
        self,
        title: str,
        text: str,
        *,
        glossary_terms: Sequence[Term] = (),
        language: str = "en",
        reading_minutes: int = 1,
        item_label: str = "",
    ) -> Brief | None:
        """The model's brief of clean item text, or None (logged) when it cannot be used."""
        if not self._take_call():
            return None
        try:
            reply = self._post(title, text[: self.max_input_chars], language)
            brief = parse_reply(reply, f"{title}\n{text}", has_title=bool(title.strip()))
        except (OSError, http.client.HTTPException, InvalidBrief) as exc:  # timeouts are OSError
            self._record(ok=False)
            log.warning("brief %s: LLM %s failed (%s); using extractive", item_label or title[:60],
                        self.model, _reason(exc))  # fmt: skip
            return None
        self._record(ok=True)
        brief.terms = merge_terms(glossary_terms, brief.terms)
        brief.language, brief.reading_minutes, brief.summarizer = (
            language,
            reading_minutes,
            self.name,
        )
        return brief

    def _post(self, title: str, text: str, language: str) -> str:
        body: dict = {
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {
                    "role": "user",
                    "content": f"Language: {language}\nTitle: {title or '(none)'}\n\nItem:\n{text}",
                },
            ],
        }
        if self.json_mode:
            body["response_format"] = {"type": "json_object"}
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        url = self.base_url.rstrip("/") + "/chat/completions"
        if not url.startswith(("http://", "https://")):
            raise InvalidBrief(f"base URL must be http(s): {self.base_url!r}")
        req = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            raw = resp.read(MAX_REPLY_BYTES + 1)
        if len(raw) > MAX_REPLY_BYTES:
            raise InvalidBrief("reply larger than 1 MB")
        try:
            return json.loads(raw)["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise InvalidBrief(f"not a chat completion: {exc!r}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"network: {exc.reason}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def parse_reply(content: object, item_text: str, *, has_title: bool = True) -> Brief:
    """Repair the model's JSON content into a Brief, or raise InvalidBrief saying why.

    Malformed or unfaithful bullets, paragraph sentences and terms are dropped; the reply is
    refused when it is not a JSON object, when no bullet survives, or when most bullets were
    unfaithful to the item.
    """
    if not isinstance(content, str):
        raise InvalidBrief("message content is not a string")
    try:
        data = json.loads(_FENCE_RE.sub("", content.strip()))
    except ValueError:
        raise InvalidBrief("reply is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidBrief("reply is not a JSON object")
    facts = _Facts(item_text)
    raw = data.get("bullets")
    if not isinstance(raw, list) or not raw:
        raise InvalidBrief("bullets must be a non-empty list of sentences")
    shaped = [" ".join(b.split()) for b in raw[:MAX_BULLETS] if isinstance(b, str)]
    shaped = [b for b in shaped if _is_bullet(b)]
    bullets = [b for b in shaped if facts.supports(b)]
    if not bullets:
        raise InvalidBrief("no bullet is a faithful, self-contained sentence")
    if len(shaped) - len(bullets) > len(shaped) / 2:
        raise InvalidBrief(f"{len(shaped) - len(bullets)} of {len(shaped)} bullets are unfaithful")
    paragraph = _paragraph(data.get("paragraph"), facts) or " ".join(bullets[:4])
    raw_title = data.get("title")
    title = raw_title if isinstance(raw_title, str) else ""
    title = " ".join(title.split()) if not has_title and facts.supports(title) else ""
    return Brief(
        bullets=bullets,
        terms=_terms(data.get("terms"), facts),
        paragraph=paragraph,
        title=title,
    )


def _is_bullet(text: str) -> bool:
    return (
        len(text.split()) <= MAX_BULLET_WORDS
        and is_complete_sentence(text, 3)
        and not (is_question(text) or has_url(text) or unbalanced_quotes(text))
    )


def _paragraph(raw: object, facts: _Facts) -> str:
    """The faithful, whole sentences of the paragraph, within its bounds."""
    if not isinstance(raw, str):
        return ""
    kept = [
        s
        for s in split_sentences(" ".join(raw.split()))
        if is_complete_sentence(s, 3) and facts.supports(s)
    ][:MAX_PARAGRAPH_SENTENCES]
    while kept and len(" ".join(kept).split()) > MAX_PARAGRAPH_WORDS:
        kept.pop()
    return " ".join(kept)


def _terms(raw: object, facts: _Facts) -> list[Term]:
    """Terms whose words occur in the item, each with a one- or two-sentence definition."""
    if not isinstance(raw, list):
        return []
    terms = []
    for t in raw:
        if not isinstance(t, dict):
            continue
        term, definition = t.get("term"), t.get("definition")
        if not (isinstance(term, str) and isinstance(definition, str)):
            continue
        term, definition = " ".join(term.split()), " ".join(definition.split())
        sentences = split_sentences(definition)
        if (
            term
            and facts.mentions(term)
            and 1 <= len(sentences) <= 2
            and all(is_complete_sentence(s, 2) for s in sentences)
            and len(definition.split()) <= MAX_TERM_DEFINITION_WORDS
            and facts.numbers_in(definition)
        ):
            terms.append(Term(term, definition))
    return terms[:MAX_TERMS]


class _Facts:
    """What the item says, to check the model's sentences against: its numbers and its words."""

    def __init__(self, item_text: str) -> None:
        self.folded = item_text.casefold()
        self.numbers = {_norm_number(n) for n in _NUMBER_RE.findall(item_text)}
        self.words = set(re.findall(r"\w+", self.folded))

    def numbers_in(self, sentence: str) -> bool:
        """True when every number in the sentence is one the item gives."""
        return all(_norm_number(n) in self.numbers for n in _NUMBER_RE.findall(sentence))

    def supports(self, sentence: str) -> bool:
        """True when every number and every name in the sentence occurs in the item."""
        if not self.numbers_in(sentence):
            return False
        return all(
            all(w in self.words for w in re.findall(r"\w+", name.casefold()))
            for name in _NAME_RE.findall(sentence)
        )

    def mentions(self, term: str) -> bool:
        """True when the term, or each of its words, occurs in the item."""
        if term.casefold() in self.folded:
            return True
        return all(w in self.words for w in re.findall(r"\w+", term.casefold()))


def _norm_number(number: str) -> str:
    return number.replace(",", "")

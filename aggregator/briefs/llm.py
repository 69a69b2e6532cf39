"""Optional LLM back end: the same brief from an OpenAI-compatible ``/chat/completions`` API.

OpenAI, Ollama, vLLM and llama.cpp all serve this API. The reply must be one JSON object
``{"bullets": [...], "terms": [{"term", "definition"}], "paragraph": "..."}``; it is validated
(types, counts, lengths, whole sentences, terms that occur in the item) before use. On a timeout,
an HTTP or network error or an invalid reply, ``brief`` logs one line naming the item and returns
None, and the caller falls back to the extractive summarizer. So it does once ``max_calls`` calls
have been made. The client is the standard library's urllib: one blocking call per brief, so no
event loop is needed inside the scheduler's worker threads.
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

from aggregator.briefs.model import (
    MAX_BULLET_WORDS,
    MAX_BULLETS,
    MAX_DEFINITION_WORDS,
    MAX_TERMS,
    Brief,
    Term,
)
from aggregator.briefs.terms import merge_terms
from aggregator.briefs.text import is_complete_sentence

log = logging.getLogger(__name__)

MAX_PARAGRAPH_WORDS = 120
MAX_REPLY_BYTES = 1_000_000

SYSTEM_PROMPT = """You write faithful news briefs. Use only facts stated in the item.
Reply with one JSON object and nothing else:
{"bullets": ["3 to 8 complete sentences (fewer for a short item) that carry the story, in the item's order"],
 "terms": [{"term": "a key term that occurs in the item", "definition": "one sentence defining it"}],
 "paragraph": "one paragraph of at most 90 words"}
Give 0 to 4 terms, and only terms you can define from the item or common knowledge."""

_FENCE_RE = re.compile(r"^```(?:json)?\s*|\s*```$")


class InvalidBrief(ValueError):
    """The model's reply is not a usable brief; the message says why."""


@dataclass
class LLMSummarizer:
    """A chat-completions client with a per-run call cap. Share one instance per run."""

    base_url: str
    """e.g. "https://api.openai.com/v1" or "http://127.0.0.1:11434/v1"."""
    model: str
    api_key: str | None = None
    timeout: float = 30.0
    max_calls: int = 100
    json_mode: bool = True
    """Send ``response_format: json_object`` (turn off for servers that reject it)."""
    max_input_chars: int = 12_000
    calls: int = field(default=0, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def name(self) -> str:
        return f"llm:{self.model}"

    def _take_call(self) -> bool:
        with self._lock:
            if self.calls >= self.max_calls:
                return False
            self.calls += 1
            if self.calls == self.max_calls:
                log.info("LLM call cap of %d reached; later briefs are extractive", self.max_calls)
            return True

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
            reply = self._post(title, text[: self.max_input_chars])
            brief = parse_reply(reply, f"{title}\n{text}")
        except (OSError, http.client.HTTPException, InvalidBrief) as exc:  # timeouts are OSError
            log.warning("brief %s: LLM %s failed (%s); using extractive", item_label or title[:60],
                        self.model, _reason(exc))  # fmt: skip
            return None
        brief.terms = merge_terms(glossary_terms, brief.terms)
        brief.language, brief.reading_minutes, brief.summarizer = (
            language,
            reading_minutes,
            self.name,
        )
        return brief

    def _post(self, title: str, text: str) -> str:
        body: dict = {
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": f"Title: {title}\n\nItem:\n{text}"},
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


def parse_reply(content: object, item_text: str) -> Brief:
    """Validate the model's JSON content into a Brief, or raise InvalidBrief saying why."""
    if not isinstance(content, str):
        raise InvalidBrief("message content is not a string")
    try:
        data = json.loads(_FENCE_RE.sub("", content.strip()))
    except ValueError:
        raise InvalidBrief("reply is not JSON") from None
    if not isinstance(data, dict):
        raise InvalidBrief("reply is not a JSON object")
    bullets = data.get("bullets")
    if not isinstance(bullets, list) or not 1 <= len(bullets) <= MAX_BULLETS:
        raise InvalidBrief("bullets must be a list of 1 to 8 sentences")
    for b in bullets:
        if not isinstance(b, str) or not _is_sentence(b, MAX_BULLET_WORDS):
            raise InvalidBrief(f"bullet is not a sentence: {str(b)[:60]!r}")
    paragraph = data.get("paragraph")
    if not isinstance(paragraph, str) or not paragraph.strip() or "\n\n" in paragraph.strip():
        raise InvalidBrief("paragraph must be one non-empty paragraph")
    if len(paragraph.split()) > MAX_PARAGRAPH_WORDS:
        raise InvalidBrief(f"paragraph longer than {MAX_PARAGRAPH_WORDS} words")
    return Brief(
        bullets=[" ".join(b.split()) for b in bullets],
        terms=_parse_terms(data.get("terms", []), item_text.casefold()),
        paragraph=" ".join(paragraph.split()),
    )


def _parse_terms(raw: object, item_folded: str) -> list[Term]:
    if not isinstance(raw, list) or len(raw) > MAX_TERMS:
        raise InvalidBrief("terms must be a list of at most 4")
    terms = []
    for t in raw:
        if not isinstance(t, dict) or not all(
            isinstance(t.get(k), str) for k in ("term", "definition")
        ):
            raise InvalidBrief("each term needs a string term and definition")
        term, definition = t["term"].strip(), " ".join(t["definition"].split())
        if not term or term.casefold() not in item_folded:
            raise InvalidBrief(f"term {term!r} does not occur in the item")
        if not _is_sentence(definition, MAX_DEFINITION_WORDS, min_words=2):
            raise InvalidBrief(f"definition of {term!r} is not one sentence")
        terms.append(Term(term, definition))
    return terms


def _is_sentence(text: str, max_words: int, min_words: int = 3) -> bool:
    return len(text.split()) <= max_words and is_complete_sentence(text.strip(), min_words)

"""Optional LLM back end: the product's brief from an OpenAI-compatible ``/chat/completions`` API.

OpenAI, Ollama, vLLM and llama.cpp all serve this API. The model is shown the item (all of it,
or its first ``max_input_chars`` characters and a note that it was cut), the glossary terms
already defined, and one example of the brief's shape; it answers with bullets that each quote
the item's passage they retell. Every bullet, paragraph sentence, term definition and title goes
through ``briefs/faithful.py`` (names, numbers, dates, quotations, the passage, polarity): what
the item does not support is dropped with one log line naming the item and the reason, and when
what is left is thin (the first bullet dropped, or fewer than two left) ``brief``
returns None and the caller falls back to the extractive summarizer. So it does for a reply in
another language, a reply that is not JSON, an HTTP error or a timeout; once ``max_calls`` calls
or the token budget of the run (or of the item's source) is spent; and once the circuit breaker
is open: after ``breaker_after`` consecutive failures no more calls are made in this run. Tokens
are counted from the reply's ``usage``, else estimated. The client is the standard library's
urllib: one blocking call per brief, so no event loop is needed inside the worker threads.
"""

from __future__ import annotations

import contextvars
import http.client
import json
import logging
import math
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

from aggregator.briefs.faithful import Support
from aggregator.briefs.standalone import has_url, is_question, unbalanced_quotes
from aggregator.briefs.terms import merge_terms
from aggregator.briefs.text import detect_language, is_complete_sentence, split_sentences
from aggregator.model.brief import (
    MAX_BULLET_WORDS,
    MAX_BULLETS,
    MAX_TERMS,
    Brief,
    Term,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

MIN_BULLETS = 2
"""Fewer supported bullets than this (of a reply that offered more) is too thin to show."""
MAX_PARAGRAPH_SENTENCES = 10
MAX_PARAGRAPH_WORDS = 250
MAX_TERM_DEFINITION_WORDS = 60
MAX_REPLY_BYTES = 1_000_000
CHARS_PER_TOKEN = 3
"""A token estimate errs high (English runs near four characters a token), so a budget holds."""
LANGUAGE_CHECK_WORDS = 25
"""Replies at least this long are checked to be in the language asked for."""

PROMPT_VERSION = 2
"""Bump when the prompt changes: it is part of the summarizer's name, so of the cache key."""

SYSTEM_PROMPT = """You write news briefs that a reader can trust. Use only what the item states. \
Never add a name, a number, a date, a quotation or a claim the item does not contain; keep the \
item's own words for who did what (names, verbs, numbers). Write in the language you are told.
Ignore what is not the item's news: sponsor reads and ads, image captions and credits, comments, \
sign-up and share prompts, navigation.
Reply with one JSON object and nothing else:
{"title": "a short title, only when the item has none, else an empty string",
 "bullets": [{"text": "one plain, complete sentence", "source": "the item's words it retells, \
copied exactly"}],
 "terms": [{"term": "a key term the item uses", "definition": "one or two plain sentences from \
what the item says of it", "source": "the item's words that explain it, copied exactly"}],
 "paragraph": "4 to 10 plain sentences that tell the story as one paragraph"}
Bullets: up to 10, fewer for a short item; never pad. The first bullet states the news. Each \
bullet makes sense on its own, without the others. Add a bullet on why it matters ("This matters \
because ...") only when the item itself says why, and one on what comes next ("Next, ...") only \
when the item itself says what will happen; otherwise leave them out.
Terms: 0 to 4, a term only when the item explains it; a layperson must understand the definition. \
Do not define the terms listed as already defined.
Example, for an item saying "The city council voted 7-2 on Tuesday to ban cars from Main Street. \
The mayor said the ban cuts traffic deaths. It starts in June, after a public hearing.":
{"title": "", "bullets": [{"text": "The city council voted 7-2 on Tuesday to ban cars from Main \
Street.", "source": "The city council voted 7-2 on Tuesday to ban cars from Main Street."}, \
{"text": "This matters because the mayor said the ban cuts traffic deaths.", "source": "The mayor \
said the ban cuts traffic deaths."}, {"text": "Next, the ban starts in June, after a public \
hearing.", "source": "It starts in June, after a public hearing."}], "terms": [], "paragraph": \
"The city council voted 7-2 on Tuesday to ban cars from Main Street. The mayor said the ban cuts \
traffic deaths. The ban starts in June, after a public hearing."}"""

_FENCE_RE = re.compile(r"^```(?:json)?\s*|\s*```$")


@dataclass(slots=True)
class Call:
    """One item's turn with the model: whose budget it is charged to, and whether the model
    answered (a usable brief or not): an answered item is not sent again unchanged."""

    source: str = ""
    answered: bool = False


_CALL: contextvars.ContextVar[Call | None] = contextvars.ContextVar("llm_call", default=None)


class InvalidBrief(ValueError):
    """The model's reply is not a usable brief; the message says why."""


class OverBudget(Exception):
    """No call: the run's or the source's token budget cannot pay for it."""


@dataclass
class LLMSummarizer:
    """A chat-completions client with a per-run call cap, token budgets and a circuit breaker.

    Share one instance per run: the caps, budgets and the breaker count within it, so a later
    run (a new instance) tries the endpoint again.
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
    max_tokens_per_run: int = 0
    """Tokens (prompt and reply) this run may spend; 0: no limit but ``max_calls``."""
    max_tokens_per_source: int = 0
    """Tokens one source's items may spend in this run; 0: no limit."""
    reply_tokens: int = 1500
    """The reply's cap (``max_tokens``), reserved from the budget before each call."""
    tags: tuple[str, ...] = ()
    """Only sources with one of these tags are served (a source's own ``llm`` overrides)."""
    calls: int = field(default=0, init=False)
    failures: int = field(default=0, init=False)
    """Consecutive failures so far (a usable reply resets it)."""
    tokens: int = field(default=0, init=False)
    tokens_by_source: dict[str, int] = field(default_factory=dict, init=False)
    _reserved: int = field(default=0, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def name(self) -> str:
        """The summarizer's name: the model and the prompt's version, so a change of either
        is a new cache key."""
        return f"llm:{self.model}:p{PROMPT_VERSION}"

    @property
    def available(self) -> bool:
        """True while calls and tokens remain and the breaker is closed."""
        return (
            self.calls < self.max_calls
            and self.failures < self.breaker_after
            and (not self.max_tokens_per_run or self.tokens < self.max_tokens_per_run)
        )

    def usage(self) -> dict[str, Any]:
        """What this run spent, and its limits: what ``status`` and ``/metrics`` show."""
        with self._lock:
            return {
                "model": self.name,
                "calls": self.calls,
                "max_calls": self.max_calls,
                "tokens": self.tokens,
                "max_tokens_per_run": self.max_tokens_per_run,
                "max_tokens_per_source": self.max_tokens_per_source,
                "by_source": dict(sorted(self.tokens_by_source.items(), key=lambda kv: -kv[1])),
                "breaker_open": self.failures >= self.breaker_after,
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
            }

    def serves(self, source_tags: Sequence[str], source_llm: bool | None) -> bool:
        """True when a source with these tags and this ``llm`` setting is briefed by the model."""
        if source_llm is not None:
            return source_llm
        return not self.tags or bool(set(self.tags) & {t.casefold() for t in source_tags})

    @contextmanager
    def call_for(self, source: str) -> Iterator[Call]:
        """Charge the call made inside to ``source``'s budget; the Call says if it was answered."""
        call = Call(source)
        token = _CALL.set(call)
        try:
            yield call
        finally:
            _CALL.reset(token)

    def _take_call(self, cost: int, source: str) -> bool:
        with self._lock:
            if not self.available:
                return False
            if (
                self.max_tokens_per_run
                and self.tokens + self._reserved + cost > self.max_tokens_per_run
            ):
                return False
            spent = self.tokens_by_source.get(source, 0)
            if self.max_tokens_per_source and spent + cost > self.max_tokens_per_source:
                return False
            self.calls += 1
            self._reserved += cost
            if self.calls == self.max_calls:
                log.info("LLM call cap of %d reached; later briefs are extractive", self.max_calls)
            return True

    def _charge(self, reserved: int, used: int, source: str) -> None:
        with self._lock:
            self._reserved -= reserved
            self.tokens += used
            self.tokens_by_source[source] = self.tokens_by_source.get(source, 0) + used

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
        label = item_label or title[:60]
        messages = prompt_messages(title, text, language, glossary_terms, self.max_input_chars)

        def parse(reply: str) -> Brief:
            return parse_reply(
                reply,
                text,
                has_title=bool(title.strip()),
                title=title,
                language=language,
                item_label=label,
            )

        brief = self.ask(messages, parse, f"brief {label}", "using extractive")
        if brief is None:
            return None
        brief.terms = merge_terms(glossary_terms, brief.terms)
        brief.language, brief.reading_minutes, brief.summarizer = (
            language,
            reading_minutes,
            self.name,
        )
        return brief

    def ask(
        self,
        messages: list[dict[str, str]],
        parse: Callable[[str], T],
        what: str,
        instead: str,
    ) -> T | None:
        """One call within the caps and budgets, its reply read by ``parse`` (which raises
        InvalidBrief for an unusable one); None, logged as ``what`` failed and what is done
        ``instead``, on any failure. The Call of :meth:`call_for` says whether it was answered."""
        cost = estimate_tokens(messages) + self.reply_tokens
        call = _CALL.get() or Call()
        source = call.source
        if not self._take_call(cost, source):
            return None
        used = cost
        try:
            reply, used = self._post(messages, cost)
            call.answered = True
            result = parse(reply)
        except (OSError, http.client.HTTPException, InvalidBrief) as exc:  # timeouts are OSError
            self._record(ok=False)
            log.warning("%s: LLM %s failed (%s); %s", what, self.model, _reason(exc), instead)
            return None
        finally:
            self._charge(cost, used, source)
        self._record(ok=True)
        return result

    def _post(self, messages: list[dict[str, str]], estimate: int) -> tuple[str, int]:
        """The reply's content and the tokens the call used (its ``usage``, else ``estimate``
        less the unused part of the reply's cap)."""
        body: dict = {
            "model": self.model,
            "temperature": 0,
            "max_tokens": self.reply_tokens,
            "messages": messages,
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
            data = json.loads(raw)
            content = data["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError) as exc:
            raise InvalidBrief(f"not a chat completion: {exc!r}") from None
        return content, _usage(data, content, estimate - self.reply_tokens)


def _usage(data: object, content: object, prompt_estimate: int) -> int:
    """Tokens a completion used: its ``usage.total_tokens`` when it is a sane count."""
    usage = data.get("usage") if isinstance(data, dict) else None
    total = usage.get("total_tokens") if isinstance(usage, dict) else None
    if isinstance(total, int) and not isinstance(total, bool) and 0 < total < 10_000_000:
        return total
    reply = len(content) if isinstance(content, str) else 0
    return prompt_estimate + math.ceil(reply / CHARS_PER_TOKEN)


def estimate_tokens(messages: Sequence[dict[str, str]]) -> int:
    """A high estimate of the tokens of the messages."""
    return sum(math.ceil(len(m["content"]) / CHARS_PER_TOKEN) + 4 for m in messages)


def prompt_messages(
    title: str,
    text: str,
    language: str,
    glossary_terms: Sequence[Term] = (),
    max_chars: int = 12_000,
) -> list[dict[str, str]]:
    """The chat messages for one item: the item whole, or cut at a line within ``max_chars``
    with a note saying how much was left out."""
    shown = text
    note = ""
    if len(text) > max_chars:
        cut = text.rfind("\n", 0, max_chars)
        shown = text[: cut if cut > max_chars // 2 else max_chars]
        note = (
            f"\n\n[The item was cut here: {len(shown):,} of its {len(text):,} characters are "
            "shown. Brief only what is shown.]"
        )
    defined = ", ".join(t.term for t in glossary_terms)
    user = (
        f"Language: {language}\nTitle: {title or '(none)'}\n"
        + (f"Terms already defined: {defined}\n" if defined else "")
        + f"\nItem:\n{shown}{note}"
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _reason(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return f"network: {exc.reason}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc) or type(exc).__name__


def reply_object(content: object) -> dict[str, Any]:
    """The JSON object a model replied with (a code fence around it is allowed), or
    InvalidBrief saying why there is none."""
    if not isinstance(content, str):
        raise InvalidBrief("message content is not a string")
    try:
        data = json.loads(_FENCE_RE.sub("", content.strip()))
    except ValueError:
        raise InvalidBrief("reply is not JSON (cut off, or not an object)") from None
    if not isinstance(data, dict):
        raise InvalidBrief("reply is not a JSON object")
    return data


def parse_reply(
    content: object,
    item_text: str,
    *,
    has_title: bool = True,
    title: str = "",
    language: str = "en",
    item_label: str = "",
) -> Brief:
    """Check the model's JSON content against the item and keep what it supports, or raise
    InvalidBrief saying why nothing usable is left.

    Each dropped bullet, paragraph sentence and term is logged with the item and the reason.
    """
    data = reply_object(content)
    raw = data.get("bullets")
    if not isinstance(raw, list) or not raw:
        raise InvalidBrief("bullets must be a non-empty list of sentences")
    support = Support(item_text, language, title)
    checker = _Checker(support, item_label)
    offered = [_bullet(b) for b in raw[:MAX_BULLETS]]
    _check_language(offered, data.get("paragraph"), language)
    kept = [checker.keep("bullet", n, text, source) for n, (text, source) in enumerate(offered, 1)]
    bullets = [b for b in kept if b]
    if not bullets:
        raise InvalidBrief("no bullet is a faithful, self-contained sentence")
    if not kept[0]:
        raise InvalidBrief("the first bullet, the news, is not supported by the item")
    if len(bullets) < min(MIN_BULLETS, len(kept)):
        raise InvalidBrief(f"only {len(bullets)} of {len(kept)} bullets are supported by the item")
    paragraph = _paragraph(data.get("paragraph"), checker, language) or " ".join(bullets[:4])
    raw_title = data.get("title")
    new_title = " ".join(raw_title.split()) if isinstance(raw_title, str) else ""
    if has_title or not new_title or support.check(new_title) is not None:
        new_title = ""
    return Brief(
        bullets=bullets,
        terms=_terms(data.get("terms"), checker, language),
        paragraph=paragraph,
        title=new_title,
    )


def _bullet(raw: object) -> tuple[str, str | None]:
    """A bullet's sentence and the passage it quotes (None when it quotes none)."""
    if isinstance(raw, dict):
        text, source = raw.get("text"), raw.get("source")
        return (
            " ".join(text.split()) if isinstance(text, str) else "",
            source if isinstance(source, str) and source.strip() else None,
        )
    return (" ".join(raw.split()) if isinstance(raw, str) else ""), None


def _check_language(
    bullets: Sequence[tuple[str, str | None]], paragraph: object, language: str
) -> None:
    """Refuse a reply long enough to tell that is written in another language."""
    said = " ".join(text for text, _ in bullets)
    if isinstance(paragraph, str):
        said += " " + paragraph
    if len(said.split()) >= LANGUAGE_CHECK_WORDS and (found := detect_language(said)) != language:
        raise InvalidBrief(f"reply is in {found!r}, not {language!r}")


@dataclass
class _Checker:
    """Keeps what the item supports and logs what it drops."""

    support: Support
    item_label: str

    def keep(self, what: str, n: int, text: str, source: str | None = None) -> str:
        """``text`` when it is a well-formed sentence the item supports, else "" (logged)."""
        if what == "bullet" and not _is_bullet(text):
            reason: str | None = "not a plain, whole sentence"
        elif what != "bullet" and not is_complete_sentence(text, 2):
            reason = "not a whole sentence"
        else:
            reason = self.support.check(text, source)
        if reason is None:
            return text
        log.info("brief %s: dropped %s %d, %s: %.120r", self.item_label, what, n, reason, text)
        return ""


def _is_bullet(text: str) -> bool:
    return (
        len(text.split()) <= MAX_BULLET_WORDS
        and is_complete_sentence(text, 3)
        and not (is_question(text) or has_url(text) or unbalanced_quotes(text))
    )


def _paragraph(raw: object, checker: _Checker, language: str) -> str:
    """The supported, whole sentences of the paragraph, within its bounds."""
    if isinstance(raw, list):
        raw = " ".join(s for s in raw if isinstance(s, str))
    if not isinstance(raw, str):
        return ""
    sentences = split_sentences(" ".join(raw.split()), language)
    kept = [
        s
        for n, s in enumerate(sentences, 1)
        if is_complete_sentence(s, 3) and checker.keep("paragraph sentence", n, s)
    ][:MAX_PARAGRAPH_SENTENCES]
    while kept and len(" ".join(kept).split()) > MAX_PARAGRAPH_WORDS:
        kept.pop()
    return " ".join(kept)


def _terms(raw: object, checker: _Checker, language: str) -> list[Term]:
    """Terms the item uses, each defined in one or two sentences the item supports."""
    if not isinstance(raw, list):
        return []
    terms = []
    for n, t in enumerate(raw, 1):
        if not isinstance(t, dict):
            continue
        term, definition, source = t.get("term"), t.get("definition"), t.get("source")
        if not (isinstance(term, str) and isinstance(definition, str)):
            continue
        term, definition = " ".join(term.split()), " ".join(definition.split())
        quoted = source if isinstance(source, str) and source.strip() else None
        sentences = split_sentences(definition, language)
        if not (
            term
            and checker.support.mentions(term)
            and 1 <= len(sentences) <= 2
            and len(definition.split()) <= MAX_TERM_DEFINITION_WORDS
        ):
            log.info("brief %s: dropped term %d, not in the item or not 1-2 sentences: %.60r",
                     checker.item_label, n, term)  # fmt: skip
            continue
        if all(checker.keep("term definition", n, s, quoted) for s in sentences):
            terms.append(Term(term, definition))
    return terms[:MAX_TERMS]

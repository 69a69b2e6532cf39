"""A brief in the reader's language: the model's translation, checked, cached per (item, language).

The model is shown the brief (its story's title, bullets, terms and paragraph) as JSON and answers
with the same object in the reader's language. Each string goes through
``faithful.check_translation`` against the string it translates (names, numbers, dates, negation,
length); a reply in another language, one that is not the same shape, or one any string of which
fails is refused whole (logged with the item and the reason): the digest then shows the original,
and says so. A translation is stored per (item, language) under a key over what it was made from
(the brief's own cache key, the story's title, the model and this prompt's version, the language),
so each is asked for once; a refused one is stored empty under the same key and not asked again
until one of those changes. Calls count against the LLM's caps and budgets like briefs do.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from sqlalchemy import select

from aggregator.briefs.faithful import check_translation
from aggregator.briefs.llm import LANGUAGE_CHECK_WORDS, InvalidBrief, LLMSummarizer, reply_object
from aggregator.briefs.text import detect_language
from aggregator.model.brief import Brief, Term
from aggregator.store.chunks import rows_in
from aggregator.store.db import Database
from aggregator.store.models import BriefTranslation
from aggregator.templating import locale_for

log = logging.getLogger(__name__)

TRANSLATION_PROMPT_VERSION = 1
"""Bump when the prompt changes: it is part of the translator's name, so of the cache key."""

SYSTEM_PROMPT = """You translate news briefs for readers of another language. You are given one \
JSON object; reply with the same object, every string translated into {name} (language code \
{tag}), and nothing else. Translate faithfully and plainly: add nothing, leave nothing out. Keep \
every name of a person, company, product or place as written (a country may take its usual name \
in {name}), keep every number as digits where the brief has digits, and keep each bullet one \
sentence. Keep the same keys, the same number of bullets and terms, in the same order."""


@dataclass(frozen=True, slots=True)
class TranslationJob:
    """One story's brief to show in another language: its primary item, the title shown above
    it, the brief and the brief's own cache key, and its source's name for log lines and budgets."""

    item_id: int
    title: str
    brief: Brief
    brief_key: str
    label: str = ""


def translator_name(llm: LLMSummarizer) -> str:
    """The model and the translation prompt's version: a change of either is a new cache key."""
    return f"llm:{llm.model}:t{TRANSLATION_PROMPT_VERSION}"


def translation_key(job: TranslationJob, translator: str, language: str) -> str:
    """What a translation was made from, hashed: the brief's key, the title, the model and the
    prompt's version, the language."""
    text = f"translation\0{translator}\0{language}\0{job.brief_key}\0{job.title}"
    return hashlib.sha256(text.encode()).hexdigest()


def language_name(language: str) -> str:
    """The language's English name for the prompt ("French" for fr), else the tag itself."""
    locale = locale_for(language)
    return (locale.get_display_name("en") if locale else None) or language


def prompt_messages(job: TranslationJob, language: str) -> list[dict[str, str]]:
    """The chat messages asking for one brief in ``language``."""
    payload = {
        "title": job.title,
        "bullets": list(job.brief.bullets),
        "terms": [{"term": t.term, "definition": t.definition} for t in job.brief.terms],
        "paragraph": job.brief.paragraph,
    }
    system = SYSTEM_PROMPT.format(name=language_name(language), tag=language)
    user = f"Translate into: {language}\nBrief:\n{json.dumps(payload, ensure_ascii=False)}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def parse_translation(content: str, job: TranslationJob, language: str) -> Brief:
    """The translated brief, every string checked against the one it translates; InvalidBrief
    saying why when any is missing or fails."""
    data = reply_object(content)
    source = job.brief.language
    bullets = _strings(data.get("bullets"), len(job.brief.bullets), "bullets")
    raw_terms = data.get("terms") or []
    if not isinstance(raw_terms, list) or len(raw_terms) != len(job.brief.terms):
        raise InvalidBrief("terms are not the brief's terms")
    terms: list[Term] = []
    for known, raw in zip(job.brief.terms, raw_terms, strict=True):
        term = raw.get("term") if isinstance(raw, dict) else None
        definition = raw.get("definition") if isinstance(raw, dict) else None
        if not (isinstance(term, str) and term.strip() and isinstance(definition, str)):
            raise InvalidBrief("a term is not a term and its definition")
        terms.append(Term(" ".join(term.split()), " ".join(definition.split())))
        _check("term definition", known.definition, terms[-1].definition, source, language)
    title = _one(data.get("title"), "title") if job.title else ""
    paragraph = _one(data.get("paragraph"), "paragraph") if job.brief.paragraph else ""
    pairs = [("title", job.title, title), ("paragraph", job.brief.paragraph, paragraph)]
    pairs += [("bullet", a, b) for a, b in zip(job.brief.bullets, bullets, strict=True)]
    for what, original, translated in pairs:
        if original:
            _check(what, original, translated, source, language)
    said = " ".join([*bullets, paragraph, *(t.definition for t in terms)])
    primary = language.split("-")[0].lower()
    if len(said.split()) >= LANGUAGE_CHECK_WORDS and (found := detect_language(said)) != primary:
        raise InvalidBrief(f"reply is in {found!r}, not {language!r}")
    return Brief(
        bullets=bullets,
        terms=terms,
        paragraph=paragraph,
        reading_minutes=job.brief.reading_minutes,
        language=language,
        summarizer=job.brief.summarizer,
        title=title,
    )


def _strings(raw: object, count: int, what: str) -> list[str]:
    if not isinstance(raw, list) or len(raw) != count or not all(isinstance(s, str) for s in raw):
        raise InvalidBrief(f"{what} are not {count} strings")
    return [" ".join(s.split()) for s in raw]


def _one(raw: object, what: str) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidBrief(f"the {what} is missing")
    return " ".join(raw.split())


def _check(what: str, original: str, translated: str, source: str, target: str) -> None:
    reason = check_translation(original, translated, source, target)
    if reason is not None:
        raise InvalidBrief(f"{what} {translated[:60]!r}: {reason}")


def translate_briefs(
    db: Database, llm: LLMSummarizer | None, jobs: Sequence[TranslationJob], language: str
) -> dict[int, Brief]:
    """The briefs of ``jobs`` in ``language``, by item id: cached ones, then the model's for the
    rest (stored). An item missing from the answer is shown in its original language."""
    if not jobs or not language:
        return {}
    translator = translator_name(llm) if llm is not None else ""
    by_item = {job.item_id: job for job in jobs}
    out: dict[int, Brief] = {}
    known: set[int] = set()
    with db.session() as session:
        query = select(BriefTranslation).where(BriefTranslation.language == language)
        for (row,) in rows_in(session, query, BriefTranslation.item_id, list(by_item)):
            if row.content_hash != translation_key(by_item[row.item_id], row.translator, language):
                continue  # made from another brief or title: asked again
            if llm is not None and row.translator != translator:
                continue  # by another model or prompt, and this one may do better
            known.add(row.item_id)
            if row.data is not None:
                out[row.item_id] = Brief.from_dict(row.data)
    if llm is None:
        return out
    made: list[dict] = []
    for job in jobs:
        if job.item_id in known or not llm.available:
            continue
        label = f"item={job.item_id} source={job.label!r}"
        with llm.call_for(job.label) as call:
            brief = llm.ask(
                prompt_messages(job, language),
                partial(parse_translation, job=job, language=language),
                f"translation into {language} of {label}",
                "showing the original",
            )
        if brief is None and not call.answered:
            continue  # no answer (an error, a cap): asked again next time
        if brief is not None:
            out[job.item_id] = brief
        made.append(
            {
                "item_id": job.item_id,
                "language": language,
                "content_hash": translation_key(job, translator, language),
                "data": brief.to_dict() if brief is not None else None,
                "translator": translator,
                "created_at": datetime.now(UTC),
            }
        )
    if made:
        _store(db, made)
    return out


def _store(db: Database, rows: list[dict]) -> None:
    """Insert the translations, or replace an older one of the same item and language."""
    with db.engine.begin() as connection:
        upsert = db.insert(BriefTranslation)
        connection.execute(
            upsert.on_conflict_do_update(
                index_elements=[BriefTranslation.item_id, BriefTranslation.language],
                set_={
                    c: upsert.excluded[c]
                    for c in ("content_hash", "data", "translator", "created_at")
                },
            ),
            rows,
        )

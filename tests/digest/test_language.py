"""Digests in the reader's language, end to end: a real aiosmtpd server and the loopback model
that translates (a word table standing in for French), or no model at all."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import lxml.html
import pytest
from sqlalchemy import func, select

from aggregator.briefs.pipeline import make_briefs
from aggregator.config import Settings, from_mapping
from aggregator.digest.outbox import Outbox
from aggregator.mail.transport import SMTPTransport
from aggregator.model.entry import Entry
from aggregator.store.db import Database
from aggregator.store.items import store_entries
from aggregator.store.models import BriefTranslation, Edition, Source
from aggregator.store.subscribers import upsert_subscriber
from tests.support.llmserver import TRANSLATION_PROMPT, LLMServer, word_translation

T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)  # a Monday
BRIDGE = (
    "<p>The city council voted on Tuesday to close the old bridge. Mayor Anna Berg said the "
    "bridge is not safe for cars. Engineers found deep cracks in the steel beams of the bridge. "
    "The bridge is more than 90 years old. A new bridge will open after 12 weeks of work. "
    "Residents can use a free ferry until the new bridge opens. The ferry leaves every 20 "
    "minutes from the old harbour.</p>"
)
PARK = (
    "<p>The city opened a new park on Tuesday near the old harbour. The park has 300 new trees "
    "and a small lake. Mayor Anna Berg said the park is free for all residents. Children can "
    "play in the park every day until 9 in the evening. The city will plant 40 more trees in "
    "the spring. Residents can use the ferry to reach the park.</p>"
)
FRENCH = {
    "the": "le", "city": "ville", "council": "conseil", "voted": "a voté", "on": "sur", "to": "pour",
    "close": "fermer", "old": "vieux", "bridge": "pont", "mayor": "maire", "said": "a dit que",
    "is": "est", "not": "pas", "safe": "sûr", "for": "pour", "cars": "voitures",
    "engineers": "ingénieurs", "found": "ont trouvé", "deep": "profondes", "cracks": "fissures",
    "in": "dans", "steel": "acier", "beams": "poutres", "of": "de", "more": "plus", "than": "que",
    "years": "ans", "a": "un", "new": "nouveau", "will": "va", "open": "ouvrir",
    "after": "après", "weeks": "semaines", "work": "travaux", "residents": "habitants",
    "can": "peuvent", "use": "utiliser", "free": "gratuit", "ferry": "bac", "until": "jusqu'à",
    "opens": "ouvre", "leaves": "part", "every": "toutes les", "minutes": "minutes",
    "from": "depuis", "harbour": "port", "tuesday": "mardi", "opened": "a ouvert",
    "park": "parc", "near": "près de", "has": "a", "trees": "arbres", "and": "et",
    "small": "petit", "lake": "lac", "all": "tous les", "children": "enfants", "play": "jouer",
    "day": "jour", "evening": "soir", "plant": "planter", "spring": "printemps",
    "reach": "rejoindre", "boat": "bateau", "that": "qui", "carries": "transporte",
    "people": "personnes", "across": "à travers", "water": "eau", "closes": "ferme",
    "gets": "reçoit", "ferries": "bacs", "river": "rivière", "short": "court", "trip": "trajet",
}  # fmt: skip
GLOSSARY = '"ferry" = "A boat that carries people and cars across water on a short trip."\n'


def make_settings(tmp_path: Path, llm_url: str | None) -> Settings:
    glossary = tmp_path / "glossary.toml"
    glossary.write_text(GLOSSARY)
    briefs: dict = {"glossary": str(glossary)}
    if llm_url:
        briefs["llm"] = {"enabled": True, "base_url": llm_url, "model": "tiny"}
    return from_mapping(
        {
            "general": {"name": "Town News", "base_url": "https://news.example.org"},
            "briefs": briefs,
            "mail": {"from_address": "digest@news.example.org", "list_id": "town.example.org"},
            "digests": [{"name": "daily", "schedule": "0 7 * * *", "max_items": 10}],
        },
        root=tmp_path,
        origin="test",
    )


def add_stories(db: Database, settings: Settings) -> None:
    with db.session() as session:
        source = Source(url="https://town.example/feed", name="Town Hall", tags=["town"])
        session.add(source)
        session.flush()
        entries = [
            Entry(
                key=f"guid:{n}",
                title=title,
                url=f"https://town.example/{n}",
                content_html=html,
                content_text="",
                published=T0 - timedelta(hours=3 + n),
            )
            for n, (title, html) in enumerate(
                [("City council closes the old bridge", BRIDGE), ("City opens a new park", PARK)]
            )
        ]
        result = store_entries(session, source, entries, T0 - timedelta(hours=1))
    make_briefs(db, settings, result.new_ids)  # extractive, in English


@pytest.fixture
def model() -> Iterator[LLMServer]:
    with LLMServer() as server:
        server.translate_with(FRENCH)
        yield server


def deliver(db: Database, settings: Settings, smtp_server, people: dict[str, dict]) -> dict:
    """Subscribe ``people`` (address: their choices), run the day's digest, return each
    address's parsed mail."""
    server = smtp_server(security="none")
    with db.session() as session:
        for address, choices in people.items():
            upsert_subscriber(session, address, digests=["daily"], **choices)
    transport = SMTPTransport("127.0.0.1", server.port, security="none", concurrency=2)
    now = T0 + timedelta(hours=1, minutes=5)
    outbox = Outbox(db, settings, secret_key="s", transport=transport, clock=lambda: now)
    outbox.start_run("daily", T0 + timedelta(hours=1))
    report = outbox.deliver()
    assert report.sent == len(people), report.errors
    return {
        m.rcpt_tos[0]: email.message_from_bytes(m.data, policy=email.policy.default)
        for m in server.messages
    }


def parts(mail: email.message.EmailMessage) -> tuple[str, lxml.html.HtmlElement]:
    text = mail.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = mail.get_body(("html",)).get_content()  # type: ignore[union-attr]
    return text, lxml.html.fromstring(html)


def test_a_french_reader_gets_the_digest_in_french_end_to_end(
    db: Database, tmp_path: Path, smtp_server, model: LLMServer
) -> None:
    settings = make_settings(tmp_path, model.base_url)
    add_stories(db, settings)
    mails = deliver(
        db,
        settings,
        smtp_server,
        {
            "fr@example.org": {"language": "fr"},
            "fr2@example.org": {"language": "fr", "timezone": "Europe/Paris"},
            "en@example.org": {},
        },
    )
    french = mails["fr@example.org"]
    text, doc = parts(french)
    body = doc.text_content()
    title = word_translation("City council closes the old bridge", FRENCH)
    assert french["Subject"] == f"Digest quotidien: {title}"
    assert doc.get("lang") == "fr"
    # the mail's own words, from the French catalogue
    for words in ("À la une", "En bref", "Termes de ce résumé", "Autres résumés", "Se désabonner"):
        assert words in body, words
    for words in ("À LA UNE", "En bref", "Termes de ce résumé", "AUTRES RÉSUMÉS", "Se désabonner"):
        assert words in text, words
    assert "lundi 2 novembre 2026" in text and "min de lecture" in text
    assert any("Lire l’article complet sur Town Hall" in a.text_content() for a in doc.xpath("//a"))
    # the briefs: title, bullets, the term's definition and the paragraphs, translated
    assert title in body and word_translation("City opens a new park", FRENCH) in body
    bullets = [li.text_content() for li in doc.xpath("(//ul)[1]/li")]
    assert bullets and all("pont" in b or "bac" in b or "maire" in b.lower() for b in bullets)
    assert "Anna Berg" in body and "12" in body  # names and numbers kept
    assert word_translation(GLOSSARY.split(" = ")[1].strip('"\n'), FRENCH) in body
    assert "parc" in doc.xpath("//p[@class='brief-text']")[0].text_content()
    for english in ("In brief", "Terms in this brief", "More briefs", "the bridge", "Unsubscribe"):
        assert english not in body and english not in text, english
    assert "langue originale" not in body  # nothing left in the original language

    english = mails["en@example.org"]
    en_text, en_doc = parts(english)
    assert english["Subject"] == "Daily digest: City council closes the old bridge"
    assert en_doc.get("lang") == "en" and "In brief" in en_text and "the old bridge" in en_text
    assert "mardi" not in en_text and "original language" not in en_text

    # each (item, language) was translated once, for both French editions
    asked = [
        r for r in model.requests if r.body["messages"][0]["content"].startswith(TRANSLATION_PROMPT)
    ]
    assert len(asked) == 2
    assert "French" in asked[0].body["messages"][0]["content"]
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Edition)) == 3
        rows = session.scalars(select(BriefTranslation)).all()
        assert {(r.language, r.translator) for r in rows} == {("fr", "llm:tiny:t1")}
        assert all(r.data is not None for r in rows)


def test_without_a_model_the_original_is_sent_and_the_digest_says_so_once(
    sqlite_db: Database, tmp_path: Path, smtp_server
) -> None:
    settings = make_settings(tmp_path, None)
    add_stories(sqlite_db, settings)
    mails = deliver(sqlite_db, settings, smtp_server, {"fr@example.org": {"language": "fr"}})
    text, doc = parts(mails["fr@example.org"])
    body = doc.text_content()
    notice = "Ce digest est dans la langue originale de ses sources."
    assert body.count(notice) == 1 and " ".join(text.split()).count(notice) == 1
    assert body.index(notice) < body.index("À la une")  # near the top
    assert "the old bridge" in body and "En bref" in body  # the brief as written, French words
    assert mails["fr@example.org"]["Subject"].startswith("Digest quotidien: City council")


def test_a_refused_translation_falls_back_to_the_original_and_is_not_asked_again(
    sqlite_db: Database, tmp_path: Path, smtp_server, model: LLMServer
) -> None:
    settings = make_settings(tmp_path, model.base_url)
    add_stories(sqlite_db, settings)
    model.reply_content('{"title": "Ville", "bullets": []}')  # the first story: wrong shape
    people = {
        "fr@example.org": {"language": "fr"},
        "fr2@example.org": {"language": "fr", "timezone": "Europe/Paris"},  # another edition
    }
    mails = deliver(sqlite_db, settings, smtp_server, people)
    asked = [
        r for r in model.requests if r.body["messages"][0]["content"].startswith(TRANSLATION_PROMPT)
    ]
    assert len(asked) == 2  # the refused one was not asked again for the second edition
    text, doc = parts(mails["fr@example.org"])
    notice = "Certains résumés de ce digest sont dans la langue originale de leurs sources."
    assert " ".join(text.split()).count(notice) == 1 and doc.text_content().count(notice) == 1
    with sqlite_db.session() as session:
        rows = session.scalars(select(BriefTranslation)).all()
    assert sorted(r.data is None for r in rows) == [False, True]  # one refused, one kept

"""Sponsor reads, promo codes, calls to action, captions, credits and link lists are classified
as boilerplate, in English, French, German and Spanish, and never reach a brief."""

from __future__ import annotations

import pytest

from aggregator.briefs.boilerplate import is_boilerplate, is_boilerplate_heading
from aggregator.briefs.summarize import make_brief
from aggregator.briefs.text import to_paragraphs


@pytest.mark.parametrize(
    "line",
    [
        "Use code SPRING20 for a $20 credit on your first order.",
        "This episode is brought to you by Acme Mattresses.",
        "Get your first box free when you sign up today.",
        "Subscribe now in your podcast app!",
        "Sign up to get it by email.",
        "Check out the new autumn collections.",
        "Let me know in the comments what I should build next!",
        "Image Source: Wikimedia Commons",
        "Photo: Jane Doe / Getty Images",
        "Abonnez-vous à la chaîne pour ne rien manquer !",
        "Cet épisode est sponsorisé par NordVPN.",
        "Crédit photo : AFP",
        "Par Marie Dupont",
        "Diese Folge wird präsentiert von Squarespace.",
        "Jetzt abonnieren und nichts verpassen!",
        "Von Hans Müller",
        "Foto: dpa",
        "Suscríbete al canal y activa la campana.",
        "Este episodio está patrocinado por Audible.",
        "Por Juan García",
        "Try Onshape Free – Engineers Get Up to 6 Months Pro: https://onshape.pro/x",
        "Subscribe for more content and let me know what you think about this build.",
        "If you’ve got ideas for what I should try next with this project, let me know below!",
        "Si vous avez aimé cette vidéo, abonnez-vous à la chaîne.",
        "Wenn ihr mehr sehen wollt, abonniert den Kanal für neue Folgen jede Woche.",
        "Si te gustó el video, suscríbete para ver el próximo episodio la semana que viene.",
    ],
)
def test_boilerplate_in_four_languages(line: str) -> None:
    assert is_boilerplate(line)


@pytest.mark.parametrize(
    "line",
    [
        "Share prices rose five percent on Monday.",
        "Support for Python 3.13 arrived in version 2.0.",
        "Like many cities, Lyon banned cars from its centre.",
        "The senator said the bill would pass by Friday.",
        "Order matters when the migrations run.",
        "Die Regierung kündigte neue Regeln für Mieten an.",
        "El gobierno anunció nuevas reglas para los alquileres.",
        "Le gouvernement a annoncé de nouvelles règles.",
        "Download speeds doubled on the new network.",
        "If you want to know more about the vote, the council published its minutes on Friday.",
        "Check out how the council voted on the tram line, which opens in 2027 after years of talks.",
    ],
)
def test_news_is_not_boilerplate(line: str) -> None:
    assert not is_boilerplate(line)


def test_structure_marks_link_lists_small_print_and_sponsor_sections() -> None:
    html = (
        "<p>The city council approved the new tram line on Tuesday after a long debate.</p>"
        "<p><em>A tram waits at the depot in the morning light.</em></p>"
        "<ul><li><a href='https://e.org/1'>Ten tips for your garden this spring</a></li>"
        "<li><a href='https://e.org/2'>Why the old bridge closed last year</a></li></ul>"
        "<h2>Sponsors</h2><p>Acme builds the finest trams in the whole wide world today.</p>"
        "<h2>What next</h2><p>Construction starts in March and ends in two years.</p>"
    )
    assert to_paragraphs(html) == [
        "The city council approved the new tram line on Tuesday after a long debate.",
        "What next",
        "Construction starts in March and ends in two years.",
    ]
    assert is_boilerplate_heading("Liens") and is_boilerplate_heading("Kommentare")
    assert not is_boilerplate_heading("What next")


def test_a_link_label_above_its_address_is_not_a_bullet() -> None:
    text = (
        "Check out Bambu Lab Printers and Filament!\nhttps://store.example.com\n\n"
        "This is the second video in my launcher series, and this time the launcher works.\n\n"
        "After fixing the bearings, the arm spun up and threw the dart forty metres.\n\n"
        "Support Me on Patreon:\nhttps://patreon.com/someone\n"
    )
    brief = make_brief("I fixed the launcher", text)
    assert brief.bullets
    assert not any("Bambu" in b or "Patreon" in b for b in brief.bullets)


@pytest.mark.parametrize(
    "block",
    [
        "We need you now more than ever. Please consider joining our Patreon. You'll get access to "
        "our podcast, printables and more. Our site runs on the support of our Patrons.",
        "Nous avons besoin de vous. Merci de soutenir notre site sur Patreon. Sans vous, nous ne "
        "pourrions pas continuer.",
        "Wir brauchen euch. Bitte unterstützt unseren Blog. Ohne euch könnten wir nicht weitermachen.",
        "Te necesitamos. Por favor, apoya nuestro sitio. Sin ti, nosotros no podríamos seguir.",
    ],
)
def test_an_appeal_block_is_dropped_whole(block: str) -> None:
    story = (
        "<p>The trend of getting away from doomscrolling continued this year across many blogs.</p>"
    )
    assert to_paragraphs(f"{story}<p>{block}</p>") == [to_paragraphs(story)[0]]


def test_a_paragraph_that_merely_addresses_the_reader_is_kept() -> None:
    text = (
        "<p>You can run the script every night. We keep the last 30 backups and delete the rest, "
        "so our disk never fills up.</p>"
    )
    assert len(to_paragraphs(text)) == 1

"""Bullets that stand alone, and picks that cover the whole article."""

from __future__ import annotations

import pytest

from aggregator.briefs.standalone import (
    context_opener,
    has_url,
    is_question,
    leans_back,
    names_the_item,
    stands_alone,
    unbalanced_quotes,
    unnamed_speaker,
)
from aggregator.briefs.summarize import make_brief
from aggregator.briefs.text import split_sentences, to_blocks


@pytest.mark.parametrize(
    "sentence",
    [
        "This makes the model faster.",
        "These events changed the company.",
        "It's when the loss stops falling.",
        "From there, the team moved to Berlin.",
        "And the board agreed.",
        "So the vote failed.",
        "However, the court disagreed.",
        "He resigned on Monday.",
        "In this case the answer is no.",
        "Next, we calculate the cost.",
        "In this setting, the parser fails.",
        "In contrast, the new model is slower.",
        "In addition, the team hired two engineers.",
    ],
)
def test_context_dependent_openers(sentence: str) -> None:
    assert context_opener(sentence)
    assert not stands_alone(sentence)


@pytest.mark.parametrize(
    "sentence",
    [
        "This week the council approved the bridge.",
        "This post explains how caching works.",
        "There are three ways to fix it.",
        "Here's how the new parser works.",
        "The release fixes the login bug.",
        "Thesis defences resume in May.",
        "In this work, we propose a parser for tweets.",
        "In this study we measure how caching scales.",
        "In contrast to earlier parsers, ours reads tweets.",
        "In addition to the prize, the author won a grant.",
    ],
)
def test_sentences_that_stand_alone(sentence: str) -> None:
    assert not context_opener(sentence)
    assert stands_alone(sentence)


def test_other_faults() -> None:
    assert is_question("Is this the end of the web?")
    assert has_url("The code is at https://example.com/repo today.")
    assert unbalanced_quotes('He said "stop now.')
    assert unbalanced_quotes("She called it “the best year.")
    assert not unbalanced_quotes('He said "stop" and left.')
    assert context_opener("Das ist gut.", "de") and not context_opener("Das Auto ist gut.", "de")


def test_a_bullet_carries_its_antecedent_or_is_not_shown() -> None:
    html = (
        "<p>The city council approved the new tram line on Monday after two years of debate. "
        "It will connect the airport with the main station by 2028.</p>"
        "<p>Is this the right priority? Critics say buses would be cheaper.</p>"
        "<p>But the mayor disagrees, and so do most residents of the eastern districts, "
        "who have waited for a fast connection for decades and campaigned for it at every "
        "election since the old line was closed in the nineties, as the survey confirmed.</p>"
    )
    bullets = make_brief("Tram line approved", html).bullets
    assert bullets[0].startswith("The city council approved the new tram line")
    assert not any(b.startswith(("It ", "But ")) or "?" in b for b in bullets)
    for b in bullets:
        assert "It will connect" not in b or b.startswith("The city council"), b
    assert "Critics say buses would be cheaper." in bullets


def test_quotations_and_names_are_not_split() -> None:
    assert split_sentences('He said "Stop. Now." Then he left the room.') == [
        'He said "Stop. Now."',
        "Then he left the room.",
    ]
    assert split_sentences("The try! Swift app is out. It runs on phones.") == [
        "The try! Swift app is out.",
        "It runs on phones.",
    ]


def test_urls_in_parentheses_are_removed_and_bare_ones_never_shown() -> None:
    html = (
        "<p>The team released version 2 of the parser (https://example.com/parser) today.</p>"
        "<p>Download it from https://example.com/download before Friday.</p>"
    )
    assert make_brief("Parser 2", html).bullets == [
        "The team released version 2 of the parser today."
    ]


def test_structure_is_read_from_html_and_markdown() -> None:
    html = "<h2>Intro</h2><p>Text here.</p><ul><li><p>One tip.</p></li><li>Two</li></ul>"
    assert to_blocks(html) == [
        ("h", "Intro"),
        ("p", "Text here."),
        ("li", "One tip."),
        ("li", "Two"),
    ]
    markdown = "## Setup & install\n- First item is long enough to be a line of its own\n- Second"
    assert [k for k, _ in to_blocks(markdown)] == ["h", "li", "li"]


def test_a_listicle_yields_its_tips_not_its_intro() -> None:
    intro = (
        "<p>Gardening in winter is hard for beginners, and most guides skip the cold months. "
        "Many people give up on their beds until spring arrives again. "
        "Yet a little planning keeps a garden productive through December.</p>"
    )
    tips = [
        "Plant garlic cloves in sheltered beds before the first frost.",
        "Cover tender seedlings with fleece on nights below freezing.",
        "Water containers only in the morning so roots stay dry overnight.",
        "Mulch perennial borders with straw to protect dormant crowns.",
        "Sow broad beans in November for an early harvest next May.",
        "Clean and sharpen pruning tools while growth is paused.",
    ]
    html = intro + "".join(f"<h2>Tip {n}</h2><p>{tip}</p>" for n, tip in enumerate(tips, 1))
    bullets = make_brief("6 winter gardening tips", html).bullets
    assert sum(b in tips for b in bullets) >= 5, bullets


def test_a_long_article_is_covered_beyond_its_first_quarter() -> None:
    topics = ["harbour", "railway", "airport", "library", "stadium", "hospital", "museum", "bridge"]
    paragraphs = [
        f"<p>The {t} project in district {i}{j} was discussed by the planning committee. "
        f"Engineers said the {t} would need new foundations and {j} more cranes. "
        f"Residents near the {t} asked for quieter construction hours in week {j}.</p>"
        for i, t in enumerate(topics)
        for j in range(4)
    ]
    html = "".join(paragraphs)
    brief = make_brief("City projects", html)
    text = "\n".join(p for _, p in to_blocks(html))
    first_quarter = [b for b in brief.bullets if text.find(b) < len(text) / 4]
    assert len(brief.bullets) >= 4
    assert len(first_quarter) <= len(brief.bullets) / 2


@pytest.mark.parametrize("end", [". ", " "])
def test_eighty_words_never_give_an_empty_brief(end: str) -> None:
    lower = end.join(
        f"so the {w} team shipped the update on day {n} and nobody noticed anything"
        for n, w in enumerate(["red", "blue", "green", "black", "white", "grey", "pink"])
    )
    brief = make_brief("notes", f"<p>{lower}</p>")
    assert brief.bullets


@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("The rollout is slow, Sheehan says.", "en"),
        ("To the first point, nobody on the board agreed.", "en"),
        ("Il a annoncé la fin du projet mardi.", "fr"),
        ("Cependant, la ville attend encore les fonds.", "fr"),
        ("Dabei geht es um sehr viel Geld.", "de"),
        ("Deshalb hat die Stadt den Plan gestoppt.", "de"),
        ("Sin embargo, el plan sigue adelante.", "es"),
        ("Esto cambió la forma de trabajar del equipo.", "es"),
    ],
)
def test_sentences_that_need_what_came_before(sentence: str, language: str) -> None:
    assert context_opener(sentence, language)


@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("Mark Sheehan leads the team, and the rollout is slow, Sheehan says.", "en"),
        ("The rollout is slow, said Mark Sheehan, who leads the team.", "en"),
        ("Le gouvernement a annoncé la fin du projet.", "fr"),
        ("Das Unternehmen wächst seit drei Jahren.", "de"),
        ("El gobierno anunció el fin del proyecto.", "es"),
    ],
)
def test_sentences_that_stand_alone_in_four_languages(sentence: str, language: str) -> None:
    assert not context_opener(sentence, language)


def test_a_bullet_with_a_pronoun_is_shown_after_what_it_refers_to() -> None:
    html = (
        "<p>La mairie de Lyon a présenté mardi un plan pour fermer le centre aux voitures.</p>"
        "<p>Le conseil municipal votera le texte en janvier prochain.</p>"
        "<p>Les commerçants ont demandé un délai supplémentaire de six mois.</p>"
    )
    brief = make_brief("Lyon ferme son centre aux voitures", html)
    assert brief.language == "fr"
    assert not any(context_opener(b, "fr") for b in brief.bullets)


@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("One more easy one while I was here: comments use the REM keyword.", "en"),
        ("None of the above, my good sir! It'll be Logo.", "en"),
        ("Now that we've discussed the cases, let's pick the variables.", "en"),
        ("Equation 1 gives the spectral decomposition of the kernel.", "en"),
        ("Mostly, though, it's a lot of strobes and a short catwalk.", "en"),
        ("At a high level, these allowed us to run commands at a breakpoint.", "en"),
        ("Next I'll declare a few other variables for the script.", "en"),
        ("“To be alone in the landscape was a release.”", "en"),
        ("Maintenant que le budget est voté, la ville peut commencer.", "fr"),
        ("En 2014, il a quitté la direction du groupe.", "fr"),
        ("Abbildung 2 zeigt den Verlauf der Kurve.", "de"),
        ("Die Lage ist jedoch weiterhin ernst.", "de"),
        ("Ahora que el plan está aprobado, empiezan las obras.", "es"),
        ("La tabla 1 resume los resultados.", "es"),
    ],
)
def test_openers_that_lean_on_what_is_not_shown(sentence: str, language: str) -> None:
    assert context_opener(sentence, language) or not stands_alone(sentence, language)


@pytest.mark.parametrize(
    "sentence",
    [
        "In 2014, Apple launched the watch in six countries.",
        "Cover tender seedlings with fleece on nights below freezing.",
        "The Jekyll server compiles your files once, when it starts.",
        "Next year the city will open two new lines.",
    ],
)
def test_leads_and_places_that_stand_alone(sentence: str) -> None:
    assert stands_alone(sentence)


def test_questions_brackets_and_pointers_are_not_bullets() -> None:
    assert is_question("Shouldn't we all be doing something about this?!")
    assert is_question("Y tú, ¿qué piensas del plan, entonces.")
    assert not stands_alone("[I watch a lot of YouTube. It's the first thing I select.")
    assert not stands_alone("In the semantics of regular expressions above, a symbol is trivial.")
    assert not stands_alone("If you lean towards a fermented preserve, here are some more ideas.")
    assert stands_alone("Temperatures stayed above 30 degrees for a week in July.")


def test_a_bare_definite_subject_is_shown_after_its_antecedent() -> None:
    html = (
        "<p>The city council met on Tuesday to discuss the harbour budget for next year.</p>"
        "<p>File includes use the same syntax as macro calls, but hold the path of a file. "
        "The contents will be split into lines, and injected wherever the tag is.</p>"
        "<p>Engineers from three firms presented plans for new cranes at the harbour.</p>"
    )
    bullets = make_brief("Harbour budget and file includes", html).bullets
    assert not any(b.startswith("The contents") for b in bullets), bullets


@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("The idea of this method would be to write a CLI app.", "en"),
        ("“We appreciate that you worked so hard,” it says.", "en"),
        ("When Paul left him, the band broke up.", "en"),
        ("Seeing this in action, we can see a proper load.", "en"),
        ("Since I finished the buffers, we'll discuss this.", "en"),
        ("Not because it's the start of a new year.", "en"),
        ("Since then I have mined Bitcoin and Litecoin.", "en"),
        ("La idée de cette méthode est simple.", "fr"),
        ("Quand il est parti, le groupe a cessé.", "fr"),
        ("Die Idee dieser Methode ist gut.", "de"),
        ("La idea de este método es buena.", "es"),
    ],
)
def test_references_inside_the_sentence_lean_back(sentence: str, language: str) -> None:
    assert leans_back(sentence, language)
    assert not stands_alone(sentence, language)


@pytest.mark.parametrize(
    ("sentence", "language"),
    [
        ("It was in October 2020 that I decided to quit social media.", "en"),
        ("Like in photography, it is crucial in microscopy to get sharp images.", "en"),
        ("It is important to note that the plan works.", "en"),
        ("The method is fast, and this method is cheap.", "en"),
        ("When someone chooses software not because it is helpful, agency is lost.", "en"),
        ("Il faut lire ce livre avant la fin du mois.", "fr"),
        ("Es gibt drei Wege aus der Krise.", "de"),
        ("Dieser Vortrag beschäftigt sich mit Disketten.", "de"),
        ("En este artículo explico el método.", "es"),
    ],
)
def test_expletives_and_resolved_references_stand_alone(sentence: str, language: str) -> None:
    assert not leans_back(sentence, language)
    assert stands_alone(sentence, language)


def test_the_first_sentence_may_name_the_item_with_a_demonstrative() -> None:
    sentence = "This recipe for Health Salad is my entry in this month's challenge."
    assert leans_back(sentence, "en") and not leans_back(sentence, "en", first=True)
    assert leans_back("He resigned on Monday.", "en", first=True)  # a pronoun still needs one
    assert names_the_item("In this video I turn an ESP32 into a webcam.", "en")
    assert names_the_item("Dans ce billet, je montre comment faire.", "fr")
    assert not names_the_item("This method turns an ESP32 into a webcam.", "en")


def test_pointers_elsewhere() -> None:
    assert not stands_alone("RPC exposure is controlled per function (see section 4).")
    assert not stands_alone("If you want a place to start, here’s a suggestion.")
    assert not stands_alone("See here for additional links about origami.")
    assert stands_alone("Here's how the new parser works.")


def test_a_speaker_named_before_the_verb_is_introduced() -> None:
    named = (
        "The government will not repatriate the group from Syria, Prime Minister Anthony "
        "Albanese said Tuesday."
    )
    assert not unnamed_speaker(named)
    assert unnamed_speaker("The talks will go on, said Sheehan.")


def test_a_footnotes_line_is_never_a_bullet() -> None:
    html = (
        "<p>The library now parses every feed in one pass, twice as fast as before.</p>"
        "<p>Memory use fell by a third on the largest feeds we tried.</p>"
        "<p>[1] The benchmark ran on a laptop with eight cores and plenty of memory.</p>"
    )
    bullets = make_brief("Faster parsing", html).bullets
    assert bullets and not any(b.startswith("[1]") for b in bullets)

"""Does a sentence stand alone? Openers that point at text the reader was not shown, and other
things a reader trips over in a bullet out of context (questions, URLs, unbalanced quotes).

The summarizer uses these to choose (or merge) sentences; ``bench/brief_quality.py`` counts them.
"""

from __future__ import annotations

import re


def _closed(words: str) -> frozenset[str]:
    """A closed class of words, written as one space-separated string."""
    return frozenset(words.split())


_ITEM_NOUNS = _closed(
    "post blogpost article video episode paper guide tutorial blog newsletter talk podcast essay"
    " piece series review edition issue course book report study survey interview thread text work"
    " thesis"
    " billet épisode vidéo numéro édition lettre chronique tutoriel livre conférence entretien texte"
    " artikel beitrag folge ausgabe anleitung buch vortrag eintrag"
    " artículo vídeo episodio edición boletín guía entrada libro charla entrevista texto"
)
"""Nouns a text names itself with ("this post", "ce billet", "dieser Beitrag", "este artículo")."""
_SELF_OR_TIME = _ITEM_NOUNS | _closed(
    "year week month morning evening afternoon night weekend season summer winter spring fall"
    " autumn quarter century decade time release update version site page story space"
    " année semaine mois matin soir soirée jour journée été hiver printemps automne siècle"
    " site page fois jahr woche monat morgen abend wochenende sommer winter frühling herbst"
    " jahrhundert seite año semana mes mañana noche verano invierno primavera otoño siglo sitio"
    " página vez"
)
_SELF_NOUNS = "|".join(sorted(_SELF_OR_TIME, key=len, reverse=True))
"""The same as alternatives of a pattern: after "this" or "in this" they name no earlier text."""
# English openers that need the sentence before them: pronouns and demonstratives as subjects,
# connectives that continue an argument, and deictic phrases ("From there", "In this case").
_CONTEXT_OPENER_RE = re.compile(
    r"""^[\"'“‘(]*(?:
        (?:this|that|these|those|such)\b(?!\s+(?:"""
    + _SELF_NOUNS
    + r""")s?\b)
      | (?:it|they|them|he|she|him|his|her|hers|its|their|theirs)\b(?!['’]s\s+(?:time|been)\b)
      | (?:and|but|or|so|yet|nor|also|then|thus|hence|therefore|however|instead|still|besides
          |meanwhile|moreover|furthermore|additionally|likewise|similarly|otherwise|consequently
          |nevertheless|nonetheless|accordingly|conversely|indeed|finally|lastly|again
          |anyway|plus|after\ all|even\ so|as\ such|as\ a\ result|in\ addition(?!\ to\b)|in\ turn
          |on\ the\ other\ hand|on\ top\ of\ that|in\ other\ words|for\ example|for\ instance
          |in\ fact|that\ said|having\ said\ that|by\ contrast|in\ contrast(?!\ to\b)|at\ the\ same\ time
          |now\ that|one\ more|none\ of\ the|other\ times|at\ other\ times
          |not\ (?:because|until|till|that|since|when|so\ much|even)
          |(?:since|until|till|by|back|from)\ then)\b
      | (?:first(?:\ of\ all)?|next|second|secondly|third|thirdly|later|afterwards|subsequently)(?=,)
      | (?:first|next|then|finally)\s+(?-i:I|we)\b
      | (?:here|there)\b(?!['’]s\b|\s+(?:is|are|was|were|will|would|has|have|had|may|might
            |could|can|should|must|seem|seems|appear|appears|used)\b)
      | (?:from|after|before|because\ of|despite|with|without|beyond|besides|unlike|like)
          \s+(?:all\ (?:of\ )?)?(?:this|that|these|those|there|it|them)\b
      | (?:because|since|when|once|if|although|while|as)\s+(?:this|these|those)\b(?!\s+(?:year
            |week|month|morning|evening|weekend|season|summer|winter|spring|fall|autumn)s?\b)
      | (?:in|at|on|for|by|to)\s+(?:this|that|these|those|which|such)\b(?!\s+(?:time|"""
    + _SELF_NOUNS
    + r""")s?\b)
      | (?:the\ )?(?:former|latter|above|aforementioned|same)\b
      | (?:both|neither|either|another|the\ other|the\ rest|one\ of\ them|some\ of\ them
          |all\ of\ them|each\ of\ them|none\ of\ them)\b
      | (?:which|whose|who|whom)\b(?![^.?!]*\?$)
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# The same for French, German and Spanish: subject pronouns, demonstratives, connectives.
_OTHER_OPENERS = {
    "fr": r"(?:il|elle|ils|elles|cela|ceci|ça|celui|celle|ceux|celles|cette|ces|ce|lui|leur|leurs"
    r"|mais|donc|ainsi|pourtant|cependant|toutefois|néanmoins|en effet|par ailleurs|de plus|enfin"
    r"|aussi|puis|alors|sinon|par exemple|en revanche|au contraire|maintenant que|aucune? des"
    r"|pas parce qu|pas avant|non pas|depuis lors|depuis,)\b",
    "de": r"(?:er|sie|es|dies|diese|dieser|dieses|diesen|diesem|das (?:ist|war|sind|heißt|bedeutet)"
    r"|dabei|daher|deshalb|deswegen|dadurch|damit|dazu|darum|aber|doch|jedoch|außerdem|trotzdem"
    r"|allerdings|zudem|also|dann|sein|seine|ihr|ihre|beide|zum beispiel|jetzt, wo|nun, da"
    r"|keine[rs]? der|nicht weil|erst als|seitdem|seither|damals)\b",
    "es": r"(?:él|ella|ellos|ellas|esto|eso|este|esta|estos|estas|ese|esa|esos|esas|pero|sin embargo"
    r"|además|por eso|por lo tanto|así|también|aunque|entonces|luego|su|sus|por ejemplo|en cambio"
    r"|ambos|ahora que|ningun[oa] de|no porque|no hasta|desde entonces)\b",
}
_OTHER_OPENER_RE = {
    lang: re.compile(r"^[\"'“‘«„(¿¡]*" + pattern, re.IGNORECASE)
    for lang, pattern in _OTHER_OPENERS.items()
}
# "Mostly, though, it's …", "At a high level, these allowed …", "En 2014, il …": a connective or a
# pronoun subject right after a short opening phrase (English, French, Spanish; German puts the
# verb there, and its connectives are caught as "X jedoch").
_AFTER_LEAD_RE = re.compile(
    r"^[^,;:.!?]{1,40},\s+(?:though|however|too|also|instead|therefore|thus|then|it|they|these"
    r"|those|this|he|she|il|elle|ils|elles|cela|ceci|ça|cependant|pourtant|toutefois|él|ella"
    r"|ellos|ellas|esto|eso|sin embargo)\b(?!['’]s\s+(?:time|been)\b)"
    r"|^\S+(?:\s+\S+){0,2}\s+(?:jedoch|allerdings|aber|indes)\b",
    re.IGNORECASE,
)
# A sentence wholly in quotation marks: a quote whose speaker the bullet does not name.
_QUOTE_ONLY_RE = re.compile(r"^[“\"«„][^“”\"«»„]+[”\"»“][.!…]?$")
# "The equation above", "(see below)", "ci-dessus", "siehe oben": points at what is not shown.
_ELSEWHERE_RE = re.compile(
    r"\b(?:above|below)(?=\s*[,.;:)!?]|\s*$)|\bsee\ (?:above|below)\b|\bas\ follows\b"
    r"|\bthe\ following\W*$|\bhere\ (?:are|is)\b[^.!?]*[.:]$|\bci-(?:dessus|dessous)\b"
    r"|\bvoici\b[^.!?]*[.:]$|\bsiehe\ (?:oben|unten)\b|\b(?:obige|untenstehende)[nmrs]?\b"
    r"|\b(?:véase|ver)\ (?:arriba|abajo)\b|\ba\ continuación\W*$"
    r"|\((?:see|cf\.|voir|siehe|vgl\.|véase|ver)\ [^)]*\)"
    r"|\bhere['’]s\ (?:a|an|the|my|our|some)\ \w+(?:\ \w+)?[.:]$"
    r"|\b(?:see|click|voir|cliquez|siehe|klicken\ sie|ver|haz\ clic)\ (?:here|ici|hier|aquí)\b",
    re.IGNORECASE | re.VERBOSE,
)
# "To the first point, …", "The second step …": a list the reader was not shown.
_ORDINAL_RE = re.compile(
    r"^(?:to\ |on\ |for\ )?the\ (?:first|second|third|fourth|last|final|next|other)\ (?:point|one"
    r"|step|option|reason|thing|part|issue|question|problem|example)s?\b"
    r"|^the\ (?:first|second|third|fourth|last|final|other)(?=,|\s+(?:is|was|one)\b)",
    re.IGNORECASE,
)
# ", Sheehan says." / "said Sheehan.": a speaker named by one name only, not introduced here.
_LONE_SPEAKER_RE = re.compile(
    r"(?:,\s+(?P<a>[A-Z][\w'’-]+)\s+(?:says|said|adds|added|explains|explained|notes|noted|writes"
    r"|wrote|argues|argued)|\b(?:says|said|adds|added|explains|explained|notes|noted)\s+"
    r"(?P<b>[A-Z][\w'’-]+))\W*$"
)
_NAMED_BEFORE_RE = re.compile(
    r"[,;]\s+(?:[A-Z][\w'’.-]*\s+){2,}(?:says|said|adds|added|explains|explained|notes|noted)\s+$"
)
"""Two capitalized words or more right before the verb, after a comma: "…, Prime Minister
Anthony Albanese said"."""
# "Equation 1 gives …", "Abbildung 2 zeigt …": a numbered part of the document (a figure, table,
# equation) the brief does not show. One closed class of nouns per language, applied together.
_DOC_PART_RE = re.compile(
    r"^[\"'“‘«„(]*(?:(?:the|le|la|l['’]|les|der|die|das|el|los|las)\s*)?(?:figure|fig\.|table|equation|eq\.|listing|appendix|chart|graph|tableau"
    r"|équation|annexe|graphique|abbildung|abb\.|tabelle|gleichung|grafik|anhang|figura|tabla"
    r"|ecuación|gráfico|apéndice)\s*\(?\d",
    re.IGNORECASE,
)
# "The contents will be split …": a definite article, one noun and a verb, nothing that says
# which (no "of …", no modifier): the thing was introduced before. Articles and auxiliaries of
# English, French, German and Spanish (closed classes).
_BARE_DEFINITE_RE = re.compile(
    r"^(?:(?:the)\s+(?-i:[a-z])[\w-]*\s+(?:is|are|was|were|will|would|can|could|has|have|had|does"
    r"|did|should|must|may|might|(?-i:[a-z])\w+(?<!ss)s|(?-i:[a-z])\w+ed)"
    r"|(?:le|la|les)\s+(?-i:[a-zà-ÿ])[\w-]*\s+(?:est|sont|était|étaient|sera|seront|a|ont|peut"
    r"|peuvent|va|vont)"
    r"|(?:der|die|das)\s+[A-ZÄÖÜ][\w-]*\s+(?:ist|sind|war|waren|wird|werden|hat|haben|kann"
    r"|können)"
    r"|(?:el|la|los|las)\s+(?-i:[a-zá-úñ])[\w-]*\s+(?:es|son|era|eran|fue|será|serán|está|están|ha"
    r"|han|puede|pueden))\b",
    re.IGNORECASE,
)
# "It is hard to …", "It was in 2020 that …", "Il faut …", "Es gibt …": "it" stands for no thing
# (an expletive or a cleft), so the sentence needs nothing before it. Closed classes of each
# language's grammar; an adjective is any word but a participle or one that takes a subject.
_EXPLETIVE = {
    "en": r"it(?:['’]s|\s+is|\s+was|\s+will\s+be|\s+would\s+be|\s+has\s+been|\s+had\s+been)\s+"
    r"(?:(?:not|also|still|often|always|never|really|very|quite|so|too|\w+ly)\s+)*(?:"
    r"(?!(?:used|able|going|meant|designed|built|made|set|about|due|ready|supposed|known|based"
    r"|written|called|said|a|an|the|my|our|your|his|her|its|their|this|that|one|some|no)\b)"
    r"[a-z]+(?<!ed)(?:\s+(?:in|for|on|at|with|by)(?:\s+[^\s,.;:]+){1,3}|\s+\w+ing)?"
    r"\s+(?:to(?!\s+(?:me|us|you|him|her|them|it|the|a|an|my|our|your|his|its|their)\b)|that"
    r"|whether|how)\b"
    r"|(?:in|on|at|during|after|before|since|only|not\s+until|then|now|here|there|because)\b"
    r"[^.!?]*?\b(?:that|when)\b)"
    r"|it\s+(?:seems|seemed|appears|appeared|turns\s+out|turned\s+out)\s+(?:that|as\s+if|like)\b",
    "fr": r"il\s+(?:y\s+a|y\s+avait|faut|fallait|faudra|s['’]agit|semble|paraît|reste|est\s+(?:\w+\s+)?"
    r"(?:de|d['’]|que|qu['’])|était\s+(?:\w+\s+)?(?:de|d['’]|que|qu['’]))",
    "de": r"es\s+(?:gibt|gab|geht\s+um|ging\s+um|lohnt\s+sich|scheint|ist\s+\w+,\s+(?:dass|wie|ob|zu)"
    r"|war\s+\w+,\s+(?:dass|wie|ob))\b",
}
_EXPLETIVE_RE = {
    lang: re.compile(r"^[\"'“‘«„(]*(?:[^,;:.!?]{1,40},\s+)?(?:" + p + ")", re.IGNORECASE)
    for lang, p in _EXPLETIVE.items()
}
# A demonstrative with its noun ("this method", "cette méthode", "diese Methode", "este método"),
# each language's determiners; a noun of time or of the item itself ("this week", "this post")
# points at no earlier sentence. A verb or auxiliary after "this" makes it a pronoun, not a
# determiner (English verbs ending in "s" are left to the opener's rule).
_DEMONSTRATIVE = {
    "en": r"\b(?:this|these|those)\s+(?P<noun>(?-i:[a-z])[\w-]*)",
    "fr": r"\b(?:cet|cette|ces|ce)\s+(?P<noun>(?-i:[a-zà-ÿ])[\w-]*)",
    "de": r"\b(?:diese[rsnm]?)\s+(?P<noun>(?-i:[A-ZÄÖÜ])[\w-]*)",
    "es": r"\b(?:este|esta|estos|estas|ese|esa|esos|esas)\s+(?P<noun>(?-i:[a-záéíóúñ])[\w-]*)",
}
_DEMONSTRATIVE_RE = {lang: re.compile(p, re.IGNORECASE) for lang, p in _DEMONSTRATIVE.items()}
_DEMONSTRATIVE_START_RE = {
    "en": re.compile(r"^[\"'“‘(]*(?:this|these)\b", re.IGNORECASE),
    "fr": re.compile(r"^[\"'“‘«(]*(?:ce|cet|cette|ces|ceci|cela)\b", re.IGNORECASE),
    "de": re.compile(r"^[\"'“‘„(]*(?:diese[rsnm]?|dies|das)\b", re.IGNORECASE),
    "es": re.compile(r"^[\"'“‘«¿¡(]*(?:este|esta|estos|estas|esto)\b", re.IGNORECASE),
}
_NEVER = re.compile(r"(?!)")
SUBJECT_WORDS = 6
"""A sentence's subject is taken to be its first this many words (a demonstrative further on
often points inside the sentence)."""
CLAUSE_WORDS = 4
"""A pronoun at most this many words after the subordinator opening a sentence ("When Paul left
him, …") points back: the clause has named no one it could stand for."""


_NOT_A_NOUN = _closed(
    "is was are were be been being will would can could has have had does did do may might should"
    " must shall not also just one ones all way who which that what when where why how and or but"
    " to of in on at for by with as if so than then very too much many more most only even still"
    " qui que qu dont sont soit fut sera serait est était ne n se sont"
    " es fue era ha han será son"
)
# A quotation whose speaker is a pronoun ("“…,” it says.", "said he", "dit-il", "sagt er"), in a
# sentence that opens on the quotation (nothing before it names the speaker).
_PRONOUN_SPEAKER_RE = re.compile(
    r"^[“\"«„].*(?:,[”\"’']?\s+(?:it|he|she|they)\s+(?:says|said|adds|added|explains|explained|notes|noted"
    r"|writes|wrote|argues|argued)|\b(?:says|said|adds|added)\s+(?:he|she|they))\W*$"
    r"|^[“\"«„].*\b(?:dit|a\s+dit|explique|ajoute|affirme|raconte|poursuit)-(?:t-)?(?:il|elle"
    r"|ils|elles)\b|^[“\"«„].*\b(?:sagt|sagte|erklärt|erklärte|meint|meinte|betont|betonte)\s+"
    r"(?:er|sie)\W*$",
    re.IGNORECASE,
)
# "Seeing this in action, …", "What this means …", "the final one of these will": a
# demonstrative standing for a thing, not naming one (followed by a preposition, a verb or a
# stop), in the subject of the sentence.
_PRONOUN_DEMONSTRATIVE = {
    "en": r"\b(?:this|these|those)(?=\s+(?:from|to|with|in|on|at|for|by|as|about|into|over|off|out"
    r"|up|down|is|was|are|were|will|would|can|could|has|have|had|does|did|should|must|may|might"
    r"|means|meant|makes|made|shows|showed|gives|gave|allows|lets|helps)\b|\s*[,.;:!?)]|$)",
    "fr": r"\b(?:ceci|cela|ça)\b",
    "de": r"\b(?:dies)\b(?!e)",
    "es": r"\b(?:esto|eso|aquello)\b",
}
# "…, we'll discuss this.": a sentence closing on a demonstrative that stands for a thing.
_FINAL_PRONOUN_RE = re.compile(
    r"\b(?:this|that|these|those|ceci|cela|ça|dies|das|esto|eso)\W*$", re.IGNORECASE
)
_INNER_STOP_RE = re.compile(r"[.!?][\"'”’»)]*\s+\S")
_PRONOUN_DEMONSTRATIVE_RE = {
    lang: re.compile(p, re.IGNORECASE) for lang, p in _PRONOUN_DEMONSTRATIVE.items()
}
# "When Paul left him, …", "While I enjoy the control it gives, …": a third person's pronoun in
# the clause that opens the sentence, before the name it would point at (English, French, German).
_CLAUSE_PRONOUN = {
    "en": r"(?:when|while|whilst|although|though|if|as|because|since|after|before|once|unless"
    r"|until|whereas)(?:\s+[^\s,;:.!?]+){0,"
    + str(CLAUSE_WORDS)
    + r"}?\s+(?:it|its|he|him|his|she|her|they|them|their)\b[^,;:.!?]*,"
    r"|(?:I|we|you)\s+(?:\w+\s+){0,2}?(?:it|they|them|him|her|this(?=\s+(?:from|to|with|in|on|at"
    r"|for|by|as|about|because|when|after|before|into)\b|\W))\b",
    "fr": r"(?:quand|lorsqu['’]?|lorsque|si|bien\s+qu['’]?|puisqu['’]?|puisque|parce\s+qu['’]?|comme"
    r"|après\s+qu['’]?|avant\s+qu['’]?)\s*(?:il|elle|ils|elles)\b[^,;:.!?]*,",
    "de": r"(?:als|wenn|weil|obwohl|da|nachdem|bevor|sobald|während)\s+(?:er|sie|ihn|ihm)\b[^,;:.!?]*,",
}
_CLAUSE_PRONOUN_RE = {
    lang: re.compile(r"^[\"'“‘«„(]*" + p, re.IGNORECASE) for lang, p in _CLAUSE_PRONOUN.items()
}
_URL_RE = re.compile(r"\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|org|net|io|dev|ai)/\S*", re.I)
_QUOTE_PAIRS = (("“", "”"), ("«", "»"), ("„", "“"))


def context_opener(sentence: str, language: str = "en") -> bool:
    """True when the sentence opens with a word that needs the sentence before it (English,
    French, German, Spanish), or names a speaker by one name the sentence does not introduce.
    An expletive "it" ("It is hard to …", "Il faut …") needs nothing before it."""
    expletive = _EXPLETIVE_RE.get(language)
    if expletive is not None and expletive.match(sentence):
        return language == "en" and unnamed_speaker(sentence)
    if language == "en":
        return bool(
            _CONTEXT_OPENER_RE.match(sentence)
            or _ORDINAL_RE.match(sentence)
            or _DOC_PART_RE.match(sentence)
            or _AFTER_LEAD_RE.match(sentence)
            or _QUOTE_ONLY_RE.match(sentence)
            or unnamed_speaker(sentence)
        )
    other = _OTHER_OPENER_RE.get(language)
    return bool(
        other is not None
        and other.match(sentence)
        and not _names_time_or_item(sentence, language)
        or language
        and (
            _DOC_PART_RE.match(sentence)
            or _AFTER_LEAD_RE.match(sentence)
            or _QUOTE_ONLY_RE.match(sentence)
        )
    )


def refers_back(sentence: str, language: str = "en") -> bool:
    """True when a word inside the sentence points at an earlier sentence: a demonstrative whose
    noun the sentence has not named before ("The idea of this method …"), a quotation said by a
    pronoun ("…," it says.), a pronoun in the opening clause ("When Paul left him, …")."""
    if not language:
        return False
    clause = _CLAUSE_PRONOUN_RE.get(language)
    if _PRONOUN_SPEAKER_RE.search(sentence) or clause is not None and clause.match(sentence):
        return True
    if _FINAL_PRONOUN_RE.search(sentence) and not _INNER_STOP_RE.search(sentence):
        return True  # one sentence: a unit joined to its lead-in has the antecedent in it
    opening = re.match(r"\s*(?:\S+\s+){0," + str(SUBJECT_WORDS - 1) + "}", sentence)
    found = _PRONOUN_DEMONSTRATIVE_RE.get(language, _NEVER).search(sentence)
    if found and opening and found.start() <= opening.end():
        return True
    return unresolved_demonstrative(sentence, language) is not None


def unresolved_demonstrative(sentence: str, language: str, start: int = 0) -> str | None:
    """The first demonstrative noun phrase in the subject of the sentence that opens at
    ``start`` (its first ``SUBJECT_WORDS`` words: "The idea of this method …") whose noun is not
    named earlier, nor one of time or of the item itself; None when none is."""
    found = _DEMONSTRATIVE_RE.get(language)
    if found is None:
        return None
    lowered = sentence.casefold()
    subject = re.match(r"\s*(?:\S+\s+){0," + str(SUBJECT_WORDS) + "}", sentence[start:])
    end = start + (subject.end() if subject else 0)
    for m in found.finditer(sentence, start, end + 40):
        if m.start() >= end:
            break
        noun = m.group("noun").casefold()
        if not _is_noun(m, language) or noun in _SELF_OR_TIME or noun.rstrip("s") in _SELF_OR_TIME:
            continue
        if noun[:5] not in lowered[: m.start()]:
            return m.group(0)
    return None


def _is_noun(m: re.Match[str], language: str) -> bool:
    """True when the word after a demonstrative is its noun, not a verb ("this means")."""
    noun = m.group("noun").casefold()
    if noun in _NOT_A_NOUN:
        return False
    verb = noun.endswith("s") and not noun.endswith("ss") and m.group(0)[:4].casefold() == "this"
    return not (language == "en" and verb)


def _names_time_or_item(sentence: str, language: str) -> bool:
    """True for an opening demonstrative of time or of the item ("Cette semaine", "Dieser
    Beitrag", "Este artículo"): it points at no earlier sentence."""
    found = _DEMONSTRATIVE_RE.get(language)
    m = found.match(sentence.lstrip("\"'“‘«„(¿¡")) if found is not None else None
    return m is not None and m.group("noun").casefold() in _SELF_OR_TIME


def names_the_item(sentence: str, language: str) -> bool:
    """True when the sentence names the item itself ("This post shows …", "In this video …",
    "Dans ce billet …", "In diesem Beitrag …")."""
    found = _DEMONSTRATIVE_RE.get(language)
    return found is not None and any(
        m.group("noun").casefold().rstrip("s") in _ITEM_NOUNS for m in found.finditer(sentence)
    )


def leans_back(sentence: str, language: str, first: bool = False) -> bool:
    """:func:`context_opener` or :func:`refers_back`. The item's ``first`` sentence may open on
    a demonstrative and name things with one ("This recipe is my entry …", "Ce billet …"):
    nothing comes before it, so they point at the item itself."""
    if not first:
        return context_opener(sentence, language) or refers_back(sentence, language)
    if _CLAUSE_PRONOUN_RE.get(language, _NEVER).match(sentence) or _PRONOUN_SPEAKER_RE.search(
        sentence
    ):
        return True
    opener = _DEMONSTRATIVE_START_RE.get(language, _NEVER)
    return context_opener(sentence, language) and not opener.match(sentence)


def points_elsewhere(sentence: str) -> bool:
    """True when the sentence points at something the brief cannot show: "the equation above",
    "here are some suggestions." (a list follows), "ci-dessus", "siehe oben"."""
    return _ELSEWHERE_RE.search(sentence) is not None


def bare_definite(sentence: str) -> bool:
    """True for "The contents will …": a definite subject of one noun and nothing saying which,
    so it names something introduced before (English, French, German, Spanish)."""
    found = _BARE_DEFINITE_RE.match(sentence)
    return found is not None and found.group(0).split()[0][:1].isupper()


def unnamed_speaker(sentence: str) -> bool:
    """True for "…, Sheehan says." when "Sheehan" appears nowhere earlier in the sentence; not
    for "…, Prime Minister Anthony Albanese said Tuesday.", whose speaker is named before the
    verb (a capitalized word after it is then a day or a place, not the speaker)."""
    found = _LONE_SPEAKER_RE.search(sentence)
    if found is None:
        return False
    name = found.group("a") or found.group("b")
    if found.group("b") and _NAMED_BEFORE_RE.search(sentence[: found.start("b")]):
        return False
    return name not in sentence[: found.start()] and name not in ("He", "She", "They", "It")


def is_question(sentence: str) -> bool:
    """True when the sentence (or one of the sentences of a merged bullet) asks a question."""
    return bool(re.search(r"[?？][!?？！\"'”’»)\]]*(?:\s|$)|¿", sentence))


def has_url(sentence: str) -> bool:
    """True when the text carries a web address."""
    return _URL_RE.search(sentence) is not None


def unbalanced_brackets(sentence: str) -> bool:
    """True when a parenthesis or square bracket is left open or closed ("[This review was …")."""
    return sentence.count("(") != sentence.count(")") or sentence.count("[") != sentence.count("]")


def unbalanced_quotes(sentence: str) -> bool:
    """True when a straight double quote or a pair of typographic quotes is left open or closed."""
    if sentence.count('"') % 2:
        return True
    if "„" in sentence:  # German „…“: the closing mark is the English opening one
        return sentence.count("„") != sentence.count("“")
    return any(sentence.count(a) != sentence.count(b) for a, b in _QUOTE_PAIRS[:2])


def stands_alone(sentence: str, language: str = "en") -> bool:
    """A bullet a reader can take out of context: none of the faults above."""
    return not (
        context_opener(sentence, language)
        or refers_back(sentence, language)
        or is_question(sentence)
        or has_url(sentence)
        or unbalanced_quotes(sentence)
        or unbalanced_brackets(sentence)
        or points_elsewhere(sentence)
    )

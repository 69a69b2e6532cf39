"""Does a sentence stand alone? Openers that point at text the reader was not shown, and other
things a reader trips over in a bullet out of context (questions, URLs, unbalanced quotes).

The summarizer uses these to choose (or merge) sentences; ``bench/brief_quality.py`` counts them.
"""

from __future__ import annotations

import re

# English openers that need the sentence before them: pronouns and demonstratives as subjects,
# connectives that continue an argument, and deictic phrases ("From there", "In this case").
_CONTEXT_OPENER_RE = re.compile(
    r"""^[\"'“‘(]*(?:
        (?:this|that|these|those|such)\b(?!\s+(?:year|week|month|morning|evening|afternoon|
            weekend|season|summer|winter|spring|fall|autumn|quarter|century|decade|post|article
            |video|episode|paper|release|guide|tutorial|blog|newsletter|book|talk|update|version
            |edition|podcast|course|series|site|page|story|piece|essay|report|study|survey)s?\b)
      | (?:it|they|them|he|she|him|his|her|hers|its|their|theirs)\b(?!['’]s\s+(?:time|been)\b)
      | (?:and|but|or|so|yet|nor|also|then|thus|hence|therefore|however|instead|still|besides
          |meanwhile|moreover|furthermore|additionally|likewise|similarly|otherwise|consequently
          |nevertheless|nonetheless|accordingly|conversely|indeed|finally|lastly|again
          |anyway|plus|after\ all|even\ so|as\ such|as\ a\ result|in\ addition|in\ turn
          |on\ the\ other\ hand|on\ top\ of\ that|in\ other\ words|for\ example|for\ instance
          |in\ fact|that\ said|having\ said\ that|by\ contrast|in\ contrast|at\ the\ same\ time)\b
      | (?:next|second|secondly|third|thirdly|later|afterwards|subsequently)(?=,)
      | (?:here|there)\b(?!['’]s\b|\s+(?:is|are|was|were|will|would|has|have|had|may|might
            |could|can|should|must|seem|seems|appear|appears|used)\b)
      | (?:from|after|before|because\ of|despite|with|without|beyond|besides|unlike|like)
          \s+(?:this|that|these|those|there|it|them)\b
      | (?:in|at|on|for|by|to)\s+(?:this|that|these|those|which|such)\b(?!\s+(?:year|week|month|
            time|article|post|video|episode|paper|guide|tutorial)\b)
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
    r"|aussi|puis|alors|sinon|par exemple|en revanche|au contraire)\b",
    "de": r"(?:er|sie|es|dies|diese|dieser|dieses|diesen|diesem|das (?:ist|war|sind|heißt|bedeutet)"
    r"|dabei|daher|deshalb|deswegen|dadurch|damit|dazu|darum|aber|doch|jedoch|außerdem|trotzdem"
    r"|allerdings|zudem|also|dann|sein|seine|ihr|ihre|beide|zum beispiel)\b",
    "es": r"(?:él|ella|ellos|ellas|esto|eso|este|esta|estos|estas|ese|esa|esos|esas|pero|sin embargo"
    r"|además|por eso|por lo tanto|así|también|aunque|entonces|luego|su|sus|por ejemplo|en cambio"
    r"|ambos)\b",
}
_OTHER_OPENER_RE = {
    lang: re.compile(r"^[\"'“‘«„(¿¡]*" + pattern, re.IGNORECASE)
    for lang, pattern in _OTHER_OPENERS.items()
}
# "To the first point, …", "The second step …": a list the reader was not shown.
_ORDINAL_RE = re.compile(
    r"^(?:to\ |on\ |for\ )?the\ (?:first|second|third|fourth|last|final|next|other)\ (?:point|one"
    r"|step|option|reason|thing|part|issue|question|problem|example)s?\b",
    re.IGNORECASE,
)
# ", Sheehan says." / "said Sheehan.": a speaker named by one name only, not introduced here.
_LONE_SPEAKER_RE = re.compile(
    r"(?:,\s+(?P<a>[A-Z][\w'’-]+)\s+(?:says|said|adds|added|explains|explained|notes|noted|writes"
    r"|wrote|argues|argued)|\b(?:says|said|adds|added|explains|explained|notes|noted)\s+"
    r"(?P<b>[A-Z][\w'’-]+))\W*$"
)
_URL_RE = re.compile(r"\b(?:https?://|www\.)\S+|\b[\w-]+\.(?:com|org|net|io|dev|ai)/\S*", re.I)
_QUOTE_PAIRS = (("“", "”"), ("«", "»"), ("„", "“"))


def context_opener(sentence: str, language: str = "en") -> bool:
    """True when the sentence opens with a word that needs the sentence before it (English,
    French, German, Spanish), or names a speaker by one name the sentence does not introduce."""
    if language == "en":
        return bool(
            _CONTEXT_OPENER_RE.match(sentence)
            or _ORDINAL_RE.match(sentence)
            or unnamed_speaker(sentence)
        )
    other = _OTHER_OPENER_RE.get(language)
    return other is not None and other.match(sentence) is not None


def unnamed_speaker(sentence: str) -> bool:
    """True for "…, Sheehan says." when "Sheehan" appears nowhere earlier in the sentence."""
    found = _LONE_SPEAKER_RE.search(sentence)
    if found is None:
        return False
    name = found.group("a") or found.group("b")
    return name not in sentence[: found.start()] and name not in ("He", "She", "They", "It")


def is_question(sentence: str) -> bool:
    """True when the sentence (or one of the sentences of a merged bullet) asks a question."""
    return bool(re.search(r"[?？¿][\"'”’»)\]]*(?:\s|$)", sentence))


def has_url(sentence: str) -> bool:
    """True when the text carries a web address."""
    return _URL_RE.search(sentence) is not None


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
        or is_question(sentence)
        or has_url(sentence)
        or unbalanced_quotes(sentence)
    )

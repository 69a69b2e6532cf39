"""Is a sentence a model wrote supported by the item? The check every LLM brief goes through.

A sentence (a bullet, a paragraph sentence, a term's definition) is supported when

- every **name** in it (a capitalised word that is not a function word, wherever it stands,
  sentence-initial too), every **number** (digits, or words in the languages text2num reads:
  English, French, German, Spanish and more), every **month or day name** (Babel's names in the
  item's language and English) and every **quoted phrase** occurs in the item;
- one **passage** of the item covers it: the passage the model quoted, when it quoted one (it
  must be in the item near-verbatim: rapidfuzz's partial ratio over normalised text), else the
  best window of one or two of the item's sentences. At least ``COVERAGE`` of the sentence's
  content words (lemmas, by simplemma) are the passage's;
- its **polarity** is the passage's: the number of negations (the closed class of each language's
  negators) agrees in parity over the aligned span, and no word of the passage was swapped for
  another one in the same place ("agreed" for "refused", "rose" for "fell", "Apple" for
  "Microsoft"): a content word the passage lacks, standing where the passage has other words,
  is a change of claim.

``Support.check`` returns None when the sentence passes, else the reason, in a few words.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

import simplemma
from babel import Locale, UnknownLocaleError
from babel.dates import get_day_names, get_month_names
from rapidfuzz import fuzz
from simplemma.strategies.dictionaries.dictionary_factory import SUPPORTED_LANGUAGES
from text_to_num import alpha2digit

from aggregator.briefs.text import split_sentences, stopwords

COVERAGE = 0.75
"""Share of a sentence's content words its passage must hold."""
MAX_UNCOVERED = 3
"""More content words absent from the passage than this reject the sentence however long."""
PASSAGE_MATCH = 90.0
"""rapidfuzz partial ratio (0-100) above which a quoted passage counts as the item's."""
QUOTE_MATCH = 95.0
SHORT_FUNCTION_WORD = 3
CONTEXT_SENTENCES = 2
"""A pronoun of a passage may stand for a word of this many sentences before it."""
_NOT_COVERED = "its passage does not cover"
"""A swap between two function words this short ("a"/"the", "on"/"at") is not a change of claim."""

_WORD_RE = re.compile(r"\w+(?:['’]\w+)*")
_NUMBER_RE = re.compile(r"\d+(?:[.,\u00a0\u202f ]\d{3})*(?:[.,]\d+)?")
_QUOTE_RE = re.compile(r"[\"“”„«»‹›]\s*([^\"“”„«»‹›]{3,}?)\s*[\"“”„«»‹›]")
_NUMERAL_LANGS = {"en", "fr", "de", "es", "pt", "it", "nl", "da"}
_LEMMA_LANGS = SUPPORTED_LANGUAGES

NEGATORS: dict[str, frozenset[str]] = {
    "en": frozenset(
        [
            "not",
            "no",
            "never",
            "none",
            "nobody",
            "nothing",
            "neither",
            "nor",
            "without",
            "cannot",
            "n't",
            "nowhere",
        ]
    ),
    "fr": frozenset(
        ["ne", "n'", "pas", "jamais", "aucun", "aucune", "rien", "sans", "ni", "nullement"]
    ),
    "de": frozenset(
        [
            "nicht",
            "kein",
            "keine",
            "keinen",
            "keinem",
            "keiner",
            "keines",
            "nie",
            "niemals",
            "nichts",
            "ohne",
            "weder",
        ]
    ),
    "es": frozenset(
        [
            "no",
            "nunca",
            "jamás",
            "ningún",
            "ninguna",
            "ninguno",
            "nada",
            "nadie",
            "sin",
            "ni",
            "tampoco",
        ]
    ),
}
"""Each language's negators: a closed class of the grammar, so a short list is the whole of it."""


def normalise(text: str) -> str:
    """Lower-case words separated by single spaces: quotes, dashes and spacing do not count."""
    folded = unicodedata.normalize("NFKC", text).casefold().replace("’", "'")
    return " ".join(_WORD_RE.findall(folded))


def _digits(text: str, language: str) -> str:
    """The text with its numbers written in words turned into digits."""
    if language in _NUMERAL_LANGS:
        try:
            return str(alpha2digit(text, language))
        except (ValueError, IndexError):  # a very odd string; its digits still count
            pass
    return text


def _tokens(text: str, language: str) -> list[str]:
    """Lower-case words (numbers as digits), with English "n't" split off as a negator."""
    folded = unicodedata.normalize("NFKC", _digits(text, language)).casefold().replace("’", "'")
    folded = re.sub(r"(\w)n't\b", r"\1 n't", folded)
    folded = re.sub(r"(\w)'s\b", r"\1", folded)  # a possessive is its noun
    return re.findall(r"n't|\w+", folded)


@lru_cache(maxsize=20_000)
def _lemma(word: str, language: str) -> str:
    if language not in _LEMMA_LANGS or word.isdigit():
        return word
    try:
        return simplemma.lemmatize(word, lang=language).casefold()
    except ValueError:
        return word


def _numbers(text: str, language: str) -> set[str]:
    """The numbers of a text, numbers written in words included, in one canonical form; "one"
    written as a word is not counted (it is as often "a" as a number)."""
    written = _numbers_in(text)
    return written | (_numbers_in(_digits(text, language)) - {"1"})


def _numbers_in(text: str) -> set[str]:
    out = set()
    for raw in _NUMBER_RE.findall(text):
        digits = re.sub(r"[\u00a0\u202f ]", "", raw)
        if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", digits):  # thousands separators
            digits = re.sub(r"[.,]", "", digits)
        out.add(digits.replace(",", ".").lstrip("0") or "0")
    return out


@lru_cache(maxsize=16)
def _calendar_words(language: str) -> frozenset[str]:
    """Month and day names (wide and abbreviated) in the language and in English."""
    names: set[str] = set()
    for code in {language, "en"}:
        try:
            locale = Locale.parse(code)
        except (UnknownLocaleError, ValueError):
            continue
        for width in ("wide", "abbreviated"):
            names.update(get_month_names(width, locale=locale).values())
            names.update(get_day_names(width, locale=locale).values())
    return frozenset(normalise(n) for n in names if len(normalise(n)) >= 3)


@dataclass(slots=True)
class _Passage:
    """A stretch of the item: its tokens and lemmas, and the lemmas of the sentences just
    before it (what its pronouns may stand for)."""

    tokens: list[str]
    lemmas: list[str]
    context: frozenset[str] = frozenset()


class Support:
    """What an item says, to check the model's sentences against."""

    def __init__(self, item_text: str, language: str = "en", title: str = "") -> None:
        self.language = language
        self.stop = stopwords(language) | stopwords("en")
        self.negators = NEGATORS.get(language, frozenset()) | NEGATORS["en"]
        self.title = title
        self.text = item_text
        self.normal = normalise(f"{title}\n{item_text}")
        self.words = set(self.normal.split())
        self.lemmas = {_lemma(w, language) for w in self.words}
        self.numbers = _numbers(f"{title}\n{item_text}", language)
        self.calendar = _calendar_words(language)
        self.sentences = [
            s for line in item_text.splitlines() for s in split_sentences(line, language) if s
        ]
        if title:
            self.sentences.insert(0, title)
        self._passages = [self._passage(s) for s in self.sentences]
        for n, passage in enumerate(self._passages):
            before = self._passages[max(0, n - CONTEXT_SENTENCES) : n]
            passage.context = frozenset(lemma for p in before for lemma in p.lemmas)

    def _passage(self, text: str) -> _Passage:
        tokens = _tokens(text, self.language)
        return _Passage(tokens, [_lemma(t, self.language) for t in tokens])

    def check(self, sentence: str, quoted: str | None = None) -> str | None:
        """None when the item supports the sentence, else why not. ``quoted`` is the passage the
        model says supports it (None when it gave none)."""
        reason = self._facts(sentence)
        if reason:
            return reason
        tokens = _tokens(sentence, self.language)
        lemmas = [_lemma(t, self.language) for t in tokens]
        if quoted is not None:
            passage = self.locate(quoted)
            if passage is None:
                return "its quoted passage is not in the item"
            candidates = [passage]
        else:
            candidates = self._best_windows(lemmas)
        reasons = []
        for passage in candidates:
            reason = self._against(tokens, lemmas, passage)
            if reason is None:
                return None
            reasons.append(reason)
        return reasons[0] if reasons else "no passage of the item covers it"

    def mentions(self, phrase: str) -> bool:
        """True when the phrase, or each of its words (as lemmas), occurs in the item."""
        normal = normalise(phrase)
        if normal and f" {normal} " in f" {self.normal} ":
            return True
        words = normal.split()
        return bool(words) and all(
            w in self.words or _lemma(w, self.language) in self.lemmas for w in words
        )

    def locate(self, quoted: str) -> _Passage | None:
        """The item's sentences that hold the quoted passage near-verbatim, or None."""
        needle = normalise(quoted)
        if len(needle.split()) < 3:
            return None
        alignment = fuzz.partial_ratio_alignment(needle, self.normal, score_cutoff=PASSAGE_MATCH)
        if alignment is None:
            return None
        found = self.normal[alignment.dest_start : alignment.dest_end]
        # widen to the whole sentences it touches, so a clause keeps its negation and subject
        held = [
            p
            for s, p in zip(self.sentences, self._passages, strict=True)
            if fuzz.partial_ratio(found, normalise(s)) >= PASSAGE_MATCH
            or fuzz.partial_ratio(normalise(s), found) >= PASSAGE_MATCH
        ]
        if not held:
            return self._passage(found)
        return _Passage(
            [t for p in held for t in p.tokens],
            [lemma for p in held for lemma in p.lemmas],
            held[0].context,
        )

    def _facts(self, sentence: str) -> str | None:
        """Names, numbers, dates and quotations the item does not contain."""
        for number in sorted(_numbers(sentence, self.language) - self.numbers):
            return f"number {number} is not in the item"
        for word in _WORD_RE.findall(unicodedata.normalize("NFKC", sentence)):
            if not word[:1].isupper():
                continue
            folded = word.casefold().replace("’", "'")
            if folded in self.stop or folded in self.negators:
                continue
            if folded not in self.words and _lemma(folded, self.language) not in self.lemmas:
                return f"name {word!r} is not in the item"
        for word in normalise(sentence).split():
            if word in self.calendar and word not in self.words:
                return f"date word {word!r} is not in the item"
        for quote in _QUOTE_RE.findall(sentence):
            needle = normalise(quote)
            if needle and fuzz.partial_ratio(needle, self.normal) < QUOTE_MATCH:
                return f"quotation {quote[:40]!r} is not in the item"
        return None

    def _content(self, lemmas: list[str], tokens: list[str]) -> list[str]:
        return [
            lemma
            for lemma, token in zip(lemmas, tokens, strict=True)
            if token not in self.stop and token not in self.negators and len(token) > 1
        ]

    def _best_windows(self, lemmas: list[str]) -> list[_Passage]:
        """The item's sentences that share most words with the sentence, best first, then the
        best pair of neighbouring sentences (a bullet may join two)."""
        wanted = set(lemmas)

        def best(windows: list[_Passage], n: int) -> list[_Passage]:
            return sorted(windows, key=lambda p: (-len(wanted & set(p.lemmas)), len(p.tokens)))[:n]

        pairs = [
            _Passage(a.tokens + b.tokens, a.lemmas + b.lemmas, a.context)
            for a, b in zip(self._passages, self._passages[1:], strict=False)
        ]
        return best(self._passages, 2) + best(pairs, 1)

    def _against(self, tokens: list[str], lemmas: list[str], passage: _Passage) -> str | None:
        """Coverage and polarity of a sentence against one passage."""
        content = self._content(lemmas, tokens)
        held = set(passage.lemmas) | set(passage.tokens)
        missing = [c for c in content if c not in held]
        if content and (
            len(missing) > MAX_UNCOVERED or (len(content) - len(missing)) / len(content) < COVERAGE
        ):
            return f"{_NOT_COVERED} {', '.join(missing[:4])!s}"
        matcher = SequenceMatcher(None, lemmas, passage.lemmas, autojunk=False)
        blocks = [b for b in matcher.get_matching_blocks() if b.size]
        if not blocks:
            return "no passage of the item covers it"
        first, last = blocks[0].a, blocks[-1].a + blocks[-1].size
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            said, was = tokens[i1:i2], passage.tokens[j1:j2]
            if tag == "delete" and first < i1 and i2 <= last:
                was = ["nothing"]  # words put inside what the passage says
            elif (
                tag != "replace"
                or (
                    all(w in self.stop for w in was)  # a pronoun or article, said in full
                    and set(self._content(lemmas[i1:i2], said)) <= passage.context
                )
            ):
                continue
            if self._swapped(said, lemmas[i1:i2], passage):
                return f"says {' '.join(said)!r} where the item says {' '.join(was[:6])!r}"
        start = max(0, blocks[0].b - 3)
        end = blocks[-1].b + blocks[-1].size + 1
        said_neg = sum(t in self.negators for t in tokens)
        item_neg = sum(t in self.negators for t in passage.tokens[start:end])
        if said_neg % 2 != item_neg % 2:
            return "it flips the negation of its passage"
        return None

    def _swapped(self, said: list[str], said_lemmas: list[str], passage: _Passage) -> bool:
        """True when a content word of the sentence the passage lacks took the place of words
        of the passage ("refused" for "agreed", "fell" for "rose", "Microsoft" for "Apple")."""
        held = set(passage.lemmas)
        return any(
            lemma not in held and token not in self.stop and len(token) > 1
            for token, lemma in zip(said, said_lemmas, strict=True)
        )


# --- a translation against its original --------------------------------------------------------

NOUN_CAPITALISING = frozenset({"de", "lb"})
"""Languages that capitalise every noun: a capital there does not mark a name."""
UNSPACED = frozenset({"ja", "zh", "th", "ko", "lo", "km", "my"})
"""Languages written without spaces between words: their words cannot be counted or matched."""
LENGTH_RATIO = (0.4, 2.5)
"""A translation has between these many times its original's words (originals of 8 words and
more): a much shorter one lost a clause, a much longer one added one."""
_SENTENCE_START = re.compile(r"(?:^|[.!?:;]\s+|[\"“«(]\s*)$")


def _fold(word: str) -> str:
    """A word compared across languages: case and accents do not count ("Zürich" is "zurich")."""
    decomposed = unicodedata.normalize("NFKD", word.casefold().replace("’", "'"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _folded_words(text: str) -> set[str]:
    """The text's words, folded, with elisions split off ("l'Allemagne" holds "allemagne")."""
    return set(re.findall(r"\w+", _fold(normalise(text))))


@lru_cache(maxsize=16)
def _calendar_positions(language: str) -> dict[str, tuple[str, int]]:
    """Month and day names (wide and abbreviated) of the language and English, by position:
    ("m", 5) is May, mai or Mai; ("d", 1) is Tuesday, mardi or Dienstag."""
    positions: dict[str, tuple[str, int]] = {}
    for code in (language, "en"):
        try:
            locale = Locale.parse(code.replace("-", "_"))
        except (UnknownLocaleError, ValueError):
            continue
        for width in ("wide", "abbreviated"):
            for kind, names in (
                ("m", get_month_names(width, locale=locale)),
                ("d", get_day_names(width, locale=locale)),
            ):
                for n, name in names.items():
                    folded = _fold(normalise(name))
                    if len(folded) >= 3 and " " not in folded:
                        positions.setdefault(folded, (kind, n))
    return positions


@lru_cache(maxsize=16)
def _place_words(language: str) -> dict[str, frozenset[str]]:
    """Each word of a country or language name in English or ``language``, mapped to the words
    of its names in both: "Germany" may stand as "Allemagne" in French."""
    names: dict[str, set[str]] = {}
    try:
        locales = [Locale.parse("en"), Locale.parse(language.replace("-", "_"))]
    except (UnknownLocaleError, ValueError):
        return {}
    for table in ("territories", "languages"):
        for code in getattr(locales[0], table):
            spelled = {
                w for loc in locales for w in _folded_words(getattr(loc, table).get(code, ""))
            }
            for word in spelled:
                names.setdefault(word, set()).update(spelled)
    return {word: frozenset(others) for word, others in names.items()}


def _names(text: str, stop: frozenset[str]) -> list[str]:
    """Capitalised words that are not function words and do not open a sentence."""
    out = []
    normal = unicodedata.normalize("NFKC", text)
    for match in _WORD_RE.finditer(normal):
        word = match.group()
        if not word[:1].isupper() or _SENTENCE_START.search(normal[: match.start()]):
            continue
        if word.casefold().replace("’", "'") not in stop:
            out.append(word)
    return out


def _dates(text: str, language: str) -> list[tuple[str, int]]:
    positions = _calendar_positions(language)
    return sorted(p for w in normalise(text).split() if (p := positions.get(_fold(w))))


def check_translation(
    original: str, translated: str, source_language: str, target_language: str
) -> str | None:
    """None when a translation keeps its original's facts, else why not, in a few words.

    A translation is checked against the text it translates, not the item (the original was
    checked against the item before): the **numbers** (digits, and words in the languages
    text2num reads) are the same both ways; every **name** of the original (a capitalised word
    that is not a function word and does not open a sentence) is in the translation, as written
    or, for a country or a language, as the target language names it (Babel's names); the
    translation adds no name the original lacks (not judged for languages that capitalise every
    noun); its **month and day names** are the original's, by calendar position ("Tuesday" is
    "mardi"); a **negation** is kept or left out in both (for languages with a known closed class
    of negators); and its length is within :data:`LENGTH_RATIO` of the original's. Wording and
    word order cannot be compared across languages: that a verb was rendered faithfully is not
    judged. Languages written without spaces get the number and date checks only.
    """
    target, source = target_language.split("-")[0], source_language.split("-")[0]
    if not translated.strip():
        return "the translation is empty"
    for number in sorted(_numbers(original, source) - _numbers(translated, target)):
        return f"number {number} was lost"
    for number in sorted(_numbers(translated, target) - _numbers(original, source)):
        return f"number {number} is not in the original"
    if _dates(original, source) != _dates(translated, target):
        return "its month or day names are not the original's"
    if target in UNSPACED or source in UNSPACED:
        return None
    said = _folded_words(translated)
    places = _place_words(target)
    original_stop = stopwords(source) | stopwords("en")
    for name in _names(original, original_stop):
        folded = _fold(name)
        if (
            folded in said
            or folded in _calendar_positions(source)
            or places.get(folded, set()) & said
        ):
            continue
        return f"name {name!r} was lost"
    if target not in NOUN_CAPITALISING:
        written = _folded_words(original)
        places_back = _place_words(source)
        for name in _names(translated, stopwords(target) | stopwords("en")):
            folded = _fold(name)
            if (
                folded in written
                or folded in _calendar_positions(target)
                or (places.get(folded, set()) | places_back.get(folded, set())) & written
            ):
                continue
            return f"name {name!r} is not in the original"
    negators = (NEGATORS.get(source), NEGATORS.get(target))
    if negators[0] and negators[1]:
        was = any(t in negators[0] for t in _tokens(original, source))
        now = any(t in negators[1] for t in _tokens(translated, target))
        if was != now:
            return "it adds a negation" if now else "it drops the negation"
    words, new_words = len(original.split()), len(translated.split())
    if words >= 8 and not LENGTH_RATIO[0] <= new_words / words <= LENGTH_RATIO[1]:
        return f"{new_words} words for the original's {words}"
    return None

"""Key terms of an item, each with a definition the item gives or the glossary's.

Definitions the item gives come first, and the definition shown is the item's own sentence:
"X is a <kind> …" / "X refers to …" (the copula and indefinite article of English, French,
German or Spanish), "… is called X" (with the sentence before it when the subject points back:
"This is called X"), and appositives, "X, a <kind> …," or "X (a <kind> …)". The kind must be a
kind of thing (a tool, a technique, a protocol), never a person, a place or an organisation; an
opinion ("X is a great …"), a sentence that speaks to the reader ("we", "you") or points
elsewhere is not a definition. A term written with its acronym, "Large language models (LLMs)",
counts under either name, and resolves the acronym: a glossary entry for "AGI" is not shown in an
item that spells AGI out as something else.

Glossary entries come next: see :func:`glossary_terms`. Every term is one the story needs: named
in the title or a bullet shown, or at least twice in the item's prose (headings, link lists and
other lines that are not sentences do not count).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from aggregator.briefs.glossary import SHIPPED_GLOSSARY, load_glossary
from aggregator.briefs.standalone import context_opener
from aggregator.briefs.text import is_complete_sentence, stopwords
from aggregator.model.brief import MAX_DEFINITION_WORDS, MAX_TERMS, Term

BROAD_USES = 3
"""A glossary term that this many other entries use to define themselves is a broad one ("neural
network", "language model"): it tells a reader of the field little, so it is shown only when the
title names it."""
CUE_SHARE = 0.03
"""Words in at least this share of the glossary's terms ("AI", "model", "learning") are its
field's cue words."""


@dataclass(frozen=True, slots=True)
class _Grammar:
    """The closed-class words a definition is recognised by, in one language."""

    copula: str
    """"is a" (the copula and an indefinite article)."""
    copula_the: str
    """"is the": a definition only after a term given with its acronym."""
    refers: str
    called: str
    """"is called" before the term, or (German) the verb that closes the sentence after it."""
    called_after: bool
    article: str
    """An indefinite article opening an appositive."""
    determiners: frozenset[str]
    kinds: frozenset[str]
    opinion: frozenset[str]
    head_ends: frozenset[str]
    speaker: str
    head_first: bool
    """The head noun comes first after the article (French, Spanish), else last (English,
    German, whose compounds end in their kind: "Programmiersprache")."""


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_EN = _Grammar(
    copula=r"(?:is|are)\s+an?",
    copula_the=r"(?:is|are)\s+the",
    refers=r"refers?\s+to(?:\s+an?|\s+the)?",
    called=r"(?:is|are)\s+(?:also\s+|often\s+|sometimes\s+|commonly\s+|usually\s+)?"
    r"(?:called|known\s+as|termed|referred\s+to\s+as)",
    called_after=False,
    article=r"an?",
    determiners=_set("a an the"),
    kinds=_set(
        "algorithm api app application approach architecture benchmark browser chip class command"
        " compiler component compound concept condition database dataset device dialect disease"
        " distribution editor engine environment extension file filesystem format framework"
        " function game interface kernel language library measure measurement mechanism metaphor"
        " method metric model module molecule network notation operator package paradigm parser"
        " pattern phenomenon platform plugin practice principle procedure process processor"
        " program property protocol runtime scheme server service shell software specification"
        " standard strategy structure syntax system technique technology term test theorem theory"
        " tool toolkit type unit utility variant abstraction assembler cache checker client"
        " computer controller crate debugger driver emulator event feature formatter generator"
        " instruction interpreter keyboard layer linter microcontroller mode operation option"
        " port queue register repository resolver sensor setting table terminal token tracker"
        " value variable version website"
    ),
    opinion=_set(
        "amazing awesome bad best better big bit brilliant fantastic favorite favourite few fun"
        " good great huge little lot must nice perfect popular real simple strong terrible true"
        " weak wonderful worse worst pretty really very quite super silly stupid cool neat"
        " interesting excellent handy useful helpful serious simplest easiest"
    ),
    head_ends=_set(
        "that which who whose where when used designed built written based focused aimed"
        " developed made capable inspired comparable similar for of from with in on to by at as"
        " like —"
    ),
    speaker=r"I|I'm|I’m|we|we're|we’re|us|our|you|your|my|me",
    head_first=False,
)
_FR = _Grammar(
    copula=r"(?:est|sont)\s+(?:une?|des)",
    copula_the=r"(?:est|sont)\s+(?:le|la|les|l['’])",
    refers=r"désigne(?:nt)?(?:\s+une?|\s+l[ea]|\s+les)?",
    called=r"(?:est|sont)\s+(?:aussi\s+|souvent\s+|parfois\s+)?(?:appelée?s?|nommée?s?|dite?s?)"
    r"|s['’]appellen?t?",
    called_after=False,
    article=r"une?",
    determiners=_set("un une le la les l' l’ des"),
    kinds=_set(
        "algorithme api application appli approche architecture benchmark navigateur puce classe"
        " commande compilateur composant composé concept condition appareil dialecte maladie"
        " distribution éditeur moteur environnement extension fichier format framework fonction"
        " jeu interface noyau langage bibliothèque mesure mécanisme métaphore méthode métrique"
        " modèle module molécule réseau notation opérateur paquet paradigme analyseur motif"
        " phénomène plateforme plugin greffon pratique principe procédure procédé processus"
        " processeur programme propriété protocole serveur service logiciel spécification norme"
        " standard stratégie structure syntaxe système technique technologie terme test théorème"
        " théorie outil type unité utilitaire variante indicateur ordinateur clavier terminal"
        " table opération version événement variable couche fonctionnalité option valeur client"
    ),
    opinion=_set(
        "bon bonne excellent excellente super génial géniale grand grande gros grosse vrai vraie"
        " meilleur meilleure mauvais mauvaise pire joli jolie beau belle incroyable formidable"
        " véritable peu sacré sacrée"
    ),
    head_ends=frozenset(),
    speaker=r"je|j['’]|nous|vous|mon|ma|mes|notre|nos|votre|vos|moi",
    head_first=True,
)
_DE = _Grammar(
    copula=r"(?:ist|sind)\s+(?:eine?[rsmn]?)",
    copula_the=r"(?:ist|sind)\s+(?:der|die|das)",
    refers=r"bezeichnet(?:\s+eine?[rsmn]?|\s+der|\s+die|\s+das|\s+den)?",
    called=r"(?:wird|werden)\s+(?:auch\s+|oft\s+|meist\s+)?(?:als\s+)?",
    called_after=True,
    article=r"eine?[rsmn]?",
    determiners=_set("ein eine einer eines einem einen der die das den dem des"),
    kinds=_set(
        "algorithmus api app anwendung ansatz architektur benchmark browser chip klasse befehl"
        " kommando compiler komponente verbindung konzept bedingung datenbank datensatz gerät"
        " dialekt krankheit distribution verteilung editor engine umgebung erweiterung datei"
        " dateisystem format framework funktion spiel schnittstelle kernel sprache bibliothek"
        " messung mechanismus metapher methode metrik modell modul molekül netzwerk netz notation"
        " operator paket paradigma parser muster phänomen plattform plugin praxis prinzip"
        " prozedur verfahren prozess prozessor programm eigenschaft protokoll laufzeitumgebung"
        " schema server dienst software spezifikation standard norm strategie struktur syntax"
        " system technik technologie begriff test theorem theorie werkzeug tool toolkit typ"
        " einheit variante kennzahl computer rechner tastatur terminal tabelle operation version"
        " ereignis variable schicht option wert client"
    ),
    opinion=_set(
        "gut gute guter gutes guten toll tolle toller tolles super großartig großartige"
        " großartiger großartiges echt echte echter echtes schlecht schlechte schlechter"
        " wunderbar wunderbare wunderbarer riesig riesige bisschen wahre wahrer wahres"
    ),
    head_ends=_set(
        "der die das des dem den für von mit zur zum zu in im auf aus bei um welche welcher"
        " welches wie als"
    ),
    speaker=r"ich|wir|du|dein|deine|mein|meine|meinen|unser|unsere|euch|mich|mir|uns",
    head_first=False,
)
_ES = _Grammar(
    copula=r"(?:es|son)\s+(?:una?|unos|unas)",
    copula_the=r"(?:es|son)\s+(?:el|la|los|las)",
    refers=r"se\s+refiere\s+a(?:\s+una?|\s+la|l)?",
    called=r"se\s+llaman?|se\s+denominan?|se\s+conocen?\s+como|(?:es|son)\s+(?:llamad|conocid"
    r"|denominad)[oa]s?(?:\s+como)?",
    called_after=False,
    article=r"una?",
    determiners=_set("un una unos unas el la los las"),
    kinds=_set(
        "algoritmo api aplicación app enfoque arquitectura benchmark navegador chip clase comando"
        " compilador componente compuesto concepto condición dispositivo dialecto enfermedad"
        " distribución editor motor entorno extensión archivo fichero formato marco framework"
        " función juego interfaz núcleo kernel lenguaje biblioteca librería medida mecanismo"
        " metáfora método métrica modelo módulo molécula red notación operador paquete paradigma"
        " analizador patrón fenómeno plataforma complemento plugin práctica principio"
        " procedimiento proceso procesador programa propiedad protocolo servidor servicio"
        " software especificación estándar norma estrategia estructura sintaxis sistema técnica"
        " tecnología término prueba test teorema teoría herramienta tipo unidad utilidad variante"
        " indicador computadora ordenador teclado terminal tabla operación versión evento variable"
        " capa opción valor cliente"
    ),
    opinion=_set(
        "buen bueno buena gran grande excelente genial mejor peor malo mala verdadero verdadera"
        " increíble poco fantástico fantástica"
    ),
    head_ends=frozenset(),
    speaker=r"yo|nosotros|nosotras|mi|mis|nuestro|nuestra|nuestros|tu|tus|usted|ustedes|vosotros|me",
    head_first=True,
)
GRAMMARS = {"en": _EN, "fr": _FR, "de": _DE, "es": _ES}
"""The languages whose own definitions are recognised; any other item gets English rules."""

_WORD = r"[\w.+#’'-]+"
_NAME = r"[A-Z][\w.+#-]*(?:\s+[A-Z][\w.+#-]*){0,3}"
_ACRONYM = r"\((?P<acr>[A-Z][A-Za-z0-9]{1,7}?)s?\)"
_OPINION_MARKS = re.compile(
    r"\b(?:makes? (?:a lot of |no |some )?sense|a lot|great|awesome|nice|cool|silly|stupid)\b|[?!]",
    re.IGNORECASE,
)
_DANGLING_RE = re.compile(
    r"\b(?:this|that|these|those|it|here|there)\W*$|\b(?:above|below)\b|https?://|www\.", re.I
)
"""A definition sentence that ends pointing elsewhere ("… for that.") or carries an address."""
_SORT_OF = _set("kind sort form family variety sorte forme genre famille tipo clase forma especie")
_WAY_OF = _set(
    "way set collection series piece style sequence combination façon manière moyen ensemble"
    " série collection forma manera conjunto serie colección"
)
"""A way of (doing), a set of (things): the phrase says what kind of thing it is."""
_KIND_SCAN = 8
"""Words after "is a" searched for the kind of thing, up to a "that", "which" or comma."""
_SENTENCE_END = re.compile(r"[.!?][\"'”’»)\]]*$")
_PRONOUN_RE = re.compile(r"\b(?:it|they|them|he|she|him|his|her|il|elle|ils|elles|er|sie)\b", re.I)
_GOES_ON_RE = re.compile(r"^(?:It|They|Il|Elle|Ils|Elles|Er|Es)\s+(?!\w+\s+(?:me|you|us)\b)")
"""A sentence that goes on about the term just defined: its subject is the term's pronoun."""
APPOSITIVE_WORDS = 30
"""An appositive ("X, a tool for …,") is shown in its sentence, when that is this short."""
_DEICTIC = _set("here there this that these those it its today now my our your his her their")


@dataclass(frozen=True, slots=True)
class _Patterns:
    copula: re.Pattern[str]
    called: re.Pattern[str]
    appositive: re.Pattern[str]
    gloss: re.Pattern[str]
    speaker: re.Pattern[str]


@lru_cache(maxsize=8)
def _patterns(language: str) -> _Patterns:
    g = GRAMMARS.get(language, _EN)
    term = rf"(?P<term>{_WORD}(?:\s+{_WORD}){{0,4}}?)"
    quoted = r"[\"“‘'«„]?(?P<called>[\w.+#’'-]+(?:\s+[\w.+#’'-]+){0,3}?)[\"”’'»“]?"
    if g.called_after:
        called = rf"^(?P<subject>.+?)\s+(?:{g.called}){quoted}\s+(?:genannt|bezeichnet)\W*$"
    else:
        det = "|".join(re.escape(d) for d in g.determiners if not d.endswith(("'", "’")))
        called = (
            rf"^(?P<subject>.+?)\s+(?:{g.called})\s+(?:(?:{det})\s+|l['’])?{quoted}"
            r"(?:\s*\([^()]{2,40}\))?\s*[.;:]?$"
        )
    return _Patterns(
        copula=re.compile(
            rf"^{term}(?:\s+{_ACRONYM}|\s+\([^()]{{2,60}}\))?,?\s+"
            rf"(?P<verb>{g.copula}|{g.refers}|{g.copula_the})\s+(?P<rest>\S+(?:\s+\S+){{2,}})"
        ),
        called=re.compile(called),
        appositive=re.compile(
            rf"(?P<term>\b{_NAME}),\s+(?P<def>(?:{g.article})\s+[^,;()—–]{{5,120}}?)(?:,|;|\s[—–]\s)"
        ),
        gloss=re.compile(rf"(?P<term>\b{_NAME})\s+\((?P<def>(?:{g.article})\s[^()]{{5,120}})\)"),
        speaker=re.compile(rf"\b(?:{g.speaker})(?!\w)", re.IGNORECASE),
    )


def find_terms(
    title: str,
    sentences: list[str],
    full_text: str,
    glossary: Mapping[str, str] | None = None,
    language: str = "en",
    shown: Sequence[str] = (),
) -> list[Term]:
    """Up to four terms the story needs: those the item defines, then glossary entries.

    ``sentences`` are the item's, ``full_text`` its clean text (a block a line), ``shown`` the
    bullets of its brief; a term counts in the title and the lines of running text only.
    """
    haystack = _prose_lines(f"{title}\n{full_text}")
    needed = "\n".join([title, *shown])
    acronyms = expansions(haystack)
    own = _defined_terms(sentences, haystack, needed, language)
    listed = glossary_terms(haystack, glossary, needed, acronyms, own)
    return merge_terms(own, listed)


def merge_terms(first: Sequence[Term], then: Sequence[Term]) -> list[Term]:
    """``first``, then the others not already defined (nor an acronym of one); at most four."""
    chosen = list(first)
    for t in then:
        if not any(_same(t.term, c.term) for c in chosen):
            chosen.append(t)
    return chosen[:MAX_TERMS]


# --- acronyms -------------------------------------------------------------------------------

_EXPANSION_RE = re.compile(rf"(?P<long>(?:[\w-]+\s+){{1,7}}){_ACRONYM}")
_REVERSED_RE = re.compile(
    r"\b(?P<acr>[A-Z][A-Za-z0-9]{1,7}?)s?\s+\((?P<long>[\w-]+(?:\s+[\w-]+){1,7})\)"
)


def expansions(text: str) -> dict[str, str]:
    """The acronyms the text spells out, "Large language models (LLMs)" or "AGI (agency gross
    income)": acronym -> its words, in any language (the initials must match)."""
    found: dict[str, str] = {}
    for m in _EXPANSION_RE.finditer(text):
        long = _initials_match(m["acr"], m["long"].split())
        if long:
            found.setdefault(m["acr"], long)
    for m in _REVERSED_RE.finditer(text):
        long = _initials_match(m["acr"], m["long"].split(), from_end=False)
        if long:
            found.setdefault(m["acr"], long)
    return found


def _initials_match(acronym: str, words: list[str], from_end: bool = True) -> str:
    """The words whose initials spell ``acronym`` (the words just before it, or all of
    ``words`` when it comes first); small lower-case words in between may be skipped."""
    letters = [c.casefold() for c in acronym if c.isupper() or c.isdigit()]
    if len(letters) < 2:
        return ""
    parts = [p for w in words for p in w.split("-") if p]
    if not from_end:
        if _initials(parts) == letters:
            return " ".join(words)
        return ""
    for start in range(len(parts) - 1, -1, -1):
        tail = parts[start:]
        if len(tail) > len(letters) + 2:
            break
        if _initials(tail) == letters:
            joined = " ".join(tail)
            spelled = " ".join(words)
            at = spelled.rfind(tail[0])
            return spelled[at:] if at >= 0 else joined
    return ""


def _initials(parts: Sequence[str]) -> list[str]:
    out = [p[0].casefold() for p in parts if not (p.islower() and len(p) <= 3)]
    return out if parts and not (parts[0].islower() and len(parts[0]) <= 3) else []


def _same(a: str, b: str) -> bool:
    """True when two terms name one thing: equal but for case and hyphens, or one the other's
    acronym ("LLM", "large language model")."""
    pa, pb = _plain(a), _plain(b)
    if pa.rstrip("s") == pb.rstrip("s"):
        return True
    for short, long in ((a, b), (b, a)):
        if short.isupper() and " " not in short and _initials_match(short, long.split(), False):
            return True
    return False


def _plain(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").split())


# --- the item's own definitions ---------------------------------------------------------------


def _defined_terms(
    sentences: Sequence[str], haystack: str, needed: str, language: str
) -> list[Term]:
    """Terms the item defines and needs, most often mentioned first."""
    grammar = GRAMMARS.get(language, _EN)
    stop = stopwords(language if language in GRAMMARS else "en")
    seen: set[str] = set()
    ranked: list[tuple[int, int, Term]] = []
    used: set[str] = set()  # one term per definition
    for term, acronym, definition in _text_definitions(sentences, grammar, language, stop):
        key = term.casefold()
        if key in seen or definition in used or not _ok_definition(definition, stop):
            continue
        if any(_same(term, t.term) or acronym and _same(acronym, t.term) for *_, t in ranked):
            continue  # "MCP" after "Model Context Protocol (MCP)"
        if not definition.startswith(f"{term} ") and _ordinary_word(term, haystack):
            continue  # "Sure, a desktop app, …" (a copula's subject may be "Auditing")
        count = sum(_count(name, haystack) for name in (term, acronym) if name)
        if count >= 2 or any(_count(name, needed) for name in (term, acronym) if name):
            seen.add(key)
            used.add(definition)
            ranked.append((-count, len(ranked), Term(term, definition)))
    return [t for _, _, t in sorted(ranked, key=lambda r: r[:2])]


def _ordinary_word(term: str, text: str) -> bool:
    """A capitalised word that the text writes capitalised only at a sentence's start and
    also in lower case ("Below is a …", "Sure, a …"): an ordinary word, not a name."""
    if " " in term or not (term[:1].isupper() and term[1:].islower()):
        return False
    mid_sentence = re.search(rf"[\w,;:]\s+{re.escape(term)}\b", text)
    return mid_sentence is None and re.search(rf"\b{re.escape(term.lower())}\b", text) is not None


def _count(term: str, text: str) -> int:
    flags = 0 if _exact_case(term) else re.IGNORECASE
    return len(re.findall(rf"(?<!\w){re.escape(term.strip())}(?:e?s)?(?!\w)", text, flags))


def _text_definitions(
    sentences: Sequence[str], grammar: _Grammar, language: str, stop: frozenset[str]
) -> Iterable[tuple[str, str, str]]:
    """(term, its acronym or "", the definition shown) for every definition in the sentences."""
    p = _patterns(language)
    for i, s in enumerate(sentences):
        if p.speaker.search(s) or _OPINION_MARKS.search(s) or _DANGLING_RE.search(s):
            continue
        if not is_complete_sentence(s):
            continue
        m = p.copula.match(s)
        if m and not context_opener(s, language or "en"):
            term = _strip_determiner(m["term"], grammar)
            acronym = m["acr"] or ""
            the = re.fullmatch(grammar.copula_the, m["verb"]) is not None
            if (
                _is_term(term, stop, grammar.kinds)
                and (not the or acronym)
                and _names_a_kind(m["rest"], grammar, the)
            ):
                yield term, acronym, _with_next(s, sentences[i + 1 : i + 2], p, language)
        m = p.called.match(s)
        if m:
            term = m["called"].strip(".,;:")
            subject = m["subject"]
            if _is_term(term, stop, grammar.kinds) and not _is_name(term):
                if context_opener(s, language) or subject.split()[0].casefold() in _DEICTIC:
                    before = sentences[i - 1] if i else ""
                    if _plain_statement(before, p, language):
                        yield term, "", f"{before} {s}"
                elif len(subject.split()) >= 3:
                    yield term, "", s
        if len(s.split()) > APPOSITIVE_WORDS:
            continue
        for m in (*p.appositive.finditer(s), *p.gloss.finditer(s)):
            names = [m["term"]]
            if m.start() == 0 and " " in m["term"]:  # "Usan Terraform, una herramienta …"
                names.append(m["term"].split(None, 1)[1])
            rest = m["def"].split(None, 1)
            before = s[: m.start()]
            quoted = before.count("“") > before.count("”") or before.count('"') % 2 == 1
            listed = "," in before  # "…, improvements to Ractors, a new mechanism …": a list
            if len(rest) == 2 and not (quoted or listed) and _names_a_kind(rest[1], grammar, False):
                yield from ((n, "", s) for n in names if _is_term(n, stop, grammar.kinds))


def _plain_statement(sentence: str, p: _Patterns, language: str) -> bool:
    """A sentence that says what something is without pointing elsewhere: the lead-in of
    "This is called X"."""
    return bool(
        sentence
        and is_complete_sentence(sentence)
        and not context_opener(sentence, language)
        and not p.speaker.search(sentence)
        and not _PRONOUN_RE.search(sentence)
    )


def _with_next(definition: str, after: Sequence[str], p: _Patterns, language: str) -> str:
    """The definition and the sentence after it when that one goes on about the term ("It is
    …"), without a question, an opinion or a word to the reader, and both fit in forty words."""
    if not after:
        return definition
    nxt = after[0]
    both = f"{definition} {nxt}"
    if (
        _GOES_ON_RE.match(nxt)
        and is_complete_sentence(nxt)
        and not (p.speaker.search(nxt) or _OPINION_MARKS.search(nxt) or _DANGLING_RE.search(nxt))
        and len(both.split()) <= MAX_DEFINITION_WORDS
    ):
        return both
    return definition


def _strip_determiner(term: str, grammar: _Grammar) -> str:
    first, _, rest = term.partition(" ")
    if rest and first.casefold() in grammar.determiners:
        return rest
    if first[:2].casefold() in ("l'", "l’") and len(first) > 2:
        return term[2:]
    return term


def _is_name(term: str) -> bool:
    """A proper name in title case ("The Smiths"), not a term ("p-value", "MCP")."""
    parts = term.split()
    return (
        all(p[:1].isupper() and p[1:].islower() for p in parts)
        and len(parts) >= 1
        and not (len(parts) == 1 and "-" in term)
    )


def _names_a_kind(phrase: str, grammar: _Grammar, loose: bool) -> bool:
    """True when the head noun of the phrase after "is a" is a kind of thing (a tool, a
    protocol), not a role, a place or an opinion: "a talented software engineer" is a person.
    ``loose`` (after "is the", "refers to") takes any phrase that is not an opinion."""
    words = [w.strip(".,;:()\"“”'’«»").casefold() for w in phrase.split()[:_KIND_SCAN]]
    if len(words) > 2 and words[0] in _WAY_OF and words[1] in ("of", "de", "d'", "d’"):
        return True
    if len(words) > 2 and words[0] in _SORT_OF and words[1] in ("of", "de", "d'", "d’"):
        words, phrase = words[2:], phrase.split(None, 2)[2]  # "a kind of network"
    if not words or not words[0] or words[0] in grammar.opinion:
        return False
    if loose:
        return len(phrase.split()) >= 3
    if grammar.head_first:
        return any(w in grammar.kinds or w.rstrip("sx") in grammar.kinds for w in words[:2])
    head: list[str] = []
    for raw, word in zip(phrase.split(), words, strict=False):
        if (
            word in grammar.head_ends
            or head[-1:]
            and head[-1] in grammar.kinds
            and word.endswith("ed")
        ):
            break  # "a network trained on …": the head came before
        head.append(word)
        if raw.endswith((",", ";", ":", ".")):
            if len(head) == 1:
                return False  # "X is a tool, and …": a kind and nothing said about it
            break
    if not head:
        return False
    noun = head[-1]
    if noun in grammar.kinds or noun.rstrip("sn") in grammar.kinds:
        return True
    return grammar is _DE and any(len(k) >= 4 and noun.endswith(k) for k in grammar.kinds)


def _is_term(term: str, stop: frozenset[str], kinds: frozenset[str] = frozenset()) -> bool:
    """A name-like term or a short noun phrase, not led by a stopword or a pointing word, not
    a kind word itself ("The platform is a …" speaks of one platform) nor a gerund's phrase
    ("Comparing vectors")."""
    parts = term.split()
    if not parts or len(term) < 2 or not any(c.isalpha() for c in parts[0]):
        return False  # "8.12 is a new approach": a version, not a term
    if term.casefold().rstrip("s") in kinds or term.casefold() in kinds:
        return False
    if len(parts) > 1 and parts[0].endswith("ing") and parts[1][:1].islower():
        return False
    folded = [p.casefold() for p in parts]
    if any(p in _DEICTIC for p in folded) or folded[-1] in stop:
        return False
    if sum(p in stop for p in folded) > (len(parts) > 2):  # "Large language models" is one
        return False
    if all(p[0].isupper() or p[0].isdigit() for p in parts):
        return True
    return len(parts) <= 3 and all(p.replace("-", "").isalpha() for p in parts)


def _ok_definition(definition: str, stop: frozenset[str]) -> bool:
    """Two to forty words, not cut short, nothing missing (" and ." where a formula was)."""
    parts = definition.split()
    return (
        2 <= len(parts) <= MAX_DEFINITION_WORDS
        and "…" not in definition
        and "..." not in definition
        and _GAP_RE.search(definition) is None
    )


_GAP_RE = re.compile(r"\s[.,;:](?:\s|$)|\(\s*\)")


def _is_prose(sentence: str) -> bool:
    """A sentence of running text: four words or more and a full stop (not a heading, a menu
    entry or a link list's title)."""
    return len(sentence.split()) >= 4 and _SENTENCE_END.search(sentence) is not None


# --- the glossary ---------------------------------------------------------------------------


def glossary_terms(
    item_text: str,
    glossary: Mapping[str, str] | None,
    needed: str | None = None,
    acronyms: Mapping[str, str] | None = None,
    alongside: Sequence[Term] = (),
) -> list[Term]:
    """Glossary entries the item needs, specific ones first.

    The shipped glossary's entries define AI terms, so each counts only in an item about AI by
    other evidence than the term itself: another glossary term (not the same one in other
    words, "AGI" and "artificial general intelligence"), or, for a term of two words or more,
    one of the words the glossary's terms are made of most often ("AI", "model", "learning").
    An operator's entries count anywhere. An acronym the item spells out as something else
    is not the glossary's ("agency gross income (AGI)"). A broad term (:data:`BROAD_USES`)
    counts only when the title names it. When ``needed`` is given (the title and the bullets
    shown), a term must occur there or twice in the item. ``alongside`` are the terms already
    chosen (the item's own): an entry restating one of them is left out.

    Matching: a term with a capital after its first letter ("RLHF", "LoRA") must match exactly,
    the others in any case; plurals count, and the longest term wins where two overlap.
    """
    if not glossary:
        return []
    text = _prose_lines(item_text)
    title = text.split("\n", 1)[0]
    acronyms = expansions(text) if acronyms is None else acronyms
    entries = tuple(glossary.items())
    found: dict[str, list[int]] = {}
    for pattern, key in _matchers(entries):
        for m in pattern.finditer(text):
            term = key(m["t"])
            if term is not None:
                found.setdefault(term, []).append(m.start())
    shipped = _shipped()
    cues = _cue_words(entries)
    chosen: list[tuple[tuple[int, int, int], Term]] = []
    for term, at in found.items():
        definition = glossary[term].strip()
        own = shipped.get(term) != definition
        if not own and not _in_field(term, found, text, cues):
            continue
        if not _acronym_agrees(term, definition, acronyms):
            continue
        in_title = _count(term, title) > 0
        if needed is not None and not (len(at) >= 2 or _count(term, needed)):
            continue
        if not own and not in_title and _broad(entries).get(term, 0) >= BROAD_USES:
            continue
        broad = 0 if own else _broad(entries).get(term, 0)
        chosen.append(((not in_title, broad, at[0]), Term(term, definition)))
    out: list[Term] = []
    for (_, broad, _), t in sorted(chosen, key=lambda c: c[0]):
        if broad >= BROAD_USES and (out or alongside):
            continue  # a broad term only when nothing more specific is shown
        if not any(
            _restates(t, c) or _restates(c, t) or _same(t.term, c.term) for c in (*alongside, *out)
        ):
            out.append(t)
    return out


def _prose_lines(text: str) -> str:
    """The first line (the title) and the lines of running text."""
    first, _, rest = text.partition("\n")
    return "\n".join([first, *(line for line in rest.split("\n") if _is_prose(line))])


def _in_field(term: str, found: Mapping[str, list[int]], text: str, cues: frozenset[str]) -> bool:
    """True when the item names another glossary term, or (a term of several words) a cue word
    of the glossary's field outside the term's own mentions."""
    if any(other != term and not _same(other, term) for other in found):
        return True
    if " " not in term.strip():
        return False
    rest = re.sub(rf"(?i){re.escape(term)}", " ", text)
    return any(w.casefold().rstrip("s") in cues for w in re.findall(r"\w+", rest))


def _acronym_agrees(term: str, definition: str, acronyms: Mapping[str, str]) -> bool:
    """False for an acronym the item spells out as something the definition does not name."""
    long = acronyms.get(term.strip())
    return long is None or _plain(long).rstrip("s") in _plain(definition)


def _restates(a: Term, b: Term) -> bool:
    """True when ``b``'s definition names ``a`` ("RAG, or retrieval-augmented generation, …")."""
    return _plain(a.term) in _plain(b.definition)


@lru_cache(maxsize=8)
def _matchers(
    entries: tuple[tuple[str, str], ...],
) -> list[tuple[re.Pattern[str], Callable[[str], str | None]]]:
    exact = {t.strip(): t for t, d in entries if t.strip() and d.strip() and _exact_case(t)}
    folded = {
        t.strip().casefold(): t
        for t, d in entries
        if t.strip() and d.strip() and not _exact_case(t)
    }
    out: list[tuple[re.Pattern[str], Callable[[str], str | None]]] = []
    for table, flags in ((exact, 0), (folded, re.IGNORECASE)):
        if table:
            alts = "|".join(re.escape(t) for t in sorted(table.values(), key=len, reverse=True))
            pattern = re.compile(rf"(?<!\w)(?P<t>{alts})(?:e?s)?(?!\w)", flags)
            key = (
                table.get if flags == 0 else (lambda text, table=table: table.get(text.casefold()))
            )
            out.append((pattern, key))
    return out


@lru_cache(maxsize=8)
def _broad(entries: tuple[tuple[str, str], ...]) -> dict[str, int]:
    """How many other entries name each term (or its acronym) in their own term or definition."""
    uses: dict[str, int] = {}
    for term, _ in entries:
        names = [t for t, _ in entries if _same(t, term)]
        pattern = re.compile(
            "|".join(rf"(?<!\w){re.escape(n)}(?:e?s)?(?!\w)" for n in names),
            0 if all(_exact_case(n) for n in names) else re.IGNORECASE,
        )
        uses[term] = sum(
            1 for t, d in entries if t not in names and pattern.search(f"{t} {d}") is not None
        )
    return uses


@lru_cache(maxsize=8)
def _cue_words(entries: tuple[tuple[str, str], ...]) -> frozenset[str]:
    """Words that make up at least :data:`CUE_SHARE` of the glossary's terms."""
    stop = stopwords("en")
    counts: dict[str, int] = {}
    for term, _ in entries:
        for w in {w.casefold().rstrip("s") for w in re.findall(r"\w+", term)}:
            if w not in stop and len(w) > 1:
                counts[w] = counts.get(w, 0) + 1
    least = max(2, CUE_SHARE * len(entries))
    return frozenset(w for w, n in counts.items() if n >= least)


@lru_cache(maxsize=1)
def _shipped() -> dict[str, str]:
    return load_glossary(SHIPPED_GLOSSARY) if SHIPPED_GLOSSARY.is_file() else {}


def _exact_case(term: str) -> bool:
    return term.strip()[1:] != term.strip()[1:].lower()

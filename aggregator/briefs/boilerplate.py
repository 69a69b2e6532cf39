"""What is not the story: sponsor reads, promo codes, calls to action, captions, credits, bylines,
share prompts, comment counts, cookie notices and link labels.

Structure decides first (:func:`is_boilerplate_element`, on the item's HTML): an element that is
mostly link text (a navigation or "recent posts" list, a "Check out …" link), or a short one set
wholly in italics or small print (captions, credits, notes), or a section under a heading that
names boilerplate ("Sponsors", "Links") is not text. Then each block or sentence
(:func:`is_boilerplate`): signals that hold in every language (a promo code, an agency or ©
credit, a bare URL), and where words are unavoidable, small cue lists kept per language
(English, French, German, Spanish, the languages most feeds are written in): sponsor words,
and the imperative verbs a call to action opens with. The lists are applied together, language
blind: a French cue does not open an English sentence by chance.
"""

from __future__ import annotations

import re

import lxml.html

# Opening words of share prompts, read-more links, bylines, captions, comment counts (English).
_ENGLISH_RE = re.compile(
    r"""^(?:
        (?:continue|keep)\ reading | read\ (?:more|the\ (?:rest|full)|on\b) | more\ [»›→]
      | (?:click\ to\ )?share\ (?:this|on|via)\b | share\s*: | like\ this\b | like\ loading
      | tweet\ this\b | pin\ it\b
      | the\ post\ .+\ appeared\ first\ on\b | this\ (?:entry|post)\ was\ posted\ in\b
      | (?:posted|filed)\ (?:in|under|by)\b | (?:written|photo(?:graph)?s?|image|images)\ by\b
      | tags?: | categor(?:y|ies): | permalink\b
      | \(?(?:photo|image)\ (?:credit|courtesy)
      | comments?\s*(?:\(\d+\))?\W*$ | \d+\ (?:comments?|responses?|replies)\b
      | (?:leave|add|post)\ a\ (?:comment|reply)
      | no\ comments\b | related(?:\ (?:posts|articles|stories))?\s*:? $ | follow\ (?:us|me)\b
      | (?:subscribe|sign\ up)\b.*\b(?:newsletter|feed|podcast|updates)\b | advertisement$
      | (?:accept|allow)\ (?:all\ )?cookies | copyright\ (?:©|\(c\)|\d{4}) | ©
    )""",
    re.IGNORECASE | re.VERBOSE,
)
# A byline: the language's "by" and one to four capitalised names, nothing else.
_BYLINE_RE = re.compile(
    r"^(?:by|par|von|por|di|door|av|af)\s+(?-i:[A-ZÀ-Ý][\w.'’-]+(?:\s+[A-ZÀ-Ý][\w.'’-]+){0,3})\W*$",
    re.IGNORECASE,
)
# A caption or credit label: "Photo:", "Image source:", "Crédit photo :", "Foto:", "Imagen:".
_CREDIT_LABEL_RE = re.compile(
    r"^\(?(?:(?:photo|image|picture|credit|source|via|caption|illustration|video)s?"
    r"|image\ source|photo\ credit|crédits?(?:\ photo)?|légende|foto(?:s|grafie)?|bild(?:er)?"
    r"|quelle|bildquelle|imagen(?:es)?|fuente|créditos?|pie\ de\ foto)\s*:",
    re.IGNORECASE | re.VERBOSE,
)
# A credit names an agency or stock library (the same names in every language) or holds ©.
_AGENCY_RE = re.compile(
    r"(?:©|\bGetty(?:\s+Images)?\b|\bShutterstock\b|\bUnsplash\b|\bReuters\b|\bAFP\b|\bdpa\b"
    r"|\bAP Photo\b|\bEPA\b|\bAlamy\b|\bWikimedia Commons\b|\bCC[ -]BY\b)"
)
_PROMO_CODE_RE = re.compile(
    r"\b(?:code|codes|código|codice|kod|gutschein(?:code)?|rabattcode|coupon|cupón)\s*"
    r"(?:promo\s*)?[:\"“'«]?\s*(?-i:[A-Z0-9]{3,20})\b",
    re.IGNORECASE,
)
_CODE_KEYS = re.compile(r"(?i:cod|kod|gutschein|coupon|cupón)")
"""Every promo code follows one of these: the cheap test before the pattern."""
# Per language: sponsor reads and offers (anywhere in the text).
_SPONSOR_CUES = {
    "en": r"\b(?:this|today['’]s) (?:episode|video|post|newsletter|issue|show) is (?:sponsored|brought"
    r" to you|supported) by|thanks to (?:our|today['’]s) sponsors?|\bour sponsors?\b|\bsponsor(?:ed)?"
    r" (?:segment|message|read)\b|^sponsor(?:ed)?\b|affiliate links?|promo code|discount code"
    r"|\b\d+% off\b|(?:[$€£]\d+|\d+ ?[$€£]) (?:off|credit)\b|\bwhen you sign up\b",
    "fr": r"\b(?:cet épisode|cette vidéo) est (?:sponsorisée?|présentée?|soutenue?) par"
    r"|merci à notre sponsor|sponsoris[ée]+ par|code promo|liens? affiliés?",
    "de": r"\b(?:diese folge|dieses video|diese episode) wird (?:präsentiert|unterstützt|gesponsert)"
    r"|gesponsert von|^(?:werbung|anzeige):|\b\d+ ?% rabatt|gutscheincode|affiliate-links?",
    "es": r"\b(?:este episodio|este v[íi]deo) (?:está|es) (?:patrocinado|presentado) por"
    r"|patrocinado por|código (?:promocional|de descuento)|enlaces? de afiliado",
}
# Per language: the imperative a call to action opens with ("Subscribe …", "Abonnez-vous …");
# verbs that are also nouns ("Share", "Support", "Order") only with the reader as their object.
_CALL_CUES = {
    "en": r"subscribe|sign up|check out|click|register|donate|let (?:me|us) know|don['’]t (?:forget"
    r"|miss)|make sure to|be sure to|(?:get|grab|claim|try|buy|order|shop|book|download|watch"
    r"|listen to|visit|join|follow|support|share|like) (?:your|our|my|it|us|me|them|now|today"
    r"|for free|the (?:app|full|episode|video|show))\b",
    "fr": r"abonnez|inscrivez|rejoignez|suivez-(?:nous|moi)|cliquez|téléchargez|essayez|achetez"
    r"|commandez|partagez|soutenez|découvrez|profitez|laissez un|n['’]oubliez pas",
    "de": r"abonnier(?:e|t|en)\b|melde dich|folg(?:e|t) (?:mir|uns)|klick(?:e|t|en Sie)\b"
    r"|unterstütz(?:e|t) (?:mich|uns)|hol dir|sicher dir|vergiss nicht|jetzt (?:abonnieren"
    r"|anmelden|kaufen|bestellen|testen|herunterladen)",
    "es": r"suscríbete|suscríbanse|regístrate|únete|síg(?:ue|a)(?:nos|me)|haz clic|descarga"
    r"|pruébalo|compra ya|comparte|apoya|descubre|aprovecha|no olvides",
}
_SPONSOR_KEYS = (
    "sponsor", "brought to you", "supported by", "affili", "afiliado", "promo", "discount", " off",
    "credit", "sign up", "présent", "soutenu", "präsentiert", "unterstützt", "gesponsert",
    "werbung", "anzeige", "rabatt", "gutschein", "patrocin", "presentado", "descuento",
)  # fmt: skip
"""Every sponsor cue holds one of these: the cheap test before the pattern."""
_SPONSOR_RE = re.compile("|".join(f"(?:{p})" for p in _SPONSOR_CUES.values()), re.IGNORECASE)
_CALLS = "|".join(f"(?:{p})" for p in _CALL_CUES.values())
_CALL_RE = re.compile(r"^[\W\d]*(?:" + _CALLS + ")", re.IGNORECASE)
# Per language: a lead-in that addresses the reader before the call ("If you liked it, …").
_READER_IF = (
    r"if you|si (?:vous|tu)\b|wenn (?:du|ihr|sie)\b|falls (?:du|ihr|sie)\b|si (?:usted|te)\b"
)
_CALL_AFTER_IF_RE = re.compile(
    r"^[\W\d]*(?:" + _READER_IF + r")[^.!?]{0,200}?[,—–]\s*(?:" + _CALLS + ")", re.IGNORECASE
)
# A second call in the same sentence, opening a clause ("Subscribe … and let me know …").
_ANOTHER_CALL_RE = re.compile(
    r"(?:[,;—–]\s*|\b(?:and|et|und|y)\s+)(?:" + _CALLS + ")", re.IGNORECASE
)
# Per language: headings of sections that are not the story.
# Per language: a polite request for something of the writer's ("Please consider joining our
# Patreon", "Bitte unterstützt unseren Blog"): the politeness marker, then a first-person word.
_PLEASE_RE = re.compile(
    r"^[\W\d]*(?:please|kindly|bitte|por favor|merci de|veuillez|s['’]il vous plaît)\b[^.!?]*?"
    r"\b(?:our|my|us|me|notre|nos|mon|ma|mes|nous|unser\w*|mein\w*|uns|nuestr[oa]s?|mis?)\b",
    re.IGNORECASE,
)
# Per language: the reader and the writers as "we" (closed classes of pronouns).
_READER_RE = re.compile(
    r"\b(?:you\w*|vous|votre|vos|tu|te|toi|ton|tes|du|dich|dir|dein\w*|euch|euer|tú|ti|tus"
    r"|usted\w*|vosotr[oa]s)\b",
    re.IGNORECASE,
)
_WRITERS_RE = re.compile(
    r"\b(?:we|our|us|nous|notre|nos|wir|uns|unser\w*|nosotr[oa]s|nuestr[oa]s?)\b", re.IGNORECASE
)
_SENTENCE_GAP_RE = re.compile(r"(?<=[.!?])\s+")
APPEAL_WORDS = 80
"""A block this short holding a call to action, in which "we" speak to "you", is an appeal."""
_SECTION_CUES = {
    "en": r"sponsors?|sponsored by|links?|other links|affiliate links|credits|comments?|related"
    r"(?: posts| articles| stories)?|support (?:me|us)|share this|follow (?:me|us)|about the author",
    "fr": r"sponsors?|partenaires|liens|crédits|commentaires|articles similaires|à propos de l['’]auteur",
    "de": r"sponsoren|links|credits|kommentare|ähnliche artikel|über den autor",
    "es": r"patrocinadores|enlaces|créditos|comentarios|artículos relacionados|sobre el autor",
}
_SECTION_RE = re.compile(
    r"^(?:" + "|".join(f"(?:{p})" for p in _SECTION_CUES.values()) + r")\W*$", re.IGNORECASE
)
_COOKIE_RE = re.compile(
    r"\bcookies?\b.*\b(?:we use|uses|consent|accept|browsing|privacy)\b"
    r"|\b(?:we use|this (?:site|website) uses)\b.*\bcookies?\b",
    re.IGNORECASE,
)
_FOLLOW_RE = re.compile(
    r"\bfollow (?:us|me|him|her|them) on\b|\bsubscribe to (?:our|my|the) (?:newsletter|feed|channel)"
    r"|\bsign up for (?:our|my|the) newsletter",
    re.IGNORECASE,
)
_URL_ONLY_RE = re.compile(r"^\W*(?:https?://|www\.)\S+\W*$", re.IGNORECASE)
_LINK_LABEL_RE = re.compile(r"[:–—-]\s*(?:https?://|www\.)\S+\W*$", re.IGNORECASE)
_AD_WORDS = 12
_CALL_SENTENCE_WORDS = 30
"""A sentence of calls is no longer than this (a longer text is a paragraph, judged by its parts)."""
"""A call to action or credit longer than this is read as prose unless it ends with "!"."""

LINK_SHARE = 0.6
"""An element whose text is at least this share link text is navigation, not prose."""
SMALL_PRINT_WORDS = 40
_SMALL_PRINT_TAGS = frozenset({"em", "i", "small", "sub", "sup", "cite"})
_ROLES = frozenset({"navigation", "complementary", "contentinfo", "banner", "note"})


def is_boilerplate(text: str) -> bool:
    """True for text that is not the story: see the module docstring."""
    text = text.strip()
    if not text:
        return False
    n_words = len(text.split())
    return bool(
        _ENGLISH_RE.match(text)
        or _BYLINE_RE.match(text)
        or _CREDIT_LABEL_RE.match(text)
        or _COOKIE_RE.search(text)
        or _FOLLOW_RE.search(text)
        or _URL_ONLY_RE.match(text)
        or _LINK_LABEL_RE.search(text)
        or (_CODE_KEYS.search(text) is not None and _PROMO_CODE_RE.search(text))
        or (n_words <= _AD_WORDS and _AGENCY_RE.search(text))
        or _sponsored(text)
        or _is_call(text, n_words)
    )


def _is_call(text: str, n_words: int) -> bool:
    """A call to action: one that opens the sentence (short, or ending with "!", or a sentence
    with a second call in it), or one that follows a lead-in addressed to the reader."""
    opening = _CALL_RE.match(text)
    if opening is not None:
        return (
            n_words <= _AD_WORDS
            or text.rstrip("\"'”’»)").endswith("!")
            or n_words <= _CALL_SENTENCE_WORDS
            and _ANOTHER_CALL_RE.search(text, opening.end()) is not None
        )
    return _CALL_AFTER_IF_RE.match(text) is not None or _PLEASE_RE.match(text) is not None


def is_appeal(block: str) -> bool:
    """True for a short block around a call to action in which the writers ("we", "our") speak
    to the reader ("you"): "We need you now. Please consider joining our Patreon. You'll get
    access to our podcast." Every sentence of it goes with the call."""
    if len(block.split()) > APPEAL_WORDS:
        return False
    parts = _SENTENCE_GAP_RE.split(block.strip())
    if len(parts) < 2 or not any(_is_call(p, len(p.split())) for p in parts):
        return False
    return any(_READER_RE.search(p) and _WRITERS_RE.search(p) for p in parts)


def _sponsored(text: str) -> bool:
    lower = text.lower()
    return any(key in lower for key in _SPONSOR_KEYS) and _SPONSOR_RE.search(text) is not None


def is_url_only(text: str) -> bool:
    """True for a line that is only a web address."""
    return _URL_ONLY_RE.match(text.strip()) is not None


def is_boilerplate_heading(text: str) -> bool:
    """True for a heading whose section is not the story ("Sponsors", "Liens", "Kommentare")."""
    return _SECTION_RE.match(text.strip()) is not None


def is_boilerplate_element(el: lxml.html.HtmlElement) -> bool:
    """True for a block element that structure marks as not the story: a navigation role, mostly
    link text, or short small print (wholly in italics, <small> or <cite>)."""
    if el.get("role") in _ROLES:
        return True
    text = el.text_content()
    n_chars = len("".join(text.split()))
    if not n_chars:
        return False
    linked = sum(len("".join(a.text_content().split())) for a in el.iter("a"))
    if linked >= LINK_SHARE * n_chars:
        return True
    if len(text.split()) > SMALL_PRINT_WORDS or (el.text or "").strip():
        return False
    children = list(el)
    return bool(children) and all(
        c.tag in _SMALL_PRINT_TAGS and not (c.tail or "").strip() for c in children
    )

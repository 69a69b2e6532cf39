"""Whether two items report the same news event: compact signatures and one pairwise test.

An item's :class:`Signature` holds what the test needs and nothing else, so it is stored with the
item and compared without reading the item's text again:

* ``sketch``: a bottom-k sketch (the ``SKETCH`` smallest hashes) of the word 3-gram shingles of
  the title and text, which estimates the Jaccard similarity of two texts: twin feeds, an Atom
  and a JSON Feed copy, and syndicated copies with small edits share most shingles;
* ``names``: the words written with a capital letter where a sentence does not start (in the
  text's opening, and in the title unless every word of it is capitalized), and numbers: the
  people, places, bodies and figures an event is made of, in any script that has case;
* ``title``: the title's words of three letters or more, and its numbers;
* ``series``: a hash of the title's lead (what comes before a separator, as in "Docker
  Compose: Volumes"), which one feed's series share.

:func:`same_event` decides from two signatures and the window's word weights; :class:`Stories`
places items one at a time (in order of publication) into stories, with a story-level check
when an item is linked to several.
"""

from __future__ import annotations

import math
import re
import struct
import unicodedata
import zlib
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import chain, filterfalse, repeat
from typing import TypeVar

SKETCH = 48
"""Hashes kept per bottom-k sketch."""
_PROBES = 4
"""Sketch hashes indexed per member: copies share their smallest shingles."""
LEAD_CHARS = 600
"""How much of the text names are read from: the opening, where a report says what happened."""
SHINGLE_CHARS = 1500
"""How much of the text its shingles are made from."""
STEM = 8
TITLE_WEIGHT = 2
"""Words are compared by their first letters, so one word's inflections count as one."""
WINDOW = timedelta(days=3)
"""Items further apart than this (by publication date) are never one story."""

NEAR_DUPLICATE = 0.5
"""Estimated shingle Jaccard at which two texts are copies of one report."""
MIN_SHINGLES = 6
"""A text with fewer shingles than this is too short to call a copy by its shingles."""
SHARED_NAMES = 1
"""Names and numbers two reports of one event share, at least."""
SIMILAR = 0.30
"""Weighted cosine of two reports of one event, at least."""
SIMILAR_ONE_SOURCE = 0.5
"""The same from one feed, which writes about one topic in many pieces."""
MERGE_SIMILAR = 0.35
"""Cosine of an item to a second story it is linked to (to its centroid: its members'
normalized word vectors summed) at which the item merges that story into its own."""

_WORD = re.compile(r"\w+(?:[.,'’\-]\w+)*")

_DIGIT = re.compile(r"\d")


_V = TypeVar("_V")


def _hash(text: str) -> int:
    return zlib.crc32(text.encode("utf-8", "surrogatepass"))


_MEMO_SIZE = 200_000
"""Words whose hashes and forms are remembered, at most (then forgotten at once): news repeats
its words, so most of a signature's words are looked up rather than hashed."""


class _Memo(dict[str, _V]):
    """Values made by ``make`` once per key: a hit is one lookup in C (``map(memo.__getitem__,
    keys)``), only a miss calls Python."""

    __slots__ = ("make",)

    def __init__(self, make: Callable[[str], _V]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: str) -> _V:
        if len(self) >= _MEMO_SIZE:
            self.clear()
        value = self[key] = self.make(key)
        return value


_HASHES = _Memo(_hash)


def _hashes(words: Iterable[str]) -> list[int]:
    """:func:`_hash` of each word, through the memo."""
    return list(map(_HASHES.__getitem__, words))


def _normal(text: str) -> str:
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


def _normal_head(text: str, chars: int) -> str:
    """``_normal(text).strip()[:chars]``, normalizing only as much of a long text as it needs."""
    if len(text) > 4 * chars:
        head = _normal(text[: 4 * chars]).strip()
        if len(head) >= 2 * chars:  # a normal form changes a few characters at its cut only
            return head[:chars]
    return _normal(text).strip()[:chars]


def _unaccented(word: str) -> str:
    """``word`` without the combining marks written over ASCII letters."""
    kept: list[str] = []
    for char in unicodedata.normalize("NFD", word):
        if not (kept and unicodedata.combining(char) and kept[-1].isascii()):
            kept.append(char)
    return unicodedata.normalize("NFC", "".join(kept))


def _word_of(token: str) -> str:
    """A token as compared: case folded, without a possessive, numbers without separators,
    Latin letters without their accents (Orbán and Orban, Gisèle and Gisele)."""
    word = token.casefold()
    if not word.isascii():
        word = _unaccented(word)
    if word.endswith(("'s", "’s")):
        word = word[:-2]
    if _DIGIT.search(word):
        word = word.replace(",", "").replace("'", "").replace("’", "")
    return word


_WORDS = _Memo(_word_of)
_word = _WORDS.__getitem__
""":func:`_word_of`, through the memo."""


def _term(token: str) -> int:
    """The hash a token counts under among an item's words (-1: too short to count)."""
    long = len(token) >= 2 or _has_digit(token)
    return _hash(_word(token)[:STEM]) if long else -1


_TERMS = _Memo(_term)


def _terms(tokens: list[str]) -> list[int]:
    """:func:`_term` of each token, through the memo."""
    return list(map(_TERMS.__getitem__, tokens))


def _has_digit(token: str) -> bool:
    return _DIGIT.search(token) is not None


def _with_digits(tokens: list[str]) -> Iterable[str]:
    """The tokens that hold a digit, searched for only in those not all letters."""
    return filter(_DIGIT.search, filterfalse(str.isalpha, tokens))


_WORDS_AND_GAPS = re.compile(f"({_WORD.pattern})")
"""Splits a text into what precedes its first word, that word, what comes between it and the
next (only non-word characters can), the next word, and so on."""
_BREAKS = frozenset(".!?…:;\n|")


def _tokens_and_capitalized(text: str) -> tuple[list[str], list[str]]:
    """The text's tokens, and those written with a capital that do not start a sentence, a
    line or the text."""
    parts = _WORDS_AND_GAPS.split(text)
    found = [
        t
        for g, t in zip(parts[2::2], parts[3::2], strict=False)
        if t[0].isupper() and len(t) > 1 and _BREAKS.isdisjoint(g)
    ]
    return parts[1::2], found


def _smallest(hashes: set[int]) -> tuple[int, ...]:
    """``tuple(sorted(hashes)[:SKETCH])``. Hashes are uniform in 32 bits, so about ``2 * SKETCH``
    of them lie under the bound used; when ``SKETCH`` do, only those are sorted."""
    if len(hashes) > 2 * SKETCH:
        low = sorted(filter(((2 * SKETCH << 32) // len(hashes)).__gt__, hashes))
        if len(low) >= SKETCH:
            return tuple(low[:SKETCH])
    return tuple(sorted(hashes)[:SKETCH])


def _title_cased(words: list[str]) -> bool:
    """Whether a title capitalizes (nearly) every word, so its capitals say nothing."""
    long = [w for w in words if len(w) >= 4 and w[0].isalpha()]
    return len(long) >= 3 and sum(w[0].isupper() for w in long) >= 0.7 * len(long)


@dataclass(slots=True, frozen=True)
class Signature:
    """What :func:`same_event` compares (see the module's docstring)."""

    sketch: tuple[int, ...]
    shingles: int
    """How many distinct shingles the text had (the sketch holds at most ``SKETCH``)."""
    names: frozenset[int]
    title_numbers: frozenset[int]
    terms: dict[int, int]
    """Word hashes of the title (counted twice) and the text's opening, with their counts."""
    headline: int = 0
    """A hash of the title's words."""
    series: int = 0
    """A hash of the title's lead (:func:`_title_lead`; 0: the title has none)."""
    probes: tuple[int, ...] = field(init=False, compare=False, repr=False)
    """What an :class:`Index` finds the item by: its word hashes and its ``_PROBES`` smallest
    shingle hashes, each once (made once per signature, not per window it is indexed in)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "probes", tuple(set(self.terms) | set(self.sketch[:_PROBES])))

    def encode(self) -> bytes:
        """A compact binary form, for the store."""
        terms = sorted(self.terms.items())
        parts = (self.sketch, sorted(self.names), sorted(self.title_numbers), [t for t, _ in terms])
        head = struct.pack("<II4H", self.headline, self.shingles, *(len(p) for p in parts))
        body = b"".join(struct.pack(f"<{len(p)}I", *p) for p in parts)
        return head + body + bytes(c for _, c in terms) + struct.pack("<I", self.series)

    @classmethod
    def decode(cls, data: bytes) -> Signature:
        headline, shingles, *sizes = struct.unpack_from("<II4H", data)
        offset = struct.calcsize("<II4H")
        values = struct.unpack_from(f"<{sum(sizes)}I", data, offset)
        counts = data[offset + 4 * sum(sizes) :]
        parts, start = [], 0
        for size in sizes:
            parts.append(values[start : start + size])
            start += size
        sketch, names, numbers, terms = parts
        series = counts[len(terms) :]  # absent from signatures stored before it was kept
        return cls(
            tuple(sketch),
            shingles,
            frozenset(names),
            frozenset(numbers),
            dict(zip(terms, counts[: len(terms)], strict=True)),
            headline,
            struct.unpack("<I", series)[0] if len(series) == 4 else 0,
        )


_LEAD_SEPARATOR = re.compile(r"\s*(?::|\s[|–—-])\s")
"""Where a title's lead ends: a colon, or a bar or dash between spaces."""
LEAD_WORDS = 5
"""A title's lead is at most this many words."""


def _title_lead(title: str) -> int:
    """A hash of the words a title opens with before its first separator ("Docker Compose:
    Volumes"), when there are at most ``LEAD_WORDS`` of them and words after it; else 0."""
    head = _LEAD_SEPARATOR.split(title, maxsplit=1)
    if len(head) == 2 and _WORD.search(head[1]):
        lead = [_word(t) for t in _WORD.findall(head[0])]
        if 0 < len(lead) <= LEAD_WORDS:
            return _hash(" ".join(lead)) or 1
    return 0


def signature(title: str, text: str) -> Signature:
    """The signature of an item's title and plain text."""
    title = _normal(title).strip()
    text = _normal_head(text, max(SHINGLE_CHARS, LEAD_CHARS))
    title_tokens = _WORD.findall(title)
    words = _hashes(_WORD.findall(f"{title}\n{text[:SHINGLE_CHARS]}".casefold()))
    shingles = {
        (a * 1000003 + b * 10007 + c) & 0xFFFFFFFF
        for a, b, c in zip(words, words[1:], words[2:], strict=False)
    }
    lead_tokens, inside = _tokens_and_capitalized(text[:LEAD_CHARS])
    names = set(map(_word, inside))
    capitalized = [t for t in title_tokens if t[0].isupper() and len(t) > 1]
    if _title_cased(title_tokens):  # its capitals say nothing: only those the text shares
        written = {_word(t) for t in lead_tokens if t[0].isupper()}
        capitalized = [t for t in capitalized if _word(t) in written]
    names.update(map(_word, capitalized))
    numbers = set(map(_word, _with_digits(title_tokens)))
    names.update(numbers)
    names.update(map(_word, _with_digits(lead_tokens)))
    counted = [t for t in _terms(title_tokens) if t >= 0]
    terms = Counter(chain.from_iterable(repeat(counted, TITLE_WEIGHT)))
    terms.update(filter((-1).__ne__, _terms(lead_tokens)))
    return Signature(
        sketch=_smallest(shingles),
        shingles=len(shingles),
        names=frozenset(_hashes(names)),
        title_numbers=frozenset(_hashes(numbers)),
        terms={t: c if c < 255 else 255 for t, c in terms.items()},  # stored in a byte each
        headline=_hash(" ".join(map(_word, title_tokens))),
        series=_title_lead(title),
    )


def resemblance(a: Signature, b: Signature) -> float:
    """The Jaccard similarity of two texts' shingles, estimated from their sketches."""
    if not a.sketch or not b.sketch:
        return 0.0
    union = sorted(set(a.sketch) | set(b.sketch))[:SKETCH]
    both = set(a.sketch) & set(b.sketch)
    return sum(1 for h in union if h in both) / len(union)


def _numbers_conflict(a: Signature, b: Signature) -> bool:
    """Both titles carry numbers and none in common: issue 580 and 581, version 1.2 and 1.3."""
    return bool(a.title_numbers and b.title_numbers and not a.title_numbers & b.title_numbers)


def _one_series(a: Signature, b: Signature) -> bool:
    """Two titles of one feed that read as one series' parts: they open alike ("Docker
    Compose: Volumes", "Docker Compose: Services") or each carries a number the other does not
    ("Reflections, Part 1" and "Part 2"; "Vol. 21, No. 4" and "No. 5")."""
    if a.headline == b.headline:
        return False
    if a.series and a.series == b.series:
        return True
    return bool(a.title_numbers - b.title_numbers and b.title_numbers - a.title_numbers)


Weights = Callable[[int], float]
"""A word hash's weight: its inverse document frequency in the window."""


def similarity(a: Signature, b: Signature, weight: Weights) -> float:
    """The cosine of the two items' word vectors, each count weighted by ``weight``."""
    return _Vector(a, weight).cosine(b, weight)


def _weighted(sig: Signature, weight: Weights) -> list[float]:
    """Each of the signature's word counts times its word's weight (an index's weights read
    without a call per word)."""
    if isinstance(weight, _Weights):
        total, postings, log = weight.log_total, weight.postings, math.log
        return [c * (total - log(len(postings.get(t, ())) + 1)) for t, c in sig.terms.items()]
    return [c * weight(t) for t, c in sig.terms.items()]


class _Vector:
    """An item's weighted word vector, built once for the many items it is compared with."""

    __slots__ = ("norm", "weights")

    def __init__(self, sig: Signature, weight: Weights):
        self.weights = dict(zip(sig.terms, _weighted(sig, weight), strict=True))
        self.norm = math.sqrt(sum(v * v for v in self.weights.values()))

    def cosine(self, other: Signature, weight: Weights) -> float:
        if not self.norm or not other.terms:
            return 0.0
        dot = 0.0
        norm = 0.0
        for term, value in zip(other.terms, _weighted(other, weight), strict=True):
            norm += value * value
            mine = self.weights.get(term)
            if mine is not None:
                dot += mine * value
        return dot / (self.norm * math.sqrt(norm)) if dot else 0.0

    def cosine_to(self, other: dict[int, float]) -> float:
        """The cosine of this vector and ``other`` (already weighted)."""
        norm = math.sqrt(sum(v * v for v in other.values()))
        if not self.norm or not norm:
            return 0.0
        dot = sum(value * other.get(term, 0.0) for term, value in self.weights.items())
        return dot / (self.norm * norm)


NONE, SIMILAR_TEXT, COPY = 0, 1, 2
"""How two items are linked (:func:`link`): not, by similar words, or as copies (or by one
canonical link)."""


def link(
    a: Signature,
    b: Signature,
    weight: Weights,
    *,
    one_source: bool = False,
    vector: _Vector | None = None,
) -> int:
    """How two items (already within ``WINDOW`` of each other) that report the same event are
    linked: ``COPY`` (their texts are copies) or ``SIMILAR_TEXT`` (they share names and their
    words' cosine is ``SIMILAR``); ``NONE`` when they do not report one event.

    ``one_source``: both come from one feed (or one site's feeds), where one text under two
    titles is a template (a series' boilerplate) and one title over two texts is a series, not
    one report.
    ``vector``: ``a``'s weighted words, when the caller compares ``a`` with many items.
    """
    if _numbers_conflict(a, b):
        return NONE
    shared_shingles = len(set(a.sketch) & set(b.sketch))
    if shared_shingles >= NEAR_DUPLICATE * min(len(a.sketch), len(b.sketch)) and (
        resemblance(a, b) >= NEAR_DUPLICATE
    ):
        if one_source and a.headline != b.headline:
            return NONE
        if min(a.shingles, b.shingles) >= MIN_SHINGLES:
            return COPY
    elif one_source and a.headline == b.headline:
        return NONE  # a series title over different texts ("Week in Review")
    if one_source and _one_series(a, b):
        return NONE
    if len(a.names & b.names) < SHARED_NAMES:
        return NONE
    cosine = (vector or _Vector(a, weight)).cosine(b, weight)
    return SIMILAR_TEXT if cosine >= (SIMILAR_ONE_SOURCE if one_source else SIMILAR) else NONE


def same_event(
    a: Signature,
    b: Signature,
    weight: Weights,
    *,
    one_source: bool = False,
    vector: _Vector | None = None,
) -> bool:
    """Whether two items report the same event (any :func:`link`)."""
    return link(a, b, weight, one_source=one_source, vector=vector) != NONE


COMMON = 20
"""A hash carried by more members of a window than this, and than a twentieth of them (a
common word), finds no candidates."""


@dataclass(slots=True)
class Member:
    """An item as grouping sees it."""

    id: int
    published: datetime
    link_key: str
    signature: Signature
    source: int = 0
    site: int = -1
    """The publisher of the member's feed: one site's feeds (a blog's Atom and JSON Feed, a
    paper's front page and its world news) are compared as one feed is (-1: none shared)."""


class _Weights:
    """Word hashes' inverse document frequencies among an index's members as they are:
    ``log(members + 2) - log(1 + members carrying the word)``, read from the postings (a count
    kept aside would be forgotten at every member added)."""

    __slots__ = ("log_total", "postings")

    def __init__(self, postings: dict[int, list[int]], members: int):
        self.postings, self.log_total = postings, math.log(members + 2)

    def __call__(self, term: int) -> float:
        return self.log_total - math.log(len(self.postings.get(term, ())) + 1)


def anchor_links(members: Iterable[Member]) -> frozenset[str]:
    """The canonical links one feed gives to more than one of ``members``: a page's anchors or
    its comments. Such a link names no one item, so it makes no copy across feeds either (a
    page-anchor feed subscribed twice is compared by its entries' texts)."""
    held = Counter((member.link_key, member.source) for member in members)
    return frozenset(key for (key, _source), count in held.items() if count > 1)


class Index:
    """The members of a window, found by the title words, names and shingles they share.

    ``anchors``: :func:`anchor_links` of every member the index will hold."""

    def __init__(self, anchors: frozenset[str] = frozenset()) -> None:
        self.anchors = anchors
        self.members: dict[int, Member] = {}
        self._postings: dict[int, list[int]] = defaultdict(list)

    def __len__(self) -> int:
        return len(self.members)

    def add(self, member: Member) -> None:
        self.discard(member.id)
        self.members[member.id] = member
        terms = member.signature.probes
        # A loop in C (a window's every member is added, a twin's copies too): each term's
        # postings get the member.
        list(
            map(list.append, map(self._postings.__getitem__, terms), repeat(member.id, len(terms)))
        )

    def discard(self, member_id: int) -> None:
        member = self.members.pop(member_id, None)
        if member is None:
            return
        for term in member.signature.probes:
            ids = self._postings[term]
            ids.remove(member_id)
            if not ids:
                del self._postings[term]

    def one_item_by_link(self, a: Member, b: Member) -> bool:
        """Whether ``a`` and ``b`` are one item by their canonical link: one link from two
        feeds, unless it is one of :attr:`anchors` (one feed's entries under one link are
        compared by their text)."""
        return a.link_key == b.link_key and a.source != b.source and a.link_key not in self.anchors

    def weights(self) -> Weights:
        """The inverse document frequency of a word hash among the members as they are."""
        return _Weights(self._postings, len(self.members))

    def links(self, member: Member) -> dict[int, int]:
        """The members (not ``member`` itself) within the window linked to ``member``, with how
        (:func:`link`; one item by its link, :meth:`one_item_by_link`, is a copy)."""
        common = max(COMMON, len(self.members) // 20)
        postings = self._postings
        found_by = [postings.get(term, ()) for term in member.signature.probes]
        hits = Counter(chain.from_iterable(ids for ids in found_by if len(ids) <= common))
        found: dict[int, int] = {}
        weight = self.weights()
        vector = None  # built for the first candidate that needs it
        known: dict[tuple[int, bool], int] = {}  # link of an equal signature (a twin's copy)
        members, (lo, hi) = self.members, _around(member.published)
        near = [members[i] for i, count in hits.items() if count > 1 and i != member.id]
        for other in [m for m in near if lo <= m.published <= hi]:
            if self.one_item_by_link(other, member):
                found[other.id] = COPY
                continue
            one_source = other.source == member.source or other.site == member.site >= 0
            how = known.get((id(other.signature), one_source))
            if how is None:
                if vector is None:
                    vector = _Vector(member.signature, weight)
                how = link(
                    member.signature, other.signature, weight, one_source=one_source, vector=vector
                )
                known[id(other.signature), one_source] = how
            if how:
                found[other.id] = how
        return found


def _around(moment: datetime) -> tuple[datetime, datetime]:
    """The first and last moments within ``WINDOW`` of ``moment``, held at the calendar's ends."""
    ends = moment.min.replace(tzinfo=moment.tzinfo), moment.max.replace(tzinfo=moment.tzinfo)
    try:
        low = moment - WINDOW
    except OverflowError:
        low = ends[0]
    try:
        return low, moment + WINDOW
    except OverflowError:
        return low, ends[1]


class Stories:
    """Stories being formed one item at a time: single link, with a story-level check when an
    item is linked to several stories.

    The item joins the one whose centroid its words are most similar to, and merges another
    into it only when it is a copy of (or shares a link with) one of that story's members, or
    its cosine to that story's centroid is ``MERGE_SIMILAR``: one item's passing resemblance
    to a second story does not chain the two."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._parent: dict[int, int] = {}
        self._members: dict[int, list[Member]] = {}
        self._by_link: dict[str, Member] = {}

    def add(self, member: Member) -> None:
        """``member`` as a story of its own (not yet in the index)."""
        self._parent[member.id] = member.id
        self._members[member.id] = [member]

    def join_by_link(self, member: Member) -> bool:
        """Join ``member`` to the first member placed with its canonical link from another
        feed (see :meth:`Index.links`); True when it is that member's twin (its signature
        the same: one text under one link), which links to nothing its first copy does not,
        so it needs no :meth:`place`."""
        first = self._by_link.setdefault(member.link_key, member)
        if not self.index.one_item_by_link(first, member):
            return False
        self.union(first.id, member.id)
        return first.signature is member.signature or first.signature == member.signature

    def root(self, i: int) -> int:
        parent = self._parent
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        a, b = self.root(a), self.root(b)
        if a != b:
            a, b = min(a, b), max(a, b)
            self._parent[b] = a
            self._members[a].extend(self._members.pop(b))

    def place(self, member: Member) -> None:
        """Join ``member`` to the stories it is linked to (see the class)."""
        own = self.root(member.id)
        how: dict[int, int] = {}
        for other, kind in self.index.links(member).items():
            story = self.root(other)
            if story != own:
                how[story] = max(how.get(story, NONE), kind)
        if not how:
            return
        alone = len(self._members[own]) == 1
        if alone and len(how) == 1:
            self.union(member.id, next(iter(how)))
            return
        weight = self.index.weights()
        vector = _Vector(member.signature, weight)
        score = {s: vector.cosine_to(_centroid(self._members[s], weight)) for s in how}
        if alone:
            best = max(how, key=lambda s: (score[s], -s))
            self.union(member.id, best)
            del how[best]
        for story, kind in sorted(how.items()):
            if kind == COPY or score[story] >= MERGE_SIMILAR:
                self.union(member.id, story)


def _centroid(members: Sequence[Member], weight: Weights) -> dict[int, float]:
    """The sum of the members' normalized weighted word vectors."""
    centroid: dict[int, float] = defaultdict(float)
    for member in members:
        vector = _Vector(member.signature, weight)
        if vector.norm:
            for term, value in vector.weights.items():
                centroid[term] += value / vector.norm
    return centroid


def components(members: Sequence[Member]) -> list[list[Member]]:
    """The stories of ``members`` placed in the order given (:class:`Stories`), each in
    opening order."""
    index = Index(anchor_links(members))
    stories = Stories(index)
    for member in members:
        stories.add(member)
        if not stories.join_by_link(member):
            stories.place(member)
        index.add(member)
    groups: dict[int, list[Member]] = defaultdict(list)
    for member in members:
        groups[stories.root(member.id)].append(member)
    return [sorted(g, key=opening_order) for g in groups.values()]


def opening_order(member: Member) -> tuple[datetime, str]:
    """The member that opens a story comes first: the earliest report (then the smallest key)."""
    return (member.published, member.link_key)

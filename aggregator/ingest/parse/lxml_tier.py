"""The fast tier: well-formed RSS 2.0, Atom 1.0 and RSS 1.0 (RDF) read straight from an lxml tree.

It accepts only what it can read exactly: a document that is not well-formed, declares
entities, or is another format goes to feedparser.
"""

from __future__ import annotations

from lxml import etree

from .normalize import RawEntry, RawFeed, Text, join_url

ATOM = "http://www.w3.org/2005/Atom"
RSS1 = "http://purl.org/rss/1.0/"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
DC = "http://purl.org/dc/elements/1.1/"
DCTERMS = "http://purl.org/dc/terms/"
CONTENT = "http://purl.org/rss/1.0/modules/content/"
XHTML = "http://www.w3.org/1999/xhtml"
MEDIA = "http://search.yahoo.com/mrss/"
_HTML_TYPES = frozenset({"text/html", "application/xhtml+xml"})


def safe_parser(*, recover: bool = False, encoding: str | None = None) -> etree.XMLParser:
    """A parser (strict unless asked) that expands no entities, loads no DTD, uses no network.

    ``encoding`` overrides what the document declares.
    """
    return etree.XMLParser(
        encoding=encoding,
        recover=recover,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=False,
        collect_ids=False,
        remove_comments=True,
        remove_pis=True,
    )


_PARSER = safe_parser()


def read_tree(
    body: bytes, url: str, parser: etree.XMLParser = _PARSER
) -> tuple[etree._Element | None, str | None]:
    """``(root, None)`` if ``body`` is well-formed XML, else ``(None, what is wrong)``.
    Entities stay unexpanded."""
    try:
        return etree.fromstring(body, parser, base_url=url), None
    except etree.XMLSyntaxError as exc:
        return None, " ".join(str(exc.msg).split())


def parse_tree(body: bytes, url: str) -> etree._Element | None:
    """The root of ``body`` if it is well-formed XML, else None. Entities stay unexpanded."""
    return read_tree(body, url)[0]


def read_feed(root: etree._Element) -> RawFeed | None:
    """Read a parsed tree as RSS 2.0, Atom 1.0 or RSS 1.0; None for anything else."""
    if root.tag == f"{{{ATOM}}}feed":
        return _atom_feed(root)
    if root.tag == "rss":
        channel = root.find("channel")
        return _rss_feed(channel) if channel is not None else None
    if root.tag == f"{{{RDF}}}RDF":
        channel = root.find(f"{{{RSS1}}}channel")
        if channel is None:
            return None
        feed = _rss_feed(channel, ns=RSS1)
        feed.entries = [_rss_entry(item, ns=RSS1) for item in root.iterchildren(f"{{{RSS1}}}item")]
        return feed
    return None


def _text(el: etree._Element | None) -> str | None:
    """All character data of an element (None when absent)."""
    if el is None:
        return None
    return el.text if len(el) == 0 else "".join(el.itertext())


def _inner_markup(el: etree._Element) -> str:
    """An element's content as markup: its text, then its children serialized."""
    if len(el) == 0:
        return el.text or ""
    children = "".join(etree.tostring(c, encoding=str, with_tail=True) for c in el)
    return (el.text or "") + children


def _atom_text(el: etree._Element | None) -> Text | None:
    """An Atom text construct (type text, html or xhtml)."""
    if el is None:
        return None
    kind = (el.get("type") or "text").lower()
    if kind in ("xhtml", "application/xhtml+xml"):
        div = el.find(f"{{{XHTML}}}div")
        return Text(_inner_markup(div if div is not None else el), True, el.base)
    is_html = False if kind in ("text", "text/plain") else kind in ("html", "text/html") or None
    return Text(_text(el) or "", is_html, el.base)


def _media_description(el: etree._Element) -> list[Text]:
    """Media RSS ``media:description`` (directly or in ``media:group``) as the entry's text:
    YouTube and podcast feeds keep it there and nowhere else."""
    desc = _first(el, f"{{{MEDIA}}}description", f"{{{MEDIA}}}group/{{{MEDIA}}}description")
    value = _text(desc)
    if desc is None or not value or not value.strip():
        return []
    return [Text(value, desc.get("type") == "html", desc.base)]


def _atom_link(el: etree._Element, rel: str = "alternate") -> str | None:
    for link in el.iterchildren(f"{{{ATOM}}}link"):
        if (link.get("rel") or "alternate") != rel or not link.get("href"):
            continue
        if rel != "alternate" or (link.get("type") or "text/html") in _HTML_TYPES:
            return _resolve(link, link.get("href"))
    return None


def _resolve(el: etree._Element, href: str | None) -> str | None:
    """``href`` against the element's xml:base (lxml resolves the chain up to the doc URL)."""
    base = el.base
    return join_url(base, href.strip()) if href and base else href


def _atom_id(id_el: etree._Element | None) -> str | None:
    """atom:id, resolved like a link (ids are IRIs; a relative one is relative to xml:base)."""
    return _resolve(id_el, _text(id_el)) if id_el is not None else None


def _atom_feed(root: etree._Element) -> RawFeed:
    entries = root.iterchildren(f"{{{ATOM}}}entry")
    return RawFeed(
        title=_atom_text(root.find(f"{{{ATOM}}}title")),
        site_url=_atom_link(root),
        feed_id=_atom_id(root.find(f"{{{ATOM}}}id")),
        hub_url=_atom_link(root, "hub"),
        self_url=_atom_link(root, "self"),
        updated=_text(root.find(f"{{{ATOM}}}updated")),
        base=root.base,
        entries=[_atom_entry(e) for e in entries],
    )


def _children_by_tag(el: etree._Element) -> dict[object, etree._Element]:
    """The first child of ``el`` with each tag: one pass instead of a ``find`` per field.
    (A comment's or an entity's tag is a function, hence ``object`` keys.)"""
    first: dict[object, etree._Element] = {}
    for child in el:
        first.setdefault(child.tag, child)
    return first


def _atom_entry(el: etree._Element) -> RawEntry:
    child = _children_by_tag(el)
    author = el.find(f"{{{ATOM}}}author/{{{ATOM}}}name")  # the first author that has a name
    content = child.get(f"{{{ATOM}}}content")
    found = [_atom_text(content), _atom_text(child.get(f"{{{ATOM}}}summary"))]
    if found[0] is not None and content is not None and content.get("type") is None:
        found[0].is_html = None  # untyped content often holds escaped HTML: judge by the value
    bodies = [b for b in found if b is not None and b.value] or _media_description(el)
    guid = _atom_id(child.get(f"{{{ATOM}}}id"))
    return RawEntry(
        guid=guid,
        link=_atom_link(el) or guid,
        title=_atom_text(child.get(f"{{{ATOM}}}title")),
        author=_text(author),
        bodies=bodies,
        published=_text(child.get(f"{{{ATOM}}}published")),
        updated=_text(child.get(f"{{{ATOM}}}updated")),
        tags=[c.get("term") or "" for c in el.iterchildren(f"{{{ATOM}}}category")],
        base=el.base,
    )


def _rss_feed(channel: etree._Element, ns: str = "") -> RawFeed:
    q = f"{{{ns}}}" if ns else ""
    link = channel.find(f"{q}link")
    return RawFeed(
        title=Text(_text(channel.find(f"{q}title")) or ""),
        site_url=_resolve(link, _text(link)) if link is not None else _atom_link(channel),
        feed_id=_text(channel.find(f"{{{ATOM}}}id")),
        ttl=_text(channel.find("ttl")),
        hub_url=_atom_link(channel, "hub"),
        self_url=_atom_link(channel, "self"),
        updated=_text(_first(channel, "lastBuildDate", f"{{{DC}}}date")),
        base=channel.base,
        entries=[_rss_entry(item) for item in channel.iterchildren("item")] if not ns else [],
    )


def _first(el: etree._Element, *tags: str) -> etree._Element | None:
    for tag in tags:
        found = el.find(tag)
        if found is not None:
            return found
    return None


def _rss_entry(item: etree._Element, ns: str = "") -> RawEntry:
    q = f"{{{ns}}}" if ns else ""
    child = _children_by_tag(item)
    guid_el = child.get("guid")
    guid = _text(guid_el)
    guid_is_link = guid_el is not None and guid_el.get("isPermaLink", "true") == "true"
    if guid and guid_is_link:
        guid = _resolve(guid_el, guid.strip())
    link_el = child.get(f"{q}link")
    link = _resolve(link_el, _text(link_el)) if link_el is not None else _atom_link(item)
    if not link and guid_is_link:
        link = guid
    if ns and not guid:
        guid = item.get(f"{{{RDF}}}about")
    bodies = [
        Text(_inner_markup(b), True, b.base)
        for b in (child.get(f"{{{CONTENT}}}encoded"), child.get(f"{q}description"))
        if b is not None
    ]
    author = _first_of(child, "author", f"{{{DC}}}creator")
    bodies = [b for b in bodies if b.value] or _media_description(item)
    published = _first_of(child, "pubDate", f"{{{DCTERMS}}}issued")
    updated = _first_of(child, f"{{{DC}}}date", f"{{{DCTERMS}}}modified", "updated")
    return RawEntry(
        guid=guid,
        link=link,
        title=Text(_text(child.get(f"{q}title")) or ""),
        author=_text(author),
        bodies=bodies,
        published=_text(published),
        updated=_text(updated),
        tags=[_text(c) or "" for c in item.iterchildren("category", f"{{{DC}}}subject")],
        base=item.base,
    )


def _first_of(child: dict[object, etree._Element], *tags: str) -> etree._Element | None:
    """:func:`_first` for children already gathered by :func:`_children_by_tag`."""
    for tag in tags:
        if (found := child.get(tag)) is not None:
            return found
    return None

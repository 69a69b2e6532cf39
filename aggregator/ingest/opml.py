"""OPML import and export of sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.sax.saxutils import quoteattr

from lxml import etree


class OPMLError(ValueError):
    """The file is not usable OPML. One line for the operator."""


@dataclass(slots=True)
class Outline:
    url: str
    title: str = ""
    tags: list[str] = field(default_factory=list)


def read_opml(data: bytes) -> list[Outline]:
    """Feed outlines (``xmlUrl``) of an OPML document; folder names become tags."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise OPMLError(f"not valid XML: {exc}") from None
    if root.tag != "opml":
        raise OPMLError(f"root element is <{root.tag}>, not <opml>")
    body = root.find("body")
    if body is None:
        raise OPMLError("no <body> element")
    found: list[Outline] = []

    def walk(node: etree._Element, folders: list[str]) -> None:
        for child in node.findall("outline"):
            url = (child.get("xmlUrl") or "").strip()
            title = (child.get("title") or child.get("text") or "").strip()
            if url:
                categories = [c.strip().lower() for c in (child.get("category") or "").split(",")]
                tags = [f.lower() for f in folders] + [
                    c.strip("/") for c in categories if c.strip("/")
                ]
                found.append(Outline(url=url, title=title, tags=list(dict.fromkeys(tags))))
            else:
                walk(child, [*folders, title] if title else folders)

    walk(body, [])
    return found


def write_opml(outlines: list[Outline], title: str) -> bytes:
    """An OPML 2.0 document listing ``outlines``."""
    now = format_datetime(datetime.now(UTC), usegmt=True)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_text(title)}</title><dateCreated>{now}</dateCreated></head>",
        "  <body>",
    ]
    for o in outlines:
        category = f" category={quoteattr(','.join(o.tags))}" if o.tags else ""
        lines.append(
            f'    <outline type="rss" text={quoteattr(o.title or o.url)} '
            f"title={quoteattr(o.title or o.url)} xmlUrl={quoteattr(o.url)}{category}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

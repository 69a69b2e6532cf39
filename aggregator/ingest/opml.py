"""OPML import and export of sources."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit
from xml.sax.saxutils import quoteattr

from lxml import etree


class OPMLError(ValueError):
    """The file is not usable OPML. One line for the operator."""


@dataclass(slots=True)
class Outline:
    url: str
    title: str = ""
    tags: list[str] = field(default_factory=list)
    enabled: bool = True
    """False for a source that is not polled (written as ``enabled="false"``)."""


def read_opml(data: bytes) -> list[Outline]:
    """Feed outlines (``xmlUrl``) of an OPML document; folder names become tags, and
    ``enabled="false"`` marks a source that is not polled."""
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
                enabled = (child.get("enabled") or "").strip().lower() not in ("false", "0", "no")
                found.append(
                    Outline(url=url, title=title, tags=list(dict.fromkeys(tags)), enabled=enabled)
                )
            else:
                walk(child, [*folders, title] if title else folders)

    walk(body, [])
    return found


def outline_problem(url: str, file_folders: Sequence[Path]) -> str | None:
    """Why a feed URL named by an outside document (OPML, a web page) must not be polled, or None.

    http(s) URLs are fine. A ``file:`` URL is refused unless it names a file inside one of
    ``file_folders`` (resolved paths; symbolic links are followed before the check), so an
    imported list cannot make the poller read ``/etc/passwd`` or the signing key.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return None if parts.hostname else "an http(s) URL without a host"
    if scheme != "file":
        return "not an http(s) URL"
    if not file_folders:
        return "a file: URL, refused (list the folders it may read in fetch.file_folders)"
    if parts.netloc not in ("", "localhost"):
        return "a file: URL on another host, refused"
    path = Path(unquote(parts.path)).resolve()
    if not any(path.is_relative_to(folder) for folder in file_folders):
        return "a file: URL outside fetch.file_folders, refused"
    return None


def write_opml(outlines: list[Outline], title: str) -> bytes:
    """An OPML 2.0 document listing ``outlines``; a source not polled is marked
    ``enabled="false"`` (OPML allows attributes of one's own; other readers ignore it)."""
    now = format_datetime(datetime.now(UTC), usegmt=True)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head><title>{_text(title)}</title><dateCreated>{now}</dateCreated></head>",
        "  <body>",
    ]
    for o in outlines:
        category = f" category={quoteattr(','.join(o.tags))}" if o.tags else ""
        disabled = "" if o.enabled else ' enabled="false"'
        lines.append(
            f'    <outline type="rss" text={quoteattr(o.title or o.url)} '
            f"title={quoteattr(o.title or o.url)} xmlUrl={quoteattr(o.url)}{category}"
            f"{disabled}/>"
        )
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8")


def _text(value: str) -> str:
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

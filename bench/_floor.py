"""The new cold-poll floor of bench/poll.py: the poll's per-item work done with the fastest pieces.

``parse_body`` runs in a process pool (one process per core); it is kept in this small module so
the pool's processes import only lxml, nh3 and the aggregator's sanitizer allowlist, not the
bench or the poller. For one feed body
it does what the poll must do for every entry: parse (``lxml.etree``), sanitize the content
(one ``nh3.Cleaner`` per feed, the aggregator's allowlist), make plain text (two regular
expressions and ``html.unescape`` over nh3's output) and read the dates; it returns the rows
that ``insert_rows`` then writes into a fresh SQLite table with one ``executemany``.
"""

from __future__ import annotations

import hashlib
import html
import re
import sqlite3
from datetime import datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

import nh3
from lxml import etree

from aggregator.ingest.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS  # what the poll keeps

ATOM = "{http://www.w3.org/2005/Atom}"
RSS1 = "{http://purl.org/rss/1.0/}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"
DC_DATE = "{http://purl.org/dc/elements/1.1/}date"
ENTRY_TAGS = ("item", f"{ATOM}entry", f"{RSS1}item")

_BLOCK = re.compile(r"</?(?:p|div|br|li|h[1-6]|tr|blockquote|pre|ul|ol|table)\b[^>]*>")
_TAG = re.compile(r"<[^>]*>")
_PARSER = etree.XMLParser(recover=True, resolve_entities=False, huge_tree=True, no_network=True)

Row = tuple[int, str, str, str, str, str, str | None, str | None]
"""source id, key, title, url, html, text, published, updated (ISO 8601)."""


@lru_cache(maxsize=64)
def _cleaner(base: str) -> nh3.Cleaner:
    return nh3.Cleaner(
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style", "noscript", "template"},
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto", "ftp", "tel"},
        url_relative=("rewrite_with_base", base),
        link_rel="noopener noreferrer",
    )


def _text(node: etree._Element, *tags: str) -> str:
    for tag in tags:
        found = node.find(tag)
        if found is not None and found.text:
            return found.text
    return ""


def _link(entry: etree._Element) -> str:
    for link in entry.iterfind(f"{ATOM}link"):
        if link.get("rel", "alternate") == "alternate":
            return link.get("href", "")
    return _text(entry, "link", f"{RSS1}link")


def _date(value: str) -> str | None:
    value = value.strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
    return parsed.isoformat()


def _plain(cleaned: str) -> str:
    return " ".join(html.unescape(_TAG.sub("", _BLOCK.sub("\n", cleaned))).split())


def parse_body(source_id: int, url: str, body: bytes) -> list[Row]:
    """Every entry of one feed body as a row; [] when lxml cannot read it at all."""
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError:
        return []
    if root is None:
        return []
    clean = _cleaner(url).clean
    rows: list[Row] = []
    for entry in root.iter(*ENTRY_TAGS):
        title = _text(entry, "title", f"{ATOM}title", f"{RSS1}title").strip()
        link = _link(entry).strip()
        content = _text(
            entry, CONTENT, f"{ATOM}content", "description", f"{ATOM}summary", f"{RSS1}description"
        )
        guid = _text(entry, "guid", f"{ATOM}id") or link or title + content
        cleaned = clean(content) if content else ""
        rows.append(
            (
                source_id,
                hashlib.sha1(guid.encode("utf-8", "surrogatepass")).hexdigest(),
                title,
                link,
                cleaned,
                _plain(cleaned),
                _date(_text(entry, "pubDate", f"{ATOM}published", DC_DATE)),
                _date(_text(entry, f"{ATOM}updated")),
            )
        )
    return rows


def warm(_: int) -> int:
    """A no-op for starting the pool's processes before the clock starts."""
    return 0


def insert_rows(db_path: Path, rows: list[Row]) -> int:
    """One executemany of every row into a fresh table (WAL, synchronous=NORMAL, as the store)."""
    connection = sqlite3.connect(db_path)
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=NORMAL")
        connection.execute(
            "CREATE TABLE items (id INTEGER PRIMARY KEY, source_id INTEGER, key TEXT, title TEXT,"
            " url TEXT, html TEXT, text TEXT, published TEXT, updated TEXT,"
            " UNIQUE (source_id, key))"
        )
        with connection:
            connection.executemany(
                "INSERT OR IGNORE INTO items (source_id, key, title, url, html, text, published,"
                " updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
        return connection.execute("SELECT count(*) FROM items").fetchone()[0]
    finally:
        connection.close()

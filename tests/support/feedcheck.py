"""Validity checks for the published feeds, shared by the end-to-end tests."""

from __future__ import annotations

import json
from pathlib import Path

import feedparser
import jsonschema
from lxml import etree

ATOM = "{http://www.w3.org/2005/Atom}"


def check_published(public: Path, schema_path: Path) -> dict[str, list[str]]:
    """Assert feed.atom/rss/json in ``public`` are valid; return each format's entry titles."""
    atom = etree.parse(
        str(public / "feed.atom"), etree.XMLParser(recover=False, resolve_entities=False)
    )
    root = atom.getroot()
    assert root.tag == f"{ATOM}feed"
    for required in ("id", "title", "updated"):
        assert root.find(f"{ATOM}{required}") is not None, required
    for entry in root.findall(f"{ATOM}entry"):
        for required in ("id", "title", "updated"):
            assert entry.find(f"{ATOM}{required}") is not None, required
        source = entry.find(f"{ATOM}source")
        assert source is not None
        for required in ("id", "title", "updated", "link"):
            assert source.find(f"{ATOM}{required}") is not None, f"source/{required}"
    rss = etree.parse(
        str(public / "feed.rss"), etree.XMLParser(recover=False, resolve_entities=False)
    )
    channel = rss.getroot().find("channel")
    for required in ("title", "link", "description"):
        assert channel.find(required) is not None, required
    for item in channel.findall("item"):
        assert item.find("source") is not None and item.find("source").get("url")
    data = json.loads((public / "feed.json").read_text(encoding="utf-8"))
    jsonschema.validate(
        data,
        json.loads(schema_path.read_text()),
        format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER,
    )
    titles: dict[str, list[str]] = {"json": [i.get("title", "") for i in data["items"]]}
    for name in ("feed.atom", "feed.rss"):
        parsed = feedparser.parse((public / name).read_bytes())
        assert not parsed.bozo, (name, parsed.get("bozo_exception"))
        titles[name] = [e.get("title", "") for e in parsed.entries]
    return titles

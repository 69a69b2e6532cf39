"""Publishers are sites: registrable domains from the bundled suffix list, never fetched."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import pytest

from aggregator.stories import publishers as pub


@dataclass
class Src:
    id: int
    url: str
    site_url: str | None = None
    publisher: str = ""
    name: str = ""
    feed_title: str | None = None


def test_domains_come_from_the_bundled_list_without_any_connection(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a network connection was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    pub._extractor.cache_clear()
    assert pub.domain_of("https://www.bbc.co.uk/news/world") == "bbc.co.uk"
    assert pub.domain_of("https://user.github.io/blog/") == "user.github.io"  # a private suffix
    assert pub.domain_of("HTTP://Feeds.Example.COM./rss") == "example.com"
    assert pub.domain_of("http://127.0.0.1:8080/feed") == "127.0.0.1"
    assert pub.domain_of("http://[::1]/feed") == "::1"
    for junk in ("", None, "/var/feeds/local.xml", "http://[bad/", "not a url"):
        assert pub.domain_of(junk) is None


def test_twin_feeds_are_one_publisher_named_once_and_the_operator_name_wins() -> None:
    sources = [
        Src(1, "https://feeds.arstechnica.com/arstechnica/index", "https://arstechnica.com",
            feed_title="Ars Technica - All content"),
        Src(2, "https://arstechnica.com/feed/", "https://arstechnica.com/", name="Ars Technica"),
        Src(3, "https://blog.example.org/atom.xml", None, feed_title="A blog"),
        Src(4, "https://other.example.net/feed.json", None, publisher="A  blog"),
        Src(5, "/srv/local.xml", None),
        Src(6, "https://x.example.com/", None, publisher=" The Paper "),
        Src(7, "https://y.example.com/", "https://news.example.com/", publisher="the paper"),
        Src(8, "https://z.example.com/feed", None),
        Src(9, "https://paper.example/feed", None, publisher="The Paper"),
    ]  # fmt: skip
    found = pub.publishers_of(sources)
    assert found[1] == found[2] and found[1].name == "Ars Technica"
    assert found[3].name == "A blog" and found[3].key == "example.org"
    assert found[4].name == "A blog" and found[4].key == "name:a blog"
    assert found[5].name == "/srv/local.xml" and found[5].key == "source:5"
    assert found[6] == found[7] == found[8] and found[6].name == " The Paper ".strip()
    assert found[9] == found[6]  # sites the operator names alike are one publisher

"""Publishers, not feeds: the site a source belongs to, so coverage counts sites.

A publisher is the registrable domain of the source's site (its feed's home page), else of the
feed URL: a news site's front-page and all-posts feeds, or a blog's Atom and JSON Feed, are one
publisher. Domains come from the public suffix list bundled with ``tldextract``; it is never
fetched. The operator may name a source's publisher (``[[sources]] publisher``); sources that
share a name are one publisher whatever their domains.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from typing import Protocol
from urllib.parse import urlsplit

import tldextract
from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from aggregator.store.models import Source


class SourceLike(Protocol):
    """What naming a publisher reads of a source (a ``Source`` row, or narrow columns)."""

    @property
    def id(self) -> int: ...
    @property
    def url(self) -> str: ...
    @property
    def site_url(self) -> str | None: ...
    @property
    def publisher(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def feed_title(self) -> str | None: ...


@cache
def _extractor() -> tldextract.TLDExtract:
    # No suffix list URLs and no cache directory: the list bundled with the package, offline.
    # Private suffixes count, so two github.io or blogspot.com blogs are two publishers.
    return tldextract.TLDExtract(
        suffix_list_urls=(),
        cache_dir=None,
        fallback_to_snapshot=True,
        include_psl_private_domains=True,
    )


def domain_of(url: str | None) -> str | None:
    """The registrable domain of ``url`` (``www.bbc.co.uk`` → ``bbc.co.uk``), lower case; an IP
    address or a single-label host as it is; None without a host (a file path, junk)."""
    if not url:
        return None
    try:
        host = (urlsplit(url.strip()).hostname or "").rstrip(".").lower()
    except ValueError:
        return None
    if not host:
        return None
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    parts = _extractor()(host)
    if parts.domain and parts.suffix:
        return f"{parts.domain}.{parts.suffix}"
    return host


def site_key(source: SourceLike) -> str:
    """The site of a source: its home page's domain, else its feed URL's, else the source
    itself (a local file names no site)."""
    return domain_of(source.site_url) or domain_of(source.url) or f"source:{source.id}"


def _operator_name(source: SourceLike) -> str:
    return " ".join(source.publisher.split())


@dataclass(frozen=True, slots=True)
class Publisher:
    key: str
    name: str
    url: str | None
    """The site's home page (of its first source that has one)."""


def _plain_name(source: SourceLike) -> str:
    return " ".join((source.name or source.feed_title or "").split())


def publishers_of(sources: Iterable[SourceLike]) -> dict[int, Publisher]:
    """Each source's publisher by source id, named once for all its sources.

    Sources of one site are one publisher; a name the operator gives a source names its whole
    site, and sites the operator gives one name are one publisher. Without one, the name is
    the shortest source name or feed title among the site's sources ("Ars Technica" over
    "Ars Technica - All content"), else the domain.
    """
    sites: dict[str, list[SourceLike]] = {}
    for source in sources:
        sites.setdefault(site_key(source), []).append(source)
    members: dict[str, list[SourceLike]] = {}
    for site, group in sites.items():
        named = next((n for s in group if (n := _operator_name(s))), "")
        members.setdefault("name:" + named.casefold() if named else site, []).extend(group)
    found: dict[int, Publisher] = {}
    for key, group in members.items():
        chosen = next((n for s in group if (n := _operator_name(s))), "")
        if not chosen:
            names = sorted({n for s in group if (n := _plain_name(s))}, key=lambda n: (len(n), n))
            chosen = names[0] if names else key
            if key.startswith("source:") and not names:
                chosen = group[0].url
        url = next((s.site_url for s in group if s.site_url), None)
        publisher = Publisher(key=key, name=chosen, url=url)
        found.update((s.id, publisher) for s in group)
    return found


def load_publishers(session: Session | Connection) -> dict[int, Publisher]:
    """Every source's publisher, named over all the sources of its site."""
    columns = (Source.id, Source.url, Source.site_url, Source.publisher, Source.name)
    return publishers_of(session.execute(select(*columns, Source.feed_title)).all())

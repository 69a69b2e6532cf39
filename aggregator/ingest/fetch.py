"""HTTP(S) and file fetching: polite, concurrent, bounded and safe.

One :class:`Fetcher` holds an aiohttp session whose connector caps concurrency globally and per
host. Every request is a conditional GET when validators are known, is bounded in time and size
(the size is counted after decompression, so a gzip bomb is cut off), and may only reach public
addresses unless the operator allows a network: the check runs after DNS resolution, on every
redirect hop.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import socket
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from aggregator.config import FetchSettings

_CHUNK = 64 * 1024
_REDIRECTS = {301, 302, 303, 307, 308}
_PERMANENT = {301, 308}
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class FetchError(Exception):
    """A fetch failed. The message is one line for the operator."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ):
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


class BlockedAddressError(FetchError):
    """The URL resolves to an address the operator has not allowed."""


_REFUSED = "not allowed (a private or local network; fetch.allow_networks can allow it)"


@dataclass(slots=True)
class FetchResult:
    """What a successful fetch (200 or 304) returned."""

    url: str
    """The final URL after redirects."""
    status: int
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    moved_to: str | None = None
    """Set when every redirect on the way was permanent (301/308): the source's new URL."""
    max_age: float | None = None
    """Seconds the response may be cached (Cache-Control max-age or Expires)."""
    elapsed: float = 0.0
    links: tuple[str, ...] = ()
    """The response's ``Link`` headers (WebSub discovery), each cut at ``MAX_LINK``."""

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# --- address policy --------------------------------------------------------------------


def _is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return not (
        address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
    )


class AddressPolicy:
    """Public addresses pass; private, loopback, link-local and metadata ones need an allowlist."""

    def __init__(self, allow_networks: Iterable[str] = ()):
        self.allowed: list[IPNetwork] = [
            ipaddress.ip_network(n, strict=False) for n in allow_networks
        ]
        self._verdicts: dict[str, bool] = {}

    def permits(self, host: str) -> bool:
        """Whether an IP address may be fetched; ValueError when ``host`` is not an address."""
        verdict = self._verdicts.get(host)
        if verdict is None:
            address = ipaddress.ip_address(host.split("%", 1)[0])
            verdict = _is_public(address) or any(address in net for net in self.allowed)
            self._verdicts[host] = verdict
        return verdict

    def check_literal(self, host: str) -> None:
        """Refuse a URL whose host is an IP literal outside the policy (no DNS involved)."""
        try:
            permitted = self.permits(host.strip("[]"))
        except ValueError:
            return  # a name: the resolver checks it
        if not permitted:
            raise BlockedAddressError(f"address {host} is {_REFUSED}")


class _GuardedResolver(AbstractResolver):
    """Resolves names, then drops addresses the policy refuses; refuses when none remain."""

    def __init__(self, policy: AddressPolicy):
        self._inner = DefaultResolver()
        self._policy = policy

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        allowed = [r for r in results if self._policy.permits(r["host"])]
        if not allowed:
            addresses = ", ".join(sorted({r["host"] for r in results}))
            raise BlockedAddressError(f"{host} resolves to {addresses}, which is {_REFUSED}")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


# --- header helpers --------------------------------------------------------------------


MAX_HEADER_SECONDS = 366 * 24 * 3600.0
"""Longest wait or freshness any header may ask for (a year): a 20-digit Retry-After, a
``max-age`` of 10^20 or an ``Expires`` in year 9999 are clamped to it, so a header's number
never overflows the date arithmetic of the schedule."""
_MAX_DIGITS = 12


def header_seconds(value: str) -> float | None:
    """A header's delta-seconds (ASCII digits only, RFC 9110), clamped to MAX_HEADER_SECONDS;
    None when it is not a number of seconds."""
    value = value.strip().strip('"')
    if not (value.isascii() and value.isdigit()):
        return None
    if len(value) > _MAX_DIGITS:
        return MAX_HEADER_SECONDS
    return min(float(value), MAX_HEADER_SECONDS)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), bounded."""
    if not value:
        return None
    seconds = header_seconds(value)
    return seconds if seconds is not None else _seconds_until(value.strip(), now)


def _seconds_until(http_date: str, now: float | None) -> float | None:
    """Seconds from ``now`` until an HTTP date (0 when past, at most MAX_HEADER_SECONDS), or
    None when unparseable."""
    try:
        when = email.utils.parsedate_to_datetime(http_date)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - (now if now is not None else time.time())
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return min(max(0.0, seconds), MAX_HEADER_SECONDS)


def parse_max_age(headers: Any, now: float | None = None) -> float | None:
    """Freshness lifetime from Cache-Control max-age, else Expires; bounded."""
    for part in headers.get("Cache-Control", "").split(","):
        name, _, value = part.strip().partition("=")
        if name.lower() == "max-age" and (seconds := header_seconds(value)) is not None:
            return seconds
    expires = headers.get("Expires")
    return _seconds_until(expires, now) if expires else None


MAX_LINK = 4096
"""Characters of one ``Link`` header kept, and at most this many headers: ``MAX_LINKS``."""
MAX_LINKS = 8


def link_headers(headers: Any) -> tuple[str, ...]:
    """The ``Link`` header values, bounded in number and length."""
    return tuple(value[:MAX_LINK] for value in headers.getall("Link", [])[:MAX_LINKS])


def describe_status(status: int, reason: str | None) -> str:
    return f"HTTP {status} {reason or ''}".strip()


def _client_error(exc: aiohttp.ClientError, host: str) -> Exception:
    """What an aiohttp error raises: a refused address as itself, a timeout (aiohttp's are
    ClientErrors too) as TimeoutError, the rest as a one-line FetchError."""
    if isinstance(exc, TimeoutError):
        return exc
    if isinstance(exc, aiohttp.ClientConnectorError):
        if isinstance(exc.os_error, BlockedAddressError):
            return exc.os_error
        return FetchError(f"cannot connect to {host}: {exc.os_error}")
    return FetchError(f"HTTP error: {exc}")


# --- the fetcher -----------------------------------------------------------------------


class Fetcher:
    """Concurrent, bounded fetching. Use as ``async with Fetcher(settings, ua) as f: ...``."""

    def __init__(self, settings: FetchSettings, user_agent: str):
        self.settings = settings
        self.user_agent = user_agent
        self.policy = AddressPolicy(settings.allow_networks)
        self._session: aiohttp.ClientSession | None = None
        self._slots = asyncio.Semaphore(settings.concurrency)
        self._hosts: dict[tuple[str, str, int | None], asyncio.Semaphore] = {}

    def _host_slots(self, scheme: str, host: str, port: int | None) -> asyncio.Semaphore:
        """The ``per_host`` slots of one origin (scheme, host, port), as the connector counts."""
        key = (scheme, host.lower(), port)
        slots = self._hosts.get(key)
        if slots is None:
            slots = self._hosts[key] = asyncio.Semaphore(self.settings.per_host)
        return slots

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            limit=self.settings.concurrency,
            limit_per_host=self.settings.per_host,
            resolver=_GuardedResolver(self.policy),
            ttl_dns_cache=300,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            headers={"User-Agent": self.user_agent},
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def fetch(
        self,
        url: str,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        accept: str = "application/atom+xml, application/rss+xml, application/feed+json, "
        "application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.5",
    ) -> FetchResult:
        """Fetch ``url`` (http, https or file). Raises FetchError with a one-line reason."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise FetchError(f"not a usable URL: {exc}") from None
        if parts.scheme == "file" or not parts.scheme:
            return await asyncio.to_thread(self._read_file, url, last_modified)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"unsupported URL scheme {parts.scheme!r}")
        # A host slot first, then a global one (so a queue for one busy host holds none of
        # the slots other hosts could use); the timeout starts once the request can be sent.
        async with self._host_slots(parts.scheme, parts.hostname or "", port), self._slots:
            started = time.monotonic()
            try:
                return await self._follow(url, etag, last_modified, accept, started)
            except TimeoutError:
                raise FetchError(f"timed out after {self.settings.timeout_seconds:g} s") from None

    async def _follow(
        self, url: str, etag: str | None, last_modified: str | None, accept: str, started: float
    ) -> FetchResult:
        assert self._session is not None, "use Fetcher as an async context manager"
        headers = {"Accept": accept, "Accept-Encoding": "gzip, deflate, br"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        seen: set[str] = set()
        all_permanent = True
        current = url
        for _hop in range(self.settings.max_redirects + 1):
            parts = urlsplit(current)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise FetchError(f"redirected to an unsupported URL {current!r}")
            self.policy.check_literal(parts.hostname)
            seen.add(current)
            # One deadline for the whole fetch: every hop, and the body, get what is left of it.
            left = self.settings.timeout_seconds - (time.monotonic() - started)
            if left <= 0:
                raise TimeoutError
            try:
                response = await self._session.get(
                    current,
                    headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(
                        total=left, sock_connect=min(left, self.settings.connect_timeout_seconds)
                    ),
                )
            except aiohttp.ClientError as exc:
                raise _client_error(exc, parts.hostname) from None
            async with response:
                if response.status in _REDIRECTS:
                    location = response.headers.get("Location")
                    if not location:
                        raise FetchError(f"HTTP {response.status} without a Location header")
                    target = urljoin(current, location)
                    if target in seen:
                        raise FetchError(f"redirect loop at {target}")
                    all_permanent = all_permanent and response.status in _PERMANENT
                    current = target
                    continue
                return await self._finish(response, url, current, all_permanent, started)
        raise FetchError(f"too many redirects (more than {self.settings.max_redirects})")

    async def _finish(
        self,
        response: aiohttp.ClientResponse,
        original: str,
        final: str,
        all_permanent: bool,
        started: float,
    ) -> FetchResult:
        status = response.status
        moved_to = final if final != original and all_permanent else None
        if status == 304:
            return FetchResult(
                url=final,
                status=304,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                moved_to=moved_to,
                max_age=parse_max_age(response.headers),
                elapsed=time.monotonic() - started,
                links=link_headers(response.headers),
            )
        if status >= 400 or status < 200:
            raise FetchError(
                describe_status(status, response.reason),
                status=status,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        body = await self._read_body(response)
        return FetchResult(
            url=final,
            status=status,
            body=body,
            content_type=response.headers.get("Content-Type"),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            moved_to=moved_to,
            max_age=parse_max_age(response.headers),
            elapsed=time.monotonic() - started,
            links=link_headers(response.headers),
        )

    async def _read_body(self, response: aiohttp.ClientResponse) -> bytes:
        cap = self.settings.max_body_bytes
        declared = response.content_length
        if declared is not None and declared > cap and not response.headers.get("Content-Encoding"):
            raise FetchError(f"body of {declared} bytes is over the {cap}-byte limit")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.content.iter_chunked(_CHUNK):
                size += len(chunk)
                if size > cap:
                    raise FetchError(f"body is over the {cap}-byte limit (after decompression)")
                chunks.append(chunk)
        except aiohttp.ClientPayloadError as exc:
            raise FetchError(f"broken response body: {exc}") from None
        return b"".join(chunks)

    async def post_form(self, url: str, form: list[tuple[str, str]]) -> tuple[int, str]:
        """POST a form to ``url`` under the same address policy and deadline as a fetch (no
        redirects followed); returns the status and the first 200 characters of the answer."""
        assert self._session is not None, "use Fetcher as an async context manager"
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"not an http(s) URL: {url!r}")
        self.policy.check_literal(parts.hostname)
        try:
            async with (
                self._slots,
                self._session.post(
                    url,
                    data=form,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(
                        total=self.settings.timeout_seconds,
                        sock_connect=self.settings.connect_timeout_seconds,
                    ),
                ) as response,
            ):
                answer = await response.content.read(200)
                return response.status, answer.decode("utf-8", "replace")
        except TimeoutError:
            raise FetchError(f"timed out after {self.settings.timeout_seconds:g} s") from None
        except aiohttp.ClientError as exc:
            raise _client_error(exc, parts.hostname) from None

    def _read_file(self, url: str, last_modified: str | None) -> FetchResult:
        """Read a file:// URL or a local path, with the same size cap; mtime+size act as validator."""
        parts = urlsplit(url)
        if parts.scheme == "file" and parts.netloc not in ("", "localhost"):
            raise FetchError("a file: URL on another host, refused")
        path = Path(unquote(parts.path)) if parts.scheme == "file" else Path(url).expanduser()
        started = time.monotonic()
        try:
            stat = path.stat()
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
        if not path.is_file():
            raise FetchError(f"{path} is not a file")
        stamp = f"file:{stat.st_mtime_ns}:{stat.st_size}"
        if last_modified == stamp:
            return FetchResult(url=url, status=304, last_modified=stamp)
        if stat.st_size > self.settings.max_body_bytes:
            raise FetchError(
                f"file of {stat.st_size} bytes is over the {self.settings.max_body_bytes}-byte limit"
            )
        try:
            body = path.read_bytes()
        except OSError as exc:
            raise FetchError(f"cannot read {path}: {exc.strerror or exc}") from None
        return FetchResult(
            url=url,
            status=200,
            body=body,
            last_modified=stamp,
            elapsed=time.monotonic() - started,
        )

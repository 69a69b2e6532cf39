"""Forwarded headers: X-Forwarded-For is believed only from the proxies an
operator lists in ``web.trusted_proxies``; by default from nobody, loopback included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aggregator.app import App
from aggregator.web.app import create_app
from aggregator.web.security import proxy_options
from tests.web.conftest import Client, LiveServer, make_settings


@pytest.fixture
def serve(tmp_path: Path, database_url: str) -> Iterator[Any]:
    """``serve(trusted_proxies)``: the web app on uvicorn, started with :func:`proxy_options`."""
    running: list[tuple[App, LiveServer]] = []

    def start(trusted: list[str]) -> Client:
        web = {"subscribe_per_ip_per_hour": 2, "trusted_proxies": trusted}
        server = LiveServer()
        settings = make_settings(
            tmp_path / f"site{len(running)}",
            database_url,
            web=web,
            general={"base_url": server.url},
        )
        app = App(settings)
        running.append((app, server))
        server.start(create_app(app), **proxy_options(settings.web))
        return Client(server.url)

    yield start
    for app, server in running:
        server.stop()
        app.close()


def _statuses(client: Client, forwarded: list[str]) -> list[int]:
    """The answers to one sign-up per X-Forwarded-For value."""
    statuses = []
    for n, ip in enumerate(forwarded):
        form = {"csrf_token": client.get("/subscribe").csrf(), "email": f"p{n}@example.org"}
        reply = client.post(
            "/subscribe", form={**form, "digest": "daily"}, headers={"X-Forwarded-For": ip}
        )
        statuses.append(reply.status)
    return statuses


def test_forwarded_for_from_loopback_is_ignored_by_default(serve: Any) -> None:
    rotating = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"]
    assert proxy_options(make_settings(Path("."), "sqlite://").web)["proxy_headers"] is False
    assert _statuses(serve([]), rotating) == [200, 200, 429, 429]


def test_a_listed_proxy_names_the_client_and_cannot_be_bypassed_through_it(serve: Any) -> None:
    client = serve(["127.0.0.1/8"])  # host bits set, as operators write them
    assert _statuses(client, ["203.0.113.1", "203.0.113.2", "203.0.113.1"]) == [200, 200, 200]
    # A client naming itself in front of the proxy's entry: the proxy's word counts, not theirs.
    spoofed = [f"198.51.100.{n}, 203.0.113.9" for n in range(4)]
    assert _statuses(client, spoofed) == [200, 200, 429, 429]

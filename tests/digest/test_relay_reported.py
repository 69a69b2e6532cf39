"""A relay that refuses the sender is reported loudly: an error line per refused mail naming the
relay's reply, `status` (text and --json) and a `/metrics` gauge. From outside, against a real
aiosmtpd relay refusing MAIL FROM: `run --once` and `status` as real commands, /metrics from the
web app on a real server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from aggregator.app import App
from aggregator.cli.main import main
from aggregator.config import load
from aggregator.web.app import create_app
from tests.cli import ENV, config_text, run_cli
from tests.support.feedserver import FeedServer, rss_feed
from tests.support.smtpserver import SMTPTestServer
from tests.web.conftest import Client, LiveServer

REPLY = "550 5.7.1 <digest@example.org>: Sender address rejected: not owned by user"
READERS = ("a@example.com", "b@example.com")


def _cli(config: Path, *args: str) -> str:
    """A quick command in this process; its output (it must succeed)."""
    result = CliRunner(env=ENV).invoke(main, ["--config", str(config), *args])
    assert result.exit_code == 0, result.output
    return result.output


def _outbox(config: Path) -> dict:
    return json.loads(_cli(config, "status", "--json"))["outbox"]


def test_refused_sender_shows_in_the_log_status_and_metrics(
    tmp_path: Path, smtp_server, feed_server: FeedServer
) -> None:
    relay: SMTPTestServer = smtp_server(security="none")
    relay.handler.refuse("MAIL", REPLY)
    feed = feed_server.add("/news.xml", rss_feed("News", items=3))
    config = tmp_path / "config.toml"
    config.write_text(config_text([{"url": feed, "name": "News"}], smtp_port=relay.port))
    for reader in READERS:
        _cli(config, "subscribers", "add", reader)
    assert _outbox(config)["relay_refused"] == 0

    cycle = run_cli(config, "run", "--once")
    assert cycle.returncode == 0, cycle.stderr
    errors = [line for line in cycle.stderr.splitlines() if "level=error" in line]
    assert len(errors) == len(READERS), cycle.stderr
    for reader in READERS:
        (line,) = [e for e in errors if f"subscriber={reader}" in e]
        assert f"relay refused the sender: {REPLY}" in line
    assert relay.messages == []

    text = " ".join(_cli(config, "status").split())
    assert "2 mail(s) refused by the relay" in text
    assert f"relay refused the sender: {REPLY}" in text
    outbox = _outbox(config)
    assert outbox["relay_refused"] == 2
    assert outbox["relay_unavailable"] == 0
    assert outbox["last_refusal"] == f"relay refused the sender: {REPLY}"

    app = App(load(config))
    server = LiveServer().start(create_app(app))
    try:
        metrics = Client(server.url).get("/metrics").text
    finally:
        server.stop()
        app.close()
    assert 'aggregator_delivery_transport_failures{fault="refused"} 2.0' in metrics
    assert 'aggregator_delivery_transport_failures{fault="unavailable"} 0.0' in metrics


def test_a_relay_that_accepts_again_clears_the_report(
    tmp_path: Path, smtp_server, feed_server: FeedServer
) -> None:
    relay: SMTPTestServer = smtp_server(security="none")
    relay.handler.refuse("MAIL", REPLY)
    feed = feed_server.add("/news.xml", rss_feed("News", items=2))
    config = tmp_path / "config.toml"
    text = config_text([{"url": feed, "name": "News"}], smtp_port=relay.port)
    config.write_text(text.replace("[mail]\n", "[mail]\nmax_attempts = 1\n"))  # give up at once
    _cli(config, "subscribers", "add", READERS[0])
    assert run_cli(config, "run", "--once").returncode == 0
    outbox = _outbox(config)
    assert (outbox["relay_refused"], outbox["failed_or_bounced"]) == (1, 1)

    relay.handler.refuse("MAIL", None)  # the operator mends the relay and requeues
    _cli(config, "deliveries", "requeue")
    assert run_cli(config, "run", "--once").returncode == 0
    assert [m.rcpt_tos for m in relay.messages] == [(READERS[0],)]
    outbox = _outbox(config)
    assert (outbox["relay_refused"], outbox["last_refusal"]) == (0, None)

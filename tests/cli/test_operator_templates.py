"""The mailed digest and the command line with the operator's templates (``general.templates_dir``)."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Callable
from pathlib import Path

from tests.cli import ENV, one_line_error, run_cli
from tests.support.feedserver import FeedServer, rss_feed
from tests.test_templates_dir import _overrides


def test_the_mailed_digest_uses_the_operators_template(
    make_config: Callable[..., Path], feed_server: FeedServer, tmp_path: Path
) -> None:
    folder = _overrides(
        tmp_path,
        {
            "digest.html.j2": (
                "<html><body><h1>Operator edition: {{ title }}</h1>"
                "<p>{{ lead.title }}</p>"
                '<a href="{{ links.unsubscribe }}">leave</a></body></html>\n'
            )
        },
    )
    feed = feed_server.add("/news.xml", rss_feed("News", items=2))
    path = make_config([{"url": feed, "name": "News"}])
    env = {**ENV, "AGGREGATOR_GENERAL_TEMPLATES_DIR": str(folder)}
    assert run_cli(path, "subscribers", "add", "me@example.org", env=env).returncode == 0
    sent = run_cli(path, "run", "--once", env=env)
    assert sent.returncode == 0, sent.stderr
    [mail] = sorted((path.parent / "outbox" / "new").iterdir())
    message = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    html_part = message.get_body(preferencelist=("html",))
    assert html_part is not None
    html = html_part.get_content()
    assert "<h1>Operator edition: Daily digest</h1>" in html
    assert "<p>News item " in html
    assert 'href="http://127.0.0.1:8080/' in html  # the personal link, filled in


def test_the_command_line_reports_a_missing_folder_on_one_line(
    make_config: Callable[..., Path], tmp_path: Path
) -> None:
    path = make_config()
    env = {**ENV, "AGGREGATOR_GENERAL_TEMPLATES_DIR": str(tmp_path / "gone")}
    assert one_line_error(run_cli(path, "status", env=env), code=2) == (
        f"error: AGGREGATOR_GENERAL_TEMPLATES_DIR: not a folder: {tmp_path / 'gone'}"
    )


def test_a_template_that_fails_is_one_line_and_the_mail_is_recorded_as_failed(
    make_config: Callable[..., Path], feed_server: FeedServer, tmp_path: Path
) -> None:
    folder = _overrides(tmp_path, {"digest.html.j2": "<p>{{ nosuch }}</p>\n"})
    feed = feed_server.add("/news.xml", rss_feed("News", items=2))
    path = make_config([{"url": feed, "name": "News"}])
    env = {**ENV, "AGGREGATOR_GENERAL_TEMPLATES_DIR": str(folder)}
    assert run_cli(path, "subscribers", "add", "me@example.org", env=env).returncode == 0
    cycle = run_cli(path, "run", "--once", env=env)
    assert cycle.returncode == 0 and "Traceback" not in cycle.stderr, cycle.stderr
    assert "archive page not written: template " in cycle.stderr
    assert not (path.parent / "outbox" / "new").is_dir() or not any(
        (path.parent / "outbox" / "new").iterdir()
    )
    listed = run_cli(path, "deliveries", "list", "--run", "1", env=env)
    assert f"render failed: template {folder / 'digest.html.j2'} line 1: 'nosuch' is undefined" in (
        listed.stdout
    )
    preview = run_cli(path, "digest", "preview", "--output", str(tmp_path / "p.html"), env=env)
    assert one_line_error(preview) == (
        f"error: template {folder / 'digest.html.j2'} line 1: 'nosuch' is undefined"
    )

"""Config loading: typed settings, one-line errors naming the key path, secrets from the env."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aggregator import config

REPO = Path(__file__).resolve().parent.parent


def test_shipped_config_is_valid_and_polls_the_alignment_forum() -> None:
    settings = config.load(REPO / "config.toml")
    urls = [s.url for s in settings.sources]
    assert any("alignmentforum.org" in u for u in urls)
    assert {d.name for d in settings.digests} >= {"daily", "weekly"}


def test_defaults_without_file_use_sqlite_maildir_and_public(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AGGREGATOR_CONFIG", raising=False)
    settings = config.load()
    assert settings.origin == "defaults"
    assert settings.database_url == f"sqlite:///{tmp_path / 'data' / 'aggregator.db'}"
    assert settings.mail.transport == "maildir"
    assert settings.public_dir == tmp_path / "public"


def _errors(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "config.toml"
    path.write_text(body)
    with pytest.raises(config.ConfigError) as info:
        config.load(path)
    return info.value.problems


def test_errors_name_the_key_path(tmp_path: Path) -> None:
    problems = _errors(
        tmp_path,
        """
[[sources]]
url = "https://example.org/feed"
[[sources]]
url = "https://example.org/2"
[[sources]]
url = "gopher://example.org/feed"
[[digests]]
name = "daily"
schedule = "every morning"
timezone = "Mars/Olympus"
[fetch]
timout_seconds = 3
""",
    )
    assert "config.toml: sources[2].url: not an http(s) or file URL" in problems
    assert any(
        p.startswith("config.toml: digests[0].schedule: not a cron expression") for p in problems
    )
    assert "config.toml: digests[0].timezone: unknown timezone 'Mars/Olympus'" in problems
    assert "config.toml: fetch.timout_seconds: unknown key (check the spelling)" in problems
    assert len(problems) == 4


def test_invalid_toml_is_one_line(tmp_path: Path) -> None:
    problems = _errors(tmp_path, "[fetch\n")
    assert len(problems) == 1 and problems[0].startswith("config.toml: invalid TOML")


def test_bad_values(tmp_path: Path) -> None:
    problems = _errors(
        tmp_path,
        """
[fetch]
concurrency = 0
allow_networks = ["not-a-net"]
[[sources]]
url = "https://a.example/feed"
priority = 9
[[sources]]
url = "https://b.example/feed"
min_interval_minutes = 60
max_interval_minutes = 10
""",
    )
    joined = "\n".join(problems)
    assert "fetch.concurrency:" in joined
    assert "fetch.allow_networks:" in joined and "not-a-net" in joined
    assert "sources[0].priority:" in joined
    assert (
        "config.toml: sources[1]: min_interval_minutes is larger than max_interval_minutes"
        in problems
    )


def test_secrets_come_from_the_environment(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[mail.smtp]\npassword_env = "MY_SMTP_PASSWORD"\n')
    settings = config.load(path)
    monkeypatch.delenv("MY_SMTP_PASSWORD", raising=False)
    assert settings.secret(settings.mail.smtp.password_env) is None
    monkeypatch.setenv("MY_SMTP_PASSWORD", "hunter2")
    assert settings.secret(settings.mail.smtp.password_env) == "hunter2"
    # a password key in the file itself is rejected, so secrets cannot live only there
    path.write_text(
        '[mail.smtp]\npassword = "hunter2"\n[briefs.llm]\napi_key = "k"\n'
        '[web]\nsecret = "s"\n[general]\ntoken = "t"\n'
    )
    with pytest.raises(config.ConfigError) as raised:
        config.load(path)
    assert sorted(raised.value.problems) == [
        "config.toml: briefs.llm.api_key: secrets come from the environment: use api_key_env "
        "(the variable's name, default AGGREGATOR_LLM_API_KEY) and set that variable",
        "config.toml: general.token: secrets come from the environment, not the file",
        "config.toml: mail.smtp.password: secrets come from the environment: use password_env "
        "(the variable's name, default AGGREGATOR_SMTP_PASSWORD) and set that variable",
        "config.toml: web.secret: secrets come from the environment: use secret_env "
        "(the variable's name, default AGGREGATOR_SECRET_KEY) and set that variable",
    ]


def test_cli_reports_config_errors_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[[sources]]\nurl = "https://ok.example/feed"\n[[sources]]\nurl = "mailto:x@y"\n'
    )
    proc = subprocess.run(
        [sys.executable, "-m", "aggregator.cli", "--config", str(path), "sources", "list"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "config.toml: sources[1].url: not an http(s) or file URL" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_mail_settings_that_every_send_would_refuse_are_config_errors(tmp_path: Path) -> None:
    """A plain-http public base URL (its unsubscribe links) or a non-ASCII sender would fail
    every message at build time; they are refused when the config loads."""
    problems = _errors(
        tmp_path,
        """
[general]
base_url = "http://news.example.org"
[mail]
from_address = "dígest@example.org"
""",
    )
    assert any(
        p.startswith("config.toml: general.base_url: must be an https URL") for p in problems
    )
    assert any(p.startswith("config.toml: mail.from_address: not a valid email") for p in problems)
    for local in ("http://127.0.0.1:8080", "http://localhost:8080", "https://news.example.org"):
        path = tmp_path / "ok.toml"
        path.write_text(f'[general]\nbase_url = "{local}"\n')
        assert config.load(path).general.base_url == local


def test_the_shipped_config_shows_every_key() -> None:
    """config.toml claims to show every key: each setting of each section is written out there."""
    import tomllib

    shipped = tomllib.loads((REPO / "config.toml").read_text())
    missing = []
    for path, _ in config._leaves(config.Settings):
        table = shipped
        for part in path:
            table = table.get(part) if isinstance(table, dict) else None
        if table is None:
            missing.append(".".join(path))
    assert missing == []

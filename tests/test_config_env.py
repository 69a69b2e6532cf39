"""Settings from ``AGGREGATOR_<SECTION>_<KEY>`` variables: typed, validated, winning over the file."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from aggregator import config
from tests.cli import ENV, one_line_error, run_cli

FILE = """
[general]
name = "From the file"
[fetch]
timeout_seconds = 5
concurrency = 7
[mail]
from_address = "digest@example.org"
[mail.smtp]
host = "smtp.example.org"
[[digests]]
name = "daily"
"""


def _load(tmp_path: Path, environ: dict[str, str], body: str = FILE) -> config.Settings:
    path = tmp_path / "config.toml"
    path.write_text(body)
    return config.load(path, environ)


def _problems(tmp_path: Path, environ: dict[str, str], body: str = FILE) -> list[str]:
    with pytest.raises(config.ConfigError) as info:
        _load(tmp_path, environ, body)
    return info.value.problems


def test_variables_win_over_the_file_each_as_its_keys_type(tmp_path: Path) -> None:
    settings = _load(
        tmp_path,
        {
            "AGGREGATOR_GENERAL_NAME": "From the environment",
            "AGGREGATOR_FETCH_TIMEOUT_SECONDS": "2.5",
            "AGGREGATOR_FETCH_MAX_REDIRECTS": " 3 ",
            "AGGREGATOR_FETCH_ALLOW_NETWORKS": "127.0.0.1/32, 10.0.0.0/8",
            "AGGREGATOR_WEB_TRUSTED_PROXIES": '["192.168.0.1"]',
            "AGGREGATOR_MAIL_SMTP_HOST": "relay.internal",
            "AGGREGATOR_MAIL_SMTP_RATE_PER_SECOND": "12",
            "AGGREGATOR_MAIL_DKIM_ENABLED": "no",
            "AGGREGATOR_PUBLISH_TAG_FEEDS": "False",
            "AGGREGATOR_BRIEFS_LLM_ENABLED": "yes",
            "AGGREGATOR_BRIEFS_LLM_MAX_TOKENS_PER_SOURCE": "900",
            "AGGREGATOR_DATABASE_URL": "postgresql://db.internal/aggregator",
        },
    )
    assert settings.general.name == "From the environment"
    assert settings.fetch.timeout_seconds == 2.5
    assert settings.fetch.concurrency == 7  # the file's value where no variable is set
    assert settings.fetch.max_redirects == 3
    assert settings.fetch.allow_networks == ["127.0.0.1/32", "10.0.0.0/8"]
    assert settings.web.trusted_proxies == ["192.168.0.1"]
    assert settings.mail.smtp.host == "relay.internal"
    assert settings.mail.from_address == "digest@example.org"
    assert settings.mail.smtp.rate_per_second == 12.0
    assert settings.mail.dkim.enabled is False
    assert settings.publish.tag_feeds is False
    assert settings.briefs.llm.enabled is True
    assert settings.briefs.llm.max_tokens_per_source == 900
    assert settings.database_url == "postgresql://db.internal/aggregator"


def test_lists_of_tables_are_json(tmp_path: Path) -> None:
    digests = [{"name": "morning", "schedule": "0 6 * * *", "timezone": "Europe/Berlin"}]
    sources = [{"url": "https://example.org/feed.xml", "tags": ["News"]}]
    settings = _load(
        tmp_path,
        {"AGGREGATOR_DIGESTS": json.dumps(digests), "AGGREGATOR_SOURCES": json.dumps(sources)},
    )
    assert [(d.name, d.timezone) for d in settings.digests] == [("morning", "Europe/Berlin")]
    assert [(s.url, s.tags) for s in settings.sources] == [
        ("https://example.org/feed.xml", ["news"])
    ]


def test_variables_work_without_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = config.load(None, {"AGGREGATOR_GENERAL_DATA_DIR": "state"})
    assert settings.origin == "defaults"
    assert settings.data_dir == tmp_path / "state"


def test_bad_values_are_reported_naming_the_variable(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path,
        {
            "AGGREGATOR_FETCH_TIMEOUT_SECONDS": "soon",
            "AGGREGATOR_FETCH_CONCURRENCY": "5.5",
            "AGGREGATOR_MAIL_SMTP_PORT": "70000",
            "AGGREGATOR_PUBLISH_TAG_FEEDS": "maybe",
            "AGGREGATOR_GENERAL_TICK_SECONDS": "nan",
            "AGGREGATOR_MAIL_SMTP_SECURITY": "ssl",
            "AGGREGATOR_WEB_TRUSTED_PROXIES": "[1,",
            "AGGREGATOR_DIGESTS": '[{"name": "daily", "timezone": "Mars/Olympus"}]',
            "AGGREGATOR_MAIL_FROM_ADDRESS": "not an address",
            "AGGREGATOR_GENERAL_NAME": b"Caf\xe9".decode("utf-8", "surrogateescape"),
        },
        body=FILE + '\n[web]\ntrusted_proxies = ["::1"]\n',
    )
    assert 'AGGREGATOR_FETCH_TIMEOUT_SECONDS: expected a number, got the string "soon"' in problems
    assert 'AGGREGATOR_FETCH_CONCURRENCY: expected a whole number, got the string "5.5"' in problems
    assert "AGGREGATOR_MAIL_SMTP_PORT: Input should be less than or equal to 65535" in problems
    assert (
        'AGGREGATOR_PUBLISH_TAG_FEEDS: expected true or false, got the string "maybe"' in problems
    )
    assert "AGGREGATOR_GENERAL_TICK_SECONDS: Input should be a finite number" in problems
    assert any(
        p.startswith("AGGREGATOR_MAIL_SMTP_SECURITY: Input should be 'none'") for p in problems
    )
    assert any(p.startswith("AGGREGATOR_WEB_TRUSTED_PROXIES: not a JSON list (") for p in problems)
    assert "AGGREGATOR_DIGESTS: [0].timezone: unknown timezone 'Mars/Olympus'" in problems
    assert any(p.startswith("AGGREGATOR_MAIL_FROM_ADDRESS: not a valid email") for p in problems)
    assert "AGGREGATOR_GENERAL_NAME: not UTF-8 text" in problems
    assert all("\n" not in p and not p.startswith("config.toml") for p in problems), problems


def test_the_files_own_errors_still_name_the_file(tmp_path: Path) -> None:
    problems = _problems(
        tmp_path, {"AGGREGATOR_FETCH_CONCURRENCY": "8"}, body=FILE + "[publish]\nmax_entries = 0\n"
    )
    assert problems == [
        "config.toml: publish.max_entries: Input should be greater than or equal to 1"
    ]


def test_a_mistyped_variable_is_one_warning_and_others_are_left_alone(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    environ = {
        "AGGREGATOR_FETCH_TIMEOUT": "3",
        "AGGREGATOR_MAIL_SMTP_PASSWORD": "hunter2",
        "AGGREGATOR_CONFIG": str(tmp_path / "config.toml"),
        "AGGREGATOR_TEST_DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/test",
        "AGGREGATOR_SECRET_KEY": "k",
        "AGGREGATOR_SMTP_PASSWORD": "p",
        "AGGREGATOR_LLM_API_KEY": "a",
        "AGGREGATOR_WEB_SIGNING": "named by web.secret_env below",
    }
    body = FILE + '[web]\nsecret_env = "AGGREGATOR_WEB_SIGNING"\n'
    with caplog.at_level(logging.WARNING, logger="aggregator.config"):
        settings = _load(tmp_path, environ, body)
    assert settings.fetch.timeout_seconds == 5
    assert [r.getMessage() for r in caplog.records] == [
        "AGGREGATOR_FETCH_TIMEOUT: not a setting, ignored; "
        "did you mean AGGREGATOR_FETCH_TIMEOUT_SECONDS?",
        "AGGREGATOR_MAIL_SMTP_PASSWORD: not a setting, ignored; "
        "did you mean AGGREGATOR_MAIL_SMTP_PASSWORD_ENV?",
    ]


def test_every_key_has_its_own_variable() -> None:
    """Names are read off the settings model; no two keys may share one."""
    paths = [path for path, _ in config._leaves(config.Settings)]
    assert len(config.env_keys()) == len(paths)
    assert config.env_keys()["AGGREGATOR_MAIL_SMTP_RATE_PER_SECOND"][0] == (
        "mail",
        "smtp",
        "rate_per_second",
    )
    assert config.env_keys()["AGGREGATOR_BRIEFS_LLM_API_KEY_ENV"][0] == (
        "briefs",
        "llm",
        "api_key_env",
    )


# --- from outside: the command line ---------------------------------------------------------


def test_the_command_line_takes_settings_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FILE)
    env = {
        **ENV,
        "AGGREGATOR_DATABASE_URL": f"sqlite:///{tmp_path / 'elsewhere.db'}",
        "AGGREGATOR_PUBLISH_DIR": str(tmp_path / "www"),
        "AGGREGATOR_DIGESTS": '[{"name": "evening", "schedule": "0 19 * * *"}]',
        "AGGREGATOR_FETCH_TIMEOUT": "3",
    }
    result = run_cli(path, "status", "--json", env=env)
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert [d["name"] for d in shown["digests"]] == ["evening"]
    assert shown["feed"]["path"] == str(tmp_path / "www" / "feed.atom")
    assert (tmp_path / "elsewhere.db").is_file()
    assert not (tmp_path / "data").exists()
    warnings = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(warnings) == 1 and "AGGREGATOR_FETCH_TIMEOUT: not a setting, ignored" in warnings[0]


def test_the_command_line_reports_a_bad_variable_on_one_line(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(FILE)
    result = run_cli(path, "status", env={**ENV, "AGGREGATOR_FETCH_TIMEOUT_SECONDS": "soon"})
    assert one_line_error(result, code=2) == (
        'error: AGGREGATOR_FETCH_TIMEOUT_SECONDS: expected a number, got the string "soon"'
    )

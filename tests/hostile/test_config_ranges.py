"""Config values that would pass and break later are refused when the configuration loads: every
number has a range, and every string bound for a mail header a shape, each with one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregator import config
from tests.test_config import _errors

NUMBERS = [
    ("fetch", "min_interval_minutes"),
    ("fetch", "max_interval_minutes"),
    ("fetch", "max_backoff_minutes"),
    ("fetch", "max_body_bytes"),
    ("web", "confirm_max_age_hours"),
    ("web", "confirmation_window_minutes"),
    ("web", "subscribe_per_ip_per_hour"),
    ("web", "max_connections"),
    ("web", "reserved_descriptors"),
    ("web", "request_timeout_seconds"),
    ("web", "keep_alive_seconds"),
    ("mail", "bounce_threshold"),
    ("mail", "max_attempts"),
    ("mail.smtp", "timeout_seconds"),
    ("mail.smtp", "rate_per_second"),
    ("briefs", "teaser_words"),
    ("briefs.llm", "timeout_seconds"),
    ("briefs.llm", "max_calls_per_run"),
]
INTEGERS = {"max_body_bytes", "subscribe_per_ip_per_hour", "bounce_threshold", "max_attempts"}
INTEGERS |= {"teaser_words", "max_calls_per_run"}
INTEGERS |= {"max_connections", "reserved_descriptors", "keep_alive_seconds"}


_problems = _errors


@pytest.mark.parametrize(("section", "key"), NUMBERS)
@pytest.mark.parametrize("value", ["inf", "nan", "1e300", "1e10"])
def test_absurd_numbers_are_refused_on_one_line(
    tmp_path: Path, section: str, key: str, value: str
) -> None:
    if key in INTEGERS:
        value = {
            "inf": "9223372036854775807",
            "nan": "-1",
            "1e300": "10000000000",
            "1e10": "99999999999",
        }[value]
    problems = _problems(tmp_path, f"[{section}]\n{key} = {value}\n")
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"config.toml: {section}.{key}: "), problems
    assert "\n" not in problems[0]


@pytest.mark.parametrize("value", ["inf", "1e300", "1e10"])
def test_absurd_source_interval_is_refused(tmp_path: Path, value: str) -> None:
    body = f'[[sources]]\nurl = "https://a.example/feed"\nmax_interval_minutes = {value}\n'
    (problem,) = _problems(tmp_path, body)
    assert problem.startswith("config.toml: sources[0].max_interval_minutes: ")


@pytest.mark.parametrize(
    "value", ["my list", "list", "a..b", ".a.b", "ünï.example.org", "a.b\\r\\nBcc: x@y.z", ""]
)
def test_list_id_needs_its_shape(tmp_path: Path, value: str) -> None:
    (problem,) = _problems(tmp_path, f'[mail]\nlist_id = "{value}"\n')
    assert problem.startswith("config.toml: mail.list_id: bad List-Id")


@pytest.mark.parametrize(
    ("where", "key"),
    [("mail", "from_name"), ("general", "name")],
)
@pytest.mark.parametrize(
    "value", ["A\\r\\nBcc: x@example.org", "A\\u0000B", "A\\u202eB", "x" * 201]
)
def test_header_text_is_one_short_line(tmp_path: Path, where: str, key: str, value: str) -> None:
    (problem,) = _problems(tmp_path, f'[{where}]\n{key} = "{value}"\n')
    assert problem.startswith(f"config.toml: {where}.{key}: ")


def test_digest_title_and_subject_are_one_line(tmp_path: Path) -> None:
    body = '[[digests]]\nname = "daily"\ntitle = "A\\nB"\nsubject = "{title}\\r\\nBcc: x@y.z"\n'
    problems = _problems(tmp_path, body)
    assert {p.split(": ")[1] for p in problems} == {"digests[0].title", "digests[0].subject"}


def test_sane_values_still_load(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        "[fetch]\nmax_interval_minutes = 10080\n[web]\nconfirm_max_age_hours = 720\n"
        '[mail]\nlist_id = "daily.news.example.org"\nfrom_name = "Ünïcode News"\n'
    )
    loaded = config.load(path)
    assert loaded.mail.list_id == "daily.news.example.org"
    assert loaded.web.confirm_max_age_hours == 720

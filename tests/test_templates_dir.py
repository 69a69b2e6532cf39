"""The operator's templates (``general.templates_dir``) replace the shipped ones of the same name."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from aggregator import config
from aggregator.digest.render import prepare
from aggregator.model.brief import Brief
from aggregator.publish.feeds import write_feeds
from aggregator.templating import TEMPLATES_DIR, TemplateError
from tests.digest import sample_view
from tests.publish.test_feed_content import META, _entry


def _overrides(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "my-templates"
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


def test_an_override_replaces_only_its_own_template_and_is_escaped_alike(tmp_path: Path) -> None:
    folder = _overrides(
        tmp_path, {"digest.html.j2": "<h1>Ours: {{ title }}</h1><p>{{ lead.title }}</p>\n"}
    )
    view = sample_view(title="Daily <b>bold</b>")
    rendered = prepare(view, templates_dir=folder)
    assert "<h1>Ours: Daily &lt;b&gt;bold&lt;/b&gt;</h1>" in rendered.html
    assert "Python 3.14" not in rendered.html.split("<p>")[0]
    shipped = prepare(view)
    assert "Ours:" not in shipped.html
    assert "Ours:" not in rendered.text and "Python 3.14" in rendered.text  # shipped text part


def test_a_text_override_stays_unescaped(tmp_path: Path) -> None:
    folder = _overrides(tmp_path, {"digest.txt.j2": "Ours: {{ title }}\n"})
    rendered = prepare(sample_view(title="Fish & <chips>"), templates_dir=folder)
    assert rendered.text == "Ours: Fish & <chips>\n"


def test_an_override_may_include_a_shipped_piece(tmp_path: Path) -> None:
    shipped = (TEMPLATES_DIR / "digest.html.j2").read_text()
    folder = _overrides(tmp_path, {"_digest_base.css": "h1 { color: #123456; }\n"})
    assert '{% include "_digest_base.css" %}' in shipped
    rendered = prepare(sample_view(), templates_dir=folder)
    assert "#123456" in rendered.html


def test_feed_templates_can_be_overridden(tmp_path: Path) -> None:
    folder = _overrides(
        tmp_path, {"feed.rss.j2": "<rss><channel><title>{{ feed.title }}</title></channel></rss>\n"}
    )
    out = tmp_path / "public"
    write_feeds(
        out, replace(META, title="A & B"), [_entry(Brief(bullets=["One."]))], templates_dir=folder
    )
    assert (
        out / "feed.rss"
    ).read_text() == "<rss><channel><title>A &amp; B</title></channel></rss>\n"
    assert "<feed" in (out / "feed.atom").read_text()  # not overridden: shipped


def test_a_missing_folder_is_a_one_line_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[general]\ntemplates_dir = "nowhere"\n')
    with pytest.raises(config.ConfigError) as info:
        config.load(path, {})
    assert info.value.problems == [
        f"config.toml: general.templates_dir: not a folder: {tmp_path / 'nowhere'}"
    ]
    (tmp_path / "nowhere").mkdir()
    assert config.load(path, {}).templates_dir == tmp_path / "nowhere"
    assert config.load(path, {"AGGREGATOR_GENERAL_TEMPLATES_DIR": ""}).templates_dir is None


def test_a_broken_override_is_a_config_error_and_a_stray_file_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = _overrides(
        tmp_path,
        {
            "digest.html.j2": "<h1>{{ title }</h1>\n",
            "web/notice.html.j2": "{% if x %}\n",
            "digest.html": "<h1>a typo of the name</h1>\n",
            ".hidden": "",
        },
    )
    path = tmp_path / "config.toml"
    path.write_text(f'[general]\ntemplates_dir = "{folder.name}"\n')
    with pytest.raises(config.ConfigError) as info:
        config.load(path, {})
    [problem] = info.value.problems
    assert problem.startswith("config.toml: general.templates_dir: digest.html.j2 line 1: ")
    assert "; web/notice.html.j2 line " in problem
    (folder / "digest.html.j2").write_text("<h1>{{ title }}</h1>\n")
    (folder / "web" / "notice.html.j2").unlink()
    with caplog.at_level(logging.WARNING, logger="aggregator.config"):
        assert config.load(path, {}).templates_dir == folder
    assert [r.getMessage() for r in caplog.records] == [
        "general.templates_dir: digest.html replaces no shipped template and is never used"
    ]


def test_a_value_the_template_does_not_get_fails_naming_file_and_line(tmp_path: Path) -> None:
    folder = _overrides(tmp_path, {"digest.txt.j2": "{{ title }}\n{{ lead.nosuch }}\n"})
    with pytest.raises(TemplateError) as info:
        prepare(sample_view(), templates_dir=folder)
    assert str(info.value) == (
        f"template {folder / 'digest.txt.j2'} line 2: 'aggregator.digest.model.StoryView object' "
        "has no attribute 'nosuch'"
    )

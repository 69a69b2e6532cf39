"""The picture of a digest on the README's front page, made in real Chromium from a real preview.

``AGGREGATOR_SCREENSHOT_DIR=docs/images pytest tests/web/test_digest_picture.py`` writes
``digest.png`` there; without it the picture goes to the test's tmp folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli import config_text, ok, run_cli
from tests.web.test_browser import ARGS, CHROMIUM

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sample-feed.xml"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's /usr/bin/chromium"),
]


def test_a_previewed_digest_renders_in_chromium_with_its_brief(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    config = tmp_path / "config.toml"
    config.write_text(config_text())
    ok(run_cli(config, "sources", "add", str(EXAMPLE), "--name", "Sample notes"))
    ok(run_cli(config, "poll"))
    preview = config.parent / "digest.html"
    ok(run_cli(config, "digest", "preview", "--output", str(preview)))
    folder = Path(os.environ.get("AGGREGATOR_SCREENSHOT_DIR") or config.parent)
    folder.mkdir(parents=True, exist_ok=True)
    picture = folder / "digest.png"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_page(viewport={"width": 680, "height": 1000})
        page.goto(preview.as_uri())
        assert page.get_by_text("In brief").first.is_visible()
        assert page.get_by_text("Unsubscribe").first.is_visible()
        page.screenshot(path=str(picture), full_page=False)
        browser.close()
    assert picture.stat().st_size > 10_000  # a real picture, not a blank page

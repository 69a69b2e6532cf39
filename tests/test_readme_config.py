"""The configuration shown on the README's front page is one the product accepts as written."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from aggregator.config import from_mapping

REPO = Path(__file__).resolve().parents[1]


def test_the_readme_config_example_loads(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```toml\n(.*?)```", readme, re.DOTALL)
    assert blocks, "the README shows a config.toml"
    settings = from_mapping(tomllib.loads(blocks[0]), root=tmp_path, origin="README.md")
    assert settings.sources[0].name == "AI Alignment Forum"
    assert settings.mail.transport == "smtp"
    assert settings.digests[0].timezone == "Europe/Berlin"

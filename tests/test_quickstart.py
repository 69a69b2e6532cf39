"""The README's quick start, word for word, in a fresh folder: it ends with a digest in outbox/."""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def quick_start_lines() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("### Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.DOTALL)
    assert block is not None
    return [line for line in block[1].splitlines() if line.strip()]


def test_the_readme_quick_start_ends_with_a_digest(tmp_path: Path) -> None:
    for name in ("config.toml", "glossary.toml"):
        shutil.copy(REPO / name, tmp_path / name)
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    (tmp_path / ".venv").symlink_to(Path(sys.prefix))
    browser = tmp_path / "browser.sh"
    browser.write_text('#!/bin/sh\necho "$1" > "$(dirname "$0")/opened.txt"\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "AGGREGATOR_SECRET_KEY": "quick-start"}
    env.pop("AGGREGATOR_CONFIG", None)
    lines = quick_start_lines()
    assert len(lines) == 5
    for line in lines:
        done = subprocess.run(
            ["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, f"{line}\n{done.stderr[-2000:]}"
    mails = sorted((tmp_path / "outbox" / "new").iterdir())
    assert mails, "no digest in outbox/new"
    message = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "you@example.org"
    text = message.get_body(preferencelist=("plain",)).get_content()
    assert "language models admit uncertainty" in text and "In brief" in text
    assert (tmp_path / "opened.txt").read_text().startswith("file://")

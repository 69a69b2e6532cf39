"""The README from its very first command, word for word, in a fresh copy of the repository: the
install and first cycle, then the quick start; it ends with a digest in outbox/new/.

The commands are read from README.md itself: the first line of the first ``sh`` block (the
install and first cycle), then every line of the first ``sh`` block under the "Quick start"
heading. The install runs for real (a new virtualenv, pip with its cache: under a minute here).
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow
NOT_COPIED = (".git", ".venv", "data", "outbox", "public", "__pycache__", "*.egg-info", "build")


def sh_blocks(text: str) -> list[list[str]]:
    """The non-empty lines of each ```sh block of ``text``, in order."""
    blocks = re.findall(r"^```sh\n(.*?)^```", text, re.DOTALL | re.MULTILINE)
    return [[line for line in block.splitlines() if line.strip()] for block in blocks]


def readme_commands() -> list[str]:
    """The install line (first line of the README's first sh block), then the quick start."""
    readme = (REPO / "README.md").read_text()
    install = sh_blocks(readme)[0][0]
    heading = re.search(r"^#+ Quick start.*$", readme, re.MULTILINE)
    assert heading is not None, "README.md has no Quick start heading"
    quick_start = sh_blocks(readme[heading.end() :])[0]
    return [install, *quick_start]


def test_the_readme_from_its_first_command_ends_with_a_digest(tmp_path: Path) -> None:
    clone = tmp_path / "aggregator"
    shutil.copytree(REPO, clone, ignore=shutil.ignore_patterns(*NOT_COPIED))
    browser = tmp_path / "browser.sh"
    browser.write_text(f'#!/bin/sh\necho "$1" > {tmp_path}/opened.txt\n')
    browser.chmod(0o755)
    env = {**os.environ, "BROWSER": str(browser), "AGGREGATOR_SECRET_KEY": "quick-start"}
    for name in ("AGGREGATOR_CONFIG", "VIRTUAL_ENV", "PYTHONPATH"):
        env.pop(name, None)
    commands = readme_commands()
    assert "pip install" in commands[0] and "run --once" in commands[0]
    assert any("outbox/new" in line for line in commands[1:])
    for line in commands:
        done = subprocess.run(
            ["bash", "-c", line], cwd=clone, env=env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"{line}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    mails = sorted((clone / "outbox" / "new").iterdir())
    assert mails, "no digest in outbox/new"
    message = email.message_from_bytes(mails[0].read_bytes(), policy=email.policy.default)
    assert message["To"] == "you@example.org"
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    text = body.get_content()
    assert "language models admit uncertainty" in text and "In brief" in text
    assert (tmp_path / "opened.txt").read_text().startswith("file://")

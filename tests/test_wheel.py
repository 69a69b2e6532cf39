"""The built wheel is complete: installed into a fresh virtualenv (no source tree on the path), it
runs a cycle, renders a digest and serves its templates."""

from __future__ import annotations

import email
import email.policy
import os
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests.conftest import CORPUS

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def build_wheel(out: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
        + ["-w", str(out), str(REPO)],
        check=True,
        capture_output=True,
    )
    [wheel] = out.glob("aggregator-*.whl")
    return wheel


def fresh_venv(folder: Path) -> Path:
    """A virtualenv with the test environment's dependencies on its path but not its
    (editable) aggregator: a .pth line adds the directory without running its .pth files."""
    venv.create(folder, with_pip=True)
    python = folder / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "test-dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def test_the_wheel_runs_a_cycle_and_renders_from_a_fresh_venv(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "wheels")
    names = zipfile.ZipFile(wheel).namelist()
    assert "aggregator/templates/digest.html.j2" in names
    assert "aggregator/templates/feed.xsl" in names  # feeds name it; the publisher copies it
    assert "aggregator/py.typed" in names
    assert "aggregator/glossary.toml" in names  # the shipped glossary
    assert "aggregator/locale/fr/LC_MESSAGES/messages.mo" in names  # the mail's words in French
    assert "aggregator/locale/fr/LC_MESSAGES/messages.po" in names
    python = fresh_venv(tmp_path / "venv")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(wheel)],
        check=True,
        capture_output=True,
    )
    work = tmp_path / "site"
    work.mkdir()
    feed = next((CORPUS / "real-feeds").glob("*.xml"))
    (work / "config.toml").write_text(
        f'[[sources]]\nurl = "{feed.as_uri()}"\nname = "Corpus"\n\n'
        '[[digests]]\nname = "daily"\nschedule = "0 7 * * *"\nsend_empty = true\n'
    )
    aggregator = tmp_path / "venv" / "bin" / "aggregator"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*args: str) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [str(aggregator), *args], cwd=work, env=env, capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
        return done

    where = subprocess.run(
        [str(python), "-c", "import aggregator; print(aggregator.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    ).stdout
    assert str(tmp_path / "venv") in where  # the wheel's copy, not the source tree
    terms = subprocess.run(
        [
            str(python),
            "-c",
            "from aggregator.briefs.glossary import combined_glossary as g; print(len(g(None)))",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert int(terms.stdout) >= 200, terms.stderr
    run("subscribers", "add", "reader@example.org")
    run("subscribers", "add", "lecteur@example.org", "--language", "fr")
    run("run", "--once")
    mails = [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in (work / "outbox" / "new").iterdir()
    ]
    assert len(mails) == 2
    [french] = [m for m in mails if m["To"] == "lecteur@example.org"]
    text = french.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Se désabonner" in text  # the mail's words from the wheel's catalogue
    assert (work / "public" / "feed.atom").is_file()
    run("digest", "preview", "--output", "preview.html")
    assert "<html" in (work / "preview.html").read_text()

"""Tests of the operator command line, each command run as a real ``python -m aggregator``.

Helpers shared by the test modules live here; the fixtures are in conftest.py.
"""

from __future__ import annotations

import contextlib
import os
import pty
import subprocess
import sys
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ENV = {
    **{k: v for k, v in os.environ.items() if k != "AGGREGATOR_CONFIG"},
    "AGGREGATOR_SECRET_KEY": "cli-test-secret",
    "COLUMNS": "200",  # rich tables get room for every column, so each row stays on one line
}


def run_cli(
    config: Path, *args: str, timeout: float = 60, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """``aggregator --config CONFIG ARGS...`` in the config's folder; stdout/stderr as text.

    ``env`` replaces the test environment (``ENV``) when given."""
    return subprocess.run(
        [sys.executable, "-m", "aggregator", "--config", str(config), *args],
        cwd=config.parent,
        env=ENV if env is None else env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def run_cli_all(config: Path, *commands: Sequence[str]) -> list[subprocess.CompletedProcess]:
    """Run independent commands at the same time (each is ~1 s of imports); results in order.

    Only for commands on an existing database that do not depend on each other's effects.
    """
    with ThreadPoolExecutor(max_workers=len(commands)) as pool:
        return list(pool.map(lambda args: run_cli(config, *args), commands))


def config_text(
    sources: Sequence[Mapping[str, object]] = (), *, smtp_port: int | None = None, extra: str = ""
) -> str:
    """A config.toml for tests: loopback fetching allowed, one daily digest, maildir or SMTP."""
    blocks = [
        "[[sources]]\n" + "\n".join(f"{key} = {_toml(value)}" for key, value in source.items())
        for source in sources
    ]
    mail = (
        f'transport = "smtp"\n[mail.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\n'
        'security = "none"'
        if smtp_port
        else 'transport = "maildir"'
    )
    sections = "\n\n".join(blocks)
    return f"""
[general]
name = "CLI Test"
base_url = "http://127.0.0.1:8080"

[fetch]
allow_networks = ["127.0.0.1/32"]
timeout_seconds = 5

[[digests]]
name = "daily"
schedule = "0 7 * * *"
timezone = "UTC"

{extra}

{sections}

[mail]
from_address = "digest@news.example.org"
list_id = "cli.news.example.org"
{mail}
"""


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return str(value)


def ok(result: subprocess.CompletedProcess) -> str:
    """The stdout of a command that must have succeeded (else fail showing its output)."""
    assert result.returncode == 0, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess, code: int = 1) -> str:
    """The one stderr line of a command that must have failed with ``code``, without traceback."""
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    return lines[0]


def run_cli_tty(config: Path, *args: str, timeout: float = 60) -> str:
    """``aggregator --config CONFIG ARGS...`` on a pseudo-terminal (what a person sees: rich's
    live progress bar and colours); everything it wrote, escape sequences and all."""
    main, child = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "aggregator", "--config", str(config), *args],
        cwd=config.parent,
        env={**ENV, "TERM": "xterm-256color"},
        stdin=child,
        stdout=child,
        stderr=child,
    )
    os.close(child)
    out = bytearray()
    with contextlib.suppress(OSError):  # EIO once the child has closed the terminal
        while chunk := os.read(main, 65536):
            out += chunk
    os.close(main)
    proc.wait(timeout=timeout)
    return out.decode(errors="replace")

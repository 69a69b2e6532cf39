"""What the operator names on the command line: unknown ids are an error, statuses any case."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.cli import run_cli


def test_unknown_runs_and_deliveries_are_one_error_line(make_config: Callable[..., Path]) -> None:
    config = make_config([])
    for args, named in (
        (("deliveries", "requeue", "12345"), "no delivery 12345"),
        (("deliveries", "requeue", "--run", "99"), "no run 99"),
        (("deliveries", "list", "--run", "99"), "no run 99"),
    ):
        done = run_cli(config, *args)
        assert done.returncode == 1, (args, done.stdout)
        [line] = done.stderr.splitlines()
        assert line.startswith("error: ") and named in line
    assert run_cli(config, "deliveries", "requeue").returncode == 0  # nothing named: nothing to do


def test_a_status_is_accepted_in_any_case(make_config: Callable[..., Path]) -> None:
    config = make_config([])
    assert run_cli(config, "subscribers", "add", "a@example.org").returncode == 0
    assert run_cli(config, "subscribers", "remove", "a@example.org").returncode == 0
    for spelled in ("unsubscribed", "UNSUBSCRIBED", "Unsubscribed"):
        done = run_cli(config, "subscribers", "list", "--status", spelled)
        assert done.returncode == 0, done.stderr
        assert "a@example.org" in done.stdout
    active = run_cli(config, "subscribers", "list", "--status", "active")
    assert active.returncode == 0 and "a@example.org" not in active.stdout

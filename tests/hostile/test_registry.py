"""The list of hostile tests kept elsewhere names tests that exist (a rename must not drop one)."""

from __future__ import annotations

import importlib

import pytest

from tests.hostile.conftest import ELSEWHERE


@pytest.mark.parametrize("module", sorted(ELSEWHERE))
def test_every_listed_attack_test_exists(module: str) -> None:
    loaded = importlib.import_module("tests." + module.removesuffix(".py").replace("/", "."))
    tests = {name for name in dir(loaded) if name.startswith("test_")}
    assert tests, module
    assert set(ELSEWHERE[module]) <= tests

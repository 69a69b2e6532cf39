"""The import graph runs down the pipeline only: no package imports one above it.

The order, bottom first: model, config and the shared helpers; mail; store; ingest; briefs;
digest; publish; the installation (app, metrics); web; service; cli. A module may import its own
package and anything below it. Found with ``ast`` over every module, so a new arrow that runs back
up fails here.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "aggregator"
LAYERS = [
    {"model", "config", "templating", "logs", "__init__", "__version__"},
    {"mail"},
    {"store"},
    {"ingest"},
    {"stories"},
    {"briefs"},
    {"digest"},
    {"publish"},
    {"app", "metrics"},
    {"web"},
    {"service"},
    {"cli", "__main__"},
]
RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def top(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def imports() -> list[tuple[str, str]]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        module = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.level:  # from .x import y
                base = module.split(".")[: -node.level]
                names = [".".join([*base, node.module] if node.module else base)]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [(module, name) for name in names if name.split(".")[0] == "aggregator"]
    return found


def test_every_package_has_a_layer() -> None:
    packages = {top(m) for m, _ in imports()} | {top(t) for _, t in imports()}
    assert packages <= RANK.keys(), packages - RANK.keys()


def test_imports_only_point_down() -> None:
    upward = [
        f"{source} imports {target}"
        for source, target in imports()
        if top(source) != top(target) and RANK[top(target)] > RANK[top(source)]
    ]
    assert upward == []

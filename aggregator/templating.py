"""One Jinja2 environment for every template under templates/."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

TEMPLATES_DIR = Path(__file__).parent / "templates"
"""The top-level ``templates/`` folder: a link to it in the source tree, a copy in the wheel."""

_UNESCAPED_SUFFIXES = (".txt.j2", ".txt", ".css")
"""Plain text, and CSS included into a ``<style>`` element (where HTML escaping would break it)."""


def _autoescape(name: str | None) -> bool:
    """Escape every template but plain-text and CSS ones: a new kind of template is escaped
    unless its name says otherwise."""
    return name is None or not name.endswith(_UNESCAPED_SUFFIXES)


@cache
def environment() -> jinja2.Environment:
    """The shared environment: strict undefined, autoescape by file type."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )

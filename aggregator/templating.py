"""One Jinja2 environment for every template under templates/."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import jinja2

TEMPLATES_DIR = Path(__file__).parent / "templates"
"""The top-level ``templates/`` folder: a link to it in the source tree, a copy in the wheel."""

_MARKUP_SUFFIXES = (".html.j2", ".xml.j2", ".atom.j2", ".rss.j2", ".html", ".xml")


def _autoescape(name: str | None) -> bool:
    """Escape HTML/XML templates; leave plain-text ones (``*.txt.j2``) alone."""
    return name is not None and name.endswith(_MARKUP_SUFFIXES)


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

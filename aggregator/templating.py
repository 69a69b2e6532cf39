"""One Jinja2 environment for every template under templates/, one per reader language.

The mail's own words (headings, links, the footer) are gettext messages: the templates mark them
with ``_()`` / ``ngettext()`` (``jinja2.ext.i18n``) and the catalogues under ``locale/`` (Babel's
``.po``, compiled to ``.mo``) translate them. A language without a catalogue reads the English
messages.
"""

from __future__ import annotations

import gettext
from functools import cache
from pathlib import Path

import jinja2
from babel import Locale, UnknownLocaleError
from babel.support import Translations

TEMPLATES_DIR = Path(__file__).parent / "templates"
"""The top-level ``templates/`` folder: a link to it in the source tree, a copy in the wheel."""
LOCALE_DIR = Path(__file__).parent / "locale"
"""``<language>/LC_MESSAGES/messages.mo``: the shipped message catalogues."""

_UNESCAPED_SUFFIXES = (".txt.j2", ".txt", ".css")
"""Plain text, and CSS included into a ``<style>`` element (where HTML escaping would break it)."""


def _autoescape(name: str | None) -> bool:
    """Escape every template but plain-text and CSS ones: a new kind of template is escaped
    unless its name says otherwise."""
    return name is None or not name.endswith(_UNESCAPED_SUFFIXES)


def locale_for(language: str) -> Locale | None:
    """Babel's locale for a BCP 47 tag ("fr", "pt-BR"), or None (no language, or unknown)."""
    if not language:
        return None
    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return None


@cache
def translations(language: str = "") -> gettext.NullTranslations:
    """The catalogue of ``language`` (its region's, else its primary language's), or none: the
    English messages as written."""
    locale = locale_for(language)
    if locale is None:
        return gettext.NullTranslations()
    wanted = [str(locale), locale.language]
    return Translations.load(str(LOCALE_DIR), wanted, domain="messages")


def has_catalogue(language: str) -> bool:
    """True when a shipped catalogue translates the mail's words into ``language``."""
    return isinstance(translations(language), Translations)


@cache
def environment(language: str = "") -> jinja2.Environment:
    """The shared environment for ``language`` (the mail's words from its catalogue): strict
    undefined, autoescape by file type."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env

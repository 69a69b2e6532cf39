"""One Jinja2 environment for every template under templates/, one per reader language, and
the operator's overrides.

The mail's own words (headings, links, the footer) are gettext messages: the templates mark them
with ``_()`` / ``ngettext()`` (``jinja2.ext.i18n``) and the catalogues under ``locale/`` (Babel's
``.po``, compiled to ``.mo``) translate them. A language without a catalogue reads the English
messages.
"""

from __future__ import annotations

import gettext
import traceback
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

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
    unless its name says otherwise (the same rule for a template the operator overrides)."""
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
def environment(overrides: Path | None = None, language: str = "") -> jinja2.Environment:
    """The shared environment for ``language`` (the mail's words from its catalogue): strict
    undefined, autoescape by file name. A file in ``overrides`` (``general.templates_dir``)
    replaces the shipped one of the same name."""
    loader: jinja2.BaseLoader = jinja2.FileSystemLoader(str(TEMPLATES_DIR))
    if overrides is not None:
        loader = jinja2.ChoiceLoader([jinja2.FileSystemLoader(str(overrides)), loader])
    env = jinja2.Environment(
        loader=loader,
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_gettext_translations(translations(language), newstyle=True)  # type: ignore[attr-defined]
    return env


class TemplateError(Exception):
    """A template could not be rendered; the message names its file and line, on one line."""


def render(
    name: str, context: Mapping[str, Any], overrides: Path | None = None, language: str = ""
) -> str:
    """Render the template ``name`` (the operator's in ``overrides``, else the shipped one) with
    the mail's words in ``language``; TemplateError when it fails (an operator's template may
    name a value that does not exist)."""
    try:
        return environment(overrides, language).get_template(name).render(context)
    except jinja2.TemplateError as exc:
        message = " ".join(str(exc.message or exc).split())
        raise TemplateError(f"template {_where(exc, name)}: {message}") from exc


def _where(exc: jinja2.TemplateError, name: str) -> str:
    """``/srv/my-templates/digest.html.j2 line 3``: the innermost template frame of ``exc``."""
    if isinstance(exc, jinja2.TemplateSyntaxError) and exc.lineno:
        return f"{exc.filename or exc.name or name} line {exc.lineno}"
    frames = [
        frame
        for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename.endswith((".j2", ".css", ".txt"))
    ]
    return f"{frames[-1].filename} line {frames[-1].lineno}" if frames else name


def source(name: str, overrides: Path | None = None) -> str:
    """The text of the template file ``name`` (the operator's, else the shipped one), unrendered."""
    env = environment(overrides)
    assert env.loader is not None
    return env.loader.get_source(env, name)[0]


_MAX_OVERRIDE_FILES = 500


def check_overrides(folder: Path) -> tuple[list[str], list[str]]:
    """The operator's templates in ``folder``: ``(problems, strays)``. A problem is a file that
    cannot be read or compiled (``digest.html.j2 line 3: unexpected '}'``); a stray is a file
    named like no shipped template, which nothing would ever use."""
    shipped = set(environment().list_templates())
    env = environment(folder)
    problems: list[str] = []
    strays: list[str] = []
    for count, path in enumerate(sorted(folder.rglob("*"))):
        if count >= _MAX_OVERRIDE_FILES:
            break
        name = path.relative_to(folder).as_posix()
        if not path.is_file() or any(part.startswith(".") for part in name.split("/")):
            continue
        if name not in shipped:
            strays.append(name)
            continue
        try:
            env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            problems.append(f"{name} line {exc.lineno}: {exc.message}")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{name}: cannot read ({exc})")
    return problems, strays

"""The message catalogues: every word a digest mail shows is in each shipped catalogue, and each
compiled ``.mo`` says what its ``.po`` says."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from aggregator.templating import LOCALE_DIR

REPO = Path(__file__).resolve().parents[1]
CATALOGUES = sorted(LOCALE_DIR.glob("*/LC_MESSAGES/messages.po"))
METHODS = [("aggregator/digest/**.py", "python"), ("templates/digest.*.j2", "jinja2")]
OPTIONS = {"templates/digest.*.j2": {"trim_blocks": "true", "lstrip_blocks": "true"}}


def _ids(catalog) -> dict[str, object]:  # noqa: ANN001 - a babel Catalog
    return {
        m.id if isinstance(m.id, str) else m.id[0]: m.string
        if isinstance(m.string, str)
        else tuple(m.string)
        for m in catalog
        if m.id
    }


def mail_messages() -> set[str]:
    """The messages the digest's templates and code mark, as pybabel extract finds them."""
    found = extract_from_dir(str(REPO), METHODS, OPTIONS)
    return {msg if isinstance(msg, str) else msg[0] for _file, _line, msg, _c, _ctx in found}


def test_french_is_shipped() -> None:
    assert [p.parent.parent.name for p in CATALOGUES] == ["fr"]


@pytest.mark.parametrize("po", CATALOGUES, ids=lambda p: p.parent.parent.name)
def test_each_catalogue_translates_every_message_and_is_compiled(po: Path) -> None:
    with po.open("rb") as f:
        catalog = read_po(f)
    translated = _ids(catalog)
    wanted = mail_messages()
    assert len(wanted) > 20
    missing = sorted(m for m in wanted if not translated.get(m))
    assert not missing, f"{po}: not translated: {missing}"
    with po.with_suffix(".mo").open("rb") as f:
        compiled = _ids(read_mo(f))
    assert compiled == {k: v for k, v in translated.items() if k in compiled}
    assert set(translated) <= set(compiled), "run: pybabel compile -d aggregator/locale"

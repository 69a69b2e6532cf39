"""International addresses: an IDN domain is kept in its ASCII (IDNA) form,
an address only SMTPUTF8 could carry is refused at every door: the form, ``subscribers add``
and ``subscribers import``."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import insert, select

from aggregator.store.db import Database
from aggregator.store.models import Subscriber
from aggregator.store.subscribers import SubscriberError, normalise_email
from tests.cli import run_cli
from tests.hostile.old_schema import SUBSCRIBER, at_revision
from tests.web.conftest import Site
from tests.web.test_pages import subscribe

IDN = "x9@bücher.example"
IDN_ASCII = "x9@xn--bcher-kva.example"
UTF8_LOCAL = "jürgen@example.org"


def _emails(db: Database) -> list[str]:
    with db.session() as session:
        return list(session.scalars(select(Subscriber.email).order_by(Subscriber.id)))


def test_an_idn_domain_is_stored_in_ascii_and_a_utf8_local_part_refused() -> None:
    assert normalise_email(IDN) == IDN_ASCII
    assert normalise_email("X9@BÜCHER.example") == IDN_ASCII
    with pytest.raises(SubscriberError, match="before the @-sign"):
        normalise_email(UTF8_LOCAL)


def test_the_form_signs_up_an_idn_address_in_ascii_and_mails_a_valid_to(site: Site) -> None:
    client = site.client()
    assert subscribe(client, IDN) == 200
    assert subscribe(client, UTF8_LOCAL) == 400
    assert _emails(site.app.db) == [IDN_ASCII]
    (mail,) = site.wait_for_mails(1)
    assert mail["To"] == IDN_ASCII
    assert mail.as_bytes().isascii()


def test_cli_add_import_and_remove_use_the_ascii_form(
    make_config: Callable[..., Path], open_db: Callable[[Path], Database]
) -> None:
    config = make_config()
    added = run_cli(config, "subscribers", "add", IDN)
    assert added.returncode == 0, added.stderr
    refused = run_cli(config, "subscribers", "add", UTF8_LOCAL)
    assert refused.returncode == 1 and "before the @-sign" in refused.stderr
    csv_file = config.parent / "people.csv"
    csv_file.write_text(f"email\n{UTF8_LOCAL}\ny@Bücher.example\n", encoding="utf-8")
    imported = run_cli(config, "subscribers", "import", str(csv_file))
    assert "people.csv: line 2:" in imported.stderr
    assert "1 added" in imported.stdout
    assert _emails(open_db(config)) == [IDN_ASCII, "y@xn--bcher-kva.example"]
    removed = run_cli(config, "subscribers", "remove", "--forget", "Y@bücher.example")
    assert removed.returncode == 0, removed.stderr
    assert _emails(open_db(config)) == [IDN_ASCII]


def test_upgrading_puts_stored_idn_addresses_in_ascii_and_suspends_the_unsendable(
    database_url: str,
) -> None:
    stored = [IDN, UTF8_LOCAL, "y@bücher.example", "y@xn--bcher-kva.example", "a@example.org"]
    with at_revision(database_url, "0004") as connection:
        for email in stored:
            connection.execute(insert(Subscriber.__table__).values(email=email, **SUBSCRIBER))
    db = Database(database_url)
    with db.session() as session:
        found = {s.email: (s.status, s.status_reason) for s in session.scalars(select(Subscriber))}
    db.dispose()
    assert found[IDN_ASCII] == ("active", None)
    assert found[UTF8_LOCAL][0] == "suspended" and "before the @-sign" in found[UTF8_LOCAL][1]
    assert found["y@bücher.example"] == ("suspended", "a twin of y@xn--bcher-kva.example")
    assert found["y@xn--bcher-kva.example"] == found["a@example.org"] == ("active", None)

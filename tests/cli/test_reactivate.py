"""``subscribers reactivate``: the operator un-suspends a subscriber a relay fault bounced."""

from __future__ import annotations

from sqlalchemy import select

from aggregator.store.models import Subscriber
from aggregator.store.subscribers import record_hard_bounce
from tests.cli import ok, one_line_error, run_cli


def _suspend(db, email: str) -> None:  # noqa: ANN001
    with db.session() as session:
        row = session.scalar(select(Subscriber).where(Subscriber.email == email))
        for _ in range(3):
            record_hard_bounce(row, "550 5.7.1 Sender address rejected", threshold=3)
        assert row.status == "suspended"


def _row(db, email: str) -> Subscriber:  # noqa: ANN001
    with db.session() as session:
        row = session.scalar(select(Subscriber).where(Subscriber.email == email))
        session.expunge(row)
        return row


def test_reactivate_by_address_or_id_resets_the_bounce_count(make_config, open_db) -> None:
    config = make_config()
    ok(run_cli(config, "subscribers", "add", "a@example.com"))
    ok(run_cli(config, "subscribers", "add", "b@example.com"))
    db = open_db(config)
    _suspend(db, "a@example.com")
    _suspend(db, "b@example.com")

    assert "reactivated a@example.com" in ok(
        run_cli(config, "subscribers", "reactivate", "A@Example.com")
    )
    b_id = _row(db, "b@example.com").id
    assert "reactivated b@example.com" in ok(
        run_cli(config, "subscribers", "reactivate", str(b_id))
    )
    for email in ("a@example.com", "b@example.com"):
        row = _row(db, email)
        assert (row.status, row.hard_bounces, row.status_reason) == ("active", 0, None)


def test_reactivate_refuses_what_is_not_suspended(make_config, open_db) -> None:
    config = make_config()
    ok(run_cli(config, "subscribers", "add", "a@example.com"))
    ok(run_cli(config, "subscribers", "remove", "a@example.com"))
    line = one_line_error(run_cli(config, "subscribers", "reactivate", "a@example.com"))
    assert "is unsubscribed, not suspended" in line
    assert _row(open_db(config), "a@example.com").status == "unsubscribed"
    for ref in ("nobody@example.com", "99", "²"):
        assert "no subscriber" in one_line_error(run_cli(config, "subscribers", "reactivate", ref))

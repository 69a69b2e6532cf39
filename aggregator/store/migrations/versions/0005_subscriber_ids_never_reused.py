"""Subscriber ids are never reused: SQLite's subscribers table gets AUTOINCREMENT; addresses
with an internationalised domain are stored in their ASCII (IDNA) form.

Links in mail sign the subscriber id and never expire. Without AUTOINCREMENT, SQLite hands the
id of a deleted newest row (``subscribers remove --forget``) to the next subscriber, whose page
the forgotten person's old link would then open. PostgreSQL sequences never go back, so only
SQLite changes.

SQLite cannot add AUTOINCREMENT in place, so the table is rebuilt, inside the migration's
transaction and with foreign keys on (which cannot be turned off there). That rules out a batch
rebuild: its ``DROP TABLE subscribers`` would cascade into every delivery, and renaming the old
table aside would carry the deliveries' foreign key along. So the one child, ``deliveries``, is
rebuilt first against the new table, and only then is the old parent dropped, with nothing
pointing at it. A rename of a parent carries its children's references along, which here makes
the new ``deliveries`` point at ``subscribers`` in the end.

Addresses stored before the store kept the ASCII form could not be mailed at all (every digest
failed as a hard bounce): ``x@bücher.example`` becomes ``x@xn--bcher-kva.example``, and one
that only SMTPUTF8 could carry (or whose ASCII form another row already has) is suspended with
the reason.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 11:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _copy(source: str, target: str, columns: list[str]) -> None:
    names = ", ".join(columns)
    op.execute(f"INSERT INTO {target} ({names}) SELECT {names} FROM {source}")


def _rebuild(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    subscribers = op.create_table(
        "_subscribers_new",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("digests", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("sources", sa.JSON(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("hard_bounces", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("confirmed_at", sa.DateTime(), nullable=True),
        sa.Column("confirmation_sent_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("email"),
        sqlite_autoincrement=autoincrement,
    )
    deliveries = op.create_table(
        "_deliveries_new",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("since", sa.DateTime(), nullable=True),
        sa.Column("message_id", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("edition_id", sa.Integer(), nullable=True),
        sa.Column("claimed_by", sa.String(40), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["run_id"], ["digest_runs.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["subscriber_id"], ["_subscribers_new.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(
            ["edition_id"], ["editions.id"], name="fk_deliveries_edition", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "subscriber_id", name="uq_delivery_run_subscriber"),
    )
    _copy("subscribers", "_subscribers_new", [c.name for c in subscribers.columns])
    _copy("deliveries", "_deliveries_new", [c.name for c in deliveries.columns])
    op.drop_table("deliveries")  # a child: dropping it cascades nowhere
    op.drop_table("subscribers")  # nothing refers to it any more
    op.rename_table("_subscribers_new", "subscribers")  # _deliveries_new follows the rename
    op.rename_table("_deliveries_new", "deliveries")
    op.create_index("ix_deliveries_state_next", "deliveries", ["state", "next_attempt_at"])


def _ascii_addresses() -> None:
    subscribers = sa.table(
        "subscribers",
        sa.column("id", sa.Integer()),
        sa.column("email", sa.String()),
        sa.column("status", sa.String()),
        sa.column("status_reason", sa.Text()),
    )
    bind = op.get_bind()
    rows = bind.execute(sa.select(subscribers.c.id, subscribers.c.email)).all()
    taken = {email for _id, email in rows}
    for row_id, email in rows:
        if email.isascii():
            continue
        try:
            address = validate_email(email, check_deliverability=False, allow_smtputf8=False)
        except EmailNotValidError as exc:
            change = {"status": "suspended", "status_reason": f"cannot be mailed: {exc}"}
        else:
            ascii_email = str(address.ascii_email).lower()
            if ascii_email in taken:
                change = {"status": "suspended", "status_reason": f"a twin of {ascii_email}"}
            else:
                change, taken = {"email": ascii_email}, taken | {ascii_email}
        bind.execute(subscribers.update().where(subscribers.c.id == row_id).values(**change))


def upgrade() -> None:
    _rebuild(autoincrement=True)
    _ascii_addresses()


def downgrade() -> None:
    _rebuild(autoincrement=False)

"""Work with an owner: claim columns (leases) on sources, items and deliveries; shared state
that every worker reads from the database (signing key, rate limits, pending WebSub pings); the
source feed's own updated date; whether an item's date came from its feed.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLAIMED = ("sources", "items", "deliveries")


def upgrade() -> None:
    for table in _CLAIMED:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("claimed_by", sa.String(40), nullable=True))
            batch.add_column(sa.Column("claimed_until", sa.DateTime(), nullable=True))
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("feed_updated_at", sa.DateTime(), nullable=True))
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("dated", sa.Boolean(), nullable=False, server_default=sa.true()))
    op.create_table(
        "app_state",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text(), nullable=False),
    )
    op.create_table(
        "rate_hits",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_rate_hits_key_at", "rate_hits", ["key", "at"])
    op.create_table(
        "websub_pings",
        sa.Column("topic", sa.Text(), primary_key=True),
        sa.Column("hub_url", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("websub_pings")
    op.drop_index("ix_rate_hits_key_at", table_name="rate_hits")
    op.drop_table("rate_hits")
    op.drop_table("app_state")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("dated")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("feed_updated_at")
    for table in _CLAIMED:
        with op.batch_alter_table(table) as batch:
            batch.drop_column("claimed_until")
            batch.drop_column("claimed_by")

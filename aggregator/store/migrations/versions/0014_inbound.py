"""Push and mail in: a source's WebSub topic and push lease, its subscriptions to hubs; a
newsletter source's address and the mails it received.

Revision ID: 0014
Revises: 0007
Create Date: 2026-12-07 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("self_url", sa.Text(), nullable=True))
        batch.add_column(sa.Column("push_until", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("newsletter_address", sa.String(320), nullable=True))
        batch.add_column(
            sa.Column("dkim_domains", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )
        batch.create_unique_constraint("uq_sources_newsletter_address", ["newsletter_address"])
    op.create_table(
        "push_subscriptions",
        sa.Column(
            "source_id",
            sa.Integer(),
            sa.ForeignKey("sources.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("callback_token", sa.String(64), nullable=False, unique=True),
        sa.Column("hub_url", sa.Text(), nullable=False),
        sa.Column("topic_url", sa.Text(), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("verified_at", sa.DateTime(), nullable=True),
        sa.Column("requested_at", sa.DateTime(), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_push_at", sa.DateTime(), nullable=True),
        sa.Column("pushes", sa.Integer(), nullable=False),
    )
    op.create_table(
        "inbound_mails",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "source_id",
            sa.Integer(),
            sa.ForeignKey("sources.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("mail_from", sa.Text(), nullable=False),
        sa.Column("from_header", sa.Text(), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("message_id", sa.Text(), nullable=False),
        sa.Column("dkim", sa.String(16), nullable=False),
        sa.Column("dkim_domain", sa.Text(), nullable=True),
        sa.Column(
            "item_id", sa.Integer(), sa.ForeignKey("items.id", ondelete="SET NULL"), nullable=True
        ),
    )
    op.create_index("ix_inbound_mails_source", "inbound_mails", ["source_id", "received_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_mails_source", table_name="inbound_mails")
    op.drop_table("inbound_mails")
    op.drop_table("push_subscriptions")
    with op.batch_alter_table("sources") as batch:
        batch.drop_constraint("uq_sources_newsletter_address", type_="unique")
        batch.drop_column("dkim_domains")
        batch.drop_column("newsletter_address")
        batch.drop_column("push_until")
        batch.drop_column("self_url")

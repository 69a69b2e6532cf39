"""Digest editions (one rendered edition per group of subscribers, spliced per mail at send
time), and who disabled a source.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 18:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "editions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("key_hash", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("item_ids", sa.JSON(), nullable=False),
        sa.Column("html_pieces", sa.JSON(), nullable=False),
        sa.Column("text_pieces", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["run_id"], ["digest_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "key_hash", name="uq_edition_run_key"),
    )
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("disabled_by", sa.String(length=16), nullable=True))
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("edition_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_deliveries_edition", "editions", ["edition_id"], ["id"], ondelete="SET NULL"
        )
        # Deliveries still waiting with a stored message are rendered again from their edition.
        batch.execute("UPDATE deliveries SET state = 'pending' WHERE state = 'rendered'")
        batch.drop_column("message")
        batch.drop_column("subject")
        batch.drop_column("item_ids")


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("item_ids", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("subject", sa.Text(), nullable=True))
        batch.add_column(sa.Column("message", sa.LargeBinary(), nullable=True))
        batch.execute("UPDATE deliveries SET state = 'pending' WHERE state = 'rendered'")
        batch.drop_constraint("fk_deliveries_edition", type_="foreignkey")
        batch.drop_column("edition_id")
    op.drop_table("editions")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("disabled_by")

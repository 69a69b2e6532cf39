"""Story grouping: each item's own link key and its grouping signature.

``link_key`` is the key an item opens a story with (its canonical link's hash, as ``story_key``
was until now); ``story_signature`` is what grouping compares (made by the parser, or by
grouping when NULL); ``story_pending`` says the item awaits grouping (every stored item does
after this upgrade, so the next grouping run groups them).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("items") as batch:
        batch.add_column(sa.Column("link_key", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("story_signature", sa.LargeBinary(), nullable=True))
        batch.add_column(
            sa.Column("story_pending", sa.Boolean(), nullable=False, server_default=sa.true())
        )
    op.execute("UPDATE items SET link_key = story_key")
    op.create_index(
        "ix_items_ungrouped",
        "items",
        ["published_at", "id"],
        sqlite_where=sa.text("story_pending = 1"),
        postgresql_where=sa.text("story_pending"),
    )


def downgrade() -> None:
    op.drop_index("ix_items_ungrouped", table_name="items")
    with op.batch_alter_table("items") as batch:
        batch.drop_column("story_pending")
        batch.drop_column("story_signature")
        batch.drop_column("link_key")

"""A subscriber's digest language (empty: the sources' own), and each brief's translations.

The column is added in place (``ALTER TABLE ... ADD COLUMN``), never by a batch rebuild: on
SQLite a rebuild would drop the table's AUTOINCREMENT (migration 0005) and cascade its
``DROP TABLE`` into every delivery.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 11:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "subscribers",
        sa.Column("language", sa.String(16), nullable=False, server_default=sa.text("''")),
    )
    op.create_table(
        "brief_translations",
        sa.Column(
            "item_id",
            sa.Integer(),
            sa.ForeignKey("items.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("language", sa.String(16), primary_key=True),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("translator", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("brief_translations")
    op.drop_column("subscribers", "language")

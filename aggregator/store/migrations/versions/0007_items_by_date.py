"""Indexes on items by date: per source (a poll reads a source's ten newest dates to schedule its
next check) and overall (the published feed and the brief step take the newest items first).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30 14:20:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_items_source_published", "items", ["source_id", "published_at"])
    op.create_index("ix_items_published", "items", ["published_at"])


def downgrade() -> None:
    op.drop_index("ix_items_published", table_name="items")
    op.drop_index("ix_items_source_published", table_name="items")

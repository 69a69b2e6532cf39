"""A source's publisher name, as the operator sets it (empty: named from its site's domain).

Revision ID: 0009
Revises: 0007
Create Date: 2026-12-07 09:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("sources", sa.Column("publisher", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    op.drop_column("sources", "publisher")

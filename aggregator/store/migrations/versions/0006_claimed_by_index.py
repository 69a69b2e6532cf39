"""An index on ``claimed_by`` of every claimed table (sources, items, deliveries): renewing a
worker's leases and giving its claims back look rows up by their owner, which without an index
reads the whole table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30 14:30:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CLAIMED = ("sources", "items", "deliveries")


def upgrade() -> None:
    for table in _CLAIMED:
        op.create_index(f"ix_{table}_claimed_by", table, ["claimed_by"])


def downgrade() -> None:
    for table in _CLAIMED:
        op.drop_index(f"ix_{table}_claimed_by", table_name=table)

"""Each inbound mail's SPF result, as the trusted relay in front recorded it.

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-07 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_mails") as batch:
        batch.add_column(
            sa.Column("spf", sa.String(16), nullable=False, server_default=sa.text("'none'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("inbound_mails") as batch:
        batch.drop_column("spf")

"""A source's own word on the LLM back end (true or false, or NULL to follow [briefs.llm] tags),
and the LLM that answered for a brief's content without a usable brief (not asked again).

Revision ID: 0013
Revises: 0007
Create Date: 2026-12-07 09:25:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources") as batch:
        batch.add_column(sa.Column("llm", sa.Boolean(), nullable=True))
    with op.batch_alter_table("briefs") as batch:
        batch.add_column(sa.Column("llm_tried", sa.String(100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("briefs") as batch:
        batch.drop_column("llm_tried")
    with op.batch_alter_table("sources") as batch:
        batch.drop_column("llm")

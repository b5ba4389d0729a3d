"""unanswered questions: when an admin marked one as handled

Revision ID: 0003_unanswered_resolved_at
Revises: 0002
Create Date: 2026-12-01 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_unanswered_resolved_at"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("unanswered_questions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("unanswered_questions", schema=None) as batch_op:
        batch_op.drop_column("resolved_at")

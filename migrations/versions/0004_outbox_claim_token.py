"""outbox claim token (a late writer cannot record over another process's re-claim) and alerted_at (admins
were told about this row: dead letter, failed or stuck tip)

Revision ID: 0004_delivery
Revises: 0003_unanswered_resolved_at
Create Date: 2026-12-01 08:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0004_delivery'
down_revision: str | None = '0003_unanswered_resolved_at'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claim_token', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('alerted_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('alerted_at')
        batch_op.drop_column('claim_token')

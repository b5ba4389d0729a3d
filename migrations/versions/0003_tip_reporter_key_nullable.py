"""tip reporter pseudonym nullable: the retention purge wipes it

Revision ID: 0003anon
Revises: 0002
Create Date: 2026-12-01 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003anon'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.alter_column('reporter_key', existing_type=sa.String(length=64), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE tips SET reporter_key = '' WHERE reporter_key IS NULL")
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.alter_column('reporter_key', existing_type=sa.String(length=64), nullable=False)

"""a member's yes/no answers may be unknown (blank), never stored as "no"

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01 03:00:00
"""
from alembic import op
import sqlalchemy as sa

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

ANSWERS = ('disability', 'chronic_illness', 'health_insurance')


def upgrade() -> None:
    with op.batch_alter_table('persons', schema=None) as batch_op:
        for column in ANSWERS:
            batch_op.alter_column(column, existing_type=sa.Boolean(), nullable=True)


def downgrade() -> None:
    for column in ANSWERS:
        op.execute(sa.text(f"UPDATE persons SET {column} = false WHERE {column} IS NULL"))
    with op.batch_alter_table('persons', schema=None) as batch_op:
        for column in ANSWERS:
            batch_op.alter_column(column, existing_type=sa.Boolean(), nullable=False)

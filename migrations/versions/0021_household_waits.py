"""staff due dates that pause while a case waits on the household

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-01 05:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

_DATES = ('paused_at', 'household_due_at', 'household_grace_until', 'household_reminded_at', 'household_missed_at')


def upgrade() -> None:
    with op.batch_alter_table('task_records', schema=None) as batch_op:
        batch_op.add_column(sa.Column('waiting_on', sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column('wait_reason', sa.Text(), nullable=True))
        # Existing tasks have never been paused.
        batch_op.add_column(sa.Column('paused_seconds', sa.Integer(), nullable=False, server_default='0'))
        for name in _DATES:
            batch_op.add_column(sa.Column(name, engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_task_records_waiting', ['waiting_on', 'state', 'household_due_at'], unique=False)
    with op.batch_alter_table('task_records', schema=None) as batch_op:
        batch_op.alter_column('paused_seconds', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('task_records', schema=None) as batch_op:
        batch_op.drop_index('ix_task_records_waiting')
        for name in reversed(_DATES):
            batch_op.drop_column(name)
        batch_op.drop_column('paused_seconds')
        batch_op.drop_column('wait_reason')
        batch_op.drop_column('waiting_on')

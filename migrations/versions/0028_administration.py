"""administration of directorates and staff accounts

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01 06:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('users', schema=None) as batch_op:
        # Accounts made before this revision have no known creation time.
        batch_op.add_column(sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deactivated_at', engine.db.UTCDateTime(timezone=True), nullable=True))
        # Existing accounts chose their own password.
        batch_op.add_column(sa.Column('must_change_password', sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.alter_column('must_change_password', server_default=None)
    op.create_index('ix_audit_events_action_at', 'audit_events', ['action', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_audit_events_action_at', table_name='audit_events')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('must_change_password')
        batch_op.drop_column('deactivated_at')
        batch_op.drop_column('created_at')

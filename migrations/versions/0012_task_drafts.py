"""drafts of task forms saved on the server as staff type

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 03:10:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from engine.db import UTCDateTime

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'task_drafts',
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('values', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=False),
        sa.Column('updated_at', UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['task_id'], ['task_records.id'], name=op.f('fk_task_drafts_task_id_task_records'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_task_drafts_user_id_users'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('task_id', 'user_id', name=op.f('pk_task_drafts')),
    )
    with op.batch_alter_table('task_drafts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_task_drafts_user_id'), ['user_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_drafts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_task_drafts_user_id'))
    op.drop_table('task_drafts')

"""due BPMN timer events that a worker fires

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 05:00:00
"""
import sqlalchemy as sa
from alembic import op

from engine.db import UTCDateTime

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'timers',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('instance_id', sa.Integer(), nullable=False),
        sa.Column('business_key', sa.String(length=64), nullable=False),
        sa.Column('spec_id', sa.String(length=100), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=True),
        sa.Column('task_id', sa.String(length=36), nullable=False),
        sa.Column('due_at', UTCDateTime(), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('fired_at', UTCDateTime(), nullable=True),
        sa.Column('cancelled_at', UTCDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('retry_at', UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id'],
                                name=op.f('fk_timers_instance_id_process_instances')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_timers')),
    )
    op.create_index('ix_timers_due', 'timers', ['due_at'], unique=False,
                    sqlite_where=sa.text("state = 'pending'"), postgresql_where=sa.text("state = 'pending'"))
    op.create_index('ix_timers_instance', 'timers', ['instance_id', 'state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_timers_instance', table_name='timers')
    op.drop_index('ix_timers_due', table_name='timers')
    op.drop_table('timers')

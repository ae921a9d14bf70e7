"""the notification outbox

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-01 05:00:00
"""
import sqlalchemy as sa
from alembic import op

from engine.db import UTCDateTime

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'outbox_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel', sa.String(length=8), nullable=False),
        sa.Column('recipient', sa.String(length=254), nullable=False),
        sa.Column('citizen_id', sa.Integer(), nullable=True),
        sa.Column('business_key', sa.String(length=40), nullable=True),
        sa.Column('directorate_id', sa.Integer(), nullable=True),
        sa.Column('template', sa.String(length=64), nullable=False),
        sa.Column('lang', sa.String(length=2), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('body_masked', sa.Text(), nullable=False),
        sa.Column('created_at', UTCDateTime(), nullable=False),
        sa.Column('send_after', UTCDateTime(), nullable=False),
        sa.Column('sent_at', UTCDateTime(), nullable=True),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(['directorate_id'], ['directorates.id'],
                                name=op.f('fk_outbox_messages_directorate_id_directorates')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
    )
    op.create_index('ix_outbox_messages_due', 'outbox_messages', ['state', 'send_after'])
    op.create_index('ix_outbox_messages_directorate_recent', 'outbox_messages', ['directorate_id', 'id'])
    op.create_index(op.f('ix_outbox_messages_citizen_id'), 'outbox_messages', ['citizen_id'])
    op.create_index(op.f('ix_outbox_messages_business_key'), 'outbox_messages', ['business_key'])


def downgrade() -> None:
    op.drop_table('outbox_messages')

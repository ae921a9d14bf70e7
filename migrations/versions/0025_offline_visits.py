"""visits completed offline: submissions and conflicts

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-01 05:30:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'visit_submissions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('visit_id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('idempotency_key', sa.String(length=200), nullable=False),
        sa.Column('request_hash', sa.String(length=64), nullable=False),
        sa.Column('base_version', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('payload', engine.db.JSONType, nullable=False),
        sa.Column('files', engine.db.JSONType, nullable=False),
        sa.Column('received_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('state', sa.String(length=16), nullable=False),
        sa.Column('differences', engine.db.JSONType, nullable=False),
        sa.Column('answer_status', sa.Integer(), nullable=True),
        sa.Column('answer', engine.db.JSONType, nullable=True),
        sa.Column('resolution', sa.String(length=16), nullable=True),
        sa.Column('resolved_by_id', sa.Integer(), nullable=True),
        sa.Column('resolved_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['resolved_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.ForeignKeyConstraint(['visit_id'], ['campaign_visits.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('user_id', 'idempotency_key'),
    )
    with op.batch_alter_table('visit_submissions', schema=None) as batch_op:
        batch_op.create_index('ix_visit_submissions_state_visit', ['state', 'visit_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_visit_submissions_visit_id'), ['visit_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('visit_submissions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_visit_submissions_visit_id'))
        batch_op.drop_index('ix_visit_submissions_state_visit')
    op.drop_table('visit_submissions')

"""online applications from the citizen portal

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-01 05:00:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql')


def upgrade() -> None:
    op.create_table('online_applications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('consent', sa.Boolean(), nullable=False),
    sa.Column('prefill', JSON, nullable=False),
    sa.Column('values', JSON, nullable=False),
    sa.Column('case_id', sa.Integer(), nullable=True),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('submitted_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['case_id'], ['cases.id'], name=op.f('fk_online_applications_case_id_cases')),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_online_applications_citizen_id_citizens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_online_applications'))
    )
    with op.batch_alter_table('online_applications', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_online_applications_citizen_id'), ['citizen_id'], unique=False)
        batch_op.create_index('uq_online_applications_open', ['citizen_id'], unique=True,
                              sqlite_where=sa.text("status != 'submitted'"),
                              postgresql_where=sa.text("status != 'submitted'"))


def downgrade() -> None:
    with op.batch_alter_table('online_applications', schema=None) as batch_op:
        batch_op.drop_index('uq_online_applications_open')
        batch_op.drop_index(batch_op.f('ix_online_applications_citizen_id'))
    op.drop_table('online_applications')

"""complaints (grievance redress)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-01 05:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'complaints',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=20), nullable=False),
        sa.Column('access_code_hash', sa.String(length=200), nullable=True),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('citizen_id', sa.Integer(), nullable=True),
        sa.Column('filed_by_id', sa.Integer(), nullable=True),
        sa.Column('directorate_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('about_user_id', sa.Integer(), nullable=True),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('contact_mobile', sa.String(length=20), nullable=True),
        sa.Column('lang', sa.String(length=2), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('outcome', sa.String(length=20), nullable=True),
        sa.Column('acknowledgement_text', sa.Text(), nullable=True),
        sa.Column('resolution_text', sa.Text(), nullable=True),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('acknowledged_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('resolved_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['about_user_id'], ['users.id']),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id']),
        sa.ForeignKeyConstraint(['directorate_id'], ['directorates.id']),
        sa.ForeignKeyConstraint(['filed_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('reference'),
    )
    op.create_index('ix_complaints_directorate_created', 'complaints', ['directorate_id', 'created_at'], unique=False)
    op.create_index(op.f('ix_complaints_citizen_id'), 'complaints', ['citizen_id'], unique=False)
    op.create_index(op.f('ix_complaints_case_id'), 'complaints', ['case_id'], unique=False)
    op.create_index(op.f('ix_complaints_about_user_id'), 'complaints', ['about_user_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_complaints_about_user_id'), table_name='complaints')
    op.drop_index(op.f('ix_complaints_case_id'), table_name='complaints')
    op.drop_index(op.f('ix_complaints_citizen_id'), table_name='complaints')
    op.drop_index('ix_complaints_directorate_created', table_name='complaints')
    op.drop_table('complaints')

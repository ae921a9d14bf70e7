"""data-update campaigns and their household visits

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-01 05:30:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'campaigns',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=150), nullable=False),
        sa.Column('starts_on', sa.Date(), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('include', engine.db.JSONType, nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_table(
        'campaign_directorates',
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('directorate_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id']),
        sa.ForeignKeyConstraint(['directorate_id'], ['directorates.id']),
        sa.PrimaryKeyConstraint('campaign_id', 'directorate_id'),
    )
    op.create_table(
        'campaign_visits',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('campaign_id', sa.Integer(), nullable=False),
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('directorate_id', sa.Integer(), nullable=False),
        sa.Column('locality', sa.String(length=120), nullable=False),
        sa.Column('case_manager_id', sa.Integer(), nullable=True),
        sa.Column('planned_on', sa.Date(), nullable=True),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=True),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('category_before', sa.String(length=20), nullable=True),
        sa.Column('category_after', sa.String(length=20), nullable=True),
        sa.Column('visited_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('completed_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('lock_version', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id']),
        sa.ForeignKeyConstraint(['case_manager_id'], ['users.id']),
        sa.ForeignKeyConstraint(['directorate_id'], ['directorates.id']),
        sa.ForeignKeyConstraint(['household_id'], ['households.id']),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_campaign_visits_campaign_directorate_day', 'campaign_visits',
                    ['campaign_id', 'directorate_id', 'planned_on'], unique=False)
    op.create_index('ix_campaign_visits_case_manager_day', 'campaign_visits',
                    ['case_manager_id', 'planned_on'], unique=False)
    op.create_index(op.f('ix_campaign_visits_household_id'), 'campaign_visits', ['household_id'], unique=False)


def downgrade() -> None:
    op.drop_index(op.f('ix_campaign_visits_household_id'), table_name='campaign_visits')
    op.drop_index('ix_campaign_visits_case_manager_day', table_name='campaign_visits')
    op.drop_index('ix_campaign_visits_campaign_directorate_day', table_name='campaign_visits')
    op.drop_table('campaign_visits')
    op.drop_table('campaign_directorates')
    op.drop_table('campaigns')

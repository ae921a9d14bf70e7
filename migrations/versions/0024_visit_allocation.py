"""case managers' visit quotas, days off and the day's allocation

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-01 05:30:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'staff_visit_quotas',
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('visits_per_day', sa.Integer(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_visit_quotas_user_id_users')),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'],
                                name=op.f('fk_staff_visit_quotas_updated_by_id_users')),
        sa.PrimaryKeyConstraint('user_id', name=op.f('pk_staff_visit_quotas')),
    )
    op.create_table(
        'staff_days_off',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('day', sa.Date(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_staff_days_off_user_id_users')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_staff_days_off_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_days_off')),
    )
    op.create_index('uq_staff_days_off_user_day', 'staff_days_off', ['user_id', 'day'], unique=True)


def downgrade() -> None:
    op.drop_index('uq_staff_days_off_user_day', table_name='staff_days_off')
    op.drop_table('staff_days_off')
    op.drop_table('staff_visit_quotas')

"""partner organisations, their users and referrals

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-01 06:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'partner_organisations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=16), nullable=False),
        sa.Column('name_ar', sa.String(length=200), nullable=False),
        sa.Column('name_en', sa.String(length=200), nullable=False),
        sa.Column('kind', sa.String(length=16), nullable=False),
        sa.Column('active', sa.Boolean(), nullable=False),
        sa.Column('services', engine.db.JSONType, nullable=False),
        sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('partner_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_users_partner_id_partner_organisations', 'partner_organisations',
                                    ['partner_id'], ['id'])
    op.create_table(
        'referrals',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('reference', sa.String(length=32), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=False),
        sa.Column('service', sa.String(length=32), nullable=False),
        sa.Column('intervention', sa.Text(), nullable=False),
        sa.Column('note', sa.Text(), nullable=True),
        sa.Column('plan_due_on', sa.Date(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('acknowledge_due_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('deliver_due_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('acknowledged_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('delivered_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('decline_reason', sa.Text(), nullable=True),
        sa.Column('service_delivered', sa.Text(), nullable=True),
        sa.Column('outcome', sa.String(length=32), nullable=True),
        sa.Column('previous_id', sa.Integer(), nullable=True),
        sa.Column('sent_by_id', sa.Integer(), nullable=True),
        sa.Column('instance_id', sa.Integer(), nullable=True),
        sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['partner_id'], ['partner_organisations.id']),
        sa.ForeignKeyConstraint(['previous_id'], ['referrals.id']),
        sa.ForeignKeyConstraint(['sent_by_id'], ['users.id']),
        sa.ForeignKeyConstraint(['instance_id'], ['process_instances.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('reference'),
    )
    op.create_index(op.f('ix_referrals_case_id'), 'referrals', ['case_id'], unique=False)
    op.create_index('ix_referrals_partner_created', 'referrals', ['partner_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_referrals_partner_created', table_name='referrals')
    op.drop_index(op.f('ix_referrals_case_id'), table_name='referrals')
    op.drop_table('referrals')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_constraint('fk_users_partner_id_partner_organisations', type_='foreignkey')
        batch_op.drop_column('partner_id')
    op.drop_table('partner_organisations')

"""citizen accounts, their sessions and one-time codes

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-01 05:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('citizens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('national_id', sa.String(length=9), nullable=False),
    sa.Column('mobile', sa.String(length=10), nullable=False),
    sa.Column('password_hash', sa.String(length=200), nullable=False),
    sa.Column('mobile_confirmed_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('household_id', sa.Integer(), nullable=True),
    sa.Column('lang', sa.String(length=2), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('session_generation', sa.Integer(), nullable=False),
    sa.Column('is_demo', sa.Boolean(), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['household_id'], ['households.id'], name=op.f('fk_citizens_household_id_households')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citizens')),
    sa.UniqueConstraint('national_id', name=op.f('uq_citizens_national_id'))
    )
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citizens_household_id'), ['household_id'], unique=False)

    op.create_table('citizen_sessions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_citizen_sessions_citizen_id_citizens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_citizen_sessions')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_citizen_sessions_token_hash'))
    )
    with op.batch_alter_table('citizen_sessions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_citizen_sessions_citizen_id'), ['citizen_id'], unique=False)

    op.create_table('one_time_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('citizen_id', sa.Integer(), nullable=False),
    sa.Column('purpose', sa.String(length=16), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', engine.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('used_at', engine.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['citizen_id'], ['citizens.id'], name=op.f('fk_one_time_codes_citizen_id_citizens')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_one_time_codes'))
    )
    with op.batch_alter_table('one_time_codes', schema=None) as batch_op:
        batch_op.create_index('ix_one_time_codes_citizen_purpose', ['citizen_id', 'purpose'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('one_time_codes', schema=None) as batch_op:
        batch_op.drop_index('ix_one_time_codes_citizen_purpose')
    op.drop_table('one_time_codes')
    with op.batch_alter_table('citizen_sessions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citizen_sessions_citizen_id'))
    op.drop_table('citizen_sessions')
    with op.batch_alter_table('citizens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_citizens_household_id'))
    op.drop_table('citizens')

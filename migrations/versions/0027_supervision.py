"""supervision notes and sessions

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01 06:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'supervision_sessions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('directorate_id', sa.Integer(), nullable=False),
        sa.Column('case_manager_id', sa.Integer(), nullable=False),
        sa.Column('supervisor_id', sa.Integer(), nullable=False),
        sa.Column('scheduled_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('agenda', sa.Text(), nullable=False),
        sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['directorate_id'], ['directorates.id']),
        sa.ForeignKeyConstraint(['case_manager_id'], ['users.id']),
        sa.ForeignKeyConstraint(['supervisor_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('supervision_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_sessions_directorate', ['directorate_id', 'scheduled_at'], unique=False)
        batch_op.create_index('ix_supervision_sessions_manager', ['case_manager_id', 'scheduled_at'], unique=False)
    op.create_table(
        'supervision_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('directorate_id', sa.Integer(), nullable=False),
        sa.Column('case_manager_id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=True),
        sa.Column('session_id', sa.Integer(), nullable=True),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('form_token', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['directorate_id'], ['directorates.id']),
        sa.ForeignKeyConstraint(['case_manager_id'], ['users.id']),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.ForeignKeyConstraint(['session_id'], ['supervision_sessions.id']),
        sa.ForeignKeyConstraint(['author_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('form_token'),
    )
    with op.batch_alter_table('supervision_notes', schema=None) as batch_op:
        batch_op.create_index('ix_supervision_notes_manager', ['case_manager_id', 'created_at'], unique=False)
        batch_op.create_index('ix_supervision_notes_case', ['case_id', 'created_at'], unique=False)
        batch_op.create_index('ix_supervision_notes_session', ['session_id', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('supervision_notes', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_notes_session')
        batch_op.drop_index('ix_supervision_notes_case')
        batch_op.drop_index('ix_supervision_notes_manager')
    op.drop_table('supervision_notes')
    with op.batch_alter_table('supervision_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_supervision_sessions_manager')
        batch_op.drop_index('ix_supervision_sessions_directorate')
    op.drop_table('supervision_sessions')

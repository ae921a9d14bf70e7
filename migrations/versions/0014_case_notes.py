"""notes staff add to a case

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 03:10:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'case_notes',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('case_id', sa.Integer(), nullable=False),
        sa.Column('author_id', sa.Integer(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('pinned', sa.Boolean(), nullable=False),
        sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('form_token', sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(['author_id'], ['users.id']),
        sa.ForeignKeyConstraint(['case_id'], ['cases.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('form_token'),
    )
    op.create_index('ix_case_notes_case', 'case_notes', ['case_id', 'created_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_case_notes_case', table_name='case_notes')
    op.drop_table('case_notes')

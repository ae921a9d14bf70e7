"""waiting-list sort keys stored per score, day and rule version

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 00:50:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('waiting_priorities',
    sa.Column('score_id', sa.Integer(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('rule_version', sa.String(length=120), nullable=False),
    sa.Column('sort_key', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.ForeignKeyConstraint(['score_id'], ['eligibility_scores.id'],
                            name=op.f('fk_waiting_priorities_score_id_eligibility_scores'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('score_id', 'as_of', 'rule_version', name=op.f('pk_waiting_priorities'))
    )
    with op.batch_alter_table('waiting_priorities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waiting_priorities_as_of'), ['as_of'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('waiting_priorities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_waiting_priorities_as_of'))
    op.drop_table('waiting_priorities')

"""process versions record who deployed them, from where, and what changed

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 02:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deployed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('origin', sa.String(length=16), nullable=False, server_default='file'))
        batch_op.add_column(sa.Column('note', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column(
            'changes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True))
        batch_op.drop_constraint(batch_op.f('uq_process_versions_content_hash'), type_='unique')
        batch_op.create_index(batch_op.f('ix_process_versions_content_hash'), ['content_hash'], unique=False)
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.alter_column('origin', server_default=None)


def downgrade() -> None:
    with op.batch_alter_table('process_versions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_process_versions_content_hash'))
        batch_op.create_unique_constraint(batch_op.f('uq_process_versions_content_hash'), ['content_hash'])
        batch_op.drop_column('changes')
        batch_op.drop_column('note')
        batch_op.drop_column('origin')
        batch_op.drop_column('deployed_by_id')

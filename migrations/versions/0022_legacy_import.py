"""households imported from the old system's export

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-01 05:30:00
"""
import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import engine.db

revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.add_column(sa.Column('legacy_id', sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column('programme', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('programme_status', sa.String(length=20), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_households_legacy_id'), ['legacy_id'])
        batch_op.create_index(batch_op.f('ix_households_programme_status'), ['programme_status'], unique=False)
    op.create_table(
        'import_batches',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('file_name', sa.String(length=250), nullable=False),
        sa.Column('file_hash', sa.String(length=64), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('started_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('finished_at', engine.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('counts', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
                  nullable=False),
        sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_import_batches_actor_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_import_batches')),
    )
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_import_batches_file_hash'), ['file_hash'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('import_batches', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_import_batches_file_hash'))
    op.drop_table('import_batches')
    with op.batch_alter_table('households', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_households_programme_status'))
        batch_op.drop_constraint(batch_op.f('uq_households_legacy_id'), type_='unique')
        batch_op.drop_column('programme_status')
        batch_op.drop_column('programme')
        batch_op.drop_column('legacy_id')

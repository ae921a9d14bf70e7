"""how each answer of a household was verified

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 02:20:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')


def upgrade() -> None:
    # Households and people registered before this revision have no recorded sources: every answer
    # reads as the household's word until it is verified.
    for table in ('households', 'persons'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('sources', JSON, nullable=True))
        op.execute(f"UPDATE {table} SET sources = '{{}}'")
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('sources', existing_type=JSON, nullable=False)


def downgrade() -> None:
    for table in ('persons', 'households'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('sources')

"""case-level values that tasks set, declared by the process vocabulary

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 02:00:00
"""
from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')


def upgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('fields', JSON, nullable=True))
    # The plan's end date becomes the first of the case fields the vocabulary declares.
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE cases SET fields = CASE WHEN plan_end_date IS NULL THEN '{}'::jsonb "
                   "ELSE jsonb_build_object('plan_end_date', to_char(plan_end_date, 'YYYY-MM-DD')) END")
    else:
        op.execute("UPDATE cases SET fields = CASE WHEN plan_end_date IS NULL THEN '{}' "
                   "ELSE json_object('plan_end_date', plan_end_date) END")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.alter_column('fields', existing_type=JSON, nullable=False)
        batch_op.drop_column('plan_end_date')


def downgrade() -> None:
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('plan_end_date', sa.Date(), nullable=True))
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("UPDATE cases SET plan_end_date = (fields ->> 'plan_end_date')::date")
    else:
        op.execute("UPDATE cases SET plan_end_date = json_extract(fields, '$.plan_end_date')")
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('fields')

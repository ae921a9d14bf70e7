"""registry: household directorate rule, paged lists

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30 23:30:00
"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Paged lists read one page in index order instead of sorting a whole directorate.
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.create_index('ix_cases_directorate_recent', ['directorate_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_cases_instance_id'), ['instance_id'], unique=False)
    with op.batch_alter_table('eligibility_scores', schema=None) as batch_op:
        batch_op.create_index('ix_eligibility_scores_household_latest', ['household_id', 'id'], unique=False)
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.create_index('ix_audit_events_case_history', ['case_id', 'at', 'id'], unique=False)
    # A case's latest submissions of each form, however many times it looped.
    with op.batch_alter_table('task_records', schema=None) as batch_op:
        batch_op.create_index('ix_task_records_case_form', ['business_key', 'form_key', 'state', 'completed_at'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('task_records', schema=None) as batch_op:
        batch_op.drop_index('ix_task_records_case_form')
    with op.batch_alter_table('audit_events', schema=None) as batch_op:
        batch_op.drop_index('ix_audit_events_case_history')
    with op.batch_alter_table('eligibility_scores', schema=None) as batch_op:
        batch_op.drop_index('ix_eligibility_scores_household_latest')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_instance_id'))
        batch_op.drop_index('ix_cases_directorate_recent')

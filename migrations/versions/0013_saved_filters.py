"""inbox filters a user saved; indexes for the inbox

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 03:10:00
"""
from alembic import op
import sqlalchemy as sa

import engine.db

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'saved_filters',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=80), nullable=False),
        sa.Column('query', sa.String(length=1000), nullable=False),
        sa.Column('created_at', engine.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['users.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('uq_saved_filters_user_name', 'saved_filters', ['user_id', 'name'], unique=True)
    op.create_index('ix_task_records_ready_scope', 'task_records', ['scope', 'due_at'], unique=False,
                    sqlite_where=sa.text("state = 'ready'"), postgresql_where=sa.text("state = 'ready'"),
                    postgresql_include=['lane', 'assignee_id', 'instance_id', 'stage', 'spec_id', 'title',
                                        'created_at'])
    if op.get_bind().dialect.name == 'postgresql':
        # Most task rows are completed and assigned, so the planner's guess for "ready and unassigned in this
        # lane" is off by 20x without these, and it sorts thousands of rows instead of reading the inbox index.
        op.execute("CREATE STATISTICS IF NOT EXISTS st_task_records_state_assignee (mcv, dependencies) "
                   "ON state, assignee_id FROM task_records")
        op.execute("CREATE STATISTICS IF NOT EXISTS st_task_records_state_scope_lane (mcv, dependencies) "
                   "ON state, scope, lane FROM task_records")
    op.create_index('ix_persons_household_head', 'persons', ['household_id'], unique=False,
                    postgresql_include=['name_search', 'national_id'],
                    sqlite_where=sa.text("relation = 'head' AND active = 1"),
                    postgresql_where=sa.text("relation = 'head' AND active"))
    op.create_index('ix_eligibility_scores_household_score', 'eligibility_scores', ['household_id', 'id', 'score'],
                    unique=False)


def downgrade() -> None:
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP STATISTICS IF EXISTS st_task_records_state_scope_lane")
        op.execute("DROP STATISTICS IF EXISTS st_task_records_state_assignee")
    op.drop_index('ix_eligibility_scores_household_score', table_name='eligibility_scores')
    op.drop_index('ix_persons_household_head', table_name='persons')
    op.drop_index('ix_task_records_ready_scope', table_name='task_records')
    op.drop_index('uq_saved_filters_user_name', table_name='saved_filters')
    op.drop_table('saved_filters')

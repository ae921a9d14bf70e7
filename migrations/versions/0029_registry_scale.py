"""registry scale indexes: the inbox's counts, case joins and reference search read indexes only

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01 08:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db  # noqa: F401

revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None

_READY_INCLUDE_0013 = ['lane', 'assignee_id', 'instance_id', 'stage', 'spec_id', 'title', 'created_at']
# The household-wait columns and the id too: without them every count and every page of a team inbox (13,000
# ready tasks at registry size) fetched each task's row from the table (12,000 pages) instead of reading the
# index alone.
_READY_INCLUDE = [*_READY_INCLUDE_0013, 'waiting_on', 'household_due_at', 'household_missed_at', 'id']


def _ready_scope(include: list[str]) -> None:
    op.create_index('ix_task_records_ready_scope', 'task_records', ['scope', 'due_at'], unique=False,
                    sqlite_where=sa.text("state = 'ready'"), postgresql_where=sa.text("state = 'ready'"),
                    postgresql_include=include)


def upgrade() -> None:
    op.drop_index('ix_task_records_ready_scope', table_name='task_records')
    _ready_scope(_READY_INCLUDE)
    # The directorate's cases by process instance, with their household and id: the inbox hashes them once
    # (an index-only scan) instead of reading cases for every ready task, and a search by name that probes
    # each task's case reads only this index.
    op.create_index('ix_cases_directorate_instance', 'cases', ['directorate_id', 'instance_id'], unique=False,
                    postgresql_include=['household_id', 'id'])
    # The inbox's search by reference among the directorate's cases: a reference typed in part
    # ("RBH-2026-0435") is a prefix LIKE, which on PostgreSQL only a pattern-ops index serves whatever the
    # database's collation (the unique index on reference does not); a case number ("123") is a suffix, so
    # the directorate's references are read, from this index alone (30,000 entries, not 3,300 table pages).
    op.create_index('ix_cases_directorate_reference', 'cases', ['directorate_id', 'reference'], unique=False,
                    postgresql_ops={'reference': 'varchar_pattern_ops'}, postgresql_include=['id'])
    # A task row's locality without reading the household's wide row (its answers and sources).
    op.create_index('ix_households_locality', 'households', ['id'], unique=False, postgresql_include=['locality'])
    # The waiting list's eligible scores (13,000 of 136,000 in a directorate) from an index alone: with the
    # category index only, the table's wide rows (answers, indicators) were read whole, 31,000 pages.
    op.drop_index('ix_eligibility_scores_category', table_name='eligibility_scores')
    op.create_index('ix_eligibility_scores_category_id', 'eligibility_scores', ['category', 'id'], unique=False)
    # The waiting list's open cases of a directorate with their household and id, from the index alone
    # (without the id, 12,500 cases' rows were read for each view, 90 ms).
    op.drop_index('ix_cases_directorate_status', table_name='cases')
    op.create_index('ix_cases_directorate_status', 'cases', ['directorate_id', 'status'], unique=False,
                    postgresql_include=['household_id', 'id'])
    # The waiting list is ordered and cut into pages by the database: each stored key gets a rank that sorts
    # as the key does. The stored keys are a cache of one day: dropped, they are worked out again.
    op.execute("DELETE FROM waiting_priorities")
    with op.batch_alter_table('waiting_priorities') as batch:  # SQLite adds a NOT NULL column by copying
        batch.add_column(sa.Column('rank', sa.String(length=400), nullable=False))
    if op.get_bind().dialect.name == "postgresql":
        # Name search (inbox and registry) asks for names holding each word typed (LIKE '%x%', then checks
        # that a word starts with it), which no B-tree serves: every person was read, 736,000 at registry
        # size. A trigram index serves it, all the words in one index scan. pg_trgm is a trusted extension:
        # a database owner creates it (PostgreSQL 13 and later). The B-tree it replaces served no query
        # (the database's collation is not C); SQLite keeps it.
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        op.drop_index('ix_persons_name_search', table_name='persons')
        op.create_index('ix_persons_name_search', 'persons', ['name_search'], unique=False, postgresql_using='gin',
                        postgresql_ops={'name_search': 'gin_trgm_ops'}, postgresql_where=sa.text('active'))
    # The inbox searches heads only: their own trigram index (136,000 of 736,000 people) means a common first
    # name reads its 2,000 heads, not its 12,000 people. SQLite gets a plain index of heads' names.
    op.create_index('ix_persons_head_name_search', 'persons', ['name_search'], unique=False,
                    postgresql_using='gin', postgresql_ops={'name_search': 'gin_trgm_ops'},
                    postgresql_where=sa.text("relation = 'head' AND active"),
                    sqlite_where=sa.text("relation = 'head' AND active = 1"))


def downgrade() -> None:
    op.drop_index('ix_persons_head_name_search', table_name='persons')
    if op.get_bind().dialect.name == "postgresql":  # the extension stays: other databases' objects may use it
        op.drop_index('ix_persons_name_search', table_name='persons')
        op.create_index('ix_persons_name_search', 'persons', ['name_search'], unique=False)
    with op.batch_alter_table('waiting_priorities') as batch:
        batch.drop_column('rank')
    op.drop_index('ix_cases_directorate_status', table_name='cases')
    op.create_index('ix_cases_directorate_status', 'cases', ['directorate_id', 'status'], unique=False)
    op.drop_index('ix_eligibility_scores_category_id', table_name='eligibility_scores')
    op.create_index('ix_eligibility_scores_category', 'eligibility_scores', ['category'], unique=False)
    op.drop_index('ix_households_locality', table_name='households')
    op.drop_index('ix_cases_directorate_reference', table_name='cases')
    op.drop_index('ix_cases_directorate_instance', table_name='cases')
    op.drop_index('ix_task_records_ready_scope', table_name='task_records')
    _ready_scope(_READY_INCLUDE_0013)

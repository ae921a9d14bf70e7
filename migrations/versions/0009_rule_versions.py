"""the content of each rule version, and why each score was recomputed

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 02:20:00
"""
import hashlib
import json

import sqlalchemy as sa
import yaml
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql')
#: The files a rule version was made of when this migration was written, in the order their digest took them.
MEASURE_FILES = ('poverty_measure.yaml', 'poverty_category.dmn')


def upgrade() -> None:
    op.create_table(
        'rule_versions',
        sa.Column('label', sa.String(length=80), nullable=False),
        sa.Column('content_hash', sa.String(length=64), nullable=False),
        sa.Column('files', JSON, nullable=False),
        sa.Column('first_used_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('label', name=op.f('pk_rule_versions')),
        sa.UniqueConstraint('content_hash', name=op.f('uq_rule_versions_content_hash')),
    )
    with op.batch_alter_table('eligibility_scores', schema=None) as batch_op:
        batch_op.add_column(sa.Column('previous_score_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reasons', JSON, nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_eligibility_scores_previous_score_id_eligibility_scores'),
                                    'eligibility_scores', ['previous_score_id'], ['id'])
    _link_earlier_scores()
    _keep_deployed_rule_versions()
    with op.batch_alter_table('eligibility_scores', schema=None) as batch_op:
        batch_op.alter_column('reasons', existing_type=JSON, nullable=False)


def _link_earlier_scores() -> None:
    """Each stored score gets its household's score before it, and the changes the stored rows show.

    Whether time alone changed a result cannot be told without scoring again: a score whose rules and
    inputs are those of the score before it says ``not_recorded``.
    """
    bind = op.get_bind()
    scores = sa.table('eligibility_scores', sa.column('id', sa.Integer), sa.column('household_id', sa.Integer),
                      sa.column('rule_version', sa.String), sa.column('inputs', JSON),
                      sa.column('previous_score_id', sa.Integer), sa.column('reasons', JSON))
    previous: dict[int, tuple[int, str, str]] = {}
    rows = bind.execute(sa.select(scores.c.id, scores.c.household_id, scores.c.rule_version, scores.c.inputs)
                        .order_by(scores.c.household_id, scores.c.id)).all()
    updates = []
    for score_id, household_id, rule_version, inputs in rows:
        inputs_text = json.dumps(inputs, sort_keys=True)
        before = previous.get(household_id)
        if before is None:
            reasons = ['first_score']
        else:
            reasons = [reason for reason, changed in (('rules_changed', before[1] != rule_version),
                                                     ('data_changed', before[2] != inputs_text)) if changed]
            reasons = reasons or ['not_recorded']
        updates.append({'score_id': score_id, 'previous': before[0] if before else None, 'reasons': reasons})
        previous[household_id] = (score_id, rule_version, inputs_text)
    if updates:
        bind.execute(scores.update().where(scores.c.id == sa.bindparam('score_id'))
                     .values(previous_score_id=sa.bindparam('previous'), reasons=sa.bindparam('reasons')), updates)


def _keep_deployed_rule_versions() -> None:
    """The rule files of every deployed process version whose rules scored a household become a rule version."""
    bind = op.get_bind()
    versions = sa.table('process_versions', sa.column('sources', JSON), sa.column('version', sa.Integer))
    scores = sa.table('eligibility_scores', sa.column('rule_version', sa.String),
                      sa.column('created_at', sa.DateTime(timezone=True)))
    first_used = dict(bind.execute(sa.select(scores.c.rule_version, sa.func.min(scores.c.created_at))
                                   .group_by(scores.c.rule_version)).tuples().all())
    kept: set[str] = set()
    rows = []
    for (sources,) in bind.execute(sa.select(versions.c.sources).order_by(versions.c.version)):
        if isinstance(sources, str):  # SQLite hands JSON back as text through a bare table
            sources = json.loads(sources)
        files = {name: (sources or {}).get(f'rules/{name}', (sources or {}).get(name)) for name in MEASURE_FILES}
        if any(text is None for text in files.values()):
            continue
        try:
            version = (yaml.safe_load(files['poverty_measure.yaml']) or {}).get('version')
        except yaml.YAMLError:
            continue
        digest = hashlib.sha256()
        for name in MEASURE_FILES:
            digest.update(name.encode() + b'\0' + files[name].encode('utf-8') + b'\0')
        label = f'{version}+{digest.hexdigest()[:12]}'
        if label in first_used and label not in kept:
            kept.add(label)
            rows.append({'label': label, 'content_hash': digest.hexdigest(), 'files': files,
                         'first_used_at': first_used[label]})
    if rows:
        table = sa.table('rule_versions', sa.column('label', sa.String), sa.column('content_hash', sa.String),
                         sa.column('files', JSON), sa.column('first_used_at', sa.DateTime(timezone=True)))
        bind.execute(table.insert(), rows)


def downgrade() -> None:
    with op.batch_alter_table('eligibility_scores', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_eligibility_scores_previous_score_id_eligibility_scores'),
                                 type_='foreignkey')
        batch_op.drop_column('reasons')
        batch_op.drop_column('previous_score_id')
    op.drop_table('rule_versions')

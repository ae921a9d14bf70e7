"""compact stored scores

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01 09:00:00

New scores leave the rules' words out of their indicators (registry.scores.stored_indicators); on
PostgreSQL the score's JSON columns are also compressed with lz4, which writes a TOASTed value in
about half the server CPU of the default pglz. Existing rows are not rewritten (a registry holds
hundreds of thousands): they keep pglz and their labels, and read as before; only new values use lz4.
"""
import sqlalchemy as sa
from alembic import op

revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

#: The columns of eligibility_scores large enough to be TOASTed.
_COLUMNS = ('inputs', 'indicators', 'details')


def _lz4_available() -> bool:
    """PostgreSQL 14 or later, built with lz4 (``default_toast_compression`` then offers it)."""
    bind = op.get_bind()
    if bind.dialect.name != 'postgresql':
        return False
    return bool(bind.execute(sa.text(
        "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")).scalar())


def _set_compression(method: str) -> None:
    if not _lz4_available():
        return
    # Changes only the method of values written from now on: no table rewrite, a brief lock.
    for column in _COLUMNS:
        op.execute(f'ALTER TABLE eligibility_scores ALTER COLUMN {column} SET COMPRESSION {method}')


def upgrade() -> None:
    _set_compression('lz4')


def downgrade() -> None:
    _set_compression('default')

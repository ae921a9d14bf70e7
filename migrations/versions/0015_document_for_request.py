"""the requested document each uploaded file answers

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 04:00:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: files uploaded before are matched to their request by upload time.
    op.add_column('documents', sa.Column('requested_document', sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column('documents', 'requested_document')

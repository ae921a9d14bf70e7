"""documents: content moves to storage, metadata and hash stay

Documents keep name, type, size and hash; their bytes move to document storage under
``storage_key`` (the sha256 of the content). Bytes already in the database are written to the
filesystem backend's folder (``DOCUMENT_STORAGE_DIR`` from the environment, else ``instance/documents``,
laid out as ``<key[:2]>/<key>`` like ``registry.documents.FileSystemStorage``); a deployment that
uses S3 copies that folder into the bucket under its prefix. Downgrade reads the bytes back from the
same folder (a document whose file is missing gets empty content).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 23:30:00
"""
import hashlib
import os
import tempfile
from pathlib import Path

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_documents = sa.table('documents', sa.column('id', sa.Integer()), sa.column('content', sa.LargeBinary()),
                      sa.column('storage_key', sa.String()))


def _folder() -> Path:
    default = Path(__file__).resolve().parents[2] / 'instance' / 'documents'
    return Path(os.environ.get('DOCUMENT_STORAGE_DIR') or default)


def _write(folder: Path, key: str, content: bytes) -> None:
    target = folder / key[:2] / key
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=target.parent, prefix='.upload-')
    with os.fdopen(fd, 'wb') as handle:
        handle.write(content)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)


def upgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('storage_key', sa.String(length=128), nullable=True))
    bind = op.get_bind()
    ids = bind.execute(sa.select(_documents.c.id).order_by(_documents.c.id)).scalars().all()
    for document_id in ids:  # one row's bytes in memory at a time
        content = bind.execute(sa.select(_documents.c.content).where(_documents.c.id == document_id)).scalar_one()
        key = hashlib.sha256(content).hexdigest()
        _write(_folder(), key, content)
        bind.execute(_documents.update().where(_documents.c.id == document_id).values(storage_key=key))
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.alter_column('storage_key', existing_type=sa.String(length=128), nullable=False)
        batch_op.drop_column('content')


def downgrade() -> None:
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content', sa.LargeBinary(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(_documents.c.id, _documents.c.storage_key)).all()
    for document_id, key in rows:
        path = _folder() / key[:2] / key
        content = path.read_bytes() if path.is_file() else b''
        bind.execute(_documents.update().where(_documents.c.id == document_id).values(content=content))
    with op.batch_alter_table('documents', schema=None) as batch_op:
        batch_op.alter_column('content', existing_type=sa.LargeBinary(), nullable=False)
        batch_op.drop_column('storage_key')

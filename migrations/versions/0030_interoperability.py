"""interoperability clients, requests and subscriptions

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-01 08:00:00
"""
import sqlalchemy as sa
from alembic import op

import engine.db

revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, engine.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        'interop_clients',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.String(length=64), nullable=False),
        sa.Column('name', sa.String(length=200), nullable=False),
        sa.Column('secret_hash', sa.String(length=200), nullable=False),
        sa.Column('scopes', engine.db.JSONType, nullable=False),
        sa.Column('fields', engine.db.JSONType, nullable=False),
        sa.Column('partner_id', sa.Integer(), nullable=True),
        sa.Column('callback_url', sa.String(length=500), nullable=True),
        sa.Column('public_key', sa.Text(), nullable=True),
        sa.Column('callback_token', sa.String(length=500), nullable=True),
        sa.Column('active', sa.Boolean(), nullable=False),
        _when('created_at'),
        sa.ForeignKeyConstraint(['partner_id'], ['partner_organisations.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('client_id'),
    )
    op.create_table(
        'interop_tokens',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token_hash', sa.String(length=64), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        _when('created_at'),
        _when('expires_at'),
        sa.ForeignKeyConstraint(['client_id'], ['interop_clients.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('token_hash'),
    )
    op.create_index(op.f('ix_interop_tokens_client_id'), 'interop_tokens', ['client_id'], unique=False)
    op.create_table(
        'interop_transactions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('message_id', sa.String(length=99), nullable=False),
        sa.Column('transaction_id', sa.String(length=99), nullable=False),
        sa.Column('correlation_id', sa.String(length=40), nullable=False),
        sa.Column('reference_ids', engine.db.JSONType, nullable=False),
        sa.Column('status', sa.String(length=4), nullable=False),
        sa.Column('response', engine.db.JSONType, nullable=True),
        _when('created_at'),
        sa.ForeignKeyConstraint(['client_id'], ['interop_clients.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('correlation_id'),
    )
    op.create_index('ix_interop_transactions_client_txn', 'interop_transactions', ['client_id', 'transaction_id'],
                    unique=False)
    op.create_index('uq_interop_transactions_message', 'interop_transactions', ['client_id', 'message_id'],
                    unique=True)
    op.create_table(
        'interop_subscriptions',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('code', sa.String(length=40), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('event_type', sa.String(length=40), nullable=False),
        sa.Column('filter_type', sa.String(length=20), nullable=True),
        sa.Column('filter', engine.db.JSONType, nullable=True),
        sa.Column('notify_record_type', sa.String(length=60), nullable=False),
        sa.Column('callback_url', sa.String(length=500), nullable=False),
        sa.Column('status', sa.String(length=12), nullable=False),
        sa.Column('frequency', engine.db.JSONType, nullable=True),
        _when('created_at'),
        _when('ended_at', nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['interop_clients.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('code'),
    )
    op.create_index(op.f('ix_interop_subscriptions_client_id'), 'interop_subscriptions', ['client_id'], unique=False)
    op.create_index('ix_interop_subscriptions_event', 'interop_subscriptions', ['event_type', 'status'], unique=False)
    op.create_table(
        'interop_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(length=600), nullable=False),
        sa.Column('action', sa.String(length=20), nullable=False),
        sa.Column('body', engine.db.JSONType, nullable=False),
        sa.Column('state', sa.String(length=8), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        _when('send_after'),
        _when('sent_at', nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        _when('created_at'),
        sa.Column('subscription_id', sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(['client_id'], ['interop_clients.id']),
        sa.ForeignKeyConstraint(['subscription_id'], ['interop_subscriptions.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(op.f('ix_interop_deliveries_subscription_id'), 'interop_deliveries', ['subscription_id'],
                    unique=False)
    op.create_index(op.f('ix_interop_deliveries_client_id'), 'interop_deliveries', ['client_id'], unique=False)
    op.create_index('ix_interop_deliveries_due', 'interop_deliveries', ['state', 'send_after'], unique=False)
    op.create_table(
        'interop_events',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event_type', sa.String(length=40), nullable=False),
        sa.Column('household_id', sa.Integer(), nullable=False),
        sa.Column('details', engine.db.JSONType, nullable=False),
        _when('created_at'),
        _when('fanned_out_at', nullable=True),
        sa.ForeignKeyConstraint(['household_id'], ['households.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_interop_events_pending', 'interop_events', ['fanned_out_at', 'id'], unique=False)
    op.create_table(
        'interop_requests',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('client_id', sa.Integer(), nullable=True),
        sa.Column('action', sa.String(length=40), nullable=False),
        sa.Column('summary', sa.Text(), nullable=False),
        sa.Column('outcome', sa.String(length=60), nullable=False),
        sa.Column('http_status', sa.Integer(), nullable=False),
        _when('at'),
        sa.ForeignKeyConstraint(['client_id'], ['interop_clients.id']),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_interop_requests_client_at', 'interop_requests', ['client_id', 'at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_interop_requests_client_at', table_name='interop_requests')
    op.drop_table('interop_requests')
    op.drop_index('ix_interop_events_pending', table_name='interop_events')
    op.drop_table('interop_events')
    op.drop_index('ix_interop_deliveries_due', table_name='interop_deliveries')
    op.drop_index(op.f('ix_interop_deliveries_client_id'), table_name='interop_deliveries')
    op.drop_index(op.f('ix_interop_deliveries_subscription_id'), table_name='interop_deliveries')
    op.drop_table('interop_deliveries')
    op.drop_index('ix_interop_subscriptions_event', table_name='interop_subscriptions')
    op.drop_index(op.f('ix_interop_subscriptions_client_id'), table_name='interop_subscriptions')
    op.drop_table('interop_subscriptions')
    op.drop_index('uq_interop_transactions_message', table_name='interop_transactions')
    op.drop_index('ix_interop_transactions_client_txn', table_name='interop_transactions')
    op.drop_table('interop_transactions')
    op.drop_index(op.f('ix_interop_tokens_client_id'), table_name='interop_tokens')
    op.drop_table('interop_tokens')
    op.drop_table('interop_clients')

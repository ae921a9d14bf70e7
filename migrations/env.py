"""Alembic environment: the URL comes from the caller's config; the models are the target."""

from __future__ import annotations

from alembic import context
from sqlalchemy import engine_from_config, pool

import engine.models  # noqa: F401 - registers the engine tables
import registry.campaigns.models  # noqa: F401 - registers the campaign and visit tables
import registry.campaigns.staff_models  # noqa: F401 - registers the visit quotas and days off tables
import registry.citizens.models  # noqa: F401 - registers the citizen accounts tables
import registry.complaints.models  # noqa: F401 - registers the complaints table
import registry.drafts  # noqa: F401 - registers the task drafts table
import registry.field.models  # noqa: F401 - registers the offline visit submissions table
import registry.idempotency  # noqa: F401 - registers the idempotency keys table
import registry.interop.models  # noqa: F401 - registers the partner systems' clients, requests and subscriptions
import registry.legacy_import.models  # noqa: F401 - registers the import batches table
import registry.models  # noqa: F401 - registers the domain tables
import registry.notifications.models  # noqa: F401 - registers the outbox table
import registry.online.models  # noqa: F401 - registers the online applications table
import registry.referrals.models  # noqa: F401 - registers the partner organisations and referrals tables
import registry.supervision.models  # noqa: F401 - registers the supervision notes and sessions tables
from engine.db import Base

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = engine_from_config(config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.",
                                     poolclass=pool.NullPool)
    with connectable.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

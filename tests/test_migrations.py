"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL.

Alembic's autogenerate comparison (what `flask --app app db revision --autogenerate` would write) runs
between a database migrated from scratch to head and the models' metadata: tables, columns, types,
nullability, server defaults, indexes, unique constraints and foreign keys must all agree.
"""

from __future__ import annotations

import ast
import importlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect

from tests.conftest import own_postgres_database
from webui.cli import alembic_config, upgrade_database

ROOT = Path(__file__).resolve().parent.parent


def target_metadata() -> MetaData:
    """The metadata migrations/env.py compares against, with every model module it imports registered."""
    tree = ast.parse((ROOT / "migrations" / "env.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                importlib.import_module(alias.name)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            importlib.import_module(node.module)
    from engine.db import Base

    return Base.metadata


def schema_differences(url: str) -> list[Any]:
    """What autogenerate would change to make the database at ``url`` match the models (empty: none)."""
    metadata = target_metadata()
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={
                "compare_type": True,
                "compare_server_default": True,
                "target_metadata": metadata,
            })
            return list(compare_metadata(context, metadata))
    finally:
        engine.dispose()


def tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def fresh_postgres() -> Iterator[str]:
    with own_postgres_database("mosd_migrations") as url:
        yield url


def test_migrations_build_the_schema_of_the_models_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
    upgrade_database(url)
    assert schema_differences(url) == []


@pytest.mark.postgres
def test_migrations_build_the_schema_of_the_models_on_postgresql(fresh_postgres: str) -> None:
    upgrade_database(fresh_postgres)
    assert schema_differences(fresh_postgres) == []


def test_downgrade_to_base_removes_every_table_and_upgrade_builds_them_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.sqlite3'}"
    upgrade_database(url)
    model_tables = set(target_metadata().tables)
    assert model_tables <= tables(url)

    command.downgrade(alembic_config(url), "base")
    assert tables(url) <= {"alembic_version"}

    upgrade_database(url)
    assert model_tables <= tables(url)
    assert schema_differences(url) == []

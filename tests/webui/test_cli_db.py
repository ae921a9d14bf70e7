"""`flask --app app db ...`: the Alembic commands a maintainer needs, run through Flask's CLI runner."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from click.testing import Result
from flask import Flask
from sqlalchemy import create_engine, inspect

from app import create_app

ROOT = Path(__file__).resolve().parents[2]
HEAD = ScriptDirectory(str(ROOT / "migrations")).get_current_head()
REVISIONS = [script.revision for script in ScriptDirectory(str(ROOT / "migrations")).walk_revisions()]


@pytest.fixture
def migrations(tmp_path: Path) -> Path:
    """A copy of migrations/, so that `db revision` writes its file there and not into the source tree."""
    copy = tmp_path / "migrations"
    shutil.copytree(ROOT / "migrations", copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


@pytest.fixture
def cli_app(tmp_path: Path, migrations: Path) -> Iterator[Flask]:
    """An app on an empty SQLite file (no schema yet) and the copied migrations."""
    application = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite3'}",
                              "SECRET_KEY": "test", "MIGRATIONS_DIR": str(migrations)})
    yield application
    engine = application.extensions.get("db_engine")
    if engine is not None:
        engine.dispose()


def flask_db(app: Flask, *args: str) -> Result:
    return app.test_cli_runner().invoke(args=["db", *args])


def ok(app: Flask, *args: str) -> str:
    result = flask_db(app, *args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.output


def tables(app: Flask) -> set[str]:
    engine = create_engine(app.config["DATABASE_URL"])
    try:
        return set(inspect(engine).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_db_commands_show_history_and_move_the_schema_down_and_up(cli_app: Flask) -> None:
    assert ok(cli_app, "current").strip() == ""  # an empty database is at no revision

    assert "latest schema" in ok(cli_app, "upgrade")
    assert ok(cli_app, "current").split() == [HEAD, "(head)"]
    assert {"cases", "households", "task_records"} <= tables(cli_app)

    ok(cli_app, "downgrade", "base")
    assert tables(cli_app) == set()
    assert ok(cli_app, "current").strip() == ""

    first = REVISIONS[-1]
    ok(cli_app, "upgrade", first)
    assert ok(cli_app, "current").split() == [first]
    history = ok(cli_app, "history")
    assert set(re.findall(r"-> (\w+)", history)) == set(REVISIONS)
    assert re.search(rf"-> {first}\b[^\n]*\(current\)", history), history

    ok(cli_app, "downgrade", "-1")
    assert tables(cli_app) == set()
    ok(cli_app, "upgrade")
    assert ok(cli_app, "current").split() == [HEAD, "(head)"]


def test_db_revision_autogenerate_on_a_migrated_database_writes_an_empty_next_revision(
        cli_app: Flask, migrations: Path) -> None:
    ok(cli_app, "upgrade")
    output = ok(cli_app, "revision", "-m", "nothing changed", "--autogenerate")

    number = f"{int(HEAD) + 1:04d}"
    created = migrations / "versions" / f"{number}_nothing_changed.py"
    assert str(created) in output
    source = created.read_text(encoding="utf-8")
    assert f"revision = '{number}'" in source
    assert f"down_revision = '{HEAD}'" in source
    upgrade_body = source.split("def upgrade() -> None:")[1].split("def downgrade")[0]
    assert "op." not in upgrade_body  # the migrations already build what the models describe

    ok(cli_app, "upgrade")
    assert ok(cli_app, "current").split() == [number, "(head)"]
    assert not (ROOT / "migrations" / "versions" / created.name).exists()


def test_db_revision_autogenerate_refuses_a_database_behind_head(cli_app: Flask, migrations: Path) -> None:
    ok(cli_app, "upgrade", REVISIONS[-1])
    before = sorted(p.name for p in (migrations / "versions").glob("*.py"))

    result = flask_db(cli_app, "revision", "-m", "too early", "--autogenerate")

    assert result.exit_code != 0
    assert "not up to date" in result.output
    assert sorted(p.name for p in (migrations / "versions").glob("*.py")) == before


def test_db_downgrade_to_an_unknown_revision_is_an_error_message(cli_app: Flask) -> None:
    ok(cli_app, "upgrade")
    result = flask_db(cli_app, "downgrade", "nosuchrevision")
    assert result.exit_code == 1
    assert "Error:" in result.output and "nosuchrevision" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)

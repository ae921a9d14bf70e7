"""`flask demo generate`: a seeded synthetic registry, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select

from engine.models import TaskRecord
from registry.demo_registry import KINDS, STAGE_OF_KIND, with_check_digit
from registry.models import Case, Document, Household, Person, User
from webui.db import db_session

BOTH = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)


def _generate(app: Flask, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=["demo", "generate", *args])


def _people(app: Flask) -> list[tuple[str, str]]:
    with app.app_context():
        return [tuple(row) for row in db_session().execute(
            select(Person.national_id, Person.name_ar).order_by(Person.id))]


@BOTH
def test_generate_counts_ids_stages_and_a_second_run(app: Flask, login_as: Any) -> None:
    result = _generate(app, "--households", "60", "--seed", "5", "--directorates", "RBH,HBN")
    assert result.exit_code == 0, result.output
    with app.app_context():
        session = db_session()
        generated = session.scalar(select(func.count(Case.id)))
        assert generated == 60 + len(KINDS)  # and one real case per stage made through the services
        ids = list(session.scalars(select(Person.national_id)))
        assert len(ids) == len(set(ids))
        assert all(len(n) == 9 and with_check_digit(n[:8]) == n for n in ids)
        stages = set(session.scalars(select(Case.stage)))
        assert set(STAGE_OF_KIND.values()) <= stages
        assert session.scalar(select(func.count(TaskRecord.id)).where(TaskRecord.state == "completed")) > 100
        assert session.scalar(select(func.count(Document.id))) > 0
    page = login_as("supervisor1").get("/?view=team").get_data(as_text=True)
    with app.app_context():
        reference = db_session().scalar(
            select(Case.reference).join(TaskRecord, TaskRecord.business_key == func.cast(Case.id, TaskRecord
                                                                                         .business_key.type))
            .where(TaskRecord.state == "ready", TaskRecord.lane == "supervisor", Case.id > len(KINDS) + 20)
            .order_by(TaskRecord.due_at).limit(1))
    assert reference and reference in page

    again = _generate(app, "--households", "20", "--seed", "5", "--directorates", "RBH")
    assert again.exit_code == 0, again.output
    ids = [n for n, _name in _people(app)]
    assert len(ids) == len(set(ids))
    with app.app_context():
        assert db_session().scalar(select(func.count(Case.id))) == 60 + 20 + 2 * len(KINDS)


def test_same_seed_gives_the_same_households(app: Flask, tmp_path: Any) -> None:
    from app import create_app

    assert _generate(app, "--households", "25", "--seed", "11").exit_code == 0
    other = create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path / 'other.sqlite3'}",
                        "SECRET_KEY": "x", "DEMO_MODE": True, "MINISTRY_BACKEND": "file",
                        "DOCUMENT_STORAGE_DIR": str(tmp_path / "docs")})
    from webui.cli import upgrade_database

    upgrade_database(other.config["DATABASE_URL"])
    assert _generate(other, "--households", "25", "--seed", "11").exit_code == 0
    generated = [p for p in _people(app) if p[0] < "900000000"]
    assert generated and generated == [p for p in _people(other) if p[0] < "900000000"]
    other.extensions["db_engine"].dispose()


def test_refuses_outside_demo_mode_and_on_real_data(app: Flask) -> None:
    app.config["DEMO_MODE"] = False
    refused = _generate(app, "--households", "5")
    assert refused.exit_code != 0 and "demo mode" in refused.output
    app.config["DEMO_MODE"] = True
    with app.app_context():
        session = db_session()
        session.add(User(username="real.person", full_name="Real Person", role="reception", is_demo=False,
                         password_hash="x"))
        session.commit()
    refused = _generate(app, "--households", "5")
    assert refused.exit_code != 0 and "real data" in refused.output
    with app.app_context():
        assert db_session().scalar(select(func.count(Household.id))) == 0

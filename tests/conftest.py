"""Fixtures: an app on a fresh migrated database (SQLite per test; PostgreSQL when it answers)."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from app import create_app
from engine import runtime
from webui.cli import upgrade_database

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


class Clock:
    """A settable clock, so due dates and overdue tasks are testable without sleeping."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def _postgres_available() -> bool:
    try:
        engine = create_engine(POSTGRES_SERVER, connect_args={"connect_timeout": 2})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    upgrade_database(f"sqlite:///{path}")
    return path


@contextmanager
def own_postgres_database(prefix: str) -> Iterator[str]:
    """An empty database of the caller's own on the PostgreSQL server (skips when it does not answer), dropped after."""
    if not _postgres_available():
        pytest.skip(f"PostgreSQL does not answer at {POSTGRES_SERVER}")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_SERVER.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A database of our own on the PostgreSQL server, migrated once, dropped at the end."""
    with own_postgres_database("mosd_test") as url:
        upgrade_database(url)
        yield url


def _empty_postgres(url: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        tables = connection.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND tablename != 'alembic_version'"
        )).scalars().all()
        connection.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
    engine.dispose()
    # Version ids restart with the emptied tables, so a hash cached for id 1 may now name another process.
    runtime.forget_cached_versions()


@pytest.fixture
def editable_library(tmp_path: Path) -> Any:
    """A copy of the shipped process, form and rule files that a test may change."""
    from engine.library import Library
    from registry.operations import register_all

    register_all()
    for name in ("processes", "forms", "rules"):
        shutil.copytree(ROOT / name, tmp_path / name)
    return Library(processes_dir=tmp_path / "processes", forms_dir=tmp_path / "forms", rules_dir=tmp_path / "rules")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=["sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_database")
        _empty_postgres(url)
        return url
    path = tmp_path / "test.sqlite3"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


#: The shipped files' first version of each process, checked and parsed once per test run, then copied into
#: each database.
_SHIPPED_VERSIONS: dict[str, dict[str, Any]] = {}


def _deploy_shipped_files(session: Any) -> None:
    """Every test's database starts with the shipped files deployed, as `make run` leaves it."""
    from engine.deployments import deploy_sources, snapshot
    from engine.models import ProcessVersion
    from registry.checks import check_all
    from registry.process_catalogue import PROCESSES
    from webui.db import library

    for process_id in PROCESSES:
        if process_id not in _SHIPPED_VERSIONS:
            deployed = deploy_sources(session, snapshot(library()), process_id=process_id, template=library(),
                                      checker=check_all).version
            _SHIPPED_VERSIONS[process_id] = {column: getattr(deployed, column) for column in (
                "process_id", "version", "content_hash", "spec_json", "sources", "origin", "deployed_at")}
            continue
        session.add(ProcessVersion(**_SHIPPED_VERSIONS[process_id]))


@pytest.fixture
def app(database_url: str, clock: Clock, tmp_path: Path) -> Iterator[Flask]:
    from registry.seed import seed_reference, seed_users

    application = create_app({
        "TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": "test", "DEMO_MODE": True,
        "CLOCK": clock, "WTF_CSRF_ENABLED": False, "MINISTRY_BACKEND": "file",
        "DOCUMENT_STORAGE_DIR": str(tmp_path / "documents"),
    })
    with application.app_context():
        from webui.db import db_session

        session = db_session()
        seed_reference(session)
        seed_users(session)
        _deploy_shipped_files(session)
        session.commit()
    yield application
    application.extensions["db_engine"].dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def login_as(app: Flask) -> Callable[[str], FlaskClient]:
    """A browser-like client logged in as one of the seeded users."""

    def login(username: str, lang: str = "en") -> FlaskClient:
        browser = app.test_client()
        response = browser.post("/login", data={"username": username, "password": "demo", "lang": lang})
        assert response.status_code == 302, response.get_data(as_text=True)
        return browser

    return login


class Api:
    """A small JSON client with a bearer token, as an API user would work."""

    def __init__(self, client: FlaskClient, token: str) -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}", "Accept-Language": "en"}

    def get(self, path: str) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers)

    def post(self, path: str, body: Any = None) -> Any:
        return self.client.post(f"/api/v1{path}", json=body if body is not None else {}, headers=self.headers)


@pytest.fixture
def api(app: Flask) -> Callable[[str], Api]:
    def for_user(username: str) -> Api:
        client = app.test_client()
        response = client.post("/api/v1/auth/token", json={"username": username, "password": "demo"})
        assert response.status_code == 200, response.get_data(as_text=True)
        return Api(client, response.get_json()["token"])

    return for_user

"""Probes for a load balancer, and a service that comes back by itself when its database does."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from flask import Flask

from app import create_app
from webui.cli import alembic_config

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:1/nothing"


def make_app(url: str) -> Flask:
    return create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test", "WTF_CSRF_ENABLED": False})


def test_healthz_answers_without_a_database() -> None:
    client = make_app(UNREACHABLE).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_refuses_when_the_database_is_unreachable() -> None:
    response = make_app(UNREACHABLE).test_client().get("/readyz")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert response.get_json()["reason"] == "database unreachable"


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_readyz_is_ready_on_a_database_at_the_latest_migration(app: Flask) -> None:
    response = app.test_client().get("/readyz")
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == "ready"


def test_readyz_refuses_a_database_behind_the_migrations(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.sqlite3'}"
    command.upgrade(alembic_config(url), "0001")  # type: ignore[arg-type]
    response = make_app(url).test_client().get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["reason"] == "database schema is not at the latest migration"
    assert body["database"] == ["0001"] and body["expected"] != ["0001"]


def test_readyz_refuses_an_empty_database(tmp_path: Path) -> None:
    response = make_app(f"sqlite:///{tmp_path / 'empty.sqlite3'}").test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["database"] == []


def test_the_service_recovers_by_itself_when_the_database_comes_back(tmp_path: Path,
                                                                     sqlite_template: Path) -> None:
    """The database's folder is gone (a volume not mounted yet), then back: no restart needed."""
    folder = tmp_path / "volume"
    folder.mkdir()
    shutil.copy(sqlite_template, folder / "db.sqlite3")
    application = make_app(f"sqlite:///{folder / 'db.sqlite3'}")
    client = application.test_client()
    token = {"username": "nobody", "password": "wrong"}
    folder.rename(tmp_path / "unmounted")
    response = client.post("/api/v1/auth/token", json=token)
    assert response.status_code == 503 and response.is_json and "Retry-After" in response.headers
    assert client.get("/readyz").status_code == 503
    assert client.post("/login", data=token).status_code == 503
    assert client.get("/healthz").status_code == 200
    (tmp_path / "unmounted").rename(folder)
    assert client.get("/readyz").status_code == 200
    assert client.post("/api/v1/auth/token", json=token).status_code == 401
    assert client.post("/login", data=token).status_code == 401

"""One SQLAlchemy engine per app, one session per request."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from engine.db import utcnow
from engine.library import Library
from registry.documents import DocumentStorage


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def init_db(app: Flask) -> None:
    engine = make_engine(app.config["DATABASE_URL"])
    app.extensions["db_engine"] = engine
    app.extensions["sessionmaker"] = sessionmaker(engine, expire_on_commit=False)

    @app.teardown_appcontext
    def _close_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            session.close()


def db_session() -> Session:
    if "db_session" not in g:
        g.db_session = current_app.extensions["sessionmaker"]()
    session: Session = g.db_session
    return session


def library() -> Library:
    config = current_app.config
    from pathlib import Path

    return Library(processes_dir=Path(config["PROCESSES_DIR"]), forms_dir=Path(config["FORMS_DIR"]),
                   rules_dir=Path(config["RULES_DIR"]), timezone=config["BABEL_DEFAULT_TIMEZONE"],
                   versions_dir=Path(config["VERSIONS_DIR"]))


def now() -> Any:
    """The current time, or the test's clock when one is configured."""
    clock = current_app.config.get("CLOCK")
    return clock() if clock else utcnow()


def document_storage() -> DocumentStorage:
    """Where document bytes live (a folder, or S3-compatible storage), built once per app from its config."""
    storage: DocumentStorage | None = current_app.extensions.get("document_storage")
    if storage is None:
        from registry.documents import storage_from_config

        storage = current_app.extensions["document_storage"] = storage_from_config(current_app.config)
    return storage


def ministry_sources() -> list[Any]:
    """The other ministries' data sources, file-backed or HTTP as configured."""
    from registry.ministries import sources_from_config

    return list(sources_from_config(current_app.config))


def deployed_library() -> Library:
    """The files new cases run with: the latest deployed version's (the working files before any deployment)."""
    from engine.deployments import current_library
    from registry.process_catalogue import PROCESSES

    if "deployed_library" not in g:  # once per request: pages name forms and categories many times
        g.deployed_library = current_library(db_session(), library(), PROCESSES[0])
    found: Library = g.deployed_library
    return found

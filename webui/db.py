"""One SQLAlchemy engine per app, one session per request."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from flask import Flask, current_app, g
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker

from engine.db import utcnow
from engine.library import Library
from registry.documents import DocumentStorage

if TYPE_CHECKING:
    from registry.process_catalogue import VersionKey


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
    # No JIT compilation: the planner's cost of a query over a registry-size table passes jit_above_cost, and
    # compiling then added about 46 ms to queries that run in a few (a page's whole budget is 50 ms).
    options = {"connect_args": {"options": "-c jit=off"}} if url.startswith("postgresql") else {}
    engine = create_engine(url, pool_size=10, max_overflow=20, **options)
    _ping_idle_connections(engine)
    return engine


#: Seconds a pooled connection may sit unused before it is checked at checkout. A restarted server or a firewall
#: drops idle connections; one returned a moment ago is almost surely alive, and under load pinging it anyway
#: (``pool_pre_ping``) cost a round trip per request. A server that dies under load fails the requests then in
#: flight once; the pool is then emptied and refilled.
PING_AFTER_IDLE_SECONDS = 5.0


def _ping_idle_connections(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_connection: Any, record: Any) -> None:
        record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("returned_at", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(str(error)) from error  # the pool drops it and connects again


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


def deployed_version() -> VersionKey | None:
    """The latest deployed version of the case process (a ``VersionKey``, None before any), asked once per request."""
    from registry.process_catalogue import PROCESSES, latest_version_key

    if "deployed_version" not in g:
        g.deployed_version = latest_version_key(db_session(), PROCESSES[0])
    found: VersionKey | None = g.deployed_version
    return found


def deployed_library() -> Library:
    """The files new cases run with: the latest deployed version's (the working files before any deployment)."""
    from registry.process_catalogue import deployed_library_of

    if "deployed_library" not in g:  # once per request: pages name forms and categories many times
        g.deployed_library = deployed_library_of(db_session(), library(), deployed_version())
    found: Library = g.deployed_library
    return found

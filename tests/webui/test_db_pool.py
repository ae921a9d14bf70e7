"""The connection pool replaces a connection the server dropped while it sat idle, without a failed request."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import own_postgres_database
from webui import db


@pytest.mark.postgres
def test_an_idle_connection_the_server_dropped_is_replaced_at_checkout(monkeypatch: pytest.MonkeyPatch) -> None:
    with own_postgres_database("mosd_pool") as url:
        engine = db.make_engine(url)
        try:
            with engine.connect() as connection:
                first = connection.scalar(text("SELECT pg_backend_pid()"))
            killer = create_engine(url, poolclass=NullPool)  # not from the pool, which would hand out the same
            with killer.begin() as connection:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
            killer.dispose()
            monkeypatch.setattr(db, "PING_AFTER_IDLE_SECONDS", 0.0)  # as if it had sat idle a while
            with engine.connect() as connection:
                assert connection.scalar(text("SELECT 1")) == 1
                assert connection.scalar(text("SELECT pg_backend_pid()")) != first
        finally:
            engine.dispose()

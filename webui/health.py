"""Probes for a load balancer: ``/healthz`` (the process answers) and ``/readyz`` (it can serve)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy.exc import DBAPIError

from webui.errors import RETRY_AFTER_SECONDS

bp = Blueprint("health", __name__)

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def _expected_heads() -> set[str]:
    """The head revisions of the migration scripts this code was shipped with (read once per process)."""
    heads = current_app.extensions.get("migration_heads")
    if heads is None:
        from alembic.script import ScriptDirectory

        heads = set(ScriptDirectory(str(MIGRATIONS)).get_heads())
        current_app.extensions["migration_heads"] = heads
    return set(heads)


def _not_ready(reason: str, **facts: Any) -> Any:
    return jsonify({"status": "unavailable", "reason": reason, **facts}), 503, \
        {"Retry-After": str(RETRY_AFTER_SECONDS)}


@bp.route("/healthz")
def healthz() -> Any:
    """The process is alive; touches no database, so a database outage never restarts the servers."""
    return jsonify({"status": "ok"})


@bp.route("/readyz")
def readyz() -> Any:
    """Ready when the database answers and its schema is at the migrations' head."""
    # alembic (and mako, pygments with it: ~10 MB) loads in the workers that answer probes, not in every one.
    from alembic.runtime.migration import MigrationContext

    engine = current_app.extensions["db_engine"]
    try:
        with engine.connect() as connection:
            current = set(MigrationContext.configure(connection).get_current_heads())
    except DBAPIError as error:
        current_app.logger.warning("readiness: database unreachable: %s", error.orig)
        return _not_ready("database unreachable")
    expected = _expected_heads()
    if current != expected:
        return _not_ready("database schema is not at the latest migration",
                          database=sorted(current), expected=sorted(expected))
    return jsonify({"status": "ready", "revision": sorted(current)})

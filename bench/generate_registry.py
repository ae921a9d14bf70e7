"""A registry-size database: synthetic but valid households, people, cases, task rows, audit events, scores.

Shaped like the national registry of the first update campaign (defaults): 136,000 households with
~747,000 people (valid 9-digit national IDs with their check digit), one case per household across the
16 directorates (30,000 in Ramallah and al-Bireh, RBH), ~1,000,000 task rows (most completed, a few
thousand ready in each directorate's reception, supervisor and case-manager lanes, some assigned to the
seeded demo users), ~680,000 audit events and one eligibility score per household.

A handful of cases (one per stage, in RBH) are real: started and moved on through ``registry.cases`` with
the demo users, so their task pages and completions work. Every synthetic case gets its own process
instance row holding the state of the real case at the same stage, so task pages of synthetic tasks load
(they show that state's data; completing one is refused as stale, since its task is not in that state).
Scores are real scorings of a pool of household profiles by the rule files; each synthetic household
copies one profile (its living conditions and members' attributes), so a score always matches the data.

Rows are written in chunks of households: PostgreSQL through COPY (psycopg's ``cursor.copy``), SQLite
through SQLAlchemy Core ``insert()`` with many rows per statement.

Use::

    .venv/bin/python bench/generate_registry.py postgresql+psycopg://postgres@127.0.0.1:5432/mydb
    .venv/bin/python bench/generate_registry.py --create            # a new PostgreSQL database, kept
    .venv/bin/python bench/generate_registry.py --smoke sqlite:////tmp/registry.sqlite3

or, from Python, ``generate(url, households=...)``. The database must be new (it is migrated to head
first). Prints ``bench generate_<table>: N rows`` for every table and ``bench generate_time: S s``.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from registry.demo_registry import (  # noqa: E402,F401 (after the path set-up; names the benchmarks import)
    BIG_DIRECTORATE,
    HOUSEHOLDS,
    LOCALITIES,
    REVIEW_REQUEST,
    SMOKE_HOUSEHOLDS,
    fill,
    walk,
)
from registry.demo_registry import Driver as _Driver  # noqa: E402


class Driver(_Driver):
    """The registry's driver, completing with the app's document storage (as the web app does)."""

    def complete(self, username: str, case_id: int, data: dict[str, Any], form: str) -> None:
        if self.storage is None:
            from webui.db import document_storage

            self.storage = document_storage()
        super().complete(username, case_id, data, form)


def configured_postgres_url() -> str | None:
    """DATABASE_URL when it names a PostgreSQL server (the database benchmarks are asked to measure)."""
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


def _admin_url() -> str:
    """Where to create and drop benchmark databases: BENCH_POSTGRES_ADMIN_URL, else the server of
    DATABASE_URL when it is PostgreSQL, else that of TEST_POSTGRES_URL (their ``postgres`` database),
    else the local server."""
    if os.environ.get("BENCH_POSTGRES_ADMIN_URL"):
        return os.environ["BENCH_POSTGRES_ADMIN_URL"]
    server = configured_postgres_url() or os.environ.get("TEST_POSTGRES_URL")
    if server:
        from sqlalchemy.engine import make_url

        return make_url(server).set(database="postgres").render_as_string(hide_password=False)
    return "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


ADMIN_URL = _admin_url()


def registry_url() -> str | None:
    """BENCH_REGISTRY_URL: a registry-size database generated once (by ``make bench``) for every script
    that reads one; scripts leave it as they found it."""
    return os.environ.get("BENCH_REGISTRY_URL") or None

def emit(name: str, value: Any, unit: str = "") -> None:
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    print(f"bench {name}: {text}{' ' + unit if unit else ''}", flush=True)


# --- the generator --------------------------------------------------------------------------------

@dataclass
class Summary:
    url: str
    households: int
    counts: dict[str, int]
    seconds: float
    big_directorate: str = BIG_DIRECTORATE
    real_cases: dict[str, int] = field(default_factory=dict)


def _progress(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


def generate(url: str, *, households: int = HOUSEHOLDS, seed: int = 7,
             progress: Callable[[str], None] | None = _progress) -> Summary:
    """Migrate ``url`` to head and fill it; returns the rows written per table and the time taken."""
    from app import create_app
    from webui.cli import upgrade_database

    say = progress or (lambda _text: None)
    started = time.perf_counter()
    upgrade_database(url)
    say(f"migrated {url.split('@')[-1]} to head ({time.perf_counter() - started:.1f} s)")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DEMO_MODE": True, "MINISTRY_BACKEND": "file"})
    try:
        with app.app_context():
            from webui.db import db_session, document_storage, library

            counts, real = fill(db_session(), engine=app.extensions["db_engine"], library=library(),
                                rules_dir=app.config["RULES_DIR"], households=households, seed=seed, say=say,
                                started=started, require_empty=True, storage=document_storage())
    finally:
        app.extensions["db_engine"].dispose()
    return Summary(url=url, households=households, counts=counts, seconds=time.perf_counter() - started,
                   real_cases=real)


# --- PostgreSQL databases for benchmarks ------------------------------------------------------------

def postgres_available(admin_url: str = ADMIN_URL) -> bool:
    """Whether benchmarks can create databases on PostgreSQL; when DATABASE_URL names a server that does
    not answer, the run stops rather than measure SQLite instead."""
    from sqlalchemy import create_engine

    try:
        engine = create_engine(admin_url, connect_args={"connect_timeout": 3})
        engine.connect().close()
        engine.dispose()
        return True
    except Exception as err:  # noqa: BLE001 (any failure means: not available)
        if configured_postgres_url():
            raise SystemExit(f"DATABASE_URL's PostgreSQL server does not answer: {err}") from err
        return False


def create_database(prefix: str = "mosd_bench", admin_url: str = ADMIN_URL) -> str:
    """A new, empty PostgreSQL database ``<prefix>_<random>``; returns its URL."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = f"{prefix}_{secrets.token_hex(4)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str, admin_url: str = ADMIN_URL) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    assert name and name.startswith("mosd_"), name
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
    engine.dispose()


def smoke_requested(argv: list[str] | None = None) -> bool:
    return os.environ.get("BENCH_SMOKE", "") not in ("", "0") or "--smoke" in (argv or [])


def report(summary: Summary) -> None:
    for name, count in sorted(summary.counts.items()):
        emit(f"generate_{name}", count, "rows")
    emit("generate_time", summary.seconds, "s")
    emit("generate_households_per_s", summary.households / summary.seconds, "households/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("url", nargs="?", help="SQLAlchemy URL of a new database (PostgreSQL or SQLite)")
    parser.add_argument("--create", action="store_true", help="create a new PostgreSQL database and keep it")
    parser.add_argument("--households", type=int, default=None)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_HOUSEHOLDS} households")
    args = parser.parse_args(argv)
    households = args.households or (SMOKE_HOUSEHOLDS if smoke_requested(sys.argv) or args.smoke else HOUSEHOLDS)
    if args.create == bool(args.url):
        parser.error("give a database URL or --create")
    url = create_database("mosd_registry") if args.create else args.url
    print(f"# generating {households:,} households into {url}", flush=True)
    summary = generate(url, households=households, seed=args.seed)
    report(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())

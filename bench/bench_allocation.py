"""Allocating a data-update campaign: 136,000 visits spread over the case managers' days.

Fills a new database (PostgreSQL when it answers, as the other registry-size benchmarks; else a SQLite file)
with households spread over every directorate and 19 case managers each, one campaign over all of them,
then times ``registry.campaigns.allocation.allocate`` for every directorate, as each supervisor would run it.
Prints ``bench allocate_campaign: <s> s`` (all directorates) and the visits per second.
``--smoke`` (or ``BENCH_SMOKE=1``) does 2,000 visits, only to show the benchmark still runs.

    .venv/bin/python bench/bench_allocation.py
"""

from __future__ import annotations

import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from generate_registry import (  # noqa: E402
    LOCALITIES,
    create_database,
    drop_database,
    emit,
    postgres_available,
    smoke_requested,
)

SMOKE = smoke_requested(sys.argv[1:])
VISITS = 2_000 if SMOKE else 136_000
CASE_MANAGERS = 19
NOW = dt.datetime(2026, 12, 1, 6, 0, tzinfo=dt.UTC)


def fill(url: str) -> int:
    """Households, staff and one campaign with a visit per household; returns the campaign's id."""
    from sqlalchemy import create_engine, insert, select

    from app import create_app
    from registry.campaigns.models import Campaign, CampaignDirectorate, Visit
    from registry.models import Directorate, Household, Role, User
    from registry.seed import seed_reference
    from webui.cli import upgrade_database
    from webui.db import db_session

    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        session = db_session()
        seed_reference(session)
        session.commit()
        directorates = list(session.scalars(select(Directorate).order_by(Directorate.code)))
    app.extensions["db_engine"].dispose()
    engine = create_engine(url)
    rnd = random.Random(12)
    with engine.begin() as connection:
        staff = []
        for directorate in directorates:
            staff.append({"username": f"sup_{directorate.code}", "full_name": "Supervisor",
                          "role": Role.SUPERVISOR.value, "directorate_id": directorate.id, "password_hash": "-",
                          "is_demo": False, "active": True})
            staff += [{"username": f"cm_{directorate.code}_{n}", "full_name": f"Case manager {n}",
                       "role": Role.CASE_MANAGER.value, "directorate_id": directorate.id, "password_hash": "-",
                       "is_demo": False, "active": True} for n in range(CASE_MANAGERS)]
        connection.execute(insert(User), staff)
        campaign_id = connection.execute(insert(Campaign).returning(Campaign.id), [{
            "name": "Update 2026-2027", "starts_on": dt.date(2026, 12, 6), "ends_on": dt.date(2027, 6, 30),
            "status": "active", "include": ["beneficiaries"], "created_at": NOW}]).scalar_one()
        connection.execute(insert(CampaignDirectorate), [
            {"campaign_id": campaign_id, "directorate_id": d.id} for d in directorates])
        households = []
        for n in range(VISITS):
            directorate = directorates[n % len(directorates)]
            households.append({"id": n + 1, "directorate_id": directorate.id,
                               "governorate_code": directorate.governorate_code,
                               "locality": f"{rnd.choice(LOCALITIES)} {rnd.randint(1, 12)}",
                               "address": f"street {rnd.randint(1, 400)}", "reasons": [], "living_conditions": {},
                               "sources": {}, "consent_data_exchange": False, "created_at": NOW, "updated_at": NOW})
        for start in range(0, VISITS, 10_000):
            connection.execute(insert(Household), households[start:start + 10_000])
            connection.execute(insert(Visit), [
                {"campaign_id": campaign_id, "household_id": h["id"], "directorate_id": h["directorate_id"],
                 "locality": h["locality"], "attempt": 1, "updated_at": NOW, "lock_version": 1}
                for h in households[start:start + 10_000]])
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql("SELECT setval(pg_get_serial_sequence('households', 'id'), "
                                       "(SELECT max(id) FROM households))")
            connection.exec_driver_sql("ANALYZE")
    engine.dispose()
    return campaign_id


def measure(url: str, campaign_id: int) -> None:
    from sqlalchemy import select

    from app import create_app
    from registry.campaigns.allocation import allocate
    from registry.models import User
    from webui.db import db_session

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        session = db_session()
        supervisors = list(session.scalars(select(User).where(User.username.like("sup_%")).order_by(User.username)))
        allocated = unallocated = 0
        started = time.perf_counter()
        for supervisor in supervisors:
            report = allocate(session, actor=supervisor, campaign_id=campaign_id,
                              directorate_code=supervisor.directorate.code, now=NOW)
            allocated += report.allocated
            unallocated += report.unallocated
        seconds = time.perf_counter() - started
    app.extensions["db_engine"].dispose()
    if allocated + unallocated != VISITS:
        raise SystemExit(f"allocation saw {allocated + unallocated} visits, not {VISITS}")
    emit("allocate_campaign", seconds, "s")
    emit("allocate_visits_per_s", VISITS / seconds, "visits/s")
    emit("allocate_unallocated", unallocated, "visits")


def main() -> int:
    print(f"# {VISITS} visits, {CASE_MANAGERS} case managers per directorate{', smoke size' if SMOKE else ''}")
    if postgres_available():
        url = create_database("mosd_bench_alloc")
        try:
            measure(url, fill(url))
        finally:
            drop_database(url)
        return 0
    print("# PostgreSQL does not answer: SQLite file instead")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'allocation.sqlite3'}"
        measure(url, fill(url))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The timer worker: a thousand due BPMN timers fired by two worker processes, each exactly once.

Fills a new database (PostgreSQL when it answers, as the other benchmarks; else a SQLite file) with cases on
the timer tests' small process (``tests/timer_demo.py``), each waiting at its task's boundary timer (three
days). Then two worker processes (``multiprocessing``, each with its own engine, as two ``flask worker``
processes would have) run ``registry.worker.run_once`` passes at a clock moved past the deadline until
nothing is left. Counts the timer rows fired and the ``timer_fired`` audit events, and checks that no timer
was fired twice or left behind.

Prints ``bench timers_due``, ``bench timers_fired_once: yes|no``, ``bench timers_fire_time: <s> s`` (from
both workers' start to the last one's end) and ``bench timers_rate``. Exits 1 when a timer did not fire
exactly once or a worker failed. ``--smoke`` (or ``BENCH_SMOKE=1``) uses 40 cases.

    .venv/bin/python bench/bench_timers.py
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for place in (str(ROOT), str(BENCH)):
    if place not in sys.path:
        sys.path.insert(0, place)

from generate_registry import (  # noqa: E402 (after the path set-up)
    create_database,
    drop_database,
    emit,
    postgres_available,
    smoke_requested,
)

SMOKE = smoke_requested(sys.argv[1:])
TIMERS = 40 if SMOKE else 1_000
WORKERS = 2
START = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
#: The clock the workers run at: past every case's three-day boundary timer.
DUE = START + dt.timedelta(days=3, minutes=1)
BATCH = 100


def fill(url: str, versions_dir: Path) -> None:
    """Migrate, seed the directorates, and open ``TIMERS`` cases that wait at their boundary timer."""
    from sqlalchemy import select
    from sqlalchemy.orm import sessionmaker

    from registry.models import Case, Directorate
    from registry.seed import seed_reference
    from tests import timer_demo
    from webui.cli import upgrade_database
    from webui.db import make_engine

    upgrade_database(url)
    library = timer_demo.timer_library(versions_dir)
    engine = make_engine(url)
    try:
        with sessionmaker(engine, expire_on_commit=False)() as session:
            seed_reference(session)
            version = timer_demo.deploy(session, library)
            session.commit()
            directorate = session.scalars(select(Directorate).order_by(Directorate.id)).first()
            assert directorate is not None
            for index in range(TIMERS):
                case = Case(reference=f"T-{index}", directorate_id=directorate.id, created_at=START)
                session.add(case)
                session.flush()
                advance = timer_demo.start(session, library, version, key=str(case.id), now=START)
                case.instance_id = advance.instance.id
                if (index + 1) % BATCH == 0:
                    session.commit()
            session.commit()
    finally:
        engine.dispose()


def work(url: str, versions_dir: str, ready: Any, go: Any, results: Any) -> None:
    """One worker process: wait for the start, then run passes at the moved clock until one finds nothing."""
    from sqlalchemy.orm import sessionmaker

    from registry.worker import run_once
    from tests import timer_demo
    from webui.db import make_engine

    library = timer_demo.timer_library(Path(versions_dir))
    engine = make_engine(url)
    factory = sessionmaker(engine, expire_on_commit=False)
    fired = failed = passes = 0
    try:
        ready.put(True)
        go.wait()
        started = time.perf_counter()
        while True:
            report = run_once(factory, now=DUE, library=library)
            passes += 1
            fired += len(report.fired)
            failed += len(report.failed)
            if not report.fired and not report.failed:
                break
        results.put({"fired": fired, "failed": failed, "passes": passes, "started": started,
                     "ended": time.perf_counter()})
    except BaseException as err:  # reported to the parent: a child's exception would otherwise only be logged
        results.put({"error": f"{type(err).__name__}: {err}"})
        raise
    finally:
        engine.dispose()


def counts(url: str) -> dict[str, int]:
    from sqlalchemy import func, select

    from engine.models import Timer, TimerState
    from registry.models import AuditEvent
    from webui.db import make_engine

    engine = make_engine(url)
    try:
        with engine.connect() as db:
            states = dict(db.execute(select(Timer.state, func.count()).group_by(Timer.state)).tuples().all())
            events = db.scalar(select(func.count()).select_from(AuditEvent)
                               .where(AuditEvent.action == "timer_fired")) or 0
            per_case = (select(func.count().label("n")).select_from(AuditEvent)
                        .where(AuditEvent.action == "timer_fired").group_by(AuditEvent.case_id).subquery())
            per_timer = db.scalar(select(func.max(per_case.c.n)))
    finally:
        engine.dispose()
    return {"pending": states.get(TimerState.PENDING.value, 0), "fired": states.get(TimerState.FIRED.value, 0),
            "events": int(events), "most_per_case": int(per_timer or 0)}


def measure(url: str, versions_dir: Path) -> int:
    context = multiprocessing.get_context("spawn")
    ready, go, results = context.Queue(), context.Event(), context.Queue()
    workers = [context.Process(target=work, args=(url, str(versions_dir), ready, go, results))
               for _ in range(WORKERS)]
    for worker in workers:
        worker.start()
    for _ in workers:  # both have imported the application and opened their engine: start them together
        ready.get(timeout=300)
    go.set()
    reports = [results.get(timeout=1800) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    errors = [r["error"] for r in reports if "error" in r]
    if errors or any(worker.exitcode != 0 for worker in workers):
        raise SystemExit(f"a worker failed: {errors or [w.exitcode for w in workers]}")
    seconds = max(r["ended"] for r in reports) - min(r["started"] for r in reports)
    seen = counts(url)
    fired_by_workers = sum(r["fired"] for r in reports)
    once = (seen["fired"] == TIMERS and seen["events"] == TIMERS and seen["pending"] == 0
            and seen["most_per_case"] == 1 and fired_by_workers == TIMERS
            and not any(r["failed"] for r in reports))
    print(f"# workers fired {[r['fired'] for r in reports]} in {[r['passes'] for r in reports]} passes; "
          f"timer rows fired {seen['fired']}, pending {seen['pending']}; timer_fired events {seen['events']}")
    emit("timers_due", TIMERS, "timers")
    emit("timers_fired_once", "yes" if once else "no")
    emit("timers_fire_time", seconds, "s")
    emit("timers_rate", round(TIMERS / seconds), "timers/s")
    return 0 if once else 1


def main() -> int:
    print(f"# {TIMERS} due timers, {WORKERS} worker processes{', smoke size' if SMOKE else ''}")
    with tempfile.TemporaryDirectory() as folder:
        versions_dir = Path(folder) / "deployed"
        if postgres_available():
            url = create_database("mosd_bench_timers")
            try:
                fill(url, versions_dir)
                return measure(url, versions_dir)
            finally:
                drop_database(url)
        print("# PostgreSQL does not answer: SQLite file instead")
        url = f"sqlite:///{Path(folder) / 'timers.sqlite3'}"
        fill(url, versions_dir)
        return measure(url, versions_dir)


if __name__ == "__main__":
    sys.exit(main())

"""Re-scoring the registry after a rule change, end to end, through the real command path.

Runs ``registry.households.rescore`` (the code behind ``flask --app app registry rescore``: read households
and members, score with the rule files, write the new scores, note category changes in case histories)
with a copy of the rule files whose poverty cut-off k is lowered (1/3 to 1/4), so categories change.

The database: a TEMPLATE copy of BENCH_REGISTRY_URL (registry size, 136,000 households; the copy is dropped
at the end), else, when DATABASE_URL is PostgreSQL, a registry generated on its server by
``generate_registry.py`` (dropped at the end), else a SQLite file of 5,000 synthetic households.
``--smoke`` (or ``BENCH_SMOKE=1``) re-scores 200 synthetic households on a new database of DATABASE_URL's
server (or SQLite), only to show the benchmark still runs.

Prints ``bench rescore_rate: N households/s``, ``bench rescore_<size>: S s``,
``bench rescore_changed: N households`` (whose category the rule change changed) and
``bench rescore_bytes_per_score: N bytes`` (a new score's JSON columns as stored: compressed on PostgreSQL);
on a PostgreSQL server of this machine also ``bench rescore_server_cpu_per_household: N us`` (the CPU of
the database's server processes, read from /proc).
"""

from __future__ import annotations

import datetime as dt
import functools
import operator
import os
import random
import re
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from generate_registry import (  # noqa: E402 (after the path set-up)
    configured_postgres_url,
    create_database,
    drop_database,
    generate,
    registry_url,
    smoke_requested,
)

SMOKE = smoke_requested(sys.argv[1:])
SYNTHETIC_HOUSEHOLDS = 200 if SMOKE else 5000
REGISTRY_HOUSEHOLDS = 136_000


def _admin_of(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


def _template_copy(source: str) -> str:
    """A TEMPLATE copy of ``source`` on its server (retried while someone is connected to the source)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"mosd_bench_rescore_{os.urandom(4).hex()}"
    engine = create_engine(_admin_of(source), isolation_level="AUTOCOMMIT")
    try:
        for attempt in range(10):
            try:
                with engine.connect() as connection:
                    connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{make_url(source).database}"'))
                break
            except Exception:  # noqa: BLE001 (the source is busy: try again a little later)
                if attempt == 9:
                    raise
                time.sleep(3)
    finally:
        engine.dispose()
    return make_url(source).set(database=name).render_as_string(hide_password=False)


def _synthetic(url: str, households: int) -> None:
    """A migrated database with ``households`` households of 1–8 members, each scored once."""
    from sqlalchemy import select

    from app import create_app
    from registry.households import rescore
    from registry.models import Directorate, Household, Person
    from registry.seed import seed_reference
    from webui.cli import upgrade_database
    from webui.db import db_session

    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
    with app.app_context():
        session = db_session()
        seed_reference(session)
        directorate = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
        assert directorate is not None
        rnd = random.Random(7)
        for index in range(households):
            household = Household(directorate_id=directorate.id, governorate_code="PS-RBH", locality="-",
                                  living_conditions={
                                      "monthly_income": rnd.randint(0, 5000), "dwelling_type": "apartment",
                                      "dwelling_tenure": rnd.choice(["owned", "rented"]),
                                      "rooms": rnd.randint(1, 4),
                                      "water_source": "public_network", "sanitation": "public_sewer",
                                      "electricity": rnd.random() > 0.1, "cooking_fuel": "gas",
                                      "assets": ["refrigerator"], "services_hard_to_reach": []})
            session.add(household)
            session.flush()
            for position in range(rnd.randint(1, 8)):
                session.add(Person(household_id=household.id, position=position,
                                   national_id=f"{index:05d}{position:04d}", name_ar="-", name_search="-",
                                   relation="head" if position == 0 else "son", sex="male",
                                   birth_date=dt.date(1960 + rnd.randint(0, 60), 1, 1),
                                   disability=rnd.random() < 0.05, health_insurance=rnd.random() > 0.3))
        session.commit()
        # The scores before the rule change (a registered household has one).
        rescore(session, rules_dir=str(ROOT / "rules"), now=dt.datetime.now(dt.UTC))
    app.extensions["db_engine"].dispose()


@contextmanager
def _database(tmp: Path) -> Iterator[tuple[str, int]]:
    """The database to re-score and its size; a database made here is dropped at the end."""
    registry, postgres = registry_url(), configured_postgres_url()
    created = None
    try:
        if registry and not SMOKE:
            from webui.cli import upgrade_database

            url = created = _template_copy(registry)
            print(f"# a TEMPLATE copy of {registry.rsplit('/', 1)[-1]}: {url.rsplit('/', 1)[-1]}", flush=True)
            upgrade_database(url)  # the copy may predate the newest migrations
            size = REGISTRY_HOUSEHOLDS
        elif postgres and not SMOKE:
            url = created = create_database("mosd_bench_rescore", _admin_of(postgres))
            generate(url, households=REGISTRY_HOUSEHOLDS)
            size = REGISTRY_HOUSEHOLDS
        else:
            if postgres:
                url = created = create_database("mosd_bench_rescore", _admin_of(postgres))
            else:
                url = f"sqlite:///{tmp / 'rescore.sqlite3'}"
            _synthetic(url, SYNTHETIC_HOUSEHOLDS)
            size = SYNTHETIC_HOUSEHOLDS
        yield url, size
    finally:
        if created:
            drop_database(created, _admin_of(created))


def _changed_rules(tmp: Path) -> Path:
    """A copy of the rule files with k lowered from 1/3 to 1/4: the rule change the registry is re-scored for."""
    rules = tmp / "rules"
    shutil.copytree(ROOT / "rules", rules)
    measure = rules / "poverty_measure.yaml"
    text = measure.read_text(encoding="utf-8")
    changed = re.sub(r'(poverty_cutoff_k:\s*)"?[0-9/.]+"?', r'\g<1>"1/4"', text, count=1)
    assert changed != text, "the rules name the poverty cut-off k"
    measure.write_text(changed, encoding="utf-8")
    return rules


class _ServerCpu:
    """The CPU time of a database's server processes on this machine, sampled from /proc while it runs.

    A backend's title names its database; one that ends between two samples loses at most a sample's worth.
    """

    def __init__(self, url: str) -> None:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        self.database = parsed.database if parsed.get_backend_name() == "postgresql" else None
        self.available = bool(self.database) and parsed.host in ("127.0.0.1", "localhost") and Path("/proc").is_dir()
        self.start: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)

    def _backends(self) -> dict[int, float]:
        tick = os.sysconf("SC_CLK_TCK")
        found = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                if not title.startswith("postgres:") or f" {self.database} " not in title:
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            found[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        return found

    def _watch(self) -> None:
        while not self.stop.wait(0.5):
            self.last.update(self._backends())

    def __enter__(self) -> _ServerCpu:
        if self.available:
            self.start = self._backends()
            self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        if self.available:
            self.stop.set()
            self.thread.join()
            self.last.update(self._backends())

    @property
    def seconds(self) -> float:
        return sum(cpu - self.start.get(pid, 0.0) for pid, cpu in self.last.items())


def _bytes_per_score(session: object, after_id: int) -> tuple[float, float]:
    """(stored, JSON text) bytes of the JSON columns of the scores after ``after_id``, on average."""
    from sqlalchemy import LargeBinary, Text, cast, func, select
    from sqlalchemy.orm import Session

    from registry.models import EligibilityScore

    assert isinstance(session, Session)
    columns = (EligibilityScore.inputs, EligibilityScore.indicators, EligibilityScore.details, EligibilityScore.reasons)
    if session.get_bind().dialect.name == "postgresql":
        stored = [func.pg_column_size(c) for c in columns]
        as_text = [func.octet_length(cast(c, Text)) for c in columns]
    else:
        stored = as_text = [func.length(cast(c, LargeBinary)) for c in columns]
    row = session.execute(select(func.avg(functools.reduce(operator.add, stored)),
                                 func.avg(functools.reduce(operator.add, as_text)))
                          .where(EligibilityScore.id > after_id)).one()
    return float(row[0] or 0), float(row[1] or 0)


def main() -> None:
    from app import create_app
    from registry.households import rescore
    from webui.db import db_session

    with tempfile.TemporaryDirectory(prefix="bench_rescore_") as name, _database(Path(name)) as (url, size):
        rules = _changed_rules(Path(name))
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench"})
        with app.app_context():
            from sqlalchemy import func, select

            from registry.models import EligibilityScore

            print(f"# {url.split('://')[0]}, {size} households; load average before {os.getloadavg()[0]:.2f}",
                  flush=True)
            last_before = db_session().scalar(select(func.coalesce(func.max(EligibilityScore.id), 0)))
            db_session().commit()
            with _ServerCpu(url) as server:
                started, cpu = time.perf_counter(), time.process_time()
                summary = rescore(db_session(), rules_dir=str(rules), now=dt.datetime.now(dt.UTC))
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
            # Our process's CPU time is less noisy than the clock on a shared machine; the server's is not in it.
            print(f"# load average after {os.getloadavg()[0]:.2f}; our CPU {cpu:.1f} s "
                  f"({cpu / summary.households * 1e6:.0f} us per household); reasons {summary.reasons}",
                  flush=True)
            stored, as_text = _bytes_per_score(db_session(), last_before)
            db_session().rollback()
            print(f"# a new score's JSON: {as_text:.0f} bytes as text", flush=True)
        app.extensions["db_engine"].dispose()
    print(f"bench rescore_rate: {summary.households / elapsed:.0f} households/s")
    label = f"{summary.households // 1000}k" if summary.households >= 1000 else str(summary.households)
    print(f"bench rescore_{label}: {elapsed:.1f} s")
    print(f"bench rescore_changed: {summary.changed} households")
    print(f"bench rescore_bytes_per_score: {stored:.0f} bytes")
    if server.available:
        print(f"bench rescore_server_cpu_per_household: {server.seconds / summary.households * 1e6:.0f} us")


if __name__ == "__main__":
    main()

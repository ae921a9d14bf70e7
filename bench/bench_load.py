"""The web tier under the mixed load of ~300 case managers and their supervisors, driven by locust.

gunicorn serves the app's real entry point (``app:create_app()``, no control socket) on registry-size data on
PostgreSQL; locust, in a second process on loopback, plays every case manager and supervisor of the 16
directorates (304 + 32 users; ``bench/locust_staff.py``) for a fixed time: inbox, open a task, complete a
task, open a case, search, each user waiting 1-3 s between actions (the offered load is about users / 2
requests a second). Prints requests/s, p50/p95 per request type, errors, and the peak memory of the busiest
worker (``VmHWM``: the highest resident size the worker ever had, its logins included, and the highest RSS
sampled while the load ran).

Completions are real: before the load, cases are started and moved on through ``registry.cases`` in this
process (synthetic cases' tasks are refused as stale), so that each case manager has needs assessments
(then their assistance plans) of their own and each supervisor eligibility reviews to approve. Users log in
through the login form (session cookie, CSRF token) for pages and take an API bearer token for completions.

Database: ``BENCH_REGISTRY_URL`` (copied with TEMPLATE into ``mosd_bench_load_<random>``, since the bench
writes; dropped at the end), ``--reuse URL`` (written to as it is: a scratch copy), else a new registry is
generated (the smoke size on a SQLite file when PostgreSQL does not answer).

    .venv/bin/python bench/bench_load.py                           # 336 users, 60 s, 2 sync workers
    .venv/bin/python bench/bench_load.py --smoke                   # or BENCH_SMOKE=1: 2,000 households, 10 s
    .venv/bin/python bench/bench_load.py --reuse URL --workers 3 --threads 4 --seconds 60
    WEB_PRELOAD=0 .venv/bin/python bench/bench_load.py --reuse URL --directorates 2   # 42 users, not preloaded
    .venv/bin/python bench/bench_load.py --reuse URL --profile DIR # pyinstrument per request type, per worker

Exits 1 when a request failed or a worker died; it never judges speed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for place in (str(ROOT), str(BENCH)):
    if place not in sys.path:
        sys.path.insert(0, place)

from bench_soak import Client, Gunicorn, died  # noqa: E402 (after the path set-up)
from generate_registry import (  # noqa: E402
    BIG_DIRECTORATE,
    SMOKE_HOUSEHOLDS,
    Driver,
    create_database,
    drop_database,
    emit,
    generate,
    postgres_available,
    registry_url,
    report,
    smoke_requested,
)

TYPES = ("inbox", "supervisor_inbox", "open_task", "complete_task", "open_case", "search")
#: After completing a task of this form, the case's next task (same user) has that form.
FOLLOW = {"needs_assessment": "assistance_plan"}


# --- completable work, made in-process before the load ----------------------------------------------

def _staff(session: Any, *, directorates: int | None) -> dict[str, dict[str, list[Any]]]:
    """Active staff by directorate code and role (demo users first), the big directorate first."""
    from sqlalchemy import select

    from registry.models import Directorate, User

    found: dict[str, dict[str, list[Any]]] = {}
    rows = session.execute(select(User, Directorate.code).join(Directorate, User.directorate_id == Directorate.id)
                           .where(User.active, User.role.in_(("reception", "supervisor", "case_manager")))
                           .order_by(Directorate.id, User.id)).all()
    for user, code in rows:
        found.setdefault(code, {"reception": [], "supervisor": [], "case_manager": []})[user.role].append(user)
    codes = sorted(found, key=lambda code: code != BIG_DIRECTORATE)[:directorates]  # the biggest first
    return {code: found[code] for code in codes}


class Preparer:
    """Moves real cases of one directorate to the task a planned user completes next."""

    def __init__(self, driver: Driver, *, rnd: random.Random, serial: int) -> None:
        self.driver = driver
        self.rnd = rnd
        self.serial = serial  # fresh national IDs: 20 a household
        self.completions = 0

    def at_review(self, reception: Any, governorate: str) -> int:
        """A new case registered and recommended by ``reception``: at the supervisors' eligibility review."""
        from registry.demo_registry import LOCALITIES, RECOMMEND, household_profile, named_members, registration_data

        profile = household_profile(self.rnd)
        registration = registration_data(named_members(self.rnd, profile, self.serial), profile["conditions"],
                                         profile["reasons"], governorate=governorate,
                                         locality=self.rnd.choice(LOCALITIES), address="حي الجامعة",
                                         phone="0599123456")
        self.serial += 20
        case_id = self.driver.start(reception.username)
        self.driver.complete(reception.username, case_id, registration, "registration")
        self.driver.complete(reception.username, case_id, RECOMMEND, "eligibility_recommendation")
        self.completions += 2
        return case_id

    def at_assessment(self, reception: Any, governorate: str, *, supervisor: Any, manager: Any) -> int:
        """A new case approved by ``supervisor`` for ``manager``: at the manager's needs assessment."""
        case_id = self.at_review(reception, governorate)
        self.driver.complete(supervisor.username, case_id, {"decision": "approve", "case_manager": str(manager.id)},
                             "eligibility_review")
        self.completions += 1
        return case_id

    def ready_task(self, case_id: int) -> str:
        return str(self.driver.ready(case_id).id)


def prepare(url: str, *, workdir: Path, directorates: int | None, managers_per_directorate: int | None,
            cases_per_user: int, seed: int = 5) -> dict[str, Any]:
    """Start and move on real cases so that every planned user has tasks to complete; returns the plan
    (without logins): users with their work, tasks and cases to open, search terms; payloads by form."""
    from sqlalchemy import select

    from app import create_app
    from engine.db import utcnow
    from registry.demo_registry import _next_serial
    from registry.models import Directorate

    private = workdir / "prepare"  # deployed versions and documents of this run only (others may clean theirs)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DEMO_MODE": True, "MINISTRY_BACKEND": "file",
                      "DOCUMENT_STORAGE_DIR": str(private / "documents"), "VERSIONS_DIR": str(private / "deployed")})
    rnd = random.Random(seed)
    users: list[dict[str, Any]] = []
    started = time.perf_counter()
    now = utcnow()
    try:
        with app.app_context():
            from webui.db import db_session, library

            session = db_session()
            driver = Driver(session, library(), now=now)
            driver.clock = now - dt.timedelta(hours=2)  # its steps are 30 s apart: all in the past
            make = Preparer(driver, rnd=rnd, serial=_next_serial(session, 95_000_000, 99_000_000))  # after earlier runs
            for code, roles in _staff(session, directorates=directorates).items():
                directorate = session.scalar(select(Directorate).where(Directorate.code == code))
                assert directorate is not None
                place = {"code": code, "directorate_id": directorate.id}
                gov, reception = directorate.governorate_code, roles["reception"][0]
                managers, supervisors = roles["case_manager"][:managers_per_directorate], roles["supervisor"]
                for n, manager in enumerate(managers):
                    cases = [make.at_assessment(reception, gov, supervisor=supervisors[n % len(supervisors)],
                                                manager=manager) for _ in range(cases_per_user)]
                    work = [{"task_id": make.ready_task(c), "form": "needs_assessment", "case_id": c} for c in cases]
                    users.append({"username": manager.username, "role": "case_manager", "user_id": manager.id,
                                  "work": work, **place})
                for n, supervisor in enumerate(supervisors):
                    manager = (managers or roles["case_manager"])[n % len(managers or roles["case_manager"])]
                    cases = [make.at_review(reception, gov) for _ in range(cases_per_user)]
                    work = [{"task_id": make.ready_task(c), "form": "eligibility_review", "case_id": c,
                             "extra": {"case_manager": str(manager.id)}} for c in cases]
                    users.append({"username": supervisor.username, "role": "supervisor", "user_id": supervisor.id,
                                  "work": work, **place})
                print(f"# {code}: {len(managers)} case managers and {len(supervisors)} supervisors have work "
                      f"({make.completions} completions, {time.perf_counter() - started:.0f} s)", file=sys.stderr,
                      flush=True)
            session.close()
            _what_to_open(session, users)
            session.close()
    finally:
        app.extensions["db_engine"].dispose()
    emit("load_prepare_time", time.perf_counter() - started, "s")
    print(f"# prepared: {make.completions} completions for {len(users)} users", flush=True)
    return {"users": users, "payloads": payloads(driver.clock), "follow": FOLLOW}


def _what_to_open(session: Any, users: list[dict[str, Any]]) -> None:
    """Each user's own ready tasks, its cases (its directorate's for a supervisor), its directorate's people."""
    from sqlalchemy import select

    from engine.models import TaskRecord
    from registry.models import Case, Household, Person

    planned = [w["task_id"] for user in users for w in user["work"]]
    for user in users:
        mine = select(TaskRecord.id).where(TaskRecord.state == "ready")
        # In the user's own lane: the generator also sets the case manager as assignee of a case's plan
        # review (the supervisors' lane), which the case manager may not open (404).
        mine = mine.where(TaskRecord.lane == user["role"], TaskRecord.scope == user["code"])
        if user["role"] == "case_manager":
            mine = mine.where(TaskRecord.assignee_id == user["user_id"])
        # Without anyone's planned work: a task completed during the load is no longer there to open.
        mine = mine.where(TaskRecord.id.not_in(planned))
        user["open_tasks"] = list(session.scalars(mine.order_by(TaskRecord.created_at.desc()).limit(10)))
        cases = select(Case.id).where(Case.directorate_id == user["directorate_id"])
        if user["role"] == "case_manager":
            cases = cases.where(Case.case_manager_id == user["user_id"])
        user["cases"] = list(session.scalars(cases.order_by(Case.id.desc()).limit(20))) or [
            w["case_id"] for w in user["work"]]
        people = session.execute(select(Person.national_id, Person.name_ar).join(Household).where(
            Household.directorate_id == user["directorate_id"], Person.relation == "head")
            .order_by(Person.id.desc()).limit(10)).all()
        user["searches"] = [p.national_id for p in people[:5]] + [p.name_ar.split()[-1] for p in people[5:]]


def payloads(when: dt.datetime) -> dict[str, dict[str, Any]]:
    """What each form of the planned work submits (an eligibility review adds the chosen case manager)."""
    day, end = when.date().isoformat(), (when + dt.timedelta(days=90)).date().isoformat()
    return {
        "needs_assessment": {"visit_date": day, "needs_areas": ["health", "work"],
                             "needs_description": "The head is out of work; a child needs treatment.",
                             "household_resources": "Relatives help with rent.", "risk_level": "medium",
                             "another_visit_needed": False},
        "assistance_plan": {"goals": "Regular income and treatment.", "plan_start_date": day, "plan_end_date": end,
                            "household_agreed": True,
                            "interventions": [{"description": "Monthly cash transfer", "area": "cash",
                                               "provider_type": "ministry", "provider_name": "Cash Transfer Programme",
                                               "due_date": end}]},
        "eligibility_review": {"decision": "approve"},
    }


def log_in(port: int, users: list[dict[str, Any]], *, threads: int = 4) -> None:
    """The login form and an API token for every user (argon2 twice each: spread over a few threads)."""

    def one(user: dict[str, Any]) -> None:
        client = Client(port)
        client.login(user["username"])
        user["cookie"] = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
        user["token"] = client.api_token(user["username"])

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, users))


# --- memory of the workers --------------------------------------------------------------------------

class Memory:
    """Samples the RSS of gunicorn's workers while the load runs; reads their VmHWM at the end."""

    def __init__(self, master_pid: int, every: float = 0.25) -> None:
        import psutil

        self.master = psutil.Process(master_pid)
        self.every = every
        self.peak_rss: dict[int, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            for worker in self.master.children():
                try:
                    rss = worker.memory_info().rss
                except psutil.Error:
                    continue
                self.peak_rss[worker.pid] = max(rss, self.peak_rss.get(worker.pid, 0))
            self._stop.wait(self.every)

    def unique(self) -> dict[int, tuple[int, int]]:
        """Each live worker's USS and PSS now, in bytes: what it does not share with the others (a preloaded
        app's pages are shared until written) and its fair share of what it does."""
        import psutil

        found = {}
        for worker in self.master.children():
            try:
                info = worker.memory_full_info()
            except psutil.Error:
                continue
            found[worker.pid] = (info.uss, info.pss)
        return found

    def hwm(self) -> dict[int, int]:
        """Each live worker's VmHWM (its highest resident size ever), in bytes."""
        peaks = {}
        for worker in self.master.children():
            try:
                status = Path(f"/proc/{worker.pid}/status").read_text()
            except OSError:
                continue
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[worker.pid] = int(line.split()[1]) * 1024
        return peaks

    @contextmanager
    def sampling(self) -> Iterator[Memory]:
        self._thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            self._thread.join()


class Cpu:
    """CPU seconds the gunicorn workers and this database's PostgreSQL backends spent during the load: per
    request, what two quiet cores could serve whatever else runs on the machine meanwhile."""

    def __init__(self, master_pid: int, url: str) -> None:
        self.master_pid = master_pid
        self.url = url
        self.start: dict[int, float] = {}

    def _processes(self) -> list[Any]:
        import psutil

        found = psutil.Process(self.master_pid).children()
        if self.url.startswith("postgresql"):
            from sqlalchemy import create_engine, text
            from sqlalchemy.engine import make_url

            engine = create_engine(self.url)
            try:
                with engine.connect() as connection:
                    pids = connection.scalars(text("SELECT pid FROM pg_stat_activity WHERE datname = :name "
                                                   "AND pid <> pg_backend_pid()"),
                                              {"name": make_url(self.url).database}).all()
            finally:
                engine.dispose()
            for pid in pids:
                try:
                    found.append(psutil.Process(pid))
                except psutil.Error:
                    continue
        return found

    def _seconds(self) -> dict[int, float]:
        import psutil

        seconds = {}
        for process in self._processes():
            try:
                times = process.cpu_times()
            except psutil.Error:
                continue
            seconds[process.pid] = times.user + times.system
        return seconds

    def begin(self) -> None:
        self.start = self._seconds()

    def end(self) -> dict[str, float]:
        """CPU seconds of the workers and of the database backends since ``begin``."""
        import psutil

        workers = {p.pid for p in psutil.Process(self.master_pid).children()}
        spent = {"workers": 0.0, "database": 0.0}
        for pid, seconds in self._seconds().items():
            spent["workers" if pid in workers else "database"] += seconds - self.start.get(pid, 0.0)
        return spent


# --- locust ----------------------------------------------------------------------------------------

def locust(port: int, plan_path: Path, *, users: int, seconds: float, csv_prefix: Path) -> int:
    """Headless locust in its own process: all users spawned within ~5 s (their logins are already made),
    statistics reset once they all run, then ``seconds`` of load."""
    rate = max(1.0, users / 5)
    ramp = users / rate + 1
    binary = Path(sys.executable).parent / "locust"
    command = [str(binary if binary.exists() else ROOT / ".venv" / "bin" / "locust"), "-f",
               str(BENCH / "locust_staff.py"), "--headless", "-u", str(users), "-r", f"{rate:g}",
               "-t", f"{int(ramp + seconds)}s", "--reset-stats", "--csv", str(csv_prefix), "--only-summary",
               "--host", f"http://127.0.0.1:{port}", "--stop-timeout", "10", "--loglevel", "WARNING"]
    env = dict(os.environ, BENCH_LOAD_PLAN=str(plan_path))
    done = subprocess.run(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,  # noqa: S603
                          text=True, check=False, timeout=ramp + seconds + 120)
    if done.returncode not in (0, 1):  # 1: some requests failed (counted below)
        print(done.stdout[-3000:], file=sys.stderr)
    return done.returncode


def read_stats(csv_prefix: Path) -> tuple[dict[str, dict[str, float]], list[dict[str, str]]]:
    stats = {}
    with open(f"{csv_prefix}_stats.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            stats[row["Name"]] = {"count": float(row["Request Count"]), "failures": float(row["Failure Count"]),
                                  "p50": float(row["50%"] or 0), "p95": float(row["95%"] or 0),
                                  "rps": float(row["Requests/s"] or 0), "type": row["Type"]}
    with open(f"{csv_prefix}_failures.csv", encoding="utf-8") as handle:
        failures = list(csv.DictReader(handle))
    return stats, failures


# --- the bench --------------------------------------------------------------------------------------

def copy_database(source: str) -> str:
    """A TEMPLATE copy of ``source`` on its server, ``mosd_bench_load_<random>`` (retried while someone
    is still connected to the source, which PostgreSQL refuses)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"mosd_bench_load_{os.urandom(4).hex()}"
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


def _admin_of(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(database="postgres").render_as_string(hide_password=False)


@contextmanager
def database(args: argparse.Namespace, smoke: bool, tmp: Path) -> Iterator[str]:
    """The registry to load: ``--reuse``, a TEMPLATE copy of BENCH_REGISTRY_URL, or a generated one."""
    registry = registry_url()
    created = None
    try:
        if args.reuse:
            url = args.reuse
        elif registry:
            url = created = copy_database(registry)
            print(f"# a TEMPLATE copy of {registry.rsplit('/', 1)[-1]}: {url.rsplit('/', 1)[-1]}", flush=True)
        elif postgres_available():
            url = created = create_database("mosd_bench_load")
            report(generate(url, households=SMOKE_HOUSEHOLDS if smoke else 136_000))
        elif smoke:
            print("# PostgreSQL does not answer: the smoke load runs on a SQLite file", flush=True)
            url = f"sqlite:///{tmp / 'load.sqlite3'}"
            report(generate(url, households=SMOKE_HOUSEHOLDS))
        else:
            raise SystemExit("PostgreSQL does not answer (set BENCH_POSTGRES_ADMIN_URL); the full load needs it")
        yield url
    finally:
        if created and not args.keep:
            drop_database(created, _admin_of(created))
        elif created:
            print(f"# kept {created}", flush=True)


def main(argv: list[str] | None = None) -> int:
    from webui.cli import upgrade_database

    parser = argparse.ArgumentParser(description="The web tier under the mixed load of case managers and supervisors")
    parser.add_argument("--smoke", action="store_true", help="small size (also BENCH_SMOKE=1)")
    parser.add_argument("--reuse", metavar="DB_URL", help="a registry database to write to (a scratch copy)")
    parser.add_argument("--keep", action="store_true", help="keep the database made for the run")
    parser.add_argument("--seconds", type=float, default=None, help="length of the measured load (default 60)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as make run)")
    parser.add_argument("--threads", type=int, default=1, help="threads per worker (>1: the gthread worker)")
    parser.add_argument("--directorates", type=int, default=None, help="only this many directorates' staff")
    parser.add_argument("--managers", type=int, default=None, help="case managers per directorate (default all)")
    parser.add_argument("--cases-per-user", type=int, default=None, help="completable cases per user (default 2)")
    parser.add_argument("--wait", type=float, nargs=2, default=(1.0, 3.0), metavar=("MIN", "MAX"),
                        help="seconds each user waits between actions (default 1 3)")
    parser.add_argument("--profile", metavar="DIR", help="pyinstrument profiles per request type into DIR")
    args = parser.parse_args(argv)
    smoke = args.smoke or smoke_requested()
    seconds = args.seconds or (10.0 if smoke else 60.0)
    directorates = args.directorates or (1 if smoke else None)
    managers = args.managers or (3 if smoke else None)
    cases_per_user = args.cases_per_user or 2

    with tempfile.TemporaryDirectory(prefix="bench_load_") as tmp_name, \
            database(args, smoke, Path(tmp_name)) as url:
        tmp = Path(tmp_name)
        started = time.perf_counter()
        upgrade_database(url)  # a copy of a registry made before the latest migrations
        print(f"# {url.rsplit('/', 1)[-1]} at the migrations' head ({time.perf_counter() - started:.1f} s)", flush=True)
        plan = prepare(url, workdir=tmp, directorates=directorates, managers_per_directorate=managers,
                       cases_per_user=cases_per_user)
        plan.update(wait_min=args.wait[0], wait_max=args.wait[1])
        server_env = {}
        if args.threads > 1:  # the rest of the settings: gunicorn.conf.py (WEB_PRELOAD=0: no preloading)
            server_env["GUNICORN_CMD_ARGS"] = f"--worker-class gthread --threads {args.threads}"
        if args.profile:
            server_env["BENCH_PROFILE_DIR"] = str(Path(args.profile).resolve())
            server_env["GUNICORN_CMD_ARGS"] = (server_env.get("GUNICORN_CMD_ARGS", "")
                                               + f" --config {BENCH / 'gunicorn_profile.py'}").strip()
        with Gunicorn(url, workers=args.workers, log_dir=tmp, env=server_env) as server:
            server.wait_ready()
            started = time.perf_counter()
            log_in(server.port, plan["users"])
            emit("load_login_time", time.perf_counter() - started, "s")
            plan_path = tmp / "plan.json"
            plan_path.write_text(json.dumps(plan), encoding="utf-8")
            load_before = os.getloadavg()
            memory = Memory(server.process.pid)
            after_logins = memory.hwm()
            cpu = Cpu(server.process.pid, url)
            cpu.begin()
            children = resource.getrusage(resource.RUSAGE_CHILDREN)
            with memory.sampling():
                code = locust(server.port, plan_path, users=len(plan["users"]), seconds=seconds,
                              csv_prefix=tmp / "locust")
            spent = cpu.end()
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            spent["locust"] = after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime
            hwm = memory.hwm()
            unique = memory.unique()
            load_after = os.getloadavg()
            time.sleep(0.5)
            health = server.health()
        stats, failures = read_stats(tmp / "locust")

    roles = [u["role"] for u in plan["users"]]
    print(f"# users: {roles.count('case_manager')} case managers, {roles.count('supervisor')} supervisors "
          f"(waiting {args.wait[0]:g}-{args.wait[1]:g} s between actions), {seconds:g} s measured", flush=True)
    print(f"# workers: {args.workers} " + (f"gthread x {args.threads} threads" if args.threads > 1 else "sync")
          + (", preloaded" if os.environ.get("WEB_PRELOAD", "1") != "0" else ", not preloaded")
          + " (gunicorn.conf.py)", flush=True)
    print(f"# load average before/after: {' '.join(f'{v:.2f}' for v in load_before)} / "
          f"{' '.join(f'{v:.2f}' for v in load_after)} (2 cores shared with other work)", flush=True)
    total = stats.get("Aggregated", {"rps": 0.0, "failures": 0.0, "count": 0.0})
    skipped = stats.get("no_work_left", {}).get("count", 0.0)
    errors = int(total["failures"])
    emit("load_rps", total["rps"] - (skipped / seconds if skipped else 0.0), "requests/s")
    emit("load_requests", int(total["count"] - skipped))
    for name in TYPES:
        if name in stats and stats[name]["count"]:
            emit(f"load_{name}_p50_ms", stats[name]["p50"])
            emit(f"load_{name}_p95_ms", stats[name]["p95"])
            print(f"# {name}: {int(stats[name]['count'])} requests, {int(stats[name]['failures'])} failed", flush=True)
    if skipped:
        print(f"# {int(skipped)} completions skipped: the user had no work left (more with --cases-per-user)")
    emit("load_errors", errors)
    # CPU per request (the whole run, ramp-up included: an upper bound) and what it allows on two quiet cores.
    answered = max(1.0, sum(v["count"] for k, v in stats.items() if k in TYPES))
    emit("load_worker_cpu_ms_per_request", spent["workers"] * 1000 / answered)
    if url.startswith("postgresql"):  # SQLite's work is the workers' own
        emit("load_db_cpu_ms_per_request", spent["database"] * 1000 / answered)
    emit("load_locust_cpu_ms_per_request", spent["locust"] * 1000 / answered)
    if spent["workers"] + spent["database"]:
        emit("load_capacity_rps_2_quiet_cores", 2 * answered / (spent["workers"] + spent["database"]),
             "requests/s")
    mb = 1024 * 1024
    # RSS counts the pages a worker shares with the preloaded master; PSS only its share of them, USS none.
    emit("load_worker_peak_rss_mb", max(hwm.values(), default=0) / mb, "MB (target ≤ 100 MB)")
    emit("load_worker_pss_mb", max((pss for _uss, pss in unique.values()), default=0) / mb, "MB")
    emit("load_worker_uss_mb", max((uss for uss, _pss in unique.values()), default=0) / mb, "MB")
    emit("load_worker_rss_under_load_mb", max(memory.peak_rss.values(), default=0) / mb, "MB")
    print(f"# VmHWM per worker after the logins: {', '.join(f'{v / mb:.0f}' for v in after_logins.values())} MB; "
          f"after the load: {', '.join(f'{v / mb:.0f}' for v in hwm.values())} MB", flush=True)
    for failure in failures[:10]:
        print(f"# failed: {failure.get('Method')} {failure.get('Name')}: {failure.get('Error')} "
              f"x {failure.get('Occurrences')}", flush=True)
    deaths = died(health)
    if deaths:
        print(f"# {deaths} worker(s) died: {health['signs'][:5]}", flush=True)
    if code not in (0, 1):
        print(f"# locust exited with {code}", flush=True)
    return 1 if errors or deaths or code not in (0, 1) else 0


if __name__ == "__main__":
    sys.exit(main())

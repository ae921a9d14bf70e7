"""Soak: two gunicorn workers serve registry-size data on PostgreSQL; does any worker die?

Generates the registry-size data of ``bench/generate_registry.py`` (136,000 households, a million task
rows, 30,000 cases in RBH) into a new PostgreSQL database ``mosd_bench_<random>`` (dropped at the end; on
DATABASE_URL's server when that is PostgreSQL), or uses an existing one (``--reuse URL``, by default
BENCH_REGISTRY_URL; left as it is). Starts gunicorn with two sync workers on a free port with
``PYTHONFAULTHANDLER=1`` and no control socket, logs in as the big directorate's supervisor and
case managers (password ``demo``; the pages with a session cookie and the login form's CSRF token, the API
with a bearer token), then makes a few hundred requests from a few threads: inbox, case list, a case
page, the waiting list, registry search, and ``/api/v1/tasks``.

Prints requests, errors by status, p50/p95 per endpoint, the workers gunicorn booted and any that died
(its log is watched for "Fatal Python error", "Segmentation fault", "Worker (pid:...) was sent ...",
"WORKER TIMEOUT", and for more booted workers than configured). Exits 1 when a worker died or a request
failed; it never judges speed.

    .venv/bin/python bench/bench_soak.py                 # full size (minutes to generate)
    .venv/bin/python bench/bench_soak.py --smoke         # or BENCH_SMOKE=1: 2,000 households, 30 requests
    .venv/bin/python bench/bench_soak.py --reuse postgresql+psycopg://postgres@127.0.0.1:5432/mosd_registry_x

Without PostgreSQL the smoke size runs on a SQLite file instead (and says so); the full size needs it.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for place in (str(ROOT), str(BENCH)):
    if place not in sys.path:
        sys.path.insert(0, place)

from generate_registry import (  # noqa: E402 (after the path set-up)
    BIG_DIRECTORATE,
    SMOKE_HOUSEHOLDS,
    create_database,
    drop_database,
    emit,
    generate,
    postgres_available,
    registry_url,
    report,
    smoke_requested,
)

DEATH_MARKERS = ("Fatal Python error", "Segmentation fault", "WORKER TIMEOUT")
WORKER_SENT = re.compile(r"Worker \(pid:\d+\) was sent")
BOOTED = re.compile(r"Booting worker with pid: (\d+)")
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
PASSWORD = "demo"


# --- a small HTTP client: one per logged-in user, cookies kept by hand ------------------------------

@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes
    seconds: float

    def json(self) -> Any:
        return json.loads(self.body)


class Client:
    """HTTP/1.1 to 127.0.0.1 with a cookie jar of its own (sent whatever the cookies' Secure flag says,
    since the bench talks plain HTTP to its own server) and an optional bearer token."""

    def __init__(self, port: int, timeout: float = 180.0) -> None:
        self.port = port
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self.token: str | None = None

    def request(self, method: str, path: str, *, form: dict[str, str] | None = None, body: Any = None,
                bearer: bool = False, headers: dict[str, str] | None = None) -> Response:
        sent = dict(headers or {})
        payload: bytes | None = None
        if form is not None:
            payload = urllib.parse.urlencode(form).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        elif body is not None:
            payload = json.dumps(body).encode()
            sent["Content-Type"] = "application/json"
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if bearer and self.token:
            sent["Authorization"] = f"Bearer {self.token}"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=payload, headers=sent)
            answer = connection.getresponse()
            data = answer.read()
            seconds = time.perf_counter() - started
            for value in answer.headers.get_all("Set-Cookie") or []:
                self._keep(value)
            return Response(answer.status, {k.lower(): v for k, v in answer.getheaders()}, data, seconds)
        finally:
            connection.close()

    def _keep(self, header: str) -> None:
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(header)
        for name, morsel in cookie.items():
            if not morsel.value or morsel["max-age"] == "0" or "1970" in (morsel["expires"] or ""):
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    def login(self, username: str, password: str = PASSWORD) -> None:
        """The login form, with the CSRF token of the login page; fails loudly."""
        page = self.request("GET", "/login")
        match = CSRF.search(page.body.decode("utf-8", "replace"))
        if page.status != 200 or not match:
            raise SystemExit(f"login page: HTTP {page.status}, CSRF token {'found' if match else 'missing'}")
        answer = self.request("POST", "/login", form={"username": username, "password": password,
                                                      "csrf_token": match.group(1)})
        if answer.status not in (302, 303):
            raise SystemExit(f"login of {username}: HTTP {answer.status}")

    def api_token(self, username: str, password: str = PASSWORD) -> str:
        answer = self.request("POST", "/api/v1/auth/token", body={"username": username, "password": password})
        if answer.status != 200:
            raise SystemExit(f"API token of {username}: HTTP {answer.status} {answer.body[:200]!r}")
        self.token = str(answer.json()["token"])
        return self.token


# --- gunicorn --------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def gunicorn_binary() -> str:
    beside = Path(sys.executable).parent / "gunicorn"
    return str(beside if beside.exists() else ROOT / ".venv" / "bin" / "gunicorn")


class Gunicorn:
    """``gunicorn --workers N 'app:create_app()'`` on a free port; its log is kept in a file and read for
    crashed workers. Always ``stop()`` it (``with Gunicorn(...) as server``)."""

    def __init__(self, database_url: str, *, workers: int, timeout: int = 120, log_dir: Path,
                 env: dict[str, str] | None = None) -> None:
        self.workers = workers
        self.port = free_port()
        self.log_path = log_dir / f"gunicorn-{self.port}.log"
        env = dict(os.environ, DATABASE_URL=database_url, DEMO_MODE="1", SECRET_KEY=secrets.token_hex(16),
                   PYTHONFAULTHANDLER="1", DOCUMENT_STORAGE_DIR=str(log_dir / "documents"), **(env or {}))
        self._log = open(self.log_path, "wb")  # noqa: SIM115 (closed in stop())
        self.process = subprocess.Popen(  # noqa: S603 (our own server, fixed arguments)
            [gunicorn_binary(), "--workers", str(workers), "--bind", f"127.0.0.1:{self.port}",
             "--no-control-socket", "--timeout", str(timeout), "--log-level", "info", "app:create_app()"],
            cwd=ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def __enter__(self) -> Gunicorn:
        return self

    def __exit__(self, *_exc: Any) -> None:
        self.stop()

    def wait_ready(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if Client(self.port, timeout=10).request("GET", "/login").status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise SystemExit(f"gunicorn did not answer within {seconds:.0f} s:\n{self.log_tail()}")

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def health(self) -> dict[str, Any]:
        """Workers booted, and every sign of a worker that died, from the master's log."""
        text = self.log()
        booted = BOOTED.findall(text)
        signs = [line.strip() for line in text.splitlines()
                 if any(marker in line for marker in DEATH_MARKERS) or WORKER_SENT.search(line)]
        return {"booted": len(booted), "pids": booted, "signs": signs, "master_alive": self.process.poll() is None,
                "replaced": max(0, len(booted) - self.workers)}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)  # the group of the gunicorn we started
                self.process.wait(timeout=10)
        self._log.close()


def died(health: dict[str, Any]) -> int:
    """How many workers died: workers the master replaced or reported killed, or at least one if a
    worker's own dying words are in the log ("Fatal Python error: Segmentation fault")."""
    reported = sum(1 for sign in health["signs"] if WORKER_SENT.search(sign) or "WORKER TIMEOUT" in sign)
    return max(health["replaced"], reported, 1 if health["signs"] else 0)


# --- the soak --------------------------------------------------------------------------------------

@dataclass
class Samples:
    """Per endpoint: seconds of each answered request; statuses of every request."""

    seconds: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, endpoint: str, status: str, seconds: float | None, note: str = "") -> None:
        with self.lock:
            self.statuses[status] += 1
            if seconds is not None:
                self.seconds[endpoint].append(seconds)
            if status != "200" and len(self.failures) < 20:
                self.failures.append(f"{endpoint} -> {status} {note}".strip())


@dataclass
class Targets:
    """What the requests ask for: case ids and search terms of the big directorate."""

    case_ids: list[int]
    searches: list[str]
    users: list[str]
    tasks: dict[str, list[str]]  # ready task ids of the directorate by lane (role)
    roles: dict[str, str]  # username: role


def targets(database_url: str, *, directorate: str = BIG_DIRECTORATE) -> Targets:
    from sqlalchemy import create_engine, select

    from engine.models import TaskRecord
    from registry.models import Case, Directorate, Household, Person, User

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            code_id = connection.scalar(select(Directorate.id).where(Directorate.code == directorate))
            case_ids = list(connection.scalars(select(Case.id).where(Case.directorate_id == code_id)
                                               .order_by(Case.id.desc()).limit(400)))
            people = connection.execute(select(Person.national_id, Person.name_ar).join(Household).where(
                Household.directorate_id == code_id, Person.active, Person.relation == "head").limit(200)).all()
            managers = list(connection.scalars(select(User.username).where(
                User.directorate_id == code_id, User.role == "case_manager", User.active).order_by(User.id).limit(3)))
            tasks: dict[str, list[str]] = {}
            for role in ("supervisor", "case_manager"):
                tasks[role] = list(connection.scalars(select(TaskRecord.id).where(
                    TaskRecord.scope == directorate, TaskRecord.lane == role, TaskRecord.state == "ready")
                    .order_by(TaskRecord.created_at.desc()).limit(200)))
    finally:
        engine.dispose()
    if not case_ids or not people:
        raise SystemExit(f"no cases or people in {directorate}: is this a generated registry?")
    searches = [p.national_id for p in people[:100]] + [p.name_ar.split()[-1] for p in people[100:]]
    users = ["supervisor1"] + [m for m in managers if m == "casemanager1"] + [m for m in managers
                                                                             if m != "casemanager1"][:1]
    roles = {name: "supervisor" if name.startswith("supervisor") else "case_manager" for name in users}
    return Targets(case_ids=case_ids, searches=searches or [people[0].national_id], users=users, tasks=tasks,
                   roles=roles)


ENDPOINTS = {  # name: weight in the mix
    "inbox": 3, "case_list": 3, "case_page": 3, "task_page": 2, "waiting_list": 1, "search": 2, "api_tasks": 2,
}


def path_of(endpoint: str, rnd: random.Random, aims: Targets, username: str) -> tuple[str, bool]:
    if endpoint == "task_page":
        tasks = aims.tasks.get(aims.roles[username]) or []
        endpoint = "inbox" if not tasks else endpoint
        if tasks:
            return f"/tasks/{rnd.choice(tasks)}", False
    if endpoint == "inbox":
        return "/", False
    if endpoint == "case_list":
        return "/cases", False
    if endpoint == "case_page":
        return f"/cases/{rnd.choice(aims.case_ids)}", False
    if endpoint == "waiting_list":
        return "/registry/waiting-list", False
    if endpoint == "search":
        return "/registry/search?" + urllib.parse.urlencode({"q": rnd.choice(aims.searches)}), False
    return "/api/v1/tasks", True


def soak(port: int, aims: Targets, *, requests: int, threads: int, seconds: float, seed: int = 11) -> Samples:
    """``requests`` requests from ``threads`` logged-in users, stopping early at the deadline."""
    samples = Samples()
    counter = iter(range(requests))
    counter_lock = threading.Lock()
    deadline = time.monotonic() + seconds
    clients = []
    for index in range(threads):
        client = Client(port)
        username = aims.users[index % len(aims.users)]
        client.login(username)
        client.api_token(username)
        clients.append((client, username))

    def run(client: Client, username: str, rnd: random.Random) -> None:
        names, weights = list(ENDPOINTS), list(ENDPOINTS.values())
        while time.monotonic() < deadline:
            with counter_lock:
                if next(counter, None) is None:
                    return
            endpoint = rnd.choices(names, weights)[0]
            path, bearer = path_of(endpoint, rnd, aims, username)
            try:
                answer = client.request("GET", path, bearer=bearer)
            except (OSError, http.client.HTTPException) as err:  # a worker that dies drops its connection
                samples.add(endpoint, f"connection:{type(err).__name__}", None, path)
                continue
            samples.add(endpoint, str(answer.status), answer.seconds, path)

    workers = [threading.Thread(target=run, args=(client, username, random.Random(seed + i)), daemon=True)
               for i, (client, username) in enumerate(clients)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return samples


def percentile(values: list[float], fraction: float) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(fraction * 100) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Two gunicorn workers on registry-size data; any worker died?")
    parser.add_argument("--smoke", action="store_true", help="small size (also BENCH_SMOKE=1)")
    parser.add_argument("--reuse", metavar="DB_URL", default=registry_url(),
                        help="an already generated registry database, kept (default: BENCH_REGISTRY_URL)")
    parser.add_argument("--households", type=int, default=None)
    parser.add_argument("--requests", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None, help="stop making requests after this long")
    parser.add_argument("--keep", action="store_true", help="keep the generated database")
    args = parser.parse_args(argv)
    smoke = args.smoke or smoke_requested()
    households = args.households or (SMOKE_HOUSEHOLDS if smoke else 136_000)
    requests = args.requests or (30 if smoke else 300)
    threads = args.threads or (2 if smoke else 4)
    seconds = args.seconds or (45.0 if smoke else 1500.0)

    started = time.perf_counter()
    created: str | None = None
    with tempfile.TemporaryDirectory(prefix="bench_soak_") as tmp:
        try:
            if args.reuse:
                url = args.reuse
            elif postgres_available():
                url = created = create_database("mosd_bench")
            elif smoke:
                print("# PostgreSQL does not answer: the smoke soak runs on a SQLite file", flush=True)
                url = f"sqlite:///{Path(tmp) / 'soak.sqlite3'}"
            else:
                raise SystemExit("PostgreSQL does not answer (set BENCH_POSTGRES_ADMIN_URL); the full soak needs it")
            print(f"# soak: {url.split('@')[-1]}, 2 gunicorn workers, {requests} requests from {threads} threads",
                  flush=True)
            if not args.reuse:
                report(generate(url, households=households))
            aims = targets(url)
            with Gunicorn(url, workers=2, log_dir=Path(tmp)) as server:
                server.wait_ready()
                samples = soak(server.port, aims, requests=requests, threads=threads, seconds=seconds)
                time.sleep(0.5)  # let the master log a worker that died on the last request
                health = server.health()
        finally:
            if created and not args.keep:
                drop_database(created)
            elif created:
                print(f"# kept {created}", flush=True)

    total = sum(samples.statuses.values())
    errors = total - samples.statuses.get("200", 0)
    emit("soak_requests", total)
    emit("soak_errors", errors)
    for status, count in sorted(samples.statuses.items()):
        if status != "200":
            emit(f"soak_errors_{status.replace(':', '_')}", count)
    for endpoint in ENDPOINTS:
        values = samples.seconds.get(endpoint, [])
        if values:
            emit(f"soak_{endpoint}_p50", percentile(values, 0.5) * 1000, "ms")
            emit(f"soak_{endpoint}_p95", percentile(values, 0.95) * 1000, "ms")
            emit(f"soak_{endpoint}_requests", len(values))
    deaths = died(health)
    emit("soak_workers_booted", health["booted"])
    emit("soak_worker_deaths", deaths)
    emit("soak_time", time.perf_counter() - started, "s")
    for failure in samples.failures:
        print(f"# failed: {failure}", flush=True)
    for sign in health["signs"][:20]:
        print(f"# gunicorn: {sign}", flush=True)
    if not health["master_alive"]:
        print("# the gunicorn master had exited before the end", flush=True)
    broken = deaths > 0 or errors > 0 or not health["master_alive"]
    if broken:
        print("# soak FAILED: a worker died or a request failed", flush=True)
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())

"""The inbox, the case page and the registry's lists at registry size: p50 and p95 per view, with query plans.

Generates the registry-size data of ``bench/generate_registry.py`` (136,000 households, 30,000 cases in RBH)
into a new PostgreSQL database on the server of DATABASE_URL (dropped at the end), or uses an existing one
(``--reuse URL``, default BENCH_REGISTRY_URL, left as it is). Through the Flask test client, as RBH's
supervisor (``supervisor1``) and case manager (``casemanager1``, also through ``/api/v1/tasks``), times each
view (after one warm-up, the whole request: queries, rendering and session checks): a case manager's tasks,
a supervisor's open approvals, the directorate's overdue tasks, searches by name, national ID and reference,
filters, the case list, the waiting list, the registry's name search and the case page (several cases, one
that looped many times). Search values are read from the data, so every search finds something.

Prints per view ``bench inbox_<view>_p50_ms``, ``_p95_ms``, ``_kb``, ``_queries`` (statements one request
runs) and, on PostgreSQL, the plan of the request's slowest statement (EXPLAIN ANALYZE, BUFFERS) as ``#``
lines and ``bench inbox_<view>_index: yes|no`` (yes: that plan uses an index and no statement of the request
scans a large table sequentially). The case page's figures are ``bench case_page_*``.

    .venv/bin/python bench/bench_inbox.py                 # full size (about 3 minutes to generate)
    .venv/bin/python bench/bench_inbox.py --smoke         # or BENCH_SMOKE=1: 2,000 households
    .venv/bin/python bench/bench_inbox.py --reuse postgresql+psycopg://postgres@127.0.0.1:5432/mosd_registry_x
    .venv/bin/python bench/bench_inbox.py --reuse URL --only case_list,waiting_list --rounds 5
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
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

SUPERVISOR = "supervisor1"
CASE_MANAGER = "casemanager1"
PASSWORD = "demo"
TOTAL = re.compile(r'data-testid="match-total">(\d+)<')
#: Tables a page must never scan whole at registry size.
BIG_TABLES = re.compile(r"Seq Scan on (task_records|persons|cases|households|eligibility_scores)\b")
COST = re.compile(r"cost=[\d.]+\.\.([\d.]+)")
CASES_SHOWN = 5


def _samples(url: str) -> dict[str, Any]:
    """Values the searches and filters use, taken from RBH's ready tasks so each one finds rows, and cases
    to open (the oldest loops and a few ordinary ones)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as db:
            row = db.execute(text(
                "SELECT c.reference, p.national_id, p.name_ar, h.locality, t.stage FROM task_records t "
                "JOIN cases c ON c.instance_id = t.instance_id JOIN households h ON h.id = c.household_id "
                "JOIN persons p ON p.household_id = h.id AND p.relation = 'head' AND p.active "
                "WHERE t.state = 'ready' AND t.scope = :scope AND t.stage IS NOT NULL "
                "ORDER BY t.id LIMIT 1"), {"scope": BIG_DIRECTORATE}).one()
            due = db.execute(text("SELECT min(due_at), max(due_at) FROM task_records WHERE state = 'ready' "
                                  "AND scope = :scope"), {"scope": BIG_DIRECTORATE}).one()
            ready_cases = list(db.execute(text(
                "SELECT DISTINCT CAST(business_key AS integer) FROM task_records WHERE state = 'ready' "
                "AND scope = :scope ORDER BY 1 LIMIT :n"), {"scope": BIG_DIRECTORATE, "n": CASES_SHOWN - 1})
                .scalars())
            # The case with the most task rows of a sample of the directorate's: one that looped many times.
            looped = db.execute(text(
                "SELECT business_key FROM task_records WHERE business_key IN (SELECT CAST(c.id AS varchar) "
                "FROM cases c JOIN directorates d ON d.id = c.directorate_id WHERE d.code = :scope "
                "ORDER BY c.id LIMIT 3000) GROUP BY business_key ORDER BY count(*) DESC LIMIT 1"),
                {"scope": BIG_DIRECTORATE}).scalar_one()
    finally:
        engine.dispose()
    # SQLite answers min() and max() of a date column as text.
    due = [dt.datetime.fromisoformat(d) if isinstance(d, str) else d for d in due]
    middle = due[0] + (due[1] - due[0]) / 2
    return {"reference": row[0], "national_id": row[1], "name": row[2].split()[0], "locality": row[3],
            "stage": row[4], "due_from": (middle - (due[1] - due[0]) / 10).date().isoformat(),
            "due_to": middle.date().isoformat(), "cases": [int(looped), *ready_cases]}


def _team(**args: str) -> str:
    return "/?" + urllib.parse.urlencode({"view": "team", **args})


def _views(sample: dict[str, Any]) -> dict[str, tuple[str, list[str]]]:
    """Each view measured: who asks (a client name) and the paths it asks for (cycled through)."""
    api_filter = urllib.parse.urlencode({"locality": sample["locality"], "sort": "priority", "overdue": "1"})
    return {
        "casemanager_tasks": ("casemanager", ["/"]),
        "supervisor_open_approvals": ("supervisor", ["/"]),
        "directorate_overdue": ("supervisor", [_team(overdue="1", sort="priority")]),
        "team": ("supervisor", [_team()]),
        "search_name": ("supervisor", [_team(q=sample["name"])]),
        "search_national_id": ("supervisor", [_team(q=sample["national_id"])]),
        "search_reference": ("supervisor", [_team(q=sample["reference"])]),
        "filtered_stage_locality": ("supervisor", [_team(stage=sample["stage"], locality=sample["locality"],
                                                         sort="priority")]),
        "due_range_age": ("supervisor", [_team(due_from=sample["due_from"], due_to=sample["due_to"], sort="-age")]),
        "team_page_40": ("supervisor", [_team(team_page="40")]),
        "api_tasks": ("api", ["/api/v1/tasks"]),
        "api_tasks_filtered": ("api", [f"/api/v1/tasks?{api_filter}"]),
        "case_list": ("supervisor", ["/cases"]),
        "waiting_list": ("supervisor", ["/registry/waiting-list"]),
        "registry_search_name": ("supervisor", ["/registry/search?" + urllib.parse.urlencode({"q": sample["name"]})]),
        "case_page": ("supervisor", [f"/cases/{case_id}" for case_id in sample["cases"]]),
    }


class Statements:
    """The SQL statements a request runs, with their parameters and time (the slowest is its main query)."""

    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.engine = engine
        self.recording = False
        self.seen: list[tuple[float, str, Any]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, _cursor: Any, _statement: str, _parameters: Any, context: Any,
                _many: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        if self.recording:
            self.seen.append((time.perf_counter() - conn.info.pop("bench_started", time.perf_counter()),
                              statement, parameters))

    def record(self, work: Any) -> list[tuple[float, str, Any]]:
        self.seen, self.recording = [], True
        try:
            work()
        finally:
            self.recording = False
        return self.seen

    def plans(self, seen: list[tuple[float, str, Any]]) -> tuple[list[str], bool]:
        """The main query's plan as run (ANALYZE, BUFFERS): the read the planner costs highest (timings on
        a shared machine are too noisy to choose by), and whether every read of the request uses indexes:
        no sequential scan of a large table in any statement's plan, an index in the main one."""
        reads = [(sql, params) for _spent, sql, params in seen if sql.lstrip().upper().startswith("SELECT")]
        if not reads:
            return [], False
        with self.engine.connect() as db:
            scans, costs = [], []
            for sql, params in reads:
                plan = [r[0] for r in db.exec_driver_sql(f"EXPLAIN {sql}", params)]
                scans += BIG_TABLES.findall("\n".join(plan))
                found = COST.search(plan[0])
                costs.append(float(found.group(1)) if found else 0.0)
            sql, params = reads[costs.index(max(costs))]
            main = [r[0] for r in db.exec_driver_sql(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", params)]
            db.rollback()
        uses_index = any("Index" in line for line in main)
        return [" ".join(sql.split())[:400], *main], uses_index and not scans


def _quantile(times: list[float], share: float) -> float:
    ordered = sorted(times)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def _clients(app: Any) -> dict[str, tuple[Any, dict[str, str]]]:
    """A logged-in browser for the supervisor and the case manager, and the case manager's API token."""
    found: dict[str, tuple[Any, dict[str, str]]] = {}
    for name, username in (("supervisor", SUPERVISOR), ("casemanager", CASE_MANAGER)):
        browser = app.test_client()
        login = browser.post("/login", data={"username": username, "password": PASSWORD, "lang": "en"})
        if login.status_code != 302:
            raise SystemExit(f"login as {username} failed: {login.status_code}")
        found[name] = (browser, {})
    api = app.test_client()
    token = api.post("/api/v1/auth/token", json={"username": CASE_MANAGER, "password": PASSWORD})
    if token.status_code != 200:
        raise SystemExit(f"API token for {CASE_MANAGER} failed: {token.status_code}")
    found["api"] = (api, {"Authorization": f"Bearer {token.get_json()['token']}"})
    return found


def measure(url: str, *, rounds: int, only: set[str] | None = None) -> None:
    from app import create_app

    sample = _samples(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DEMO_MODE": True, "MINISTRY_BACKEND": "file",
                      "WTF_CSRF_ENABLED": False, "TESTING": True})
    engine = app.extensions["db_engine"]
    statements = Statements(engine)
    explain = engine.dialect.name == "postgresql"
    try:
        clients = _clients(app)
        for view, (who, paths) in _views(sample).items():
            if only and view not in only:
                continue
            client, headers = clients[who]
            for path in paths:  # warm-up: caches of the vocabulary and the deployed version
                answer = client.get(path, headers=headers)
                if answer.status_code != 200:
                    raise SystemExit(f"{path} answered {answer.status_code}: {answer.get_data(as_text=True)[:500]}")
            times = []
            for turn in range(max(rounds, len(paths))):
                path = paths[turn % len(paths)]
                started = time.perf_counter()
                answer = client.get(path, headers=headers)
                times.append(time.perf_counter() - started)
            figure = "case_page" if view == "case_page" else f"inbox_{view}"
            emit(f"{figure}_p50_ms", statistics.median(times) * 1000, "ms")
            emit(f"{figure}_p95_ms", _quantile(times, 0.95) * 1000, "ms")
            emit(f"{figure}_kb", len(answer.data) / 1024, "KB")
            body = answer.get_data(as_text=True)
            found = TOTAL.search(body)
            if answer.is_json:
                emit(f"{figure}_matches", answer.get_json().get("total", -1), "tasks")
            elif found:
                emit(f"{figure}_matches", int(found.group(1)), "tasks")
            seen = statements.record(lambda c=client, p=paths[0], h=headers: c.get(p, headers=h))
            emit(f"{figure}_queries", len(seen), "queries")
            if explain:
                plan, indexed = statements.plans(seen)
                for line in plan:
                    print(f"#   {line}")
                emit(f"{figure}_index", "yes" if indexed else "no")
    finally:
        engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", default=registry_url(),
                        help="an existing registry-size database, left as it is (default: BENCH_REGISTRY_URL)")
    parser.add_argument("--only", help="comma-separated views to measure (default: all)")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_HOUSEHOLDS} households")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    smoke = args.smoke or smoke_requested(sys.argv)
    rounds = args.rounds or (3 if smoke else 20)
    only = set(args.only.split(",")) if args.only else None
    if args.reuse:
        print(f"# reusing {args.reuse}")
        measure(args.reuse, rounds=rounds, only=only)
        return 0
    households = SMOKE_HOUSEHOLDS if smoke else None
    if postgres_available():
        url = create_database("mosd_bench")
        try:
            report(generate(url, **({"households": households} if households else {})))
            measure(url, rounds=rounds, only=only)
        finally:
            drop_database(url)
        return 0
    if not smoke:
        raise SystemExit("the full size needs PostgreSQL (BENCH_POSTGRES_ADMIN_URL)")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'registry.sqlite3'}"
        print("# PostgreSQL does not answer: SQLite file instead")
        report(generate(url, households=households or SMOKE_HOUSEHOLDS))
        measure(url, rounds=rounds, only=only)
    return 0


if __name__ == "__main__":
    sys.exit(main())

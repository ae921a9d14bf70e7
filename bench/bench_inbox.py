"""The inbox at registry size: a supervisor's pages with search, filters and sort, through the Flask test client.

Generates the registry-size data of ``bench/generate_registry.py`` (136,000 households, 30,000 cases in RBH)
into a new PostgreSQL database (dropped at the end), or uses an existing one (``--reuse URL``, left as it
is). Logs in as RBH's supervisor (``supervisor1``, password ``demo``) and times each inbox page (the median
of several requests after one warm-up, the whole request: query, rendering and session checks), then
``/api/v1/tasks`` with filters as a case manager. Search values (a head's name and national ID, a case
reference, a stage, a locality) are read from the data, so every search finds something.

Prints ``bench inbox_<what>_ms: <median> ms`` and ``bench inbox_<what>_kb: <size> KB`` per page, and the
rows each page matched. Exits 1 when a page does not answer 200.

    .venv/bin/python bench/bench_inbox.py                 # full size (about 3 minutes to generate)
    .venv/bin/python bench/bench_inbox.py --smoke         # or BENCH_SMOKE=1: 2,000 households on SQLite
    .venv/bin/python bench/bench_inbox.py --reuse postgresql+psycopg://postgres@127.0.0.1:5432/mosd_registry_x
"""

from __future__ import annotations

import argparse
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
    report,
    smoke_requested,
)

SUPERVISOR = "supervisor1"
CASE_MANAGER = "casemanager1"
PASSWORD = "demo"
TOTAL = re.compile(r'data-testid="match-total">(\d+)<')


def _samples(url: str) -> dict[str, str]:
    """Values the searches and filters use, taken from RBH's ready tasks so each one finds rows."""
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
    finally:
        engine.dispose()
    middle = due[0] + (due[1] - due[0]) / 2
    return {"reference": row[0], "national_id": row[1], "name": row[2].split()[0], "locality": row[3],
            "stage": row[4], "due_from": (middle - (due[1] - due[0]) / 10).date().isoformat(),
            "due_to": middle.date().isoformat()}


def _pages(sample: dict[str, str]) -> dict[str, str]:
    def team(**args: str) -> str:
        return "/?" + urllib.parse.urlencode({"view": "team", **args})

    return {
        "work": "/",
        "team": team(),
        "team_search_name": team(q=sample["name"]),
        "team_search_national_id": team(q=sample["national_id"]),
        "team_search_reference": team(q=sample["reference"]),
        "team_stage_locality_priority": team(stage=sample["stage"], locality=sample["locality"], sort="priority"),
        "team_overdue_priority": team(overdue="1", sort="priority"),
        "team_due_range_age": team(due_from=sample["due_from"], due_to=sample["due_to"], sort="-age"),
        "team_page_40": team(team_page="40"),
    }


def _timed(client: Any, path: str, rounds: int, **kwargs: Any) -> tuple[float, int, Any]:
    answer = client.get(path, **kwargs)  # warm-up: caches of the vocabulary and the deployed version
    if answer.status_code != 200:
        raise SystemExit(f"{path} answered {answer.status_code}: {answer.get_data(as_text=True)[:500]}")
    times = []
    for _round in range(rounds):
        started = time.perf_counter()
        answer = client.get(path, **kwargs)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, len(answer.data), answer


def measure(url: str, *, rounds: int) -> None:
    from app import create_app

    sample = _samples(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DEMO_MODE": True, "MINISTRY_BACKEND": "file",
                      "WTF_CSRF_ENABLED": False, "TESTING": True})
    try:
        browser = app.test_client()
        login = browser.post("/login", data={"username": SUPERVISOR, "password": PASSWORD, "lang": "en"})
        if login.status_code != 302:
            raise SystemExit(f"login as {SUPERVISOR} failed: {login.status_code}")
        for name, path in _pages(sample).items():
            ms, size, answer = _timed(browser, path, rounds)
            found = TOTAL.search(answer.get_data(as_text=True))
            emit(f"inbox_{name}_ms", ms, "ms")
            emit(f"inbox_{name}_kb", size / 1024, "KB")
            emit(f"inbox_{name}_matches", int(found.group(1)) if found else -1, "tasks")
        api = app.test_client()
        token = api.post("/api/v1/auth/token", json={"username": CASE_MANAGER, "password": PASSWORD})
        if token.status_code != 200:
            raise SystemExit(f"API token for {CASE_MANAGER} failed: {token.status_code}")
        headers = {"Authorization": f"Bearer {token.get_json()['token']}"}
        query = urllib.parse.urlencode({"locality": sample["locality"], "sort": "priority", "overdue": "1"})
        ms, _size, answer = _timed(api, f"/api/v1/tasks?{query}", rounds, headers=headers)
        emit("inbox_api_tasks_filtered_ms", ms, "ms")
        emit("inbox_api_tasks_filtered_matches", answer.get_json()["total"], "tasks")
    finally:
        app.extensions["db_engine"].dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuse", help="an existing registry-size database, left as it is")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_HOUSEHOLDS} households")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    smoke = args.smoke or smoke_requested(sys.argv)
    rounds = args.rounds or (2 if smoke else 7)
    if args.reuse:
        print(f"# reusing {args.reuse}")
        measure(args.reuse, rounds=rounds)
        return 0
    households = SMOKE_HOUSEHOLDS if smoke else None
    if postgres_available():
        url = create_database("mosd_bench")
        try:
            report(generate(url, **({"households": households} if households else {})))
            measure(url, rounds=rounds)
        finally:
            drop_database(url)
        return 0
    if not smoke:
        raise SystemExit("the full size needs PostgreSQL (BENCH_POSTGRES_ADMIN_URL)")
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'registry.sqlite3'}"
        print("# PostgreSQL does not answer: SQLite file instead")
        report(generate(url, households=households or SMOKE_HOUSEHOLDS))
        measure(url, rounds=rounds)
    return 0


if __name__ == "__main__":
    sys.exit(main())

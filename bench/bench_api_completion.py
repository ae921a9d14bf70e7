"""Completing a task through the HTTP API must not cost more on an old or a heavy case.

One gunicorn worker serves a new database on the PostgreSQL server of ``DATABASE_URL`` (created and dropped;
``--postgres`` asks for one on the default server), else a SQLite file, holding, all at the supervisor's review:
- fresh cases: registered and recommended, nothing else;
- an aged case: 500 document-request loops before (the supervisor asks for documents, reception
  attaches one; driven in-process through ``registry.cases``, which is much faster than HTTP);
- a heavy case: one loop whose attach step uploaded 20 PDF files of 1 MB.

Then, in interleaved rounds with bearer tokens from ``/api/v1/auth/token``, each case goes once more
round the same loop through ``POST /api/v1/tasks/{id}/complete``: the supervisor's "request documents"
decision (the measured step), reception's attach step (a small PDF), and ``GET /api/v1/cases/{id}``.
Wall-clock time of each HTTP request, as the client sees it.

Prints ``bench api_complete_fresh_ms``, ``api_complete_loop500_ms``, ``api_complete_heavy_ms`` (medians,
each with a p90; target <= 5 ms), the ratios ``api_complete_loop500_ratio`` and ``api_complete_heavy_ratio``
(target <= 1.2), the same for the attach step and the case page; and the worker's memory: its resident set
after the warm-up round and after the load, ``api_worker_peak_rss_mb``, its high-water mark over the whole
run, logins included (target <= 100 MB; it counts the pages shared with the preloaded master), and after
the load ``api_worker_pss_mb`` (its fair share of those) and ``api_worker_uss_mb`` (what it holds alone).
Exits 1 when a request fails or the worker died.

    .venv/bin/python bench/bench_api_completion.py [--postgres]
    .venv/bin/python bench/bench_api_completion.py --smoke    # or BENCH_SMOKE=1: 20 loops, 2 x 100 KB, 3 rounds
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
for place in (str(ROOT), str(BENCH)):
    if place not in sys.path:
        sys.path.insert(0, place)

from bench_soak import Client, Gunicorn, died  # noqa: E402 (after the path set-up)
from generate_registry import (  # noqa: E402
    REVIEW_REQUEST,
    Driver,
    configured_postgres_url,
    create_database,
    drop_database,
    emit,
    postgres_available,
    smoke_requested,
    walk,
)

TARGET = 1.2
TARGET_MS = 5.0
TARGET_PEAK_MB = 100


def pdf(size: int, label: str) -> bytes:
    """A minimal well-formed one-page PDF of exactly ``size`` bytes (the page stream is padded)."""
    text = f"BT /F1 12 Tf 72 770 Td ({label}) Tj ET\n".encode()

    def build(padding: int) -> bytes:
        stream = text + b"%" + b"0" * max(0, padding - 2) + b"\n" if padding >= 2 else text
        objects = [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"endstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        ]
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for number, body in enumerate(objects, start=1):
            offsets.append(len(out))
            out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
        xref = len(out)
        out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
        out += b"".join(f"{offset:010d} 00000 n \n".encode() for offset in offsets)
        out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
        return bytes(out)

    padding = 0
    for _ in range(10):  # the /Length and startxref digits move with the padding: settle in a few steps
        built = build(padding)
        if len(built) == size:
            return built
        padding += size - len(built)
    raise ValueError(f"cannot build a PDF of {size} bytes")


def attach(files: list[bytes], *, note: str = "") -> dict[str, Any]:
    """The attach-documents form's data as the API takes it (files as base64 inside JSON)."""
    data: dict[str, Any] = {"documents": [
        {"name": f"document-{n + 1:02d}.pdf", "content_type": "application/pdf",
         "content_base64": base64.b64encode(content).decode()} for n, content in enumerate(files)]}
    if note:
        data["documents_note"] = note
    return data


def prepare(url: str, *, fresh: int, loops: int, documents: int, document_size: int,
            storage_dir: Path) -> dict[str, list[int]]:
    """Migrate, seed the demo users, and drive the cases in-process to the review; returns case ids by kind."""
    from app import create_app
    from engine.db import utcnow
    from registry.seed import seed_process, seed_reference, seed_users
    from webui.cli import upgrade_database
    from webui.db import db_session, library

    upgrade_database(url)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DEMO_MODE": True, "MINISTRY_BACKEND": "file",
                      "DOCUMENT_STORAGE_DIR": str(storage_dir)})
    rnd = random.Random(3)
    users = {"reception": "reception1", "supervisor": "supervisor1", "case_manager": "casemanager1"}
    small = attach([pdf(2_000, "proof of income")])
    kinds: dict[str, list[int]] = {}
    try:
        with app.app_context():
            session = db_session()
            seed_reference(session)
            seed_users(session)
            seed_process(session, library=library(), now=utcnow())
            session.commit()
            # The clock runs from days ago, so the HTTP requests (at the real time) come after every step here.
            driver = Driver(session, library(), now=utcnow() - dt.timedelta(days=10))
            serial = 30_000_000

            def at_review() -> int:
                nonlocal serial
                case_id = driver.start("reception1")
                walk(driver, case_id, "review", rnd=rnd, serial=serial, users=users)
                serial += 20
                return case_id

            kinds["fresh"] = [at_review() for _ in range(fresh)]
            aged = at_review()
            started = time.perf_counter()
            for n in range(loops):
                driver.complete("supervisor1", aged, REVIEW_REQUEST, "eligibility_review")
                driver.complete("reception1", aged, small, "attach_documents")
                if (n + 1) % 100 == 0:
                    print(f"# aged case: {n + 1}/{loops} loops ({time.perf_counter() - started:.0f} s)",
                          file=sys.stderr, flush=True)
            kinds["aged"] = [aged]
            heavy = at_review()
            driver.complete("supervisor1", heavy, REVIEW_REQUEST, "eligibility_review")
            driver.complete("reception1", heavy, attach([pdf(document_size, f"scan {n}") for n in range(documents)]),
                            "attach_documents")
            kinds["heavy"] = [heavy]
            session.close()
    finally:
        app.extensions["db_engine"].dispose()
    return kinds


class Ready:
    """The ready task of a case, read from the database (outside the timed requests)."""

    def __init__(self, url: str) -> None:
        from sqlalchemy import create_engine

        self.engine = create_engine(url)

    def task(self, case_id: int, form: str) -> str:
        from sqlalchemy import select

        from engine.models import TaskRecord

        with self.engine.connect() as connection:
            rows = connection.execute(select(TaskRecord.id, TaskRecord.form_key).where(
                TaskRecord.business_key == str(case_id), TaskRecord.state == "ready")).all()
        if len(rows) != 1 or rows[0].form_key != form:
            raise SystemExit(f"case {case_id}: expected one ready {form} task, found {[r.form_key for r in rows]}")
        return str(rows[0].id)

    def close(self) -> None:
        self.engine.dispose()


class WorkerMemory:
    """The resident set of the one gunicorn worker, in MB: now, and its high-water mark since it started
    (the kernel's VmHWM, so a short peak between two looks, such as a password hash, is not missed)."""

    def __init__(self, server: Gunicorn) -> None:
        import psutil

        children = psutil.Process(server.process.pid).children()
        if len(children) != 1:
            raise SystemExit(f"expected one gunicorn worker, found {len(children)}")
        self.worker = children[0]

    def rss_mb(self) -> float:
        return float(self.worker.memory_info().rss) / 2**20

    def unique_mb(self) -> tuple[float, float]:
        """What this worker holds alone (USS: what one more worker would add) and its proportional set size
        (PSS: USS plus its share of the pages it shares with the master), in MB."""
        info = self.worker.memory_full_info()
        return float(info.uss) / 2**20, float(info.pss) / 2**20

    def peak_mb(self) -> float:
        status = Path(f"/proc/{self.worker.pid}/status")
        for line in status.read_text().splitlines() if status.exists() else []:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return self.rss_mb()  # no /proc: the last look is all there is


def measure(port: int, url: str, kinds: dict[str, list[int]], *, rounds: int,
            memory: WorkerMemory) -> tuple[dict[str, Any], list[str]]:
    """Interleaved rounds of review, attach and case page on every case; the first round warms up."""
    supervisor, reception = Client(port), Client(port)
    supervisor.api_token("supervisor1")
    reception.api_token("reception1")
    ready = Ready(url)
    small = attach([pdf(2_000, "proof of income")], note="brought by the applicant")
    times: dict[str, Any] = defaultdict(lambda: defaultdict(list))
    failures: list[str] = []

    def call(client: Client, method: str, path: str, body: Any = None) -> float | None:
        answer = client.request(method, path, body=body, bearer=True)
        if answer.status != 200:
            failures.append(f"{method} {path}: HTTP {answer.status} {answer.body[:300]!r}")
            return None
        return answer.seconds

    try:
        for round_number in range(rounds + 1):
            if round_number == 1:
                times["memory"]["warm"] = memory.rss_mb()
            for kind in ("fresh", "aged", "heavy"):
                for case_id in kinds[kind]:
                    task = ready.task(case_id, "eligibility_review")
                    review = call(supervisor, "POST", f"/api/v1/tasks/{task}/complete", {"data": REVIEW_REQUEST})
                    task = ready.task(case_id, "attach_documents")
                    attached = call(reception, "POST", f"/api/v1/tasks/{task}/complete", {"data": small})
                    page = call(supervisor, "GET", f"/api/v1/cases/{case_id}")
                    if failures:
                        return times, failures
                    if round_number > 0:
                        times["complete"][kind].append(review)
                        times["attach"][kind].append(attached)
                        times["case"][kind].append(page)
    finally:
        ready.close()
    times["memory"]["loaded"] = memory.rss_mb()
    times["memory"]["unique"], times["memory"]["proportional"] = memory.unique_mb()
    times["memory"]["peak"] = memory.peak_mb()
    return times, failures


def median_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


def p90_ms(values: list[float]) -> float:
    if len(values) < 2:
        return values[0] * 1000
    return statistics.quantiles(values, n=10, method="inclusive")[-1] * 1000


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Completion through the HTTP API: fresh, aged and heavy cases")
    parser.add_argument("--smoke", action="store_true", help="small size (also BENCH_SMOKE=1)")
    parser.add_argument("--postgres", action="store_true",
                        help="a new PostgreSQL database instead of SQLite (implied by a PostgreSQL DATABASE_URL)")
    parser.add_argument("--loops", type=int, default=None, help="document-request loops of the aged case")
    parser.add_argument("--rounds", type=int, default=None)
    args = parser.parse_args(argv)
    smoke = args.smoke or smoke_requested()
    loops = args.loops or (20 if smoke else 500)
    documents, document_size = (2, 100_000) if smoke else (20, 1_000_000)
    rounds = args.rounds or (3 if smoke else 30)
    fresh = 2 if smoke else 3
    postgres = args.postgres or configured_postgres_url() is not None
    if postgres and not postgres_available():
        raise SystemExit("PostgreSQL does not answer (set BENCH_POSTGRES_ADMIN_URL)")

    started = time.perf_counter()
    created = None
    with tempfile.TemporaryDirectory(prefix="bench_api_completion_") as tmp:
        try:
            url = created = create_database("mosd_bench") if postgres else None
            url = url or f"sqlite:///{Path(tmp) / 'api.sqlite3'}"
            print(f"# {'PostgreSQL' if postgres else 'SQLite file'}, 1 gunicorn worker; aged case: {loops} loops; "
                  f"heavy case: {documents} x {document_size // 1000} KB PDF; {rounds} rounds", flush=True)
            kinds = prepare(url, fresh=fresh, loops=loops, documents=documents, document_size=document_size,
                            storage_dir=Path(tmp) / "documents")
            print(f"# cases ready in-process ({time.perf_counter() - started:.0f} s)", flush=True)
            with Gunicorn(url, workers=1, log_dir=Path(tmp)) as server:
                server.wait_ready()
                times, failures = measure(server.port, url, kinds, rounds=rounds, memory=WorkerMemory(server))
                health = server.health()
        finally:
            if created:
                drop_database(created)

    deaths = died(health)
    if not failures:
        for step, label in (("complete", "api_complete"), ("attach", "api_attach"), ("case", "api_case")):
            by_kind = times[step]
            fresh_ms = median_ms(by_kind["fresh"])
            unit = f"ms (target ≤ {TARGET_MS:g} ms)" if step == "complete" else "ms"
            emit(f"{label}_fresh_ms", fresh_ms, unit)
            emit(f"{label}_fresh_p90_ms", p90_ms(by_kind["fresh"]), "ms")
            emit(f"{label}_loop500_ms", median_ms(by_kind["aged"]), unit)
            emit(f"{label}_loop500_p90_ms", p90_ms(by_kind["aged"]), "ms")
            emit(f"{label}_heavy_ms", median_ms(by_kind["heavy"]), "ms")
            emit(f"{label}_heavy_p90_ms", p90_ms(by_kind["heavy"]), "ms")
            emit(f"{label}_loop500_ratio", median_ms(by_kind["aged"]) / fresh_ms, f"(target ≤ {TARGET})")
            emit(f"{label}_heavy_ratio", median_ms(by_kind["heavy"]) / fresh_ms, f"(target ≤ {TARGET})")
        memory = times["memory"]
        emit("api_worker_rss_warm_mb", memory["warm"], "MB")
        emit("api_worker_rss_loaded_mb", memory["loaded"], "MB")
        emit("api_worker_peak_rss_mb", memory["peak"], f"MB (target ≤ {TARGET_PEAK_MB} MB)")
        emit("api_worker_pss_mb", memory["proportional"], "MB")
        emit("api_worker_uss_mb", memory["unique"], "MB")
    emit("api_worker_deaths", deaths)
    note = f"; the loop500 figures are of a case with {loops} loops" if loops != 500 else ""
    print(f"# total {time.perf_counter() - started:.1f} s{note}", flush=True)
    for failure in failures:
        print(f"# failed: {failure}", flush=True)
    for sign in health["signs"][:10]:
        print(f"# gunicorn: {sign}", flush=True)
    return 1 if failures or deaths else 0


if __name__ == "__main__":
    sys.exit(main())

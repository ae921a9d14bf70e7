"""Cost of completing one user task: our whole path against bare SpiffWorkflow, and over a case's age.

Run from the repository root: ``.venv/bin/python bench/bench_engine.py``. Every figure is printed
as ``bench <name>: <value> <unit>``. ``--smoke`` (or ``BENCH_SMOKE=1``) runs a few seconds' worth of the
same steps, so that ``make test`` notices when the benchmark stops working; its figures mean nothing.

The measured step is the supervisor's "request documents" decision on a case waiting at review (no
upload); the reception's attach step (a small upload) brings the case back to review outside the
timer. Bare SpiffWorkflow runs in a worker subprocess, so the no-op service operations it registers
never replace the real ones the full path uses; its steps are interleaved with the full path's, so
both see the same machine load (the ``_cpu`` figures use process CPU time, which load disturbs less).
Process, form and rule files are copied first, so edits made while the bench runs change nothing.

The database is the one ``DATABASE_URL`` names the server of: on PostgreSQL a scratch database is created
there (and dropped at the end); otherwise a SQLite file in a temporary folder. The case that looped
``LONG_LOOP`` times is timed in alternation with fresh cases of the same run, so the ratio of the two
sees one machine load. ``complete_task_statements`` counts the SQL statements one measured completion
sends (the commit not included).
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.factories import pdf_document  # noqa: E402 - needs the path above

REVIEW = {"decision": "request_documents", "missing_documents": ["income_proof"], "review_comments": "bench"}
PDF = base64.b64encode(pdf_document("bench proof of income")).decode()  # uploads are accepted by content
ATTACH = {"documents": [{"name": "income.pdf", "content_base64": PDF}]}
RECOMMEND = {"decision": "recommend_eligible", "recommendation_notes": "Deprived."}

SMOKE = "--smoke" in sys.argv[1:] or os.environ.get("BENCH_SMOKE", "") not in ("", "0")
if SMOKE:
    WARMUP = 2
    FRESH_CASES, FRESH_ROUNDS = 2, 2
    AGED_CASES, AGED_ROUNDS, AGE = 1, 2, 3
    LONG_LOOP, LONG_ROUNDS, LONG_FRESH = 6, 2, 2
else:
    WARMUP = 20
    FRESH_CASES, FRESH_ROUNDS = 25, 8  # 200 timed completions on cases 0-7 passes old
    AGED_CASES, AGED_ROUNDS, AGE = 10, 20, 100  # 200 timed completions on cases 100-119 passes old
    LONG_LOOP, LONG_ROUNDS, LONG_FRESH = 500, 40, 10  # 40 timed completions each, fresh cases 0-3 passes old
DATABASE_URL = os.environ.get("DATABASE_URL", "")
ON_POSTGRES = DATABASE_URL.startswith("postgresql")


@dataclass
class Samples:
    """Wall-clock and CPU seconds of repeated runs of one step."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    statements: list[int] = field(default_factory=list)

    def add(self, wall: float, cpu: float) -> None:
        self.wall.append(wall)
        self.cpu.append(cpu)

    def median_ms(self, cpu: bool = False) -> float:
        return statistics.median(self.cpu if cpu else self.wall) * 1000

    def p90_ms(self) -> float:
        return statistics.quantiles(self.wall, n=10, method="inclusive")[-1] * 1000


@contextmanager
def timed(into: Samples | None) -> Iterator[None]:
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    if into is not None:
        into.add(time.perf_counter() - wall, time.process_time() - cpu)


def emit(name: str, value: Any, unit: str = "") -> None:
    text = f"{value:.2f}" if isinstance(value, float) else str(value)
    print(f"bench {name}: {text}{' ' + unit if unit else ''}", flush=True)


# --- the full path: registry.cases on a migrated SQLite database -------------------------------------

def library_snapshot(into: Path) -> dict[str, str]:
    """Copies of the process, form and rule files, for the app's configuration."""
    config = {}
    for key, name in (("PROCESSES_DIR", "processes"), ("FORMS_DIR", "forms"), ("RULES_DIR", "rules")):
        shutil.copytree(ROOT / name, into / name)
        config[key] = str(into / name)
    return config


@contextmanager
def scratch_database(folder: Path) -> Iterator[str]:
    """An empty database: a scratch one on DATABASE_URL's PostgreSQL server (dropped after), else a SQLite file."""
    if not ON_POSTGRES:
        yield f"sqlite:///{folder / 'bench.sqlite3'}"
        return
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    server = make_url(DATABASE_URL)
    name = f"scratch_bench_engine_{secrets.token_hex(4)}"
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def bench_app() -> Iterator[FullPath]:
    """A fresh migrated database with the reference data and demo users, inside an app context."""
    from app import create_app
    from engine.db import utcnow
    from registry.seed import seed_process, seed_reference, seed_users
    from webui.cli import upgrade_database
    from webui.db import db_session, document_storage, library

    with tempfile.TemporaryDirectory(prefix="bench_engine_") as tmp, scratch_database(Path(tmp)) as url:
        upgrade_database(url)
        app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "DEMO_MODE": True,
                          "MINISTRY_BACKEND": "file", "DOCUMENT_STORAGE": "filesystem",
                          "DOCUMENT_STORAGE_DIR": str(Path(tmp) / "documents"),
                          "VERSIONS_DIR": str(Path(tmp) / "deployed"), **library_snapshot(Path(tmp))})
        try:
            with app.app_context():
                session = db_session()
                seed_reference(session)
                seed_users(session)
                seed_process(session, library=library(), now=utcnow())
                session.commit()
                yield FullPath(session, library(), document_storage())
                session.close()
        finally:
            app.extensions["db_engine"].dispose()


class FullPath:
    """Drives cases through the real services, each call on an empty session, as a request would be."""

    def __init__(self, session: Any, library: Any, storage: Any) -> None:
        from sqlalchemy import event, select

        from registry.models import User

        self.session = session
        self.library = library
        self.storage = storage
        self.user_ids = {u.username: u.id for u in session.scalars(select(User))}
        self.clock = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)
        self.executed = 0
        event.listen(session.get_bind(), "before_cursor_execute", self._count)

    def _count(self, *_args: Any) -> None:
        self.executed += 1

    def now(self) -> dt.datetime:
        self.clock += dt.timedelta(seconds=1)
        return self.clock

    def actor(self, username: str) -> Any:
        from registry.models import User

        user = self.session.get(User, self.user_ids[username])
        assert user is not None and user.scope  # loads the directorate, as the login layer would
        return user

    def ready_task(self, case_id: int) -> Any:
        from sqlalchemy import select

        from engine.models import TaskRecord, TaskState

        rows = self.session.scalars(select(TaskRecord).where(
            TaskRecord.business_key == str(case_id), TaskRecord.state == TaskState.READY.value)).all()
        assert len(rows) == 1, rows
        return rows[0]

    def complete(self, username: str, case_id: int, data: dict[str, Any], expect_form: str,
                 samples: Samples | None = None) -> list[Any]:
        """One completion through ``registry.cases.complete_task`` (only that call is timed)."""
        from registry import cases

        self.session.close()  # a request starts with an empty identity map
        actor = self.actor(username)
        task = self.ready_task(case_id)
        assert task.form_key == expect_form, (task.form_key, expect_form)
        task_id, now = task.id, self.now()
        executed = self.executed
        with timed(samples):
            ready: list[Any] = cases.complete_task(self.session, actor=actor, library=self.library,
                                                   task_id=task_id, data=data, now=now,
                                                   storage=self.storage).next_tasks
        if samples is not None:
            samples.statements.append(self.executed - executed)
        return ready

    def open_case(self) -> tuple[int, dict[str, Any]]:
        """A registered, recommended case waiting at the supervisor's review, and its starting data."""
        from engine import runtime
        from registry import cases
        from tests.factories import registration

        self.session.close()
        case = cases.start_registration(self.session, actor=self.actor("reception1"), library=self.library,
                                        now=self.now())
        initial = runtime.task_data(self.session, self.ready_task(case.id))
        self.complete("reception1", case.id, registration(), "registration")
        self.complete("reception1", case.id, RECOMMEND, "eligibility_recommendation")
        return case.id, initial

    def loop_pass(self, case_id: int, review: Samples | None = None, attach: Samples | None = None) -> None:
        """One document-request pass: the supervisor's request, then reception attaches a file."""
        self.complete("supervisor1", case_id, REVIEW, "eligibility_review", review)
        self.complete("reception1", case_id, ATTACH, "attach_documents", attach)

    def instance(self, case_id: int) -> Any:
        from engine.models import ProcessInstance
        from registry.models import Case

        self.session.close()
        case = self.session.get(Case, case_id)
        assert case is not None and case.instance_id is not None
        instance = self.session.get(ProcessInstance, case.instance_id)
        assert instance is not None
        return instance

    def state_size(self, case_id: int) -> int:
        return len(self.instance(case_id).state)

    def bare_inputs(self, case_id: int, initial: dict[str, Any]) -> dict[str, Any]:
        """What bare SpiffWorkflow needs to replay this case: files, data of every step, operation results."""
        from sqlalchemy import select

        from engine import runtime
        from engine.models import TaskRecord, TaskState

        sources = self.instance(case_id).process_version.sources  # the files this case's version came from
        rows = self.session.scalars(select(TaskRecord).where(
            TaskRecord.business_key == str(case_id), TaskRecord.state == TaskState.COMPLETED.value)
            .order_by(TaskRecord.completed_at)).all()
        submitted = {r.spec_id: r.data for r in rows}  # the last submission of each task
        # After a pass the review sees what the operations returned: the bare run returns the same.
        seen = runtime.task_data(self.session, self.ready_task(case_id))
        return {
            "sources": sources,
            "initial": initial,
            "steps": [["register_household", submitted["register_household"]],
                      ["recommend_eligibility", submitted["recommend_eligibility"]]],
            "review": submitted["review_eligibility"],
            "results": {"save_household": seen["household"], "score_eligibility": seen["eligibility"],
                        "request_documents": seen["document_request"]},
        }


def measure(results: dict[str, Any]) -> None:
    """Fresh and 100-pass-old cases, timed in alternating rounds with the bare worker's steps."""
    with bench_app() as full:
        warm, initial = full.open_case()
        for _ in range(WARMUP):
            full.loop_pass(warm)
        bare = BareWorker(full.bare_inputs(warm, initial))
        review, attach, aged_review, bare_step = Samples(), Samples(), Samples(), Samples()
        try:
            aged = [full.open_case()[0] for _ in range(AGED_CASES)]
            for case_id in aged:
                for _ in range(AGE):
                    full.loop_pass(case_id)
            fresh = [full.open_case()[0] for _ in range(FRESH_CASES)]
            results["state_size_fresh"] = full.state_size(fresh[0])
            results["state_size_aged"] = full.state_size(aged[0])
            bare.wait_ready()
            for _ in range(WARMUP):
                bare.step()
            for r in range(max(FRESH_ROUNDS, AGED_ROUNDS)):
                if r < FRESH_ROUNDS:
                    for case_id in fresh:
                        full.loop_pass(case_id, review, attach)
                        bare_step.add(*bare.step())
                if r < AGED_ROUNDS:
                    for case_id in aged:
                        full.loop_pass(case_id, aged_review)
        finally:
            results["bare_final"] = bare.close()
        results.update(review=review, attach=attach, aged_review=aged_review, bare=bare_step)


def long_loop() -> tuple[bool, int, Samples, Samples]:
    """One case through LONG_LOOP passes, its last LONG_ROUNDS timed in alternation with fresh cases' passes;
    then approval must route to the needs assessment."""
    from registry.models import Case

    with bench_app() as full:
        case_id, _initial = full.open_case()
        fresh = [full.open_case()[0] for _ in range(LONG_FRESH)]
        for _ in range(LONG_LOOP - LONG_ROUNDS):
            full.loop_pass(case_id)
        old, young = Samples(), Samples()
        for n in range(LONG_ROUNDS):
            full.loop_pass(case_id, old)
            full.loop_pass(fresh[n % LONG_FRESH], young)
        size = full.state_size(case_id)
        ready = full.complete("supervisor1", case_id, {"decision": "approve"}, "eligibility_review")
        forms = [r.form_key for r in ready]
        full.session.close()
        case = full.session.get(Case, case_id)
        ok = forms == ["needs_assessment"] and case is not None and case.stage == "assessment"
    return ok, size, old, young


# --- bare SpiffWorkflow: a worker subprocess with no-op service operations ---------------------------

class BareWorker:
    """Runs ``bench_engine.py --bare-worker``; each ``step()`` is one timed bare completion there."""

    def __init__(self, inputs: dict[str, Any]) -> None:
        self._dir = tempfile.TemporaryDirectory(prefix="bench_engine_bare_")
        path = Path(self._dir.name) / "inputs.json"
        path.write_text(json.dumps(inputs), encoding="utf-8")
        self._process = subprocess.Popen(  # noqa: S603 (our own script, fixed arguments)
            [sys.executable, str(Path(__file__).resolve()), "--bare-worker", str(path)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)

    def _ask(self, line: str) -> str:
        assert self._process.stdin is not None and self._process.stdout is not None
        self._process.stdin.write(line + "\n")
        self._process.stdin.flush()
        answer = self._process.stdout.readline()
        if not answer:
            raise SystemExit(f"bare worker stopped (exit {self._process.wait()})")
        return answer.strip()

    def wait_ready(self) -> None:
        if self._ask("ready") != "ready":
            raise SystemExit("bare worker did not start")

    def step(self) -> tuple[float, float]:
        wall, cpu = self._ask("step").split()
        return float(wall), float(cpu)

    def close(self) -> dict[str, Any]:
        try:
            result: dict[str, Any] = json.loads(self._ask("quit"))
            self._process.wait(timeout=30)
            return result
        finally:
            if self._process.poll() is None:
                self._process.kill()
            self._dir.cleanup()


def bare_worker(inputs_path: str) -> None:
    """Plain SpiffWorkflow as its users run it: stock serializer with the spec embedded, per step
    deserialize_json, set the data on the ready task, run, do_engine_steps, serialize_json."""
    from SpiffWorkflow.bpmn.serializer.workflow import BpmnWorkflowSerializer
    from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
    from SpiffWorkflow.bpmn.util.event import BpmnEvent
    from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
    from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser
    from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
    from SpiffWorkflow.util.task import TaskState

    from engine.catalog import OPERATIONS, OperationContext, register_operation
    from engine.script_engine import SafeScriptEngine

    inputs = json.loads(Path(inputs_path).read_text(encoding="utf-8"))
    results: dict[str, Any] = inputs["results"]

    def canned(name: str) -> Callable[..., Any]:
        def operation(_context: OperationContext, **_params: Any) -> Any:
            return results.get(name) or {}
        return operation

    assert not OPERATIONS, "the bare worker must not see the registry's operations"
    parser = SpiffBpmnParser(validator=VALIDATOR)
    # A version's sources also hold its forms (and may hold rule files): only diagrams and tables are parsed.
    for name, text in sorted(inputs["sources"].items()):
        if name.endswith(".dmn"):
            parser.add_dmn_str(text.encode("utf-8"), filename=name)
        elif name.endswith(".bpmn"):
            parser.add_bpmn_str(text.encode("utf-8"), filename=name)
    spec = parser.get_spec("case_management")
    subprocess_specs = parser.get_subprocess_specs("case_management")
    # Every service operation the diagram calls answers what the measured path recorded (or nothing).
    for task_spec in spec.task_specs.values():
        name = getattr(task_spec, "operation_name", None)
        if name and name not in OPERATIONS:
            register_operation(name, canned(name))
    serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
    now = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)

    def script_engine() -> SafeScriptEngine:
        context = OperationContext(session=None, business_key="1", scope="RBH",  # type: ignore[arg-type]
                                   actor_id=1, now=now)
        return SafeScriptEngine(context)

    def ready(workflow: BpmnWorkflow) -> Any:
        tasks = workflow.get_tasks(state=TaskState.READY, manual=True)
        assert len(tasks) == 1, tasks
        return tasks[0]

    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=script_engine())
    workflow.task_tree.data.update(inputs["initial"])
    workflow.do_engine_steps()
    # The diagram has a way in per channel (message start events): a walk-in case takes reception's.
    for start in workflow.get_tasks(state=TaskState.WAITING):
        definition = getattr(start.task_spec, "event_definition", None)
        if isinstance(start.task_spec, StartEvent) and getattr(definition, "name", None) == "reception":
            workflow.send_event(BpmnEvent(start.task_spec.event_definition, payload={}))
            workflow.do_engine_steps()
            break
    for spec_id, data in inputs["steps"]:
        task = ready(workflow)
        assert task.task_spec.bpmn_id == spec_id, (task.task_spec.bpmn_id, spec_id)
        task.data.update(data)
        task.run()
        workflow.do_engine_steps()
    review = ready(workflow)
    assert review.task_spec.bpmn_id == "review_eligibility"
    review_id = review.id
    blob = serializer.serialize_json(workflow)  # every step starts again from this state
    saved = blob

    for line in sys.stdin:
        command = line.strip()
        if command == "ready":
            answer = "ready"
        elif command == "step":
            one = Samples()
            with timed(one):
                restored = serializer.deserialize_json(blob)
                restored.script_engine = script_engine()
                task = restored.get_task_from_id(review_id)
                task.set_data(**inputs["review"])
                task.run()
                restored.do_engine_steps()
                saved = serializer.serialize_json(restored)
            answer = f"{one.wall[0]!r} {one.cpu[0]!r}"
        elif command == "quit":
            routed = ready(serializer.deserialize_json(saved)).task_spec.bpmn_id == "attach_documents"
            print(json.dumps({"size": len(blob), "routed": routed}), flush=True)
            return
        else:
            raise SystemExit(f"unknown command {command!r}")
        print(answer, flush=True)


# --- report ------------------------------------------------------------------------------------------

def database_kind() -> str:
    if not ON_POSTGRES:
        return "SQLite file"
    from sqlalchemy.engine import make_url

    server = make_url(DATABASE_URL)
    return f"PostgreSQL scratch database on {server.host}:{server.port or 5432}"


def main() -> None:
    from importlib.metadata import version

    print(f"# python {platform.python_version()}, {os.cpu_count()} cpus, {platform.machine()} {platform.system()}, "
          f"SpiffWorkflow {version('SpiffWorkflow')}, SQLAlchemy {version('SQLAlchemy')}, {database_kind()}, "
          f"load average {os.getloadavg()[0]:.1f}{', smoke size' if SMOKE else ''}", flush=True)
    started = time.perf_counter()
    results: dict[str, Any] = {}
    measure(results)
    review, attach, aged, bare = results["review"], results["attach"], results["aged_review"], results["bare"]
    assert results["bare_final"]["routed"], "the bare workflow did not reach attach_documents"
    emit("complete_task_full", review.median_ms(), "ms")
    emit("complete_task_full_p90", review.p90_ms(), "ms")
    emit("complete_task_full_cpu", review.median_ms(cpu=True), "ms")
    emit("complete_task_full_attach", attach.median_ms(), "ms")
    emit("complete_task_bare_spiff", bare.median_ms(), "ms")
    emit("complete_task_bare_spiff_p90", bare.p90_ms(), "ms")
    emit("complete_task_bare_spiff_cpu", bare.median_ms(cpu=True), "ms")
    emit("full_vs_bare_ratio", review.median_ms() / bare.median_ms())
    emit("full_vs_bare_ratio_cpu", review.median_ms(cpu=True) / bare.median_ms(cpu=True))
    emit("complete_task_statements", int(statistics.median(review.statements)))
    emit(f"complete_task_after_{AGE}_loops", aged.median_ms(), "ms")
    emit(f"complete_task_after_{AGE}_loops_p90", aged.p90_ms(), "ms")
    emit(f"loop{AGE}_vs_fresh_ratio", aged.median_ms() / review.median_ms())
    emit("state_size_fresh", results["state_size_fresh"], "bytes")
    emit(f"state_size_after_{AGE}_loops", results["state_size_aged"], "bytes")
    emit("state_size_bare_spiff", results["bare_final"]["size"], "bytes")
    ok, size, old, young = long_loop()
    emit(f"complete_task_after_{LONG_LOOP}_loops", old.median_ms(), "ms")
    emit(f"complete_task_fresh_beside_loop{LONG_LOOP}", young.median_ms(), "ms")
    emit(f"loop{LONG_LOOP}_vs_fresh_ratio", old.median_ms() / young.median_ms())
    emit(f"state_size_after_{LONG_LOOP}_loops", size, "bytes")
    emit(f"loop{LONG_LOOP}_ok", "yes" if ok else "no")
    print(f"# total {time.perf_counter() - started:.1f} s, load average {os.getloadavg()[0]:.1f}", flush=True)
    if not ok:
        raise SystemExit(f"after {LONG_LOOP} loops approval did not route to the needs assessment")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--bare-worker":
        bare_worker(sys.argv[2])
    else:
        main()

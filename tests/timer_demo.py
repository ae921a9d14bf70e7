"""The timer tests' process (tests/data/timers): a user task with a boundary timer, then an intermediate timer.

``wait_for_answer`` escalates to ``escalated_review`` after three days (boundary timer ``answer_overdue``);
answered, the case waits a day (``cool_off``), runs the service task ``after_cool_off`` (the operation
``timer_test_effect``, which writes one audit event, or fails when the case says so) and reaches
``follow_up_call``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from engine import runtime
from engine.catalog import OperationContext, register_operation
from engine.deployments import deploy_sources, snapshot
from engine.library import Library, check_library
from engine.models import ProcessVersion, TaskRecord, TaskState
from registry.audit import record_event

FILES = Path(__file__).resolve().parent / "data" / "timers"
BOUNDARY_DELAY = dt.timedelta(days=3)
COOL_OFF = dt.timedelta(days=1)


def timer_test_effect(context: OperationContext, label: str) -> dict[str, Any]:
    if context.data.get("fail_after_cool_off"):
        raise RuntimeError("the test's operation fails on purpose")
    record_event(context.session, actor_id=None, case_id=None, action="timer_test_effect", at=context.now,
                 details={"business_key": context.business_key, "label": label})
    return {"label": label}


def timer_library(versions_dir: Path) -> Library:
    register_operation("timer_test_effect", timer_test_effect)
    return Library(processes_dir=FILES / "processes", forms_dir=FILES / "forms", rules_dir=FILES / "rules",
                   versions_dir=versions_dir)


def _checks(library: Library) -> dict[str, list[str]]:
    """Every check but the two a test file need not pass: a diagram layout and a vocabulary."""
    return {name: [p for p in problems if "diagram layout" not in p and "vocabulary.yaml" not in p]
            for name, problems in check_library(library).items()}


def deploy(session: Session, library: Library) -> ProcessVersion:
    return deploy_sources(session, snapshot(library), process_id="timer_demo", template=library,
                          checker=_checks).version


def start(session: Session, library: Library, version: ProcessVersion, *, key: str, now: dt.datetime,
          **data: Any) -> runtime.Advance:
    return runtime.start_instance(session, library=library, version=version, business_key=key, scope="RBH",
                                  data=data, actor_id=None, now=now)


def answer(session: Session, library: Library, advance: runtime.Advance, *, now: dt.datetime) -> runtime.Advance:
    """Complete the instance's ``wait_for_answer`` task."""
    record = next(r for r in advance.ready if r.spec_id == "wait_for_answer")
    return runtime.complete_task(session, library=library, task_id=record.id, actor_id=1, data={"note": "ok"},
                                 may_act=lambda _r: True, now=now)


def ready_specs(session: Session, instance_id: int) -> list[str]:
    from sqlalchemy import select

    return sorted(session.scalars(select(TaskRecord.spec_id).where(
        TaskRecord.instance_id == instance_id, TaskRecord.state == TaskState.READY.value)))

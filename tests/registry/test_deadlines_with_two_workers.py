"""The shipped processes' deadlines with two workers on PostgreSQL: each household deadline and each complaint
escalation fires exactly once, whichever worker claims it."""

from __future__ import annotations

import datetime as dt
import threading
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from engine.library import Library
from engine.models import TaskRecord, TaskState
from registry import cases
from registry.complaints import services as complaints
from registry.documents import FileSystemStorage
from registry.models import AuditEvent, Case
from registry.notifications import OutboxMessage
from registry.worker import WorkReport, run_once
from tests.registry.test_online_path import START, apply_online, make_citizen, to_document_request, user
from webui.db import db_session, library, make_engine

HOUSEHOLDS = 3


def both_workers_at(app: Flask, files: Library, now: dt.datetime) -> list[WorkReport]:
    """Two workers, each with its own engine (as two processes would have), start the same pass together."""
    barrier = threading.Barrier(2)
    reports: list[WorkReport] = []
    errors: list[BaseException] = []

    def worker() -> None:
        factory = sessionmaker(make_engine(app.config["DATABASE_URL"]), expire_on_commit=False)
        try:
            barrier.wait()
            reports.append(run_once(factory, now=now, library=files))
        except BaseException as err:  # a thread's exception would otherwise vanish
            errors.append(err)
        finally:
            factory.kw["bind"].dispose()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert errors == []
    assert len(reports) == 2
    return reports


def count(session: Session, query: object) -> int:
    return int(session.scalar(query) or 0)  # type: ignore[call-overload]


def ready_specs(session: Session, business_key: str) -> list[str]:
    return list(session.scalars(select(TaskRecord.spec_id).where(TaskRecord.business_key == business_key,
                                                                 TaskRecord.state == TaskState.READY.value)))


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_household_deadlines_and_complaint_escalations_fire_once_with_two_workers(app: Flask, tmp_path: Path) -> None:
    storage = FileSystemStorage(tmp_path / "documents")
    with app.app_context():
        session = db_session()
        case_ids: list[int] = []
        for number in range(HOUSEHOLDS):
            citizen = make_citizen(session, mobile=f"059900010{number}")
            online = apply_online(session, citizen, storage)
            to_document_request(session, online, now=START)
            case_ids.append(online.id)
        walk_in = cases.start_registration(session, actor=user(session, "reception1"), library=library(), now=START)
        to_document_request(session, walk_in, now=START)
        case_ids.append(walk_in.id)
        references = [complaints.file_complaint(session, library=library(), now=START, kind="delay", lang="en",
                                                text=f"Nobody answered my file ({n}).",
                                                directorate_code="RBH").complaint.reference
                      for n in range(HOUSEHOLDS)]
        files = library()
        session.close()
    factory: sessionmaker[Session] = app.extensions["sessionmaker"]

    # Day 14: every household's deadline is reached (one reminder each) and every acknowledgement is overdue.
    reports = both_workers_at(app, files, START + dt.timedelta(days=14, minutes=1))
    assert all(report.failed == [] for report in reports)
    fired = [f.business_key for report in reports for f in report.fired]
    assert sorted(fired) == sorted([str(c) for c in case_ids] + references)
    with factory() as s:
        assert count(s, select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.template == "documents_deadline_reached")) == len(case_ids)
        for reference in references:
            assert ready_specs(s, reference) == ["resolve_escalated_complaint"]
        for case_id in case_ids:  # the household still has its task: a reminder does not take it away
            assert len(ready_specs(s, str(case_id))) == 1

    # Day 21: the grace is over, so each case goes back to its supervisor, once; the escalated complaints,
    # still unresolved after five more days, go on to the ministry's complaints unit, once.
    both_workers_at(app, files, START + dt.timedelta(days=21, minutes=2))
    with factory() as s:
        for case_id in case_ids:
            assert ready_specs(s, str(case_id)) == ["review_eligibility"]
            case = s.get(Case, case_id)
            assert case is not None and case.status == "open"
        assert count(s, select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "fact_recorded")) == len(case_ids)
        for reference in references:
            assert ready_specs(s, reference) == ["resolve_complaint_centrally"]
        assert count(s, select(func.count()).select_from(AuditEvent).where(
            AuditEvent.action == "timer_fired")) == 2 * len(case_ids) + 2 * len(references)

"""Moving cases to a newer version as analysts do it: dry run first, all-or-nothing for chosen cases, audited."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from engine.library import Library, deploy
from engine.migration import Blocked
from engine.models import ProcessInstance, ProcessVersion
from registry import cases, process_migration
from registry.errors import NotPermitted
from registry.models import AuditEvent, Case
from tests.conftest import Clock
from tests.engine.test_migration import (
    STUCK_AT,
    edit_to_version_two,
    finish_from_needs_assessment,
    open_case,
    to_attach_documents,
    to_needs_assessment,
    user,
)
from webui.db import db_session

BOTH_DATABASES = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)


def two_versions_with_cases(app: Flask, clock: Clock, library: Library) -> tuple[int, int, int, int]:
    """Version 1 with a case at the needs assessment and one at "attach documents", then version 2."""
    session = db_session()
    first = deploy(session, library, "case_management")
    session.commit()
    movable, stuck = open_case(session, library, clock), open_case(session, library, clock)
    to_needs_assessment(session, library, clock, movable)
    to_attach_documents(session, library, clock, stuck)
    edit_to_version_two(library)
    second = deploy(session, library, "case_management")
    session.commit()
    return first.version, second.version, movable.id, stuck.id


def versions_of(case_ids: list[int]) -> list[int]:
    session = db_session()
    session.expire_all()
    found = []
    for case_id in case_ids:
        instance_id = session.scalar(select(Case.instance_id).where(Case.id == case_id))
        instance = session.get(ProcessInstance, instance_id)
        assert instance is not None
        version = session.get(ProcessVersion, instance.process_version_id)
        assert version is not None
        found.append(version.version)
    return found


def test_only_analysts_move_cases(app: Flask, clock: Clock, editable_library: Library) -> None:
    with app.app_context():
        first, second, movable, _stuck = two_versions_with_cases(app, clock, editable_library)
        session = db_session()
        for username in ("supervisor1", "reception1", "casemanager1", "admin"):
            with pytest.raises(NotPermitted):
                process_migration.plan_migration(session, actor=user(session, username), to_version=second,
                                                 case_ids=[movable])
            with pytest.raises(NotPermitted):
                process_migration.migrate_cases(session, actor=user(session, username), to_version=second,
                                                case_ids=[movable], now=clock())
        assert versions_of([movable]) == [first]


def test_the_dry_run_lists_who_would_move_and_who_cannot_and_why(app: Flask, clock: Clock,
                                                                  editable_library: Library) -> None:
    with app.app_context():
        first, second, movable, stuck = two_versions_with_cases(app, clock, editable_library)
        session = db_session()
        report = process_migration.plan_migration(session, actor=user(session, "analyst"), to_version=second,
                                                  from_version=first)
        assert [(m.case_id, m.movable, m.reason, m.elements) for m in report.cases] == [
            (movable, True, None, []), (stuck, False, Blocked.WAITING_TASK_REMOVED, STUCK_AT)]
        assert report.cases[0].reference is not None and report.cases[0].reference.endswith(f"{movable:06d}")
        assert not report.applied and report.moved == []
        session.commit()
        assert versions_of([movable, stuck]) == [first, first]
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "case_migrated")) is None


def test_chosen_cases_move_all_together_or_not_at_all(app: Flask, clock: Clock, editable_library: Library) -> None:
    with app.app_context():
        first, second, movable, stuck = two_versions_with_cases(app, clock, editable_library)
        session = db_session()
        with pytest.raises(process_migration.CasesCannotMove) as refused:
            process_migration.migrate_cases(session, actor=user(session, "analyst"), to_version=second,
                                            case_ids=[movable, stuck], now=clock())
        assert [(m.case_id, m.reason) for m in refused.value.report.cannot_move] == \
            [(stuck, Blocked.WAITING_TASK_REMOVED)]
        assert versions_of([movable, stuck]) == [first, first]
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "case_migrated")) is None


@BOTH_DATABASES
def test_a_moved_case_shows_the_move_in_its_history_and_finishes_on_the_new_path(
        app: Flask, clock: Clock, editable_library: Library) -> None:
    library = editable_library
    with app.app_context():
        first, second, movable, stuck = two_versions_with_cases(app, clock, library)
        session = db_session()
        analyst = user(session, "analyst")

        report = process_migration.migrate_cases(session, actor=analyst, to_version=second, from_version=first,
                                                 now=clock(), library=library)

        assert report.applied
        assert [m.case_id for m in report.moved] == [movable]
        assert [(m.case_id, m.reason) for m in report.cannot_move] == [(stuck, Blocked.WAITING_TASK_REMOVED)]
        assert versions_of([movable, stuck]) == [second, first]
        supervisor = user(session, "supervisor1")
        history = cases.case_view(session, actor=supervisor, case_id=movable).history
        moved = [e for e in history if e.action == "case_migrated"]
        assert len(moved) == 1 and moved[0].actor_id == analyst.id
        assert moved[0].details["from_version"] == first and moved[0].details["to_version"] == second
        assert [t["task"] for t in moved[0].details["waiting_before"]] == ["needs_assessment_visit"]
        assert [t["task"] for t in moved[0].details["waiting_after"]] == ["needs_assessment_visit"]

        case = session.get(Case, movable)
        assert case is not None
        path = finish_from_needs_assessment(session, library, clock, case)
        assert "quality_check" in path
        assert cases.case_view(session, actor=supervisor, case_id=movable).case.status == "closed"

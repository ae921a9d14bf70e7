"""Professional supervision: the team view's figures equal counts made here from the data the test wrote;
no-contact days come from the rules file; supervision notes are read only by supervisors and the case
manager concerned; sessions; bulk reassignment moves exactly what its preview listed, refuses a stale
preview and another directorate's people; the inbox's reassignment keeps a case with its case manager."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from engine.models import ProcessInstance, ProcessVersion, TaskRecord
from registry.errors import NotPermitted
from registry.models import AuditEvent, Case, CaseNote, Directorate, Household, Person, User
from registry.names import search_key
from registry.supervision import reassignment, services, team
from registry.supervision.rules import SupervisionRules, SupervisionRulesInvalid, load_supervision_rules
from tests.conftest import Api, Clock
from tests.factories import national_id
from tests.webui.test_case_paths import complete, register_and_recommend, task_of
from webui.db import db_session

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

STAGES = ["assessment", "planning", "implementation", "evaluation"]
HEADS = ["سامي ناصر", "ليلى عودة", "محمود الخطيب", "هالة سمارة", "يوسف خليل"]


def user(name: str) -> User:
    found = db_session().scalar(select(User).where(User.username == name))
    assert found is not None
    return found


def add_case_manager(app: Flask, username: str, directorate: str = "RBH", name: str = "Second manager") -> int:
    from registry.auth import hash_password

    with app.app_context():
        session = db_session()
        where = session.scalar(select(Directorate).where(Directorate.code == directorate))
        assert where is not None
        person = User(username=username, full_name=name, full_name_ar="مدير ثان", role="case_manager",
                      directorate_id=where.id, password_hash=hash_password("demo"), is_demo=True)
        session.add(person)
        session.commit()
        return person.id


@dataclass
class Made:
    """A synthetic open case and what the test wrote about it, to count from without SQL."""

    case_id: int
    scope: str
    manager: int | None
    stage: str
    created_at: dt.datetime
    contacts: list[dt.datetime] = field(default_factory=list)
    #: (lane, assignee, due_at, waiting on the household)
    ready: list[tuple[str, int | None, dt.datetime, bool]] = field(default_factory=list)
    status: str = "open"


def make_cases(app: Flask, now: dt.datetime, managers: dict[str, list[int]], count: int = 36) -> list[Made]:
    """Open (and a few closed) cases with ready, waiting, completed tasks and notes, written directly:
    the team view reads only these rows."""
    with app.app_context():
        return write_cases(db_session(), now, managers, count)


def write_cases(session: Session, now: dt.datetime, managers: dict[str, list[int]], count: int = 36) -> list[Made]:
    """``make_cases`` in a session of the caller's (the browser tests' database)."""
    made: list[Made] = []
    version = session.scalar(select(ProcessVersion.id).order_by(ProcessVersion.id))
    supervisor = {code: session.scalar(select(User.id).where(
        User.username == ("supervisor1" if code == "RBH" else "supervisor2"))) for code in managers}
    for code, ids in managers.items():
        directorate = session.scalar(select(Directorate).where(Directorate.code == code))
        assert directorate is not None and version is not None
        for n in range(count):
            household = Household(directorate_id=directorate.id, governorate_code=directorate.governorate_code,
                                  locality="al-Bireh", created_at=now, updated_at=now)
            session.add(household)
            session.flush()
            head = HEADS[n % len(HEADS)]
            session.add(Person(household_id=household.id, national_id=national_id(), name_ar=head,
                               name_search=search_key(head), relation="head", sex="male"))
            instance = ProcessInstance(process_version_id=version, business_key="0", scope=code, state="{}",
                                       serializer_version="test", created_at=now, updated_at=now)
            session.add(instance)
            session.flush()
            created = now - dt.timedelta(days=(n * 7) % 80)
            thing = Made(case_id=0, scope=code, manager=ids[n % len(ids)] if n % 9 != 8 else None,
                         stage=STAGES[n % len(STAGES)], created_at=created,
                         status="closed" if n % 11 == 10 else "open")
            case = Case(reference=f"{code}-2026-{700000 + n + (0 if code == 'RBH' else 5000):06d}",
                        directorate_id=directorate.id, household_id=household.id, instance_id=instance.id,
                        stage=thing.stage, status=thing.status, case_manager_id=thing.manager,
                        created_at=created)
            session.add(case)
            session.flush()
            thing.case_id = case.id
            instance.business_key = str(case.id)
            if n % 3 == 0:  # a task completed some days ago
                done = now - dt.timedelta(days=(n * 5) % 50)
                session.add(TaskRecord(id=str(uuid.uuid4()), instance_id=instance.id, business_key=str(case.id),
                                       scope=code, spec_id="follow_up", title="Follow up", lane="case_manager",
                                       form_key="follow_up", stage=thing.stage, state="completed",
                                       created_at=done - dt.timedelta(days=1), completed_at=done))
                thing.contacts.append(done)
            if n % 4 == 1:  # a note
                noted = now - dt.timedelta(days=(n * 3) % 45)
                session.add(CaseNote(case_id=case.id, author_id=supervisor[code], text="note", created_at=noted))
                thing.contacts.append(noted)
            # A ready task for the case manager: overdue on some, waiting on the household on others.
            due = now + dt.timedelta(days=(n % 7) - 4)
            waiting = n % 5 == 0
            session.add(TaskRecord(id=str(uuid.uuid4()), instance_id=instance.id, business_key=str(case.id),
                                   scope=code, spec_id="follow_up", title="Follow up", lane="case_manager",
                                   form_key="follow_up", stage=thing.stage, state="ready",
                                   assignee_id=thing.manager, due_at=due, created_at=created,
                                   waiting_on="household" if waiting else None,
                                   household_due_at=now + dt.timedelta(days=3) if waiting else None))
            thing.ready.append(("case_manager", thing.manager, due, waiting))
            if n % 4 == 2:  # something for the supervisors: open, or claimed by one
                holder = supervisor[code] if n % 8 == 2 else None
                session.add(TaskRecord(id=str(uuid.uuid4()), instance_id=instance.id,
                                       business_key=str(case.id), scope=code, spec_id="plan_review",
                                       title="Review the plan", lane="supervisor", form_key="plan_review",
                                       stage=thing.stage, state="ready", assignee_id=holder, due_at=due,
                                       created_at=created))
                thing.ready.append(("supervisor", holder, due, False))
            made.append(thing)
    session.commit()
    return made


def expected_figures(made: list[Made], *, scope: str, supervisor: int, now: dt.datetime,
                     days: int) -> dict[str, Any]:
    """The team view's figures, counted in Python from what the test wrote."""
    cutoff = now - dt.timedelta(days=days)
    mine = [m for m in made if m.scope == scope]
    managed = [m for m in mine if m.status == "open" and m.manager is not None]
    waiting = [(m, lane, who) for m in mine for lane, who, _due, _w in m.ready
               if lane == "supervisor" and who in (None, supervisor)]
    return {
        "by_stage": Counter((m.manager, m.stage) for m in managed),
        "overdue": Counter(who for m in mine for lane, who, due, on_household in m.ready
                           if who is not None and not on_household and due < now),
        "no_contact": Counter(m.manager for m in managed
                              if m.created_at < cutoff and not any(c >= cutoff for c in m.contacts)),
        "waiting": Counter(m.manager for m, _lane, _who in waiting),
        "waiting_total": len(waiting),
    }


@BOTH_DATABASES
def test_every_team_figure_equals_a_count_made_in_the_test(app: Flask, clock: Clock) -> None:
    now = clock()
    second = add_case_manager(app, "casemanager1b")
    with app.app_context():
        ids = {"RBH": [user("casemanager1").id, second], "HBN": [user("casemanager2").id]}
    made = make_cases(app, now, ids)
    with app.app_context():
        session = db_session()
        supervisor = user("supervisor1")
        view = team.team_view(session, actor=supervisor, now=now, rules=SupervisionRules(no_contact_days=30),
                              stage_order=STAGES)
        expected = expected_figures(made, scope="RBH", supervisor=supervisor.id, now=now, days=30)
        assert [f.member.id for f in view.members] == sorted(ids["RBH"], key=lambda i: session.get(User, i).full_name)  # type: ignore[union-attr]
        for figures in view.members:
            who = figures.member.id
            assert figures.by_stage == {stage: n for (m, stage), n in expected["by_stage"].items() if m == who}
            assert figures.overdue == expected["overdue"][who]
            assert figures.no_contact == expected["no_contact"][who]
            assert figures.waiting == expected["waiting"][who]
        assert view.waiting == expected["waiting_total"]
        assert view.stages == [s for s in STAGES if view.stage_total(s)]
        # Every figure has something to count, so the test would notice a wrong one.
        assert all(expected[k] for k in ("by_stage", "overdue", "no_contact", "waiting"))
        # The list behind each figure holds exactly that many rows.
        rules = SupervisionRules(no_contact_days=30)
        for figures in view.members:
            who = figures.member.id
            for kind, count in (("overdue", figures.overdue), ("no_contact", figures.no_contact),
                                ("waiting", figures.waiting), ("cases", figures.open_cases)):
                listed = team.team_list(session, actor=supervisor, kind=kind, now=now, rules=rules, member_id=who,
                                        per_page=200)
                assert listed.rows.total == len(listed.rows.items) == count, kind
            for stage, count in figures.by_stage.items():
                listed = team.team_list(session, actor=supervisor, kind="cases", now=now, rules=rules,
                                        member_id=who, stage=stage, per_page=200)
                assert {r.case.stage for r in listed.rows.items} == {stage} and listed.rows.total == count
        listed = team.team_list(session, actor=supervisor, kind="no_contact", now=now, rules=rules, per_page=200)
        no_contact = {m.case_id for m in made if m.scope == "RBH" and m.status == "open" and m.manager
                      and m.created_at < now - dt.timedelta(days=30)
                      and not any(c >= now - dt.timedelta(days=30) for c in m.contacts)}
        assert {r.case.id for r in listed.rows.items} == no_contact


def test_the_team_view_is_the_supervisors_own_directorates(app: Flask, clock: Clock) -> None:
    now = clock()
    with app.app_context():
        ids = {"RBH": [user("casemanager1").id], "HBN": [user("casemanager2").id]}
    make_cases(app, now, ids, count=8)
    with app.app_context():
        session = db_session()
        hebron = team.team_view(session, actor=user("supervisor2"), now=now, rules=SupervisionRules())
        assert [f.member.username for f in hebron.members] == ["casemanager2"]
        for name in ("casemanager1", "reception1", "analyst"):
            with pytest.raises(NotPermitted):
                team.team_view(session, actor=user(name), now=now, rules=SupervisionRules())
        with pytest.raises(NotFoundForActor):  # another directorate's case manager has no list here
            team.team_list(session, actor=user("supervisor1"), kind="cases", now=now, rules=SupervisionRules(),
                           member_id=user("casemanager2").id)


def test_no_contact_days_are_read_from_the_rules_file(app: Flask, clock: Clock, tmp_path: Path) -> None:
    assert load_supervision_rules().no_contact_days == 30  # the shipped rules/supervision.yaml
    now = clock()
    with app.app_context():
        ids = {"RBH": [user("casemanager1").id]}
    made = make_cases(app, now, ids)
    (tmp_path / "supervision.yaml").write_text("no_contact_days: 10\n", encoding="utf-8")
    rules = load_supervision_rules(tmp_path)
    assert rules.no_contact_days == 10
    with app.app_context():
        supervisor = user("supervisor1")
        view = team.team_view(db_session(), actor=supervisor, now=now, rules=rules)
        expected = expected_figures(made, scope="RBH", supervisor=supervisor.id, now=now, days=10)
        assert view.members[0].no_contact == expected["no_contact"][ids["RBH"][0]]
        assert view.members[0].no_contact != expected_figures(
            made, scope="RBH", supervisor=supervisor.id, now=now, days=30)["no_contact"][ids["RBH"][0]]
    for bad in ("no_contact_days: 0\n", "no_contact_days: soon\n", "- 3\n", "no_contact_days: [\n"):
        (tmp_path / "supervision.yaml").write_text(bad, encoding="utf-8")
        with pytest.raises(SupervisionRulesInvalid):
            load_supervision_rules(tmp_path)


def test_the_processes_check_names_a_bad_supervision_rule(editable_library: Any) -> None:
    from registry.checks import check_all

    path = Path(editable_library.rules_dir) / "supervision.yaml"
    assert check_all(editable_library)[str(path)] == []
    path.write_text("no_contact_days: -4\n", encoding="utf-8")
    assert "no_contact_days" in " ".join(check_all(editable_library)[str(path)])


# --- notes and sessions ------------------------------------------------------------------------------------

def test_supervision_notes_are_read_only_by_supervisors_and_the_case_manager_concerned(
        app: Flask, clock: Clock) -> None:
    now = clock()
    other = add_case_manager(app, "casemanager1b")
    with app.app_context():
        manager = user("casemanager1").id
    made = make_cases(app, now, {"RBH": [manager], "HBN": [user_id(app, "casemanager2")]}, count=4)
    case_id = next(m.case_id for m in made if m.scope == "RBH" and m.manager == manager and m.status == "open")
    with app.app_context():
        session = db_session()
        supervisor = user("supervisor1")
        note = services.add_note(session, actor=supervisor, case_id=case_id, text="Visit more often.", now=now,
                                 form_token="t1")
        again = services.add_note(session, actor=supervisor, case_id=case_id, text="Visit more often.", now=now,
                                  form_token="t1")
        assert again.id == note.id and note.case_manager_id == manager
        general = services.add_note(session, actor=supervisor, member_id=manager, text="Good month overall.",
                                    now=now)
        seen = services.case_supervision_notes(session, actor=supervisor, case_id=case_id)
        assert seen is not None and [n.text for n in seen.notes] == ["Visit more often."]
        own = services.case_supervision_notes(session, actor=user("casemanager1"), case_id=case_id)
        assert own is not None and [n.id for n in own.notes] == [note.id]
        # Reception and another case manager of the directorate: no such panel.
        assert services.case_supervision_notes(session, actor=user("reception1"), case_id=case_id) is None
        assert services.case_supervision_notes(session, actor=session.get(User, other), case_id=case_id) is None
        # Another directorate cannot open the case at all.
        with pytest.raises(NotFoundForActor):
            services.case_supervision_notes(session, actor=user("supervisor2"), case_id=case_id)
        # A case manager's page: theirs and their supervisors' only.
        page = services.member_supervision(session, actor=user("casemanager1"), member_id=manager)
        assert {n.id for n in page.notes.notes} == {note.id, general.id}
        for stranger in (session.get(User, other), user("reception1"), user("supervisor2"), user("casemanager2")):
            with pytest.raises(NotFoundForActor):
                services.member_supervision(session, actor=stranger, member_id=manager)
        # Only supervisors write; nobody writes on another directorate's case; empty text is refused.
        with pytest.raises(NotPermitted):
            services.add_note(session, actor=user("casemanager1"), case_id=case_id, text="x", now=now)
        with pytest.raises(NotFoundForActor):
            services.add_note(session, actor=user("supervisor2"), case_id=case_id, text="x", now=now)
        with pytest.raises(FormInvalid):
            services.add_note(session, actor=supervisor, case_id=case_id, text="  ", now=now)
        # Audited, without the text (a case's history is open to all its directorate's staff).
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "supervision_note_added")))
        assert len(events) == 2 and all(e.case_id is None and "text" not in e.details for e in events)


def user_id(app: Flask, name: str) -> int:
    with app.app_context():
        return user(name).id


def test_a_session_is_planned_listed_for_both_and_carries_its_notes(app: Flask, clock: Clock) -> None:
    now = clock()
    with app.app_context():
        session = db_session()
        supervisor, manager = user("supervisor1"), user("casemanager1")
        at = now + dt.timedelta(days=3)
        sitting = services.schedule_session(session, actor=supervisor, member_id=manager.id, scheduled_at=at,
                                            agenda="Caseload, two overdue visits.", now=now)
        services.add_note(session, actor=supervisor, session_id=sitting.id, text="Agreed: visits this week.",
                          now=now)
        for reader in (supervisor, manager):
            assert [s.id for s in services.team_sessions(session, actor=reader, now=now)] == [sitting.id]
            found = services.session_view(session, actor=reader, session_id=sitting.id)
            assert [n.text for n in found.notes.notes] == ["Agreed: visits this week."]
            assert found.notes.notes[0].case_manager_id == manager.id
        for stranger in ("reception1", "supervisor2", "casemanager2"):
            with pytest.raises(NotFoundForActor):
                services.session_view(session, actor=user(stranger), session_id=sitting.id)
            assert services.team_sessions(session, actor=user(stranger), now=now) == []
        with pytest.raises(FormInvalid) as refused:
            services.schedule_session(session, actor=supervisor, member_id=manager.id, scheduled_at=None,
                                      agenda="", now=now)
        assert set(refused.value.errors) == {"scheduled_at", "agenda"}
        with pytest.raises(NotFoundForActor):
            services.schedule_session(session, actor=supervisor, member_id=user("casemanager2").id,
                                      scheduled_at=at, agenda="x", now=now)
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "supervision_session_scheduled"))


# --- reassignment ---------------------------------------------------------------------------------------------

def approved_cases(api: Callable[[str], Api], manager: int, count: int) -> list[int]:
    """Real cases approved and given to ``manager``: each has a ready needs assessment."""
    reception, supervisor = api("reception1"), api("supervisor1")
    made = []
    for _ in range(count):
        case_id = register_and_recommend(reception)
        complete(supervisor, case_id, {"decision": "approve", "case_manager": str(manager)})
        made.append(case_id)
    return made


def _state(case_ids: list[int]) -> dict[int, tuple[int | None, list[tuple[str, int | None]]]]:
    session = db_session()
    session.expire_all()
    found = {}
    for case_id in case_ids:
        case = session.get(Case, case_id)
        assert case is not None
        tasks = session.scalars(select(TaskRecord).where(TaskRecord.business_key == str(case_id),
                                                         TaskRecord.state == "ready").order_by(TaskRecord.id))
        found[case_id] = (case.case_manager_id, [(t.id, t.assignee_id) for t in tasks])
    return found


def test_confirming_moves_exactly_what_the_preview_listed_and_later_tasks_follow(
        app: Flask, clock: Clock, api: Callable[[str], Api]) -> None:
    second = add_case_manager(app, "casemanager1b")
    first = user_id(app, "casemanager1")
    cases = approved_cases(api, first, 3)
    with app.app_context():
        session = db_session()
        supervisor = user("supervisor1")
        plan = reassignment.preview_reassignment(session, actor=supervisor, from_user_id=first, to_user_id=second,
                                                 case_ids=cases[:2])
        listed = {m.case.id: (m.to_user.id, sorted(t.id for t in m.tasks)) for m in plan.moves}
        assert set(listed) == set(cases[:2]) and all(tasks for _to, tasks in listed.values())
        before = _state(cases)
        reassignment.reassign_cases(session, actor=supervisor, from_user_id=first, to_user_id=second,
                                    case_ids=cases[:2], expected=plan.fingerprint, reason="Leave", now=clock())
        after = _state(cases)
        for case_id, (to, task_ids) in listed.items():
            manager, tasks = after[case_id]
            assert manager == to == second
            assert sorted(t for t, _who in tasks) == task_ids and {who for _t, who in tasks} == {second}
        assert after[cases[2]] == before[cases[2]]  # not chosen: unchanged
        events = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "case_reassigned")))
        assert sorted(e.case_id for e in events) == sorted(cases[:2])
        assert all(e.details["after"] == second and e.details["reason"] == "Leave" for e in events)
        summary = session.scalar(select(AuditEvent).where(AuditEvent.action == "cases.reassigned"))
        assert summary is not None and [m["case"] for m in summary.details["moves"]] == sorted(cases[:2])
    # The process follows too: the case's next task goes to its new case manager.
    newcomer = api("casemanager1b")
    visit = {"visit_date": "2026-11-03", "needs_areas": ["health"], "needs_description": "Treatment.",
             "household_resources": "None.", "risk_level": "medium", "another_visit_needed": True}
    complete(newcomer, cases[0], visit, expect_form="needs_assessment")
    assert task_of(newcomer, cases[0])["assignee"] == second


def test_spreading_gives_the_cases_to_the_least_loaded_others(
        app: Flask, clock: Clock, api: Callable[[str], Api]) -> None:
    second, third = add_case_manager(app, "casemanager1b"), add_case_manager(app, "casemanager1c", name="Third")
    first = user_id(app, "casemanager1")
    cases = approved_cases(api, first, 3)
    with app.app_context():
        session = db_session()
        plan = reassignment.preview_reassignment(session, actor=user("supervisor1"), from_user_id=first,
                                                 to_user_id=None)
        assert [m.case.id for m in plan.moves] == sorted(cases)
        given = Counter(m.to_user.id for m in plan.moves)
        assert set(given) == {second, third} and max(given.values()) - min(given.values()) <= 1
        reassignment.reassign_cases(session, actor=user("supervisor1"), from_user_id=first, to_user_id=None,
                                    case_ids=None, expected=plan.fingerprint, reason="Left", now=clock())
        after = _state(cases)
        assert {m.case.id: m.to_user.id for m in plan.moves} == {c: after[c][0] for c in cases}


def test_a_stale_preview_is_refused_and_nothing_moves(app: Flask, clock: Clock, api: Callable[[str], Api]) -> None:
    second = add_case_manager(app, "casemanager1b")
    first = user_id(app, "casemanager1")
    cases = approved_cases(api, first, 2)
    with app.app_context():
        session = db_session()
        supervisor = user("supervisor1")
        plan = reassignment.preview_reassignment(session, actor=supervisor, from_user_id=first, to_user_id=second)
        # Meanwhile one more case is given to the same case manager.
    cases += approved_cases(api, first, 1)
    with app.app_context():
        session = db_session()
        before = _state(cases)
        with pytest.raises(reassignment.ReassignmentChanged):
            reassignment.reassign_cases(session, actor=user("supervisor1"), from_user_id=first, to_user_id=second,
                                        case_ids=None, expected=plan.fingerprint, reason="Leave", now=clock())
        assert _state(cases) == before
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "cases.reassigned")) is None


def test_another_directorates_people_are_refused(app: Flask, clock: Clock, api: Callable[[str], Api]) -> None:
    first = user_id(app, "casemanager1")
    approved_cases(api, first, 1)
    with app.app_context():
        session = db_session()
        supervisor, elsewhere = user("supervisor1"), user("casemanager2").id
        with pytest.raises(NotFoundForActor):
            reassignment.preview_reassignment(session, actor=supervisor, from_user_id=first, to_user_id=elsewhere)
        with pytest.raises(NotFoundForActor):
            reassignment.preview_reassignment(session, actor=supervisor, from_user_id=elsewhere, to_user_id=first)
        with pytest.raises(NotFoundForActor):  # Hebron's supervisor cannot move Ramallah's cases
            reassignment.preview_reassignment(session, actor=user("supervisor2"), from_user_id=first,
                                              to_user_id=elsewhere)
        with pytest.raises(NotPermitted):
            reassignment.preview_reassignment(session, actor=user("casemanager1"), from_user_id=first,
                                              to_user_id=None)
        with pytest.raises(FormInvalid) as alone:  # nobody else to spread to
            reassignment.preview_reassignment(session, actor=supervisor, from_user_id=first, to_user_id=None)
        assert alone.value.errors == {"to": ["no_other_case_manager"]}


def test_the_inbox_reassignment_of_a_case_managers_task_takes_the_case_along(
        app: Flask, clock: Clock, api: Callable[[str], Api]) -> None:
    from registry import inbox

    second = add_case_manager(app, "casemanager1b")
    first = user_id(app, "casemanager1")
    case_id = approved_cases(api, first, 1)[0]
    with app.app_context():
        session = db_session()
        task_id = _state([case_id])[case_id][1][0][0]
        inbox.reassign_tasks(session, actor=user("supervisor1"), task_ids=[task_id], assignee_id=second,
                             now=clock())
        assert _state([case_id])[case_id] == (second, [(task_id, second)])
        assert session.scalar(select(AuditEvent).where(AuditEvent.action == "case_reassigned",
                                                        AuditEvent.case_id == case_id)) is not None

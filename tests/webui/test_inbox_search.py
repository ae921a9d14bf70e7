"""The inbox's search, filters, sort, counts and paging agree with what the test computes from the rows it made;
saved filters belong to their owner; a supervisor's bulk reassignment is scoped, audited and all-or-nothing."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Api, Clock
from tests.factories import national_id

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

HEADS = ["سامي ناصر", "محمد الخطيب", "ليلى عودة", "محمود ناصر", "هالة سمارة", "يوسف خليل"]
LOCALITIES = ["Beitunia", "al-Bireh", "Birzeit"]
TASKS = [("review_registration", "Review the registration", "supervisor", "eligibility_review"),
         ("approve_plan", "Approve the plan", "supervisor", "planning"),
         ("assess_needs", "Assess the needs", "case_manager", "assessment")]


@dataclass
class Made:
    """One synthetic task the test created, with what the inbox should know about it."""

    task_id: str
    case_id: int
    reference: str
    head: str
    head_id: str
    locality: str
    spec: str
    lane: str
    stage: str
    due_at: dt.datetime
    created_at: dt.datetime
    score: float
    assignee: str | None
    scope: str = "RBH"


def _user(name: str) -> Any:
    from registry.models import User
    from webui.db import db_session

    user = db_session().scalar(select(User).where(User.username == name))
    assert user is not None
    return user


def _make_tasks(app: Flask, now: dt.datetime, count: int = 30, *, scope: str = "RBH") -> list[Made]:
    """Ready tasks of varied task, stage, locality, due date, score and holder, each with its own case,
    household, head and instance (written directly: the inbox reads only these rows)."""
    from engine.models import ProcessInstance, ProcessVersion, TaskRecord
    from registry.models import Case, Directorate, EligibilityScore, Household, Person
    from registry.names import search_key
    from webui.db import db_session

    made: list[Made] = []
    with app.app_context():
        session = db_session()
        directorate = session.scalar(select(Directorate).where(Directorate.code == scope))
        version = session.scalar(select(ProcessVersion.id).order_by(ProcessVersion.id.desc()))
        holders = {"supervisor": _user("supervisor1" if scope == "RBH" else "supervisor2").id,
                   "case_manager": _user("casemanager1" if scope == "RBH" else "casemanager2").id}
        assert directorate is not None and version is not None
        for n in range(count):
            spec, title, lane, stage = TASKS[n % len(TASKS)]
            head = f"{HEADS[n % len(HEADS)]} {n}"
            household = Household(directorate_id=directorate.id, governorate_code=directorate.governorate_code,
                                   locality=LOCALITIES[(n // 2) % len(LOCALITIES)], created_at=now, updated_at=now)
            session.add(household)
            session.flush()
            head_id = national_id()
            session.add(Person(household_id=household.id, national_id=head_id, name_ar=head,
                               name_search=search_key(head), relation="head", sex="male"))
            instance = ProcessInstance(process_version_id=version, business_key="0", scope=scope, state="{}",
                                       serializer_version="test", created_at=now, updated_at=now)
            session.add(instance)
            session.flush()
            case = Case(reference=f"{scope}-2026-{900000 + n + (0 if scope == 'RBH' else 50000):06d}",
                        directorate_id=directorate.id, household_id=household.id, instance_id=instance.id,
                        applicant_national_id=head_id, stage=stage, created_at=now)
            session.add(case)
            session.flush()
            instance.business_key = str(case.id)
            score = round(0.05 + (n * 7 % 30) / 31, 4)
            session.add(EligibilityScore(household_id=household.id, case_id=case.id, directorate_id=directorate.id,
                                         rule_version="test", inputs={}, indicators=[], score=score,
                                         score_exact=str(score), category="poor", created_at=now))
            holder = holders[lane] if n % 4 == 0 else None
            due = now + dt.timedelta(days=(n % 9) - 3, hours=1)  # a third are overdue
            created = now - dt.timedelta(days=40 - n)
            task = TaskRecord(id=str(uuid.uuid4()), instance_id=instance.id, business_key=str(case.id), scope=scope,
                              spec_id=spec, title=title, lane=lane, form_key=spec, stage=stage,
                              assignee_id=holder, due_at=due, state="ready", created_at=created)
            session.add(task)
            made.append(Made(task_id=task.id, case_id=case.id, reference=case.reference, head=head, head_id=head_id,
                             locality=household.locality, spec=spec, lane=lane, stage=stage, due_at=due,
                             created_at=created, score=score, assignee=("mine" if holder else None), scope=scope))
        session.commit()
    return made


def _search(app: Flask, user: str, now: dt.datetime, **query: Any) -> Any:
    from registry import inbox
    from webui.db import db_session

    with app.app_context():
        return inbox.search_inbox(db_session(), actor=_user(user), query=inbox.InboxQuery(**query), now=now)


def _team_ids(result: Any) -> list[str]:
    return [row.task.id for row in result.lists["team"].items]


# --- search, filters, sort, counts, paging -----------------------------------------------------------

@BOTH_DATABASES
def test_each_filter_and_search_finds_exactly_the_tasks_the_test_expects(app: Flask, clock: Clock) -> None:
    now = clock()
    made = _make_tasks(app, now)
    _make_tasks(app, now, 6, scope="HBN")  # another directorate's tasks: never counted, never listed
    mine = list(made)
    ours = {m.task_id for m in mine}
    checks: list[tuple[dict[str, Any], Callable[[Made], bool]]] = [
        ({}, lambda m: True),
        ({"task": "approve_plan"}, lambda m: m.spec == "approve_plan"),
        ({"stage": "assessment"}, lambda m: m.stage == "assessment"),
        ({"locality": "Birzeit"}, lambda m: m.locality == "Birzeit"),
        ({"overdue": True}, lambda m: m.due_at < now),
        ({"due_from": (now + dt.timedelta(days=1)).date(), "due_to": (now + dt.timedelta(days=3)).date()},
         lambda m: (now + dt.timedelta(days=1)).date() <= m.due_at.date() <= (now + dt.timedelta(days=3)).date()),
        ({"text": "ناصر"}, lambda m: "ناصر" in m.head),
        ({"text": made[7].head_id}, lambda m: m.head_id == made[7].head_id),
        ({"text": made[11].reference.lower()}, lambda m: m.reference == made[11].reference),
        ({"text": "900013"}, lambda m: m.reference.endswith("900013")),
        ({"stage": "planning", "locality": "al-Bireh", "overdue": True},
         lambda m: m.stage == "planning" and m.locality == "al-Bireh" and m.due_at < now),
    ]
    for query, keep in checks:
        expected = {m.task_id for m in mine if keep(m)}
        result = _search(app, "supervisor1", now, view="team", per_page=200, **query)
        assert set(_team_ids(result)) == expected, query
        assert result.counts.total == len(expected) == result.lists["team"].info.total, query
        assert set(_team_ids(result)) <= ours
    assert {m.task_id for m in made if m.reference == made[11].reference}  # the reference search found one


@BOTH_DATABASES
def test_counts_per_filter_leave_out_only_their_own_filter(app: Flask, clock: Clock) -> None:
    now = clock()
    made = _make_tasks(app, now)
    result = _search(app, "supervisor1", now, view="team", locality="Beitunia", overdue=True)
    in_place = [m for m in made if m.locality == "Beitunia"]
    assert dict(result.counts.by_stage) == dict(Counter(m.stage for m in in_place if m.due_at < now))
    assert {spec: n for spec, _title, n in result.counts.by_task} == dict(
        Counter(m.spec for m in in_place if m.due_at < now))
    assert dict(result.counts.by_locality) == dict(Counter(m.locality for m in made if m.due_at < now))
    assert result.counts.overdue == sum(1 for m in in_place if m.due_at < now)
    assert result.counts.total == sum(1 for m in in_place if m.due_at < now)


@BOTH_DATABASES
def test_sorts_order_by_due_date_priority_and_age(app: Flask, clock: Clock) -> None:
    now = clock()
    made = _make_tasks(app, now)
    by_id = {m.task_id: m for m in made}

    def order(sort: str) -> list[Made]:
        return [by_id[i] for i in _team_ids(_search(app, "supervisor1", now, view="team", sort=sort, per_page=200))]

    assert [m.due_at for m in order("due")] == sorted(m.due_at for m in made)
    assert [m.due_at for m in order("-due")] == sorted((m.due_at for m in made), reverse=True)
    assert [m.score for m in order("priority")] == sorted((m.score for m in made), reverse=True)
    assert [m.score for m in order("-priority")] == sorted(m.score for m in made)
    assert [m.created_at for m in order("age")] == sorted(m.created_at for m in made)
    assert [m.created_at for m in order("-age")] == sorted((m.created_at for m in made), reverse=True)


def test_pages_hold_their_size_and_together_every_task_once(app: Flask, clock: Clock) -> None:
    now = clock()
    made = _make_tasks(app, now)
    seen: list[str] = []
    for page in (1, 2, 3, 4):
        result = _search(app, "supervisor1", now, view="team", per_page=8, team_page=page)
        assert len(result.lists["team"].items) == (8 if page < 4 else len(made) - 24)
        assert result.lists["team"].info.total == len(made)
        seen += _team_ids(result)
    assert sorted(seen) == sorted(m.task_id for m in made)


def test_the_work_view_shows_only_the_actors_role_split_into_mine_and_open(app: Flask, clock: Clock) -> None:
    now = clock()
    made = _make_tasks(app, now)
    result = _search(app, "supervisor1", now, per_page=200)
    supervisor_tasks = [m for m in made if m.lane == "supervisor"]
    assert {r.task.id for r in result.lists["mine"].items} == {m.task_id for m in supervisor_tasks if m.assignee}
    assert {r.task.id for r in result.lists["open"].items} == {m.task_id for m in supervisor_tasks if not m.assignee}
    assert result.counts.total == len(supervisor_tasks)
    # Only supervisors see the whole directorate: a case manager asking for it gets their own work view.
    manager = _search(app, "casemanager1", now, view="team", per_page=200)
    assert manager.query.view == "work" and "team" not in manager.lists
    assert {r.task.lane for r in manager.lists["open"].items} == {"case_manager"}


def test_the_inbox_page_filters_in_both_languages_and_names_bad_input(
        app: Flask, clock: Clock, login_as: Callable[..., FlaskClient]) -> None:
    now = clock()
    made = _make_tasks(app, now)
    expected = [m for m in made if m.locality == "Birzeit" and m.due_at < now]
    for lang in ("en", "ar"):
        browser = login_as("supervisor1", lang)
        html = browser.get("/?view=team&locality=Birzeit&overdue=1&sort=priority").get_data(as_text=True)
        assert f'data-testid="match-total">{len(expected)}<' in html
        assert len(re.findall(r'name="task_id" value="', html)) == len(expected)
        assert 'class="table-wrap inbox-wrap"' in html
    html = login_as("supervisor1", "en").get("/?due_from=31-12-2026&sort=sideways").get_data(as_text=True)
    assert "Enter a valid date (YYYY-MM-DD)." in html and "Choose one of the listed options." in html
    assert 'data-testid="my-tasks-total"' in html  # the rest of the inbox still opens


# --- saved filters ---------------------------------------------------------------------------------

def test_saved_filters_are_kept_listed_applied_and_deleted_by_their_owner_only(
        app: Flask, clock: Clock, login_as: Callable[..., FlaskClient]) -> None:
    from registry.models import SavedFilter
    from webui.db import db_session

    now = clock()
    made = _make_tasks(app, now)
    owner, other = login_as("supervisor1"), login_as("casemanager1")
    response = owner.post("/inbox/filters",
                          data={"name": "Birzeit late", "query": "view=team&locality=Birzeit&overdue=1"})
    assert response.status_code == 302
    page = owner.get("/").get_data(as_text=True)
    link = re.search(r'<a href="(/\?[^"]+)">Birzeit late</a>', page)
    assert link is not None
    applied = owner.get(link.group(1).replace("&amp;", "&")).get_data(as_text=True)
    expected = sum(1 for m in made if m.locality == "Birzeit" and m.due_at < now)
    assert f'data-testid="match-total">{expected}<' in applied
    assert "Birzeit late" not in other.get("/").get_data(as_text=True)
    with app.app_context():
        kept = db_session().scalar(select(SavedFilter).where(SavedFilter.name == "Birzeit late"))
        assert kept is not None
        kept_id = kept.id
    assert other.post(f"/inbox/filters/{kept_id}/delete").status_code == 404  # not theirs
    assert "Birzeit late" in owner.get("/").get_data(as_text=True)
    assert owner.post(f"/inbox/filters/{kept_id}/delete").status_code == 302
    assert "Birzeit late" not in owner.get("/").get_data(as_text=True)
    assert "This field is required." in owner.post("/inbox/filters", data={"name": "  ", "query": "q=x"},
                                                   follow_redirects=True).get_data(as_text=True)


# --- bulk reassignment -----------------------------------------------------------------------------

def _task_rows(app: Flask, ids: list[str]) -> dict[str, Any]:
    from engine.models import TaskRecord
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        session.expire_all()
        rows = session.scalars(select(TaskRecord).where(TaskRecord.id.in_(ids)))
        return {t.id: (t.assignee_id, t.state) for t in rows}


def _events(app: Flask, action: str) -> list[Any]:
    from registry.models import AuditEvent
    from webui.db import db_session

    with app.app_context():
        return list(db_session().scalars(select(AuditEvent).where(AuditEvent.action == action)))


@BOTH_DATABASES
def test_a_supervisor_reassigns_several_tasks_at_once_with_an_event_for_each(
        app: Flask, clock: Clock, login_as: Callable[..., FlaskClient]) -> None:
    now = clock()
    made = _make_tasks(app, now)
    chosen = [m for m in made if m.lane == "case_manager"][:4]
    manager = _user_id(app, "casemanager1")
    browser = login_as("supervisor1")
    response = browser.post("/inbox/reassign", data={"task_id": [m.task_id for m in chosen], "assignee_id": manager,
                                                     "confirm": "1", "back": "view=team"}, follow_redirects=True)
    assert "Tasks reassigned: 4." in response.get_data(as_text=True)
    assert {v for v in _task_rows(app, [m.task_id for m in chosen]).values()} == {(manager, "ready")}
    events = _events(app, "task_reassigned")
    assert sorted(e.case_id for e in events) == sorted(m.case_id for m in chosen)
    assert all(e.details["after"] == manager and e.actor_id == _user_id(app, "supervisor1") for e in events)


@BOTH_DATABASES
def test_bulk_reassignment_is_all_or_nothing(app: Flask, clock: Clock, login_as: Callable[..., FlaskClient]) -> None:
    from engine.models import TaskRecord
    from webui.db import db_session

    now = clock()
    made = _make_tasks(app, now)
    elsewhere = _make_tasks(app, now, 3, scope="HBN")
    managers = [m for m in made if m.lane == "case_manager"]
    manager = _user_id(app, "casemanager1")
    browser = login_as("supervisor1")
    before = _task_rows(app, [m.task_id for m in made])

    def refused(ids: list[str], assignee: int, why: str) -> None:
        html = browser.post("/inbox/reassign", data={"task_id": ids, "assignee_id": assignee, "confirm": "1"},
                            follow_redirects=True).get_data(as_text=True)
        assert "Nothing was reassigned" in html and why in html
        assert _task_rows(app, [m.task_id for m in made]) == before
        assert _events(app, "task_reassigned") == []

    # Another directorate's task among ours.
    refused([managers[0].task_id, elsewhere[2].task_id], manager, "not in your directorate")
    # A supervisor's task given to a case manager.
    supervisor_task = next(m for m in made if m.lane == "supervisor")
    refused([managers[0].task_id, supervisor_task.task_id], manager, "of another role")
    # A person of another directorate.
    refused([managers[0].task_id], _user_id(app, "casemanager2"), "cannot take tasks of this directorate")
    # A task completed meanwhile.
    with app.app_context():
        session = db_session()
        done = session.get(TaskRecord, managers[1].task_id)
        assert done is not None
        done.state, done.completed_at = "completed", now
        session.commit()
    before = _task_rows(app, [m.task_id for m in made])
    refused([managers[0].task_id, managers[1].task_id], manager, "completed meanwhile")
    # A case manager may not reassign at all.
    answer = login_as("casemanager1").post("/inbox/reassign", data={"task_id": [managers[0].task_id],
                                                                    "assignee_id": manager})
    assert answer.status_code == 403
    assert _task_rows(app, [m.task_id for m in made]) == before


def _user_id(app: Flask, name: str) -> int:
    with app.app_context():
        return int(_user(name).id)


# --- the API ---------------------------------------------------------------------------------------

def test_the_api_lists_tasks_with_the_same_filters_and_sort(app: Flask, clock: Clock,
                                                            api: Callable[[str], Api]) -> None:
    now = clock()
    made = _make_tasks(app, now)
    caller = api("casemanager1")
    theirs = [m for m in made if m.lane == "case_manager"]
    answer = caller.get("/tasks?overdue=true&sort=priority&per_page=100").get_json()
    expected = sorted((m for m in theirs if m.due_at < now), key=lambda m: -m.score)
    assert [t["id"] for t in answer["tasks"]] == [m.task_id for m in expected]
    assert answer["total"] == len(expected)
    near = caller.get(f"/tasks?locality=Beitunia&q={theirs[0].head_id}").get_json()
    assert [t["id"] for t in near["tasks"]] == ([theirs[0].task_id] if theirs[0].locality == "Beitunia" else [])
    paged = caller.get("/tasks?per_page=3&page=2&sort=age").get_json()
    assert [t["id"] for t in paged["tasks"]] == [m.task_id for m in sorted(theirs, key=lambda m: m.created_at)][3:6]
    bad = caller.get("/tasks?sort=sideways&due_from=tomorrow")
    assert bad.status_code == 422
    assert set(bad.get_json()["codes"]) == {"sort", "due_from"}


@pytest.mark.parametrize("username", ["analyst", "admin"])
def test_staff_of_no_directorate_see_an_empty_inbox(login_as: Callable[..., FlaskClient], username: str) -> None:
    page = login_as(username).get("/")
    assert page.status_code == 200
    assert 'data-testid="my-tasks-total">0<' in page.get_data(as_text=True)

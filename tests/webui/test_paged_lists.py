"""Every inbox, list and history is paged: a page holds at most its size, the total is right, and the
number of queries a page needs does not grow with the number of cases."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, select

from tests.conftest import Api, Clock
from tests.factories import registration


def _user(name: str) -> Any:
    from registry.models import User
    from webui.db import db_session

    user = db_session().scalar(select(User).where(User.username == name))
    assert user is not None
    return user


def _make_cases(app: Flask, clock: Clock, count: int) -> list[int]:
    """Cases registered and recommended through the services (no HTTP): each waits for a supervisor."""
    from registry import cases
    from webui.db import db_session, library

    made = []
    with app.app_context():
        session, reception = db_session(), _user("reception1")
        for _ in range(count):
            case = cases.start_registration(session, actor=reception, library=library(), now=clock())
            for data in (registration(monthly_income=0),
                         {"decision": "recommend_eligible", "recommendation_notes": "Deprived."}):
                task = cases.first_task_for(session, actor=reception, case_id=case.id)
                assert task is not None
                cases.complete_task(session, actor=reception, library=library(), task_id=task.id, data=data,
                                    now=clock())
            made.append(case.id)
    return made


@contextmanager
def _counted(app: Flask) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    engine = app.extensions["db_engine"]
    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

PAGES = {"supervisor1": ["/", "/cases", "/cases?status=open", "/registry/waiting-list"],
         "reception1": ["/"]}


def _queries_per_page(app: Flask, browsers: dict[str, FlaskClient]) -> dict[str, int]:
    counts = {}
    for username, paths in PAGES.items():
        for path in paths:
            with _counted(app) as statements:
                response = browsers[username].get(path)
            assert response.status_code == 200, path
            counts[f"{username} {path}"] = len(statements)
    return counts


def test_list_pages_make_as_many_queries_for_forty_cases_as_for_five(
        app: Flask, clock: Clock, login_as: Callable[..., FlaskClient], api: Callable[[str], Api]) -> None:
    browsers = {name: login_as(name) for name in PAGES}
    supervisor_api = api("supervisor1")
    _make_cases(app, clock, 5)
    with _counted(app) as statements:
        assert supervisor_api.get("/tasks").get_json()["total"] == 5
    few, few_api = _queries_per_page(app, browsers), len(statements)
    _make_cases(app, clock, 35)
    with _counted(app) as statements:
        assert supervisor_api.get("/tasks").get_json()["total"] == 40
    many, many_api = _queries_per_page(app, browsers), len(statements)
    assert many == few
    assert many_api == few_api
    html = browsers["supervisor1"].get("/registry/waiting-list").get_data(as_text=True)
    assert len(re.findall(r">RBH-\d{4}-\d{6}<", html)) == 40


@BOTH_DATABASES
def test_each_list_comes_a_page_at_a_time_with_its_total(app: Flask, clock: Clock,
                                                         api: Callable[[str], Api]) -> None:
    from registry import cases, households
    from registry.operations import local_date
    from webui.db import db_session

    made = _make_cases(app, clock, 12)
    with app.app_context():
        session, supervisor = db_session(), _user("supervisor1")
        pages = [cases.inbox(session, actor=supervisor, open_page=n, per_page=5) for n in (1, 2, 3)]
        assert [len(p.open_for_role) for p in pages] == [5, 5, 2]
        assert {p.open_info.total for p in pages} == {12} and pages[0].open_info.pages == 3
        assert sorted(r.case.id for p in pages for r in p.open_for_role) == sorted(made)
        assert all(r.head_name for p in pages for r in p.open_for_role)
        assert pages[0].mine_info.total == 0

        listed = [cases.list_cases(session, actor=supervisor, page=n, per_page=5) for n in (1, 2, 3)]
        assert [len(p.items) for p in listed] == [5, 5, 2] and {p.total for p in listed} == {12}
        assert [r.case.id for p in listed for r in p.items] == sorted(made, reverse=True)
        beyond = cases.list_cases(session, actor=supervisor, page=10**30, per_page=5)
        assert beyond.info.page == 3 and len(beyond.items) == 2  # a page past the end is the last page

        waiting = [households.waiting_list(session, actor=supervisor, rules_dir=app.config["RULES_DIR"],
                                           today=local_date(clock()), page=n, per_page=5) for n in (1, 2, 3)]
        assert [len(p.items) for p in waiting] == [5, 5, 2] and {p.total for p in waiting} == {12}
        assert [e.rank for p in waiting for e in p.items] == list(range(1, 13))
        everything = list(households.iter_waiting_list(session, actor=supervisor,
                                                       rules_dir=app.config["RULES_DIR"],
                                                       today=local_date(clock()), batch=5))
        assert [e.case.id for e in everything if e.case] == [e.case.id for p in waiting for e in p.items if e.case]

    supervisor_api = api("supervisor1")
    body = supervisor_api.get("/tasks?page=3&per_page=5").get_json()
    assert (len(body["tasks"]), body["total"], body["page"], body["per_page"]) == (2, 12, 3, 5)
    first = supervisor_api.get("/tasks?per_page=5").get_json()["tasks"]
    assert not {t["id"] for t in first} & {t["id"] for t in body["tasks"]}


@BOTH_DATABASES
def test_the_case_history_is_paged_and_the_task_page_reads_none_of_it(
        app: Flask, clock: Clock, login_as: Callable[..., FlaskClient]) -> None:
    from registry import cases
    from webui.db import db_session

    case_id = _make_cases(app, clock, 1)[0]
    with app.app_context():
        session, supervisor = db_session(), _user("supervisor1")
        review = cases.inbox(session, actor=supervisor).open_for_role[0].task.id
        for _ in range(40):  # 80 more events
            clock.advance(minutes=1)
            cases.claim_task(session, actor=supervisor, task_id=review, now=clock())
            clock.advance(minutes=1)
            cases.release_task(session, actor=supervisor, task_id=review, now=clock())
        total = cases.case_view(session, actor=supervisor, case_id=case_id).history_info.total
        assert total > 80
        first = cases.case_view(session, actor=supervisor, case_id=case_id, history_per_page=30)
        last = cases.case_view(session, actor=supervisor, case_id=case_id, history_page=first.history_info.pages,
                               history_per_page=30)
        assert len(first.history) == 30 and len(last.history) == total - 30 * (first.history_info.pages - 1)
        assert first.history[-1].at >= first.history[0].at  # a page reads oldest to newest
        assert last.history[0].action == "case_opened"  # the last page holds the oldest events
    browser = login_as("supervisor1")
    page = browser.get(f"/cases/{case_id}?tab=history").get_data(as_text=True)
    assert page.count('<span class="when">') == 50
    assert 'data-testid="history-pages"' in page
    assert re.search(rf"Page <bdi[^>]*>1</bdi> of <bdi[^>]*>{-(-total // 50)}</bdi>", page)
    older = browser.get(f"/cases/{case_id}?history_page=2").get_data(as_text=True)
    assert older.count('<span class="when">') == total - 50 and "Case opened" in older
    with _counted(app) as statements:
        assert browser.get(f"/tasks/{review}").status_code == 200
    assert not [s for s in statements if "audit_events" in s]

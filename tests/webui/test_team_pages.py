"""The team pages as people use them: the figures a supervisor sees link to lists of that length; supervision
notes on the case page and sessions reach only the supervisor and the case manager concerned; moving cases
goes through a preview; everyone else is refused."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from lxml import html as lxml_html
from sqlalchemy import func, select

from registry.models import Case
from registry.supervision.models import SupervisionNote, SupervisionSession
from tests.conftest import Api, Clock
from tests.registry.test_supervision import add_case_manager, approved_cases, make_cases, user_id
from webui.db import db_session


def _page(response: object) -> lxml_html.HtmlElement:
    assert response.status_code == 200, response.status_code  # type: ignore[attr-defined]
    return lxml_html.fromstring(response.get_data(as_text=True))  # type: ignore[attr-defined]


def _count(app: Flask, model: type) -> int:
    with app.app_context():
        return int(db_session().scalar(select(func.count()).select_from(model)) or 0)


def test_each_figure_links_to_a_list_of_that_many(app: Flask, clock: Clock,
                                                  login_as: Callable[..., FlaskClient]) -> None:
    make_cases(app, clock(), {"RBH": [user_id(app, "casemanager1")]}, count=20)
    browser = login_as("supervisor1")
    team = _page(browser.get("/team"))
    assert team.xpath("//nav//a[@data-testid='nav-team']")
    links = team.xpath("//*[@data-testid='team-table']//a[contains(@href, '/team/list/')]")
    assert len(links) >= 6
    for link in links:
        listed = _page(browser.get(link.get("href")))
        rows = listed.xpath("//*[@data-testid='team-list-row']")
        assert len(rows) == int(link.text_content().strip()), link.get("href")
    assert "30" in team.xpath("string(//*[@data-testid='no-contact-rule'])")
    arabic = _page(login_as("supervisor1", "ar").get("/team"))
    assert arabic.xpath("//html/@dir") == ["rtl"] and arabic.xpath("//*[@data-testid='team-table']")


def test_only_supervisors_see_the_team(app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    for name in ("reception1", "casemanager1", "analyst"):
        browser = login_as(name)
        assert browser.get("/team").status_code == 403
        assert browser.get("/team/list/overdue").status_code == 403
        assert browser.get("/team/reassign").status_code == 403
        assert not _page(browser.get("/")).xpath("//a[@data-testid='nav-team']")
    assert login_as("supervisor1").get("/team/list/nonsense").status_code == 404
    other = user_id(app, "casemanager2")
    assert login_as("supervisor1").get(f"/team/list/cases?member={other}").status_code == 404


def test_a_supervision_note_on_a_case_reaches_the_case_manager_and_nobody_else(
        app: Flask, clock: Clock, api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    other = add_case_manager(app, "casemanager1b")
    case_id = approved_cases(api, user_id(app, "casemanager1"), 1)[0]
    supervisor = login_as("supervisor1")
    done = supervisor.post(f"/team/cases/{case_id}/notes", data={"text": "Check the roof repair.",
                                                                 "form_token": "abc"}, follow_redirects=True)
    assert "The supervision note was added." in done.get_data(as_text=True)
    panel = _page(done).xpath("//*[@data-testid='case-supervision-notes']")
    assert panel and "Check the roof repair." in panel[0].text_content()

    manager_page = _page(login_as("casemanager1").get(f"/cases/{case_id}"))
    assert "Check the roof repair." in manager_page.xpath("string(//*[@data-testid='case-supervision-notes'])")
    assert not manager_page.xpath("//*[@data-testid='supervision-note-form']")  # read only
    for name in ("reception1", "casemanager1b"):
        page = login_as(name).get(f"/cases/{case_id}").get_data(as_text=True)
        assert "Check the roof repair." not in page and "case-supervision-notes" not in page
    assert login_as("supervisor2").get(f"/cases/{case_id}").status_code == 404
    assert login_as("supervisor2").post(f"/team/cases/{case_id}/notes", data={"text": "x"}).status_code == 404
    assert login_as("casemanager1").post(f"/team/cases/{case_id}/notes", data={"text": "x"}).status_code == 403
    assert login_as("casemanager1b").get(f"/team/members/{user_id(app, 'casemanager1')}").status_code == 404
    assert login_as("reception1").get(f"/team/members/{user_id(app, 'casemanager1')}").status_code == 404
    # The manager's own supervision page lists it too; theirs only.
    own = login_as("casemanager1").get("/team/me", follow_redirects=True).get_data(as_text=True)
    assert "Check the roof repair." in own
    assert login_as("casemanager1b").get(f"/team/members/{other}").status_code == 200
    refused = supervisor.post(f"/team/cases/{case_id}/notes", data={"text": "   "}, follow_redirects=True)
    assert "The note was not added: This field is required." in refused.get_data(as_text=True)
    assert _count(app, SupervisionNote) == 1


def test_a_session_is_planned_and_shown_to_both(app: Flask, clock: Clock,
                                                login_as: Callable[..., FlaskClient]) -> None:
    manager = user_id(app, "casemanager1")
    supervisor = login_as("supervisor1")
    bad = supervisor.post(f"/team/members/{manager}/sessions", data={"scheduled_at": "tomorrow", "agenda": "x"},
                          follow_redirects=True)
    assert "The session was not planned: This field is required." in bad.get_data(as_text=True)
    assert _count(app, SupervisionSession) == 0
    when = (clock() + dt.timedelta(days=2)).strftime("%Y-%m-%dT10:00")
    done = supervisor.post(f"/team/members/{manager}/sessions",
                           data={"scheduled_at": when, "agenda": "Overdue visits; the Odeh family."},
                           follow_redirects=True)
    page = done.get_data(as_text=True)
    assert "The supervision session is planned." in page and "Overdue visits; the Odeh family." in page
    session_url = re.search(r'/team/sessions/(\d+)/notes', page)
    assert session_url
    supervisor.post(f"/team/sessions/{session_url.group(1)}/notes", data={"text": "Agreed a plan."})
    for name in ("casemanager1", "supervisor1"):
        shown = login_as(name).get(f"/team/sessions/{session_url.group(1)}").get_data(as_text=True)
        assert "Agreed a plan." in shown and "Overdue visits" in shown
    assert "Overdue visits" in login_as("supervisor1").get("/team").get_data(as_text=True)
    assert "Overdue visits" in login_as("casemanager1").get("/team/me", follow_redirects=True).get_data(as_text=True)
    for name in ("casemanager2", "supervisor2", "reception1"):
        assert login_as(name).get(f"/team/sessions/{session_url.group(1)}").status_code == 404


def test_moving_cases_goes_through_the_preview(app: Flask, clock: Clock, api: Callable[[str], Api],
                                               login_as: Callable[..., FlaskClient]) -> None:
    second = add_case_manager(app, "casemanager1b")
    first = user_id(app, "casemanager1")
    cases = approved_cases(api, first, 2)
    browser = login_as("supervisor1")
    preview = _page(browser.get(f"/team/reassign?from_user_id={first}&to_user_id={second}"))
    assert sorted(int(r.get("data-case-id")) for r in preview.xpath("//*[@data-testid='preview-move']")) == cases
    assert "2 cases and 2 open tasks move." in preview.xpath("string(//*[@data-testid='preview-summary'])")
    fingerprint = preview.xpath("//form[@data-testid='reassign-confirm']//input[@name='fingerprint']/@value")[0]
    # Only the ticked case.
    subset = _page(browser.get(f"/team/reassign?from_user_id={first}&to_user_id={second}&subset=1"
                               f"&case_id={cases[0]}"))
    assert [int(r.get("data-case-id")) for r in subset.xpath("//*[@data-testid='preview-move']")] == [cases[0]]
    # A stale fingerprint moves nothing.
    stale = browser.post("/team/reassign", data={"from_user_id": first, "to_user_id": second, "reason": "Leave",
                                                 "fingerprint": "0" * 32}, follow_redirects=True)
    assert "changed since the preview" in stale.get_data(as_text=True)
    with app.app_context():
        assert {db_session().get(Case, c).case_manager_id for c in cases} == {first}  # type: ignore[union-attr]
    # Another directorate's case manager is not found.
    elsewhere = user_id(app, "casemanager2")
    assert browser.get(f"/team/reassign?from_user_id={first}&to_user_id={elsewhere}").status_code == 404
    assert browser.post("/team/reassign", data={"from_user_id": elsewhere, "to_user_id": first, "reason": "x",
                                                "fingerprint": fingerprint}).status_code == 404
    done = browser.post("/team/reassign", data={"from_user_id": first, "to_user_id": second, "reason": "Leave",
                                                "fingerprint": fingerprint}, follow_redirects=True)
    assert "Cases moved: 2, with 2 open tasks." in done.get_data(as_text=True)
    with app.app_context():
        session = db_session()
        session.expire_all()
        assert {session.get(Case, c).case_manager_id for c in cases} == {second}  # type: ignore[union-attr]
    arabic = login_as("supervisor1", "ar").get(f"/team/reassign?from_user_id={second}&to_user_id={first}")
    assert arabic.status_code == 200

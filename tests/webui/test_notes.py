"""Case notes: staff of the case's directorate add them at any time, read them in the history and the notes,
pin them to the summary; another directorate sees nothing and adds nothing; bad notes are refused clearly."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from registry.models import AuditEvent, CaseNote
from registry.notes import MAX_NOTE_CHARS
from tests.conftest import Api
from tests.webui.test_case_paths import register_and_recommend
from webui.db import db_session


def _section(html: str, name: str) -> str:
    start = html.index(f'id="section-{name}"')
    following = html.find('<section role="tabpanel"', start)
    return html[start:following if following != -1 else len(html)]


def _add(browser: FlaskClient, case_id: int, text: str, token: str = "") -> str:
    response = browser.post(f"/cases/{case_id}/notes", data={"text": text, "form_token": token},
                            follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _notes(app: Flask) -> list[CaseNote]:
    with app.app_context():
        return list(db_session().scalars(select(CaseNote).order_by(CaseNote.id)))


def test_a_managers_note_shows_in_the_history_and_the_notes_for_the_supervisor(
        app: Flask, api: Callable[[str], Api], login_as: Callable[[str], FlaskClient]) -> None:
    case_id = register_and_recommend(api("reception1"))
    page = _add(login_as("casemanager1"), case_id, "Visited: the roof leaks.\nThe mother asked for a referral.")
    assert "Your note was added to the case." in page
    assert re.search(r'id="tab-notes"[^>]*aria-selected="true"', page, re.S)  # back on the notes section

    supervisor = login_as("supervisor1")
    notes = _section(supervisor.get(f"/cases/{case_id}?tab=notes").get_data(as_text=True), "notes")
    assert "Visited: the roof leaks.\nThe mother asked for a referral." in notes
    assert "Rania Saleh" in notes
    history = _section(supervisor.get(f"/cases/{case_id}?tab=history").get_data(as_text=True), "history")
    entry = history.split("Note added", 1)[1].split("</li>", 1)[0]
    assert "Visited: the roof leaks." in entry and "Rania Saleh" in entry
    arabic = login_as("supervisor1", "ar").get(f"/cases/{case_id}?tab=history").get_data(as_text=True)
    assert "أُضيفت ملاحظة" in _section(arabic, "history")


def test_a_pinned_note_shows_in_the_summary_until_unpinned(
        app: Flask, api: Callable[[str], Api], login_as: Callable[[str], FlaskClient]) -> None:
    case_id = register_and_recommend(api("reception1"))
    reception = login_as("reception1")
    _add(reception, case_id, "Call the household after 4 pm only.")
    note = _notes(app)[0]
    supervisor = login_as("supervisor1")
    summary = supervisor.get(f"/cases/{case_id}").get_data(as_text=True).split("</header>", 1)[0]
    assert 'data-testid="pinned-notes"' not in summary

    supervisor.post(f"/cases/{case_id}/notes/{note.id}/pin", data={"pinned": "1"})
    summary = supervisor.get(f"/cases/{case_id}").get_data(as_text=True).split('data-testid="case-summary"', 1)[1]
    pinned = summary.split("</header>", 1)[0].split('data-testid="pinned-notes"', 1)[1]
    assert "Call the household after 4 pm only." in pinned and "Lina Haddad" in pinned

    supervisor.post(f"/cases/{case_id}/notes/{note.id}/pin", data={"pinned": "0"})
    summary = supervisor.get(f"/cases/{case_id}").get_data(as_text=True).split("</header>", 1)[0]
    assert 'data-testid="pinned-notes"' not in summary
    with app.app_context():
        actions = list(db_session().scalars(select(AuditEvent.action).where(AuditEvent.case_id == case_id,
                                                                           AuditEvent.action.like("note_%"))
                                            .order_by(AuditEvent.id)))
    assert actions == ["note_added", "note_pinned", "note_unpinned"]


def test_another_directorate_neither_sees_nor_adds_nor_pins_notes(
        app: Flask, api: Callable[[str], Api], login_as: Callable[[str], FlaskClient]) -> None:
    case_id = register_and_recommend(api("reception1"))
    _add(login_as("casemanager1"), case_id, "Our note.")
    note = _notes(app)[0]
    elsewhere = login_as("supervisor2")
    assert elsewhere.get(f"/cases/{case_id}?tab=notes").status_code == 404
    assert elsewhere.post(f"/cases/{case_id}/notes", data={"text": "Not ours."}).status_code == 404
    assert elsewhere.post(f"/cases/{case_id}/notes/{note.id}/pin", data={"pinned": "1"}).status_code == 404
    assert [(n.text, n.pinned) for n in _notes(app)] == [("Our note.", False)]


def test_an_empty_or_oversized_note_is_refused_with_a_clear_message(
        app: Flask, api: Callable[[str], Api], login_as: Callable[[str], FlaskClient]) -> None:
    case_id = register_and_recommend(api("reception1"))
    manager = login_as("casemanager1")
    assert "The note was not added: This field is required." in _add(manager, case_id, "   \n ")
    assert "The note was not added: This text is too long." in _add(manager, case_id, "x" * (MAX_NOTE_CHARS + 1))
    arabic = login_as("casemanager1", "ar")
    page = arabic.post(f"/cases/{case_id}/notes", data={"text": ""}, follow_redirects=True).get_data(as_text=True)
    assert "لم تُضف الملاحظة" in page
    assert _notes(app) == []


def test_the_same_note_form_sent_twice_adds_one_note(
        app: Flask, api: Callable[[str], Api], login_as: Callable[[str], FlaskClient]) -> None:
    case_id = register_and_recommend(api("reception1"))
    manager = login_as("casemanager1")
    page = manager.get(f"/cases/{case_id}?tab=notes").get_data(as_text=True)
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    _add(manager, case_id, "Sent twice.", token)
    _add(manager, case_id, "Sent twice.", token)
    assert [n.text for n in _notes(app)] == ["Sent twice."]
    with app.app_context():
        added = db_session().scalar(select(func.count()).select_from(AuditEvent)
                                    .where(AuditEvent.action == "note_added"))
    assert added == 1
    # A fresh form has a fresh token: the same words written again are a second note.
    fresh = re.search(r'name="form_token" value="([^"]+)"',  # type: ignore[union-attr]
                      manager.get(f"/cases/{case_id}?tab=notes").get_data(as_text=True)).group(1)
    assert fresh != token
    _add(manager, case_id, "Sent twice.", fresh)
    assert len(_notes(app)) == 2

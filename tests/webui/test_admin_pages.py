"""The administration pages: only administrators, every form checked, a deactivated user locked out at once."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from registry.models import AuditEvent, Directorate, User
from tests.conftest import Api
from webui.db import db_session

PAGES = ["/admin/", "/admin/users/", "/admin/users/new", "/admin/directorates/", "/admin/directorates/new"]


def _id(app: Flask, username: str) -> int:
    with app.app_context():
        found = db_session().scalar(select(User.id).where(User.username == username))
        assert found is not None
        return found


def _directorate_id(app: Flask, code: str) -> int:
    with app.app_context():
        found = db_session().scalar(select(Directorate.id).where(Directorate.code == code))
        assert found is not None
        return found


def _signed_in(client: FlaskClient) -> bool:
    response = client.get("/")
    return response.status_code == 200


def _count(app: Flask, model: type, action: str | None = None) -> int:
    with app.app_context():
        query = select(func.count()).select_from(model)
        if action:
            query = query.where(AuditEvent.action == action)
        return db_session().scalar(query) or 0


@pytest.mark.parametrize("username", ["analyst", "supervisor1", "reception1", "complaintsunit"])
def test_only_administrators_open_the_administration(login_as: Callable[..., FlaskClient], app: Flask,
                                                     username: str) -> None:
    browser = login_as(username)
    for path in PAGES:
        assert browser.get(path).status_code == 404
    target = _id(app, "casemanager1")
    assert browser.post(f"/admin/users/{target}/deactivate").status_code == 404
    assert "/admin/" not in browser.get("/").get_data(as_text=True)


def test_administrators_have_their_own_area_and_no_process_pages(login_as: Callable[..., FlaskClient]) -> None:
    admin = login_as("admin")
    for path in PAGES:
        assert admin.get(path).status_code == 200, path
    home = admin.get("/").get_data(as_text=True)
    assert 'data-testid="nav-admin"' in home and 'href="/processes/"' not in home
    assert admin.get("/processes/").status_code == 404
    assert login_as("analyst").get("/processes/").status_code == 200


def test_a_visitor_who_is_not_logged_in_goes_to_the_login(client: FlaskClient) -> None:
    answer = client.get("/admin/users/")
    assert answer.status_code == 302 and "/login" in answer.headers["Location"]


def test_an_account_is_created_with_a_password_shown_once(login_as: Callable[..., FlaskClient], app: Flask) -> None:
    admin = login_as("admin")
    page = admin.post("/admin/users/new", data={
        "username": "dana", "full_name": "Dana Odeh", "full_name_ar": "دانا عودة", "role": "reception",
        "directorate": str(_directorate_id(app, "HBN")), "password": ""})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    password = re.search(r'data-testid="generated-password">([^<]+)<', html)
    assert password, html
    assert password.group(1) not in admin.get(f"/admin/users/{_id(app, 'dana')}").get_data(as_text=True)
    listed = admin.get(f"/admin/users/?directorate={_directorate_id(app, 'HBN')}&role=reception&active=yes")
    assert re.findall(r'<bdi dir="ltr" class="nowrap">([a-z0-9.]+)</bdi></a>', listed.get_data(as_text=True)) == [
        "dana", "reception2"]
    # the new person logs in with it, and must choose their own password before anything else
    person = app.test_client()
    early = person.post("/api/v1/auth/token", json={"username": "dana", "password": password.group(1)})
    assert early.status_code == 403 and early.get_json()["code"] == "password_change_required"
    signed_in = person.post("/login", data={"username": "dana", "password": password.group(1), "lang": "en"})
    assert signed_in.status_code == 302
    assert person.get("/").headers["Location"].endswith("/account/password")
    short = person.post("/account/password", data={"current": password.group(1), "new": "short", "confirm": "short"})
    assert short.status_code == 422 and "Use at least 10 characters." in short.get_data(as_text=True)
    done = person.post("/account/password", data={"current": password.group(1), "new": "my own passphrase",
                                                   "confirm": "my own passphrase"})
    assert done.status_code == 302
    assert person.get("/").status_code == 200
    assert person.post("/api/v1/auth/token", json={"username": "dana", "password": "my own passphrase"}
                       ).status_code == 200
    assert app.test_client().post("/login", data={"username": "dana", "password": password.group(1)}).status_code == 401


def test_bad_input_is_refused_in_the_users_language_and_changes_nothing(login_as: Callable[..., FlaskClient],
                                                                         app: Flask) -> None:
    before, directorates = _count(app, User), _count(app, Directorate)
    taken = login_as("admin").post("/admin/users/new", data={
        "username": "reception1", "full_name": "X", "full_name_ar": "", "role": "nope", "directorate": "abc"})
    assert taken.status_code == 422
    html = taken.get_data(as_text=True)
    assert "This username is already taken." in html and "This field is required." in html
    assert 'aria-invalid="true"' in html
    arabic = login_as("admin", lang="ar").post("/admin/users/new", data={"username": "reception1"})
    assert arabic.status_code == 422 and 'dir="rtl"' in arabic.get_data(as_text=True)
    assert _count(app, User) == before
    bad = login_as("admin").post("/admin/directorates/new", data={"code": "1", "name_ar": "", "name_en": "x",
                                                                  "governorate": "mars"})
    assert bad.status_code == 422 and "Use 2 to 16 capital Latin letters." in bad.get_data(as_text=True)
    assert _count(app, Directorate) == directorates
    assert _count(app, AuditEvent, "directorate_created") == 0


def test_a_deactivated_user_is_locked_out_at_once(login_as: Callable[..., FlaskClient], app: Flask,
                                                  api: Callable[[str], Api]) -> None:
    worker, token, colleague = login_as("casemanager1"), api("casemanager1"), login_as("reception1")
    assert _signed_in(worker) and token.get("/tasks").status_code == 200
    answer = login_as("admin").post(f"/admin/users/{_id(app, 'casemanager1')}/deactivate")
    assert answer.status_code == 302
    assert not _signed_in(worker)
    assert token.get("/tasks").status_code == 401
    assert app.test_client().post("/login", data={"username": "casemanager1", "password": "demo"}).status_code == 401
    assert _signed_in(colleague)
    assert _count(app, AuditEvent, "user_deactivated") == 1
    assert login_as("admin").post(f"/admin/users/{_id(app, 'casemanager1')}/reactivate").status_code == 302
    assert login_as("casemanager1")  # may log in again


def test_a_new_role_or_directorate_ends_the_users_sessions(login_as: Callable[..., FlaskClient], app: Flask,
                                                           api: Callable[[str], Api]) -> None:
    worker, token = login_as("reception1"), api("reception1")
    answer = login_as("admin").post(f"/admin/users/{_id(app, 'reception1')}", data={
        "full_name": "Lina Haddad", "full_name_ar": "لينا حداد", "role": "reception",
        "directorate": str(_directorate_id(app, "HBN"))})
    assert answer.status_code == 302
    assert not _signed_in(worker) and token.get("/tasks").status_code == 401
    with app.app_context():
        event = db_session().scalars(select(AuditEvent).where(AuditEvent.action == "user_changed")).one()
        assert (event.details["before"]["directorate"], event.details["after"]["directorate"]) == ("RBH", "HBN")


def test_a_reset_password_is_shown_once_and_the_old_one_ends(login_as: Callable[..., FlaskClient],
                                                             app: Flask) -> None:
    worker = login_as("supervisor1")
    page = login_as("admin").post(f"/admin/users/{_id(app, 'supervisor1')}/reset-password")
    password = re.search(r'data-testid="generated-password">([^<]+)<', page.get_data(as_text=True))
    assert page.status_code == 200 and password
    assert not _signed_in(worker)
    assert app.test_client().post("/login", data={"username": "supervisor1", "password": "demo"}).status_code == 401
    fresh = app.test_client()
    assert fresh.post("/login", data={"username": "supervisor1", "password": password.group(1)}).status_code == 302
    assert fresh.get("/cases/").headers["Location"].endswith("/account/password")


def test_an_administrator_cannot_deactivate_themselves(login_as: Callable[..., FlaskClient], app: Flask) -> None:
    admin = login_as("admin")
    answer = admin.post(f"/admin/users/{_id(app, 'admin')}/deactivate")
    assert answer.status_code == 409
    assert "You cannot deactivate your own account" in answer.get_data(as_text=True)
    assert _signed_in(admin)
    demoted = admin.post(f"/admin/users/{_id(app, 'admin')}", data={
        "full_name": "System administrator", "full_name_ar": "مدير النظام", "role": "analyst", "directorate": ""})
    assert demoted.status_code == 409
    with app.app_context():
        assert db_session().scalar(select(User.role).where(User.username == "admin")) == "admin"


def test_directorates_are_managed_and_one_in_use_is_not_deleted(login_as: Callable[..., FlaskClient],
                                                                app: Flask) -> None:
    admin = login_as("admin")
    made = admin.post("/admin/directorates/new", data={"code": "NBL", "name_ar": "نابلس", "name_en": "Nablus",
                                                       "governorate": "PS-NBS"})
    assert made.status_code == 302
    new_id = _directorate_id(app, "NBL")
    assert admin.post(f"/admin/directorates/{new_id}/edit", data={
        "name_ar": "مديرية نابلس", "name_en": "Nablus directorate", "governorate": "PS-NBS"}).status_code == 302
    assert "Nablus directorate" in admin.get("/admin/directorates/").get_data(as_text=True)
    refused = admin.post(f"/admin/directorates/{_directorate_id(app, 'RBH')}/delete")
    assert refused.status_code == 409 and "cannot be deleted" in refused.get_data(as_text=True)
    assert admin.post(f"/admin/directorates/{new_id}/delete").status_code == 302
    assert "Nablus directorate" not in admin.get("/admin/directorates/").get_data(as_text=True)
    assert "Directorate deleted" in admin.get("/admin/").get_data(as_text=True)


def test_every_administration_form_needs_its_csrf_token(login_as: Callable[..., FlaskClient], app: Flask) -> None:
    admin = login_as("admin")
    app.config["WTF_CSRF_ENABLED"] = True
    target = _id(app, "casemanager1")
    for path in (f"/admin/users/{target}/deactivate", f"/admin/users/{target}/reset-password", "/admin/users/new",
                 f"/admin/users/{target}", "/admin/directorates/new", "/account/password"):
        answer = admin.post(path, data={"username": "x", "role": "admin"})
        assert answer.status_code in (302, 400), path  # back to the page with "the form expired"
    with app.app_context():
        assert db_session().scalar(select(User.active).where(User.id == target))
    assert _count(app, AuditEvent, "user_password_reset") == 0


def test_partner_organisations_and_their_users_from_the_pages(login_as: Callable[..., FlaskClient],
                                                              app: Flask) -> None:
    from registry.referrals.models import PartnerOrganisation

    admin = login_as("admin")
    bad = admin.post("/admin/partners/new", data={"code": "", "name_ar": "", "name_en": "", "kind": ""})
    assert bad.status_code == 422 and "This field is required." in bad.get_data(as_text=True)
    made = admin.post("/admin/partners/new", data={"code": "CLINIC", "name_ar": "عيادة", "name_en": "Clinic",
                                                   "kind": "ngo", "services": ["health", "education"]})
    assert made.status_code == 302
    with app.app_context():
        partner_id = db_session().scalar(select(PartnerOrganisation.id).where(PartnerOrganisation.code == "CLINIC"))
    page = admin.post(f"/admin/partners/{partner_id}/users", data={
        "username": "nurse", "full_name": "Nurse Huda", "full_name_ar": "الممرضة هدى", "password": "clinic passphrase"})
    assert page.status_code == 302
    taken = admin.post(f"/admin/partners/{partner_id}/users", data={
        "username": "nurse", "full_name": "x", "full_name_ar": "x"})
    assert taken.status_code == 422 and "This username is already taken." in taken.get_data(as_text=True)
    nurse = app.test_client()
    assert nurse.post("/login", data={"username": "nurse", "password": "clinic passphrase"}).status_code == 302
    assert nurse.post("/account/password", data={"current": "clinic passphrase", "new": "my own passphrase",
                                                 "confirm": "my own passphrase"}).status_code == 302
    listed = admin.get(f"/admin/partners/{partner_id}").get_data(as_text=True)
    assert "Nurse Huda" in listed and 'data-testid="partner-user-row"' in listed
    assert admin.post(f"/admin/partners/{partner_id}/deactivate").status_code == 302
    assert nurse.get("/").status_code == 302  # its session ended with the organisation
    assert "Deactivated" in admin.get("/admin/partners/").get_data(as_text=True)
    assert login_as("analyst").get(f"/admin/partners/{partner_id}").status_code == 404

"""Partner systems of the SPDCI API in the administration: only administrators, secret shown once, every change
audited, a deactivated client or a replaced secret stops working at once."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from registry.interop.models import InteropClient
from registry.models import AuditEvent
from webui.db import db_session

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
NEW = {"client_id": "wfp-cash", "name": "WFP cash transfers", "scopes": ["search", "subscribe"],
       "fields": ["identifiers", "names", "eligibility_category"], "callback_url": "https://wfp.example/spdci/",
       "callback_token": "wfp-scoped-token"}


def _token(client: FlaskClient, client_id: str, secret: str) -> int:
    return client.post("/spdci/oauth2/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                                    "client_secret": secret}).status_code


def _audited(app: Flask) -> list[str]:
    with app.app_context():
        return list(db_session().scalars(select(AuditEvent.action).where(AuditEvent.action.like("interop_client%"))
                                         .order_by(AuditEvent.id)))


def _pk(app: Flask, client_id: str) -> int:
    with app.app_context():
        found = db_session().scalar(select(InteropClient.id).where(InteropClient.client_id == client_id))
        assert found is not None
        return found


@pytest.mark.parametrize("username", ["analyst", "supervisor1", "reception1"])
def test_only_administrators_see_the_partner_systems(login_as: Callable[..., FlaskClient], username: str) -> None:
    browser = login_as(username)
    assert browser.get("/admin/interop-clients/").status_code == 404
    assert browser.post("/admin/interop-clients/new", data=NEW).status_code == 404


@BOTH_DATABASES
def test_a_partner_system_is_registered_with_its_secret_shown_once_and_managed_from_the_pages(
        login_as: Callable[..., FlaskClient], app: Flask, client: FlaskClient) -> None:
    admin = login_as("admin")
    assert admin.get("/admin/interop-clients/new").status_code == 200
    made = admin.post("/admin/interop-clients/new", data=NEW)
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    secret = re.search(r'data-testid="client-secret">([^<]+)<', made.get_data(as_text=True))
    assert secret
    assert _token(client, "wfp-cash", secret.group(1)) == 200
    pk = _pk(app, "wfp-cash")
    page = admin.get(f"/admin/interop-clients/{pk}").get_data(as_text=True)
    assert secret.group(1) not in page and "wfp-scoped-token" not in page and "A callback token is kept." in page
    listed = admin.get("/admin/interop-clients/").get_data(as_text=True)
    row = listed[listed.index("wfp-cash"):]  # the list names each scope and field group in the page's language
    assert "Search the registry (sync and async)<br>Subscribe to registry events" in row
    assert "Eligibility category" in row

    # narrower grants: field groups and scopes are what the next request may use
    assert admin.post(f"/admin/interop-clients/{pk}", data={
        "name": "WFP", "scopes": ["search"], "fields": ["identifiers"],
        "callback_url": "https://wfp.example/spdci"}).status_code == 302
    with app.app_context():
        kept = db_session().get(InteropClient, pk)
        assert kept is not None
        assert (kept.scopes, kept.fields, kept.callback_token) == (["search"], ["identifiers"], "wfp-scoped-token")

    rotated = admin.post(f"/admin/interop-clients/{pk}/rotate-secret")
    fresh = re.search(r'data-testid="client-secret">([^<]+)<', rotated.get_data(as_text=True))
    assert fresh and fresh.group(1) != secret.group(1)
    assert (_token(client, "wfp-cash", secret.group(1)), _token(client, "wfp-cash", fresh.group(1))) == (401, 200)

    assert admin.post(f"/admin/interop-clients/{pk}/deactivate").status_code == 302
    assert _token(client, "wfp-cash", fresh.group(1)) == 401
    assert "Deactivated" in admin.get("/admin/interop-clients/").get_data(as_text=True)
    assert admin.post(f"/admin/interop-clients/{pk}/reactivate").status_code == 302
    assert _token(client, "wfp-cash", fresh.group(1)) == 200
    assert _audited(app) == ["interop_client_created", "interop_client_changed", "interop_client_secret_rotated",
                             "interop_client_deactivated", "interop_client_reactivated"]
    with app.app_context():
        details = db_session().scalars(select(AuditEvent.details).where(
            AuditEvent.action.like("interop_client%"))).all()
    assert all(secret.group(1) not in str(d) and "wfp-scoped-token" not in str(d) for d in details)
    home = admin.get("/admin/").get_data(as_text=True)
    assert "Partner system registered" in home and "wfp-cash" in home


def test_the_last_request_of_each_partner_system_is_listed(login_as: Callable[..., FlaskClient], app: Flask,
                                                         client: FlaskClient) -> None:
    admin = login_as("admin")
    secret = re.search(r'data-testid="client-secret">([^<]+)<',
                       admin.post("/admin/interop-clients/new", data=NEW).get_data(as_text=True))
    assert secret
    before = admin.get("/admin/interop-clients/").get_data(as_text=True)
    assert _token(client, "wfp-cash", secret.group(1)) == 200
    after = admin.get("/admin/interop-clients/").get_data(as_text=True)
    assert before.count("—") > after.count("—")


def test_bad_input_is_refused_in_the_administrators_language_and_stores_nothing(
        login_as: Callable[..., FlaskClient], app: Flask) -> None:
    admin = login_as("admin")
    bad = admin.post("/admin/interop-clients/new", data={
        "client_id": "Not An Id", "name": "", "scopes": ["everything"], "callback_url": "ftp://x",
        "public_key": "not a key", "partner": "NOPE", "callback_token": "two words"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    for message in ("This field is required.", "Choose one of the listed options.",
                    "Use an address that starts with https:// or http://.", "Paste a PEM Ed25519 or RSA public key.",
                    "Paste the token as one word of at most 500 characters."):
        assert message in html, message
    assert "two words" not in html  # a credential typed is not sent back
    assert admin.post("/admin/interop-clients/new", data=NEW).status_code == 200
    taken = admin.post("/admin/interop-clients/new", data=NEW)
    assert taken.status_code == 422 and "This client id is already registered." in taken.get_data(as_text=True)
    arabic = login_as("admin", lang="ar").get("/admin/interop-clients/")
    assert arabic.status_code == 200 and 'dir="rtl"' in arabic.get_data(as_text=True)
    with app.app_context():
        assert db_session().scalar(select(func.count()).select_from(InteropClient)) == 1
    assert _audited(app) == ["interop_client_created"]


def test_the_partner_system_forms_need_their_csrf_token(login_as: Callable[..., FlaskClient], app: Flask) -> None:
    admin = login_as("admin")
    admin.post("/admin/interop-clients/new", data=NEW)
    pk = _pk(app, "wfp-cash")
    app.config["WTF_CSRF_ENABLED"] = True
    for path in ("/admin/interop-clients/new", f"/admin/interop-clients/{pk}",
                 f"/admin/interop-clients/{pk}/deactivate", f"/admin/interop-clients/{pk}/rotate-secret"):
        assert admin.post(path, data=NEW).status_code in (302, 400), path
    assert _audited(app) == ["interop_client_created"]

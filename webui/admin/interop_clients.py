"""Partner systems of the SPDCI API: list, add (secret shown once), edit grants, deactivate, rotate the secret."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid
from registry.administration import interop_clients as service
from registry.interop.models import InteropClient
from webui.admin.home import admin_only
from webui.admin.words import field_messages
from webui.db import db_session, now

bp = Blueprint("admin_interop", __name__, url_prefix="/admin/interop-clients")


def _values() -> dict[str, Any]:
    form = request.form
    return {"client_id": form.get("client_id", ""), "name": form.get("name", ""),
            "scopes": form.getlist("scopes"), "fields": form.getlist("fields"),
            "callback_url": form.get("callback_url", ""), "callback_token": form.get("callback_token", ""),
            "forget_callback_token": form.get("forget_callback_token") == "1",
            "public_key": form.get("public_key", ""), "partner": form.get("partner", "")}


def _choices() -> dict[str, Any]:
    return {"scopes": service.SCOPES, "fields": service.FIELDS}


@bp.route("/")
@login_required
def index() -> Any:
    admin_only()
    return render_template("admin/interop_clients.html",
                           rows=service.list_clients(db_session(), actor=current_user))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    admin_only()
    values = _values()
    if request.method == "GET":
        return render_template("admin/interop_client_new.html", values=values, errors={}, **_choices())
    try:
        client, secret = service.create_client(db_session(), actor=current_user, values=values, now=now())
    except FormInvalid as err:
        values["callback_token"] = ""
        return render_template("admin/interop_client_new.html", values=values, errors=field_messages(err.errors),
                               **_choices()), 422
    return _secret_shown(client, secret, created=True)


def _secret_shown(client: InteropClient, secret: str, *, created: bool) -> Any:
    return render_template("admin/interop_client_secret.html", client=client, secret=secret, created=created), 200, \
        {"Cache-Control": "no-store"}


def _show(client_pk: int, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
          status: int = 200) -> Any:
    client = service.get_client(db_session(), actor=current_user, client_pk=client_pk)
    values = values or {"name": client.name, "scopes": list(client.scopes), "fields": list(client.fields),
                        "callback_url": client.callback_url or ""}
    values["callback_token"] = ""
    return render_template("admin/interop_client_show.html", client=client, values=values, errors=errors or {},
                           **_choices()), status


@bp.route("/<int:client_pk>")
@login_required
def show(client_pk: int) -> Any:
    admin_only()
    return _show(client_pk)


@bp.post("/<int:client_pk>")
@login_required
def change(client_pk: int) -> Any:
    admin_only()
    values = _values()
    try:
        service.change_client(db_session(), actor=current_user, client_pk=client_pk, values=values, now=now())
    except FormInvalid as err:
        return _show(client_pk, values=values, errors=field_messages(err.errors), status=422)
    flash(_("The partner system is saved."), "success")
    return redirect(url_for(".show", client_pk=client_pk))


@bp.post("/<int:client_pk>/deactivate")
@login_required
def deactivate(client_pk: int) -> Any:
    admin_only()
    service.set_active(db_session(), actor=current_user, client_pk=client_pk, active=False, now=now())
    flash(_("The partner system is deactivated: its tokens end now and nothing more is sent to it."), "success")
    return redirect(url_for(".show", client_pk=client_pk))


@bp.post("/<int:client_pk>/reactivate")
@login_required
def reactivate(client_pk: int) -> Any:
    admin_only()
    service.set_active(db_session(), actor=current_user, client_pk=client_pk, active=True, now=now())
    flash(_("The partner system is active again."), "success")
    return redirect(url_for(".show", client_pk=client_pk))


@bp.post("/<int:client_pk>/rotate-secret")
@login_required
def rotate_secret(client_pk: int) -> Any:
    admin_only()
    client, secret = service.rotate_secret(db_session(), actor=current_user, client_pk=client_pk, now=now())
    return _secret_shown(client, secret, created=False)

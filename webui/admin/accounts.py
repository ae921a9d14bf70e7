"""Staff accounts: list and filter, create, change, deactivate and reactivate, reset a password."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid
from registry.administration import accounts as service
from registry.administration import partners
from registry.administration.directorates import list_directorates
from registry.administration.errors import AdministrationRefused
from registry.models import User
from webui.admin.home import admin_only
from webui.admin.words import field_messages, refusal
from webui.db import db_session, now

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")
_FIELDS = ("username", "full_name", "full_name_ar", "role", "directorate", "password")


def _choices() -> dict[str, Any]:
    return {"roles": service.STAFF_ROLES,
            "directorates": [row.directorate for row in list_directorates(db_session(), actor=current_user)]}


def _filter() -> tuple[service.UserFilter, dict[str, str]]:
    """The list's filters from the query string; an unknown value filters nothing rather than failing."""
    raw = {name: request.args.get(name, "") for name in ("directorate", "role", "active")}
    directorate = int(raw["directorate"]) if raw["directorate"].isdigit() else None
    role = raw["role"] if raw["role"] in service.STAFF_ROLES else None
    active = {"yes": True, "no": False}.get(raw["active"])
    return service.UserFilter(directorate_id=directorate, role=role, active=active), raw


@bp.route("/")
@login_required
def index() -> Any:
    admin_only()
    where, raw = _filter()
    users = service.list_users(db_session(), actor=current_user, where=where)
    return render_template("admin/users.html", users=users, chosen=raw, **_choices())


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    admin_only()
    values = {name: request.form.get(name, "") for name in _FIELDS}
    if request.method == "GET":
        return render_template("admin/user_new.html", values=values, errors={}, **_choices())
    try:
        user, generated = service.create_user(
            db_session(), actor=current_user, username=values["username"], full_name=values["full_name"],
            full_name_ar=values["full_name_ar"], role=values["role"], directorate_id=values["directorate"],
            password=values["password"], now=now())
    except FormInvalid as err:
        values["password"] = ""  # never sent back to the page
        return render_template("admin/user_new.html", values=values, errors=field_messages(err.errors),
                               **_choices()), 422
    if generated is None:
        flash(_("The account %(username)s is created; its owner chooses a new password at the first login.",
                username=user.username), "success")
        return redirect(url_for(".show", user_id=user.id))
    return render_template("admin/password_shown.html", shown_user=user, password=generated, created=True)


def _show(user: User, errors: dict[str, list[str]] | None = None, values: dict[str, str] | None = None,
          status: int = 200) -> Any:
    values = values or {"full_name": user.full_name, "full_name_ar": user.full_name_ar or "", "role": user.role,
                        "directorate": str(user.directorate_id or "")}
    partner = (partners.get_partner(db_session(), actor=current_user, partner_id=user.partner_id)
               if user.partner_id is not None else None)
    return render_template("admin/user_show.html", shown_user=user, values=values, errors=errors or {},
                           partner=partner, **_choices()), status


@bp.route("/<int:user_id>")
@login_required
def show(user_id: int) -> Any:
    admin_only()
    return _show(service.get_user(db_session(), actor=current_user, user_id=user_id))


@bp.post("/<int:user_id>")
@login_required
def change(user_id: int) -> Any:
    admin_only()
    user = service.get_user(db_session(), actor=current_user, user_id=user_id)
    values = {name: request.form.get(name, "") for name in ("full_name", "full_name_ar", "role", "directorate")}
    try:
        service.change_user(db_session(), actor=current_user, user_id=user_id, full_name=values["full_name"],
                            full_name_ar=values["full_name_ar"], role=values["role"],
                            directorate_id=values["directorate"], now=now())
    except FormInvalid as err:
        return _show(user, field_messages(err.errors), values, 422)
    except AdministrationRefused as err:
        flash(refusal(err.code), "error")
        return _show(user, values=values, status=409)
    flash(_("The account is saved."), "success")
    return redirect(url_for(".show", user_id=user_id))


def _act(user_id: int, action: Any, done: str) -> Any:
    admin_only()
    try:
        action(db_session(), actor=current_user, user_id=user_id, now=now())
    except AdministrationRefused as err:
        flash(refusal(err.code), "error")
        return _show(service.get_user(db_session(), actor=current_user, user_id=user_id), status=409)
    flash(done, "success")
    return redirect(url_for(".show", user_id=user_id))


@bp.post("/<int:user_id>/deactivate")
@login_required
def deactivate(user_id: int) -> Any:
    return _act(user_id, service.deactivate_user,
                _("The account is deactivated: its sessions and API tokens have ended."))


@bp.post("/<int:user_id>/reactivate")
@login_required
def reactivate(user_id: int) -> Any:
    return _act(user_id, service.reactivate_user, _("The account is active again."))


@bp.post("/<int:user_id>/reset-password")
@login_required
def reset_password(user_id: int) -> Any:
    admin_only()
    try:
        password = service.reset_password(db_session(), actor=current_user, user_id=user_id, now=now())
    except AdministrationRefused as err:
        flash(refusal(err.code), "error")
        return _show(service.get_user(db_session(), actor=current_user, user_id=user_id), status=409)
    user = service.get_user(db_session(), actor=current_user, user_id=user_id)
    return render_template("admin/password_shown.html", shown_user=user, password=password, created=False)

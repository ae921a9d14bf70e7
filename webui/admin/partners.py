"""Partner organisations and their users: list, create, edit, deactivate (its users' sessions end)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid
from registry.administration import partners as service
from registry.administration.errors import AdministrationRefused
from webui.admin.home import admin_only
from webui.admin.words import field_messages, refusal
from webui.db import db_session, library, now

bp = Blueprint("admin_partners", __name__, url_prefix="/admin/partners")


def _services() -> list[tuple[str, dict[str, str]]]:
    return service.service_choices(library())


def _values() -> dict[str, Any]:
    return {"code": request.form.get("code", ""), "name_ar": request.form.get("name_ar", ""),
            "name_en": request.form.get("name_en", ""), "kind": request.form.get("kind", ""),
            "services": request.form.getlist("services")}


@bp.route("/")
@login_required
def index() -> Any:
    admin_only()
    return render_template("admin/partners.html", rows=service.list_partners(db_session(), actor=current_user))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    admin_only()
    values = _values()
    if request.method == "GET":
        return render_template("admin/partner_new.html", values=values, errors={}, kinds=service.KINDS,
                               services=_services())
    try:
        partner = service.create_partner(db_session(), actor=current_user, code=values["code"],
                                         name_ar=values["name_ar"], name_en=values["name_en"], kind=values["kind"],
                                         services=values["services"], known_services=[c for c, _ in _services()],
                                         now=now())
    except FormInvalid as err:
        return render_template("admin/partner_new.html", values=values, errors=field_messages(err.errors),
                               kinds=service.KINDS, services=_services()), 422
    flash(_("The partner organisation %(code)s is created.", code=partner.code), "success")
    return redirect(url_for(".show", partner_id=partner.id))


def _show(partner_id: int, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
          user_values: dict[str, str] | None = None, user_errors: dict[str, list[str]] | None = None,
          status: int = 200) -> Any:
    partner = service.get_partner(db_session(), actor=current_user, partner_id=partner_id)
    values = values or {"code": partner.code, "name_ar": partner.name_ar, "name_en": partner.name_en,
                        "kind": partner.kind, "services": list(partner.services or [])}
    return render_template("admin/partner_show.html", partner=partner, values=values, errors=errors or {},
                           user_values=user_values or {}, user_errors=user_errors or {}, kinds=service.KINDS,
                           services=_services(),
                           users=service.partner_users(db_session(), actor=current_user, partner_id=partner_id)
                           ), status


@bp.route("/<int:partner_id>")
@login_required
def show(partner_id: int) -> Any:
    admin_only()
    return _show(partner_id)


@bp.post("/<int:partner_id>")
@login_required
def change(partner_id: int) -> Any:
    admin_only()
    values = _values()
    try:
        service.change_partner(db_session(), actor=current_user, partner_id=partner_id, name_ar=values["name_ar"],
                               name_en=values["name_en"], kind=values["kind"], services=values["services"],
                               known_services=[c for c, _ in _services()], now=now())
    except FormInvalid as err:
        return _show(partner_id, values=values, errors=field_messages(err.errors), status=422)
    flash(_("The partner organisation is saved."), "success")
    return redirect(url_for(".show", partner_id=partner_id))


@bp.post("/<int:partner_id>/deactivate")
@login_required
def deactivate(partner_id: int) -> Any:
    admin_only()
    ended = service.deactivate_partner(db_session(), actor=current_user, partner_id=partner_id, now=now())
    flash(_("The organisation is deactivated; %(count)s user account(s) deactivated, their sessions ended.",
            count=len(ended)), "success")
    return redirect(url_for(".show", partner_id=partner_id))


@bp.post("/<int:partner_id>/reactivate")
@login_required
def reactivate(partner_id: int) -> Any:
    admin_only()
    service.reactivate_partner(db_session(), actor=current_user, partner_id=partner_id, now=now())
    flash(_("The organisation is active again; reactivate the user accounts it needs."), "success")
    return redirect(url_for(".show", partner_id=partner_id))


@bp.post("/<int:partner_id>/users")
@login_required
def new_user(partner_id: int) -> Any:
    admin_only()
    user_values = {name: request.form.get(name, "") for name in ("username", "full_name", "full_name_ar", "password")}
    try:
        user, generated = service.create_partner_user(
            db_session(), actor=current_user, partner_id=partner_id, username=user_values["username"],
            full_name=user_values["full_name"], full_name_ar=user_values["full_name_ar"],
            password=user_values["password"], now=now())
    except FormInvalid as err:
        user_values["password"] = ""
        return _show(partner_id, user_values=user_values, user_errors=field_messages(err.errors), status=422)
    except AdministrationRefused as err:
        flash(refusal(err.code), "error")
        return _show(partner_id, status=409)
    if generated is None:
        flash(_("The account %(username)s is created; its owner chooses a new password at the first login.",
                username=user.username), "success")
        return redirect(url_for(".show", partner_id=partner_id))
    return render_template("admin/password_shown.html", shown_user=user, password=generated, created=True)

"""Directorates: list, create, edit names and governorate, delete an empty one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid
from registry.administration import directorates as service
from registry.administration.errors import AdministrationRefused
from registry.operations import governorates
from webui.admin.home import admin_only
from webui.admin.words import field_messages, refusal
from webui.db import db_session, now

bp = Blueprint("admin_directorates", __name__, url_prefix="/admin/directorates")
_FIELDS = ("code", "name_ar", "name_en", "governorate")


def _form(template_values: dict[str, Any], errors: dict[str, list[str]], directorate: Any = None) -> Any:
    status = 422 if errors else 200
    return render_template("admin/directorate_form.html", values=template_values, errors=errors,
                           directorate=directorate, governorates=governorates()), status


@bp.route("/")
@login_required
def index() -> Any:
    admin_only()
    return render_template("admin/directorates.html", rows=service.list_directorates(db_session(), actor=current_user))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    admin_only()
    values = {name: request.form.get(name, "") for name in _FIELDS}
    if request.method == "GET":
        return _form(values, {})
    try:
        created = service.create_directorate(db_session(), actor=current_user, code=values["code"],
                                             name_ar=values["name_ar"], name_en=values["name_en"],
                                             governorate_code=values["governorate"], now=now())
    except FormInvalid as err:
        return _form(values, field_messages(err.errors))
    flash(_("Directorate %(code)s is created.", code=created.code), "success")
    return redirect(url_for(".index"))


@bp.route("/<int:directorate_id>/edit", methods=["GET", "POST"])
@login_required
def edit(directorate_id: int) -> Any:
    admin_only()
    directorate = service.get_directorate(db_session(), actor=current_user, directorate_id=directorate_id)
    if request.method == "GET":
        return _form({"code": directorate.code, "name_ar": directorate.name_ar, "name_en": directorate.name_en,
                      "governorate": directorate.governorate_code}, {}, directorate)
    values = {name: request.form.get(name, "") for name in _FIELDS[1:]} | {"code": directorate.code}
    try:
        service.change_directorate(db_session(), actor=current_user, directorate_id=directorate_id,
                                   name_ar=values["name_ar"], name_en=values["name_en"],
                                   governorate_code=values["governorate"], now=now())
    except FormInvalid as err:
        return _form(values, field_messages(err.errors), directorate)
    flash(_("The directorate is saved."), "success")
    return redirect(url_for(".index"))


@bp.post("/<int:directorate_id>/delete")
@login_required
def delete(directorate_id: int) -> Any:
    admin_only()
    try:
        service.delete_directorate(db_session(), actor=current_user, directorate_id=directorate_id, now=now())
    except AdministrationRefused as err:
        flash(refusal(err.code), "error")
        rows = service.list_directorates(db_session(), actor=current_user)
        return render_template("admin/directorates.html", rows=rows), 409
    flash(_("The directorate is deleted."), "success")
    return redirect(url_for(".index"))

"""A staff member's own password: chosen at the first login after an administrator set or reset it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user

from engine.errors import FormInvalid
from registry import auth as auth_service
from registry.administration.passwords import change_own_password
from webui.admin.words import field_messages
from webui.auth import SESSION_KEY
from webui.db import db_session, now

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.route("/password", methods=["GET", "POST"])
@login_required
def password() -> Any:
    if request.method == "GET":
        return render_template("admin/change_password.html", errors={})
    user = current_user._get_current_object()
    try:
        change_own_password(db_session(), user=user, current=request.form.get("current"),
                            new=request.form.get("new"), confirm=request.form.get("confirm"), now=now())
    except FormInvalid as err:
        return render_template("admin/change_password.html", errors=field_messages(err.errors)), 422
    # Every session of the user ended with the old password, this one too: this browser carries on in a new one.
    session[SESSION_KEY] = auth_service.start_session(db_session(), user=user, now=now())
    login_user(user)
    flash(_("Your password is changed; your other sessions have ended."), "success")
    return redirect(url_for("inbox.index"))

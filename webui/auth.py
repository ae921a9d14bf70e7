"""Login, logout and the language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from registry import auth as auth_service
from registry.errors import InvalidCredentials, LoginLocked
from webui.db import db_session, now

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    if target and urlparse(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("inbox.index")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    if request.method == "POST":
        if request.form.get("lang") in ("ar", "en"):
            session["lang"] = request.form["lang"]
        try:
            user = auth_service.authenticate(db_session(), username=request.form.get("username", ""),
                                             password=request.form.get("password", ""),
                                             demo_mode=current_app.config["DEMO_MODE"], now=now())
        except LoginLocked:
            error = _("Too many failed attempts. Try again in 15 minutes.")
        except InvalidCredentials:
            error = _("Wrong username or password.")
        else:
            lang = session.get("lang")
            session.clear()  # a fresh session on login: nothing carried over from before
            if lang:
                session["lang"] = lang
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("auth/login.html", error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    lang = session.get("lang")
    logout_user()
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("auth.login"))


@bp.route("/language/<code>", methods=["POST"])
def language(code: str) -> Any:
    if code in ("ar", "en"):
        session["lang"] = code
    return redirect(_safe_next(request.form.get("next")))

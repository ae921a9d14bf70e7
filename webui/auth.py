"""Login, logout and the language switch."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, current_app, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from registry import auth as auth_service
from registry.errors import InvalidCredentials
from registry.models import User
from webui.db import db_session, now

bp = Blueprint("auth", __name__)
#: The cookie's key for the server-side session id (see registry.auth.start_session).
SESSION_KEY = "sid"


def current_staff_user() -> User | None:
    """The user of this browser's live server-side session (flask-login's user loader calls this)."""
    session_id = session.get(SESSION_KEY)
    if not isinstance(session_id, str):
        return None
    config = current_app.config
    return auth_service.user_for_session(
        db_session(), session_id=session_id, now=now(),
        idle_timeout=dt.timedelta(minutes=config["SESSION_IDLE_MINUTES"]),
        lifetime=dt.timedelta(hours=config["SESSION_LIFETIME_HOURS"]))


def _end_browser_session() -> None:
    session_id = session.get(SESSION_KEY)
    if isinstance(session_id, str):
        auth_service.end_session(db_session(), session_id=session_id, now=now())


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
                                             demo_mode=current_app.config["DEMO_MODE"])
        except InvalidCredentials:
            error = _("Wrong username or password.")
        else:
            _end_browser_session()
            lang = session.get("lang")
            session.clear()  # a fresh session on login: nothing carried over from before
            if lang:
                session["lang"] = lang
            session[SESSION_KEY] = auth_service.start_session(db_session(), user=user, now=now())
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("auth/login.html", error=error), status


@bp.route("/logout", methods=["POST"])
@login_required
def logout() -> Any:
    _end_browser_session()
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

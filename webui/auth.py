"""Login, logout and the language switch; where a browser goes when its session ended."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlparse

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user
from werkzeug.exceptions import HTTPException

from registry import auth as auth_service
from registry.errors import InvalidCredentials
from registry.models import User
from webui.db import db_session, now

bp = Blueprint("auth", __name__)
#: The cookie's key for the server-side session id (see registry.auth.start_session).
SESSION_KEY = "sid"
#: The page language outlives any session (a browser-session cookie, an ended session), so it has its own cookie.
LANGUAGE_COOKIE = "lang"
LANGUAGE_COOKIE_DAYS = 365
LANGUAGES = ("ar", "en")


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


def remembered_language() -> str | None:
    """The language this browser chose last, even when its session is gone."""
    code = request.cookies.get(LANGUAGE_COOKIE)
    return code if code in LANGUAGES else None


def _remember_language(response: Any, code: str) -> Any:
    response.set_cookie(LANGUAGE_COOKIE, code, max_age=LANGUAGE_COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))
    return response


def page_to_return_to() -> str:
    """The page a refused request came from, to come back to after logging in: never the login page itself."""
    if request.endpoint == "auth.login":
        return _safe_next(request.args.get("next"))
    if request.method == "GET":
        return _safe_next(request.full_path.rstrip("?"))
    try:  # a form posted to its own page (a task form): that page
        current_app.url_map.bind(request.host).match(request.path, method="GET")
    except HTTPException:
        referrer = urlparse(request.referrer or "")
        same_site = referrer.netloc in ("", request.host)
        return _safe_next(referrer.path if same_site else None)
    return _safe_next(request.path)


def _session_ended() -> str:
    if request.endpoint == "tasks.complete":  # app.js kept what was typed as a draft (webui/drafts.py)
        return _("Your session ended, so the form was not sent. Log in again to return to the task: "
                 "what you typed is kept as a draft.")
    if request.method != "GET":
        return _("Your session ended, so nothing was changed. Log in again to continue.")
    return _("Your session ended. Log in again to continue.")


def unauthorized() -> Any:
    """A page that needs a login: back to the same page afterwards; a session that ended says so."""
    if isinstance(session.get(SESSION_KEY), str):  # this browser was logged in: its session ended
        flash(_session_ended(), "notice")
    return redirect(url_for("auth.login", next=page_to_return_to()))


def form_expired() -> Any:
    """A form sent with an expired token or after the browser lost its session: back to the page, never a dead end."""
    if request.endpoint == "auth.login":
        return render_template("auth/login.html", error=_("The login form expired; log in again.")), 400
    if request.path.startswith("/portal/"):
        from webui.portal.accounts import form_expired as portal_form_expired

        return portal_form_expired()
    if request.endpoint in ("complaints_public.new", "complaints_public.follow"):  # public pages: no login to go to
        flash(_("The form expired, so nothing was sent. Try again."), "notice")
        return redirect(request.path)
    if current_user.is_authenticated:
        flash(_("The form expired, so it was not sent. What you typed is kept as a draft: check it and submit again.")
              if request.endpoint == "tasks.complete" else _("The form expired, so nothing was changed. Try again."),
              "notice")
        return redirect(page_to_return_to())
    flash(_session_ended(), "notice")
    return redirect(url_for("auth.login", next=page_to_return_to()))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    error = None
    chosen = request.form.get("lang") if request.method == "POST" else None
    if chosen in LANGUAGES:
        session["lang"] = chosen
    if request.method == "POST":
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
            response = redirect(_safe_next(request.args.get("next")))
            return _remember_language(response, chosen) if chosen in LANGUAGES else response
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
    response = redirect(_safe_next(request.form.get("next")))
    if code in LANGUAGES:
        session["lang"] = code
        _remember_language(response, code)
    return response

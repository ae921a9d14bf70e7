"""Sign up, confirm the mobile, log in and out, reset a forgotten password: the portal's account pages."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from registry.citizens import accounts
from registry.citizens.errors import InvalidCode
from registry.citizens.models import Citizen
from registry.errors import FormInvalid, InvalidCredentials
from webui.db import db_session, now
from webui.portal import bp
from webui.portal.auth import (
    current_citizen,
    end_current_session,
    forget_session,
    remember_session,
    safe_portal_next,
)
from webui.portal.messages import account_errors, wrong_code, wrong_credentials

#: Where the national ID waiting for a code is kept between the two steps (Flask's signed session cookie).
SIGNUP_PENDING = "portal_signup_id"
RESET_PENDING = "portal_reset_id"
LANGUAGES = ("ar", "en")


@bp.before_request
def _language_from_form() -> None:
    """Portal forms carry the page's language, so an answer (an error, a throttled attempt) keeps it."""
    chosen = request.form.get("lang") if request.method == "POST" else None
    if chosen in LANGUAGES:
        session["lang"] = chosen


@bp.context_processor
def _citizen() -> dict[str, Any]:
    return {"citizen": current_citizen()}


def field_labels() -> dict[str, str]:
    return {"national_id": _("National ID number"), "mobile": _("Mobile number"), "password": _("Password"),
            "password_again": _("Password again"), "code": _("Code")}


def _log_in(citizen: Citizen, target: str) -> Any:
    end_current_session()  # whatever this browser had before: a fresh session on every login
    token = accounts.start_session(db_session(), citizen=citizen, now=now())
    return remember_session(redirect(target), token)


def _code(form_value: str | None) -> str:
    return (form_value or "").strip()


@bp.route("/signup", methods=["GET", "POST"])
def signup() -> Any:
    values = {"national_id": request.form.get("national_id", ""), "mobile": request.form.get("mobile", "")}
    if request.method == "POST":
        try:
            national_id = accounts.sign_up(
                db_session(), national_id=values["national_id"], mobile=values["mobile"],
                password=request.form.get("password", ""), password_again=request.form.get("password_again", ""),
                lang=str(session.get("lang") or "ar"), now=now())
        except FormInvalid as error:
            return render_template("portal/signup.html", values=values, labels=field_labels(),
                                   errors=account_errors(error.errors)), 400
        session[SIGNUP_PENDING] = national_id
        return redirect(url_for("portal.confirm"))
    return render_template("portal/signup.html", values=values, labels=field_labels(), errors={})


@bp.route("/confirm", methods=["GET", "POST"])
def confirm() -> Any:
    pending = session.get(SIGNUP_PENDING)
    if request.method == "POST" and isinstance(pending, str):
        code = _code(request.form.get("code"))
        if not code:
            return render_template("portal/confirm.html", pending=True,
                                   errors=account_errors({"code": ["code_format"]})), 400
        try:
            citizen = accounts.confirm_mobile(db_session(), national_id=pending, code=code, now=now())
        except InvalidCode:
            return render_template("portal/confirm.html", pending=True, errors={"code": wrong_code()}), 401
        session.pop(SIGNUP_PENDING, None)
        flash(_("Your mobile is confirmed and your account is ready."), "success")
        return _log_in(citizen, url_for("portal.home"))
    return render_template("portal/confirm.html", pending=isinstance(pending, str), errors={})


@bp.route("/confirm/resend", methods=["POST"])
def resend_code() -> Any:
    pending = session.get(SIGNUP_PENDING)
    if isinstance(pending, str):
        accounts.resend_signup_code(db_session(), national_id=pending, now=now())
        flash(_("If the account is waiting for a code, a new one is on its way. Only the newest code works."),
              "notice")
    return redirect(url_for("portal.confirm"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    national_id = request.form.get("national_id", "")
    if request.method == "POST":
        try:
            citizen = accounts.authenticate(db_session(), national_id=national_id,
                                            password=request.form.get("password", ""),
                                            demo_mode=bool(current_app.config["DEMO_MODE"]))
        except InvalidCredentials:
            return render_template("portal/login.html", national_id=national_id, error=wrong_credentials()), 401
        return _log_in(citizen, safe_portal_next(request.args.get("next")))
    return render_template("portal/login.html", national_id=national_id, error=None)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    end_current_session()
    flash(_("You are logged out."), "success")
    return forget_session(redirect(url_for("portal.login")))


@bp.route("/reset", methods=["GET", "POST"])
def reset() -> Any:
    national_id = request.form.get("national_id", "")
    if request.method == "POST":
        pending = accounts.request_password_reset(db_session(), national_id=national_id, now=now())
        if pending is None:
            code = "required" if not national_id.strip() else "invalid_national_id"
            return render_template("portal/reset.html", national_id=national_id, labels=field_labels(),
                                   errors=account_errors({"national_id": [code]})), 400
        session[RESET_PENDING] = pending
        return redirect(url_for("portal.reset_code"))
    return render_template("portal/reset.html", national_id=national_id, errors={})


@bp.route("/reset/code", methods=["GET", "POST"])
def reset_code() -> Any:
    pending = session.get(RESET_PENDING)
    if request.method == "POST" and isinstance(pending, str):
        code = _code(request.form.get("code"))
        if not code:
            return render_template("portal/reset_code.html", pending=True, labels=field_labels(),
                                   errors=account_errors({"code": ["code_format"]})), 400
        try:
            accounts.reset_password(db_session(), national_id=pending, code=code,
                                    new_password=request.form.get("password", ""),
                                    password_again=request.form.get("password_again", ""), now=now())
        except FormInvalid as error:
            return render_template("portal/reset_code.html", pending=True, labels=field_labels(),
                                   errors=account_errors(error.errors)), 400
        except InvalidCode:
            return render_template("portal/reset_code.html", pending=True, labels=field_labels(),
                                   errors={"code": wrong_code()}), 401
        session.pop(RESET_PENDING, None)
        end_current_session()
        flash(_("Your password is changed and every other login has ended. Log in with the new password."),
              "success")
        return forget_session(redirect(url_for("portal.login")))
    return render_template("portal/reset_code.html", pending=isinstance(pending, str), labels=field_labels(), errors={})


def form_expired() -> Any:
    """A portal form sent without a valid token (expired, or forged on another site): refused, nothing changed."""
    message = _("The form expired, so nothing was changed. Reload the page and try again.")
    return render_template("portal/error.html", message=message, status=400), 400

"""Throttling the portal's logins, code guesses and code requests, as staff logins are (webui/security.py).

Each kind is counted twice: per address, and per address and national ID, the ID as typed (or waiting for
its code) whether or not it has an account, so a throttled answer tells nothing about who has one and a
stranger elsewhere can never keep a citizen out. Failed logins and wrong codes (401) count; every code
request counts, since each one may send a text message.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, render_template, request, session
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

from engine.forms import normalize_national_id
from webui.portal.accounts import RESET_PENDING, SIGNUP_PENDING, field_labels

#: endpoint -> (kind, page shown with the "too many attempts" message)
THROTTLED = {
    "portal.login": ("login", "portal/login.html"),
    "portal.confirm": ("code_guess", "portal/confirm.html"),
    "portal.reset_code": ("code_guess", "portal/reset_code.html"),
    "portal.signup": ("code_request", "portal/signup.html"),
    "portal.resend_code": ("code_request", "portal/confirm.html"),
    "portal.reset": ("code_request", "portal/reset.html"),
}
#: kind -> (config key per address, config key per address and ID, default per address, default per ID)
LIMITS = {
    "login": ("LOGIN_LIMIT_PER_ADDRESS", "LOGIN_LIMIT_PER_ACCOUNT", "60/minute;600/hour", "10/minute;50/hour"),
    "code_guess": ("PORTAL_CODE_GUESSES_PER_ADDRESS", "PORTAL_CODE_GUESSES_PER_ACCOUNT", "30/hour", "10/hour"),
    "code_request": ("PORTAL_CODE_REQUESTS_PER_ADDRESS", "PORTAL_CODE_REQUESTS_PER_ACCOUNT", "100/hour", "5/hour"),
}


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _national_id() -> str:
    """The ID this request is about: typed in the form, or waiting for its code in this browser."""
    typed = request.form.get("national_id")
    if typed is None:
        pending = session.get(SIGNUP_PENDING if request.endpoint in ("portal.confirm", "portal.resend_code")
                              else RESET_PENDING)
        typed = pending if isinstance(pending, str) else ""
    return normalize_national_id(str(typed))


def _address_and_id() -> str:
    digest = hashlib.sha256(_national_id().encode()).hexdigest()[:32]
    return f"{get_remote_address()}/{digest}"


def throttle_portal(app: Flask, limiter: Limiter) -> None:
    """Wrap the portal's account views with their limits (the limits are read per request, like staff's)."""
    for endpoint, (kind, _template) in THROTTLED.items():
        address_key, account_key, address_default, account_default = LIMITS[kind]
        deduct = _failed if kind != "code_request" else None
        per_address = limiter.shared_limit(_limit(address_key, address_default), scope=f"portal-{kind}-address",
                                           methods=["POST"], deduct_when=deduct)
        per_account = limiter.shared_limit(_limit(account_key, account_default), scope=f"portal-{kind}-account",
                                           key_func=_address_and_id, methods=["POST"], deduct_when=deduct)
        view: Callable[..., Any] = app.view_functions[endpoint]
        app.view_functions[endpoint] = per_address(per_account(view))


def _limit(key: str, default: str) -> Callable[[], str]:
    return lambda: str(current_app.config.get(key) or default)


def too_many_attempts_page(message: str) -> str:
    """The page the throttled form was on, with the message in place of its answer."""
    _kind, template = THROTTLED.get(request.endpoint or "", ("", "portal/error.html"))
    if template == "portal/error.html":
        return render_template(template, message=message, status=429)
    values = {"national_id": request.form.get("national_id", ""), "mobile": request.form.get("mobile", "")}
    return render_template(template, error=message, errors={}, labels=field_labels(), values=values,
                           national_id=values["national_id"], pending=True)

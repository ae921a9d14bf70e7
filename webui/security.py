"""Login throttling (Flask-Limiter) and trusting a reverse proxy's client address.

Both the login page and the token endpoint count failed attempts under one shared scope, twice: per
address (someone trying many accounts) and per address and username (someone guessing one password).
The second key is built from the username as typed, whether or not it exists, so a throttled answer
tells nothing about who has an account; and it includes the address, so a stranger elsewhere can never
keep a real user out. Only failures (401) count: an office of colleagues behind one address logs in freely.
The counts live in ``RATELIMIT_STORAGE_URI``: memory for one process, Redis for several servers.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, jsonify, render_template, request, session
from flask_babel import gettext as _
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

LOGIN_ENDPOINTS = ("auth.login", "api.token")


def init_app(app: Flask) -> None:
    """Trust the configured proxies, then throttle failed logins; call after the blueprints are registered."""
    proxies = int(app.config.get("TRUSTED_PROXIES") or 0)
    if proxies:
        # Behind N proxies, the client address and scheme come from their X-Forwarded-* headers.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)  # type: ignore[method-assign]
    _throttle_logins(app)


def _throttle_logins(app: Flask) -> None:
    # One limiter per app: its storage and counts belong to this app (a fresh, empty one per test app).
    limiter = Limiter(key_func=get_remote_address)
    limiter.init_app(app)
    # The limits are read on each request, so a changed configuration applies at once.
    per_address = limiter.shared_limit(lambda: str(current_app.config["LOGIN_LIMIT_PER_ADDRESS"]),
                                       scope="login-address", methods=["POST"], deduct_when=_failed)
    per_account = limiter.shared_limit(lambda: str(current_app.config["LOGIN_LIMIT_PER_ACCOUNT"]),
                                       scope="login-account", key_func=_address_and_username, methods=["POST"],
                                       deduct_when=_failed)
    for endpoint in LOGIN_ENDPOINTS:
        view: Callable[..., Any] = app.view_functions[endpoint]
        app.view_functions[endpoint] = per_address(per_account(view))
    from webui.portal.throttle import THROTTLED, throttle_portal, too_many_attempts_page

    throttle_portal(app, limiter)  # the citizens' logins, code guesses and code requests
    throttled = frozenset(LOGIN_ENDPOINTS) | frozenset(THROTTLED)
    # Only the views wrapped above have limits: every other request skips the limiter's per-request lookups.
    limiter.request_filter(lambda: request.endpoint not in throttled)

    @app.errorhandler(429)
    def _too_many_attempts(_error: Exception) -> Any:
        lang = request.form.get("lang") if request.endpoint == "auth.login" or request.path.startswith("/portal/") \
            else None
        if lang in ("ar", "en"):
            session["lang"] = lang
        message = _("Too many attempts. Wait a few minutes and try again.")
        if request.path.startswith("/api/"):
            response: Response = jsonify({"error": message})
        elif request.endpoint == "auth.login":
            response = app.make_response(render_template("auth/login.html", error=message))
        elif request.path.startswith("/portal/"):
            response = app.make_response(too_many_attempts_page(message))
        else:
            response = app.make_response(render_template("error.html", message=message, status=429))
        response.status_code = 429
        current = limiter.current_limit
        response.headers["Retry-After"] = str(max(1, int(current.reset_at - time.time())) if current else 60)
        return response


def _failed(response: Response) -> bool:
    return response.status_code == 401


def _address_and_username() -> str:
    """The client address and the username tried, normalised as the login normalises it."""
    if request.path.startswith("/api/"):
        try:
            body = request.get_json(silent=True)
        except RecursionError:
            body = None
        username = body.get("username", "") if isinstance(body, dict) else ""
    else:
        username = request.form.get("username", "")
    digest = hashlib.sha256(str(username).strip().lower().encode()).hexdigest()[:32]
    return f"{get_remote_address()}/{digest}"

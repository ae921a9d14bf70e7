"""Who the citizen is: the portal's own cookie names a server-side citizen session (registry.citizens).

Staff and citizens never count as each other: the staff login lives in Flask's session cookie under
``sid`` and opens staff pages only; the portal cookie opens portal pages only.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any, TypeVar, cast
from urllib.parse import urlparse

from flask import current_app, flash, g, redirect, request, url_for
from flask_babel import gettext as _

from registry.citizens import accounts
from registry.citizens.models import Citizen
from webui.db import db_session, now

#: The portal's cookie: a random session id, only its hash is stored (registry.citizens.models.CitizenSession).
PORTAL_COOKIE = "portal_session"
COOKIE_PATH = "/portal"
_UNSET = object()
F = TypeVar("F", bound=Callable[..., Any])


def _token() -> str | None:
    token = request.cookies.get(PORTAL_COOKIE)
    return token if token and len(token) <= 100 else None


def current_citizen() -> Citizen | None:
    """The citizen of this browser's live portal session (looked up once per request), or None."""
    found = g.get("portal_citizen", _UNSET)
    if found is _UNSET:
        token = _token()
        config = current_app.config
        found = accounts.citizen_for_session(
            db_session(), token=token, now=now(),
            idle_timeout=dt.timedelta(minutes=config.get("PORTAL_SESSION_IDLE_MINUTES",
                                                         config["SESSION_IDLE_MINUTES"])),
            lifetime=dt.timedelta(hours=config.get("PORTAL_SESSION_LIFETIME_HOURS",
                                                   config["SESSION_LIFETIME_HOURS"]))) if token else None
        g.portal_citizen = found
    return cast(Citizen | None, found)


def safe_portal_next(target: str | None) -> str:
    """A portal page to go on to after logging in; anything else (another site, a staff page) means the home."""
    if target and urlparse(target).netloc == "" and target.startswith("/portal/") and "//" not in target:
        return target
    return url_for("portal.home")


def citizen_required(view: F) -> F:
    """A portal page for a logged-in citizen; others go to the portal's login and come back afterwards."""

    @functools.wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_citizen() is None:
            if _token():  # this browser was logged in: its session ended
                flash(_("Your session ended. Log in again to continue."), "notice")
            target = request.full_path.rstrip("?") if request.method == "GET" else request.path
            response = redirect(url_for("portal.login", next=safe_portal_next(target)))
            if _token():
                forget_session(response)
            return response
        return view(*args, **kwargs)

    return cast(F, wrapped)


def remember_session(response: Any, token: str) -> Any:
    """Put a new portal session's id in its cookie (only sent to /portal pages, never readable by scripts)."""
    response.set_cookie(PORTAL_COOKIE, token, httponly=True, samesite="Lax", path=COOKIE_PATH,
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")),
                        max_age=int(current_app.config.get("PORTAL_SESSION_LIFETIME_HOURS",
                                                           current_app.config["SESSION_LIFETIME_HOURS"]) * 3600))
    return response


def forget_session(response: Any) -> Any:
    response.delete_cookie(PORTAL_COOKIE, path=COOKIE_PATH)
    return response


def end_current_session() -> None:
    """End this browser's portal session on the server (logout, or a new login replacing it)."""
    token = _token()
    if token:
        accounts.end_session(db_session(), token=token, now=now())
    g.portal_citizen = None

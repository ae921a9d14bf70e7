"""The administrators' area under /admin (directorates, staff, partner organisations, partner systems of the
SPDCI API) and one's own password."""

from __future__ import annotations

from typing import Any

from flask import Flask, redirect, request, url_for
from flask_login import current_user

#: Pages a user who must choose a new password may still open.
_OPEN_WHILE_CHANGING = frozenset({"account.password", "auth.logout", "auth.language", "auth.login", "static"})


def init_app(app: Flask) -> None:
    from webui.admin import accounts, directorates, home, interop_clients, partners, password

    for blueprint in (home.bp, directorates.bp, accounts.bp, partners.bp, interop_clients.bp, password.bp):
        app.register_blueprint(blueprint)

    @app.before_request
    def _password_first() -> Any:
        """A password an administrator set is known to them: its owner chooses their own before anything else."""
        if request.path.startswith(("/api/", "/portal/", "/static/")) or request.endpoint in _OPEN_WHILE_CHANGING:
            return None
        if current_user.is_authenticated and getattr(current_user, "must_change_password", False):
            return redirect(url_for("account.password"))
        return None

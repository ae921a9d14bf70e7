"""The web layer: blueprints, templates, translations and the JSON API."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from flask import Flask, request, session
from flask_babel import Babel, format_datetime
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect, generate_csrf

from webui.db import init_db, now

#: Every page's policy (a view may set a stricter or a looser one of its own: this is only a default).
CONTENT_SECURITY_POLICY = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'"

csrf = CSRFProtect()
login_manager = LoginManager()
babel = Babel()


def current_language() -> str:
    lang = session.get("lang") if request else None
    if lang in ("ar", "en"):
        return str(lang)
    if request and not request.path.startswith("/api/"):
        from webui.auth import remembered_language  # the language outlives an ended session

        lang = remembered_language()
        if lang:
            return lang
    header = request.accept_languages.best_match(["ar", "en"]) if request and request.path.startswith("/api/") else None
    return header or "ar"


def _compile_translations(app: Flask) -> None:
    """Compile .po catalogues to .mo when they changed, so a fresh clone needs no extra step."""
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    root = Path(app.root_path) / "webui" / "translations"
    for po_path in root.glob("*/LC_MESSAGES/messages.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with open(po_path, "rb") as handle:
            catalog = read_po(handle)
        with open(mo_path, "wb") as handle:
            write_mo(handle, catalog)


def init_app(app: Flask) -> None:
    from registry.models import User
    from webui import (
        api,
        auth,
        cases,
        complaints,
        drafts,
        explanations,
        field,
        health,
        household_waits,
        households,
        inbox,
        outbox,
        portal,
        processes,
        records,
        requests,
        security,
        tasks,
        timer_incidents,
    )
    from webui.errors import register_error_handlers
    from webui.rendering import register_template_helpers

    init_db(app)
    requests.init_app(app)  # first: the id converter before any route, the input check before any view
    _compile_translations(app)
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(Path(app.root_path) / "webui" / "translations"))
    babel.init_app(app, locale_selector=current_language)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    login_manager.unauthorized_handler(auth.unauthorized)

    @login_manager.user_loader
    def _load_user(user_id: str) -> User | None:
        # The cookie names a server-side session; it must be live and belong to this user.
        user = auth.current_staff_user()
        return user if user is not None and user.get_id() == user_id else None

    app.register_blueprint(household_waits.bp)
    app.register_blueprint(timer_incidents.bp)
    for blueprint in (auth.bp, inbox.bp, tasks.bp, drafts.bp, cases.bp, records.bp, households.bp, processes.bp,
                      outbox.bp):
        app.register_blueprint(blueprint)
    portal.init_app(app)
    from webui import admin

    admin.init_app(app)
    complaints.init_app(app)
    from webui import referrals

    referrals.init_app(app)
    from webui.campaigns import allocation as campaign_allocation
    from webui.campaigns import pages as campaign_pages

    app.register_blueprint(campaign_pages.bp)

    app.register_blueprint(campaign_allocation.bp)
    from webui.campaigns import progress as campaign_progress

    app.register_blueprint(campaign_progress.bp)
    from webui.supervision import pages as supervision_pages

    app.register_blueprint(supervision_pages.bp)
    from webui.reports import pages as report_pages

    app.register_blueprint(report_pages.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    from webui import spdci

    app.register_blueprint(spdci.bp)
    csrf.exempt(spdci.bp)  # partner systems send bearer tokens, never cookies
    app.register_blueprint(field.bp)
    app.register_blueprint(health.bp)
    security.init_app(app)
    register_error_handlers(app)
    register_template_helpers(app)
    explanations.register_template_helpers(app)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        lang = current_language()
        return {"lang": lang, "dir": "rtl" if lang == "ar" else "ltr", "csrf_token": generate_csrf,
                "now": now(), "user": current_user}

    @app.after_request
    def _security_headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if not request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"  # pages, API answers and exports carry personal data
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return response

    @app.template_filter("when")
    def _when(value: dt.datetime | None) -> str:
        return format_datetime(value, "yyyy-MM-dd HH:mm") if value else "—"

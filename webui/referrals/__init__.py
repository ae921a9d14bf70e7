"""Referrals on the web: the partner's inbox and referral pages, staff's referral page, the case's panel."""

from __future__ import annotations

from typing import Any

from flask import Flask, abort, redirect, request, url_for
from flask_login import current_user

from registry.referrals.access import is_partner
from webui.referrals import views

#: What a partner's user may open: their own pages, logging in and out, the language switch, static files.
PARTNER_ENDPOINTS = frozenset({"static", "auth.login", "auth.logout", "auth.language", "health.health",
                               "account.password"})  # choosing their own password (webui/admin/password.py)


def _keep_partners_to_their_pages() -> Any:
    """A partner's user never opens the ministry's own pages (cases, inbox, households, processes, API)."""
    if not current_user.is_authenticated or not is_partner(current_user):
        return None
    endpoint = request.endpoint or ""
    if endpoint.startswith("partner.") or endpoint in PARTNER_ENDPOINTS:
        return None
    if endpoint == "inbox.index":
        return redirect(url_for("partner.inbox"))
    abort(404)


def init_app(app: Flask) -> None:
    app.register_blueprint(views.partner_bp)
    app.register_blueprint(views.staff_bp)
    app.before_request(_keep_partners_to_their_pages)
    app.jinja_env.globals["case_referrals"] = views.case_referrals
    app.jinja_env.globals["service_label"] = views.service_label
    app.jinja_env.globals["referral_status_label"] = views.status_label
    app.jinja_env.globals["referral_outcome_label"] = views.outcome_label
    app.jinja_env.globals["referral_choices"] = views.referral_choices

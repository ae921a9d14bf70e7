"""Complaints on the web: staff pages (list, a complaint, its tasks, filing on a citizen's behalf), the
public pages (file anonymously, follow by reference and code) and the portal's pages for signed-in citizens."""

from __future__ import annotations

from flask import Flask

from webui.complaints import limits, public, staff


def init_app(app: Flask) -> None:
    """Register the staff and public blueprints (the portal's pages are on the portal's blueprint, see
    webui.portal.ROUTE_MODULES) and throttle anonymous filing and follow-up guesses."""
    for blueprint in (staff.bp, public.bp):
        app.register_blueprint(blueprint)
    limits.init_app(app)

"""The citizens' portal at /portal: accounts and sign-in here; applying, following cases and complaints beside it.

Every portal page is for a citizen (``webui.portal.auth``), never for staff: the two have separate cookies
and sessions. A module that adds portal pages puts its routes on ``bp`` and is listed in ``ROUTE_MODULES``.
"""

from __future__ import annotations

import importlib

from flask import Blueprint, Flask

bp = Blueprint("portal", __name__, url_prefix="/portal")

#: The modules whose routes live on ``bp`` (imported once, before the blueprint is first registered).
ROUTE_MODULES = ("webui.portal.accounts", "webui.portal.home", "webui.portal.applications", "webui.portal.apply",
                 "webui.complaints.portal")


def init_app(app: Flask) -> None:
    """Register the portal's routes; ``webui.security`` throttles its logins and codes afterwards."""
    for name in ROUTE_MODULES:
        importlib.import_module(name)
    app.register_blueprint(bp)

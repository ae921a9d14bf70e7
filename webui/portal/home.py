"""The portal's home: the citizen's applications, how to apply, complaints."""

from __future__ import annotations

from typing import Any

from flask import render_template

from registry.citizens.access import cases_for_citizen
from registry.citizens.models import Citizen
from webui.db import db_session
from webui.portal import bp
from webui.portal.auth import citizen_required, current_citizen


def home_sections(citizen: Citizen) -> dict[str, Any]:
    """What the home's section includes (templates/portal/_*.html) list; each portal area adds its own entry."""
    return {"applications": cases_for_citizen(db_session(), citizen)}


@bp.route("/")
@citizen_required
def home() -> Any:
    citizen = current_citizen()
    assert citizen is not None
    return render_template("portal/home.html", **home_sections(citizen))

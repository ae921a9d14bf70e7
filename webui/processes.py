"""For process analysts: the process, form and rule files and their check results."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from webui.db import library

bp = Blueprint("processes", __name__, url_prefix="/processes")


@bp.route("/")
@login_required
def index() -> Any:
    if current_user.role not in ("analyst", "admin"):
        abort(404)
    from registry.checks import check_all

    return render_template("processes/index.html", report=check_all(library()))

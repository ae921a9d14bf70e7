"""The administration home: what an administrator manages, and the latest changes made."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template
from flask_login import current_user, login_required

from registry.administration.history import recent_changes
from registry.models import Role
from webui.db import db_session

bp = Blueprint("admin", __name__, url_prefix="/admin")


def admin_only() -> None:
    """Other roles do not learn the administration pages exist."""
    if current_user.role != Role.ADMIN.value:
        abort(404)


@bp.route("/")
@login_required
def index() -> Any:
    admin_only()
    return render_template("admin/home.html", changes=recent_changes(db_session(), actor=current_user))

"""The task inbox: my tasks, and open tasks of my role in my directorate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from registry import cases
from webui.db import db_session

bp = Blueprint("inbox", __name__)


@bp.route("/")
@login_required
def index() -> Any:
    return render_template("inbox/index.html", inbox=cases.inbox(db_session(), actor=current_user))

"""The task inbox: my tasks, and open tasks of my role in my directorate, a page of each."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request
from flask_login import current_user, login_required

from registry import cases
from webui.db import db_session

bp = Blueprint("inbox", __name__)


@bp.route("/")
@login_required
def index() -> Any:
    box = cases.inbox(db_session(), actor=current_user, mine_page=request.args.get("mine_page", 1, type=int),
                      open_page=request.args.get("open_page", 1, type=int))
    return render_template("inbox/index.html", inbox=box)

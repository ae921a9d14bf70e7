"""The notification outbox as staff read it: every message to households, and whether it went."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user, login_required

from registry.notifications.models import MessageState
from registry.notifications.services import outbox_page
from webui.db import db_session

bp = Blueprint("outbox", __name__)


@bp.route("/outbox")
@login_required
def index() -> Any:
    """Newest first, filtered by state; administrators see all, supervisors their directorate's."""
    state = request.args.get("state") or None
    if state not in {s.value for s in MessageState}:
        state = None
    page = outbox_page(db_session(), actor=current_user, state=state, page=request.args.get("page", 1, type=int),
                       demo_mode=bool(current_app.config["DEMO_MODE"]))
    return render_template("outbox/index.html", page=page, state=state, states=[s.value for s in MessageState])

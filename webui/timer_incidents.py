"""A failing timer on the case page: try it again now."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import timer_incidents
from webui.db import db_session, now

bp = Blueprint("timer_incidents", __name__)


@bp.route("/cases/<id:case_id>/timers/<id:timer_id>/retry", methods=["POST"])
@login_required
def retry(case_id: int, timer_id: int) -> Any:
    try:
        timer_incidents.retry_now(db_session(), actor=current_user, case_id=case_id, timer_id=timer_id, now=now())
    except timer_incidents.RetryRefused:
        flash(_("This timer is no longer failing; nothing was changed."), "error")
    else:
        flash(_("The timer will be tried again on the worker's next pass."), "success")
    return redirect(url_for("cases.show", case_id=case_id), code=303)

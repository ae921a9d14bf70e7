"""What earlier tasks of a case recorded: one page per completed task, for staff of the case's directorate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template
from flask_login import current_user, login_required

from registry import records
from webui.db import db_session, library

bp = Blueprint("records", __name__)


@bp.route("/cases/<id:case_id>/records/<task_id>")
@login_required
def show(case_id: int, task_id: str) -> Any:
    """Who completed the task, when, every answer, and what changed since the submission before it."""
    rec = records.task_record(db_session(), actor=current_user, library=library(), case_id=case_id, task_id=task_id)
    return render_template("records/record.html", rec=rec, case_id=case_id, reference=rec.case_reference)

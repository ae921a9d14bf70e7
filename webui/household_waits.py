"""Staff mark a task as waiting for the household, and record that the household responded."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid, TaskAlreadyCompleted
from registry import household_waits
from webui.db import db_session, library, now
from webui.errors import describe
from webui.messages import translate_errors

bp = Blueprint("household_waits", __name__, url_prefix="/tasks")


def refusal_message(error: household_waits.WaitRefused) -> str:
    return {
        "household_task": _("This task is the household's own, in the portal: staff cannot pause it."),
        "already_waiting": _("This task is already waiting on the household; nothing was changed."),
        "not_waiting": _("This task is not paused waiting on the household; nothing was changed."),
    }.get(error.reason, _("Nothing was changed."))


def _back(task_id: str, case_id: int | None) -> Any:
    """Back where the form was: the case page when it was sent from there, else the task page."""
    if request.form.get("back") == "case" and case_id is not None:
        return redirect(url_for("cases.show", case_id=case_id), code=303)
    return redirect(url_for("tasks.show", task_id=task_id), code=303)


def _act(task_id: str, action: Any, done: str) -> Any:
    try:
        record = action()
    except FormInvalid as err:
        flash(_("The task was not paused: %(reason)s", reason=" ".join(
            m for messages in translate_errors(err.errors).values() for m in messages)), "error")
    except household_waits.WaitRefused as err:
        flash(refusal_message(err), "error")
    except TaskAlreadyCompleted as err:
        flash(describe(err)[1], "error")
    else:
        flash(done, "success")
        return _back(task_id, int(record.business_key))
    return _back(task_id, household_waits.case_of_task(db_session(), actor=current_user, task_id=task_id))


@bp.route("/<task_id>/household-wait", methods=["POST"])
@login_required
def start(task_id: str) -> Any:
    return _act(task_id, lambda: household_waits.start_wait(
        db_session(), actor=current_user, library=library(), task_id=task_id,
        reason=request.form.get("reason", ""), respond_by=request.form.get("respond_by", ""), now=now()),
        _("The task waits on the household; its due date is paused. The household is told what is needed."))


@bp.route("/<task_id>/household-wait/end", methods=["POST"])
@login_required
def end(task_id: str) -> Any:
    return _act(task_id, lambda: household_waits.end_wait(db_session(), actor=current_user, task_id=task_id,
                                                         now=now()),
                _("The household responded; the task's due date runs again, later by the time it waited."))

"""A task page: its form beside the case summary; claim, release, complete."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid, StaleState, TaskAlreadyCompleted, TaskNotClaimable
from registry import cases, drafts
from registry.drafts import TaskDraft
from registry.models import CaseStatus
from webui.db import db_session, document_storage, library, now
from webui.drafts import saved_at
from webui.errors import describe
from webui.formdata import parse_post
from webui.messages import translate_errors

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def _render(task_id: str, *, values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
            message: str | None = None, status: int = 200, draft: TaskDraft | None = None) -> Any:
    view = cases.task_view_for_page(db_session(), actor=current_user, library=library(), task_id=task_id)
    if values is not None:
        view.values = values
    elif draft is not None:  # what the user typed before (a closed tab, an ended session) wins over the defaults
        view.values = {**view.values, **draft.values}
    return render_template("tasks/task.html", view=view, errors=errors or {}, message=message, draft=draft,
                           draft_saved_at=saved_at(draft) if draft else None), status


def _completion_message(status: str) -> str:
    """What a completion did, in words: a completion that ends the case says so."""
    if status == CaseStatus.CLOSED:
        return _("Saved. The case is now closed.")
    if status == CaseStatus.REJECTED:
        return _("Saved. The case is now closed: the request was not accepted.")
    return _("Saved. The case moved on.")


@bp.route("/<task_id>")
@login_required
def show(task_id: str) -> Any:
    return _render(task_id, draft=drafts.draft_for(db_session(), actor=current_user, task_id=task_id))


@bp.route("/<task_id>", methods=["POST"])
@login_required
def complete(task_id: str) -> Any:
    session = db_session()
    record = cases.task_for_actor(session, actor=current_user, task_id=task_id)
    definition = cases.form_of(session, library(), record)
    data = parse_post(definition, request.form, request.files)
    raw_version = request.form.get("_version")
    # A version that is not one we rendered can only be a stale or forged form: it never matches.
    version = None if raw_version is None else int(raw_version) if raw_version.isascii() and \
        raw_version.isdigit() and len(raw_version) < 10 else -1
    try:
        completion = cases.complete_task(session, actor=current_user, library=library(), task_id=task_id,
                                         data=data, now=now(), expected_version=version,
                                         storage=document_storage())
    except FormInvalid as err:
        return _render(task_id, values=data, errors=translate_errors(err.errors),
                       message=_("Please correct the highlighted fields."), status=422)
    except (TaskAlreadyCompleted, StaleState, TaskNotClaimable) as err:
        status, message = describe(err)
        return _render(task_id, values=data, message=message, status=status)
    flash(_completion_message(completion.status), "success")
    mine = [r for r in completion.next_tasks if r.assignee_id == current_user.id]
    if mine:
        return redirect(url_for("tasks.show", task_id=mine[0].id))
    return redirect(url_for("cases.show", case_id=int(record.business_key)))


@bp.route("/<task_id>/claim", methods=["POST"])
@login_required
def claim(task_id: str) -> Any:
    cases.claim_task(db_session(), actor=current_user, task_id=task_id, now=now())
    flash(_("The task is now yours."), "success")
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.route("/<task_id>/release", methods=["POST"])
@login_required
def release(task_id: str) -> Any:
    cases.release_task(db_session(), actor=current_user, task_id=task_id, now=now())
    flash(_("The task is back in the open tasks of your role."), "success")
    return redirect(url_for("inbox.index"))

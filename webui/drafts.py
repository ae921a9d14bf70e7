"""Drafts of task forms: app.js saves what the user types; the task page restores it (registry.drafts)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, request, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user, login_required
from werkzeug.datastructures import ImmutableMultiDict

from engine.errors import NotFoundForActor, TaskAlreadyCompleted, TaskNotClaimable
from registry import cases, drafts
from registry.drafts import DraftRefused, TaskDraft
from webui.db import db_session, library, now
from webui.errors import describe
from webui.formdata import parse_post, unknown_names
from webui.requests import UnsafeInput

bp = Blueprint("drafts", __name__, url_prefix="/tasks")
#: A posted draft names every field (group rows repeat their prefix), so its body may be larger than what is kept.
MAX_BODY_BYTES = 4 * drafts.MAX_DRAFT_BYTES


def _posted_values(body: Any) -> dict[str, str | list[str]] | None:
    """``{"values": {name: text or list of texts}}``, the names as the HTML form posts them; None for anything else."""
    values = body.get("values") if isinstance(body, dict) else None
    if not isinstance(values, dict):
        return None
    for value in values.values():
        if not (isinstance(value, str) or isinstance(value, list) and all(isinstance(v, str) for v in value)):
            return None
    return values


def _refusal(error: Exception) -> Any:
    status, message = describe(error)
    fields = {"fields": error.fields} if isinstance(error, DraftRefused) and error.fields else {}
    return jsonify({"error": message, **fields}), status


@bp.route("/<task_id>/draft", methods=["PUT"])
def save(task_id: str) -> Any:
    """Keep what the user typed so far; JSON in and out, never a redirect (it runs behind the page)."""
    if not current_user.is_authenticated:
        return jsonify({"error": _("Your session ended; log in again. What you typed before is kept.")}), 401
    if (request.content_length or 0) > MAX_BODY_BYTES:
        return _refusal(DraftRefused("too_large"))
    try:
        values = _posted_values(request.get_json(silent=True))
    except UnsafeInput as err:
        return _refusal(err)
    if values is None:
        return jsonify({"error": _('A draft is a JSON object {"values": {field name: text or list of texts}}.')}), 400
    session = db_session()
    try:
        definition = cases.form_of(session, library(), cases.task_for_actor(session, actor=current_user,
                                                                             task_id=task_id))
        unknown = unknown_names(definition, values)
        if unknown:
            raise DraftRefused("unknown_fields", unknown)
        posted = ImmutableMultiDict([(name, item) for name, value in values.items()
                                     for item in (value if isinstance(value, list) else [value])])
        draft = drafts.save_draft(session, actor=current_user, library=library(), task_id=task_id,
                                  values=parse_post(definition, posted, ImmutableMultiDict()), now=now())
    except (NotFoundForActor, TaskAlreadyCompleted, TaskNotClaimable, DraftRefused) as err:
        return _refusal(err)
    return jsonify({"saved_at": draft.updated_at.isoformat()})


@bp.route("/<task_id>/draft/discard", methods=["POST"])
@login_required
def discard(task_id: str) -> Any:
    drafts.discard_draft(db_session(), actor=current_user, task_id=task_id)
    flash(_("The draft was discarded."), "success")
    return redirect(url_for("tasks.show", task_id=task_id))


def saved_at(draft: TaskDraft) -> str:
    """When a draft was saved, as the note above the form says it: the time today, else date and time."""
    same_day = format_datetime(draft.updated_at, "yyyy-MM-dd") == format_datetime(now(), "yyyy-MM-dd")
    return format_datetime(draft.updated_at, "HH:mm" if same_day else "yyyy-MM-dd HH:mm")

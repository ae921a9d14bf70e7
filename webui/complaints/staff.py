"""Staff complaint pages: the complaints list, a complaint with its tasks, a task's form, filing on behalf."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid, StaleState, TaskAlreadyCompleted, TaskNotClaimable
from registry.complaints import services
from webui import current_language
from webui.complaints.words import errors_in_words, words
from webui.db import db_session, library, now
from webui.errors import describe
from webui.formdata import parse_post
from webui.messages import translate_errors

bp = Blueprint("complaints", __name__, url_prefix="/complaints")
bp.context_processor(words)

FILE_FIELDS = ("kind", "text", "case_reference", "about_user_id", "contact_mobile")


@bp.route("")
@login_required
def index() -> Any:
    """The complaints the user may see (the directorate's; the complaints unit: all) and their tasks to do."""
    status = request.args.get("status") or None
    rows = services.complaint_list(db_session(), actor=current_user, status=status,
                                   page=request.args.get("page", 1, type=int))
    return render_template("complaints/index.html", rows=rows, status=status,
                           tasks=services.open_tasks(db_session(), actor=current_user))


@bp.route("/file", methods=["GET", "POST"])
@login_required
def file() -> Any:
    """File a complaint on a citizen's behalf; the follow-up code is shown once, to hand to the citizen."""
    if not services.staff_may_file(current_user):
        abort(403)
    values = {name: request.form.get(name, "")[:5000] for name in FILE_FIELDS} if request.method == "POST" else {
        "kind": request.args.get("about", "")[:20], "case_reference": request.args.get("case", "")[:40]}
    errors: dict[str, str] = {}
    if request.method == "POST":
        about = values["about_user_id"]
        try:
            filed = services.file_complaint(
                db_session(), library=library(), now=now(), kind=values["kind"], text=values["text"],
                lang=current_language(), staff=current_user, case_reference=values["case_reference"],
                about_user_id=int(about) if about.isascii() and about.isdigit() and len(about) < 10 else None,
                contact_mobile=values["contact_mobile"])
        except FormInvalid as err:
            errors = errors_in_words(err.errors)
        else:
            return render_template("complaints/filed.html", complaint=filed.complaint, code=filed.code,
                                   on_behalf=True), 201
    return render_template("complaints/file.html", values=values, errors=errors,
                           staff=services.staff_choices(db_session(), actor=current_user)), 422 if errors else 200


@bp.route("/<reference>")
@login_required
def show(reference: str) -> Any:
    view = services.staff_view(db_session(), actor=current_user, reference=reference)
    return render_template("complaints/show.html", view=view)


def _render_task(reference: str, task_id: str, *, values: dict[str, Any] | None = None,
                 errors: dict[str, list[str]] | None = None, message: str | None = None, status: int = 200) -> Any:
    form = services.task_form(db_session(), actor=current_user, library=library(), reference=reference,
                              task_id=task_id)
    return render_template("complaints/task.html", view=form, values=values or {}, errors=errors or {},
                           message=message), status


@bp.route("/<reference>/tasks/<task_id>")
@login_required
def task(reference: str, task_id: str) -> Any:
    return _render_task(reference, task_id)


@bp.route("/<reference>/tasks/<task_id>", methods=["POST"])
@login_required
def complete(reference: str, task_id: str) -> Any:
    session = db_session()
    form = services.task_form(session, actor=current_user, library=library(), reference=reference, task_id=task_id)
    data = parse_post(form.form, request.form, request.files)
    raw_version = request.form.get("_version", "")
    version = int(raw_version) if raw_version.isascii() and raw_version.isdigit() and len(raw_version) < 10 else -1
    try:
        complaint = services.complete_task(session, actor=current_user, library=library(), reference=reference,
                                           task_id=task_id, data=data, now=now(), expected_version=version)
    except FormInvalid as err:
        return _render_task(reference, task_id, values=data, errors=translate_errors(err.errors),
                            message=_("Please correct the highlighted fields."), status=422)
    except (TaskAlreadyCompleted, StaleState, TaskNotClaimable) as err:
        status, message = describe(err)
        return _render_task(reference, task_id, values=data, message=message, status=status)
    flash(_("Saved."), "success")
    return redirect(url_for("complaints.show", reference=complaint.reference))

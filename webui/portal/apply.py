"""Applying online (consent, the registration form, documents, send) and the household's own tasks."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from engine.errors import FormInvalid, NotFoundForActor
from registry.citizens.models import Citizen
from registry.drafts import DraftRefused
from registry.errors import DuplicateApplicant
from registry.online import services as online
from registry.operations import local_date
from webui.db import db_session, document_storage, library, ministry_sources, now
from webui.formdata import parse_post
from webui.messages import translate_errors
from webui.portal import bp
from webui.portal.auth import citizen_required, current_citizen


def _citizen() -> Citizen:
    citizen = current_citizen()
    if citizen is None:  # citizen_required lets no one else in
        raise NotFoundForActor("citizen")
    return citizen


def _choices() -> dict[str, list[tuple[str, dict[str, str]]]]:
    from engine.catalog import CHOICE_PROVIDERS

    form = online.registration_form(library())
    return {f.name: CHOICE_PROVIDERS[f.choices_from](db_session(), "") for f in form.fields if f.choices_from}


def _open_case_page(err: DuplicateApplicant) -> Any:
    flash(_("Your household already has an application in progress. You can follow it here."), "notice")
    if err.reference:
        return redirect(url_for("portal.application", reference=err.reference))
    return redirect(url_for("portal.home"))


@bp.route("/apply")
@citizen_required
def apply() -> Any:
    """Where the citizen's application stands: consent first, then the form."""
    session, citizen = db_session(), _citizen()
    draft = online.application_for(session, citizen=citizen)
    if draft is not None:
        return redirect(url_for("portal.apply_form"))
    return render_template("portal/apply/consent.html", errors={})


@bp.route("/apply/consent", methods=["POST"])
@citizen_required
def apply_consent() -> Any:
    consent = request.form.get("consent") == "yes"
    if request.form.get("consent") not in ("yes", "no"):
        return render_template("portal/apply/consent.html",
                               errors={"consent": _("Choose whether the ministry may ask for your data.")}), 422
    try:
        online.begin_application(db_session(), citizen=_citizen(), consent=consent,
                                 sources=ministry_sources() if consent else None, today=local_date(now()),
                                 now=now())
    except DuplicateApplicant as err:
        return _open_case_page(err)
    return redirect(url_for("portal.apply_form"))


def _render_form(values: dict[str, Any] | None = None, errors: dict[str, list[str]] | None = None,
                 message: str | None = None, status: int = 200) -> Any:
    draft = online.application_for(db_session(), citizen=_citizen())
    if draft is None:
        return redirect(url_for("portal.apply"))
    form = online.registration_form(library())
    prefill = draft.prefill or {}
    return render_template("portal/apply/form.html", form=form, draft=draft,
                           values=values if values is not None else dict(draft.values or {}),
                           choices=_choices(), errors=errors or {}, message=message,
                           provenance=prefill.get("provenance") or {},
                           unavailable=prefill.get("unavailable") or []), status


@bp.route("/apply/form")
@citizen_required
def apply_form() -> Any:
    return _render_form()


@bp.route("/apply/form", methods=["POST"])
@citizen_required
def apply_form_save() -> Any:
    """Save the answers (``save``), or check them whole and go on to the documents (``continue``)."""
    form = online.registration_form(library())
    values = parse_post(form, request.form, request.files)
    values = {k: v for k, v in values.items() if not (isinstance(v, dict) and "content" in v)}
    session, citizen = db_session(), _citizen()
    try:
        if request.form.get("action") == "continue":
            online.check_answers(session, citizen=citizen, library=library(), values=values, now=now())
            return redirect(url_for("portal.apply_send"))
        online.save_answers(session, citizen=citizen, library=library(), values=values, now=now())
    except FormInvalid as err:
        return _render_form(values, translate_errors(err.errors), _("Please correct the highlighted fields."), 422)
    except DraftRefused:
        return _render_form(values, None, _("These answers cannot be saved. Please check them and try again."), 422)
    except NotFoundForActor:
        return redirect(url_for("portal.apply"))
    flash(_("Your answers are saved. You can come back and finish later."), "success")
    return redirect(url_for("portal.apply_form"))


def _render_send(errors: dict[str, list[str]] | None = None, message: str | None = None,
                 values: dict[str, Any] | None = None, status: int = 200) -> Any:
    draft = online.application_for(db_session(), citizen=_citizen())
    if draft is None:
        return redirect(url_for("portal.apply"))
    return render_template("portal/apply/send.html", form=online.submission_form(library()), draft=draft,
                           values=values or {}, choices={}, errors=errors or {}, message=message), status


@bp.route("/apply/send")
@citizen_required
def apply_send() -> Any:
    return _render_send()


@bp.route("/apply/send", methods=["POST"])
@citizen_required
def apply_submit() -> Any:
    form = online.submission_form(library())
    data = parse_post(form, request.form, request.files)
    try:
        case = online.submit_application(db_session(), citizen=_citizen(), library=library(), data=data,
                                         storage=document_storage(), now=now())
    except FormInvalid as err:
        own = {f.name for f in form.fields}
        if any(key.split(".", 1)[0] not in own for key in err.errors):  # the answers, not this page
            return _render_form(None, translate_errors(err.errors),
                                _("Some answers need correcting before you can send the application."), 422)
        shown = {k: v for k, v in data.items() if k != "documents"}
        return _render_send(translate_errors(err.errors), _("Please correct the highlighted fields."), shown, 422)
    flash(_("Your application was sent. Its reference is %(reference)s.", reference=case.reference), "success")
    return redirect(url_for("portal.application", reference=case.reference))


# --- the household's tasks ----------------------------------------------------------------------

@bp.app_template_global("my_tasks")
def my_tasks() -> list[Any]:
    """The signed-in citizen's tasks (the portal home lists them)."""
    citizen = current_citizen()
    if citizen is None:
        return []
    return online.tasks_for_citizen(db_session(), citizen=citizen)


def _render_task(task_id: str, errors: dict[str, list[str]] | None = None, message: str | None = None,
                 status: int = 200) -> Any:
    view = online.citizen_task(db_session(), citizen=_citizen(), library=library(), task_id=task_id)
    return render_template("portal/task.html", view=view, values={}, choices={}, errors=errors or {},
                           message=message), status


@bp.route("/tasks/<task_id>")
@citizen_required
def task(task_id: str) -> Any:
    return _render_task(task_id)


@bp.route("/tasks/<task_id>", methods=["POST"])
@citizen_required
def task_complete(task_id: str) -> Any:
    session, citizen = db_session(), _citizen()
    view = online.citizen_task(session, citizen=citizen, library=library(), task_id=task_id)
    data = parse_post(view.form, request.form, request.files)
    try:
        case = online.complete_citizen_task(session, citizen=citizen, library=library(), task_id=task_id, data=data,
                                            storage=document_storage(), now=now())
    except FormInvalid as err:
        return _render_task(task_id, translate_errors(err.errors), _("Please correct the highlighted fields."), 422)
    flash(_("Thank you. The directorate received your documents and will look at them."), "success")
    return redirect(url_for("portal.application", reference=case.reference))

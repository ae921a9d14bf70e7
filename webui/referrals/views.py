"""The partner's inbox and referral pages, and staff's page of a referral with its tasks."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from engine.errors import FormInvalid, StaleState, TaskAlreadyCompleted, TaskNotClaimable
from engine.forms import load_form
from registry.models import Case
from registry.referrals import services
from webui import current_language
from webui.db import db_session, library, now
from webui.errors import describe
from webui.formdata import parse_post
from webui.messages import translate_errors
from webui.rendering import choice_label

partner_bp = Blueprint("partner", __name__, url_prefix="/partner")
staff_bp = Blueprint("referrals", __name__, url_prefix="/referrals")

STATUS_WORDS = {
    "sent": _l("Waiting for the partner's answer"), "accepted": _l("Accepted, service in progress"),
    "declined": _l("Declined by the partner"), "delivered": _l("Service delivered"),
    "referred_on": _l("Sent on to another partner"), "closed": _l("Closed"),
    "overdue": _l("Overdue"), "escalated": _l("Overdue, escalated to the supervisor"),
}


def status_label(status: str) -> str:
    return str(STATUS_WORDS.get(status, status))


def service_label(code: str) -> str:
    """A service code in the words of the plan form's intervention areas (the analyst's file)."""
    try:
        plan = load_form(library().forms_dir, "assistance_plan")
    except (FileNotFoundError, ValueError):
        return code
    for group in plan.fields:
        for sub in group.fields:
            for choice in sub.choices if sub.name == "area" else ():
                if choice.value == code:
                    return choice.label.get(current_language()) or code
    return code


def outcome_label(code: str) -> str:
    """A delivery outcome in the words of the delivery form's choices, in the page's language."""
    return choice_label(services.DELIVERY_FORM, services.OUTCOME_FIELD, code, current_language())


def referral_choices(case: Case) -> services.ReferralChoices | None:
    """The case page's "Refer to a partner" form: its choices, for the case's case manager only."""
    return services.referral_choices(db_session(), actor=current_user, case=case)


def case_referrals(case: Case) -> list[services.StaffReferral]:
    """The case page's referrals panel: every referral of the case, for staff who may see them."""
    return services.case_referrals(db_session(), actor=current_user, case=case)


def _version(raw: str) -> int | None:
    """The version the form was shown at (none sent: no check; anything else unreadable: stale)."""
    if not raw:
        return None
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else -1


def _render_task(template: str, reference: str, task_id: str, *, values: dict[str, Any] | None = None,
                 errors: dict[str, list[str]] | None = None, message: str | None = None, status: int = 200,
                 **context: Any) -> Any:
    form = services.task_form(db_session(), actor=current_user, library=library(), reference=reference,
                              task_id=task_id)
    return render_template(template, view=form, values=values or {}, errors=errors or {}, message=message,
                           **context), status


def _complete(template: str, reference: str, task_id: str, done: str, **context: Any) -> Any:
    session = db_session()
    form = services.task_form(session, actor=current_user, library=library(), reference=reference, task_id=task_id)
    data = parse_post(form.form, request.form, request.files)
    try:
        services.complete_task(session, actor=current_user, library=library(), reference=reference,
                               task_id=task_id, data=data, now=now(), expected_version=_version(
                                   request.form.get("_version", "")))
    except FormInvalid as err:
        return _render_task(template, reference, task_id, values=data, errors=translate_errors(err.errors),
                            message=_("Please correct the highlighted fields."), status=422, **context)
    except (TaskAlreadyCompleted, StaleState, TaskNotClaimable) as err:
        status, message = describe(err)
        return _render_task(template, reference, task_id, values=data, message=message, status=status, **context)
    flash(_("Saved."), "success")
    return redirect(url_for(done, reference=reference))


# --- partner pages -----------------------------------------------------------------------------

@partner_bp.route("/")
@login_required
def inbox() -> Any:
    session = db_session()
    partner = services.partner_of(session, current_user)
    return render_template("referrals/partner_inbox.html", partner=partner,
                           referrals=services.partner_inbox(session, actor=current_user), now=now())


@partner_bp.route("/referrals/<reference>")
@login_required
def show(reference: str) -> Any:
    view = services.partner_referral(db_session(), actor=current_user, reference=reference)
    return render_template("referrals/partner_show.html", r=view, now=now())


@partner_bp.route("/referrals/<reference>/tasks/<task_id>", methods=["GET", "POST"])
@login_required
def task(reference: str, task_id: str) -> Any:
    shown = services.partner_referral(db_session(), actor=current_user, reference=reference)
    if request.method == "POST":
        return _complete("referrals/partner_task.html", reference, task_id, "partner.show", r=shown)
    return _render_task("referrals/partner_task.html", reference, task_id, r=shown)


# --- staff pages -------------------------------------------------------------------------------

@staff_bp.route("/<reference>", endpoint="show")
@login_required
def staff_show(reference: str) -> Any:
    view = services.staff_referral(db_session(), actor=current_user, reference=reference)
    return render_template("referrals/staff_show.html", v=view, now=now())


@staff_bp.route("/<reference>/tasks/<task_id>", methods=["GET", "POST"], endpoint="task")
@login_required
def staff_task(reference: str, task_id: str) -> Any:
    shown = services.staff_referral(db_session(), actor=current_user, reference=reference)
    if request.method == "POST":
        return _complete("referrals/staff_task.html", reference, task_id, "referrals.show", v=shown)
    return _render_task("referrals/staff_task.html", reference, task_id, v=shown)


def _refusals(errors: dict[str, list[str]]) -> list[str]:
    """Why "Refer to a partner" sent nothing, one sentence per field in the user's language."""
    said = []
    partner = errors.get("partner", [])
    if "not_offered" in partner:
        said.append(_("This partner does not deliver the chosen service: choose one that does."))
    elif partner:
        said.append(_("Choose a partner organisation from the list."))
    if errors.get("service"):
        said.append(_("Choose the service asked."))
    if errors.get("intervention") == ["too_long"] or errors.get("note"):
        said.append(_("The text is too long."))
    elif errors.get("intervention"):
        said.append(_("Describe the intervention."))
    return said


@staff_bp.route("/new/<int:case_id>", methods=["POST"])
@login_required
def refer(case_id: int) -> Any:
    """The case manager's "Refer to a partner" on the case page."""
    try:
        referral = services.refer_from_case(
            db_session(), actor=current_user, library=library(), case_id=case_id,
            partner_code=request.form.get("partner", ""), service=request.form.get("service", ""),
            intervention=request.form.get("intervention", ""), note=request.form.get("note"), now=now())
    except FormInvalid as err:
        for message in _refusals(err.errors):
            flash(message, "error")
        return redirect(url_for("cases.show", case_id=case_id, tab="plan", _anchor="refer-form"))
    flash(_("Referred to the partner."), "success")
    return redirect(url_for("referrals.show", reference=referral.reference))

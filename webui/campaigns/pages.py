"""Campaign pages (list, create, a campaign's counts) for supervisors and administrators; a visit's page for
the case manager who makes it (and the directorate's supervisor, to read); the supervisor's spot-checks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid, NotDeployed, StaleState, TaskAlreadyCompleted
from registry.campaigns import services
from registry.campaigns.models import CampaignScope
from registry.errors import NotPermitted
from webui.db import db_session, library, now
from webui.errors import describe
from webui.formdata import parse_post
from webui.messages import translate_errors

bp = Blueprint("campaigns", __name__)


def _date(raw: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(raw.strip()[:10]) if raw.strip() else None
    except ValueError:
        return None


def _int(raw: str | None, default: int = -1) -> int:
    raw = raw or ""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else default


@bp.route("/campaigns")
@login_required
def index() -> Any:
    if not services.may_manage_campaigns(current_user):
        abort(403)
    return render_template("campaigns/index.html", rows=services.campaign_list(db_session(), actor=current_user),
                           spot_checks=services.spot_checks(db_session(), actor=current_user))


@bp.route("/campaigns/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    if not services.may_manage_campaigns(current_user):
        abort(403)
    session = db_session()
    choices = services.directorate_choices(session, actor=current_user)
    values: dict[str, Any] = {"name": "", "starts_on": "", "ends_on": "",
                              "directorates": [d.code for d in choices] if len(choices) == 1 else [],
                              "include": [CampaignScope.BENEFICIARIES.value]}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        values = {"name": request.form.get("name", "")[:500], "starts_on": request.form.get("starts_on", "")[:20],
                  "ends_on": request.form.get("ends_on", "")[:20],
                  "directorates": [c[:16] for c in request.form.getlist("directorates")[:50]],
                  "include": [c[:20] for c in request.form.getlist("include")[:5]]}
        starts_on, ends_on = _date(values["starts_on"]), _date(values["ends_on"])
        try:
            campaign = services.create_campaign(
                session, actor=current_user, name=values["name"], directorate_codes=values["directorates"],
                starts_on=starts_on, ends_on=ends_on, include=values["include"], now=now())
        except FormInvalid as err:
            errors = translate_errors(err.errors)
            for name, raw in (("starts_on", values["starts_on"]), ("ends_on", values["ends_on"])):
                if raw.strip() and _date(raw) is None:
                    errors[name] = translate_errors({name: ["invalid_date"]})[name]
        else:
            flash(_("The campaign was created."), "success")
            return redirect(url_for("campaigns.show", campaign_id=campaign.id))
    return render_template("campaigns/new.html", values=values, errors=errors, choices=choices,
                           scopes=[s.value for s in CampaignScope]), 422 if errors else 200


@bp.route("/campaigns/<int:campaign_id>")
@login_required
def show(campaign_id: int) -> Any:
    view = services.campaign_view(db_session(), actor=current_user, campaign_id=campaign_id)
    return render_template("campaigns/show.html", view=view)


def _render_visit(visit_id: int, *, values: dict[str, Any] | None = None, outcome: str | None = None,
                  note: str = "", errors: dict[str, list[str]] | None = None, message: str | None = None,
                  conflict: services.VisitConflict | None = None, status: int = 200) -> Any:
    page = services.visit_page(db_session(), actor=current_user, library=library(), visit_id=visit_id)
    return render_template("campaigns/visit.html", page=page, values=values if values is not None else page.values,
                           outcome=outcome, note=note, errors=errors or {}, message=message,
                           conflict=conflict), status


@bp.route("/visits/<int:visit_id>")
@login_required
def visit(visit_id: int) -> Any:
    return _render_visit(visit_id)


@bp.route("/visits/<int:visit_id>", methods=["POST"])
@login_required
def complete(visit_id: int) -> Any:
    session = db_session()
    page = services.visit_page(session, actor=current_user, library=library(), visit_id=visit_id)
    outcome = request.form.get("outcome", "")[:20] or None
    note = request.form.get("visit_note", "")[:2000]
    data = parse_post(page.update_form, request.form, request.files) if outcome == "updated" else {}
    try:
        result = services.complete_visit(session, actor=current_user, library=library(), visit_id=visit_id,
                                         outcome=outcome, data=data, base_version=_int(request.form.get("_version")),
                                         now=now(), note=note)
    except FormInvalid as err:
        return _render_visit(visit_id, values={**page.values, **data}, outcome=outcome, note=note,
                             errors=translate_errors(err.errors),
                             message=_("Please correct the highlighted fields."), status=422)
    except services.VisitConflict as err:
        return _render_visit(visit_id, values={**page.values, **data}, outcome=outcome, note=note, conflict=err,
                             message=_("This visit changed since you opened it; nothing was saved."), status=409)
    except (NotPermitted, NotDeployed, StaleState, TaskAlreadyCompleted) as err:
        status, message = describe(err) if not isinstance(err, NotDeployed) else (
            503, _("The visit process is not deployed yet."))
        return _render_visit(visit_id, values={**page.values, **data}, outcome=outcome, note=note, message=message,
                             status=status)
    flash(_("The visit was recorded."), "success")
    if result.next_visit_id is not None:
        flash(_("Another attempt is planned for another day."), "info")
    return redirect(url_for("campaigns.visit", visit_id=visit_id))


def _render_spot_check(visit_id: int, *, values: dict[str, Any] | None = None,
                       errors: dict[str, list[str]] | None = None, message: str | None = None,
                       status: int = 200) -> Any:
    form = services.spot_check_form(db_session(), actor=current_user, library=library(), visit_id=visit_id)
    return render_template("campaigns/spot_check.html", view=form, values=values or {}, errors=errors or {},
                           message=message), status


@bp.route("/visits/<int:visit_id>/spot-check")
@login_required
def spot_check(visit_id: int) -> Any:
    return _render_spot_check(visit_id)


@bp.route("/visits/<int:visit_id>/spot-check", methods=["POST"])
@login_required
def record_spot_check(visit_id: int) -> Any:
    session = db_session()
    form = services.spot_check_form(session, actor=current_user, library=library(), visit_id=visit_id)
    data = parse_post(form.form, request.form, request.files)
    try:
        services.complete_spot_check(session, actor=current_user, library=library(), visit_id=visit_id, data=data,
                                     now=now(), expected_version=_int(request.form.get("_version")))
    except FormInvalid as err:
        return _render_spot_check(visit_id, values=data, errors=translate_errors(err.errors),
                                  message=_("Please correct the highlighted fields."), status=422)
    except (StaleState, TaskAlreadyCompleted) as err:
        status, message = describe(err)
        return _render_spot_check(visit_id, values=data, message=message, status=status)
    flash(_("The spot-check was recorded."), "success")
    return redirect(url_for("campaigns.index"))

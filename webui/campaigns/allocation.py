"""Allocation pages: a case manager's visits of the day; a supervisor's quotas and days off, allocating a
campaign, and moving an absent case manager's visits (preview, then confirm)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid
from registry.campaigns import allocation, capacity
from registry.operations import local_date
from webui import current_language
from webui.db import db_session, now
from webui.messages import field_error

bp = Blueprint("allocation", __name__)


def _date(raw: str | None) -> dt.date | None:
    """A yyyy-mm-dd date from a form, or None when absent or malformed."""
    raw = (raw or "").strip()
    if len(raw) != 10 or not raw.isascii():
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        return None


def _int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def _error_text(err: FormInvalid) -> str:
    special = {"day_off_exists": _("This day off is already recorded.")}
    return "; ".join(special.get(code) or field_error(code) for codes in err.errors.values() for code in codes)


@bp.route("/visits/today")
@login_required
def today() -> Any:
    day = local_date(now())
    visits = allocation.todays_visits(db_session(), actor=current_user, day=day)
    return render_template("campaigns/allocation/today.html", visits=visits, day=day)


@bp.route("/campaigns/staff")
@login_required
def staff() -> Any:
    team = capacity.team_capacity(db_session(), actor=current_user, today=local_date(now()))
    return render_template("campaigns/allocation/staff.html", team=team,
                           names={row.user.id: row.user.display_name(current_language()) for row in team})


@bp.route("/campaigns/staff/<int:user_id>/quota", methods=["POST"])
@login_required
def set_quota(user_id: int) -> Any:
    raw = request.form.get("visits_per_day", "").strip()
    value = _int(raw)
    if raw and value is None:
        flash(_("The quota was not saved: %(reason)s", reason=field_error("invalid_integer")), "error")
        return redirect(url_for("allocation.staff"))
    try:
        capacity.set_quota(db_session(), actor=current_user, user_id=user_id, visits_per_day=value, now=now())
    except FormInvalid as err:
        flash(_("The quota was not saved: %(reason)s", reason=_error_text(err)), "error")
    else:
        flash(_("The quota is saved."), "success")
    return redirect(url_for("allocation.staff"))


@bp.route("/campaigns/staff/<int:user_id>/days-off", methods=["POST"])
@login_required
def add_day_off(user_id: int) -> Any:
    day = _date(request.form.get("day"))
    if day is None:
        capacity.team_capacity(db_session(), actor=current_user, today=local_date(now()))  # 404/403 first
        flash(_("The day off was not saved: %(reason)s", reason=field_error("invalid_date")), "error")
        return redirect(url_for("allocation.staff"))
    try:
        capacity.add_day_off(db_session(), actor=current_user, user_id=user_id, day=day,
                             reason=request.form.get("reason", "")[:1000], now=now())
    except FormInvalid as err:
        flash(_("The day off was not saved: %(reason)s", reason=_error_text(err)), "error")
    else:
        flash(_("The day off is saved."), "success")
    return redirect(url_for("allocation.staff"))


@bp.route("/campaigns/staff/days-off/<int:day_off_id>/delete", methods=["POST"])
@login_required
def remove_day_off(day_off_id: int) -> Any:
    capacity.remove_day_off(db_session(), actor=current_user, day_off_id=day_off_id, now=now())
    flash(_("The day off is removed."), "success")
    return redirect(url_for("allocation.staff"))


@bp.route("/campaigns/<int:campaign_id>/allocate", methods=["POST"])
@login_required
def allocate(campaign_id: int) -> Any:
    code = current_user.directorate.code if current_user.directorate else ""
    report = allocation.allocate(db_session(), actor=current_user, campaign_id=campaign_id, directorate_code=code,
                                 now=now())
    team = {row.user.id: row.user.display_name(current_language()) for row in capacity.team_capacity(
        db_session(), actor=current_user, today=local_date(now()))}
    return render_template("campaigns/allocation/report.html", report=report, names=team)


@bp.route("/campaigns/reassign", methods=["GET", "POST"])
@login_required
def reassign() -> Any:
    session = db_session()
    source = request.form if request.method == "POST" else request.args
    team = capacity.team_capacity(session, actor=current_user, today=local_date(now()))
    names = {row.user.id: row.user.display_name(current_language()) for row in team}
    from_id, to_id = _int(source.get("from_user_id")), _int(source.get("to_user_id"))
    since = _date(source.get("since")) or local_date(now())
    if from_id is None:
        return render_template("campaigns/allocation/reassign.html", names=names, preview=None, since=since,
                               from_id=None, to_id=to_id)
    if request.method == "POST":
        try:
            done = allocation.reassign_visits(session, actor=current_user, from_user_id=from_id, to_user_id=to_id,
                                              since=since, now=now(), expected=request.form.get("fingerprint", ""))
        except allocation.ReassignmentChanged:
            flash(_("The visits changed since the preview: check the new preview before confirming."), "error")
        else:
            flash(_("Visits moved: %(moved)s; to plan again: %(unplanned)s.", moved=done.placed,
                    unplanned=done.unplaced), "success")
            return redirect(url_for("allocation.reassign"))
    preview = allocation.preview_reassignment(session, actor=current_user, from_user_id=from_id, to_user_id=to_id,
                                              since=since, now=now())
    return render_template("campaigns/allocation/reassign.html", names=names, preview=preview, since=since,
                           from_id=from_id, to_id=to_id)

"""The supervisor's team view and the lists behind its figures; supervision notes and sessions; moving a
case manager's cases and open tasks to others (preview, then confirm)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid
from registry.models import Role
from registry.operations import MINISTRY_TIMEZONE
from registry.supervision import reassignment, services, team
from registry.supervision.rules import SupervisionRules, load_supervision_rules
from webui import current_language
from webui.db import db_session, library, now
from webui.messages import field_error
from webui.rendering import vocabulary

bp = Blueprint("supervision", __name__, url_prefix="/team")

ERRORS = {
    "no_case_manager": lambda: _("This case has no case manager yet."),
    "no_other_case_manager": lambda: _("No other case manager works in this directorate."),
    "same_person": lambda: _("Choose someone other than the person whose cases move."),
    "none_to_move": lambda: _("There are no open cases to move."),
    "too_many": lambda: _("Too many cases at once: choose at most %(count)s.", count=reassignment.MAX_CASES),
}


def _rules() -> SupervisionRules:
    return load_supervision_rules(library().rules_dir)


def _int(raw: str | None) -> int | None:
    raw = (raw or "").strip()
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None


def _error_text(err: FormInvalid) -> str:
    return "; ".join(ERRORS[code]() if code in ERRORS else field_error(code)
                     for codes in err.errors.values() for code in codes)


def _local_datetime(raw: str | None) -> dt.datetime | None:
    """A ``yyyy-mm-ddThh:mm`` time in the ministry's time zone (a datetime-local field), in UTC."""
    raw = (raw or "").strip()
    if not raw.isascii() or len(raw) > 19:
        return None
    try:
        parsed = dt.datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed.replace(tzinfo=MINISTRY_TIMEZONE).astimezone(dt.UTC) if parsed.tzinfo is None else None


# --- the team view ---------------------------------------------------------------------------------------

@bp.route("")
@login_required
def index() -> Any:
    session = db_session()
    view = team.team_view(session, actor=current_user, now=now(), rules=_rules(),
                          stage_order=vocabulary().keys("stages"))
    return render_template("supervision/team.html", view=view,
                           sessions=services.team_sessions(session, actor=current_user, now=now()))


@bp.route("/list/<kind>")
@login_required
def figure_list(kind: str) -> Any:
    listed = team.team_list(db_session(), actor=current_user, kind=kind, now=now(), rules=_rules(),
                            member_id=_int(request.args.get("member")), stage=request.args.get("stage") or None,
                            page=request.args.get("page", 1, type=int))
    return render_template("supervision/list.html", listed=listed, now=now())


# --- supervision notes and sessions ------------------------------------------------------------------------

@bp.route("/me")
@login_required
def mine() -> Any:
    if current_user.role == Role.CASE_MANAGER.value:
        return redirect(url_for("supervision.member", member_id=current_user.id))
    return redirect(url_for("supervision.index"))


@bp.route("/members/<id:member_id>")
@login_required
def member(member_id: int) -> Any:
    found = services.member_supervision(db_session(), actor=current_user, member_id=member_id)
    return render_template("supervision/member.html", found=found, note_token=secrets.token_urlsafe(24),
                           note_max_chars=services.MAX_NOTE_CHARS, agenda_max_chars=services.MAX_AGENDA_CHARS,
                           may_write=current_user.role == Role.SUPERVISOR.value)


@bp.route("/members/<id:member_id>/notes", methods=["POST"])
@login_required
def add_member_note(member_id: int) -> Any:
    try:
        services.add_note(db_session(), actor=current_user, member_id=member_id, text=request.form.get("text", ""),
                          now=now(), form_token=request.form.get("form_token"))
        flash(_("The supervision note was added."), "success")
    except FormInvalid as err:
        flash(_("The note was not added: %(reason)s", reason=_error_text(err)), "error")
    return redirect(url_for("supervision.member", member_id=member_id))


@bp.route("/members/<id:member_id>/sessions", methods=["POST"])
@login_required
def schedule(member_id: int) -> Any:
    try:
        sitting = services.schedule_session(db_session(), actor=current_user, member_id=member_id,
                                            scheduled_at=_local_datetime(request.form.get("scheduled_at")),
                                            agenda=request.form.get("agenda", ""), now=now())
    except FormInvalid as err:
        flash(_("The session was not planned: %(reason)s", reason=_error_text(err)), "error")
        return redirect(url_for("supervision.member", member_id=member_id))
    flash(_("The supervision session is planned."), "success")
    return redirect(url_for("supervision.session_page", session_id=sitting.id))


@bp.route("/sessions/<id:session_id>")
@login_required
def session_page(session_id: int) -> Any:
    found = services.session_view(db_session(), actor=current_user, session_id=session_id)
    return render_template("supervision/session.html", found=found, note_token=secrets.token_urlsafe(24),
                           note_max_chars=services.MAX_NOTE_CHARS,
                           may_write=current_user.role == Role.SUPERVISOR.value)


@bp.route("/sessions/<id:session_id>/notes", methods=["POST"])
@login_required
def add_session_note(session_id: int) -> Any:
    try:
        services.add_note(db_session(), actor=current_user, session_id=session_id,
                          text=request.form.get("text", ""), now=now(), form_token=request.form.get("form_token"))
        flash(_("The supervision note was added."), "success")
    except FormInvalid as err:
        flash(_("The note was not added: %(reason)s", reason=_error_text(err)), "error")
    return redirect(url_for("supervision.session_page", session_id=session_id))


@bp.route("/cases/<id:case_id>/notes", methods=["POST"])
@login_required
def add_case_note(case_id: int) -> Any:
    try:
        services.add_note(db_session(), actor=current_user, case_id=case_id, text=request.form.get("text", ""),
                          now=now(), form_token=request.form.get("form_token"))
        flash(_("The supervision note was added."), "success")
    except FormInvalid as err:
        flash(_("The note was not added: %(reason)s", reason=_error_text(err)), "error")
    return redirect(url_for("cases.show", case_id=case_id) + "#supervision-notes")


# --- moving cases ---------------------------------------------------------------------------------------------

@bp.route("/reassign", methods=["GET", "POST"])
@login_required
def reassign() -> Any:
    session = db_session()
    directorate = team.supervised_directorate(current_user)
    members = team.team_members(session, directorate_id=directorate.id)
    names = {m.id: m.display_name(current_language()) for m in members}
    source = request.form if request.method == "POST" else request.args
    from_id, to_id = _int(source.get("from_user_id")), _int(source.get("to_user_id"))
    chosen = [c for c in (_int(raw) for raw in source.getlist("case_id")) if c is not None]
    case_ids = chosen if source.get("subset") == "1" else None
    context: dict[str, Any] = {"members": members, "names": names, "from_id": from_id, "to_id": to_id,
                               "case_ids": case_ids, "plan": None, "reason": source.get("reason", "")}
    if from_id is None:
        return render_template("supervision/reassign.html", **context)
    if request.method == "POST":
        try:
            done = reassignment.reassign_cases(session, actor=current_user, from_user_id=from_id, to_user_id=to_id,
                                               case_ids=case_ids, expected=request.form.get("fingerprint", ""),
                                               reason=request.form.get("reason", ""), now=now())
        except reassignment.ReassignmentChanged:
            flash(_("The cases or their tasks changed since the preview: check the new preview before "
                    "confirming."), "error")
        except FormInvalid as err:
            flash(_("Nothing was moved: %(reason)s", reason=_error_text(err)), "error")
        else:
            flash(_("Cases moved: %(cases)s, with %(tasks)s open tasks.", cases=len(done.moves),
                    tasks=done.task_count), "success")
            return redirect(url_for("supervision.index"))
    try:
        context["plan"] = reassignment.preview_reassignment(session, actor=current_user, from_user_id=from_id,
                                                            to_user_id=to_id, case_ids=case_ids)
    except FormInvalid as err:
        context["problem"] = _error_text(err)
    return render_template("supervision/reassign.html", **context)

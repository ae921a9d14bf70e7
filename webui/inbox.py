"""The task inbox: search, filters, sort and counts; saved filters; a supervisor's team view and bulk reassignment."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from marshmallow import ValidationError

from engine.errors import FormInvalid
from registry import inbox as inbox_service
from registry.campaigns.allocation import todays_visits
from registry.complaints import services as complaint_services
from registry.operations import local_date
from registry.referrals import services as referral_services
from webui import current_language, schemas
from webui.db import db_session, now
from webui.messages import field_error

bp = Blueprint("inbox", __name__)

#: Query-string names that say where a list is, not what it holds: a saved filter leaves them out.
PAGE_ARGS = ("mine_page", "open_page", "team_page", "page")


def inbox_query(args: dict[str, Any]) -> inbox_service.InboxQuery:
    """The registry's inbox query from arguments a schema of webui.schemas loaded."""
    return inbox_service.InboxQuery(
        view=args.get("view", "work"), text=args.get("q", ""), task=args.get("task"), stage=args.get("stage"),
        locality=args.get("locality"), due_from=args.get("due_from"), due_to=args.get("due_to"),
        overdue=bool(args.get("overdue")), household=args.get("household") or None, sort=args.get("sort", "due"),
        mine_page=args.get("mine_page", 1), open_page=args.get("open_page", 1), team_page=args.get("team_page", 1),
        **({"per_page": args["per_page"]} if args.get("per_page") else {}))


def _read_args() -> tuple[dict[str, Any], dict[str, str]]:
    """The page's arguments; a bad one is left out and named, so the inbox still opens."""
    raw = request.args.to_dict()
    try:
        return schemas.InboxPageQuery().load(raw), {}
    except ValidationError as err:
        messages = err.normalized_messages()
        errors = {name: field_error(codes[0] if isinstance(codes, list) and codes else "invalid")
                  for name, codes in messages.items()}
        kept = {key: value for key, value in raw.items() if key not in messages}
        return schemas.InboxPageQuery().load(kept), errors


def _filter_string() -> str:
    """The current query string without page numbers: what a saved filter keeps."""
    return urlencode([(k, v) for k, v in request.args.items(multi=True) if k not in PAGE_ARGS and v != ""])


@bp.route("/")
@login_required
def index() -> Any:
    args, errors = _read_args()
    session = db_session()
    result = inbox_service.search_inbox(session, actor=current_user, query=inbox_query(args), now=now())
    staff = inbox_service.assignable_staff(session, actor=current_user) if result.query.view == "team" else []
    return render_template(
        "inbox/index.html", result=result, query=result.query, errors=errors, now=now(),
        saved=inbox_service.saved_filters(session, actor=current_user), filter_string=_filter_string(),
        may_see_team=inbox_service.may_see_team(current_user), staff=staff,
        staff_names={person.id: person.display_name(current_language()) for person in staff},
        complaint_tasks=complaint_services.inbox_tasks(session, actor=current_user),
        referral_tasks=referral_services.inbox_tasks(session, actor=current_user),
        visits_today=todays_visits(session, actor=current_user, day=local_date(now())))


@bp.route("/inbox/filters", methods=["POST"])
@login_required
def save_filter() -> Any:
    query = request.form.get("query", "")
    try:
        inbox_service.save_filter(db_session(), actor=current_user, name=request.form.get("name", ""),
                                  query=query, now=now())
        flash(_("The filter is saved."), "success")
    except FormInvalid as err:
        codes = err.errors.get("name") or err.errors.get("query") or ["invalid"]
        flash(_("The filter was not saved: %(reason)s", reason=field_error(codes[0])), "error")
    return redirect(url_for("inbox.index") + ("?" + query if query else ""))


@bp.route("/inbox/filters/<int:filter_id>/delete", methods=["POST"])
@login_required
def delete_filter(filter_id: int) -> Any:
    inbox_service.delete_filter(db_session(), actor=current_user, filter_id=filter_id)
    flash(_("The filter is deleted."), "success")
    return redirect(url_for("inbox.index"))


@bp.route("/inbox/reassign", methods=["POST"])
@login_required
def reassign() -> Any:
    back = request.form.get("back", "view=team")
    target = url_for("inbox.index") + "?" + back
    task_ids = request.form.getlist("task_id")
    assignee = request.form.get("assignee_id", type=int)
    if not task_ids or assignee is None:
        flash(_("Choose the tasks and the person to give them to."), "error")
        return redirect(target)
    try:
        done = inbox_service.reassign_tasks(db_session(), actor=current_user, task_ids=task_ids,
                                            assignee_id=assignee, now=now())
    except inbox_service.TasksNotReassignable as err:
        reasons = {"not_found": _("not in your directorate"), "completed": _("completed meanwhile"),
                   "wrong_role": _("of another role than the chosen person's")}
        problems = [f"{reasons[why]} ({len([1 for w in err.tasks.values() if w == why])})"
                    for why in reasons if why in err.tasks.values()]
        if err.assignee:
            problems.insert(0, _("the chosen person cannot take tasks of this directorate"))
        flash(_("Nothing was reassigned: %(problems)s.", problems="; ".join(problems) or _("no task chosen")),
              "error")
        return redirect(target)
    flash(_("Tasks reassigned: %(count)s.", count=len(done)), "success")
    return redirect(target)

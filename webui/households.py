"""Registry pages: search by national ID or name, the waiting list with CSV and XLSX export."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import households
from registry.operations import local_date
from webui.db import db_session, deployed_library, now
from webui.exports import table_response
from webui.rendering import label, person_name, pick

bp = Blueprint("households", __name__, url_prefix="/registry")


@bp.route("/search")
@login_required
def search() -> Any:
    query = request.args.get("q", "").strip()
    result = households.search(db_session(), actor=current_user, query=query) if query else None
    return render_template("households/search.html", query=query, result=result)


@bp.route("/waiting-list")
@login_required
def waiting_list() -> Any:
    page = households.waiting_list(db_session(), actor=current_user, rules_dir=str(deployed_library().rules_dir),
                                   today=local_date(now()), page=request.args.get("page", 1, type=int))
    return render_template("households/waiting_list.html", entries=page.items, page=page)


def _header(lang: str, priority: list[dict[str, Any]]) -> list[str]:
    return [_("Rank"), _("Case"), _("Head of household"), _("National ID"), _("Members"), _("Category"),
            _("Score")] + [pick(k["label"], lang) for k in priority]


def _row(entry: households.WaitingEntry, lang: str) -> list[Any]:
    head = entry.household.head
    row = [entry.rank, entry.case.reference if entry.case else "", person_name(head, lang) if head else "",
           head.national_id if head else "", len(entry.household.members),
           label("category", entry.score.category, lang), round(entry.score.score, 4)]
    return row + [_cell(k["value"]) for k in entry.priority]


def _cell(value: Any) -> Any:
    """A yes/no key as a word in the reader's language (a spreadsheet shows Python's True/False otherwise)."""
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    return value


def _entries() -> Iterator[households.WaitingEntry]:
    return households.iter_waiting_list(db_session(), actor=current_user, rules_dir=str(deployed_library().rules_dir),
                                        today=local_date(now()))


def _priority_labels() -> list[dict[str, Any]]:
    from registry import eligibility

    priority = eligibility.load_priority(deployed_library().rules_dir)
    return [{"label": k.label} for k in priority.keys]


@bp.route("/waiting-list.<fmt>")
@login_required
def waiting_list_export(fmt: str) -> Any:
    from webui import current_language

    lang = current_language()
    header = _header(lang, _priority_labels())
    rows = (_row(e, lang) for e in _entries())
    if fmt not in ("csv", "xlsx"):
        return Response(status=404)
    return table_response(fmt=fmt, filename=f"waiting-list-{now().strftime('%Y%m%d')}", title=_("Waiting list"),
                          header=header, rows=rows, rtl=lang == "ar")

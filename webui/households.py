"""Registry pages: search by national ID or name, the waiting list with CSV and XLSX export."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import households
from registry.operations import local_date
from webui.db import db_session, now
from webui.rendering import CATEGORIES, pick, term

bp = Blueprint("households", __name__, url_prefix="/registry")


@bp.route("/search")
@login_required
def search() -> Any:
    query = request.args.get("q", "").strip()
    result = households.search(db_session(), actor=current_user, query=query) if query else None
    return render_template("households/search.html", query=query, result=result)


def _entries() -> list[households.WaitingEntry]:
    return households.waiting_list(db_session(), actor=current_user, rules_dir=current_app.config["RULES_DIR"],
                                   today=local_date(now()))


@bp.route("/waiting-list")
@login_required
def waiting_list() -> Any:
    return render_template("households/waiting_list.html", entries=_entries())


def _inert(value: Any) -> Any:
    """A cell a spreadsheet shows as text: names typed by the public must never run as formulas."""
    if isinstance(value, list | dict):
        value = str(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _table(entries: list[households.WaitingEntry], lang: str) -> tuple[list[str], list[list[Any]]]:
    keys = entries[0].priority if entries else []
    header = [_("Rank"), _("Case"), _("Head of household"), _("National ID"), _("Members"), _("Category"),
              _("Score")] + [pick(k["label"], lang) for k in keys]
    rows = []
    for e in entries:
        head = e.household.head
        rows.append([e.rank, e.case.reference if e.case else "", head.name_ar if head else "",
                     head.national_id if head else "", len(e.household.members),
                     term(CATEGORIES, e.score.category, lang), round(e.score.score, 4)]
                    + [k["value"] for k in e.priority])
    return header, [[_inert(v) for v in row] for row in rows]


@bp.route("/waiting-list.<fmt>")
@login_required
def waiting_list_export(fmt: str) -> Any:
    from webui import current_language

    header, rows = _table(_entries(), current_language())
    stamp = now().strftime("%Y%m%d")
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(header)
        writer.writerows(rows)
        return Response("\ufeff" + buffer.getvalue(), mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="waiting-list-{stamp}.csv"'})
    if fmt == "xlsx":
        from openpyxl import Workbook

        book = Workbook()
        sheet = book.active
        sheet.title = _("Waiting list")[:31]
        sheet.sheet_view.rightToLeft = current_language() == "ar"
        sheet.append(header)
        for row in rows:
            sheet.append(row)
        out = io.BytesIO()
        book.save(out)
        return Response(out.getvalue(),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="waiting-list-{stamp}.xlsx"'})
    return Response(status=404)

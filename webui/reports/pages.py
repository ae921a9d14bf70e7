"""The dashboards at /reports: the ministry's (every directorate side by side) and a directorate's, with
charts, CSV and XLSX of each table, and the monthly report as a PDF."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry.reports import period as periods
from registry.reports.period import Period, PeriodInvalid
from registry.reports.services import Dashboard, dashboard, goals_choices
from webui import charts, current_language
from webui.db import db_session, deployed_library, now
from webui.exports import table_response
from webui.rendering import vocabulary
from webui.reports.tables import ReportTable, report_tables

bp = Blueprint("reports", __name__, url_prefix="/reports")

#: The query-string names a report reads, carried to its export and PDF links.
FILTER_ARGS = ("period", "month", "quarter", "from", "to", "directorate")


def _day(name: str) -> dt.date:
    text = request.args.get(name, "").strip()[:20]
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise PeriodInvalid("dates") from None


def _period() -> tuple[Period, list[str]]:
    """The period asked for (this month when none); one that cannot be read is named, and this month shown."""
    kind = request.args.get("period", "month").strip()[:10] or "month"
    try:
        if kind == "quarter":
            return periods.parse_quarter(request.args.get("quarter", "").strip()[:10]), []
        if kind == "custom":
            return periods.custom(_day("from"), _day("to")), []
        text = request.args.get("month", "").strip()[:10]
        return (periods.parse_month(text) if text else periods.this_month(now())), []
    except PeriodInvalid as err:
        messages = {"month": _("Choose a month (yyyy-mm)."), "quarter": _("Choose a quarter (yyyy-Qn)."),
                    "dates": _("Give the first and last day as dates (yyyy-mm-dd)."),
                    "order": _("The first day comes after the last day."),
                    "length": _("Choose a period of at most ten years.")}
        return periods.this_month(now()), [messages.get(err.reason, _("Choose a period."))]


def _directorate() -> str | None:
    return request.args.get("directorate", "").strip()[:16] or None


def _board(period: Period) -> Dashboard:
    return dashboard(db_session(), actor=current_user, period=period, directorate_code=_directorate(), now=now(),
                     stage_order=vocabulary().keys("stages"),
                     outcome_choices=[value for value, _words in goals_choices(deployed_library().forms_dir)])


def _bars(table: ReportTable) -> list[tuple[str, list[charts.Segment], str]]:
    """One horizontal bar per row: the row's whole (every directorate's, or the median of all for days); the
    ministry's comparison stacks each directorate's walk-ins and online registrations."""
    if table.key == "directorates":
        parts = [[("d0", int(values[0] or 0)), ("d1", int(values[1] or 0))] for _name, values in table.rows]
        shown = [_number(int(values[0] or 0) + int(values[1] or 0)) for _name, values in table.rows]
    else:
        scale = 1 if table.unit == "count" else 10  # days to a tenth
        parts = [[("d0", round((values[-1] or 0) * scale))] for _name, values in table.rows]
        shown = [_number(values[-1]) for _name, values in table.rows]
    longest = max((sum(v for _k, v in p) for p in parts), default=0)
    return [(name, charts.horizontal(p, longest), text)
            for (name, _values), p, text in zip(table.rows, parts, shown, strict=True)]


def _number(value: Any) -> str:
    if value is None:
        return "—"
    return f"{value:g}" if isinstance(value, float) else str(value)


@bp.route("/")
@login_required
def index() -> Any:
    period, errors = _period()
    board = _board(period)
    lang = current_language()
    tables = report_tables(board, lang)
    several = len(board.chosen) > 1
    return render_template(
        "reports/index.html", board=board, tables=tables, bars={t.key: _bars(t) for t in tables},
        several=several, errors=errors, number=_number,
        legend=[("d0", _("Walk-in")), ("d1", _("Online"))],
        export_args={k: v for k, v in request.args.items() if k in FILTER_ARGS and v}), 422 if errors else 200


@bp.route("/<table>.<fmt>")
@login_required
def export(table: str, fmt: str) -> Any:
    if fmt not in ("csv", "xlsx"):
        abort(404)
    period, errors = _period()
    if errors:
        return Response(" ".join(errors), status=422, mimetype="text/plain; charset=utf-8")
    board = _board(period)
    lang = current_language()
    found = next((t for t in report_tables(board, lang) if t.key == table), None)
    if found is None:
        abort(404)
    scope = board.chosen[0].code if len(board.chosen) == 1 else "ministry"
    return table_response(fmt=fmt, filename=f"report-{table}-{scope}-{period.first.isoformat()}-"
                                            f"{period.last.isoformat()}", title=found.title, header=found.header,
                          rows=([name, *values] for name, values in found.rows), rtl=lang == "ar")


@bp.route("/monthly.pdf")
@login_required
def monthly_pdf() -> Any:
    from webui.letters import FontsMissing
    from webui.reports.pdf import monthly_report_pdf

    text = request.args.get("month", "").strip()[:10]
    try:
        period = periods.parse_month(text) if text else periods.this_month(now())
    except PeriodInvalid:
        return Response(_("Choose a month (yyyy-mm)."), status=422, mimetype="text/plain; charset=utf-8")
    board = _board(period)
    asked = request.args.get("lang", "")
    lang = asked if asked in ("ar", "en") else current_language()
    try:
        with _language(lang):
            content = monthly_report_pdf(board, report_tables(board, lang), lang=lang)
    except FontsMissing as err:
        return Response(_("The report cannot be made: fonts missing (%(fonts)s).", fonts=", ".join(err.missing)),
                        status=503, mimetype="text/plain; charset=utf-8")
    scope = board.chosen[0].code if len(board.chosen) == 1 else "ministry"
    return Response(content, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="monthly-report-{scope}-{period.month_key}-{lang}.pdf"'})


def _language(lang: str) -> Any:
    from flask_babel import force_locale

    return force_locale(lang)

"""A campaign's progress: totals, per directorate, per case manager and per day, charts, CSV and XLSX."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, abort, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required

from registry.campaigns import progress as service
from registry.campaigns.progress import CampaignProgress, DayRow, GroupRow, ProgressFilter
from webui import charts, current_language
from webui.db import db_session, library, now
from webui.exports import table_response

bp = Blueprint("campaign_progress", __name__, url_prefix="/campaigns")

#: The parts of a visit count, in the order bars stack them and legends list them.
OUTCOME_PARTS = (("updated", _l("Updated")), ("not_found", _l("Not found")), ("refused", _l("Refused")))
MAX_ID = 10**9


@dataclass(frozen=True)
class Column:
    title: Any
    value: Callable[[Any, str], Any]


def _figure(name: str) -> Callable[[Any, str], Any]:
    return lambda row, lang: getattr(row.figures, name)


_FIGURES = [
    Column(_l("Households"), _figure("households")), Column(_l("Visits"), _figure("attempts")),
    Column(_l("Visited"), _figure("visited")),
    Column(_l("Updated"), _figure("updated")), Column(_l("Not found"), _figure("not_found")),
    Column(_l("Refused"), _figure("refused")), Column(_l("Remaining"), _figure("remaining")),
    Column(_l("Category changes"), _figure("changed")), Column(_l("Poorer"), _figure("poorer")),
    Column(_l("Less poor"), _figure("less_poor")),
]
#: Each table of the page and of its exports: the same columns in both.
TABLES: dict[str, list[Column]] = {
    "directorates": [Column(_l("Directorate"), lambda row, lang: row.name(lang)), *_FIGURES,
                     Column(_l("Spot-checks waiting"), lambda row, lang: row.spot_checks_waiting),
                     Column(_l("Spot-checks done"), lambda row, lang: row.spot_checks_done)],
    "workers": [Column(_l("Case manager"), lambda row, lang: row.name(lang) or _("Not allocated")), *_FIGURES],
    "days": [Column(_l("Day"), lambda row, lang: row.day.isoformat()), *_FIGURES[2:6], *_FIGURES[7:],
             Column(_l("Planned"), lambda row, lang: row.planned),
             Column(_l("Visited so far"), lambda row, lang: row.cumulative_visited),
             Column(_l("Planned so far"), lambda row, lang: row.cumulative_planned)],
}
TABLE_TITLES = {"directorates": _l("By directorate"), "workers": _l("By case manager"), "days": _l("By day")}


def _rows(report: CampaignProgress, table: str) -> list[GroupRow] | list[DayRow]:
    if table == "directorates":
        return report.by_directorate
    if table == "workers":
        return report.by_worker
    return report.by_day


def _date(name: str, errors: list[str]) -> dt.date | None:
    text = request.args.get(name, "").strip()[:20]
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        errors.append(_("%(value)s is not a date (yyyy-mm-dd).", value=text))
        return None


def _filters() -> tuple[ProgressFilter, list[str]]:
    """The page's filters from the query string; a value that cannot be read is named and left out."""
    errors: list[str] = []
    worker = request.args.get("worker", "").strip()[:12]
    worker_id = int(worker) if worker.isascii() and worker.isdigit() and int(worker) < MAX_ID else None
    if worker and worker_id is None:
        errors.append(_("Choose a case manager from the list."))
    date_from, date_to = _date("from", errors), _date("to", errors)
    if date_from and date_to and date_from > date_to:
        errors.append(_("The first day comes after the last day."))
        date_from = date_to = None
    code = request.args.get("directorate", "").strip()[:16] or None
    return ProgressFilter(directorate_code=code, worker_id=worker_id, date_from=date_from, date_to=date_to), errors


def _report(campaign_id: int, filters: ProgressFilter) -> CampaignProgress:
    return service.campaign_progress(db_session(), actor=current_user, campaign_id=campaign_id, filters=filters,
                                     now=now(), rules_dir=library().rules_dir)


@bp.route("/<int:campaign_id>/progress")
@login_required
def show(campaign_id: int) -> Any:
    filters, errors = _filters()
    report = _report(campaign_id, filters)
    return render_template("campaigns/progress/index.html", report=report, errors=errors, tables=TABLES,
                           table_titles=TABLE_TITLES, outcome_parts=list(OUTCOME_PARTS), **_chart_data(report),
                           export_args={k: v for k, v in request.args.items()
                                        if k in ("directorate", "worker", "from", "to") and v}), \
        422 if errors else 200


def _chart_data(report: CampaignProgress) -> dict[str, Any]:
    """The plots of the page: visits per day (stacked outcomes, the plan as a line), visits so far against
    the plan, and the directorates' bars (outcomes and what remains, scaled to the largest)."""
    days = report.by_day
    daily = charts.stacked_columns(
        [[(kind, getattr(d.figures, kind)) for kind, _ in OUTCOME_PARTS] for d in days],
        marks=[d.planned for d in days])
    cumulative = charts.lines([("plan", [d.cumulative_planned for d in days]),
                               ("actual", [d.cumulative_visited for d in days])])
    longest = max((r.figures.visited + r.figures.remaining for r in report.by_directorate), default=0)
    bars = [(row, charts.horizontal([*((kind, getattr(row.figures, kind)) for kind, _ in OUTCOME_PARTS),
                                     ("remaining", row.figures.remaining)], longest))
            for row in report.by_directorate]
    ticks = [days[0].day, days[len(days) // 2].day, days[-1].day] if len(days) > 2 else [d.day for d in days]
    return {"daily_plot": daily, "cumulative_plot": cumulative, "directorate_bars": bars, "day_ticks": ticks}


@bp.route("/<int:campaign_id>/progress/<table>.<fmt>")
@login_required
def export(campaign_id: int, table: str, fmt: str) -> Any:
    if table not in TABLES or fmt not in ("csv", "xlsx"):
        abort(404)
    filters, errors = _filters()
    if errors:
        return Response(" ".join(errors), status=422, mimetype="text/plain; charset=utf-8")
    report = _report(campaign_id, filters)
    lang = current_language()
    columns = TABLES[table]
    header = [str(c.title) for c in columns]
    rows = ([c.value(row, lang) for c in columns] for row in _rows(report, table))
    return table_response(fmt=fmt, filename=f"campaign-{campaign_id}-{table}-{now().strftime('%Y%m%d')}",
                          title=str(TABLE_TITLES[table]), header=header, rows=rows, rtl=lang == "ar")

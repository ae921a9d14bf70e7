"""A dashboard's figures as tables of words and numbers: the one shape the page, its charts, the CSV and XLSX
exports and the monthly PDF all read, so each shows the same rows and columns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from registry.reports.figures import Figure, Number
from registry.reports.services import Dashboard, goals_choices
from webui.db import deployed_library
from webui.rendering import label

TITLES: dict[str, Any] = {
    "directorates": _l("Directorates side by side"),
    "registrations": _l("Registrations"),
    "decisions": _l("Approvals and rejections"),
    "stages": _l("Open cases by stage"),
    "time_in_stage": _l("Median time in each stage (days)"),
    "overdue": _l("Overdue tasks"),
    "poverty": _l("Multidimensional poverty: households by category"),
    "plan_outcomes": _l("Plan outcomes at closure"),
    "referrals": _l("Referrals by partner and status"),
}
#: What each figure counts, shown under its title (the same words as registry/reports/figures.py).
NOTES: dict[str, Any] = {
    "directorates": _l("Registrations and decisions in the period; open cases and overdue tasks today."),
    "registrations": _l("Cases opened in the period, by how the household came: at reception or online."),
    "decisions": _l("Eligibility reviews approved in the period, and requests rejected in the period."),
    "stages": _l("Cases open today, by the stage they are at (whatever the period)."),
    "time_in_stage": _l("Per case, from the stage's first task becoming ready to its last task being done, "
                        "less the time waiting on the household; stages finished in the period."),
    "overdue": _l("Tasks past their due date today (whatever the period); a task waiting on the household is "
                  "paused, never overdue."),
    "poverty": _l("Each household's latest score made before the end of the period."),
    "plan_outcomes": _l("Outcome evaluations in the period that closed the case, by how far the goals were met."),
    "referrals": _l("Referrals made in the period, by partner and where they stand."),
}


@dataclass(frozen=True)
class ReportTable:
    """A figure as a table: one row per item, one column per directorate (and the whole when several)."""

    key: str
    title: str
    note: str
    unit: str
    first_header: str
    columns: list[str]
    rows: list[tuple[str, list[Number | None]]]
    figure: Figure

    @property
    def header(self) -> list[str]:
        return [self.first_header, *self.columns]


def _row_namer(key: str, figure: Figure, lang: str) -> Callable[[str], str]:
    if key == "registrations":
        words = {"reception": _("Walk-in"), "online": _("Online")}
        return lambda row: words.get(row, row)
    if key == "decisions":
        words = {"approved": _("Approved"), "rejected": _("Rejected")}
        return lambda row: words.get(row, row)
    if key in ("stages", "time_in_stage", "overdue"):
        return lambda row: label("stage", row, lang) if row else _("No stage")
    if key == "poverty":
        return lambda row: label("category", row, lang)
    if key == "plan_outcomes":
        choices = dict(goals_choices(deployed_library().forms_dir))
        return lambda row: (choices.get(row) or {}).get(lang) or (choices.get(row) or {}).get("en") or row \
            or _("Not recorded")
    if key == "referrals":
        statuses = {"sent": _("Sent"), "accepted": _("Accepted"), "declined": _("Declined"),
                    "delivered": _("Delivered"), "referred_on": _("Referred on"), "closed": _("Closed")}

        def partner(row: str) -> str:
            names = figure.row_names.get(row) or {}
            status = names.get("status", "")
            return f"{names.get(lang) or names.get('en') or row} · {statuses.get(status, status)}"
        return partner
    return lambda row: row


_FIRST_HEADER: dict[str, Any] = {
    "registrations": _l("Channel"), "decisions": _l("Decision"), "stages": _l("Stage"),
    "time_in_stage": _l("Stage"), "overdue": _l("Stage"), "poverty": _l("Category"),
    "plan_outcomes": _l("Goals achieved"), "referrals": _l("Partner · status"),
}


def _side_by_side(board: Dashboard, lang: str) -> ReportTable:
    """The ministry's comparison: one row per directorate, its main counts as columns."""
    parts = [(_("Walk-in"), "registrations", ["reception"]), (_("Online"), "registrations", ["online"]),
             (_("Approved"), "decisions", ["approved"]), (_("Rejected"), "decisions", ["rejected"]),
             (_("Open cases"), "stages", None), (_("Overdue tasks"), "overdue", None)]
    rows: list[tuple[str, list[Number | None]]] = []
    for directorate in board.chosen:
        values: list[Number | None] = []
        for _title, key, only in parts:
            figure = board.figures[key]
            values.append(sum(int(figure.value(row, directorate.id) or 0) for row in (only or figure.rows)))
        rows.append((directorate.name(lang), values))
    empty = Figure(key="directorates", unit="count", rows=[], values={}, totals={})
    return ReportTable(key="directorates", title=str(TITLES["directorates"]), note=str(NOTES["directorates"]),
                       unit="count", first_header=_("Directorate"), columns=[str(p[0]) for p in parts], rows=rows,
                       figure=empty)


def report_tables(board: Dashboard, lang: str) -> list[ReportTable]:
    """Every figure of the dashboard as a table, in the dashboard's order (the ministry's comparison first)."""
    several = len(board.chosen) > 1
    columns = [d.name(lang) for d in board.chosen]
    if several:
        columns.append(_("All directorates"))
    out = [_side_by_side(board, lang)] if several else []
    for key, figure in board.figures.items():
        name = _row_namer(key, figure, lang)
        rows: list[tuple[str, list[Number | None]]] = []
        for row in figure.rows:
            values: list[Number | None] = [figure.value(row, d.id) for d in board.chosen]
            if several:
                values.append(figure.totals.get(row, 0 if figure.unit == "count" else None))
            rows.append((name(row), values))
        out.append(ReportTable(key=key, title=str(TITLES.get(key, key)), note=str(NOTES.get(key, "")),
                               unit=figure.unit, first_header=str(_FIRST_HEADER.get(key, "")), columns=columns,
                               rows=rows, figure=figure))
    return out

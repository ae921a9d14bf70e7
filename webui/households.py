"""Registry pages: search by national ID or name, the waiting list with CSV and XLSX export."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask_babel import gettext as _
from flask_login import current_user, login_required

from registry import households
from registry.operations import local_date
from webui.db import db_session, deployed_library, now
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


# A spreadsheet may start a new cell after any of these, and read a cell starting with a formula
# starter as a formula: "x;=1+1" is two cells, the second a formula, when the file is split on ";".
_FORMULA_STARTERS = "=+-@\t\r"
_CELL_BREAKS = ",;\t|\n\r"
_RISKY = re.compile(f"(^|[{re.escape(_CELL_BREAKS)}])( *)([{re.escape(_FORMULA_STARTERS)}])")


def _inert(value: Any) -> Any:
    """A value a spreadsheet shows as text: names typed by the public must never run as formulas.

    A formula starter at the start of the value, or right after a character a spreadsheet may split
    cells on (spaces between them too, as an import may trim them), gets an apostrophe in front of it.
    """
    if isinstance(value, list | dict):
        value = str(value)
    if isinstance(value, str):
        return _RISKY.sub(lambda m: f"{m.group(1)}{m.group(2)}'{m.group(3)}", value)
    return value


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


def _csv_lines(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The file a line at a time: the rows are read from the database a batch at a time."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    yield "\ufeff" + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow(row)
        yield buffer.getvalue()


def _xlsx(header: list[str], rows: Iterable[list[Any]], rtl: bool) -> Iterator[bytes]:
    """A workbook written row by row (openpyxl's write-only mode), every text cell a string, never a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_("Waiting list")[:31])
    sheet.sheet_view.rightToLeft = rtl

    def cells(values: list[Any]) -> list[Any]:
        out = []
        for value in values:
            if isinstance(value, list | dict):
                value = str(value)
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # openpyxl reads a string starting with "=" as a formula
                cell.quotePrefix = value[:1] in _FORMULA_STARTERS
                out.append(cell)
            else:
                out.append(value)
        return out

    sheet.append(cells(header))
    for row in rows:
        sheet.append(cells(row))
    with tempfile.TemporaryFile() as handle:
        book.save(handle)
        handle.seek(0)
        while chunk := handle.read(64 * 1024):
            yield chunk


@bp.route("/waiting-list.<fmt>")
@login_required
def waiting_list_export(fmt: str) -> Any:
    from webui import current_language

    lang = current_language()
    header = _header(lang, _priority_labels())
    rows = (_row(e, lang) for e in _entries())
    stamp = now().strftime("%Y%m%d")
    if fmt == "csv":
        inert = ([_inert(v) for v in row] for row in rows)
        return Response(stream_with_context(_csv_lines([_inert(v) for v in header], inert)),
                        mimetype="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="waiting-list-{stamp}.csv"'})
    if fmt == "xlsx":
        return Response(stream_with_context(_xlsx(header, rows, rtl=lang == "ar")),
                        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                        headers={"Content-Disposition": f'attachment; filename="waiting-list-{stamp}.xlsx"'})
    return Response(status=404)

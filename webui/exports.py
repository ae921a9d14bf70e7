"""Tables as files: CSV and XLSX streamed a row at a time, every cell inert (never a spreadsheet formula).

Shared by every export (the waiting list, a campaign's progress, the reports).
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context

# A spreadsheet may start a new cell after any of these, and read a cell starting with a formula
# starter as a formula: "x;=1+1" is two cells, the second a formula, when the file is split on ";".
FORMULA_STARTERS = "=+-@\t\r"
_CELL_BREAKS = ",;\t|\n\r"
_RISKY = re.compile(f"(^|[{re.escape(_CELL_BREAKS)}])( *)([{re.escape(FORMULA_STARTERS)}])")
#: Characters a sheet's name may not hold.
_SHEET_UNSAFE = re.compile(r"[\[\]:*?/\\]")
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def inert(value: Any) -> Any:
    """A value a spreadsheet shows as text: names typed by the public must never run as formulas.

    A formula starter at the start of the value, or right after a character a spreadsheet may split
    cells on (spaces between them too, as an import may trim them), gets an apostrophe in front of it.
    """
    if isinstance(value, list | dict):
        value = str(value)
    if isinstance(value, str):
        return _RISKY.sub(lambda m: f"{m.group(1)}{m.group(2)}'{m.group(3)}", value)
    return value


def csv_lines(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
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


def xlsx_chunks(title: str, header: list[str], rows: Iterable[list[Any]], rtl: bool) -> Iterator[bytes]:
    """A workbook of one sheet written row by row (openpyxl's write-only mode), numbers as numbers and every
    text cell a string, never a formula."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet(_SHEET_UNSAFE.sub(" ", title)[:31].strip() or "Sheet")
    sheet.sheet_view.rightToLeft = rtl

    def cells(values: list[Any]) -> list[Any]:
        out: list[Any] = []
        for value in values:
            if isinstance(value, list | dict):
                value = str(value)
            if isinstance(value, str):
                cell = WriteOnlyCell(sheet, value=value)
                cell.data_type = "s"  # openpyxl reads a string starting with "=" as a formula
                cell.quotePrefix = value[:1] in FORMULA_STARTERS
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


def table_response(*, fmt: str, filename: str, title: str, header: list[str], rows: Iterable[list[Any]],
                   rtl: bool) -> Response:
    """A table as a CSV or XLSX download (``fmt`` is csv or xlsx; ``filename`` without its extension)."""
    disposition = {"Content-Disposition": f'attachment; filename="{filename}.{fmt}"'}
    if fmt == "csv":
        return Response(stream_with_context(csv_lines([inert(v) for v in header], ([inert(v) for v in row]
                                                                                    for row in rows))),
                        mimetype="text/csv; charset=utf-8", headers=disposition)
    return Response(stream_with_context(xlsx_chunks(title, header, rows, rtl)), mimetype=XLSX_TYPE,
                    headers=disposition)

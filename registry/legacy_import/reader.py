"""Reading the export, CSV or XLSX (told apart by content), as numbered rows of our fields."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from registry.legacy_import.spec import FIELDS, ExportSpec

#: What a row holds: our field -> the cell as read (text, or a date/number from an XLSX cell; None: empty).
Row = dict[str, Any]


class ExportUnreadable(ValueError):
    """The file cannot be read as an export at all (nothing is imported)."""


def file_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_rows(path: Path, spec: ExportSpec) -> Iterator[tuple[int, Row]]:
    """Each data row with its row number as a spreadsheet shows it (the header is row 1)."""
    with open(path, "rb") as handle:
        is_xlsx = handle.read(4) == b"PK\x03\x04"  # a zip archive: XLSX; anything else is read as CSV text
    yield from (_xlsx_rows(path, spec) if is_xlsx else _csv_rows(path, spec))


def _positions(header: list[Any], spec: ExportSpec) -> dict[str, int]:
    names = [str(h).strip() if h is not None else "" for h in header]
    positions: dict[str, int] = {}
    for field in FIELDS:
        column = spec.columns[field]
        if column in names:
            positions[field] = names.index(column)
        elif field in spec.required:
            raise ExportUnreadable(f"the file has no column {column} (expected in its first row)")
    return positions


def _csv_rows(path: Path, spec: ExportSpec) -> Iterator[tuple[int, Row]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            first = handle.readline()
            handle.seek(0)
            delimiter = ";" if first.count(";") > first.count(",") else ","
            reader = csv.reader(handle, delimiter=delimiter)
            header = next(reader, None)
            if header is None:
                raise ExportUnreadable("the file is empty")
            positions = _positions(header, spec)
            for number, cells in enumerate(reader, start=2):
                if not any(c.strip() for c in cells):
                    continue
                yield number, {f: (cells[i].strip() or None) if i < len(cells) else None
                               for f, i in positions.items()}
    except UnicodeDecodeError as error:
        raise ExportUnreadable("the file is neither an XLSX workbook nor CSV text in UTF-8") from error


def _xlsx_rows(path: Path, spec: ExportSpec) -> Iterator[tuple[int, Row]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 (openpyxl raises many kinds for a damaged file)
        raise ExportUnreadable(f"the XLSX workbook cannot be opened ({error.__class__.__name__})") from error
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ExportUnreadable("the first sheet of the workbook is empty")
        positions = _positions(list(header), spec)
        for number, cells in enumerate(rows, start=2):
            if not any(c is not None and str(c).strip() for c in cells):
                continue
            yield number, {f: _cell(cells[i]) if i < len(cells) else None for f, i in positions.items()}
    finally:
        workbook.close()


def _cell(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a household number or ID typed as a number
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dt.date):
        return value
    return str(value).strip() or None

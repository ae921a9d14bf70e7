"""`flask registry import`: what an operator sees when importing the old system's export."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.registry.test_legacy_import import bad_file_rows, household, write_csv

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)



def _households(app: Flask) -> int:
    from registry.models import Household
    from webui.db import db_session

    with app.app_context():
        return db_session().scalar(select(func.count()).select_from(Household)) or 0


@BOTH_DATABASES
def test_dry_run_reports_the_rejected_rows_and_changes_nothing(app: Flask, tmp_path: Path) -> None:
    rows, expected = bad_file_rows()
    path = write_csv(tmp_path / "export.csv", rows)
    before = _households(app)
    result = app.test_cli_runner().invoke(args=["registry", "import", str(path), "--dry-run",
                                                "--report", str(tmp_path / "rejected.csv")])
    assert result.exit_code == 0, result.output
    assert "row 8: national ID 123456789 is not valid (9 digits with a check digit)" in result.stdout
    assert "row 11: governorate code PS-XXX is unknown (data/governorates.csv)" in result.stdout
    assert "Dry run: nothing was changed. 15 rows, 10 households in export.csv" in result.stdout
    assert "  would import: 2 households, 5 people" in result.stdout
    assert "  rejected: 8 households, 10 rows" in result.stdout
    assert _households(app) == before
    with open(tmp_path / "rejected.csv", encoding="utf-8") as handle:
        written = list(csv.DictReader(handle))
    assert {r["row"]: r["reason"] for r in written} == expected
    assert {r["household"] for r in written if r["row"] == "8"} == {"2001"}


def test_import_shows_progress_on_stderr_and_a_second_run_imports_nothing(app: Flask, tmp_path: Path) -> None:
    rows = [row for number in range(2500) for row in household(f"9{number:04d}", size=2)]
    path = write_csv(tmp_path / "export.csv", rows)
    before = _households(app)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["registry", "import", str(path), "--by", "admin"])
    assert result.exit_code == 0, result.output
    assert "importing: 2000/2500 households (" in result.stderr
    assert "importing: 2500/2500 households (" in result.stderr
    assert "  imported: 2500 households, 5000 people" in result.stdout
    assert _households(app) == before + 2500
    again = runner.invoke(args=["registry", "import", str(path)])
    assert "  imported: 0 households, 0 people" in again.stdout
    assert "  already imported (skipped): 2500 households" in again.stdout
    assert _households(app) == before + 2500


def test_an_unreadable_file_is_refused_in_words(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"\xff\xfe\x00garbage")
    result = app.test_cli_runner().invoke(args=["registry", "import", str(path)])
    assert result.exit_code == 1
    assert ("export.csv: the file is neither an XLSX workbook nor CSV text in UTF-8; nothing was imported"
            in result.output)

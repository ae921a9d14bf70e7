"""Importing the old system's export: bad rows refused with their reasons, the rest imported once."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from tests.factories import national_id

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
NOW = dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC)
COLUMNS = ["HH_NO", "MEMBER_ID", "NAME_AR", "NAME_EN", "RELATION", "SEX", "BIRTH_DATE", "PROGRAMME", "STATUS",
           "GOV_CODE", "LOCALITY", "ADDRESS", "PHONE"]


def person(household: str, relation: str = "SON", **changes: Any) -> dict[str, Any]:
    row = {"HH_NO": household, "MEMBER_ID": national_id(), "NAME_AR": "سامي خليل الأحمد", "NAME_EN": "Sami Ahmad",
           "RELATION": relation, "SEX": "M", "BIRTH_DATE": "1984-03-12", "PROGRAMME": "CTP", "STATUS": "ACTIVE",
           "GOV_CODE": "PS-RBH", "LOCALITY": "البيرة", "ADDRESS": "حي الجنان", "PHONE": "0599123456"}
    row.update(changes)
    return row


def household(number: str, size: int = 3, **changes: Any) -> list[dict[str, Any]]:
    return [person(number, "HEAD", **changes)] + [person(number, "DAUGHTER", SEX="F", **changes)
                                                  for _ in range(size - 1)]


def write_csv(path: Path, rows: list[dict[str, Any]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[dict[str, Any]]) -> Path:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(COLUMNS)
    for row in rows:
        sheet.append([row.get(c) for c in COLUMNS])
    workbook.save(path)
    return path


def session_of(app: Flask) -> Session:
    from webui.db import db_session

    return db_session()


def counts(session: Session) -> tuple[int, int]:
    from registry.models import Household, Person

    return (session.scalar(select(func.count()).select_from(Household)) or 0,
            session.scalar(select(func.count()).select_from(Person)) or 0)


def bad_file_rows() -> tuple[list[dict[str, Any]], dict[str, str]]:
    """Two good households and one of each kind of bad one; the reason expected for each bad row's number."""
    good = household("1001") + household("1002", size=2)
    shared = national_id()
    rows = good + [
        *household("2001")[:1], person("2001", MEMBER_ID="123456789"),                 # rows 7-8: bad ID
        person("2002", "SON"), person("2002", "DAUGHTER", SEX="F"),                    # rows 9-10: no head
        *household("2003", size=1, GOV_CODE="PS-XXX"),                                 # row 11: governorate
        *household("2004", size=1, BIRTH_DATE="31/02/1980"),                           # row 12: bad date
        person("2005", "HEAD", MEMBER_ID=shared), person("2006", "HEAD", MEMBER_ID=shared),  # rows 13-14
        *household("2007", size=1, LOCALITY=""),                                       # row 15: no locality
        *household("2008", size=1, RELATION="COUSIN"),                                 # row 16
    ]
    expected = {
        "7": "rejected with its household: row 8 of household 2001 is invalid",
        "8": "national ID 123456789 is not valid (9 digits with a check digit)",
        "9": "household 2002: the household has no head (no row with relation head)",
        "10": "household 2002: the household has no head (no row with relation head)",
        "11": "governorate code PS-XXX is unknown (data/governorates.csv)",
        "12": "BIRTH_DATE 31/02/1980 is not a date",
        "13": f"household 2005: national ID {shared} is also in household 2006 (row 14) of this file",
        "14": f"household 2006: national ID {shared} is also in household 2005 (row 13) of this file",
        "15": "LOCALITY is empty",
        "16": "RELATION 'COUSIN' is not a value the import accepts (data/legacy_export.yaml)",
    }
    return rows, expected


@BOTH_DATABASES
def test_bad_rows_are_rejected_with_their_reasons_and_the_rest_imported_once(app: Flask, tmp_path: Path) -> None:
    from registry.legacy_import.services import import_export
    from registry.models import AuditEvent, Directorate, Household, Person

    rows, expected = bad_file_rows()
    path = write_csv(tmp_path / "export.csv", rows)
    with app.app_context():
        session = session_of(app)
        before = counts(session)
        report = import_export(session, path=path, now=NOW, chunk=1)
        assert {str(r.row): r.reason for r in report.rejections} == expected
        assert (report.households_imported, report.people_imported, report.households_rejected) == (2, 5, 8)
        assert counts(session) == (before[0] + 2, before[1] + 5)
        imported = session.scalar(select(Household).where(Household.legacy_id == "1001"))
        assert imported is not None
        assert (imported.programme, imported.programme_status) == ("cash_transfer", "active")
        ramallah = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
        assert ramallah is not None and imported.directorate_id == ramallah.id
        assert imported.sources["locality"]["source"] == "legacy_system"
        assert [m.relation for m in imported.members] == ["head", "daughter", "daughter"]
        assert imported.members[0].sources["national_id"] == {
            "how": "declared", "source": "legacy_system", "as_of": "2026-11-02", "batch": report.batch_id}
        assert imported.members[1].birth_date == dt.date(1984, 3, 12)
        events = session.scalars(select(AuditEvent).where(AuditEvent.action == "legacy_import")).all()
        assert [e.details["households_imported"] for e in events] == [2]

        again = import_export(session, path=path, now=NOW)
        assert (again.households_imported, again.households_already_imported) == (0, 2)
        assert counts(session) == (before[0] + 2, before[1] + 5)
        head = select(func.count()).select_from(Person).where(Person.national_id == rows[0]["MEMBER_ID"])
        assert session.scalar(head) == 1


@BOTH_DATABASES
def test_a_dry_run_changes_nothing(app: Flask, tmp_path: Path) -> None:
    from registry.legacy_import.models import ImportBatch
    from registry.legacy_import.services import import_export

    rows, expected = bad_file_rows()
    path = write_csv(tmp_path / "export.csv", rows)
    with app.app_context():
        session = session_of(app)
        before = counts(session)
        report = import_export(session, path=path, now=NOW, dry_run=True)
        assert (report.households_imported, report.people_imported) == (2, 5)
        assert {str(r.row) for r in report.rejections} == set(expected)
        assert counts(session) == before
        assert session.scalar(select(func.count()).select_from(ImportBatch)) == 0


def test_an_xlsx_export_imports_like_a_csv_one(app: Flask, tmp_path: Path) -> None:
    from registry.legacy_import.services import import_export
    from registry.models import Household

    rows = household("3001") + household("3002", size=1, MEMBER_ID="bad")
    rows[1]["BIRTH_DATE"] = dt.datetime(2010, 5, 4)  # a date cell, as spreadsheets keep them
    rows[2]["MEMBER_ID"] = int(rows[2]["MEMBER_ID"])  # an ID typed as a number
    path = write_xlsx(tmp_path / "export.xlsx", rows)
    with app.app_context():
        session = session_of(app)
        report = import_export(session, path=path, now=NOW)
        assert [(r.row, r.reason) for r in report.rejections] == [
            (5, "national ID bad is not valid (9 digits with a check digit)")]
        imported = session.scalar(select(Household).where(Household.legacy_id == "3001"))
        assert imported is not None
        assert imported.members[1].birth_date == dt.date(2010, 5, 4)
        assert imported.members[2].national_id == str(rows[2]["MEMBER_ID"]).zfill(9)


@BOTH_DATABASES
def test_a_person_already_in_another_household_of_the_registry_is_refused(app: Flask, tmp_path: Path) -> None:
    from registry.legacy_import.services import import_export
    from registry.models import Household

    first = household("4001")
    with app.app_context():
        session = session_of(app)
        import_export(session, path=write_csv(tmp_path / "first.csv", first), now=NOW)
        existing = session.scalar(select(Household).where(Household.legacy_id == "4001"))
        assert existing is not None
        moved = person("4002", "HEAD", MEMBER_ID=first[1]["MEMBER_ID"])
        report = import_export(session, path=write_csv(tmp_path / "second.csv", [moved]), now=NOW)
        assert [(r.row, r.reason) for r in report.rejections] == [
            (2, f"household 4002: national ID {moved['MEMBER_ID']} (row 2) already belongs to household "
                f"{existing.id} (old number 4001) in the registry")]
        assert report.households_imported == 0


def test_a_file_without_a_required_column_imports_nothing(app: Flask, tmp_path: Path) -> None:
    from registry.legacy_import.reader import ExportUnreadable
    from registry.legacy_import.services import import_export

    path = tmp_path / "export.csv"
    path.write_text("HH_NO,NAME_AR\n1,x\n", encoding="utf-8")
    with app.app_context():
        session = session_of(app)
        before = counts(session)
        with pytest.raises(ExportUnreadable, match="no column MEMBER_ID"):
            import_export(session, path=path, now=NOW)
        assert counts(session) == before


@BOTH_DATABASES
def test_an_import_stopped_half_way_keeps_whole_households_and_a_rerun_finishes_it(app: Flask,
                                                                                   tmp_path: Path) -> None:
    from registry.legacy_import.models import ImportBatch
    from registry.legacy_import.services import import_export
    from registry.models import Household, Person

    rows = household("5001") + household("5002", size=4) + household("5003", size=2)
    path = write_csv(tmp_path / "export.csv", rows)

    def crash_after_the_first_chunk(stage: str, done: int, total: int | None) -> None:
        if stage == "importing" and done == 1:
            raise KeyboardInterrupt

    with app.app_context():
        session = session_of(app)
        before = counts(session)
        with pytest.raises(KeyboardInterrupt):
            import_export(session, path=path, now=NOW, chunk=1, progress=crash_after_the_first_chunk)
        session.rollback()
        assert counts(session) == (before[0] + 1, before[1] + 3)
        stopped = session.scalars(select(ImportBatch)).one()
        assert (stopped.status, stopped.counts["households_imported"]) == ("running", 1)

        report = import_export(session, path=path, now=NOW)
        assert (report.households_imported, report.households_already_imported) == (2, 1)
        assert counts(session) == (before[0] + 3, before[1] + 9)
        imported = session.scalars(select(Household.legacy_id).where(Household.legacy_id.is_not(None))).all()
        assert sorted(imported) == ["5001", "5002", "5003"]
        per_household = session.execute(select(Person.household_id, func.count()).group_by(Person.household_id)
                                         .where(Person.household_id.in_(select(Household.id).where(
                                             Household.legacy_id.is_not(None))))).tuples().all()
        assert sorted(n for _h, n in per_household) == [2, 3, 4]
        assert session.scalars(select(ImportBatch.status).order_by(ImportBatch.id)).all() == ["running", "done"]

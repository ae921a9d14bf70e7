"""Exports of the waiting list: no value typed by anyone becomes a formula in a spreadsheet."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import update

from tests.conftest import Api
from tests.factories import registration
from tests.webui.test_case_paths import complete, open_case

STARTERS = ("=", "+", "-", "@", "\t", "\r")
HOSTILE = ["=1+1", "x;=1+1", "x,=1+1", "x\t=1+1", "x\n=1+1", "+1", "-1+1", "@SUM(A1)", "x|=cmd",
           "x\r=1+1", "x; =1+1"]
ARABIC = "مريم أحمد عودة"


def _registered_with_head_names(api: Callable[[str], Api], app: Flask, names: list[str]) -> None:
    """Eligible households whose heads carry ``names`` (set in the registry, wherever a name came from)."""
    from registry.models import Person
    from webui.db import db_session

    reception = api("reception1")
    ids = []
    for _ in names:
        case_id = open_case(reception)
        data = registration(monthly_income=0)
        complete(reception, case_id, data)
        ids.append(data["head_national_id"])
    with app.app_context():
        session = db_session()
        for national_id, name in zip(ids, names, strict=True):
            # No Latin spelling: English exports show the Latin name when there is one.
            session.execute(update(Person).where(Person.national_id == national_id)
                            .values(name_ar=name, name_latin=None))
        session.commit()


def _cells(text: str, delimiter: str) -> list[str]:
    """The cells a spreadsheet could see: parsed as CSV, and split naively on lines and the delimiter."""
    parsed = [cell for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter) for cell in row]
    naive = [cell for line in text.splitlines() for cell in line.split(delimiter)]
    return parsed + naive


def test_exported_csv_has_no_cell_a_spreadsheet_would_read_as_a_formula(
        api: Callable[[str], Api], app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    _registered_with_head_names(api, app, [*HOSTILE, ARABIC])
    text = login_as("supervisor1").get("/registry/waiting-list.csv").get_data(as_text=True).lstrip("\ufeff")
    for delimiter in (",", ";", "\t", "|"):
        risky = [c for c in _cells(text, delimiter) if c.lstrip('" ')[:1] in STARTERS and c.strip()]
        assert risky == [], delimiter
    heads = [row[2] for row in csv.reader(io.StringIO(text, newline=""))][1:]
    assert ARABIC in heads and "'=1+1" in heads and "x;'=1+1" in heads  # the text itself is kept


def test_exported_xlsx_holds_the_names_as_text_never_as_formulas(
        api: Callable[[str], Api], app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    _registered_with_head_names(api, app, [*HOSTILE, ARABIC])
    book = load_workbook(io.BytesIO(login_as("supervisor1").get("/registry/waiting-list.xlsx").data))
    cells = [cell for row in book.active.iter_rows() for cell in row]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    heads = {row[2] for row in book.active.iter_rows(min_row=2, values_only=True)}
    assert heads == {*HOSTILE, ARABIC}

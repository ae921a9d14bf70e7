"""The dashboards as their readers get them: the figures in tables beside the charts, scoped to the reader's
directorate (another directorate is a 404), the same tables as CSV and XLSX, and the monthly PDF in Arabic and
English."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select

from registry.models import Directorate
from registry.reports import period as periods
from registry.reports.services import dashboard
from tests.conftest import Clock
from tests.registry.test_reports import OUTCOMES, STAGES, build, user, walk
from webui.db import db_session

Login = Callable[..., FlaskClient]
ARTIFACTS = Path(__file__).resolve().parent.parent.parent / "test-artifacts" / "reports"
NOVEMBER = "period=month&month=2026-11"


def _figures(app: Flask, username: str, code: str | None, clock: Clock) -> dict[str, dict[str, list[int]]]:
    """Per figure, each row's values by directorate as the service gives them (counts only)."""
    with app.app_context():
        session = db_session()
        board = dashboard(session, actor=user(session, username), period=periods.month(2026, 11),
                          directorate_code=code, now=clock(), stage_order=STAGES, outcome_choices=OUTCOMES)
        return {key: {row: [int(f.value(row, d.id) or 0) for d in board.chosen] for row in f.rows}
                for key, f in board.figures.items() if f.unit == "count"}


def _table(page: str, key: str) -> list[list[str]]:
    """The rows of a figure's table on the page, as text."""
    found = re.search(rf'<table[^>]*data-testid="table-{key}">(.*?)</table>', page, re.S)
    assert found, key
    rows = re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)
    return [[re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in rows]


@pytest.fixture
def built(app: Flask, clock: Clock) -> Flask:
    with app.app_context():
        build(db_session(), clock)
    return app


def test_a_supervisor_sees_their_directorate_s_dashboard_with_its_figures(built: Flask, clock: Clock,
                                                                          login_as: Login) -> None:
    page = login_as("supervisor1").get(f"/reports/?{NOVEMBER}")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'data-testid="nav-reports"' in text and "Ramallah" in text and "Hebron" not in text
    figures = _figures(built, "supervisor1", None, clock)
    registrations = _table(text, "registrations")
    assert registrations[0] == ["Channel", "Directorate of Social Development – Ramallah and al-Bireh"]
    assert registrations[1:] == [["Walk-in", str(figures["registrations"]["reception"][0])],
                                 ["Online", str(figures["registrations"]["online"][0])]]
    decisions = dict((row[0], row[1]) for row in _table(text, "decisions")[1:])
    assert decisions == {"Approved": str(figures["decisions"]["approved"][0]),
                         "Rejected": str(figures["decisions"]["rejected"][0])}
    for key in ("stages", "overdue", "poverty", "plan_outcomes", "time_in_stage"):
        assert f'data-testid="report-{key}"' in text
        assert '<svg class="hbar"' in text
    assert 'data-testid="table-time_in_stage"' in text


def test_the_ministry_sees_every_directorate_side_by_side_and_may_narrow_to_one(built: Flask, clock: Clock,
                                                                                 login_as: Login) -> None:
    admin = login_as("admin")
    text = admin.get(f"/reports/?{NOVEMBER}").get_data(as_text=True)
    assert "Ministry dashboard" in text
    header = _table(text, "registrations")[0]
    with built.app_context():
        names = [d.name_en for d in db_session().scalars(select(Directorate).order_by(Directorate.code))]
    assert header == ["Channel", *names, "All directorates"]
    figures = _figures(built, "admin", None, clock)
    walk_in = _table(text, "registrations")[1]
    assert walk_in == ["Walk-in", *map(str, figures["registrations"]["reception"]),
                       str(sum(figures["registrations"]["reception"]))]
    side = {row[0]: [int(v) for v in row[1:]] for row in _table(text, "directorates")[1:]}
    assert list(side) == names
    for index, name in enumerate(names):
        open_cases = sum(v[index] for v in figures["stages"].values())
        overdue = sum(v[index] for v in figures["overdue"].values())
        assert side[name] == [figures["registrations"]["reception"][index], figures["registrations"]["online"][index],
                              figures["decisions"]["approved"][index], figures["decisions"]["rejected"][index],
                              open_cases, overdue]
    one = admin.get(f"/reports/?{NOVEMBER}&directorate=HBN")
    assert one.status_code == 200
    hebron = "Directorate of Social Development – Hebron"
    assert _table(one.get_data(as_text=True), "registrations")[0] == ["Channel", hebron]


@pytest.mark.parametrize(("username", "path"), [
    ("supervisor1", f"/reports/?{NOVEMBER}&directorate=HBN"),
    ("supervisor1", "/reports/registrations.csv?directorate=HBN"),
    ("supervisor1", "/reports/monthly.pdf?month=2026-11&directorate=HBN"),
    ("admin", "/reports/?directorate=XXX"),
    ("casemanager1", "/reports/"),
    ("reception1", "/reports/registrations.xlsx"),
    ("analyst", "/reports/"),
    ("complaintsunit", "/reports/monthly.pdf"),
    ("admin", "/reports/nothing.csv"),
    ("admin", "/reports/registrations.txt"),
])
def test_reports_outside_the_reader_s_scope_do_not_exist(app: Flask, login_as: Login, username: str,
                                                         path: str) -> None:
    response = login_as(username).get(path)
    assert response.status_code == 404


def test_only_supervisors_and_the_ministry_get_the_reports_link(app: Flask, login_as: Login) -> None:
    for username, shown in (("supervisor2", True), ("admin", True), ("casemanager1", False), ("reception1", False),
                            ("analyst", False)):
        assert ('data-testid="nav-reports"' in login_as(username).get("/").get_data(as_text=True)) is shown or \
            ('data-testid="nav-reports"' in login_as(username).get("/inbox").get_data(as_text=True)) is shown


def test_a_period_that_cannot_be_read_is_named_and_changes_nothing(app: Flask, login_as: Login) -> None:
    supervisor = login_as("supervisor1")
    for query, message in (("period=quarter&quarter=2026-Q9", "Choose a quarter (yyyy-Qn)."),
                           ("period=custom&from=2026-11-30&to=2026-11-01", "The first day comes after the last day."),
                           ("period=custom&from=yesterday&to=2026-11-01", "Give the first and last day as dates"),
                           ("period=month&month=2026-13", "Choose a month (yyyy-mm).")):
        page = supervisor.get(f"/reports/?{query}")
        assert page.status_code == 422 and message in page.get_data(as_text=True)
        assert supervisor.get(f"/reports/registrations.csv?{query}").status_code == 422
    assert supervisor.get("/reports/monthly.pdf?month=2026-99").status_code == 422
    quarter = supervisor.get("/reports/?period=quarter&quarter=2026-Q4").get_data(as_text=True)
    assert "From 2026-10-01 to 2026-12-31" in quarter
    custom = supervisor.get("/reports/?period=custom&from=2026-11-05&to=2026-11-20").get_data(as_text=True)
    assert "From 2026-11-05 to 2026-11-20" in custom


def test_each_table_exports_as_csv_and_xlsx_with_the_page_s_numbers(built: Flask, clock: Clock,
                                                                     login_as: Login) -> None:
    admin = login_as("admin")
    figures = _figures(built, "admin", None, clock)
    side = list(csv.reader(io.StringIO(admin.get(f"/reports/directorates.csv?{NOVEMBER}").get_data(as_text=True))))
    assert len(side) == 1 + len(next(iter(figures["registrations"].values())))
    for key in ("registrations", "decisions", "stages", "overdue", "poverty", "plan_outcomes"):
        response = admin.get(f"/reports/{key}.csv?{NOVEMBER}")
        assert response.status_code == 200 and response.mimetype == "text/csv"
        assert "attachment" in response.headers["Content-Disposition"]
        rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
        assert rows[0][-1] == "All directorates" and len(rows) - 1 == len(figures[key])
        assert [[int(v) for v in row[1:]] for row in rows[1:]] == [[*v, sum(v)] for v in figures[key].values()]
        book = load_workbook(io.BytesIO(admin.get(f"/reports/{key}.xlsx?{NOVEMBER}").data))
        sheet = book.worksheets[0]
        cells = [list(r) for r in sheet.iter_rows(values_only=True)]
        assert [str(c) for c in cells[0]] == rows[0]
        assert [list(r[1:]) for r in cells[1:]] == [[*v, sum(v)] for v in figures[key].values()]
    arabic = login_as("supervisor1", lang="ar").get(f"/reports/registrations.xlsx?{NOVEMBER}")
    sheet = load_workbook(io.BytesIO(arabic.data)).worksheets[0]
    assert sheet.sheet_view.rightToLeft
    assert [c for c in next(sheet.iter_rows(values_only=True))][1] == "مديرية التنمية الاجتماعية – رام الله والبيرة"


def test_the_monthly_report_is_a_pdf_in_arabic_and_in_english(built: Flask, login_as: Login) -> None:
    sizes = {}
    for lang in ("ar", "en"):
        response = login_as("supervisor1").get(f"/reports/monthly.pdf?month=2026-11&lang={lang}")
        assert response.status_code == 200 and response.mimetype == "application/pdf"
        assert response.data.startswith(b"%PDF-") and response.data.rstrip().endswith(b"%%EOF")
        assert f"monthly-report-RBH-2026-11-{lang}.pdf" in response.headers["Content-Disposition"]
        assert f"/Lang ({lang})".encode() in response.data and b"DejaVu" in response.data
        sizes[lang] = len(response.data)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)  # kept to be looked at, like the browser's screenshots
        (ARTIFACTS / f"monthly-report-{lang}.pdf").write_bytes(response.data)
    assert sizes["ar"] != sizes["en"]
    ministry = login_as("admin").get("/reports/monthly.pdf?month=2026-11&lang=en")
    assert ministry.status_code == 200 and b"monthly-report-ministry" not in ministry.data
    assert "monthly-report-ministry-2026-11-en.pdf" in ministry.headers["Content-Disposition"]


def test_a_directorate_with_nothing_yet_shows_empty_figures_not_an_error(app: Flask, clock: Clock,
                                                                          login_as: Login) -> None:
    with app.app_context():
        walk(db_session(), clock, office="1", to="opened")
    page = login_as("supervisor2").get("/reports/")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert _table(text, "registrations")[1:] == [["Walk-in", "0"], ["Online", "0"]]
    assert 'data-testid="empty-time_in_stage"' in text and 'data-testid="empty-stages"' in text

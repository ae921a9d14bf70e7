"""The campaign progress page and its exports: what a supervisor and the ministry see, in both languages."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.registry.test_campaign_progress import add_visit, build_campaign, by, count, local_day, make_campaign

FIGURES = ["households", "attempts", "visited", "updated", "not_found", "refused", "remaining", "changed", "poorer",
           "less_poor"]


def _campaign(app: Flask) -> tuple[int, list[Any], dict[str, str]]:
    """The test campaign; its rows detached with what the assertions need."""
    from webui.db import db_session

    with app.app_context():
        session = db_session()
        campaign, rows = build_campaign(session)
        names = {str(v.case_manager_id): v.case_manager.full_name for v in rows if v.case_manager_id}
        for row in rows:
            row.directorate_code = row.directorate.code
            session.expunge(row)
        return campaign.id, rows, names


def _tile(html: str, name: str) -> int:
    found = re.search(rf'data-testid="total-{name}">(\d+)', html)
    assert found, name
    return int(found.group(1))


def test_the_page_shows_the_totals_counted_from_the_rows_with_charts_and_tables(
        app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    campaign_id, rows, _ = _campaign(app)
    response = login_as("admin").get(f"/campaigns/{campaign_id}/progress")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    expected = count(rows)
    for name in ("households", "visited", "updated", "not_found", "refused", "remaining", "changed"):
        assert _tile(html, name) == expected[name], name
    assert f"poorer: {expected['poorer']}, less poor: {expected['less_poor']}" in html
    for chart in ("chart-daily", "chart-cumulative", "chart-directorates"):
        figure = html.split(f'data-testid="{chart}"')[1].split("</figure>")[0]
        assert "<svg" in figure and "<table" in figure  # each chart with its numbers as a table
    assert html.count('data-testid="progress-directorates-row"') == 2
    assert 'data-testid="forecast-date"' in html
    assert "every day but Friday" not in html  # the allocation rules name the working days


def test_the_arabic_page_reads_right_to_left_with_its_plots_mirrored(
        app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    campaign_id, rows, _ = _campaign(app)
    html = login_as("admin", lang="ar").get(f"/campaigns/{campaign_id}/progress").get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html
    assert "مديرية التنمية الاجتماعية – الخليل" in html and "فادي عودة" in html
    assert 'transform="translate(100 0) scale(-1 1)"' in html  # bars grow from the right
    assert _tile(html, "visited") == count(rows)["visited"]


def test_a_supervisor_of_another_directorate_gets_not_found_and_sees_only_their_own(
        app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    from webui.db import db_session

    campaign_id, rows, _ = _campaign(app)
    with app.app_context():
        session = db_session()
        ramallah = make_campaign(session, codes=("RBH",), name="Ramallah only")
        add_visit(session, ramallah, code="RBH")
        session.commit()
        ramallah_id = ramallah.id
    hebron = login_as("supervisor2")
    assert hebron.get(f"/campaigns/{ramallah_id}/progress").status_code == 404
    assert hebron.get(f"/campaigns/{ramallah_id}/progress/directorates.csv").status_code == 404
    assert hebron.get(f"/campaigns/{campaign_id}/progress?directorate=RBH").status_code == 404
    assert login_as("casemanager1").get(f"/campaigns/{campaign_id}/progress").status_code == 404
    assert hebron.get("/campaigns/999999/progress").status_code == 404
    html = hebron.get(f"/campaigns/{campaign_id}/progress").get_data(as_text=True)
    assert "Directorate of Social Development – Hebron" in html and "Ramallah" not in html
    assert _tile(html, "visited") == count([v for v in rows if v.directorate_code == "HBN"])["visited"]


def test_csv_export_of_each_table_holds_the_counted_figures(
        app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    campaign_id, rows, names = _campaign(app)
    admin = login_as("admin")
    response = admin.get(f"/campaigns/{campaign_id}/progress/directorates.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert table[0][:4] == ["Directorate", "Households", "Visits", "Visited"]
    assert table[0][-2:] == ["Spot-checks waiting", "Spot-checks done"]
    expected = {code: count(group) for code, group in by(rows, lambda v: v.directorate_code).items()}
    by_name = {"Directorate of Social Development – Ramallah and al-Bireh": "RBH",
               "Directorate of Social Development – Hebron": "HBN"}
    assert {by_name[line[0]]: dict(zip(FIGURES, map(int, line[1:11]), strict=True)) for line in table[1:]} == expected

    workers = list(csv.reader(io.StringIO(admin.get(f"/campaigns/{campaign_id}/progress/workers.csv")
                                          .get_data(as_text=True).lstrip("\ufeff"))))
    expected_workers = {names.get(key, "Not allocated"): count(group) for key, group in
                        by(rows, lambda v: str(v.case_manager_id) if v.case_manager_id else "").items()}
    assert {line[0]: dict(zip(FIGURES, map(int, line[1:11]), strict=True)) for line in workers[1:]} == expected_workers

    days_csv = admin.get(f"/campaigns/{campaign_id}/progress/days.csv?from=2026-10-20&to=2026-10-27")
    days = list(csv.reader(io.StringIO(days_csv.get_data(as_text=True).lstrip("\ufeff"))))
    assert days[0][0] == "Day" and {line[0] for line in days[1:]} <= {f"2026-10-{d}" for d in range(20, 28)}
    for line in days[1:]:
        assert int(line[1]) == sum(1 for v in rows if v.outcome and local_day(v.visited_at).isoformat() == line[0])


def test_xlsx_export_has_numbers_as_numbers_and_an_arabic_sheet_reads_right_to_left(
        app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    campaign_id, rows, _ = _campaign(app)
    response = login_as("admin", lang="ar").get(f"/campaigns/{campaign_id}/progress/directorates.xlsx?directorate=HBN")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert sheet.sheet_view.rightToLeft
    values = list(sheet.iter_rows(values_only=True))
    assert len(values) == 2 and values[1][0] == "مديرية التنمية الاجتماعية – الخليل"
    hebron = count([v for v in rows if v.directorate_code == "HBN"])
    assert dict(zip(FIGURES, values[1][1:11], strict=True)) == hebron
    assert all(isinstance(v, int) for v in values[1][1:])


def test_a_date_that_cannot_be_read_is_named_and_the_page_still_answers(
        app: Flask, login_as: Callable[..., FlaskClient]) -> None:
    campaign_id, _, _ = _campaign(app)
    admin = login_as("admin")
    response = admin.get(f"/campaigns/{campaign_id}/progress?from=2026-13-45&worker=abc")
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "2026-13-45 is not a date" in html and "Choose a case manager from the list." in html
    assert admin.get(f"/campaigns/{campaign_id}/progress/days.csv?from=yesterday").status_code == 422
    assert admin.get(f"/campaigns/{campaign_id}/progress/nothing.csv").status_code == 404
    assert admin.get(f"/campaigns/{campaign_id}/progress/days.pdf").status_code == 404


def test_chart_geometry_stacks_the_outcomes_and_scales_to_round_grid_lines() -> None:
    from webui.charts import HEIGHT, horizontal, lines, nice_top, stacked_columns

    assert [nice_top(v) for v in (0, 3, 9, 23, 140, 47000)] == [4, 4, 12, 24, 160, 60000]
    plot = stacked_columns([[("updated", 6), ("refused", 2)], [], [("updated", 3)]], marks=[5, 4, 4])
    assert plot.ticks == [0, 2, 4, 6, 8]
    first = [r for r in plot.bars if r.x < 10]
    assert [(r.kind, r.height) for r in first] == [("updated", 75.0), ("refused", 25.0)]  # 8 fills the height
    assert first[1].y == 0 and first[0].y + first[0].height == HEIGHT
    assert len(plot.lines) == 1 and plot.lines[0].points.count(",") == 3
    future = lines([("actual", [1, 2, None]), ("plan", [1, 2, 3])])
    assert future.lines[0].points.count(",") == 2 and future.lines[1].points.count(",") == 3
    bar = horizontal([("updated", 30), ("not_found", 0), ("remaining", 20)], longest=100)
    assert [(s.kind, s.start, s.width) for s in bar] == [("updated", 0.0, 30.0), ("remaining", 30.0, 20.0)]

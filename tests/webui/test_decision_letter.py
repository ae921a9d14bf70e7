"""The household's decision letter: only for staff of the case's directorate, and a clear page without its font."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from tests.conftest import Api
from tests.factories import registration
from tests.webui.test_case_paths import complete, open_case


def scored_case(api: Callable[[str], Api]) -> int:
    reception = api("reception1")
    case_id = open_case(reception)
    complete(reception, case_id, registration(monthly_income=400), expect_form="registration")
    return case_id


def test_the_pdf_letter_without_its_font_is_a_clear_503_page_and_the_printable_page_still_works(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient], tmp_path: Path) -> None:
    case_id = scored_case(api)
    app.config["LETTER_FONT_DIR"] = str(tmp_path)  # an empty folder: the font is not installed
    staff = login_as("supervisor1", "en")
    response = staff.get(f"/cases/{case_id}/letter.pdf?lang=ar")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "The letter cannot be made as a PDF: its fonts are not installed on the server" in page
    assert "DejaVuSans.ttf" in page and "fonts-dejavu-core" in page
    assert staff.get(f"/cases/{case_id}/letter?lang=ar").status_code == 200


def test_an_unknown_letter_language_falls_back_to_the_page_language(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    case_id = scored_case(api)
    response = login_as("supervisor1", "en").get(f"/cases/{case_id}/letter?lang=xx")
    assert response.status_code == 200
    assert "Decision on your household&#39;s eligibility for assistance" in response.get_data(as_text=True)


def test_the_letter_lists_as_not_counted_only_deprivations_that_still_need_proof(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    import re

    reception = api("reception1")
    case_id = open_case(reception)
    # Unmet medical needs on the household's word alone: deprived, but counted only once verified.
    complete(reception, case_id, registration(monthly_income=400, unmet_medical_needs=True, rooms=3),
             expect_form="registration")
    page = login_as("supervisor1", "en").get(f"/cases/{case_id}/letter?lang=en").get_data(as_text=True)
    section = re.search(r'data-testid="letter-not-counted".*?</ul>', page, re.S)
    assert section is not None
    listed = re.findall(r"<li>(.*?)</li>", section.group(0), re.S)
    assert any("Access to treatment" in item for item in listed), listed
    assert not any("Crowding" in item for item in listed)  # 4 persons in 3 rooms: not deprived, nothing to prove

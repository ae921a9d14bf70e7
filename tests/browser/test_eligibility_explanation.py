"""Staff read why a household got its category, with every number's unit; the household's letter says the same in
plain words, with how to ask for a review or complain, as a page and as a PDF, in Arabic and in English."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import SCREENSHOTS
from tests.browser.steps import Shoot, log_in
from tests.factories import registration

pytestmark = pytest.mark.browser

# A household of four (two adults, two children) with 400 NIS a month. Worked by hand from the rule files:
#   adult equivalents = (2 + 0.46 × 2) ^ 0.89 = 2.92 ^ 0.89 = 2.5953
#   income per adult equivalent = 400 ÷ 2.5953 = 154.12 NIS a month, below the deep line (667.75 at 2017 prices)
#   deprived in health insurance and disability (1/24 each), school attendance (1/16), no employed member and
#   unemployment (1/24 each), both monetary indicators (1/16 each): 4/48 + 3/48 + 4/48 + 6/48 = 17/48, at least
#   k = 1/3 (16/48) and below the deep cut-off 1/2; "deeply poor" comes from the income below the deep line alone
#   (rules/poverty_category.dmn: income below the deep line is deep poverty whatever the score).
#   Crowding: 4 persons in 3 rooms = 1.33 persons per room.
HOUSEHOLD = registration(rooms=3, damp_or_leaking=False, services_hard_to_reach=[], unmet_medical_needs=False,
                         assets=["refrigerator", "washing_machine"], monthly_income=400)

TEXT = {
    "en": {
        "reason": re.compile(r"^Deeply poor because .*income per adult equivalent, 154\.12 NIS a month, is below the "
                             r"deep poverty line of [\d,.]+ NIS a month\.$"),
        "k": "Poverty cut-off k", "income": "154.12 NIS a month", "crowding": "1.33 persons per room",
        "letter_title": "Decision on your household's eligibility for assistance",
        "result": "The result is: Deeply poor.",
        "why": "your household's monthly income per adult equivalent, 154.12 NIS, is below the deep poverty line",
        "review_heading": "How to ask for a review or make a complaint",
        "review": "you can ask for a review. Come to the Directorate of Social Development – Ramallah",
        "complaint": "through the Ministry of Social Development's complaints channel (its Complaints Unit)",
    },
    "ar": {
        "reason": re.compile(r"^فقر مدقع لأن .*الدخل لكل بالغ مكافئ، 154\.12 شيكل شهرياً، أقل من خط الفقر المدقع "
                             r"البالغ [\d,.]+ شيكل شهرياً\.$"),
        "k": "حدّ الفقر k", "income": "154.12 شيكل شهرياً", "crowding": "1.33 شخص لكل غرفة",
        "letter_title": "قرار بشأن أهلية أسرتكم للمساعدة",
        "result": "النتيجة: فقر مدقع.",
        "why": "الدخل الشهري لأسرتكم لكل بالغ مكافئ، 154.12 شيكل، أقل من خط الفقر المدقع",
        "review_heading": "كيف تطلبون إعادة النظر أو تقدّمون شكوى",
        "review": "يمكنكم طلب إعادة النظر فيه. راجعوا مديرية التنمية الاجتماعية – رام الله",
        "complaint": "عبر قناة الشكاوى في وزارة التنمية الاجتماعية (وحدة الشكاوى)",
    },
}


def register_scored_household(page: Page) -> int:
    """Reception registers the household through the API; the registration scores it."""
    token = page.request.post("/api/v1/auth/token", data={"username": "reception1", "password": "demo"})
    assert token.status == 200, token.text()
    headers = {"Authorization": f"Bearer {token.json()['token']}"}
    opened = page.request.post("/api/v1/cases", data={}, headers=headers)
    assert opened.status == 201, opened.text()
    case_id = int(opened.json()["case_id"])
    tasks = page.request.get("/api/v1/tasks", headers=headers).json()["tasks"]
    task = next(t for t in tasks if t["case_id"] == case_id)
    done = page.request.post(f"/api/v1/tasks/{task['id']}/complete", data={"data": HOUSEHOLD}, headers=headers)
    assert done.status == 200, done.text()
    return case_id


def pdf_pages_to_png(pdf: Path) -> list[Path]:
    """Each page as PNG beside the screenshots (pdftoppm, when poppler-utils is installed), to look at."""
    if not shutil.which("pdftoppm"):
        return []
    subprocess.run(["pdftoppm", "-r", "80", "-png", str(pdf), str(pdf.with_suffix(""))], check=True, timeout=60)
    return sorted(pdf.parent.glob(pdf.stem + "-*.png"))


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_staff_read_the_reason_and_the_household_gets_a_letter_with_how_to_ask_for_a_review(
        page: Page, lang: str, shoot: Shoot) -> None:
    text = TEXT[lang]
    case_id = register_scored_household(page)
    log_in(page, "supervisor1", lang)

    page.goto(f"/cases/{case_id}")
    page.locator("#tab-eligibility").click()  # fetched when chosen
    panel = page.get_by_test_id("panel-eligibility")
    latest = panel.get_by_test_id("score-latest")
    expect(latest.get_by_test_id("reason")).to_have_text(text["reason"])
    expect(latest.get_by_test_id("thresholds")).to_contain_text(text["k"])
    expect(latest.get_by_test_id("income")).to_have_text(text["income"])
    expect(latest.locator("[data-indicator=overcrowding] td.value")).to_have_text(text["crowding"])
    shoot(page, f"explanation-{lang}-case-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, f"explanation-{lang}-case-phone")
    page.set_viewport_size({"width": 1366, "height": 900})

    page.goto(f"/cases/{case_id}/letter?lang={lang}")
    letter = page.get_by_test_id("letter")
    expect(letter).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    expect(letter.get_by_role("heading", level=1)).to_have_text(text["letter_title"])
    expect(letter.get_by_test_id("letter-result")).to_contain_text(text["result"])
    expect(letter.get_by_test_id("letter-why")).to_contain_text(text["why"])
    review = letter.get_by_test_id("letter-review")
    expect(review.get_by_role("heading", level=2)).to_have_text(text["review_heading"])
    expect(review).to_contain_text(text["review"])
    expect(review).to_contain_text(text["complaint"])
    shoot(page, f"letter-{lang}-desktop")
    page.set_viewport_size({"width": 390, "height": 844})
    shoot(page, f"letter-{lang}-phone")

    pdf = page.request.get(f"/cases/{case_id}/letter.pdf?lang={lang}")
    assert pdf.status == 200, pdf.text()
    assert pdf.headers["content-type"] == "application/pdf"
    body = pdf.body()
    assert body.startswith(b"%PDF-")
    assert b"DejaVuSans" in body  # the one font that shapes both scripts is embedded
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"letter-{lang}.pdf"
    target.write_bytes(body)
    pdf_pages_to_png(target)


def test_the_letter_of_another_directorates_case_does_not_exist_for_staff(page: Page) -> None:
    case_id = register_scored_household(page)
    log_in(page, "supervisor2", "en")  # Hebron; the case is Ramallah's
    for path in (f"/cases/{case_id}/letter", f"/cases/{case_id}/letter.pdf"):
        response = page.goto(path)
        assert response is not None and response.status == 404

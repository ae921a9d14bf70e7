"""Issue 10's smaller defects, each as the user meets it, in English and Arabic where the wording matters."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from lxml import html as lxml_html
from lxml.html import HtmlElement

from tests.conftest import Api
from tests.factories import member, registration
from tests.webui.test_case_paths import complete, open_case, register_and_recommend, task_of


def _page(response_text: str) -> HtmlElement:
    return lxml_html.fromstring(response_text)


def _text_of(page: HtmlElement, test_id: str) -> str:
    found = page.xpath("//*[@data-testid=$tid]", tid=test_id)
    assert found, test_id
    return " ".join(found[0].text_content().split())


CLOSED_TEXT = {
    "en": {"flash": "Saved. The case is now closed: the request was not accepted.",
           "outcome": "The case is closed: the request was not accepted. Income above the line."},
    "ar": {"flash": "تم الحفظ. أُغلقت الحالة: لم يُقبل الطلب.",
           "outcome": "الحالة مغلقة: لم يُقبل الطلب. Income above the line."},
}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_completion_that_ends_the_case_says_it_is_closed_in_success_styling(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], lang: str) -> None:
    case_id = register_and_recommend(api("reception1"))
    task = task_of(api("supervisor1"), case_id)
    supervisor = login_as("supervisor1", lang=lang)
    response = supervisor.post(f"/tasks/{task['id']}", data={"decision": "reject",
                                                            "rejection_reason": "Income above the line."},
                               follow_redirects=True)
    page = _page(response.get_data(as_text=True))
    flashes = page.xpath("//div[contains(@class, 'flash')]")
    assert [" ".join(f.text_content().split()) for f in flashes] == [CLOSED_TEXT[lang]["flash"]]
    assert "success" in flashes[0].get("class") and "error" not in flashes[0].get("class")
    outcome = page.xpath("//*[@data-testid='case-outcome']")[0]
    assert " ".join(outcome.text_content().split()) == CLOSED_TEXT[lang]["outcome"]
    assert "alert" not in outcome.get("class")


def _approved_case(api: Callable[[str], Api]) -> int:
    case_id = register_and_recommend(api("reception1"))
    complete(api("supervisor1"), case_id, {"decision": "approve"})
    return case_id


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_reassigning_explains_that_there_is_no_other_case_manager(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], lang: str) -> None:
    case_id = _approved_case(api)  # Ramallah has one case manager, who now holds the case
    page = _page(login_as("supervisor1", lang=lang).get(f"/cases/{case_id}").get_data(as_text=True))
    panel = page.xpath("//*[@data-testid='reassign']")[0]
    assert not panel.xpath(".//select") and not panel.xpath(".//button")
    expected = {"en": "No other case manager works in this directorate",
                "ar": "لا يعمل في هذه المديرية مدير حالة آخر"}[lang]
    assert expected in _text_of(page, "reassign-none")


def test_a_duplicate_registration_links_to_the_existing_case_in_the_same_directorate_only(
        login_as: Callable[..., FlaskClient]) -> None:
    reception = login_as("reception1")
    first = reception.post("/cases/new", data={"national_id": "123456782", "consent": "1"})
    assert first.status_code == 302
    case_link = re.search(r'href="(/cases/\d+)"', reception.get(first.headers["Location"]).get_data(as_text=True))
    assert case_link
    again = reception.post("/cases/new", data={"national_id": "123456782", "consent": "1"})
    assert again.status_code == 409
    page = _page(again.get_data(as_text=True))
    assert page.xpath("//a[@data-testid='existing-case']/@href") == [case_link.group(1)]
    assert "This applicant already has an open case (RBH-" in _text_of(page, "error-summary")
    # Another directorate's reception learns only that a case exists elsewhere, with no link to it.
    elsewhere = login_as("reception2").post("/cases/new", data={"national_id": "123456782", "consent": "1"})
    assert elsewhere.status_code == 409
    other = _page(elsewhere.get_data(as_text=True))
    assert not other.xpath("//a[@data-testid='existing-case']")
    assert "in another directorate" in _text_of(other, "error-summary")


@pytest.mark.parametrize(("lang", "shown", "hidden"), [("en", "Ahmad Odeh", "أحمد محمود عودة"),
                                                       ("ar", "أحمد محمود عودة", "Ahmad Odeh")])
def test_english_pages_show_the_latin_name_when_one_is_recorded(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], lang: str, shown: str,
        hidden: str) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    complete(reception, case_id, registration())
    browser = login_as("reception1", lang=lang)
    for path in ("/cases", f"/cases/{case_id}", "/"):
        text = browser.get(path).get_data(as_text=True)
        assert shown in text, path
    listing = browser.get("/cases").get_data(as_text=True)
    assert hidden not in listing
    # Without a Latin name, the Arabic one shows in English too.
    other = open_case(reception)
    complete(reception, other, registration(members=[member(name_ar="سلمى خليل", name_latin="")]))
    assert "سلمى خليل" in login_as("reception1").get("/cases").get_data(as_text=True)


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_eligibility_panel_names_the_rule_version_and_explains_the_fraction(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], lang: str) -> None:
    case_id = register_and_recommend(api("reception1"))
    page = _page(login_as("supervisor1", lang=lang).get(f"/cases/{case_id}?tab=eligibility").get_data(as_text=True))
    version = _text_of(page, "rule-version")
    assert version == {"en": "2025.1 (draft)", "ar": "2025.1 (مسودة)"}[lang]
    fraction = _text_of(page, "score-fraction")
    pattern = {"en": r"^\(\d+ of \d+ weighted deprivation points\)$",
               "ar": r"^\(\d+ من \d+ من نقاط الحرمان الموزونة\)$"}[lang]
    assert re.match(pattern, fraction), fraction
    assert "+" not in version and not re.search(r"\(\d+/\d+\)", page.text_content())


def test_amounts_have_two_decimals_and_their_currency(api: Callable[[str], Api],
                                                      login_as: Callable[..., FlaskClient]) -> None:
    case_id = register_and_recommend(api("reception1"), monthly_income=416)
    page = _page(login_as("supervisor1").get(f"/cases/{case_id}?tab=eligibility").get_data(as_text=True))
    text = " ".join(page.text_content().split())
    amounts = re.findall(r"([\d,.]+) NIS a month", text)
    assert amounts and all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d{2}", a) for a in amounts), amounts
    assert re.search(r"\d\.\d NIS", text) is None


@pytest.mark.parametrize(("lang", "yes", "no"), [("ar", "نعم", "لا"), ("en", "Yes", "No")])
def test_the_waiting_list_csv_says_yes_and_no_in_the_readers_language(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient], lang: str, yes: str, no: str) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    complete(reception, case_id, registration(monthly_income=0))  # poor: on the waiting list
    text = login_as("supervisor1", lang=lang).get("/registry/waiting-list.csv").get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline="")))
    cells = {cell for row in rows[1:] for cell in row}
    assert len(rows) > 1 and not cells & {"True", "False"}
    assert yes in cells and no in cells  # a member has a disability; the head is not a woman


def test_date_inputs_take_year_month_day(login_as: Callable[..., FlaskClient]) -> None:
    browser = login_as("reception1", lang="ar")
    task_url = browser.post("/cases/new", data={"national_id": "123456782", "consent": "1"}).headers["Location"]
    page = _page(browser.get(task_url).get_data(as_text=True))
    birth = page.xpath("//input[@name='members-0-birth_date']")[0]
    assert birth.get("type") == "text" and birth.get("inputmode") == "numeric" and birth.get("dir") == "ltr"
    assert birth.get("pattern") == "[0-9]{4}-[0-9]{2}-[0-9]{2}" and birth.get("placeholder") == "سنة-شهر-يوم"
    english = _page(login_as("reception1").get(task_url).get_data(as_text=True))
    assert english.xpath("//input[@name='members-0-birth_date']/@placeholder") == ["yyyy-mm-dd"]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_another_directorates_case_says_why_it_is_not_shown_and_where_to_go(
        login_as: Callable[..., FlaskClient], lang: str) -> None:
    reception = login_as("reception1")
    task_url = reception.post("/cases/new", data={"national_id": "123456782", "consent": "1"}).headers["Location"]
    case_link = re.search(r'href="(/cases/\d+)"', reception.get(task_url).get_data(as_text=True))
    assert case_link
    response = login_as("supervisor2", lang=lang).get(case_link.group(1))
    assert response.status_code == 404
    page = _page(response.get_data(as_text=True))
    expected = {"en": "This case does not exist, or it belongs to another directorate",
                "ar": "هذه الحالة غير موجودة، أو أنها تتبع مديرية أخرى"}[lang]
    assert _text_of(page, "error-message").startswith(expected)
    assert page.xpath("//main//a[@href='/']") and page.xpath("//main//a[@data-testid='error-search']")

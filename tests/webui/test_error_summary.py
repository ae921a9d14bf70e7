"""A failed submission lists every problem at the top of the form, each a link to its field; long forms come in
steps."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from lxml import html as lxml_html
from lxml.html import HtmlElement

from engine.forms import check_form, parse_form

ROOT = Path(__file__).resolve().parent.parent.parent


def _start(browser: FlaskClient, national_id: str = "123456782") -> str:
    response = browser.post("/cases/new", data={"national_id": national_id, "consent": "1"})
    assert response.status_code == 302
    location: str = response.headers["Location"]
    return location


def _parse(response_text: str) -> HtmlElement:
    return lxml_html.fromstring(response_text)


def _one(page: HtmlElement, xpath: str) -> HtmlElement:
    found = page.xpath(xpath)
    assert len(found) == 1, (xpath, len(found))
    element: HtmlElement = found[0]
    return element


def _text(element: HtmlElement) -> str:
    return " ".join(element.text_content().split())


def _by_id(page: HtmlElement, ident: str) -> HtmlElement | None:
    found = page.xpath("//*[@id=$ident]", ident=ident)
    return found[0] if found else None


def _bad_registration(browser: FlaskClient) -> HtmlElement:
    task_url = _start(browser)
    response = browser.post(task_url, data={"members-0-national_id": "123456789", "members-0-relation": "head",
                                            "rooms": "ثلاث"})
    assert response.status_code == 422
    return _parse(response.get_data(as_text=True))


SUMMARY_TEXT = {
    "en": {"heading": "Please correct the highlighted fields.", "phone": "Phone number: This field is required.",
           "row_id": "Household members (the head first), row 1: National ID: This is not a valid national ID "
                     "number (9 digits with a check digit).",
           "rooms": "Rooms used for sleeping: Enter a whole number.", "step": "Step 1 of 6:"},
    "ar": {"heading": "يُرجى تصحيح الحقول المُعلَّمة.", "phone": "رقم الهاتف: هذا الحقل مطلوب.",
           "row_id": "أفراد الأسرة (رب الأسرة أولاً)، الصف 1: رقم الهوية: رقم الهوية غير صحيح (9 أرقام مع رقم التحقق).",
           "rooms": "عدد غرف النوم: أدخِل عددًا صحيحًا.", "step": "الخطوة 1 من 6:"},
}


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_summary_lists_each_error_as_a_link_to_its_field(login_as: Callable[..., FlaskClient],
                                                             lang: str) -> None:
    page = _bad_registration(login_as("reception1", lang=lang))
    text = SUMMARY_TEXT[lang]
    summary = _one(page, "//*[@data-testid='error-summary']")
    assert _text(_one(summary, ".//h2")) == text["heading"]
    assert summary.get("tabindex") == "-1" and summary.get("autofocus") is not None
    links = {_text(a): a.get("href") for a in summary.xpath(".//a")}
    assert links[text["phone"]] == "#f-phone"
    assert links[text["row_id"]] == "#f-members-0-national_id"
    assert links[text["rooms"]] == "#f-rooms"
    # Every link leads to an element of the page, and the summary lists every message beside the fields.
    for href in links.values():
        assert _by_id(page, href[1:]) is not None, href
    assert len(summary.xpath(".//li")) == len(page.xpath("//p[@class='field-error']"))
    # The order is the form's: the applicant's phone comes before the members, the members before the rooms.
    hrefs = list(links.values())
    assert hrefs.index("#f-phone") < hrefs.index("#f-members-0-national_id") < hrefs.index("#f-rooms")


def test_each_field_names_its_error_message_for_screen_readers(login_as: Callable[..., FlaskClient]) -> None:
    page = _bad_registration(login_as("reception1"))
    for name in ("phone", "members-0-national_id", "rooms", "water_source"):
        field = _by_id(page, f"f-{name}")
        assert field is not None and field.get("aria-invalid") == "true", name
        message = _by_id(page, field.get("aria-describedby"))
        assert message is not None and message.xpath(".//p[@class='field-error']"), name
    unmarked = _by_id(page, "f-members-0-relation")  # answered correctly
    assert unmarked is not None and unmarked.get("aria-describedby") is None
    # A problem of the whole list (the group) is linked to the list itself.
    members = _by_id(page, "f-members")
    assert members is not None and members.tag == "fieldset"


def test_a_page_without_errors_has_no_summary(login_as: Callable[..., FlaskClient]) -> None:
    browser = login_as("reception1")
    html = browser.get(_start(browser)).get_data(as_text=True)
    assert 'data-testid="error-summary"' not in html


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_the_registration_form_is_drawn_in_the_steps_its_form_file_names(
        login_as: Callable[..., FlaskClient], lang: str) -> None:
    page = _bad_registration(login_as("reception1", lang=lang))
    steps = page.xpath("//fieldset[@data-step]")
    assert [s.get("data-step") for s in steps] == ["applicant", "household", "request", "dwelling", "wellbeing",
                                                    "sources"]
    assert _text(_one(steps[0], "./legend")).startswith(SUMMARY_TEXT[lang]["step"])
    # All steps are in the one HTML form (one submission, one validation), and each field in exactly one.
    assert all(s.xpath("ancestor::form[contains(@class, 'task-form')]") for s in steps)
    assert steps[0].xpath(".//*[@name='phone']") and steps[1].xpath(".//*[@name='members-0-national_id']")
    assert steps[3].xpath(".//*[@name='rooms']") and not steps[0].xpath(".//*[@name='rooms']")
    # The step navigation is hidden until the script shows it (without JavaScript every step shows).
    nav = _one(page, "//*[@data-steps-nav]")
    assert nav.get("hidden") is not None
    assert all(s.get("hidden") is None for s in steps)
    # Steps with problems say how many.
    marked = {b.get("data-step-target"): _text(b)
              for b in nav.xpath(".//button[contains(@class, 'step-link') and contains(@class, 'has-error')]")}
    assert set(marked) == {"applicant", "household", "request", "dwelling"}
    if lang == "en":
        assert re.search(r"Dwelling and living conditions \d+ problems", marked["dwelling"])


def test_sections_that_miss_or_repeat_a_field_are_reported_when_checked() -> None:
    text = (ROOT / "forms" / "registration.yaml").read_text(encoding="utf-8")
    form = parse_form("registration", text)
    assert not form.section_problems()
    broken = text.replace("fields: [reasons, reasons_details, monthly_income]",
                          "fields: [reasons, phone, monthly_income, no_such_field]")
    problems = check_form(parse_form("registration", broken))
    assert "sections.request: field 'phone' is already in another section" in problems
    assert "sections.request: unknown field 'no_such_field'" in problems
    assert "field 'reasons_details' is in no section" in problems
    # A field no section names is still drawn (in the last step), never lost.
    assert "reasons_details" in [f.name for f in parse_form("registration", broken).steps()[-1][1]]


@pytest.mark.parametrize("lang", ["en", "ar"])
def test_a_bad_national_id_on_the_new_registration_page_has_a_summary(login_as: Callable[..., FlaskClient],
                                                                     lang: str) -> None:
    response = login_as("reception1", lang=lang).post("/cases/new", data={"national_id": "123", "consent": "1"})
    assert response.status_code == 422
    page = _parse(response.get_data(as_text=True))
    summary = _one(page, "//*[@data-testid='error-summary']")
    assert summary.xpath(".//a[@href='#national_id']")
    field = _by_id(page, "national_id")
    assert field is not None and field.get("aria-describedby") == "e-national_id"
    assert field.get("autofocus") is None
    expected = {"en": "This is not a valid national ID number", "ar": "رقم الهوية غير صحيح"}[lang]
    assert expected in _text(summary)

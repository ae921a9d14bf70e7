"""A registration sent with mistakes comes back with the errors beside the fields, in the user's language,
and with everything that was typed still there."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.browser.steps import APPLICANT, Shoot, log_in, start_registration

pytestmark = pytest.mark.browser

TEXT = {
    "ar": {"correct": "يُرجى تصحيح الحقول المُعلَّمة.", "required": "هذا الحقل مطلوب.",
           "bad_id": "رقم الهوية غير صحيح (9 أرقام مع رقم التحقق).", "whole": "أدخِل عددًا صحيحًا.",
           "add_row": "إضافة صف", "from_interior": "من وزارة الداخلية، بتاريخ 2026-05-30"},
    "en": {"correct": "Please correct the highlighted fields.", "required": "This field is required.",
           "bad_id": "This is not a valid national ID number (9 digits with a check digit).",
           "whole": "Enter a whole number.", "add_row": "Add a row",
           "from_interior": "From Ministry of Interior, 2026-05-30"},
}


def field_of(page: Page, name: str) -> Locator:
    """The field block (label, input, help, errors) around the input called ``name``."""
    return page.locator(".field", has=page.locator(f"[name='{name}']"))


@pytest.mark.parametrize("lang", ["ar", "en"])
def test_a_bad_registration_shows_inline_errors_and_keeps_what_was_typed(page: Page, lang: str,
                                                                          shoot: Shoot) -> None:
    text = TEXT[lang]
    log_in(page, "reception1", lang)
    start_registration(page, APPLICANT)
    expect(page.locator("[data-group=members] [data-row]")).to_have_count(3)

    # A fourth member with a national ID whose check digit is wrong.
    page.get_by_role("button", name=text["add_row"]).click()
    expect(page.locator("[data-group=members] [data-row]")).to_have_count(4)
    new_row = page.locator("[data-group=members] [data-row]").nth(3)
    expect(new_row.locator(".row-number")).to_have_text("4")
    expect(new_row.locator(".source")).to_have_count(0)  # a typed row has no ministry badge
    page.locator("input[name=members-3-national_id]").fill("123456789")
    page.locator("input[name=members-3-name_ar]").fill("سامي عيسى إبراهيم يعقوب")
    page.locator("select[name=members-3-relation]").select_option("son")
    page.locator("select[name=members-3-sex]").select_option("male")
    page.locator("input[name=members-3-birth_date]").fill("1975-03-14")
    # The phone is left empty; the rooms are written out in words.
    page.locator("input[name=consent_data_exchange]").check()
    page.locator("input[name=reasons][value=illness]").check()
    page.locator("textarea[name=reasons_details]").fill("Typed text that must survive the round trip.")
    page.locator("input[name=monthly_income]").fill("350")
    page.locator("select[name=dwelling_type]").select_option("house")
    page.locator("input[name=rooms]").fill("ثلاث")
    page.get_by_test_id("submit").click()

    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    expect(page.get_by_test_id("form-message")).to_have_text(text["correct"])
    bad_id = field_of(page, "members-3-national_id")
    expect(bad_id).to_have_class(re.compile(r"\bhas-error\b"))
    expect(bad_id.locator(".field-error")).to_have_text(text["bad_id"])
    expect(field_of(page, "phone").locator(".field-error")).to_have_text(text["required"])
    expect(field_of(page, "rooms").locator(".field-error")).to_have_text(text["whole"])
    expect(field_of(page, "water_source").locator(".field-error")).to_have_text(text["required"])
    # Fields that were right carry no error.
    expect(field_of(page, "members-0-national_id").locator(".field-error")).to_have_count(0)
    expect(field_of(page, "monthly_income").locator(".field-error")).to_have_count(0)
    # The error sits next to its own field: just below the input, inside the same block.
    input_box = page.locator("input[name=members-3-national_id]").bounding_box()
    error_box = bad_id.locator(".field-error").bounding_box()
    assert input_box and error_box and 0 <= error_box["y"] - (input_box["y"] + input_box["height"]) < 40

    # Everything typed is still there, and the prefilled rows keep their sources.
    expect(page.locator("[data-group=members] [data-row]")).to_have_count(4)
    expect(page.locator("input[name=members-3-national_id]")).to_have_value("123456789")
    expect(page.locator("input[name=members-3-name_ar]")).to_have_value("سامي عيسى إبراهيم يعقوب")
    expect(page.locator("select[name=members-3-relation]")).to_have_value("son")
    expect(page.locator("input[name=members-3-birth_date]")).to_have_value("1975-03-14")
    expect(page.locator("input[name=members-0-name_ar]")).to_have_value("عيسى إبراهيم موسى يعقوب")
    expect(page.locator("textarea[name=reasons_details]")).to_have_value(
        "Typed text that must survive the round trip.")
    expect(page.locator("input[name=monthly_income]")).to_have_value("350")
    expect(page.locator("input[name=rooms]")).to_have_value("ثلاث")
    expect(page.locator("select[name=dwelling_type]")).to_have_value("house")
    expect(page.locator("input[name=reasons][value=illness]")).to_be_checked()
    expect(page.locator("input[name=consent_data_exchange]")).to_be_checked()
    expect(page.get_by_test_id("source-members.0.name_ar")).to_have_text(text["from_interior"])
    shoot(page, f"{lang}-14-registration-errors")

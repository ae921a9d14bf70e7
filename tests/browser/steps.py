"""What staff do in the browser, step by step, and the words they read in each language."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect

Shoot = Callable[[Page, str], Path]

# What the user reads, in each language (the glossary's wording).
TEXT = {
    "ar": {
        "login": "تسجيل الدخول", "inbox": "صندوق المهام", "mine": "مهامي", "open": "المهام المفتوحة لدوري",
        "register": "تسجيل الأسرة", "prefill_panel": "بيانات من الوزارات الأخرى", "interior": "وزارة الداخلية",
        "health": "وزارة الصحة", "education": "وزارة التربية والتعليم",
        "from_interior": "من وزارة الداخلية، بتاريخ 2026-05-30", "members": "أفراد الأسرة (رب الأسرة أولاً)",
        "recommend": "التوصية بشأن الأهلية", "eligibility": "الأهلية: الفقر متعدد الأبعاد",
        "categories": ("فقر مدقع", "فقير", "غير فقير"), "deprived": "نعم", "review": "مراجعة الأهلية",
        "claimed": "استلمتَ المهمة، وهي الآن مُسندة إليك.", "saved": "تم الحفظ. انتقلت الحالة إلى الخطوة التالية.",
        "visit": "زيارة ميدانية لتقييم الاحتياجات", "stage_registration": "التسجيل",
        "stage_eligibility": "مراجعة الأهلية", "stage_assessment": "تقييم الاحتياجات", "status_open": "مفتوحة",
        "history": "سجل الإجراءات",
        "events": ("فُتحت الحالة", "سُجّلت الأسرة في السجل", "احتُسبت الأهلية", "استُلمت مهمة",
                   "عُيّن مدير الحالة"),
        "logout": "تسجيل الخروج", "reception": "الاستقبال", "supervisor": "المشرف", "case_manager": "مدير الحالة",
    },
    "en": {
        "login": "Log in", "inbox": "Task inbox", "mine": "My tasks", "open": "Open tasks of my role",
        "register": "Register the household", "prefill_panel": "Data from other ministries",
        "interior": "Ministry of Interior", "health": "Ministry of Health", "education": "Ministry of Education",
        "from_interior": "From Ministry of Interior, 2026-05-30", "members": "Household members (the head first)",
        "recommend": "Recommend on eligibility", "eligibility": "Eligibility: multidimensional poverty",
        "categories": ("Deeply poor", "Poor", "Not poor"), "deprived": "Yes", "review": "Review eligibility",
        "claimed": "The task is now yours.", "saved": "Saved. The case moved on.",
        "visit": "Needs assessment field visit", "stage_registration": "Registration",
        "stage_eligibility": "Eligibility review", "stage_assessment": "Needs assessment", "status_open": "Open",
        "history": "History",
        "events": ("Case opened", "Household recorded in the registry", "Eligibility scored", "Task claimed",
                   "Case manager assigned"),
        "logout": "Log out", "reception": "Reception", "supervisor": "Supervisor", "case_manager": "Case manager",
    },
}
APPLICANT = "971748207"  # Deir Dibwan, Ramallah: known to Interior, Education and Health, not seeded


def log_in(page: Page, username: str, lang: str, shoot: Shoot | None = None) -> None:
    """Log in through the login page, switching its language with the header's button when needed."""
    text = TEXT[lang]
    page.goto("/login")
    if page.locator("html").get_attribute("lang") != lang:
        # Wait for the switch's own round trip (the URL is /login before and after it).
        with page.expect_navigation(timeout=30_000):
            page.get_by_test_id("language-switch").click()
    expect(page.locator("html")).to_have_attribute("lang", lang)
    expect(page.locator("html")).to_have_attribute("dir", "rtl" if lang == "ar" else "ltr")
    expect(page.get_by_role("heading", name=text["login"])).to_be_visible()
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill("demo")
    if shoot:
        shoot(page, f"{lang}-01-login")
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("heading", level=1, name=text["inbox"])).to_be_visible()
    expect(page.locator("h2", has_text=text["mine"])).to_be_visible()
    expect(page.locator("h2", has_text=text["open"])).to_be_visible()


def log_out(page: Page, lang: str) -> None:
    page.get_by_role("button", name=TEXT[lang]["logout"]).click()
    expect(page.get_by_role("heading", name=TEXT[lang]["login"])).to_be_visible()


def start_registration(page: Page, national_id: str, screenshot: Callable[[], object] | None = None, *,
                       all_steps: bool = True) -> None:
    """Open a registration for ``national_id`` with the household's consent; lands on the registration task.

    With ``all_steps`` the form shows every step at once (the page's own toggle, remembered for the tab), as a
    reception officer copying a paper form would choose; otherwise it shows one step at a time.
    """
    page.goto("/cases/new")
    page.locator("#national_id").fill(national_id)
    expect(page.locator("input[name=consent]")).to_be_checked()
    if screenshot:
        screenshot()
    page.get_by_test_id("start-registration").click()
    page.wait_for_url(re.compile(r"/tasks/[0-9a-f-]{36}$"))
    if all_steps:
        page.get_by_test_id("steps-all").click()
        expect(page.locator("[data-step]:visible")).to_have_count(page.locator("[data-step]").count())

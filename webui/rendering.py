"""Template helpers: pick the user's language from bilingual labels, show values as people read them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Flask
from flask_babel import format_datetime
from flask_babel import gettext as _

from engine.forms import FieldDef, FormDef, load_form
from webui.db import library


def when(value: dt.datetime | None) -> str:
    return format_datetime(value, "yyyy-MM-dd HH:mm") if value else "—"


def pick(labels: dict[str, str] | None, lang: str) -> str:
    if not labels:
        return ""
    return labels.get(lang) or labels.get("en") or next(iter(labels.values()), "")


def display(field: FieldDef, value: Any, lang: str) -> str:
    """A submitted value as text for a person: choice labels, yes/no, dates, lists."""
    if value is None or value == "" or value == []:
        return "—"
    if field.type == "boolean":
        return _("Yes") if value else _("No")
    if field.type == "choice":
        return next((pick(c.label, lang) for c in field.choices if c.value == str(value)), str(value))
    if field.type == "multichoice":
        labels = {c.value: pick(c.label, lang) for c in field.choices}
        separator = "، " if lang == "ar" else ", "
        return separator.join(labels.get(v, v) for v in value)
    if field.type == "file":
        return ", ".join(str(item.get("name")) for item in value if isinstance(item, dict))
    return str(value)


def submission_form(key: str) -> FormDef | None:
    try:
        return load_form(library().forms_dir, key)
    except FileNotFoundError:
        return None


STAGES = {
    "registration": ("Registration", "التسجيل"),
    "eligibility": ("Eligibility review", "مراجعة الأهلية"),
    "assessment": ("Needs assessment", "تقييم الاحتياجات"),
    "planning": ("Assistance planning", "تخطيط المساعدة"),
    "implementation": ("Implementation and follow-up", "التنفيذ والمتابعة"),
    "evaluation": ("Outcome evaluation", "تقييم النتائج"),
    "closed": ("Closed", "مغلقة"),
}
STATUSES = {"open": ("Open", "مفتوحة"), "rejected": ("Rejected", "مرفوضة"), "closed": ("Closed", "مغلقة")}
CATEGORIES = {"deeply_poor": ("Deeply poor", "فقر مدقع"), "poor": ("Poor", "فقير"),
              "not_poor": ("Not poor", "غير فقير")}
ROLES = {"reception": ("Reception", "الاستقبال"), "supervisor": ("Supervisor", "المشرف"),
         "case_manager": ("Case manager", "مدير الحالة"), "analyst": ("Process analyst", "محلل العمليات"),
         "admin": ("Administrator", "مدير النظام")}
ACTIONS = {
    "case_opened": ("Case opened", "فُتحت الحالة"),
    "task_completed": ("Task completed", "أُنجزت مهمة"),
    "task_claimed": ("Task claimed", "استُلمت مهمة"),
    "task_released": ("Task released", "أُرجعت مهمة"),
    "household_recorded": ("Household recorded in the registry", "سُجّلت الأسرة في السجل"),
    "eligibility_scored": ("Eligibility scored", "احتُسبت الأهلية"),
    "documents_requested": ("Additional documents requested", "طُلبت وثائق إضافية"),
    "case_manager_assigned": ("Case manager assigned", "عُيّن مدير الحالة"),
    "plan_extended": ("Intervention period extended", "مُدّدت فترة التدخل"),
    "case_closed": ("Case closed", "أُغلقت الحالة"),
    "case_rejected": ("Request rejected", "رُفض الطلب"),
    "household_rescored": ("Household re-scored", "أُعيد احتساب الأهلية"),
    "field_corrected": ("Pre-filled value corrected", "صُحّحت قيمة معبأة مسبقاً"),
    "case_reassigned": ("Case reassigned", "أُعيد إسناد الحالة"),
    "household_moved": ("Household moved from another directorate", "انتقلت الأسرة من مديرية أخرى"),
}


_SIMPLE_CONDITION = re.compile(r'^\s*([a-z_][a-z0-9_]*)\s*==\s*["\']([^"\']*)["\']\s*$')
SOURCES = {"interior": ("Ministry of Interior", "وزارة الداخلية"), "education": ("Ministry of Education",
           "وزارة التربية والتعليم"), "health": ("Ministry of Health", "وزارة الصحة")}


def show_rule(field: FieldDef) -> tuple[str, list[str]] | None:
    """A ``show_if`` of the form ``name == "value"`` for the page's script; the server checks any form."""
    if not field.show_if:
        return None
    match = _SIMPLE_CONDITION.match(field.show_if)
    return (match.group(1), [match.group(2)]) if match else None


def term(table: dict[str, tuple[str, str]], key: str | None, lang: str) -> str:
    if key is None:
        return "—"
    en, ar = table.get(key, (key, key))
    return ar if lang == "ar" else en


def choice_label(form_key: str, path: str, value: Any, lang: str) -> str:
    """The label of a choice as its form file words it (``path`` like ``members.relation``)."""
    form = submission_form(form_key)
    fields = form.fields if form else ()
    field = None
    for part in path.split("."):
        field = next((f for f in fields if f.name == part), None)
        fields = field.fields if field else ()
    if field is None:
        return str(value)
    return next((pick(c.label, lang) for c in field.choices if c.value == value), str(value))


def register_template_helpers(app: Flask) -> None:
    from webui import current_language

    app.jinja_env.globals["choice_label"] = lambda form_key, path, value: choice_label(
        form_key, path, value, current_language())
    app.jinja_env.filters["choice_label_for"] = lambda value, form_key, path: choice_label(
        form_key, path, value, current_language())
    app.jinja_env.globals.update(
        pick=pick, display=display, submission_form=submission_form, when=when, term=term, show_rule=show_rule,
        SOURCES=SOURCES,
        STAGES=STAGES, STATUSES=STATUSES, CATEGORIES=CATEGORIES, ROLES=ROLES, ACTIONS=ACTIONS,
    )

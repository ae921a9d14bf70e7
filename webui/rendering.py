"""Template helpers: name process words in the user's language (one way: ``label``), show values as people read them."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Flask, g
from flask_babel import format_decimal, get_locale, get_timezone, get_translations
from flask_babel import gettext as _

from engine.forms import FieldDef, FormDef, load_form
from engine.models import TaskRecord
from engine.vocabulary import Vocabulary
from registry.eligibility import RuleFileInvalid, category_label, load_measure
from registry.ministries import ministry_name
from registry.registration import REGISTRATION_FORM
from registry.vocabulary import has_own_vocabulary, shown_case_fields, vocabulary_of_key
from webui.db import db_session, deployed_library, deployed_version, library
from webui.form_errors import error_links


def when(value: dt.datetime | None) -> str:
    """A moment in the reader's time zone as ``yyyy-MM-dd HH:mm`` (naive values are UTC)."""
    if not value:
        return "—"
    # What flask_babel's format_datetime gives for this pattern (digits are Latin in every locale), without
    # looking up the locale and time zone for each of a list's hundreds of dates.
    zone = g.get("user_timezone")
    if zone is None:
        zone = g.user_timezone = get_timezone()
    moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone).strftime("%Y-%m-%d %H:%M")


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


def number(value: Any, decimals: int = 2) -> str:
    """A number as people read it: grouped thousands and a fixed number of decimals (416.00 beside 271.76)."""
    if value is None or value == "":
        return "—"
    try:
        amount = float(value)
    except (TypeError, ValueError):  # already worded for people (an explanation's "3,467.78")
        return str(value)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(amount, format=pattern)


def money(value: Any) -> str:
    """An amount in shekels with two decimals and its currency, in the reader's language."""
    if value is None or value == "":
        return "—"
    return _("%(amount)s NIS", amount=number(value, 2))


def rule_version_label(version: str | None) -> str:
    """A rule version as people name it: the analysts' version without the content hash (``+3f33…``)."""
    if not version:
        return "—"
    name = version.split("+", 1)[0]
    if name.endswith("-draft"):
        return _("%(version)s (draft)", version=name.removesuffix("-draft"))
    return name


def score_fraction(exact: str | None) -> str:
    """An exact score such as ``11/24`` in words: "11 of 24" weighted deprivation points."""
    numerator, slash, denominator = (exact or "").partition("/")
    if not slash:
        return ""
    return _("%(part)s of %(whole)s weighted deprivation points", part=numerator, whole=denominator)


def person_name(person: Any, lang: str) -> str:
    """A person's name for the reader: the Latin spelling in English when one is recorded, else the Arabic.

    Takes a Person (``name_ar``/``name_latin``) or a name from a list (a str that may carry ``latin``).
    """
    if person is None:
        return ""
    latin = getattr(person, "name_latin", None) or getattr(person, "latin", None)
    if lang == "en" and latin:
        return str(latin)
    return str(getattr(person, "name_ar", person) or "")


def submission_form(key: str) -> FormDef | None:
    # Once per request and form: a case page names choices of a few forms hundreds of times.
    forms: dict[str, FormDef | None] = g.setdefault("submission_forms", {})
    if key not in forms:
        try:
            forms[key] = load_form(deployed_library().forms_dir, key)
        except FileNotFoundError:
            forms[key] = None
    return forms[key]


_SIMPLE_CONDITION = re.compile(r'^\s*([a-z_][a-z0-9_]*)\s*==\s*["\']([^"\']*)["\']\s*$')


def show_rule(field: FieldDef) -> tuple[str, list[str]] | None:
    """A ``show_if`` of the form ``name == "value"`` for the page's script; the server checks any form."""
    if not field.show_if:
        return None
    match = _SIMPLE_CONDITION.match(field.show_if)
    return (match.group(1), [match.group(2)]) if match else None


def vocabulary() -> Vocabulary:
    """The process words of this request: the latest deployed version's (cached by its content hash)."""
    if "vocabulary" not in g:
        g.vocabulary = vocabulary_of_key(db_session(), library(), deployed_version())
    found: Vocabulary = g.vocabulary
    return found


#: Labels as pages show them, by deployed version (content hash) and language, then (kind, key): a deployed
#: version's words never change, so every request of every worker on that version shares them.
_VERSION_LABELS: dict[tuple[str, str], dict[tuple[str, str], str]] = {}
#: Keys come from stored data (audit details name categories): a bound keeps an odd value from growing it.
_MAX_LABELS = 5000


def _labels(lang: str) -> dict[tuple[str, str], str]:
    """This request's label cache for ``lang``: the deployed version's shared one, or the request's own while
    the words come from the working files (none deployed, or a version older than the vocabulary file), which
    may change between requests."""
    by_lang: dict[str, dict[tuple[str, str], str]] = g.setdefault("page_labels", {})
    found = by_lang.get(lang)
    if found is None:
        vocabulary()  # reads the version's own words, if it has them
        key = deployed_version()
        if key is not None and has_own_vocabulary(key.content_hash):
            found = _VERSION_LABELS.setdefault((key.content_hash, lang), {})
        else:
            found = {}
        by_lang[lang] = found
    return found


def _look_up(kind: str, key: str, lang: str) -> str:
    if kind == "category":
        return category_label(deployed_library().rules_dir, key, lang)
    if kind == "source":
        return ministry_name(key, lang)
    return vocabulary().label(kind, key, lang)


def label(kind: str, key: str | None, lang: str) -> str:
    """The one way pages name a process word: a stage, status, role, task, action or case field from the
    process vocabulary, a poverty category from the rules, a data source from the ministries' names."""
    if key is None:
        return "—"
    labels = _labels(lang)
    text = labels.get((kind, key))
    if text is None:
        text = _look_up(kind, key, lang)
        if len(labels) < _MAX_LABELS:
            labels[(kind, key)] = text
    return text


def page_language() -> str:
    """The reader's language, worked out once per request (a list page names hundreds of words)."""
    lang = g.get("page_language")
    if lang is None:
        from webui import current_language

        lang = g.page_language = current_language()
    return str(lang)


def task_name(record: TaskRecord, lang: str) -> str:
    """A task as people call it: its name in the diagram, which is English; in Arabic, the vocabulary's name."""
    words = vocabulary()
    if lang != "en" and words.has("task", record.spec_id):
        return words.label("task", record.spec_id, lang)
    return record.title


def case_fields(values: dict[str, Any] | None, lang: str) -> list[tuple[str, str, Any, str]]:
    """The case fields that have a value: (name, label in ``lang``, value with dates as dates, type)."""
    return [(f.name, pick(dict(f.label), lang) or f.name, value, f.type)
            for f, value in shown_case_fields(vocabulary(), values or {})]


def _form_field(form_key: str, path: str) -> FieldDef | None:
    """A field of a deployed form by its path (``members.relation`` for a group's row field)."""
    form = submission_form(form_key)
    fields = form.fields if form else ()
    field = None
    for part in path.split("."):
        field = next((f for f in fields if f.name == part), None)
        fields = field.fields if field else ()
    return field


def choice_label(form_key: str, path: str, value: Any, lang: str) -> str:
    """The label of a choice as its form file words it (``path`` like ``members.relation``)."""
    field = _form_field(form_key, path)
    if field is None:
        return str(value)
    return next((pick(c.label, lang) for c in field.choices if c.value == value), str(value))


def field_label(form_key: str, path: str, lang: str) -> str:
    """A field's label as its form file words it (``path`` like ``members.birth_date``); the path when unknown."""
    field = _form_field(form_key, path)
    return pick(field.label, lang) if field is not None else path


def warm_up(app: Flask) -> None:
    """Compile every template and read the deployed forms, rules and words once: called in gunicorn's master
    before it forks (gunicorn.conf.py), so each worker starts with them instead of paying about a second of
    CPU on its first requests. What it reads is cached by content, so a later deployment is still seen."""
    for name in app.jinja_env.list_templates(extensions=("html",)):
        app.jinja_env.get_template(name)
    with app.test_request_context("/"):
        for files in (library(), deployed_library()):
            for path in sorted(files.forms_dir.glob("*.yaml")):
                try:
                    load_form(files.forms_dir, path.stem)
                except Exception:  # noqa: S112 - a broken working file is reported where it is used, not at start
                    continue
            try:
                load_measure(files.rules_dir)
            except RuleFileInvalid:
                pass
        vocabulary()
        from webui.explanations import current_measure

        current_measure()
    app.extensions["db_engine"].dispose()  # no database connection is inherited across the fork


def _translations() -> Any:
    """The catalogue of the request's current locale, looked up once per request and locale (``force_locale``
    changes the locale object, so the object is the key): pages translate a hundred strings or more."""
    locale = get_locale()
    found = g.get("page_translations")
    if found is None or found[0] is not locale:
        found = g.page_translations = (locale, get_translations())
    return found[1]


def register_template_helpers(app: Flask) -> None:
    # The same callables flask_babel installs, minus its per-string look-up of context, domain and locale.
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=lambda s: _translations().ugettext(s),
        ngettext=lambda s, p, n: _translations().ungettext(s, p, n),
        pgettext=lambda c, s: _translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _translations().unpgettext(c, s, p, n),
        newstyle=True)
    app.jinja_env.globals["choice_label"] = lambda form_key, path, value: choice_label(
        form_key, path, value, page_language())
    app.jinja_env.filters["choice_label_for"] = lambda value, form_key, path: choice_label(
        form_key, path, value, page_language())
    app.jinja_env.globals.update(
        pick=pick, display=display, submission_form=submission_form, when=when, show_rule=show_rule,
        REGISTRATION_FORM=REGISTRATION_FORM,
    )
    app.jinja_env.globals["label"] = lambda kind, key: label(kind, key, page_language())
    app.jinja_env.globals["field_label"] = lambda form_key, path: field_label(form_key, path, page_language())
    app.jinja_env.globals["task_name"] = lambda record: task_name(record, page_language())
    app.jinja_env.globals["case_fields"] = lambda values: case_fields(values, page_language())
    app.jinja_env.globals.update(number=number, money=money, rule_version_label=rule_version_label,
                                 score_fraction=score_fraction)
    app.jinja_env.globals["person_name"] = lambda person: person_name(person, page_language())
    app.jinja_env.globals["error_links"] = lambda form, errors: error_links(form, errors, page_language())

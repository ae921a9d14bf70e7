"""The ``notify`` operation diagrams call: a message to the case's household, and its check at deploy time."""

from __future__ import annotations

import ast
import datetime as dt
import functools
from pathlib import Path
from typing import Any

from sqlalchemy.orm import joinedload, lazyload

from engine.catalog import OperationContext
from engine.forms import FormDef, load_form
from engine.library import parse_duration
from registry.citizens.access import account_of_case
from registry.models import Case, Household
from registry.notifications.services import queue_message
from registry.notifications.templates import DEFAULT_LANGUAGE, NOTIFICATIONS_FILE, parse_templates
from registry.operations import MINISTRY_TIMEZONE

#: Placeholders the operation fills itself; every other one must be a parameter of the service task.
AUTOMATIC = frozenset({"reference"})
#: Parameters that tell the operation how to write the others rather than fill a placeholder:
#: ``labels_from`` ({"missing": "eligibility_review.missing_documents"}) writes a parameter's choice codes as
#: the labels that form field gives them; ``due_in`` ("P14D") fills {due} with the household's date that far
#: from now (as a task's ``dueIn`` counts it).
HOW_TO_WRITE = frozenset({"template", "labels_from", "due_in"})
#: The project's forms, for versions deployed before a diagram named any.
PROJECT_FORMS = Path(__file__).resolve().parents[2] / "forms"


@functools.lru_cache(maxsize=64)
def _deployed_files(rules_dir: str) -> tuple[Path | None, Path | None]:
    """A deployed version's messages file and forms folder (None where the version has none).

    Its folder is named by its content hash and never changes, so each is looked for once per process.
    """
    root = Path(rules_dir).parent
    templates, forms = root / "processes" / NOTIFICATIONS_FILE, root / "forms"
    return (templates if templates.exists() else None), (forms if forms.is_dir() else None)


def _templates_path(context: OperationContext) -> Path | None:
    """The case's deployed version's messages; versions deployed before the file existed use the project's."""
    return _deployed_files(context.rules_dir)[0] if context.rules_dir else None


#: How a list given as a parameter is written in a message, by language.
LIST_SEPARATORS = {"ar": "، ", "en": ", "}


def _joined(params: dict[str, Any], lang: str) -> dict[str, Any]:
    """Parameters as a message writes them: a list (the documents asked for, ...) as one line in the language."""
    separator = LIST_SEPARATORS.get(lang, ", ")
    return {name: separator.join(str(item) for item in value) if isinstance(value, list | tuple) else value
            for name, value in params.items()}


def _forms_dir(context: OperationContext) -> Path:
    """The case's deployed version's forms (beside its rules), else the project's."""
    forms = _deployed_files(context.rules_dir)[1] if context.rules_dir else None
    return forms or PROJECT_FORMS


def _choice_labels(forms_dir: Path, reference: str) -> dict[str, dict[str, str]]:
    """The labels (by language) of the choices of ``<form>.<field>``; KeyError when there is no such field.

    A deployed version's are read once (its files never change); the project's working files every time.
    """
    if forms_dir == PROJECT_FORMS:
        return _read_choice_labels(forms_dir, reference)
    return _deployed_choice_labels(forms_dir, reference)


def _read_choice_labels(forms_dir: Path, reference: str) -> dict[str, dict[str, str]]:
    form_key, _, field_name = reference.partition(".")
    form: FormDef = load_form(forms_dir, form_key)
    field = next((f for f in form.fields if f.name == field_name), None)
    if field is None or not field.choices:
        raise KeyError(f"{reference} is not a field with choices")
    return {choice.value: choice.label for choice in field.choices}


_deployed_choice_labels = functools.lru_cache(maxsize=256)(_read_choice_labels)


def _worded(params: dict[str, Any], labels_from: Any, forms_dir: Path, lang: str) -> dict[str, Any]:
    """Parameters holding choice codes written as the household reads them (an unknown code stays as it is)."""
    if not labels_from:
        return params
    worded = dict(params)
    for name, reference in dict(labels_from).items():
        if name not in worded:
            continue
        labels = _choice_labels(forms_dir, str(reference))
        codes = worded[name] if isinstance(worded[name], list | tuple) else [worded[name]]
        worded[name] = [labels[str(code)].get(lang) or labels[str(code)].get(DEFAULT_LANGUAGE) or str(code)
                        if str(code) in labels else str(code) for code in codes if code not in (None, "")]
    return worded


def household_date(now: dt.datetime, due_in: str) -> str:
    """The household's calendar day ``due_in`` (ISO duration) from ``now``: the day a ``dueIn`` task falls due."""
    return (now + parse_duration(str(due_in))).astimezone(MINISTRY_TIMEZONE).date().isoformat()


#: The case with its household in one query; only the phone is needed, so the members stay unread.
_WITHOUT_MEMBERS = (lazyload(Household.members),)
_WITH_HOUSEHOLD = (joinedload(Case.household).options(*_WITHOUT_MEMBERS),)


def notify(context: OperationContext, template: Any = None, labels_from: Any = None, due_in: Any = None,
           **params: Any) -> dict[str, Any]:
    """Queue the message ``template`` to the case's household: the portal account's mobile, else the
    household's phone; nothing when neither is known (the result says so, the case goes on).

    ``labels_from`` and ``due_in`` (see HOW_TO_WRITE) word codes and compute the household's date."""
    session = context.session
    case = session.get(Case, int(context.business_key), options=_WITH_HOUSEHOLD)
    if case is None:
        raise LookupError(f"case {context.business_key} not found")
    household = session.get(Household, case.household_id, options=_WITHOUT_MEMBERS) if case.household_id else None
    account = account_of_case(session, case)  # registry.citizens.access: never an unverified account
    mobile = account.mobile if account is not None else household.phone if household is not None else None
    if not mobile:
        return {"queued": False, "template": template, "reason": "no mobile number known for the household"}
    lang = (account.lang if account is not None else None) or DEFAULT_LANGUAGE
    params = _worded(params, labels_from, _forms_dir(context), lang)
    if due_in:
        params["due"] = household_date(context.now, due_in)
    message = queue_message(
        session, template=str(template), params={"reference": case.reference, **_joined(params, lang)},
        lang=lang, now=context.now, to_mobile=mobile,
        citizen_id=account.id if account is not None else None, business_key=case.reference,
        directorate_id=case.directorate_id, templates_path=_templates_path(context))
    return {"queued": True, "template": template, "message_id": message.id}


def check_notify(params: dict[str, str | None], processes_dir: Path) -> list[str]:
    """``template`` names a message of notifications.yaml, and every placeholder it uses is given."""
    expression = params.get("template")
    if not expression:
        return ["notify needs a 'template' parameter naming a message of notifications.yaml"]
    try:
        key = ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        key = None
    if not isinstance(key, str):
        return [f"parameter template must be a quoted message name such as \"decision_made\", not {expression}"]
    try:
        templates = parse_templates((processes_dir / NOTIFICATIONS_FILE).read_bytes())
    except FileNotFoundError:
        return [f"notify sends {key!r}, and processes/{NOTIFICATIONS_FILE} is missing"]
    except ValueError:
        return []  # reported against the file itself
    found = templates.get(key)
    if found is None:
        return [f"unknown message template {key!r} (not in {NOTIFICATIONS_FILE})"]
    problems = _check_due_in(params.get("due_in")) + _check_labels_from(params, processes_dir)
    given = (set(params) - HOW_TO_WRITE) | AUTOMATIC | ({"due"} if params.get("due_in") else set())
    return problems + [f"message {key!r} uses {{{name}}}: give it as a parameter of this task"
                       for name in sorted(found.placeholders() - given)]


def _check_due_in(expression: str | None) -> list[str]:
    if not expression:
        return []
    try:
        value = ast.literal_eval(expression)
        parse_duration(str(value))
    except (ValueError, SyntaxError):
        return [f"parameter due_in must be a quoted ISO duration such as \"P14D\", not {expression}"]
    return []


def _check_labels_from(params: dict[str, str | None], processes_dir: Path) -> list[str]:
    """``labels_from`` maps parameters of this task to form fields with choices: {"missing": "form.field"}."""
    expression = params.get("labels_from")
    if not expression:
        return []
    try:
        mapping = ast.literal_eval(expression)
    except (ValueError, SyntaxError):
        mapping = None
    if not isinstance(mapping, dict) or not all(isinstance(v, str) for v in mapping.values()):
        return [f"parameter labels_from must map parameters to form fields, such as "
                f"{{\"missing\": \"eligibility_review.missing_documents\"}}, not {expression}"]
    problems = []
    for name, reference in mapping.items():
        if name not in params:
            problems.append(f"labels_from words {name!r}, which is not a parameter of this task")
        try:
            _read_choice_labels(processes_dir.parent / "forms", reference)
        except (KeyError, FileNotFoundError, ValueError):
            problems.append(f"labels_from: {reference!r} is not a form field with choices (<form>.<field>)")
    return problems

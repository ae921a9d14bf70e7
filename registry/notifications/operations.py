"""The ``notify`` operation diagrams call: a message to the case's household, and its check at deploy time."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from engine.catalog import OperationContext
from registry.citizens.access import account_of_case
from registry.models import Case, Household
from registry.notifications.services import queue_message
from registry.notifications.templates import DEFAULT_LANGUAGE, NOTIFICATIONS_FILE, parse_templates

#: Placeholders the operation fills itself; every other one must be a parameter of the service task.
AUTOMATIC = frozenset({"reference"})


def _templates_path(context: OperationContext) -> Path | None:
    """The case's deployed version's messages; versions deployed before the file existed use the project's."""
    if context.rules_dir:
        path = Path(context.rules_dir).parent / "processes" / NOTIFICATIONS_FILE
        if path.exists():
            return path
    return None


#: How a list given as a parameter is written in a message, by language.
LIST_SEPARATORS = {"ar": "، ", "en": ", "}


def _joined(params: dict[str, Any], lang: str) -> dict[str, Any]:
    """Parameters as a message writes them: a list (the documents asked for, ...) as one line in the language."""
    separator = LIST_SEPARATORS.get(lang, ", ")
    return {name: separator.join(str(item) for item in value) if isinstance(value, list | tuple) else value
            for name, value in params.items()}


def notify(context: OperationContext, template: Any = None, **params: Any) -> dict[str, Any]:
    """Queue the message ``template`` to the case's household: the portal account's mobile, else the
    household's phone; nothing when neither is known (the result says so, the case goes on)."""
    session = context.session
    case = session.get(Case, int(context.business_key))
    if case is None:
        raise LookupError(f"case {context.business_key} not found")
    household = session.get(Household, case.household_id) if case.household_id else None
    account = account_of_case(session, case)  # registry.citizens.access: never an unverified account
    mobile = account.mobile if account is not None else household.phone if household is not None else None
    if not mobile:
        return {"queued": False, "template": template, "reason": "no mobile number known for the household"}
    lang = (account.lang if account is not None else None) or DEFAULT_LANGUAGE
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
    given = (set(params) - {"template"}) | AUTOMATIC
    return [f"message {key!r} uses {{{name}}}: give it as a parameter of this task"
            for name in sorted(found.placeholders() - given)]

"""The ``notify`` operation diagrams call: a message to the case's household, and its check at deploy time."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.catalog import OperationContext
from registry.citizens.models import Citizen
from registry.models import Case, Household, Person
from registry.notifications.services import queue_message
from registry.notifications.templates import DEFAULT_LANGUAGE, NOTIFICATIONS_FILE, parse_templates

#: Placeholders the operation fills itself; every other one must be a parameter of the service task.
AUTOMATIC = frozenset({"reference"})


def _portal_account(session: Session, household: Household) -> Citizen | None:
    """The household's portal account with a confirmed mobile: its own, else one of a member's."""
    members = select(Person.national_id).where(Person.household_id == household.id, Person.active)
    return session.scalar(
        select(Citizen)
        .where(Citizen.active, Citizen.mobile_confirmed_at.is_not(None),
               or_(Citizen.household_id == household.id, Citizen.national_id.in_(members)))
        .order_by((Citizen.household_id == household.id).desc(), Citizen.id)
        .limit(1))


def _templates_path(context: OperationContext) -> Path | None:
    """The case's deployed version's messages; versions deployed before the file existed use the project's."""
    if context.rules_dir:
        path = Path(context.rules_dir).parent / "processes" / NOTIFICATIONS_FILE
        if path.exists():
            return path
    return None


def notify(context: OperationContext, template: Any = None, **params: Any) -> dict[str, Any]:
    """Queue the message ``template`` to the case's household: the portal account's mobile, else the
    household's phone; nothing when neither is known (the result says so, the case goes on)."""
    session = context.session
    case = session.get(Case, int(context.business_key))
    if case is None:
        raise LookupError(f"case {context.business_key} not found")
    household = session.get(Household, case.household_id) if case.household_id else None
    account = _portal_account(session, household) if household is not None else None
    mobile = account.mobile if account is not None else household.phone if household is not None else None
    if not mobile:
        return {"queued": False, "template": template, "reason": "no mobile number known for the household"}
    message = queue_message(
        session, template=str(template), params={"reference": case.reference, **params},
        lang=(account.lang if account is not None else None) or DEFAULT_LANGUAGE, now=context.now, to_mobile=mobile,
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

"""The error summary at the top of a form: every problem, in the form's order, as a link to its field."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _

from engine.forms import FieldDef, FormDef


@dataclass(frozen=True)
class ErrorLink:
    #: The id of the field's input (``f-members-0-national_id``), or None for a problem of the whole form.
    anchor: str | None
    #: Where the problem is, in the user's language ("Household members, row 1: National ID").
    where: str
    message: str


def field_anchor(key: str) -> str:
    """The element id the page gives the field behind an error key (``members.0.national_id``)."""
    return "f-" + key.replace(".", "-")


def _ordered_fields(form: FormDef) -> list[FieldDef]:
    """Fields in the order the page shows them (step by step when the form has steps)."""
    steps = form.steps()
    return [f for _section, fields in steps for f in fields] if steps else list(form.fields)


def _pick(labels: dict[str, str], lang: str) -> str:
    return labels.get(lang) or labels.get("en") or ""


def error_links(form: FormDef, errors: dict[str, list[str]], lang: str) -> list[ErrorLink]:
    """One link per message, ordered as the fields appear; keys no field has come first, unlinked."""
    links: list[ErrorLink] = []
    remaining = dict(errors)
    for field in _ordered_fields(form):
        label = _pick(field.label, lang)
        for message in remaining.pop(field.name, []):
            links.append(ErrorLink(field_anchor(field.name), label, message))
        if field.type != "group":
            continue
        prefix = f"{field.name}."
        row_keys = sorted((k for k in remaining if k.startswith(prefix)), key=lambda k: _row_order(field, k))
        for key in row_keys:
            _group, index, sub_name = (key.split(".", 2) + ["", ""])[:3]
            sub = next((s for s in field.fields if s.name == sub_name), None)
            row = _("%(list)s, row %(number)s", list=label, number=int(index) + 1) if index.isdigit() else label
            where = f"{row}: {_pick(sub.label, lang)}" if sub else row
            for message in remaining.pop(key):
                links.append(ErrorLink(field_anchor(key) if sub else field_anchor(field.name), where, message))
    unplaced = [ErrorLink(None, "", message) for messages in remaining.values() for message in messages]
    return unplaced + links


def _row_order(group: FieldDef, key: str) -> tuple[int, int]:
    _group, index, sub_name = (key.split(".", 2) + ["", ""])[:3]
    names = [s.name for s in group.fields]
    return (int(index) if index.isdigit() else -1, names.index(sub_name) if sub_name in names else -1)

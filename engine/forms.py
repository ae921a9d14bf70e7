"""Declarative forms: one YAML file per user task, one generic validator (marshmallow).

A form names its fields, types, labels in Arabic and English, choices, conditions and
read-only context panels. Validation returns cleaned, JSON-friendly data or raises
FormInvalid with error codes per field (``members.0.national_id``), which the web layer
translates into the user's language.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from engine import expressions
from engine.catalog import CHOICE_PROVIDERS, FORM_CHECKS
from engine.errors import ExpressionError, FormInvalid

FIELD_TYPES = (
    "text", "textarea", "integer", "number", "date", "boolean", "choice", "multichoice",
    "national_id", "phone", "file", "group",
)
_PHONE = re.compile(r"^\+?[0-9]{7,15}$")


_NINE_DIGITS = re.compile(r"[0-9]{9}")
_ASCII_DIGITS = re.compile(r"[0-9]+")


def national_id_is_valid(value: str) -> bool:
    """9 ASCII digits whose Luhn-style check (weights 1,2,1,2,...) sums to a multiple of ten; 0 is refused."""
    if not _NINE_DIGITS.fullmatch(value) or value == "000000000":
        return False
    total = 0
    for position, char in enumerate(value):
        product = int(char) * (1 if position % 2 == 0 else 2)
        total += product - 9 if product > 9 else product
    return total % 10 == 0


def normalize_national_id(value: str) -> str:
    """ASCII digits without spaces or dashes, left-padded to nine, as people write IDs in many ways.

    Arabic keyboards type Arabic-Indic digits (٠١٢…); they are the same ID and must match it.
    Other characters are kept, so validation refuses them.
    """
    text = re.sub(r"[\s\-\u200e\u200f]", "", value)
    text = "".join(str(unicodedata.decimal(c)) if unicodedata.decimal(c, None) is not None else c for c in text)
    return text.zfill(9) if _ASCII_DIGITS.fullmatch(text) and len(text) < 9 else text


@dataclass(frozen=True)
class Choice:
    value: str
    label: dict[str, str]


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    label: dict[str, str]
    required: bool = False
    required_if: str | None = None
    show_if: str | None = None
    help: dict[str, str] | None = None
    choices: tuple[Choice, ...] = ()
    choices_from: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int = 100
    prefill: str | None = None
    fresh: bool = False
    fields: tuple[FieldDef, ...] = ()
    #: For a list of answers: how the answers it lists are known to be true (the domain names the ways).
    verifies: str | None = None
    #: For a file field: one input per code the task data lists under this name (the documents a request
    #: names), each file then tied to its code by ``for``; ``labels_from`` (``<form>.<field>``) words the codes.
    one_input_per: str | None = None
    labels_from: str | None = None
    #: Staff's own part of a form the household also fills in (the portal leaves it out).
    staff_only: bool = False

    def initial_value(self, data: Mapping[str, Any]) -> Any:
        """The value a form shows before the user types: a prefill expression, else the task data.

        ``fresh`` fields (decisions, visit notes) start empty on every pass of a loop, so a
        supervisor never sees last pass's "request documents" pre-selected.
        """
        if self.prefill:
            return expressions.evaluate(self.prefill, data)
        return None if self.fresh else data.get(self.name)


@dataclass(frozen=True)
class Section:
    """One step of a long form: a titled part shown on its own; validation still covers the whole form."""

    name: str
    title: dict[str, str]
    fields: tuple[str, ...]


@dataclass(frozen=True)
class FormDef:
    key: str
    title: dict[str, str]
    description: dict[str, str] | None
    context: tuple[str, ...]
    fields: tuple[FieldDef, ...]
    checks: tuple[str, ...] = ()
    path: str = ""
    #: Whether the case page lists this form's submissions (false where a panel already shows what it records).
    on_case_page: bool = True
    #: The case page's section that lists this form's submissions (``case_tab: plan``; visits and records if none).
    case_tab: str = "records"
    #: Steps of a long form, in order (none: one part). Every field belongs to exactly one step.
    sections: tuple[Section, ...] = ()
    #: Values of earlier tasks shown as a banner on top of this one (``<form>.<field>``: a plan's return reason).
    banner_from: tuple[str, ...] = ()

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def steps(self) -> list[tuple[Section, list[FieldDef]]]:
        """Each section with its fields in form order; a field no section names goes to the last, never lost."""
        if not self.sections:
            return []
        by_name = {f.name: f for f in self.fields}
        placed = {name for section in self.sections for name in section.fields}
        steps = [(section, [by_name[n] for n in section.fields if n in by_name]) for section in self.sections]
        steps[-1][1].extend(f for f in self.fields if f.name not in placed)
        return steps

    def section_problems(self) -> list[str]:
        """Sections that name unknown fields, fields named twice, and fields no section names."""
        names = set(self.field_names())
        seen: set[str] = set()
        problems = []
        for section in self.sections:
            for name in section.fields:
                if name not in names:
                    problems.append(f"sections.{section.name}: unknown field {name!r}")
                elif name in seen:
                    problems.append(f"sections.{section.name}: field {name!r} is already in another section")
                seen.add(name)
        if self.sections:
            problems += [f"field {name!r} is in no section" for name in self.field_names() if name not in seen]
        return problems

    def expressions(self) -> list[tuple[str, str]]:
        """(where, expression) for every condition and prefill, for checking at deploy."""
        found: list[tuple[str, str]] = []

        def walk(defs: tuple[FieldDef, ...], prefix: str) -> None:
            for f in defs:
                for attr in ("required_if", "show_if", "prefill"):
                    value = getattr(f, attr)
                    if value:
                        found.append((f"{prefix}{f.name}.{attr}", value))
                walk(f.fields, f"{prefix}{f.name}.")

        walk(self.fields, "")
        return found


def _labels(raw: Any, where: str) -> dict[str, str]:
    if isinstance(raw, str):
        return {"en": raw, "ar": raw}
    if not isinstance(raw, Mapping) or not raw.get("en") or not raw.get("ar"):
        raise ValueError(f"{where}: needs a label in both 'en' and 'ar'")
    return {"en": str(raw["en"]), "ar": str(raw["ar"])}


def _field(raw: Mapping[str, Any], where: str) -> FieldDef:
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"{where}: field name {name!r} must be lower_snake_case")
    kind = raw.get("type", "text")
    if kind not in FIELD_TYPES:
        raise ValueError(f"{where}.{name}: unknown type {kind!r}")
    choices = tuple(
        Choice(str(c["value"]), _labels(c.get("label", c["value"]), f"{where}.{name}.choices"))
        for c in raw.get("choices", ())
    )
    if kind in ("choice", "multichoice") and not choices and not raw.get("choices_from"):
        raise ValueError(f"{where}.{name}: a {kind} field needs choices or choices_from")
    sub = tuple(_field(s, f"{where}.{name}") for s in raw.get("fields", ()))
    if kind == "group" and not sub:
        raise ValueError(f"{where}.{name}: a group needs fields")
    return FieldDef(
        name=name, type=kind, label=_labels(raw.get("label", name), f"{where}.{name}"),
        required=bool(raw.get("required", False)), required_if=raw.get("required_if"),
        show_if=raw.get("show_if"),
        help=_labels(raw["help"], f"{where}.{name}.help") if raw.get("help") else None,
        choices=choices, choices_from=raw.get("choices_from"),
        minimum=raw.get("min"), maximum=raw.get("max"), max_length=raw.get("max_length"),
        min_items=raw.get("min_items"), max_items=int(raw.get("max_items", 100)), prefill=raw.get("prefill"),
        fresh=bool(raw.get("fresh", False)),
        fields=sub,
        verifies=str(raw["verifies"]) if raw.get("verifies") else None,
        one_input_per=str(raw["one_input_per"]) if raw.get("one_input_per") else None,
        labels_from=str(raw["labels_from"]) if raw.get("labels_from") else None,
        staff_only=bool(raw.get("staff_only", False)),
    )


@functools.lru_cache(maxsize=512)
def parse_form(key: str, text: str, path: str = "") -> FormDef:
    """A form from the text of its YAML file (cached: deployed versions keep their forms' text)."""
    raw = yaml.safe_load(text) or {}
    return FormDef(
        key=key,
        title=_labels(raw.get("title", key), f"{key}.title"),
        description=_labels(raw["description"], f"{key}.description") if raw.get("description") else None,
        context=tuple(raw.get("context", ())),
        fields=tuple(_field(f, key) for f in raw.get("fields", ())),
        checks=tuple(raw.get("checks", ())),
        path=path,
        on_case_page=bool(raw.get("case_page", True)),
        case_tab=str(raw.get("case_tab") or "records"),
        sections=tuple(_section(s, key) for s in raw.get("sections", ())),
        banner_from=_names(raw.get("banner_from")),
    )


def _names(raw: Any) -> tuple[str, ...]:
    """One name or a list of names, as a form file may write either."""
    if raw is None:
        return ()
    return (str(raw),) if isinstance(raw, str) else tuple(str(item) for item in raw)


def _section(raw: Mapping[str, Any], where: str) -> Section:
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", name):
        raise ValueError(f"{where}: section name {name!r} must be lower_snake_case")
    return Section(name=name, title=_labels(raw.get("title"), f"{where}.sections.{name}.title"),
                   fields=tuple(str(n) for n in raw.get("fields", ())))


def load_form(forms_dir: str | Path, key: str) -> FormDef:
    """The form named ``key`` (``forms/<key>.yaml``), re-read when the file changes."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", key):
        raise FileNotFoundError(key)
    path = Path(forms_dir) / f"{key}.yaml"
    return parse_form(key, path.read_text(encoding="utf-8"), str(path))


def check_form(form: FormDef) -> list[str]:
    """Problems that would break this form at run time."""
    problems = []
    for where, expression in form.expressions():
        try:
            expressions.validate(expression)
        except ExpressionError as err:
            problems.append(f"{where}: {err}")

    def walk(defs: tuple[FieldDef, ...]) -> None:
        for f in defs:
            if f.choices_from and f.choices_from not in CHOICE_PROVIDERS:
                problems.append(f"{f.name}: unknown choices_from {f.choices_from!r}")
            if (f.one_input_per or f.labels_from) and f.type != "file":
                problems.append(f"{f.name}: one_input_per and labels_from are for file fields only")
            if f.labels_from and not re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_.]*", f.labels_from):
                problems.append(f"{f.name}: labels_from {f.labels_from!r} must name <form>.<field>")
            walk(f.fields)

    walk(form.fields)
    problems += form.section_problems()
    problems += [f"banner_from: {name!r} must name <form>.<field>" for name in form.banner_from
                 if not re.fullmatch(r"[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*", name)]
    problems += [f"unknown check {c!r}" for c in form.checks if c not in FORM_CHECKS]
    return problems


class _NationalId(fields.String):
    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = normalize_national_id(super()._deserialize(value, attr, data, **kwargs))
        if not national_id_is_valid(text):
            raise ValidationError("invalid_national_id")
        return text


def _messages(kind: str) -> dict[str, str]:
    return {"required": "required", "null": "required", "invalid": f"invalid_{kind}",
            "too_large": "too_large", "validator_failed": "invalid", "type": f"invalid_{kind}",
            "special": f"invalid_{kind}"}


class _WholeNumber(fields.Integer):
    """A whole number, given as one (JSON) or as its digits (an HTML form); 2.5 is refused, never cut to 2."""

    def _validated(self, value: Any) -> int:
        if isinstance(value, float) and not value.is_integer():
            raise self.make_error("invalid", input=value)
        if isinstance(value, str) and not _WHOLE_NUMBER.fullmatch(value.strip()):
            raise self.make_error("invalid", input=value)
        return super()._validated(value)


_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,18}")


class _YesNo(fields.Boolean):
    """True or false only: "false", 0 or "no" is refused, never read as an answer (pages post real booleans)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if value is True or value is False:
            return value
        raise self.make_error("invalid", input=value)


def _marshmallow_field(f: FieldDef, choices: Mapping[str, list[str]]) -> fields.Field:
    common: dict[str, Any] = {"allow_none": True, "load_default": None, "error_messages": _messages(f.type)}
    bounds = validate.Range(min=f.minimum, max=f.maximum, error="out_of_range") \
        if f.minimum is not None or f.maximum is not None else None
    if f.type in ("text", "textarea"):
        limit = f.max_length or (500 if f.type == "text" else 5000)
        return fields.String(validate=validate.Length(max=limit, error="too_long"), **common)
    if f.type == "integer":
        return _WholeNumber(validate=bounds, **common)
    if f.type == "number":
        return fields.Float(allow_nan=False, validate=bounds, **common)
    if f.type == "date":
        return fields.Date(**common)
    if f.type == "boolean":
        return _YesNo(**common)
    if f.type == "choice":
        return fields.String(validate=validate.OneOf(choices.get(f.name, []), error="invalid_choice"), **common)
    if f.type == "multichoice":
        inner = fields.String(validate=validate.OneOf(choices.get(f.name, []), error="invalid_choice"))
        return fields.List(inner, **common)
    if f.type == "national_id":
        return _NationalId(**common)
    if f.type == "phone":
        return fields.String(validate=validate.Regexp(_PHONE, error="invalid_phone"), **common)
    if f.type == "file":
        return fields.List(fields.Dict(), **common)
    sub_choices = {k.split(".", 1)[1]: v for k, v in choices.items() if k.startswith(f"{f.name}.")}
    nested = _schema(f.fields, sub_choices)
    return fields.List(fields.Nested(nested, unknown=EXCLUDE), **common)


_SCHEMAS: dict[tuple[int, tuple[tuple[str, tuple[str, ...]], ...]], tuple[Any, type[Schema]]] = {}


def _schema(defs: tuple[FieldDef, ...], choices: Mapping[str, list[str]]) -> type[Schema]:
    """The marshmallow schema of a form, built once per form definition and set of allowed choices."""
    key = (id(defs), tuple(sorted((name, tuple(values)) for name, values in choices.items())))
    cached = _SCHEMAS.get(key)
    if cached is not None and cached[0] is defs:
        return cached[1]
    schema = Schema.from_dict({f.name: _marshmallow_field(f, choices) for f in defs})
    if len(_SCHEMAS) > 512:
        _SCHEMAS.clear()
    _SCHEMAS[key] = (defs, schema)  # holding ``defs`` keeps its id from being reused
    return schema


#: One instance of each schema: loading keeps no state on it, and making one copies every field.
_LOADERS: dict[type[Schema], Schema] = {}


def _loader(defs: tuple[FieldDef, ...], choices: Mapping[str, list[str]]) -> Schema:
    schema = _schema(defs, choices)
    loader = _LOADERS.get(schema)
    if loader is None:
        if len(_LOADERS) > 512:
            _LOADERS.clear()
        loader = _LOADERS.setdefault(schema, schema(unknown=EXCLUDE))
    return loader


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    if isinstance(value, list):
        return [_blank_to_none(v) if not isinstance(v, dict) else v for v in value]
    return value


def _clean_input(defs: tuple[FieldDef, ...], raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in defs:
        if f.name not in raw:
            continue
        value = raw[f.name]
        if f.type == "group" and isinstance(value, list):
            value = [_clean_input(f.fields, item) if isinstance(item, Mapping) else item for item in value]
        out[f.name] = _blank_to_none(value)
    return out


def _flatten(errors: Any, prefix: str = "") -> dict[str, list[str]]:
    flat: dict[str, list[str]] = {}
    if isinstance(errors, Mapping):
        for key, value in errors.items():
            name = f"{prefix}{key}"
            if isinstance(value, list) and all(isinstance(v, str) for v in value):
                flat[name] = list(value)
            else:
                flat.update(_flatten(value, f"{name}."))
    elif isinstance(errors, list):
        flat[prefix.rstrip(".")] = [str(e) for e in errors]
    return flat


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def _visible(f: FieldDef, values: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    return not f.show_if or bool(expressions.evaluate(f.show_if, {**context, **values}))


def _is_required(f: FieldDef, values: Mapping[str, Any], context: Mapping[str, Any]) -> bool:
    if f.required:
        return True
    return bool(f.required_if) and bool(expressions.evaluate(f.required_if or "", {**context, **values}))


def _check_required(defs: tuple[FieldDef, ...], values: dict[str, Any], context: Mapping[str, Any],
                    prefix: str, errors: dict[str, list[str]]) -> None:
    for f in defs:
        if not _visible(f, values, context):
            values.pop(f.name, None)  # a hidden field keeps no value: it was never asked
            continue
        value = values.get(f.name)
        if f.type == "boolean":
            # An unticked box posts nothing: a required yes/no field is one that must be confirmed.
            if value is not True and _is_required(f, values, context):
                errors.setdefault(f"{prefix}{f.name}", []).append("must_confirm")
        elif (value is None or value == []) and _is_required(f, values, context):
            errors.setdefault(f"{prefix}{f.name}", []).append("required")
        if f.type == "group" and isinstance(value, list):
            if f.min_items and len(value) < f.min_items:
                errors.setdefault(f"{prefix}{f.name}", []).append("too_few_items")
            if len(value) > f.max_items:
                errors.setdefault(f"{prefix}{f.name}", []).append("too_many_items")
                continue
            for index, item in enumerate(value):
                _check_required(f.fields, item, context, f"{prefix}{f.name}.{index}.", errors)


def _check_requested(defs: tuple[FieldDef, ...], values: Mapping[str, Any], context: Mapping[str, Any],
                     errors: dict[str, list[str]]) -> None:
    """A file answering one code (``for``) must answer one the task data lists: nothing that was not asked for."""
    for f in defs:
        if not f.one_input_per or not isinstance(values.get(f.name), list):
            continue
        listed = context.get(f.one_input_per)
        requested = {str(code) for code in listed} if isinstance(listed, list) else set()
        for item in values[f.name]:
            code = item.get("for") if isinstance(item, Mapping) else None
            if code is not None and code not in requested:
                errors.setdefault(f.name, []).append("not_requested")
                break


def validate_submission(
    form: FormDef,
    raw: Mapping[str, Any],
    *,
    choices: Mapping[str, list[str]],
    context: Mapping[str, Any] | None = None,
    extra_checks: Callable[[dict[str, Any]], dict[str, list[str]]] | None = None,
) -> dict[str, Any]:
    """Cleaned data for the form's fields, or FormInvalid with error codes per field.

    ``choices`` holds the allowed values of each choice field (static and provided);
    ``context`` is the task data conditions may read besides the submitted values.
    """
    if not isinstance(raw, Mapping):
        raise FormInvalid({"_form": ["invalid_type"]})
    schema = _loader(form.fields, choices)
    errors: dict[str, list[str]] = {}
    try:
        loaded = schema.load(_clean_input(form.fields, raw))
    except ValidationError as err:
        # Report every problem at once: wrong types, and what is missing among the rest.
        errors = _flatten(err.messages)
        loaded = err.valid_data if isinstance(err.valid_data, dict) else {}
    values = _jsonable(loaded)
    missing: dict[str, list[str]] = {}
    _check_required(form.fields, values, context or {}, "", missing)
    _check_requested(form.fields, values, context or {}, missing)
    for name, codes in missing.items():
        if name not in errors and not any(key.startswith(f"{name}.") for key in errors):
            errors[name] = codes
    if errors:
        raise FormInvalid(errors)
    if extra_checks:
        errors = extra_checks(values)
        if errors:
            raise FormInvalid(errors)
    return values


def static_choices(form: FormDef) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}

    def walk(defs: tuple[FieldDef, ...], prefix: str) -> None:
        for f in defs:
            if f.choices:
                found[f"{prefix}{f.name}"] = [c.value for c in f.choices]
            walk(f.fields, f"{prefix}{f.name}.")

    walk(form.fields, "")
    return found

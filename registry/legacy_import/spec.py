"""What the old system's export looks like: its columns and accepted values (data/legacy_export.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SPEC_FILE = Path(__file__).resolve().parent.parent.parent / "data" / "legacy_export.yaml"

#: Our fields, in the order the file describes them; the household's fields are read from its head's row.
PERSON_FIELDS = ("national_id", "name_ar", "name_latin", "relation", "sex", "birth_date")
HOUSEHOLD_FIELDS = ("programme", "programme_status", "governorate", "locality", "address", "phone")
FIELDS = ("household_number", *PERSON_FIELDS, *HOUSEHOLD_FIELDS)
#: Fields without which the registry cannot keep a row (columns that may not be empty in ``registry.models``).
NEEDED = frozenset({"household_number", "national_id", "name_ar", "relation", "sex", "governorate", "locality"})


class SpecInvalid(ValueError):
    """The description of the export (data/legacy_export.yaml) is itself wrong."""


@dataclass(frozen=True)
class ExportSpec:
    #: our field -> the old export's column name
    columns: dict[str, str]
    required: frozenset[str]
    date_formats: tuple[str, ...]
    #: our field -> {old value, upper-cased and stripped -> our value (None: no value)}
    values: dict[str, dict[str, str | None]]
    #: the source entry every imported value is marked with (registry.verification)
    source: dict[str, Any]

    def accepted(self, field: str, raw: str) -> tuple[bool, str | None]:
        """Whether ``raw`` is an accepted value of ``field``, and our value for it."""
        table = self.values[field]
        key = raw.strip().upper()
        return (key in table, table.get(key))


def load_spec(path: Path = SPEC_FILE) -> ExportSpec:
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    columns = {str(k): str(v) for k, v in (raw.get("columns") or {}).items()}
    missing = [f for f in FIELDS if f not in columns]
    if missing:
        raise SpecInvalid(f"{path.name}: columns lacks {', '.join(missing)}")
    unknown = sorted(set(columns) - set(FIELDS))
    if unknown:
        raise SpecInvalid(f"{path.name}: columns names fields the import does not know: {', '.join(unknown)}")
    required = frozenset(str(f) for f in raw.get("required") or [])
    if not required <= set(FIELDS):
        raise SpecInvalid(f"{path.name}: required names unknown fields: {', '.join(sorted(required - set(FIELDS)))}")
    if not NEEDED <= required:
        raise SpecInvalid(f"{path.name}: required must list {', '.join(sorted(NEEDED - required))} "
                          "(the registry cannot keep a person or a household without them)")
    values: dict[str, dict[str, str | None]] = {}
    for field, table in (raw.get("values") or {}).items():
        if field not in FIELDS:
            raise SpecInvalid(f"{path.name}: values given for unknown field {field}")
        values[str(field)] = {str(k).strip().upper(): (None if v is None else str(v)) for k, v in table.items()}
    for field in ("relation", "sex", "programme", "programme_status"):
        if field not in values:
            raise SpecInvalid(f"{path.name}: values lacks the accepted values of {field}")
    return ExportSpec(columns=columns, required=required,
                      date_formats=tuple(str(f) for f in raw.get("date_formats") or ["%Y-%m-%d"]),
                      values=values, source=dict(raw.get("source") or {"how": "declared", "source": "legacy_system"}))

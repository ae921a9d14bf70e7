"""Checking the export row by row and household by household; every refusal says why in plain words."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.forms import national_id_is_valid, normalize_national_id
from registry.legacy_import.reader import Row
from registry.legacy_import.spec import ExportSpec

#: The longest value each column of ours keeps (registry.models).
_LIMITS = {"household_number": 32, "name_ar": 150, "name_latin": 150, "locality": 120, "address": 250}
_PHONE = re.compile(r"\+?[0-9]{6,15}")
_EARLIEST_BIRTH = dt.date(1900, 1, 1)


@dataclass(frozen=True)
class Rejection:
    """A row that is not imported: its number in the file, its household number, and why."""

    row: int
    household: str | None
    reason: str


@dataclass(slots=True)
class Member:
    row: int
    national_id: str
    name_ar: str
    name_latin: str | None
    relation: str
    sex: str
    birth_date: dt.date | None


@dataclass(slots=True)
class LegacyHousehold:
    """One household of the export: its members, its own values (from the head's row) and its problems."""

    number: str
    members: list[Member] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    #: row number -> why that row is wrong
    row_problems: dict[int, list[str]] = field(default_factory=dict)
    #: problems of the household as a whole (no head, a person twice, ...)
    problems: list[str] = field(default_factory=list)
    rows: list[int] = field(default_factory=list)

    @property
    def valid(self) -> bool:
        return not self.row_problems and not self.problems

    def rejections(self) -> list[Rejection]:
        """Every row of a rejected household, each with its own reasons or the household's."""
        whole = "; ".join(self.problems)
        bad_rows = sorted(self.row_problems)
        listed: list[Rejection] = []
        for row in self.rows:
            reasons = self.row_problems.get(row)
            if reasons:
                listed.append(Rejection(row, self.number, "; ".join(reasons)))
            elif whole:
                listed.append(Rejection(row, self.number, f"household {self.number}: {whole}"))
            else:
                rows = f"rows {', '.join(map(str, bad_rows))} of household {self.number} are" if len(bad_rows) > 1 \
                    else f"row {bad_rows[0]} of household {self.number} is"
                listed.append(Rejection(row, self.number, f"rejected with its household: {rows} invalid"))
        return listed


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.isoformat() if isinstance(value, dt.date) else str(value).strip()
    return text or None


class RowChecker:
    """Turns a row into a member and household values, noting each problem in plain words."""

    def __init__(self, spec: ExportSpec, *, governorates: Iterable[str], today: dt.date) -> None:
        self.spec = spec
        self.governorates = frozenset(governorates)
        self.today = today
        self.required = [(name, spec.columns[name]) for name in spec.columns
                         if name in spec.required and name != "household_number"]
        self.iso_dates = "%Y-%m-%d" in spec.date_formats
        self.dates: dict[str, dt.date | None] = {}  # birth dates repeat: each text is parsed once

    def check(self, row: Row, problems: list[str]) -> tuple[Member | None, dict[str, Any]]:
        spec = self.spec
        texts = {name: _text(value) for name, value in row.items()}
        for name, column in self.required:
            if texts.get(name) is None:
                problems.append(f"{column} is empty")
        for name, limit in _LIMITS.items():
            value = texts.get(name)
            if value is not None and len(value) > limit:
                problems.append(f"{spec.columns[name]} is longer than {limit} characters")
        national_id = None
        if texts.get("national_id") is not None:
            national_id = str(texts["national_id"])
            if not (len(national_id) == 9 and national_id.isascii() and national_id.isdigit()):
                national_id = normalize_national_id(national_id)
            if not national_id_is_valid(national_id):
                problems.append(f"national ID {texts['national_id']} is not valid (9 digits with a check digit)")
        relation = self._accepted("relation", texts.get("relation"), problems)
        sex = self._accepted("sex", texts.get("sex"), problems)
        birth_date = self._date(row.get("birth_date"), problems)
        values: dict[str, Any] = {
            "programme": self._accepted("programme", texts.get("programme") or "", problems),
            "programme_status": self._accepted("programme_status", texts.get("programme_status") or "", problems),
            "locality": texts.get("locality"),
            "address": texts.get("address"),
        }
        governorate = texts.get("governorate")
        if governorate is not None:
            governorate = governorate.upper()
            if governorate not in self.governorates:
                problems.append(f"governorate code {texts['governorate']} is unknown (data/governorates.csv)")
        values["governorate"] = governorate
        values["phone"] = self._phone(texts.get("phone"), problems)
        if problems or national_id is None or relation is None or sex is None:
            return None, values
        return Member(row=0, national_id=national_id, name_ar=str(texts["name_ar"]), name_latin=texts.get("name_latin"),
                      relation=relation, sex=sex, birth_date=birth_date), values

    def _accepted(self, name: str, raw: str | None, problems: list[str]) -> str | None:
        if raw is None:
            return None
        known, value = self.spec.accepted(name, raw)
        if not known:
            problems.append(f"{self.spec.columns[name]} {raw!r} is not a value the import accepts "
                            "(data/legacy_export.yaml)")
        return value

    def _date(self, raw: Any, problems: list[str]) -> dt.date | None:
        if raw is None:
            return None
        day: dt.date | None = raw if isinstance(raw, dt.date) else self.dates.get(str(raw))
        if day is None and self.iso_dates and len(str(raw)) == 10:
            try:
                day = dt.date.fromisoformat(str(raw))
            except ValueError:
                day = None
        if day is None:
            for pattern in self.spec.date_formats:
                try:
                    day = dt.datetime.strptime(str(raw).strip(), pattern).date()  # noqa: DTZ007 (a day, no zone)
                    break
                except ValueError:
                    continue
        column = self.spec.columns["birth_date"]
        if not isinstance(raw, dt.date) and len(self.dates) < 100_000:
            self.dates[str(raw)] = day
        if day is None:
            problems.append(f"{column} {raw} is not a date")
        elif day > self.today or day < _EARLIEST_BIRTH:
            problems.append(f"{column} {day.isoformat()} is not a possible birth date")
            return None
        return day

    def _phone(self, raw: str | None, problems: list[str]) -> str | None:
        if raw is None:
            return None
        phone = raw if raw.isascii() and raw.isdigit() else normalize_national_id(raw)  # same clean-up as IDs
        if not _PHONE.fullmatch(phone):
            problems.append(f"{self.spec.columns['phone']} {raw} is not a phone number")
            return None
        return phone


def group_rows(rows: Iterable[tuple[int, Row]], checker: RowChecker
               ) -> tuple[dict[str, LegacyHousehold], list[Rejection], int]:
    """Households of the export by number (in file order), the rows that name no household, and the row count."""
    households: dict[str, LegacyHousehold] = {}
    orphans: list[Rejection] = []
    count = 0
    for number, row in rows:
        count += 1
        household_number = _text(row.get("household_number"))
        problems: list[str] = []
        member, values = checker.check(row, problems)
        if household_number is None:
            orphans.append(Rejection(number, None, f"{checker.spec.columns['household_number']} is empty"))
            continue
        household = households.get(household_number)
        if household is None:
            household = households[household_number] = LegacyHousehold(number=household_number)
        household.rows.append(number)
        if problems:
            household.row_problems[number] = problems
        if member is not None:
            member.row = number
            household.members.append(member)
            if member.relation == "head" or not household.values:
                household.values = values
    return households, orphans, count


def check_households(households: Mapping[str, LegacyHousehold]) -> None:
    """Household-level problems: exactly one head, nobody twice, one person in one household of the file."""
    where: dict[str, list[tuple[str, int]]] = {}
    for household in households.values():
        heads = [m.row for m in household.members if m.relation == "head"]
        if not heads and not household.row_problems:
            household.problems.append("the household has no head (no row with relation head)")
        elif len(heads) > 1:
            household.problems.append(f"the household has {len(heads)} heads (rows {', '.join(map(str, heads))})")
        if not household.values.get("locality") and not household.row_problems:
            household.problems.append("the household has no locality")
        for member in household.members:
            where.setdefault(member.national_id, []).append((household.number, member.row))
    for national_id, places in where.items():
        if len(places) < 2:
            continue
        numbers = {number for number, _row in places}
        if len(numbers) == 1:
            rows = ", ".join(str(row) for _n, row in places)
            households[places[0][0]].problems.append(f"national ID {national_id} appears twice in the household "
                                                     f"(rows {rows})")
            continue
        for number in numbers:
            others = ", ".join(f"household {n} (row {r})" for n, r in places if n != number)
            households[number].problems.append(f"national ID {national_id} is also in {others} of this file")


def reject_registered(households: Iterable[LegacyHousehold], registered: Mapping[str, str]) -> None:
    """A person already in a household of the registry cannot join another: the household is rejected."""
    for household in households:
        for member in household.members:
            where = registered.get(member.national_id)
            if where is not None:
                household.problems.append(f"national ID {member.national_id} (row {member.row}) already belongs to "
                                          f"{where} in the registry")

"""The allocation rule file (rules/campaign_allocation.yaml): quota, working days, holidays, locality order."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

FILE_NAME = "campaign_allocation.yaml"
SHIPPED_RULES = Path(__file__).resolve().parent.parent.parent / "rules"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_VISITS_PER_DAY = 100


class AllocationRulesInvalid(ValueError):
    """The rule file cannot be used; the message names the entry."""


@dataclass(frozen=True)
class AllocationRules:
    visits_per_day: int
    #: Python weekday numbers (Monday 0) on which case managers go out.
    working_weekdays: frozenset[int]
    holidays: frozenset[dt.date] = frozenset()
    #: Directorate code to its localities in route order.
    locality_order: dict[str, list[str]] = field(default_factory=dict)

    def is_working_day(self, day: dt.date) -> bool:
        return day.weekday() in self.working_weekdays and day not in self.holidays

    def locality_key(self, directorate_code: str) -> Any:
        """A sort key for a locality: the file's order first, then the others by name."""
        ranks = {name: rank for rank, name in enumerate(self.locality_order.get(directorate_code, []))}
        unlisted = len(ranks)
        return lambda locality: (ranks.get(locality, unlisted), locality)


def _parse(raw: Any) -> AllocationRules:
    if not isinstance(raw, dict):
        raise AllocationRulesInvalid(f"{FILE_NAME}: expected a mapping")
    quota = raw.get("visits_per_day")
    if not isinstance(quota, int) or isinstance(quota, bool) or not 0 <= quota <= MAX_VISITS_PER_DAY:
        raise AllocationRulesInvalid(f"{FILE_NAME}: visits_per_day must be a whole number 0-{MAX_VISITS_PER_DAY}")
    days = raw.get("working_days")
    if not isinstance(days, list) or not days or any(str(day).lower() not in WEEKDAYS for day in days):
        raise AllocationRulesInvalid(f"{FILE_NAME}: working_days must list weekday names ({', '.join(WEEKDAYS)})")
    holidays = raw.get("holidays") or []
    if not isinstance(holidays, list) or any(not isinstance(day, dt.date) for day in holidays):
        raise AllocationRulesInvalid(f"{FILE_NAME}: holidays must be a list of dates (yyyy-mm-dd)")
    order = raw.get("locality_order") or {}
    if not isinstance(order, dict) or any(not isinstance(names, list) for names in order.values()):
        raise AllocationRulesInvalid(f"{FILE_NAME}: locality_order maps a directorate code to a list of localities")
    return AllocationRules(
        visits_per_day=quota, working_weekdays=frozenset(WEEKDAYS.index(str(day).lower()) for day in days),
        holidays=frozenset(holidays),
        locality_order={str(code): [str(name) for name in names] for code, names in order.items()})


#: Parsed rules by file, with the (mtime, size) they were read at: every inbox asks for today's visits.
_PARSED: dict[Path, tuple[tuple[int, int], AllocationRules]] = {}


def load_allocation_rules(rules_dir: str | Path | None = None) -> AllocationRules:
    """The rules from ``rules_dir`` (the shipped rules/ folder when not given); re-read only when the file changes."""
    path = Path(rules_dir or SHIPPED_RULES) / FILE_NAME
    try:
        stat = path.stat()
        signature = (stat.st_mtime_ns, stat.st_size)
        cached = _PARSED.get(path)
        if cached is not None and cached[0] == signature:
            return cached[1]
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as err:
        raise AllocationRulesInvalid(f"{FILE_NAME}: {err}") from err
    rules = _parse(raw)
    _PARSED[path] = (signature, rules)
    return rules

"""The supervision rule file (rules/supervision.yaml): how long a case may go without contact."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

FILE_NAME = "supervision.yaml"
SHIPPED_RULES = Path(__file__).resolve().parent.parent.parent / "rules"
#: Used when the file is missing (a rules folder from before it existed).
DEFAULT_NO_CONTACT_DAYS = 30
MAX_NO_CONTACT_DAYS = 3650


class SupervisionRulesInvalid(ValueError):
    """The rule file cannot be used; the message names the entry."""


@dataclass(frozen=True)
class SupervisionRules:
    #: An open case with no contact (a completed task or a case note) for this many days needs attention.
    no_contact_days: int = DEFAULT_NO_CONTACT_DAYS


def load_supervision_rules(rules_dir: str | Path | None = None) -> SupervisionRules:
    """The rules from ``rules_dir`` (the shipped rules/ folder when not given); defaults when the file is absent."""
    path = Path(rules_dir or SHIPPED_RULES) / FILE_NAME
    if not path.exists():
        return SupervisionRules()
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as err:
        raise SupervisionRulesInvalid(f"{FILE_NAME}: {err}") from err
    if not isinstance(raw, dict):
        raise SupervisionRulesInvalid(f"{FILE_NAME}: expected a mapping")
    days = raw.get("no_contact_days", DEFAULT_NO_CONTACT_DAYS)
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_NO_CONTACT_DAYS:
        raise SupervisionRulesInvalid(f"{FILE_NAME}: no_contact_days must be a whole number of days "
                                      f"from 1 to {MAX_NO_CONTACT_DAYS}")
    return SupervisionRules(no_contact_days=days)

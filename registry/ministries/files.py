"""Ministry sources backed by JSON files: the demo default, and a stand-in where no link exists yet.

``interior.json`` holds ``{"families": [<family document>, ...]}``, ``education.json``
``{"enrolments": [...]}`` and ``health.json`` ``{"persons": [<health document>, ...]}``; each
document has the shape the HTTP API returns (see ``payloads``). Files are read on every lookup,
so edited demo data shows at once.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from registry.ministries.payloads import facts_from_education, facts_from_health, family_from_interior
from registry.ministries.records import Family, PersonFacts, SourceUnavailable


def _documents(path: Path, key: str) -> list[Mapping[str, Any]]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise SourceUnavailable("no data file") from None
    except (OSError, ValueError):
        raise SourceUnavailable("unreadable data file") from None
    items = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(items, list):
        raise SourceUnavailable("unreadable data file")
    return [item for item in items if isinstance(item, Mapping)]


def _ids_in(family: Mapping[str, Any]) -> list[tuple[str, Any]]:
    members = family.get("members")
    if not isinstance(members, list):
        return []
    return [(str(m.get("national_id")), m.get("relation_to_head")) for m in members if isinstance(m, Mapping)]


class InteriorFileSource:
    """The civil registry from ``interior.json``."""

    name = "interior"

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / "interior.json"

    def family(self, national_id: str, *, today: dt.date) -> Family | None:
        found: Mapping[str, Any] | None = None
        for family in _documents(self.path, "families"):
            ids = dict(_ids_in(family))
            if national_id not in ids:
                continue
            # A person can appear in two registrations (a married son in his parents' and his own):
            # the one they head is theirs.
            if ids[national_id] == "head":
                found = family
                break
            found = found or family
        return family_from_interior(found, today=today) if found is not None else None

    def persons(self, national_ids: Sequence[str], *, today: dt.date) -> dict[str, PersonFacts]:
        return {}


class EducationFileSource:
    """School enrolment from ``education.json``."""

    name = "education"

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / "education.json"

    def family(self, national_id: str, *, today: dt.date) -> Family | None:
        return None

    def persons(self, national_ids: Sequence[str], *, today: dt.date) -> dict[str, PersonFacts]:
        wanted = set(national_ids)
        entries = [e for e in _documents(self.path, "enrolments") if str(e.get("national_id")) in wanted]
        return facts_from_education({"enrolments": entries}, today=today)


class HealthFileSource:
    """Insurance, disability and chronic illness from ``health.json``."""

    name = "health"

    def __init__(self, data_dir: str | Path) -> None:
        self.path = Path(data_dir) / "health.json"

    def family(self, national_id: str, *, today: dt.date) -> Family | None:
        return None

    def persons(self, national_ids: Sequence[str], *, today: dt.date) -> dict[str, PersonFacts]:
        by_id = {str(p.get("national_id")): p for p in _documents(self.path, "persons")}
        facts: dict[str, PersonFacts] = {}
        for nid in national_ids:
            if nid in by_id:
                found = facts_from_health(by_id[nid], asked=nid, today=today)
                if found is not None:
                    facts[found.national_id] = found
        return facts

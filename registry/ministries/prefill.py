"""Merge what the ministries hold about a household into registration-form values with provenance."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from engine.forms import national_id_is_valid, normalize_national_id
from registry.ministries.records import (
    Family,
    InvalidNationalId,
    MinistrySource,
    PersonFacts,
    SourceUnavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class Prefill:
    """Form values found for a national ID, where each came from, and which ministries did not answer.

    ``values`` uses the registration form's field names (governorate, locality, address, members);
    ``provenance`` maps a field path (``governorate``, ``members.1.birth_date``) to
    ``{"source": ..., "as_of": "YYYY-MM-DD"}``; ``unavailable`` lists ``{"source", "reason"}``;
    ``answered`` names the ministries that answered, whether or not they knew the ID.
    """

    national_id: str
    retrieved_on: dt.date
    values: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, dict[str, str]] = field(default_factory=dict)
    unavailable: list[dict[str, str]] = field(default_factory=list)
    answered: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy, e.g. for the task data the form's ``prefill_sources`` panel reads."""
        return {
            "national_id": self.national_id,
            "retrieved_on": self.retrieved_on.isoformat(),
            "values": _copy(self.values),
            "provenance": {path: dict(mark) for path, mark in self.provenance.items()},
            "unavailable": [dict(entry) for entry in self.unavailable],
            "answered": list(self.answered),
        }


def _copy(values: dict[str, Any]) -> dict[str, Any]:
    return {k: [dict(m) for m in v] if k == "members" else v for k, v in values.items()}


def _ask_all(sources: Sequence[MinistrySource], ask: Callable[[MinistrySource], T],
             failed: dict[str, str]) -> dict[str, T]:
    """Ask every source not yet failed, concurrently; a source that raises is recorded in ``failed``."""
    live = [s for s in sources if s.name not in failed]
    answers: dict[str, T] = {}

    def guarded(source: MinistrySource) -> None:
        try:
            answers[source.name] = ask(source)
        except SourceUnavailable as err:
            log.warning("ministry %s unavailable: %s", source.name, err.reason)
            failed[source.name] = err.reason
        except Exception:
            # A bug or surprise in one adapter must not stop the registration.
            log.exception("ministry %s failed", source.name)
            failed[source.name] = "error"

    if live:
        # Concurrent, so that a slow ministry costs its own timeout rather than adding to the others'.
        with ThreadPoolExecutor(max_workers=len(live), thread_name_prefix="ministry") as pool:
            list(pool.map(guarded, live))
    return answers


def prefill_registration(national_id: str, *, sources: Sequence[MinistrySource], today: dt.date) -> Prefill:
    """What the ministries hold about the household of ``national_id``, ready for the registration form.

    Interior's family comes first and gives the member IDs that Education and Health are asked
    about; without it they are asked about ``national_id`` alone. Never raises for a ministry's
    failure: it is listed in ``unavailable``. Raises InvalidNationalId for a malformed ID.
    """
    nid = normalize_national_id(national_id)
    if not national_id_is_valid(nid):
        raise InvalidNationalId(national_id)
    result = Prefill(national_id=nid, retrieved_on=today)
    failed: dict[str, str] = {}

    families = _ask_all(sources, lambda s: s.family(nid, today=today), failed)
    # Threads finish in any order: the first source in the given order that knows the family wins.
    family_source, family = next(((s.name, families[s.name]) for s in sources if families.get(s.name)),
                                 ("", None))
    members = [dict(m) for m in family.members] if family and family.members else [{"national_id": nid}]
    if family is not None:
        _fill_household(result, family, family_source, members)

    ids = [m["national_id"] for m in members if "national_id" in m]
    persons = _ask_all(sources, lambda s: s.persons(ids, today=today), failed)
    for source in sources:  # in the order given, so the earlier source wins a field both hold
        for index, member in enumerate(members):
            facts = persons.get(source.name, {}).get(member.get("national_id", ""))
            if facts is not None:
                _fill_member(result, member, index, facts, source.name)

    if family is not None or any(len(m) > 1 for m in members):
        result.values["members"] = members
    result.unavailable = [{"source": s.name, "reason": failed[s.name]} for s in sources if s.name in failed]
    result.answered = [s.name for s in sources if s.name not in failed]
    return result


def _mark(source: str, as_of: dt.date) -> dict[str, str]:
    return {"source": source, "as_of": as_of.isoformat()}


def _fill_household(result: Prefill, family: Family, source: str, members: list[dict[str, Any]]) -> None:
    for name, value in family.household.items():
        result.values[name] = value
        result.provenance[name] = _mark(source, family.as_of)
    for index, member in enumerate(members):
        for name in member:
            result.provenance[f"members.{index}.{name}"] = _mark(source, family.as_of)


def _fill_member(result: Prefill, member: dict[str, Any], index: int, facts: PersonFacts,
                 source: str) -> None:
    for name, value in facts.values.items():
        if name not in member:
            member[name] = value
            result.provenance[f"members.{index}.{name}"] = _mark(source, facts.as_of)

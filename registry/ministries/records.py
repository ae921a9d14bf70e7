"""What a ministry adapter hands back, already in the registration form's vocabulary."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class SourceUnavailable(Exception):
    """The ministry could not answer (down, too slow, unreadable answer); registration goes on without it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class InvalidNationalId(ValueError):
    """The ID asked for fails the check digit, so no ministry is asked about it."""

    def __init__(self, value: str) -> None:
        super().__init__("invalid national ID")
        self.value = value


@dataclass(frozen=True)
class Family:
    """A household as the civil registry holds it.

    ``household`` holds top-level form fields (governorate, locality, address); ``members`` holds
    one dict of member fields per person, the head first. ``as_of`` dates every value here.
    """

    as_of: dt.date
    household: dict[str, Any] = field(default_factory=dict)
    members: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class PersonFacts:
    """Member fields one ministry holds about one person, dated by that ministry's record."""

    national_id: str
    as_of: dt.date
    values: dict[str, Any] = field(default_factory=dict)


class MinistrySource(Protocol):
    """One ministry's data, looked up by national ID.

    Interior answers ``family`` (the household the ID belongs to); Education and Health answer
    ``persons`` (facts per member ID) and return None / {} from the other method. An ID the
    ministry does not know is simply absent; a ministry that cannot answer raises SourceUnavailable.
    """

    name: str

    def family(self, national_id: str, *, today: dt.date) -> Family | None: ...

    def persons(self, national_ids: Sequence[str], *, today: dt.date) -> dict[str, PersonFacts]: ...

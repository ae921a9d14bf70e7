"""Registry events partner systems may subscribe to, written in the transaction that made them happen.

An event row is written only while some client subscribes to its kind, so the registry's own work (a
re-score of every household) costs one small query when nobody listens. The worker turns each row into
notifications (registry.interop.delivery).
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.interop.models import InteropSubscription, RegistryEvent


class EventType(enum.StrEnum):
    """The standard's ``reg_event_type`` values, and ``UPDATE`` for a changed eligibility category."""

    REGISTER = "REGISTER"
    NEW_MEMBER = "NewHouseHoldMember"
    UPDATE = "UPDATE"


EVENT_TYPES = tuple(e.value for e in EventType)


def event_type(value: Any) -> str | None:
    """Our event type for a ``reg_event_type`` (prefixed names such as ``spdci:RegistryEventType:REGISTER`` too)."""
    if not isinstance(value, str):
        return None
    name = value.rsplit(":", 1)[-1]
    return name if name in EVENT_TYPES else None


def record(session: Session, events: Iterable[tuple[EventType, int, dict[str, Any]]], *, at: dt.datetime) -> None:
    """Add (kind, household id, details) events that someone subscribes to; only flushes with the caller's work."""
    events = list(events)
    if not events:
        return
    listened = set(session.scalars(select(InteropSubscription.event_type).where(
        InteropSubscription.event_type.in_({kind.value for kind, _h, _d in events}),
        InteropSubscription.status == "subscribe").distinct()))
    session.add_all(RegistryEvent(event_type=kind.value, household_id=household_id, details=details, created_at=at)
                    for kind, household_id, details in events if kind.value in listened)


def household_saved(session: Session, *, household_id: int, registered: bool, members_before: set[str],
                    members_now: list[str], at: dt.datetime) -> None:
    """A household registered, or members added to one already registered."""
    added = [n for n in members_now if n not in members_before]
    if registered:
        record(session, [(EventType.REGISTER, household_id, {"members": len(members_now)})], at=at)
    elif added and members_before:
        record(session, [(EventType.NEW_MEMBER, household_id, {"members_added": len(added)})], at=at)


def categories_changed(session: Session, changes: Iterable[tuple[int, str, str]], *, at: dt.datetime) -> None:
    """(household id, category before, category after) for each household whose category changed."""
    record(session, [(EventType.UPDATE, household_id, {"before": before, "after": after})
                     for household_id, before, after in changes if before != after], at=at)

"""Audit events: who did what and when, with before/after; appended, never changed."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.orm import Session

from registry.models import AuditEvent


def record_event(session: Session, *, actor_id: int | None, case_id: int | None, action: str,
                 at: dt.datetime, details: dict[str, Any] | None = None) -> AuditEvent:
    event = AuditEvent(actor_id=actor_id, case_id=case_id, action=action, at=at, details=details or {})
    session.add(event)
    return event

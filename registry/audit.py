"""Audit events: who did what and when, with before/after; appended, never changed."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from registry.models import AuditEvent

#: Events are appended and never read back in the unit of work that writes them, so they are inserted as they
#: happen rather than tracked as objects until the flush (several times cheaper, and in the order they happened).
_APPEND = insert(cast(Table, AuditEvent.__table__))


def record_event(session: Session, *, actor_id: int | None, case_id: int | None, action: str,
                 at: dt.datetime, details: dict[str, Any] | None = None) -> None:
    """Append an event to the caller's transaction (it commits or rolls back with the rest)."""
    session.execute(_APPEND, [{"actor_id": actor_id, "case_id": case_id, "action": action, "at": at,
                               "details": details or {}}])

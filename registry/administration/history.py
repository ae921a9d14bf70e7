"""The administration changes, newest first, for the administration home page."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.administration.common import ACTIONS, require_admin
from registry.models import AuditEvent, User


def recent_changes(session: Session, *, actor: User, limit: int = 20) -> list[tuple[AuditEvent, User | None]]:
    require_admin(actor)
    rows = session.execute(select(AuditEvent, User).outerjoin(User, User.id == AuditEvent.actor_id)
                           .where(AuditEvent.action.in_(ACTIONS))
                           .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)).tuples()
    return list(rows)

"""What every administration service shares: who may act, one transaction per change, the audit entry."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.orm import Session

from registry.audit import record_event
from registry.errors import NotPermitted
from registry.models import Role, User

#: The audit actions of this package, newest first on the administration home page.
ACTIONS = ("user_created", "user_deactivated", "user_reactivated", "user_password_reset", "user_changed",
           "directorate_created", "directorate_changed", "directorate_deleted",
           "partner_created", "partner_changed", "partner_deactivated", "partner_reactivated",
           "interop_client_created", "interop_client_changed", "interop_client_deactivated",
           "interop_client_reactivated", "interop_client_secret_rotated")


def require_admin(actor: User) -> None:
    if actor.role != Role.ADMIN.value or not actor.active:
        raise NotPermitted("only administrators manage directorates and staff accounts")


@contextmanager
def unit_of_work(session: Session) -> Iterator[None]:
    """Commit the whole change, or roll it all back: a refused change leaves nothing behind."""
    try:
        yield
        session.commit()
    except BaseException:
        session.rollback()
        raise


def audit(session: Session, *, actor: User, action: str, now: dt.datetime, before: dict[str, Any] | None,
          after: dict[str, Any] | None, **facts: Any) -> None:
    record_event(session, actor_id=actor.id, case_id=None, action=action, at=now,
                 details={**facts, "before": before, "after": after})


def text(value: object, *, limit: int, required: bool = True) -> tuple[str | None, str | None]:
    """A trimmed text and the error code for it (``required``, ``too_long``), or (value, None)."""
    cleaned = value.strip() if isinstance(value, str) else ""
    if "\x00" in cleaned:
        return None, "invalid"
    if not cleaned:
        return None, "required" if required else None
    if len(cleaned) > limit:
        return None, "too_long"
    return cleaned, None

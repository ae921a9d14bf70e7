"""A staff member choosing their own password (required after an administrator set or reset it)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from engine.errors import FormInvalid
from registry.administration.accounts import MIN_PASSWORD
from registry.auth import change_password, verify_password
from registry.models import User


def change_own_password(session: Session, *, user: User, current: object, new: object, confirm: object,
                        now: dt.datetime) -> None:
    """Check the current password and set the new one; every session and token of the user ends.

    Raises FormInvalid (nothing changed).
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(current, str) or not current or not verify_password(user.password_hash, current):
        errors["current"] = ["wrong_password"]
    chosen = new if isinstance(new, str) else ""
    if not chosen:
        errors["new"] = ["required"]
    elif len(chosen) < MIN_PASSWORD:
        errors["new"] = ["password_too_short"]
    elif len(chosen) > 200 or "\x00" in chosen:
        errors["new"] = ["too_long"]
    elif isinstance(current, str) and chosen == current:
        errors["new"] = ["password_unchanged"]
    elif confirm != chosen:
        errors["confirm"] = ["password_mismatch"]
    if errors:
        raise FormInvalid(errors)
    change_password(session, user=user, new_password=chosen, now=now)

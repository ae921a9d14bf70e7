"""Staff accounts: create, deactivate and reactivate, reset a password, change role or directorate.

Deactivating, a new role or a new directorate ends the account's browser sessions and API tokens in the same
transaction: the next request of any of them is refused.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from registry.administration.common import audit, require_admin, text, unit_of_work
from registry.administration.errors import AdministrationRefused
from registry.auth import end_sessions_and_tokens, hash_password
from registry.models import Directorate, Role, User
from registry.referrals.models import PartnerOrganisation

#: The roles an administrator gives staff; the household's own lane (citizen) is no staff role.
STAFF_ROLES = (Role.RECEPTION.value, Role.SUPERVISOR.value, Role.CASE_MANAGER.value, Role.COMPLAINTS_HANDLER.value,
               Role.COMPLAINTS_UNIT.value, Role.ANALYST.value, Role.ADMIN.value)
#: Roles whose work is a directorate's; the others work for the whole ministry and have none.
DIRECTORATE_ROLES = frozenset({Role.RECEPTION.value, Role.SUPERVISOR.value, Role.CASE_MANAGER.value,
                               Role.COMPLAINTS_HANDLER.value})
USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")
MIN_PASSWORD = 10
#: Letters and digits nobody confuses when reading a password aloud or from a screen.
_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


@dataclass(frozen=True)
class UserFilter:
    directorate_id: int | None = None
    role: str | None = None
    active: bool | None = None


def generate_password() -> str:
    """A random password of 15 letters and digits in three groups (about 74 bits), shown once."""
    return "-".join("".join(secrets.choice(_ALPHABET) for _ in range(5)) for _ in range(3))


def snapshot(user: User) -> dict[str, Any]:
    """What an audit entry records of an account, before and after a change."""
    return {"role": user.role, "directorate": user.directorate.code if user.directorate else None,
            "partner_id": user.partner_id, "active": user.active, "full_name": user.full_name,
            "full_name_ar": user.full_name_ar}


def list_users(session: Session, *, actor: User, where: UserFilter | None = None) -> list[User]:
    """Staff accounts, by username, filtered by directorate, role and whether active."""
    require_admin(actor)
    where = where or UserFilter()
    query = select(User).where(User.role.in_(STAFF_ROLES)).order_by(User.username)
    if where.directorate_id is not None:
        query = query.where(User.directorate_id == where.directorate_id)
    if where.role is not None:
        query = query.where(User.role == where.role)
    if where.active is not None:
        query = query.where(User.active.is_(where.active))
    return list(session.scalars(query))


def get_user(session: Session, *, actor: User, user_id: int) -> User:
    """A staff or partner account (the ones an administrator manages)."""
    require_admin(actor)
    user = session.get(User, user_id)
    if user is None or user.role not in (*STAFF_ROLES, Role.PARTNER.value):
        raise NotFoundForActor(f"user {user_id}")
    return user


def _assignment(session: Session, *, role: object, directorate_id: object,
                errors: dict[str, list[str]]) -> tuple[str | None, Directorate | None]:
    chosen = role if isinstance(role, str) and role in STAFF_ROLES else None
    if chosen is None:
        errors["role"] = ["unknown_choice" if role else "required"]
    directorate = None
    if directorate_id not in (None, ""):
        text_id = str(directorate_id)
        directorate = session.get(Directorate, int(text_id)) if text_id.isdigit() and len(text_id) < 10 else None
        if directorate is None:
            errors["directorate"] = ["unknown_choice"]
            return chosen, None
    if chosen in DIRECTORATE_ROLES and directorate is None:
        errors["directorate"] = ["directorate_required"]
    elif chosen is not None and chosen not in DIRECTORATE_ROLES and directorate is not None:
        errors["directorate"] = ["no_directorate_for_role"]
    return chosen, directorate


def check_username(session: Session, username: object, errors: dict[str, list[str]]) -> str:
    """The username as stored (trimmed, lower case); a problem goes into ``errors``."""
    name = username.strip().lower() if isinstance(username, str) else ""
    if not name:
        errors["username"] = ["required"]
    elif not USERNAME.match(name):
        errors["username"] = ["username_format"]
    elif session.scalar(select(User.id).where(User.username == name)) is not None:
        errors["username"] = ["username_taken"]
    return name


def check_password(password: object, errors: dict[str, list[str]]) -> str | None:
    """An initial password the administrator typed, or None to generate one; a problem goes into ``errors``."""
    given = password if isinstance(password, str) and password != "" else None
    if given is not None and (len(given) < MIN_PASSWORD or len(given) > 200 or "\x00" in given):
        errors["password"] = ["password_too_short" if len(given) < MIN_PASSWORD else "too_long"]
    return given


def _active_admins(session: Session, *, other_than: int) -> int:
    return session.scalar(select(func.count(User.id)).where(
        User.role == Role.ADMIN.value, User.active.is_(True), User.id != other_than)) or 0


def create_user(session: Session, *, actor: User, username: object, full_name: object, full_name_ar: object,
                role: object, directorate_id: object, password: object, now: dt.datetime) -> tuple[User, str | None]:
    """A new staff account; with no password given, one is generated and returned (to be shown once).

    The user chooses their own password at the first login. Raises FormInvalid (nothing stored).
    """
    require_admin(actor)
    errors: dict[str, list[str]] = {}
    name = check_username(session, username, errors)
    english, code = text(full_name, limit=150)
    if code:
        errors["full_name"] = [code]
    arabic, code = text(full_name_ar, limit=150)
    if code:
        errors["full_name_ar"] = [code]
    chosen_role, directorate = _assignment(session, role=role, directorate_id=directorate_id, errors=errors)
    given = check_password(password, errors)
    if errors:
        raise FormInvalid(errors)
    assert english and arabic and chosen_role
    generated = None if given is not None else generate_password()
    with unit_of_work(session):
        user = User(username=name, full_name=english, full_name_ar=arabic, role=chosen_role,
                    directorate_id=directorate.id if directorate else None, directorate=directorate,
                    password_hash=hash_password(given or generated or ""), is_demo=False, active=True,
                    created_at=now, must_change_password=True)
        session.add(user)
        session.flush()
        audit(session, actor=actor, action="user_created", now=now, user=user.username, user_id=user.id,
              before=None, after=snapshot(user))
    return user, generated


def _partner_active(session: Session, partner_id: int) -> bool:
    partner = session.get(PartnerOrganisation, partner_id)
    return partner is not None and partner.active


def deactivate_user(session: Session, *, actor: User, user_id: int, now: dt.datetime) -> User:
    """Stop an account at once: no login, and its sessions and API tokens end in the same transaction.

    Raises AdministrationRefused for one's own account or the last active administrator.
    """
    user = get_user(session, actor=actor, user_id=user_id)
    if user.id == actor.id:
        raise AdministrationRefused("self")
    if not user.active:
        return user
    if user.role == Role.ADMIN.value and _active_admins(session, other_than=user.id) == 0:
        raise AdministrationRefused("last_admin")
    with unit_of_work(session):
        before = snapshot(user)
        user.active = False
        user.deactivated_at = now
        end_sessions_and_tokens(session, user=user, now=now)
        audit(session, actor=actor, action="user_deactivated", now=now, user=user.username, user_id=user.id,
              before=before, after=snapshot(user))
    return user


def reactivate_user(session: Session, *, actor: User, user_id: int, now: dt.datetime) -> User:
    user = get_user(session, actor=actor, user_id=user_id)
    if user.active:
        return user
    if user.partner_id is not None and not _partner_active(session, user.partner_id):
        raise AdministrationRefused("partner_inactive")
    with unit_of_work(session):
        before = snapshot(user)
        user.active = True
        user.deactivated_at = None
        audit(session, actor=actor, action="user_reactivated", now=now, user=user.username, user_id=user.id,
              before=before, after=snapshot(user))
    return user


def reset_password(session: Session, *, actor: User, user_id: int, now: dt.datetime) -> str:
    """A new generated password (returned to be shown once); the old one, sessions and tokens end now.

    The user chooses their own password at the next login.
    """
    user = get_user(session, actor=actor, user_id=user_id)
    if user.id == actor.id:
        raise AdministrationRefused("self")
    password = generate_password()
    with unit_of_work(session):
        user.password_hash = hash_password(password)
        user.must_change_password = True
        end_sessions_and_tokens(session, user=user, now=now)
        audit(session, actor=actor, action="user_password_reset", now=now, user=user.username, user_id=user.id,
              before=None, after=None)
    return password


def change_user(session: Session, *, actor: User, user_id: int, full_name: object, full_name_ar: object,
                role: object, directorate_id: object, now: dt.datetime) -> User:
    """New names, role or directorate; a new role or directorate ends the account's sessions and tokens.

    Raises FormInvalid, or AdministrationRefused for one's own role or the last active administrator.
    """
    user = get_user(session, actor=actor, user_id=user_id)
    if user.role == Role.PARTNER.value:
        raise AdministrationRefused("partner_account")
    errors: dict[str, list[str]] = {}
    english, code = text(full_name, limit=150)
    if code:
        errors["full_name"] = [code]
    arabic, code = text(full_name_ar, limit=150)
    if code:
        errors["full_name_ar"] = [code]
    chosen_role, directorate = _assignment(session, role=role, directorate_id=directorate_id, errors=errors)
    if errors:
        raise FormInvalid(errors)
    assert english and arabic and chosen_role
    new_directorate_id = directorate.id if directorate else None
    scope_changed = chosen_role != user.role or new_directorate_id != user.directorate_id
    if scope_changed and user.id == actor.id:
        raise AdministrationRefused("self")
    if (user.role == Role.ADMIN.value and chosen_role != Role.ADMIN.value and user.active
            and _active_admins(session, other_than=user.id) == 0):
        raise AdministrationRefused("last_admin")
    before = snapshot(user)
    if not scope_changed and english == user.full_name and arabic == user.full_name_ar:
        return user
    with unit_of_work(session):
        user.full_name, user.full_name_ar, user.role = english, arabic, chosen_role
        user.directorate_id, user.directorate = new_directorate_id, directorate
        if scope_changed:  # what the account may see changed: its open sessions and tokens saw the old scope
            end_sessions_and_tokens(session, user=user, now=now)
        audit(session, actor=actor, action="user_changed", now=now, user=user.username, user_id=user.id,
              before=before, after=snapshot(user))
    return user

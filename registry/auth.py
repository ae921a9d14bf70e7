"""Staff authentication: argon2 passwords, lock-out after repeated failures, API bearer tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.errors import InvalidCredentials, LoginLocked
from registry.models import ApiToken, User

_HASHER = PasswordHasher()
DEMO_PASSWORD = "demo"  # noqa: S105 - the documented demo password, refused outside demo mode
MAX_FAILED_LOGINS = 5
LOCK_DURATION = dt.timedelta(minutes=15)
TOKEN_LIFETIME = dt.timedelta(hours=12)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def authenticate(session: Session, *, username: str, password: str, demo_mode: bool, now: dt.datetime) -> User:
    """The active user with these credentials; counts failures and locks the account for a while."""
    user = session.scalar(select(User).where(User.username == username.strip().lower()))
    if user is None or not user.active:
        _HASHER.hash(password)  # spend the same time as a real check, so usernames don't leak
        raise InvalidCredentials()
    if user.locked_until is not None and user.locked_until > now:
        raise LoginLocked(user.locked_until)
    ok: bool
    try:
        ok = _HASHER.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if ok and user.is_demo and not demo_mode:
        ok = False  # demo accounts exist only to try the system
    if not ok:
        # Counted in the database, so parallel guesses cannot lose increments and slip past the lock.
        failures = session.execute(
            update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1)
            .returning(User.failed_logins)).scalar_one()
        if failures >= MAX_FAILED_LOGINS:
            session.execute(update(User).where(User.id == user.id)
                            .values(locked_until=now + LOCK_DURATION, failed_logins=0))
        session.commit()
        raise InvalidCredentials()
    user.failed_logins = 0
    user.locked_until = None
    session.commit()
    return user


def issue_token(session: Session, *, user: User, now: dt.datetime) -> tuple[str, dt.datetime]:
    """A new bearer token; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    expires = now + TOKEN_LIFETIME
    session.add(ApiToken(token_hash=_digest(token), user_id=user.id, created_at=now, expires_at=expires))
    session.commit()
    return token, expires


def user_for_token(session: Session, *, token: str, now: dt.datetime) -> User | None:
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.expires_at <= now or not row.user.active:
        return None
    if row.user.locked_until is not None and row.user.locked_until > now:
        return None
    return row.user


def revoke_token(session: Session, *, token: str) -> None:
    """End a token before it expires (logout)."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is not None:
        session.delete(row)
        session.commit()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

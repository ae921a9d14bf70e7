"""Staff authentication: argon2 passwords, server-side sessions, API bearer tokens.

Repeated failures are throttled by the web layer's rate limiter (per address, and per address and
account), never by locking the account itself: a lock that anyone can trigger keeps the real user out.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from registry.audit import record_event
from registry.errors import InvalidCredentials
from registry.models import ApiToken, StaffSession, User

#: argon2id with OWASP's 7 MiB, 5 passes, 1 lane: one of the settings its cheat sheet rates as equally strong, and
#: the one that fits a web worker: argon2-cffi's default (64 MiB) raised every worker that logged anyone in by
#: 64 MB, past its 100 MB budget. Older hashes still verify and are replaced at their owner's next login.
_HASHER = PasswordHasher(time_cost=5, memory_cost=7 * 1024, parallelism=1)
DEMO_PASSWORD = "demo"  # noqa: S105 - the documented demo password, refused outside demo mode
TOKEN_LIFETIME = dt.timedelta(hours=12)
#: last_seen_at is written at most this often, so a busy user costs no write per request.
SESSION_TOUCH_INTERVAL = dt.timedelta(minutes=1)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def authenticate(session: Session, *, username: str, password: str, demo_mode: bool) -> User:
    """The active user with these credentials; every refusal is the same ``InvalidCredentials``."""
    name = username.strip().lower()
    # A NUL byte can match no username, and PostgreSQL refuses it in a query.
    user = session.scalar(select(User).where(User.username == name)) if "\x00" not in name else None
    ok = _verify(user.password_hash if user is not None else _dummy_hash(), password)
    if user is None or not user.active or not ok:
        raise InvalidCredentials()
    if user.is_demo and not demo_mode:
        raise InvalidCredentials()  # demo accounts exist only to try the system
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)  # committed with the session or token that follows
    return user


@functools.cache
def _dummy_hash() -> str:
    """A hash to check unknown usernames against, so they cost the same time as a wrong password."""
    return _HASHER.hash(secrets.token_urlsafe(16))


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; with no hash (unknown account) it costs the same time and is False."""
    ok = _verify(password_hash or _dummy_hash(), password)
    return ok and password_hash is not None


def start_session(session: Session, *, user: User, now: dt.datetime) -> str:
    """A new server-side session for a browser; the returned id goes in its cookie, only its hash is kept."""
    session_id = secrets.token_urlsafe(32)
    session.add(StaffSession(token_hash=_digest(session_id), user_id=user.id, created_at=now, last_seen_at=now))
    session.commit()
    return session_id


def user_for_session(session: Session, *, session_id: str, now: dt.datetime, idle_timeout: dt.timedelta,
                     lifetime: dt.timedelta) -> User | None:
    """The user of a live session, or None once it ended, sat idle too long or outlived its lifetime."""
    row = session.scalar(select(StaffSession).where(StaffSession.token_hash == _digest(session_id)))
    if row is None or row.ended_at is not None or not row.user.active:
        return None
    if now - row.last_seen_at >= idle_timeout or now - row.created_at >= lifetime:
        row.ended_at = now
        session.commit()
        return None
    if now - row.last_seen_at >= SESSION_TOUCH_INTERVAL:
        row.last_seen_at = now
        session.commit()
    return row.user


def end_session(session: Session, *, session_id: str, now: dt.datetime) -> None:
    """Log a browser out: its cookie, even a copy, no longer opens the session."""
    session.execute(update(StaffSession).where(StaffSession.token_hash == _digest(session_id),
                                               StaffSession.ended_at.is_(None)).values(ended_at=now))
    session.commit()


def change_password(session: Session, *, user: User, new_password: str, now: dt.datetime) -> None:
    """Set a new password and end every session and API token the user had."""
    user.password_hash = hash_password(new_password)
    user.must_change_password = False
    end_sessions_and_tokens(session, user=user, now=now)
    record_event(session, actor_id=user.id, case_id=None, action="password_changed", at=now)
    session.commit()


def end_sessions_and_tokens(session: Session, *, user: User, now: dt.datetime) -> None:
    """End every browser session and API token of ``user`` in the caller's transaction (flushes only)."""
    session.execute(update(StaffSession).where(StaffSession.user_id == user.id, StaffSession.ended_at.is_(None))
                    .values(ended_at=now))
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))


def issue_token(session: Session, *, user: User, now: dt.datetime) -> tuple[str, dt.datetime]:
    """A new bearer token; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    expires = now + TOKEN_LIFETIME
    session.add(ApiToken(token_hash=_digest(token), user_id=user.id, created_at=now, expires_at=expires))
    session.commit()
    return token, expires


def user_for_token(session: Session, *, token: str, now: dt.datetime) -> User | None:
    """The active user a live token belongs to; failed logins by anyone never stop a valid token."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.expires_at <= now or not row.user.active:
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

"""Citizen accounts: sign up, confirm the mobile with a code, log in and out, reset a forgotten password.

Every answer that could tell whether a national ID has an account is the same either way: a repeated
sign-up, a reset for an unknown ID and a wrong password look exactly like their ordinary twins. Repeated
attempts are throttled by the web layer (per address, and per address and national ID), never by locking
the account, so nobody can keep its owner out. Each service is one transaction with its audit event.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.audit import record_event
from registry.auth import hash_password, verify_password
from registry.citizens.codes import issue_code, sent_moments_ago, use_code
from registry.citizens.errors import InvalidCode
from registry.citizens.models import Citizen, CitizenSession, CodePurpose
from registry.citizens.validation import national_id_or_none, normalize_mobile, password_problem, signup_problems
from registry.errors import FormInvalid, InvalidCredentials

#: last_seen_at is written at most this often, so a busy citizen costs no write per request.
SESSION_TOUCH_INTERVAL = dt.timedelta(minutes=1)
LANGUAGES = ("ar", "en")
#: The outbox templates (processes/notifications.yaml) of the codes, by purpose.
CODE_TEMPLATES = {CodePurpose.SIGNUP: "signup_code", CodePurpose.RESET: "password_reset_code"}


def _audit(session: Session, *, citizen: Citizen | None, action: str, now: dt.datetime, **details: Any) -> None:
    record_event(session, actor_id=None, case_id=None, action=action, at=now,
                 details={"citizen_id": citizen.id if citizen else None, **details})


def _find(session: Session, national_id: str) -> Citizen | None:
    return session.scalar(select(Citizen).where(Citizen.national_id == national_id))


def _send_code(session: Session, *, citizen: Citizen, purpose: CodePurpose, now: dt.datetime) -> None:
    from registry.notifications import queue_message

    code = issue_code(session, citizen=citizen, purpose=purpose, now=now)
    if code is None:
        return
    queue_message(session, template=CODE_TEMPLATES[purpose], lang=citizen.lang, now=now, to_mobile=citizen.mobile,
                  citizen_id=citizen.id, params={"code": code})
    _audit(session, citizen=citizen, action="citizen_code_sent", now=now, purpose=purpose.value)


def sign_up(session: Session, *, national_id: str, mobile: str, password: str, password_again: str | None = None,
            lang: str = "ar", now: dt.datetime) -> str:
    """Start an account and text a code to the mobile; returns the national ID (normalised) to confirm.

    Bad fields raise ``FormInvalid`` with error codes and create nothing. An ID with a confirmed account
    gets the same answer and nothing is sent; an unconfirmed one is started afresh, since only the person
    holding the mobile can finish it.
    """
    problems = signup_problems(national_id=national_id, mobile=mobile, password=password,
                               password_again=password_again)
    if problems:
        raise FormInvalid(problems)
    nid = national_id_or_none(national_id)
    phone = normalize_mobile(mobile)
    assert nid is not None and phone is not None
    citizen = session.scalar(select(Citizen).where(Citizen.national_id == nid).with_for_update())
    # A confirmed account is never touched; nor is one whose code just went out, which could otherwise be
    # confirmed with that code under the mobile and password given since.
    if citizen is not None and (citizen.confirmed or sent_moments_ago(session, citizen=citizen,
                                                                      purpose=CodePurpose.SIGNUP, now=now)):
        _audit(session, citizen=citizen, action="citizen_signup_repeated", now=now)
        session.commit()
        return nid
    if citizen is None:
        citizen = Citizen(national_id=nid, mobile=phone, password_hash=hash_password(password), created_at=now,
                          lang=lang if lang in LANGUAGES else "ar", active=True, session_generation=0)
        session.add(citizen)
        session.flush()
    else:
        citizen.mobile, citizen.password_hash = phone, hash_password(password)
        citizen.lang = lang if lang in LANGUAGES else citizen.lang
    _audit(session, citizen=citizen, action="citizen_signed_up", now=now)
    _send_code(session, citizen=citizen, purpose=CodePurpose.SIGNUP, now=now)
    session.commit()
    return nid


def resend_signup_code(session: Session, *, national_id: str, now: dt.datetime) -> None:
    """Send a new sign-up code when an unconfirmed account waits for one (silently nothing otherwise)."""
    nid = national_id_or_none(national_id)
    citizen = _find(session, nid) if nid else None
    if citizen is not None and not citizen.confirmed and citizen.active:
        _send_code(session, citizen=citizen, purpose=CodePurpose.SIGNUP, now=now)
    session.commit()


def confirm_mobile(session: Session, *, national_id: str, code: str, now: dt.datetime) -> Citizen:
    """Confirm the account's mobile with its sign-up code; ``InvalidCode`` for anything else."""
    nid = national_id_or_none(national_id)
    citizen = _find(session, nid) if nid else None
    if citizen is not None and (citizen.confirmed or not citizen.active):
        citizen = None
    use_code(session, citizen=citizen, purpose=CodePurpose.SIGNUP, code=code, now=now)
    assert citizen is not None
    citizen.mobile_confirmed_at = now
    _audit(session, citizen=citizen, action="citizen_mobile_confirmed", now=now)
    session.commit()
    return citizen


def authenticate(session: Session, *, national_id: str, password: str, demo_mode: bool) -> Citizen:
    """The confirmed, active account with these credentials; every refusal is the same ``InvalidCredentials``."""
    nid = national_id_or_none(national_id)
    citizen = _find(session, nid) if nid else None
    ok = verify_password(citizen.password_hash if citizen is not None else None, password)
    if citizen is None or not ok or not citizen.active or not citizen.confirmed:
        raise InvalidCredentials()
    if citizen.is_demo and not demo_mode:
        raise InvalidCredentials()  # the seeded demo account exists only to try the portal
    return citizen


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, *, citizen: Citizen, now: dt.datetime) -> str:
    """A new portal session; the returned id goes in the portal's cookie, only its hash is kept."""
    token = secrets.token_urlsafe(32)
    session.add(CitizenSession(token_hash=_token_hash(token), citizen_id=citizen.id,
                               generation=citizen.session_generation, created_at=now, last_seen_at=now))
    _audit(session, citizen=citizen, action="citizen_logged_in", now=now)
    session.commit()
    return token


def citizen_for_session(session: Session, *, token: str, now: dt.datetime, idle_timeout: dt.timedelta,
                        lifetime: dt.timedelta) -> Citizen | None:
    """The citizen of a live portal session, or None once it ended, sat idle, outlived its lifetime or was revoked."""
    row = session.scalar(select(CitizenSession).where(CitizenSession.token_hash == _token_hash(token)))
    if row is None or row.ended_at is not None:
        return None
    citizen = session.get(Citizen, row.citizen_id)
    if citizen is None or not citizen.active or row.generation != citizen.session_generation:
        return None
    if now - row.last_seen_at >= idle_timeout or now - row.created_at >= lifetime:
        row.ended_at = now
        session.commit()
        return None
    if now - row.last_seen_at >= SESSION_TOUCH_INTERVAL:
        row.last_seen_at = now
        session.commit()
    return citizen


def end_session(session: Session, *, token: str, now: dt.datetime) -> None:
    """Log a browser out of the portal: its cookie, even a copy, no longer opens the session."""
    row = session.scalar(select(CitizenSession).where(CitizenSession.token_hash == _token_hash(token),
                                                      CitizenSession.ended_at.is_(None)))
    if row is not None:
        row.ended_at = now
        _audit(session, citizen=session.get(Citizen, row.citizen_id), action="citizen_logged_out", now=now)
    session.commit()


def _end_every_session(session: Session, *, citizen: Citizen, now: dt.datetime) -> None:
    citizen.session_generation += 1
    session.execute(update(CitizenSession).where(CitizenSession.citizen_id == citizen.id,
                                                 CitizenSession.ended_at.is_(None)).values(ended_at=now))


def request_password_reset(session: Session, *, national_id: str, now: dt.datetime) -> str | None:
    """Text a reset code to the account's confirmed mobile; the same (silent) answer when there is no such account.

    Returns the normalised ID for the code step, or None when it is not a valid national ID at all.
    """
    nid = national_id_or_none(national_id)
    if nid is None:
        return None
    citizen = _find(session, nid)
    if citizen is not None and citizen.confirmed and citizen.active:
        _audit(session, citizen=citizen, action="citizen_reset_requested", now=now)
        _send_code(session, citizen=citizen, purpose=CodePurpose.RESET, now=now)
    session.commit()
    return nid


def reset_password(session: Session, *, national_id: str, code: str, new_password: str,
                   password_again: str | None = None, now: dt.datetime) -> Citizen:
    """Set a new password with the reset code; every session the account had ends.

    A password that cannot be used raises ``FormInvalid`` before the code is tried, so it costs no guess.
    """
    nid = national_id_or_none(national_id)
    citizen = _find(session, nid) if nid else None
    problem = password_problem(new_password, national_id=nid, mobile=citizen.mobile if citizen else None)
    if problem:
        raise FormInvalid({"password": [problem]})
    if password_again is not None and password_again != new_password:
        raise FormInvalid({"password_again": ["passwords_differ"]})
    if citizen is not None and not (citizen.confirmed and citizen.active):
        citizen = None
    use_code(session, citizen=citizen, purpose=CodePurpose.RESET, code=code, now=now)
    assert citizen is not None
    citizen.password_hash = hash_password(new_password)
    _end_every_session(session, citizen=citizen, now=now)
    _audit(session, citizen=citizen, action="citizen_password_reset", now=now)
    session.commit()
    return citizen


def set_language(session: Session, *, citizen: Citizen, lang: str) -> None:
    """The language the citizen's messages are written in (the portal's own choice follows the page)."""
    if lang in LANGUAGES and citizen.lang != lang:
        citizen.lang = lang
        session.commit()


__all__ = ["InvalidCode", "authenticate", "citizen_for_session", "confirm_mobile", "end_session",
           "request_password_reset", "resend_signup_code", "reset_password", "set_language", "sign_up",
           "start_session"]

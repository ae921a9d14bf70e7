"""Six-digit codes sent to a citizen's mobile: only a hash is kept; each expires and allows a few guesses."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.citizens.errors import InvalidCode
from registry.citizens.models import Citizen, CodePurpose, OneTimeCode
from registry.citizens.validation import ascii_digits

CODE_LIFETIME = dt.timedelta(minutes=15)
#: Wrong guesses one code survives; then a new one must be asked for (which the web layer throttles too).
CODE_ATTEMPTS = 5
#: A new code is sent at most this often per account and purpose, whoever asks.
RESEND_INTERVAL = dt.timedelta(minutes=1)


def _digest(citizen_id: int, purpose: str, code: str) -> str:
    return hashlib.sha256(f"{citizen_id}:{purpose}:{code}".encode()).hexdigest()


def sent_moments_ago(session: Session, *, citizen: Citizen, purpose: CodePurpose, now: dt.datetime) -> bool:
    """Whether a code of this purpose went out less than ``RESEND_INTERVAL`` ago."""
    latest = session.scalar(select(OneTimeCode.created_at).where(
        OneTimeCode.citizen_id == citizen.id, OneTimeCode.purpose == purpose.value)
        .order_by(OneTimeCode.created_at.desc()).limit(1))
    return latest is not None and now - latest < RESEND_INTERVAL


def issue_code(session: Session, *, citizen: Citizen, purpose: CodePurpose, now: dt.datetime) -> str | None:
    """A fresh code (every earlier one of this purpose stops working), or None when one was sent a moment ago."""
    if sent_moments_ago(session, citizen=citizen, purpose=purpose, now=now):
        return None
    session.execute(update(OneTimeCode).where(
        OneTimeCode.citizen_id == citizen.id, OneTimeCode.purpose == purpose.value, OneTimeCode.used_at.is_(None),
        OneTimeCode.expires_at > now).values(expires_at=now))
    code = f"{secrets.randbelow(1_000_000):06d}"
    session.add(OneTimeCode(citizen_id=citizen.id, purpose=purpose.value, code_hash=_digest(citizen.id, purpose, code),
                            created_at=now, expires_at=now + CODE_LIFETIME, attempts=0))
    session.flush()
    return code


def use_code(session: Session, *, citizen: Citizen | None, purpose: CodePurpose, code: str,
             now: dt.datetime) -> None:
    """Spend the citizen's live code if ``code`` is it; otherwise count the guess (committed) and refuse."""
    row = None
    if citizen is not None:
        row = session.scalar(select(OneTimeCode).where(
            OneTimeCode.citizen_id == citizen.id, OneTimeCode.purpose == purpose.value,
            OneTimeCode.used_at.is_(None), OneTimeCode.expires_at > now)
            .order_by(OneTimeCode.created_at.desc()).limit(1).with_for_update())
    if row is None or row.attempts >= CODE_ATTEMPTS:
        raise InvalidCode()
    assert citizen is not None
    if not hmac.compare_digest(row.code_hash, _digest(citizen.id, purpose, ascii_digits(code.strip()))):
        row.attempts += 1
        session.commit()  # the guess counts even though the caller's change is refused
        raise InvalidCode()
    row.used_at = now

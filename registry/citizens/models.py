"""Citizen accounts, their server-side portal sessions and the one-time codes sent to their mobiles."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class Citizen(Base):
    """A person who signed up on the portal; usable once the mobile is confirmed with a code."""

    __tablename__ = "citizens"

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(String(9), unique=True)
    #: Normalised as 05XXXXXXXX (see registry.citizens.validation.normalize_mobile).
    mobile: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str] = mapped_column(String(200))
    mobile_confirmed_at: Mapped[dt.datetime | None]
    #: The household the account was linked to (by staff or an online application); see registry.citizens.access.
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    lang: Mapped[str] = mapped_column(String(2), default="ar")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Raised to end every session at once (password reset, deactivation); a session carries the one it began in.
    session_generation: Mapped[int] = mapped_column(default=0)
    #: A demo account (seeded for `make run`): it logs in only in demo mode, like the demo staff.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def confirmed(self) -> bool:
        return self.mobile_confirmed_at is not None


class CitizenSession(Base):
    """A browser logged in to the portal: the cookie carries a random id, only its hash is stored here."""

    __tablename__ = "citizen_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    generation: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]


class CodePurpose(enum.StrEnum):
    SIGNUP = "signup"
    RESET = "reset"


class OneTimeCode(Base):
    """A six-digit code sent to a citizen's mobile; only its hash is kept, it expires and allows a few guesses."""

    __tablename__ = "one_time_codes"
    __table_args__ = (Index("ix_one_time_codes_citizen_purpose", "citizen_id", "purpose"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    used_at: Mapped[dt.datetime | None]

"""A case manager's visit capacity: their own daily quota (else the rule file's) and their days off."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class StaffQuota(Base):
    """How many households one case manager visits a day, when it differs from rules/campaign_allocation.yaml."""

    __tablename__ = "staff_visit_quotas"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), primary_key=True)
    visits_per_day: Mapped[int]
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class StaffDayOff(Base):
    """A day a case manager does not visit (leave, training, sickness); allocation skips it."""

    __tablename__ = "staff_days_off"
    __table_args__ = (Index("uq_staff_days_off_user_day", "user_id", "day", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    day: Mapped[dt.date]
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

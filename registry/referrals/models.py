"""Partner organisations (other ministries, NGOs, UN agencies) and the referrals sent to them."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, utcnow


class PartnerKind(enum.StrEnum):
    MINISTRY = "ministry"
    NGO = "ngo"
    UN_AGENCY = "un_agency"
    OTHER = "other"


class ReferralStatus(enum.StrEnum):
    SENT = "sent"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    DELIVERED = "delivered"
    #: Declined, then sent to another partner (a new referral carries on).
    REFERRED_ON = "referred_on"
    CLOSED = "closed"


class PartnerOrganisation(Base):
    """An organisation outside the directorates that delivers services to households on referral."""

    __tablename__ = "partner_organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: Short, stable code: the scope of its referral tasks (``referrals:<code>``) and the plan's choice value.
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_ar: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: The service codes it delivers (the plan's intervention areas).
    services: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    def name(self, lang: str) -> str:
        return self.name_ar if lang == "ar" else self.name_en


class Referral(Base):
    """One intervention of a case's plan sent to one partner; its reference is its process's business key."""

    __tablename__ = "referrals"
    __table_args__ = (
        Index("ix_referrals_partner_created", "partner_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: ``REF-<case id>-<n>``: unique, and what the partner quotes when calling the case manager.
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partner_organisations.id"))
    #: The service asked (an intervention area of the plan: health, education...).
    service: Mapped[str] = mapped_column(String(32))
    #: The intervention as the plan words it.
    intervention: Mapped[str] = mapped_column(Text)
    #: The case manager's note to the partner (what the household needs, how to reach them).
    note: Mapped[str | None] = mapped_column(Text)
    #: When the plan wants the intervention done by (its ``due_date``).
    plan_due_on: Mapped[dt.date | None]
    status: Mapped[str] = mapped_column(String(16), default=ReferralStatus.SENT.value)
    acknowledge_due_at: Mapped[dt.datetime | None]
    deliver_due_at: Mapped[dt.datetime | None]
    acknowledged_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]
    decline_reason: Mapped[str | None] = mapped_column(Text)
    service_delivered: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(32))
    #: The referral this one replaces (sent on after a partner declined).
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("referrals.id"))
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    partner: Mapped[PartnerOrganisation] = relationship(lazy="joined")

    @property
    def is_open(self) -> bool:
        return self.status in (ReferralStatus.SENT.value, ReferralStatus.ACCEPTED.value)

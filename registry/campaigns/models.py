"""A data-update campaign, the directorates it covers, and one visit per household in its scope."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, utcnow
from registry.models import Directorate, Household, User


class CampaignStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"


class CampaignScope(enum.StrEnum):
    """Which households a campaign visits."""

    BENEFICIARIES = "beneficiaries"
    WAITING_LIST = "waiting_list"


class VisitOutcome(enum.StrEnum):
    UPDATED = "updated"
    NOT_FOUND = "not_found"
    REFUSED = "refused"


class Campaign(Base):
    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(150))
    starts_on: Mapped[dt.date]
    ends_on: Mapped[dt.date]
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.ACTIVE.value)
    #: CampaignScope values: which households the campaign visits.
    include: Mapped[list[Any]] = mapped_column(default=list)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    directorates: Mapped[list[Directorate]] = relationship(
        secondary="campaign_directorates", order_by="Directorate.code", lazy="selectin", viewonly=True)
    created_by: Mapped[User | None] = relationship()


class CampaignDirectorate(Base):
    __tablename__ = "campaign_directorates"

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"), primary_key=True)
    directorate_id: Mapped[int] = mapped_column(ForeignKey("directorates.id"), primary_key=True)


class Visit(Base):
    """One attempt to visit one household in a campaign; a second attempt is a new row (attempt 2)."""

    __tablename__ = "campaign_visits"
    __table_args__ = (
        Index("ix_campaign_visits_campaign_directorate_day", "campaign_id", "directorate_id", "planned_on"),
        Index("ix_campaign_visits_case_manager_day", "case_manager_id", "planned_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    directorate_id: Mapped[int] = mapped_column(ForeignKey("directorates.id"))
    locality: Mapped[str] = mapped_column(String(120))
    case_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    planned_on: Mapped[dt.date | None]
    attempt: Mapped[int] = mapped_column(default=1)
    #: None while open; a VisitOutcome value once completed.
    outcome: Mapped[str | None] = mapped_column(String(16))
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    category_before: Mapped[str | None] = mapped_column(String(20))
    category_after: Mapped[str | None] = mapped_column(String(20))
    visited_at: Mapped[dt.datetime | None]
    completed_at: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: Optimistic lock: every change to the visit adds one; a submission names the version it started from.
    lock_version: Mapped[int] = mapped_column(default=1)

    campaign: Mapped[Campaign] = relationship()
    household: Mapped[Household] = relationship()
    directorate: Mapped[Directorate] = relationship(lazy="joined")
    case_manager: Mapped[User | None] = relationship()

    @property
    def is_open(self) -> bool:
        return self.outcome is None

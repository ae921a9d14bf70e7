"""The outbox table: one row per message to a household, kept after it is sent."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base


class Channel(enum.StrEnum):
    SMS = "sms"
    EMAIL = "email"


class MessageState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class OutboxMessage(Base):
    """A rendered message waiting for its sender, or sent, or given up on after its attempts."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        # The deliverer's query: pending rows in due order.
        Index("ix_outbox_messages_due", "state", "send_after"),
        # The staff page: a directorate's messages, newest first.
        Index("ix_outbox_messages_directorate_recent", "directorate_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(254))
    # A plain number: the citizens' table belongs to the portal, and a message outlives an account.
    citizen_id: Mapped[int | None] = mapped_column(index=True)
    #: The case or complaint reference the message is about.
    business_key: Mapped[str | None] = mapped_column(String(40), index=True)
    #: The directorate whose staff may read it (None: administrators only).
    directorate_id: Mapped[int | None] = mapped_column(ForeignKey("directorates.id"))
    template: Mapped[str] = mapped_column(String(64))
    lang: Mapped[str] = mapped_column(String(2))
    body: Mapped[str] = mapped_column(Text)
    #: The body with one-time codes hidden, for the staff page.
    body_masked: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    send_after: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(8), default=MessageState.PENDING.value)

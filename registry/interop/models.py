"""Partner systems that call the registry through the SPDCI Social Registry API, and what they asked."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from engine.db import Base, utcnow


class Scope(enum.StrEnum):
    """What a client may ask for; each endpoint needs one."""

    SEARCH = "search"
    SUBSCRIBE = "subscribe"
    TXN_STATUS = "txn_status"


class TxnStatus(enum.StrEnum):
    """The standard's request status: received, pending, success, rejected."""

    RECEIVED = "rcvd"
    PENDING = "pdng"
    SUCCESS = "succ"
    REJECTED = "rjct"


class DeliveryState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class InteropClient(Base):
    """A registered partner system (not a staff account): its credentials, scopes and the fields it may see."""

    __tablename__ = "interop_clients"

    id: Mapped[int] = mapped_column(primary_key=True)
    #: The OAuth2 client id; also the ``sender_id`` its envelopes must carry.
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    #: Field groups of a record it may see (registry.interop.records.FIELD_GROUPS).
    fields: Mapped[list[Any]] = mapped_column(default=list)
    #: A referral partner's organisation: the client then sees only households referred to it.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner_organisations.id"))
    #: Base URL of its callback endpoints (``/registry/on-search``, ``/registry/notify``, ...).
    callback_url: Mapped[str | None] = mapped_column(String(500))
    #: PEM public key (Ed25519 or RSA): when set, every envelope must carry a valid signature.
    public_key: Mapped[str | None] = mapped_column(Text)
    #: A bearer token the partner issued us for its callback endpoints (sent as ``Authorization: Bearer``). Kept
    #: as given, since we must send it; it should be a token scoped to those endpoints only.
    callback_token: Mapped[str | None] = mapped_column(String(500))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class InteropToken(Base):
    """A bearer token issued to a client; only its hash is kept."""

    __tablename__ = "interop_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("interop_clients.id"), index=True)
    created_at: Mapped[dt.datetime]
    expires_at: Mapped[dt.datetime]


class InteropTransaction(Base):
    """One message a client sent (search, subscribe, unsubscribe, txn-status) and the answer it got."""

    __tablename__ = "interop_transactions"
    __table_args__ = (
        # A message id is used once per sender: a repeat is refused, not answered twice.
        Index("uq_interop_transactions_message", "client_id", "message_id", unique=True),
        Index("ix_interop_transactions_client_txn", "client_id", "transaction_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("interop_clients.id"))
    action: Mapped[str] = mapped_column(String(20))
    message_id: Mapped[str] = mapped_column(String(99))
    transaction_id: Mapped[str] = mapped_column(String(99))
    #: Ours, given back in the acknowledgement.
    correlation_id: Mapped[str] = mapped_column(String(40), unique=True)
    reference_ids: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(4))
    #: The message answered (or to be delivered by callback).
    response: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime]


class InteropDelivery(Base):
    """A callback or a notification to post to a client, with its attempts (the worker delivers it)."""

    __tablename__ = "interop_deliveries"
    __table_args__ = (
        Index("ix_interop_deliveries_due", "state", "send_after"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("interop_clients.id"), index=True)
    url: Mapped[str] = mapped_column(String(600))
    action: Mapped[str] = mapped_column(String(20))
    body: Mapped[dict[str, Any]]
    state: Mapped[str] = mapped_column(String(8), default=DeliveryState.PENDING.value)
    attempts: Mapped[int] = mapped_column(default=0)
    send_after: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    #: The subscription whose notifications this one gathers until it is due (its frequency), else None.
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("interop_subscriptions.id"), index=True)


class InteropSubscription(Base):
    """A client's subscription to one kind of registry event, with the filter households must match."""

    __tablename__ = "interop_subscriptions"
    __table_args__ = (
        Index("ix_interop_subscriptions_event", "event_type", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    client_id: Mapped[int] = mapped_column(ForeignKey("interop_clients.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(40))
    filter_type: Mapped[str | None] = mapped_column(String(20))
    filter: Mapped[dict[str, Any] | None]
    notify_record_type: Mapped[str] = mapped_column(String(60))
    callback_url: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12))
    #: The standard's ``frequency`` (``start_time``, ``end_time``, cron ``frequency``); None: notify at once.
    frequency: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]


class RegistryEvent(Base):
    """Something subscribers may be told about, written in the transaction that made it happen."""

    __tablename__ = "interop_events"
    __table_args__ = (
        Index("ix_interop_events_pending", "fanned_out_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_type: Mapped[str] = mapped_column(String(40))
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime]
    fanned_out_at: Mapped[dt.datetime | None]


class InteropRequest(Base):
    """Every request received: who asked what, when, and how it was answered (refusals too)."""

    __tablename__ = "interop_requests"
    __table_args__ = (
        Index("ix_interop_requests_client_at", "client_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int | None] = mapped_column(ForeignKey("interop_clients.id"))
    action: Mapped[str] = mapped_column(String(40))
    summary: Mapped[str] = mapped_column(Text)
    outcome: Mapped[str] = mapped_column(String(60))
    http_status: Mapped[int]
    at: Mapped[dt.datetime]

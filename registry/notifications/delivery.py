"""Delivering due messages: any number of workers may run this at once against PostgreSQL."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.notifications.models import MessageState, OutboxMessage
from registry.notifications.senders import NotifySettings, Outgoing, Sender, sender_from_settings

log = logging.getLogger("mosd.outbox")

MAX_BACKOFF = dt.timedelta(days=1)


def deliver_due(session_factory: Callable[[], Session], *, now: dt.datetime, limit: int = 100,
                sender: Sender | None = None, settings: NotifySettings | None = None) -> int:
    """Send up to ``limit`` due pending messages, one transaction each; returns how many were sent.

    Each message is claimed with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL), so two workers never take
    the same one; it is marked sent in the transaction that held it. A failure counts an attempt,
    keeps the error and waits twice as long as the time before, until the attempts run out.
    """
    settings = settings or NotifySettings()
    sender = sender or sender_from_settings(settings)
    sent = 0
    for _ in range(limit):
        with session_factory() as session, session.begin():
            message = session.scalar(
                select(OutboxMessage)
                .where(OutboxMessage.state == MessageState.PENDING.value, OutboxMessage.send_after <= now)
                .order_by(OutboxMessage.send_after, OutboxMessage.id)
                .limit(1)
                .with_for_update(skip_locked=True))
            if message is None:
                break
            message.attempts += 1
            try:
                sender.send(Outgoing(id=message.id, channel=message.channel, recipient=message.recipient,
                                     body=message.body, lang=message.lang, template=message.template))
            except Exception as err:  # noqa: BLE001 - any sender failure is recorded on the message and retried
                _failed(message, f"{type(err).__name__}: {err}"[:500], now=now, settings=settings)
            else:
                message.state, message.sent_at, message.last_error = MessageState.SENT.value, now, None
                sent += 1
    return sent


def _failed(message: OutboxMessage, error: str, *, now: dt.datetime, settings: NotifySettings) -> None:
    message.last_error = error
    if message.attempts >= settings.max_attempts:
        message.state = MessageState.FAILED.value
        log.warning("outbox message %s given up after %s attempts: %s", message.id, message.attempts, error)
        return
    wait = dt.timedelta(seconds=settings.backoff_seconds * 2 ** (message.attempts - 1))
    message.send_after = now + min(wait, MAX_BACKOFF)

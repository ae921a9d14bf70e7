"""The worker's part: registry events become notifications, and callbacks and notifications are posted.

Any number of workers may run this against PostgreSQL: each event and each delivery is claimed with
``FOR UPDATE SKIP LOCKED`` in its own transaction. A failed post (no answer, or not 2xx) counts an attempt
and waits twice as long as before (from ``backoff_seconds``, at most an hour) until the attempts run out.

Each post is signed when it leaves (so a retry an hour later carries a signature valid then) with the
registry's key, and carries the client's callback token as ``Authorization: Bearer``. A subscription with a
``frequency`` gathers its events, between its ``start_time`` and ``end_time``, into one notification that
waits for the cron's next time (registry.interop.schedule); outside that window each event goes at once.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.households import latest_scores
from registry.interop import records, schedule
from registry.interop.envelope import callback_header, new_id, parse_timestamp, timestamp
from registry.interop.models import (
    DeliveryState,
    InteropClient,
    InteropDelivery,
    InteropSubscription,
    RegistryEvent,
    TxnStatus,
)
from registry.interop.queries import GROUP, Compiler, QueryInvalid
from registry.interop.services import Settings, visible
from registry.models import Household
from registry.operations import local_date

log = logging.getLogger("mosd.interop")

#: Posts ``body`` as JSON to ``url`` with extra HTTP ``headers``; raises on failure.
Post = Callable[[str, dict[str, Any], dict[str, str]], None]
MAX_BACKOFF = dt.timedelta(hours=1)
_ERROR_LENGTH = 500


@dataclass(frozen=True)
class DeliverySettings:
    timeout: float = 10.0
    max_attempts: int = 8
    backoff_seconds: int = 30


@dataclass
class InteropWork:
    events: int = 0
    notifications: int = 0
    delivered: int = 0
    failed: int = 0


def http_post(timeout: float) -> Post:
    def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        request = urllib.request.Request(url, data=json.dumps(body, ensure_ascii=False).encode(),  # noqa: S310
                                         headers={"Content-Type": "application/json", **headers}, method="POST")
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 - registered http(s) URLs
            if not 200 <= response.status < 300:
                raise urllib.error.HTTPError(url, response.status, "not accepted", response.headers, None)

    return post


def run(session_factory: Callable[[], Session], *, now: dt.datetime, settings: Settings | None = None,
        delivery: DeliverySettings | None = None, post: Post | None = None, limit: int = 100) -> InteropWork:
    """Fan out pending events into notifications, then post due deliveries (at most ``limit`` of each)."""
    settings, delivery = settings or Settings(), delivery or DeliverySettings()
    post = post or http_post(delivery.timeout)
    work = InteropWork()
    for _ in range(limit):
        with session_factory() as session, session.begin():
            made = _fan_out_next(session, now=now, settings=settings)
        if made is None:
            break
        work.events += 1
        work.notifications += made
    for _ in range(limit):
        with session_factory() as session, session.begin():
            sent = _deliver_next(session, now=now, post=post, delivery=delivery, settings=settings)
        if sent is None:
            break
        if sent:
            work.delivered += 1
        else:
            work.failed += 1
    return work


def _fan_out_next(session: Session, *, now: dt.datetime, settings: Settings) -> int | None:
    """One pending event → a notification for each subscription it concerns; None when none is pending."""
    event = session.scalar(select(RegistryEvent).where(RegistryEvent.fanned_out_at.is_(None))
                           .order_by(RegistryEvent.id).limit(1).with_for_update(skip_locked=True))
    if event is None:
        return None
    event.fanned_out_at = now
    made = 0
    subscriptions = session.execute(select(InteropSubscription, InteropClient)
                                    .join(InteropClient, InteropClient.id == InteropSubscription.client_id)
                                    .where(InteropSubscription.event_type == event.event_type,
                                           InteropSubscription.status == "subscribe", InteropClient.active,
                                           InteropSubscription.created_at <= event.created_at)).tuples().all()
    for subscription, client in subscriptions:
        item = _notify_event(session, event=event, subscription=subscription, client=client, now=now)
        if item is None:
            continue
        cron = _batching(subscription, now)
        if cron is not None and _add_to_batch(session, subscription=subscription, item=item):
            continue
        body = _notification([item], client=client, now=now, settings=settings)
        session.add(InteropDelivery(client_id=client.id, url=subscription.callback_url + "/registry/notify",
                                    action="notify", body=body, created_at=now,
                                    send_after=cron.next_after(now) if cron is not None else now,
                                    subscription_id=subscription.id if cron is not None else None))
        made += 1
    return made


def _batching(subscription: InteropSubscription, now: dt.datetime) -> schedule.Cron | None:
    """The cron a subscription's notifications wait for now, or None when they go at once."""
    frequency = subscription.frequency
    if not frequency:
        return None
    start, end = parse_timestamp(frequency.get("start_time")), parse_timestamp(frequency.get("end_time"))
    if start is None or end is None or not start <= now <= end:
        return None
    try:
        return schedule.parse(frequency.get("frequency"))
    except schedule.CronInvalid:  # checked when subscribing; a stored one that no longer reads goes at once
        return None


def _add_to_batch(session: Session, *, subscription: InteropSubscription, item: dict[str, Any]) -> bool:
    """Add an event to the subscription's notification still waiting for its time; False when there is none."""
    waiting = session.scalar(select(InteropDelivery).where(
        InteropDelivery.subscription_id == subscription.id, InteropDelivery.state == DeliveryState.PENDING.value,
        InteropDelivery.attempts == 0).order_by(InteropDelivery.id).limit(1).with_for_update())
    if waiting is None:
        return False
    events = [*waiting.body["message"]["notify_event"], item]
    header = {**waiting.body["header"], "total_count": len(events), "completed_count": len(events)}
    waiting.body = {"header": header, "message": {**waiting.body["message"], "notify_event": events}}
    return True


def _notify_event(session: Session, *, event: RegistryEvent, subscription: InteropSubscription,
                  client: InteropClient, now: dt.datetime) -> dict[str, Any] | None:
    """One ``notify_event`` item, or None when the client may not see the household or its filter leaves it out."""
    condition = Household.id == event.household_id
    if subscription.filter:
        try:
            condition = condition & Compiler(fields=frozenset(client.fields), entity=GROUP, today=local_date(now)) \
                .compile(subscription.filter.get("filter_type"), subscription.filter.get("query"))
        except QueryInvalid:  # the client's field groups were narrowed since it subscribed
            return None
    household = session.scalar(select(Household).where(condition, visible(client)))
    if household is None:
        return None
    record = records.group(household, latest_scores(session, [household.id]).get(household.id),
                           frozenset(client.fields))
    return {"reference_id": f"{subscription.code}-{event.id}", "timestamp": timestamp(event.created_at),
            "data": {"version": "1.0.0", "reg_type": records.REG_TYPE, "reg_event_type": event.event_type,
                     "reg_record_type": GROUP, "reg_records": record},
            "locale": "eng"}


def _notification(items: list[dict[str, Any]], *, client: InteropClient, now: dt.datetime,
                  settings: Settings) -> dict[str, Any]:
    """The notify envelope of one or more events (unsigned: it is signed when posted)."""
    header = callback_header(action="notify", status=TxnStatus.SUCCESS.value, now=now,
                             registry_id=settings.registry_id, receiver_id=client.client_id,
                             total_count=len(items), completed_count=len(items))
    return {"header": header, "message": {"transaction_id": new_id(), "notify_event": items}}


def _deliver_next(session: Session, *, now: dt.datetime, post: Post, delivery: DeliverySettings,
                  settings: Settings) -> bool | None:
    """Post one due delivery: True when accepted, False when it failed (to be retried), None when none is due."""
    row = session.scalar(select(InteropDelivery)
                         .where(InteropDelivery.state == DeliveryState.PENDING.value, InteropDelivery.send_after <= now)
                         .order_by(InteropDelivery.send_after, InteropDelivery.id).limit(1)
                         .with_for_update(skip_locked=True))
    if row is None:
        return None
    row.attempts += 1
    token = session.scalar(select(InteropClient.callback_token).where(InteropClient.id == row.client_id))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        post(row.url, settings.sign(row.body, now=now), headers)
    except Exception as err:  # noqa: BLE001 - any failure to deliver is kept on the row and retried
        row.last_error = f"{type(err).__name__}: {err}"[:_ERROR_LENGTH]
        if row.attempts >= delivery.max_attempts:
            row.state = DeliveryState.FAILED.value
            log.warning("interop delivery %s to %s given up after %s attempts", row.id, row.url, row.attempts)
        else:
            wait = dt.timedelta(seconds=delivery.backoff_seconds * 2 ** (row.attempts - 1))
            row.send_after = now + min(wait, MAX_BACKOFF)
        return False
    row.state, row.sent_at, row.last_error = DeliveryState.SENT.value, now, None
    return True

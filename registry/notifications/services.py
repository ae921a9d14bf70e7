"""Queuing a message with the caller's unit of work, and the outbox as staff read it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from registry.errors import NotPermitted
from registry.models import Case, Role, User
from registry.notifications.models import Channel, MessageState, OutboxMessage
from registry.notifications.templates import DEFAULT_LANGUAGE, LANGUAGES, TemplateError, load_templates, render
from registry.paging import Page, page_info


def queue_message(session: Session, *, template: str, params: dict[str, Any], lang: str, now: dt.datetime,
                  to_mobile: str | None = None, to_email: str | None = None, citizen_id: int | None = None,
                  business_key: str | None = None, directorate_id: int | None = None,
                  templates_path: Path | None = None) -> QueuedMessage:
    """Render ``template`` and write it to the outbox, due now; it commits with the caller.

    An SMS when a mobile is given, else an e-mail. Staff of ``directorate_id`` may read it; when it is
    not given, that of the case whose reference is ``business_key``. ``templates_path`` is the
    notifications file to read (a deployed version's; the project's own by default).
    Raises TemplateError for an unknown template or a placeholder without a value.
    """
    if not (to_mobile or to_email):
        raise ValueError("a message needs a mobile number or an e-mail address")
    found = load_templates(templates_path).get(template)
    if found is None:
        raise TemplateError(f"no message template {template!r} in notifications.yaml")
    lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
    body, masked = render(found, params, lang)
    if directorate_id is None and business_key:
        directorate_id = session.scalar(select(Case.directorate_id).where(Case.reference == business_key))
    values: dict[str, Any] = {
        "channel": Channel.SMS.value if to_mobile else Channel.EMAIL.value, "recipient": to_mobile or to_email,
        "citizen_id": citizen_id, "business_key": business_key, "directorate_id": directorate_id,
        "template": template, "lang": lang, "body": body, "body_masked": masked, "created_at": now,
        "send_after": now, "attempts": 0, "state": MessageState.PENDING.value}
    # The session's own connection: the row commits (or rolls back) with the caller's transaction.
    message_id = session.connection().execute(_INSERT_MESSAGE, values).scalar_one()
    return QueuedMessage(id=message_id, **values)


#: A plain insert built once: the message is only written, so the unit of work (and its flush) is not needed.
_OUTBOX = cast(Table, OutboxMessage.__table__)
_INSERT_MESSAGE = insert(_OUTBOX).returning(_OUTBOX.c.id)


@dataclass(frozen=True)
class QueuedMessage:
    """A message as it was written to the outbox (a copy: the deliverer changes the row, not this)."""

    id: int
    channel: str
    recipient: str
    citizen_id: int | None
    business_key: str | None
    directorate_id: int | None
    template: str
    lang: str
    body: str
    body_masked: str
    created_at: dt.datetime
    send_after: dt.datetime
    attempts: int
    state: str


@dataclass(frozen=True)
class OutboxEntry:
    """One message as the staff page shows it (codes hidden unless the reader may see them)."""

    id: int
    channel: str
    recipient: str
    business_key: str | None
    template: str
    lang: str
    body: str
    state: str
    created_at: dt.datetime
    send_after: dt.datetime
    sent_at: dt.datetime | None
    attempts: int
    last_error: str | None


def may_read_outbox(actor: User) -> bool:
    return actor.role in (Role.ADMIN.value, Role.SUPERVISOR.value)


def outbox_page(session: Session, *, actor: User, state: str | None = None, page: int | None = None,
                per_page: int | None = None, demo_mode: bool = False) -> Page[OutboxEntry]:
    """Messages newest first: all for administrators, their directorate's for supervisors.

    One-time codes show only to administrators in demo mode (where the outbox stands in for a phone).
    """
    if not may_read_outbox(actor):
        raise NotPermitted("only administrators and supervisors read the outbox")
    query = select(OutboxMessage)
    if actor.role != Role.ADMIN.value:
        query = query.where(OutboxMessage.directorate_id == actor.directorate_id)
    if state in {s.value for s in MessageState}:
        query = query.where(OutboxMessage.state == state)
    info = page_info(session, query, page=page, per_page=per_page)
    show_codes = demo_mode and actor.role == Role.ADMIN.value
    rows = session.scalars(query.order_by(OutboxMessage.id.desc()).offset(info.offset).limit(info.per_page))
    items = [OutboxEntry(id=m.id, channel=m.channel, recipient=m.recipient, business_key=m.business_key,
                         template=m.template, lang=m.lang, body=m.body if show_codes else m.body_masked,
                         state=m.state, created_at=m.created_at, send_after=m.send_after, sent_at=m.sent_at,
                         attempts=m.attempts, last_error=m.last_error) for m in rows]
    return Page(items=items, info=info)

"""Answering the standard's requests: one envelope in, one answer out, one transaction each.

Sync endpoints answer with the result; async ones answer ``ACK`` and leave the result as a delivery the
worker posts to the client's callback (registry.interop.delivery). Every request, refused or not, is kept
in ``interop_requests`` with the client, the action, a summary of the query and the outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.households import latest_scores
from registry.interop import records, schedule
from registry.interop.clients import record_request
from registry.interop.envelope import (
    HTTP_STATUS,
    EnvelopeRefused,
    ErrorCode,
    Header,
    ack,
    callback_header,
    check_header,
    http_error,
    new_id,
    parse_timestamp,
    signed,
    split,
    timestamp,
    verify,
)
from registry.interop.events import EVENT_TYPES, event_type
from registry.interop.models import (
    InteropClient,
    InteropDelivery,
    InteropSubscription,
    InteropTransaction,
    Scope,
    TxnStatus,
)
from registry.interop.queries import GROUP, MEMBER, Compiler, QueryInvalid, sort_keys
from registry.models import Case, Household, Person
from registry.operations import local_date
from registry.referrals.models import Referral

MAX_BATCH = 10
_TIMESTAMP = "timestamp must be ISO 8601 with a zone"
_MAX_ID = 99


@dataclass(frozen=True)
class Settings:
    """This registry's id in envelopes, how much one page may hold, and the key that signs what it sends."""

    registry_id: str = "mosd-social-registry"
    max_page_size: int = 100
    #: PEM private key (Ed25519 or RSA) from ``INTEROP_SIGNING_KEY_FILE``; None: envelopes go unsigned.
    signing_key: str | None = None

    @classmethod
    def from_config(cls, config: Any) -> Settings:
        key_file = config.get("INTEROP_SIGNING_KEY_FILE")
        return cls(registry_id=str(config.get("INTEROP_REGISTRY_ID") or cls.registry_id),
                   max_page_size=int(config.get("INTEROP_MAX_PAGE_SIZE") or cls.max_page_size),
                   signing_key=_key_text(str(key_file)) if key_file else None)

    def sign(self, envelope: dict[str, Any], *, now: dt.datetime) -> dict[str, Any]:
        """The envelope as sent: signed with this registry's key when it has one."""
        return signed(envelope, private_key_pem=self.signing_key, key_id=self.registry_id, now=now)


@cache
def _key_text(path: str) -> str:
    """The signing key file, read once per process (settings are built for every request)."""
    return Path(path).read_text(encoding="utf-8")


@dataclass(frozen=True)
class Answer:
    body: dict[str, Any]
    http_status: int = 200


@dataclass
class _Outcome:
    """What a handler made of a message: the answer's message, its status, and what to remember."""

    message: dict[str, Any]
    status: str
    total: int
    completed: int
    reference_ids: list[str] = field(default_factory=list)
    summary: str = ""
    reason_message: str | None = None


@dataclass(frozen=True)
class Endpoint:
    action: str
    scope: Scope
    #: The callback's action and path under the client's callback URL; None for a sync endpoint.
    callback: tuple[str, str] | None
    handle: Callable[..., _Outcome]
    answer_action: str


# --- who sees what -----------------------------------------------------------------------------

def visible(client: InteropClient) -> ColumnElement[bool]:
    """Households a client may ever see: those that consented to data exchange (and, for a referral
    partner, only those referred to it)."""
    condition: ColumnElement[bool] = Household.consent_data_exchange.is_(True)
    if client.partner_id is not None:
        referred = (select(Case.household_id).join(Referral, Referral.case_id == Case.id)
                    .where(Referral.partner_id == client.partner_id, Case.household_id.is_not(None)))
        condition = and_(condition, Household.id.in_(referred))
    return condition


def find(session: Session, *, client: InteropClient, entity: str, condition: ColumnElement[bool],
         order: list[Any], page_size: int, page_number: int) -> tuple[list[dict[str, Any]], int]:
    """One page of records matching ``condition`` that the client may see, and how many match in all."""
    fields = frozenset(client.fields)
    if entity == MEMBER:
        base = (select(Person.id).join(Household, Household.id == Person.household_id)
                .where(Person.active, visible(client), condition))
        key = Person.id
    else:
        base = select(Household.id).where(visible(client), condition)
        key = Household.id
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    ids = list(session.scalars(base.order_by(*order, key).offset((page_number - 1) * page_size).limit(page_size)))
    if not ids:
        return [], total
    if entity == MEMBER:
        people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
        households = {h.id: h for h in session.scalars(select(Household).where(
            Household.id.in_({p.household_id for p in people.values()})))}
        return [records.member(people[i], fields, household=households[people[i].household_id]) for i in ids], total
    households = {h.id: h for h in session.scalars(select(Household).where(Household.id.in_(ids)))}
    scores = latest_scores(session, ids)
    return [records.group(households[i], scores.get(i), fields) for i in ids], total


# --- the handlers ------------------------------------------------------------------------------

def _reference(item: dict[str, Any]) -> str | None:
    value = item.get("reference_id")
    return value if isinstance(value, str) and value.strip() and len(value) <= _MAX_ID else None


def _locale(item: dict[str, Any]) -> str:
    value = item.get("locale")
    return value if isinstance(value, str) and len(value) == 3 and value.isalpha() and value.islower() else "eng"


def _transaction_id(message: dict[str, Any]) -> str:
    value = message.get("transaction_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_ID:
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, "message.transaction_id is missing or invalid")
    return value


def _batch(message: dict[str, Any], name: str) -> list[dict[str, Any]]:
    items = message.get(name)
    if not isinstance(items, list) or not items or len(items) > MAX_BATCH \
            or not all(isinstance(i, dict) for i in items):
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, f"message.{name} must list 1 to {MAX_BATCH} requests")
    return items


def _rejected(reference: str, reason: str, text: str, now: dt.datetime) -> dict[str, Any]:
    return {"reference_id": reference, "timestamp": timestamp(now), "status": TxnStatus.REJECTED.value,
            "status_reason_code": reason, "status_reason_message": text[:999]}


def _page(criteria: dict[str, Any], settings: Settings) -> tuple[int, int]:
    pagination = criteria.get("pagination")
    if pagination is None:
        return settings.max_page_size, 1
    size, number = (pagination.get("page_size"), pagination.get("page_number", 1)) \
        if isinstance(pagination, dict) else (None, None)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) and v == int(v) for v in (size, number)):
        raise QueryInvalid("rjct.pagination.invalid", "page_size and page_number must be whole numbers")
    assert size is not None and number is not None
    if not 1 <= size <= settings.max_page_size or number < 1:
        raise QueryInvalid("rjct.pagination.invalid", f"page_size is 1 to {settings.max_page_size}, page_number from 1")
    return int(size), int(number)


def summarize(criteria: Any) -> str:
    """The query on record: its type and the attributes it names (values of identifiers included)."""
    if not isinstance(criteria, dict):
        return "?"
    return f"{criteria.get('query_type') or criteria.get('filter_type')}: " \
           f"{str(criteria.get('query', criteria.get('filter')))[:300]}"


def _admitted(item: dict[str, Any], *, now: dt.datetime, answers: list[dict[str, Any]],
              references: list[str]) -> str | None:
    """A batch item's reference when it may be answered (a valid reference and timestamp); else None, and its
    rejection joins ``answers``."""
    reference = _reference(item)
    if reference is None:
        answers.append(_rejected(str(item.get("reference_id", ""))[:_MAX_ID], "rjct.reference_id.invalid",
                                 "reference_id is missing or invalid", now))
        return None
    references.append(reference)
    if parse_timestamp(item.get("timestamp")) is None:
        answers.append(_rejected(reference, "rjct.timestamp.invalid", _TIMESTAMP, now))
        return None
    return reference


def search(session: Session, *, client: InteropClient, message: dict[str, Any], now: dt.datetime,
           settings: Settings, correlation_id: str, callback_url: str | None = None) -> _Outcome:
    transaction_id = _transaction_id(message)
    answers: list[dict[str, Any]] = []
    references: list[str] = []
    summaries: list[str] = []
    for item in _batch(message, "search_request"):
        criteria = item.get("search_criteria")
        summaries.append(summarize(criteria))
        reference = _admitted(item, now=now, answers=answers, references=references)
        if reference is None:
            continue
        try:
            answers.append(_search_one(session, client=client, reference=reference, criteria=criteria,
                                       locale=_locale(item), now=now, settings=settings))
        except QueryInvalid as refused:
            answers.append(_rejected(reference, refused.reason, refused.message, now))
    done = sum(1 for a in answers if a["status"] == TxnStatus.SUCCESS.value)
    return _Outcome(message={"transaction_id": transaction_id, "correlation_id": correlation_id,
                             "search_response": answers},
                    status=TxnStatus.SUCCESS.value if done else TxnStatus.REJECTED.value, total=len(answers),
                    completed=len(answers), reference_ids=references, summary="; ".join(summaries))


def _search_one(session: Session, *, client: InteropClient, reference: str, criteria: Any, locale: str,
                now: dt.datetime, settings: Settings) -> dict[str, Any]:
    if not isinstance(criteria, dict) or "query_type" not in criteria or "query" not in criteria:
        raise QueryInvalid("rjct.search_criteria.invalid", "search_criteria needs query_type and query")
    entity = criteria.get("response_entity") or criteria.get("reg_record_type") or GROUP
    if entity not in (GROUP, MEMBER):
        raise QueryInvalid("rjct.search_criteria.invalid", "response_entity must be Group or Member")
    compiler = Compiler(fields=frozenset(client.fields), entity=entity, today=local_date(now))
    condition = compiler.compile(criteria["query_type"], criteria["query"])
    order = sort_keys(compiler, criteria.get("sort"))
    size, number = _page(criteria, settings)
    found, total = find(session, client=client, entity=entity, condition=condition, order=order,
                        page_size=size, page_number=number)
    return {"reference_id": reference, "timestamp": timestamp(now), "status": TxnStatus.SUCCESS.value,
            "data": {"version": "1.0.0", "reg_type": records.REG_TYPE, "reg_record_type": entity,
                     "reg_records": found},
            "pagination": {"page_size": size, "page_number": number, "total_count": total}, "locale": locale}


def subscribe(session: Session, *, client: InteropClient, message: dict[str, Any], now: dt.datetime,
              settings: Settings, correlation_id: str, callback_url: str | None = None) -> _Outcome:
    transaction_id = _transaction_id(message)
    assert callback_url is not None, "subscribing is async: the callback URL is known"
    answers: list[dict[str, Any]] = []
    references: list[str] = []
    summaries: list[str] = []
    for item in _batch(message, "subscribe_request"):
        criteria = item.get("subscribe_criteria")
        summaries.append(summarize(criteria))
        reference = _admitted(item, now=now, answers=answers, references=references)
        if reference is None:
            continue
        answers.append(_subscribe_one(session, client=client, reference=reference, criteria=criteria,
                                      locale=_locale(item), now=now, callback_url=callback_url))
    done = sum(1 for a in answers if a["status"] == TxnStatus.SUCCESS.value)
    return _Outcome(message={"transaction_id": transaction_id, "correlation_id": correlation_id,
                             "subscribe_response": answers},
                    status=TxnStatus.SUCCESS.value if done else TxnStatus.REJECTED.value, total=len(answers),
                    completed=len(answers), reference_ids=references, summary="; ".join(summaries))


def _subscribe_one(session: Session, *, client: InteropClient, reference: str, criteria: Any, locale: str,
                   now: dt.datetime, callback_url: str) -> dict[str, Any]:
    if not isinstance(criteria, dict):
        return _rejected(reference, "rjct.notify_details.invalid", "subscribe_criteria is missing", now)
    kind = event_type(criteria.get("reg_event_type"))
    if kind is None:
        return _rejected(reference, "rjct.notify_types.invalid",
                         f"reg_event_type must be one of {', '.join(EVENT_TYPES)}", now)
    record_type = criteria.get("notify_record_type") or GROUP
    if not isinstance(record_type, str) or record_type.rsplit(":", 1)[-1] not in (GROUP, MEMBER):
        return _rejected(reference, "rjct.notify_details.invalid", "notify_record_type must be Group", now)
    filter_type, given = criteria.get("filter_type"), criteria.get("filter")
    if given:
        try:
            Compiler(fields=frozenset(client.fields), entity=GROUP, today=local_date(now),
                     reason="rjct.notify_details.invalid").compile(filter_type, given)
        except QueryInvalid as refused:
            return _rejected(reference, refused.reason, refused.message, now)
    frequency = criteria.get("frequency")
    if frequency is not None:
        try:
            frequency = _frequency(frequency, now)
        except schedule.CronInvalid as refused:
            return _rejected(reference, "rjct.notify_details.invalid", str(refused), now)
    kept = {"filter_type": filter_type, "query": given} if given else None
    for existing in session.scalars(select(InteropSubscription).where(
            InteropSubscription.client_id == client.id, InteropSubscription.event_type == kind,
            InteropSubscription.status == "subscribe")):
        if existing.filter == kept:
            return _rejected(reference, "rjct.event.already_subscribed",
                             f"already subscribed with code {existing.code}", now)
    subscription = InteropSubscription(code=new_id(), client_id=client.id, event_type=kind,
                                       filter_type=filter_type if given else None, filter=kept,
                                       notify_record_type=GROUP, callback_url=callback_url, status="subscribe",
                                       frequency=frequency, created_at=now)
    session.add(subscription)
    session.flush()
    info: dict[str, Any] = {"code": subscription.code, "status": "subscribe", "timestamp": timestamp(now),
                            "reg_type": records.REG_TYPE, "reg_event_type": kind, "notify_record_type": GROUP,
                            "locale": locale}
    if given:
        info.update({"filter_type": filter_type, "filter": given})
    if frequency:
        info["frequency"] = frequency
    return {"reference_id": reference, "timestamp": timestamp(now), "status": TxnStatus.SUCCESS.value,
            "subscriptions": [info], "locale": locale}


def _frequency(given: Any, now: dt.datetime) -> dict[str, str]:
    """The standard's ``frequency`` checked and kept as given: a time window and a cron expression we can read."""
    if not isinstance(given, dict):
        raise schedule.CronInvalid("frequency needs start_time, end_time and frequency")
    start, end = parse_timestamp(given.get("start_time")), parse_timestamp(given.get("end_time"))
    if start is None or end is None or end <= start:
        raise schedule.CronInvalid("frequency.start_time and end_time must be ISO 8601 times with a zone, in order")
    schedule.parse(given.get("frequency")).next_after(now)
    return {"start_time": timestamp(start), "end_time": timestamp(end), "frequency": str(given["frequency"])}


def unsubscribe(session: Session, *, client: InteropClient, message: dict[str, Any], now: dt.datetime,
                settings: Settings, correlation_id: str, callback_url: str | None = None) -> _Outcome:
    transaction_id = _transaction_id(message)
    codes = message.get("subscription_codes")
    if not isinstance(codes, list) or not codes or len(codes) > 100 or not all(isinstance(c, str) for c in codes):
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, "message.subscription_codes must list 1 to 100 codes")
    if parse_timestamp(message.get("timestamp")) is None:
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, "message.timestamp must be ISO 8601 with a zone")
    mine = {s.code: s for s in session.scalars(select(InteropSubscription).where(
        InteropSubscription.client_id == client.id, InteropSubscription.code.in_(codes)))}
    statuses, reason = [], None
    for code in codes:
        subscription = mine.get(code)
        if subscription is None:
            reason = reason or "rjct.subscription_code.invalid"
            continue
        if subscription.status != "subscribe":
            reason = reason or "rjct.event.already_unsubscribed"
        subscription.status, subscription.ended_at = "unsubscribe", subscription.ended_at or now
        statuses.append({"code": code, "status": "unsubscribe"})
    answer: dict[str, Any] = {"transaction_id": transaction_id, "correlation_id": correlation_id,
                              "timestamp": timestamp(now),
                              "status": TxnStatus.REJECTED.value if reason else TxnStatus.SUCCESS.value,
                              "subscription_status": statuses}
    if reason:
        answer["status_reason_code"] = reason
    return _Outcome(message=answer, status=answer["status"], total=len(codes), completed=len(codes),
                    summary=f"{len(codes)} code(s)")


#: ``txn_type`` → the actions whose transactions it covers.
_TXN_TYPES = {"search": ("search",), "subscribe": ("subscribe", "unsubscribe")}


def txn_status(session: Session, *, client: InteropClient, message: dict[str, Any], now: dt.datetime,
               settings: Settings, correlation_id: str, callback_url: str | None = None) -> _Outcome:
    """The answer a client's earlier request got, found by transaction id, correlation id or references."""
    transaction_id = _transaction_id(message)
    request = message.get("txnstatus_request")
    if not isinstance(request, dict) or not {"reference_id", "txn_type", "attribute_type", "attribute_value"} \
            <= set(request):
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, "message.txnstatus_request needs reference_id, txn_type, "
                                                     "attribute_type and attribute_value")
    txn_type, attribute, value = request["txn_type"], request["attribute_type"], request["attribute_value"]
    if txn_type not in ("search", "subscribe", "receipt") or attribute not in (
            "transaction_id", "reference_id_list", "correlation_id"):
        raise EnvelopeRefused(ErrorCode.BAD_REQUEST, "txn_type or attribute_type is not one of the standard's")
    found = _earlier(session, client=client, actions=_TXN_TYPES.get(txn_type, ()), attribute=attribute, value=value)
    summary = f"{txn_type} by {attribute}"
    if found is None or found.response is None:
        status = {"transaction_id": value if isinstance(value, str) else "", "correlation_id": "",
                  f"{txn_type}_response": []}
        return _Outcome(message={"transaction_id": transaction_id, "correlation_id": correlation_id,
                                 "txnstatus_response": {"txn_type": txn_type, "txn_status": status}},
                        status=TxnStatus.REJECTED.value, total=1, completed=1, summary=summary,
                        reason_message="no such transaction of this client")
    stored = dict(found.response["message"])
    if attribute == "reference_id_list" and isinstance(value, list):
        for key in ("search_response", "subscribe_response"):
            if key in stored:
                stored[key] = [r for r in stored[key] if r.get("reference_id") in value]
    return _Outcome(message={"transaction_id": transaction_id, "correlation_id": correlation_id,
                             "txnstatus_response": {"txn_type": txn_type, "txn_status": stored}},
                    status=TxnStatus.SUCCESS.value, total=1, completed=1, summary=summary)


def _earlier(session: Session, *, client: InteropClient, actions: tuple[str, ...], attribute: str,
             value: Any) -> InteropTransaction | None:
    query = select(InteropTransaction).where(InteropTransaction.client_id == client.id,
                                             InteropTransaction.action.in_(actions))
    if attribute == "transaction_id" and isinstance(value, str):
        return session.scalars(query.where(InteropTransaction.transaction_id == value)
                               .order_by(InteropTransaction.id.desc()).limit(1)).first()
    if attribute == "correlation_id" and isinstance(value, str):
        return session.scalars(query.where(InteropTransaction.correlation_id == value)).first()
    if attribute == "reference_id_list" and isinstance(value, list) and value:
        wanted = {v for v in value if isinstance(v, str)}
        for row in session.scalars(query.order_by(InteropTransaction.id.desc()).limit(200)):
            if wanted & set(row.reference_ids):
                return row
    return None


ENDPOINTS: dict[str, Endpoint] = {
    "search": Endpoint("search", Scope.SEARCH, ("on-search", "/registry/on-search"), search, "on-search"),
    "sync-search": Endpoint("search", Scope.SEARCH, None, search, "on-search"),
    "subscribe": Endpoint("subscribe", Scope.SUBSCRIBE, ("on-subscribe", "/registry/on-subscribe"), subscribe,
                          "on-subscribe"),
    "unsubscribe": Endpoint("unsubscribe", Scope.SUBSCRIBE, ("on-unsubscribe", "/registry/on-unsubscribe"),
                            unsubscribe, "on-unsubscribe"),
    "txn-status": Endpoint("txn-status", Scope.TXN_STATUS, ("txn-on-status", "/registry/txn/on-status"), txn_status,
                           "txn-on-status"),
    "sync-txn-status": Endpoint("txn-status", Scope.TXN_STATUS, None, txn_status, "txn-on-status"),
}


# --- one request -------------------------------------------------------------------------------

def answer(session: Session, *, client: InteropClient, endpoint: str, document: Any, now: dt.datetime,
           settings: Settings) -> Answer:
    """Answer one envelope from an authenticated client, keep the transaction and the request on record."""
    spec = ENDPOINTS[endpoint]
    correlation_id = new_id()
    if spec.scope.value not in client.scopes:
        refusal = Answer(http_error(ErrorCode.FORBIDDEN, f"this client may not use {spec.scope.value}"), 403)
        record_request(session, client=client, action=endpoint, summary="", outcome=str(ErrorCode.FORBIDDEN),
                       http_status=403, now=now)
        return refusal
    summary = ""
    try:
        signature, raw_header, message = split(document)
        header = check_header(raw_header, action=spec.action, sender_id=client.client_id,
                              registry_id=settings.registry_id)
        if client.public_key:
            verify(signature, public_key_pem=client.public_key, header=raw_header, message=message, now=now)
        callback = _callback_url(client, header) if spec.callback else None
        outcome = spec.handle(session, client=client, message=message, now=now, settings=settings,
                              correlation_id=correlation_id, callback_url=callback)
        summary = outcome.summary
        body = _keep(session, client=client, spec=spec, header=header, outcome=outcome, now=now,
                     settings=settings, callback=callback, correlation_id=correlation_id)
        session.flush()
    except EnvelopeRefused as refused:
        session.rollback()
        record_request(session, client=client, action=endpoint, summary=summary, outcome=str(refused.code),
                       http_status=refused.http_status, now=now)
        return Answer(ack("ERR", now=now, correlation_id=correlation_id, error=refused), refused.http_status)
    except IntegrityError:  # the same message id twice at once: the other request has it
        session.rollback()
        duplicate = _duplicate()
        record_request(session, client=client, action=endpoint, summary=summary, outcome=str(duplicate.code),
                       http_status=duplicate.http_status, now=now)
        return Answer(ack("ERR", now=now, correlation_id=correlation_id, error=duplicate), duplicate.http_status)
    record_request(session, client=client, action=endpoint, summary=summary,
                   outcome=("ACK" if spec.callback else body["header"]["status"]), http_status=200, now=now)
    return Answer(body if spec.callback else settings.sign(body, now=now))


def _duplicate() -> EnvelopeRefused:
    return EnvelopeRefused(ErrorCode.BAD_REQUEST, "rjct.message_id.duplicate: this message_id was already received")


def _callback_url(client: InteropClient, header: Header) -> str:
    """Where the callback goes: the header's sender_uri when it lies under the client's registered URL."""
    registered = client.callback_url
    if not registered:
        raise EnvelopeRefused(ErrorCode.SENDER_URI_INVALID, "this client has no registered callback URL")
    if header.sender_uri is None:
        return registered
    if header.sender_uri.rstrip("/") != registered and not header.sender_uri.startswith(registered + "/"):
        raise EnvelopeRefused(ErrorCode.SENDER_URI_INVALID, "sender_uri must lie under the registered callback URL")
    return header.sender_uri.rstrip("/")


def _keep(session: Session, *, client: InteropClient, spec: Endpoint, header: Header, outcome: _Outcome,
          now: dt.datetime, settings: Settings, callback: str | None, correlation_id: str) -> dict[str, Any]:
    """Store the transaction with its answer; queue the callback of an async request. Returns the HTTP body."""
    if session.scalar(select(InteropTransaction.id).where(InteropTransaction.client_id == client.id,
                                                          InteropTransaction.message_id == header.message_id)):
        raise _duplicate()
    envelope = {"header": callback_header(action=spec.answer_action, status=outcome.status, now=now,
                                          registry_id=settings.registry_id, receiver_id=client.client_id,
                                          total_count=outcome.total, completed_count=outcome.completed,
                                          reason_message=outcome.reason_message),
                "message": outcome.message}
    session.add(InteropTransaction(client_id=client.id, action=spec.action, message_id=header.message_id,
                                   transaction_id=str(outcome.message.get("transaction_id", "")),
                                   correlation_id=correlation_id, reference_ids=outcome.reference_ids,
                                   status=outcome.status, response=envelope, created_at=now))
    if spec.callback is None:
        return envelope
    assert callback is not None
    session.add(InteropDelivery(client_id=client.id, url=callback + spec.callback[1], action=spec.callback[0],
                                body=envelope, send_after=now, created_at=now))
    return ack("ACK", now=now, correlation_id=correlation_id)


def refuse(session: Session, *, client: InteropClient | None, endpoint: str, code: ErrorCode, message: str,
           now: dt.datetime) -> Answer:
    """A request refused before its envelope is read (no valid token, too many requests): on record, answered
    with the standard's HTTP error."""
    status = HTTP_STATUS.get(code, 400)
    record_request(session, client=client, action=endpoint, summary="", outcome=str(code), http_status=status,
                   now=now)
    return Answer(http_error(code, message), status)

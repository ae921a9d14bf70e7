"""The Interior's civil registry through the SPDCI CRVS API v1.0.0, as a client of its sync search.

We ask ``POST {base}/registry/sync/search`` with the standard's envelope (``header`` and ``message``;
``signature`` when a signer is given), one search request per national ID: query type
``idtype-value`` with ``{"type": "UIN", "value": <national ID>}`` on record type ``Person``, and the
household's consent. The CRVS answers with an ``on-search`` envelope whose ``search_response`` holds,
per reference, a status and the matching Person records (``payloads`` maps them to form values).

Every answer that is not a clean match ends as SourceUnavailable with a short reason, so the
registration goes on without the civil registry: an acknowledgement (``ack_status`` ACK, NACK or ERR
with the standard's ``err.*`` code), a rejected header or search (``rjct.*``), several records for one
ID, a record about another person, an encrypted or malformed answer. ERR answers that say the CRVS is
busy (unavailable, timeout, too many requests) are retried like a 5xx. No record is not a failure.

The family: the civil registry keeps persons, not households. The applicant (the head, whose ID the
registration form asks for) is member 0; a living spouse named by ``spouse_identifier`` is added with
a second search. Parents are not listed: the CRVS says who they are, not whether they live with the
applicant, and guessing members would change the household's score.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from registry.ministries.payloads import crvs_household, crvs_identifiers, crvs_is_deceased, crvs_member
from registry.ministries.records import Family, PersonFacts, SourceUnavailable
from registry.ministries.remote import HttpRefused, JsonHttpClient

log = logging.getLogger(__name__)

SYNC_SEARCH = "/registry/sync/search"
VERSION = "1.0.0"
#: The standard's ``err.*`` codes that say "try again shortly", retried like an HTTP 503.
BUSY_ERRORS = frozenset({"err.service.unavailable", "err.request.timeout", "err.request.too_many_requests"})
# Why the registry asks: the household consented to the exchange for targeting and verification.
CONSENT_PURPOSE = {"text": "Social registry registration: pre-fill and verify the household's civil record",
                   "code": "social-registry-registration"}
Signer = Callable[[Mapping[str, Any], Mapping[str, Any]], str]


def _timestamp(now: dt.datetime) -> str:
    return now.astimezone(dt.UTC).isoformat(timespec="seconds")


def search_envelope(national_ids: Sequence[str], *, sender_id: str, receiver_id: str | None, reg_type: str,
                    record_type: str, id_type: str, now: dt.datetime,
                    new_id: Callable[[], str] = lambda: str(uuid.uuid4()),
                    signer: Signer | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    """The sync search envelope for ``national_ids``, and the national ID each ``reference_id`` asks about."""
    stamp = _timestamp(now)
    references = {new_id(): nid for nid in national_ids}
    header: dict[str, Any] = {
        "version": VERSION, "message_id": new_id(), "message_ts": stamp, "action": "search",
        "sender_id": sender_id, "total_count": len(references), "is_msg_encrypted": False,
    }
    if receiver_id:
        header["receiver_id"] = receiver_id
    message = {
        "transaction_id": new_id(),
        "search_request": [{
            "reference_id": reference, "timestamp": stamp,
            "search_criteria": {
                "version": VERSION, "reg_type": reg_type, "reg_record_type": record_type,
                "query_type": "idtype-value", "query": {"type": id_type, "value": nid},
                "consent": {"@type": "Consent", "ts": stamp, "purpose": dict(CONSENT_PURPOSE)},
            },
        } for reference, nid in references.items()],
    }
    envelope: dict[str, Any] = {"header": header, "message": message}
    if signer is not None:
        envelope = {"signature": signer(header, message), **envelope}
    return envelope, references


def _ack_error(answer: Any) -> tuple[str, str] | None:
    """(ack_status, error code) when the answer is the standard's acknowledgement instead of results."""
    message = answer.get("message") if isinstance(answer, Mapping) else None
    if not isinstance(message, Mapping) or "ack_status" not in message:
        return None
    error = message.get("error")
    code = error.get("code") if isinstance(error, Mapping) else None
    return str(message.get("ack_status")), code if isinstance(code, str) else ""


def busy_reason(answer: Any) -> str | None:
    """Why an ERR acknowledgement is worth another attempt (the CRVS is busy), else None."""
    ack = _ack_error(answer)
    return f"ERR {ack[1]}" if ack is not None and ack[0] == "ERR" and ack[1] in BUSY_ERRORS else None


def refusal_reason(refused: HttpRefused) -> str:
    """``HTTP 401 err.request.unauthorized``: the status and the standard's code when the body gives one."""
    document = refused.document
    codes: list[Any] = []
    if isinstance(document, Mapping):
        errors = document.get("errors")
        if isinstance(errors, list):  # the standard's HttpErrorResponse
            codes = [e.get("code") for e in errors if isinstance(e, Mapping)]
        ack = _ack_error(document)
        if ack is not None:
            codes.append(ack[1])
    code = next((c for c in codes if isinstance(c, str) and c), None)
    return f"HTTP {refused.status} {code}" if code else f"HTTP {refused.status}"


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SourceUnavailable("invalid answer")
    return value


def read_search_answer(answer: Any, *, transaction_id: str, references: Mapping[str, str]) -> dict[str, list[Any]]:
    """The records found per asked national ID (an empty list: no record); SourceUnavailable otherwise."""
    ack = _ack_error(answer)
    if ack is not None:
        status, code = ack
        if status == "ACK":  # the answer would come later to a callback we do not offer on a sync call
            raise SourceUnavailable("acknowledged without results")
        raise SourceUnavailable(f"{status} {code}".strip() if status in ("NACK", "ERR") else "invalid answer")
    envelope = _mapping(answer)
    header, message = _mapping(envelope.get("header")), _mapping(envelope.get("message"))
    if header.get("is_msg_encrypted") is True or "ciphertext" in message:
        raise SourceUnavailable("encrypted answer")
    if header.get("status") == "rjct":
        raise SourceUnavailable(f"rejected {header.get('status_reason_code') or ''}".strip())
    if header.get("status") != "succ":
        raise SourceUnavailable("no results" if header.get("status") in ("rcvd", "pdng") else "invalid answer")
    if message.get("transaction_id") != transaction_id:
        raise SourceUnavailable("answer to another transaction")
    responses = message.get("search_response")
    if not isinstance(responses, list):
        raise SourceUnavailable("invalid answer")
    found: dict[str, list[Any]] = {nid: [] for nid in references.values()}
    for item in responses:
        item = _mapping(item)
        nid = references.get(str(item.get("reference_id")))
        if nid is None:
            raise SourceUnavailable("answer to another request")
        if item.get("status") == "rjct":
            rejected = item.get("status_reason_code")
            if rejected == "rjct.search.too_many_records_found":
                raise SourceUnavailable("several records for one ID")
            raise SourceUnavailable(f"rejected {rejected or ''}".strip())
        if item.get("status") != "succ":
            raise SourceUnavailable("invalid answer")
        data = item.get("data")
        records = data.get("reg_records") if isinstance(data, Mapping) else []
        if isinstance(records, Mapping):  # one record where the standard writes a set
            records = [records]
        if not isinstance(records, list):
            raise SourceUnavailable("invalid answer")
        found[nid].extend(records)
    return found


def the_person(records: Sequence[Any], *, national_id: str, id_type: str) -> Mapping[str, Any] | None:
    """The one record about ``national_id`` (None when there is none); refuses another person's or several."""
    persons = [r for r in records if isinstance(r, Mapping)]
    if len(persons) != len(records):
        raise SourceUnavailable("invalid answer")
    # A record naming other IDs only is about someone else: it must never fill this household's form.
    ours = [p for p in persons if national_id in crvs_identifiers(p.get("identifier"), id_type)
            or not crvs_identifiers(p.get("identifier"), id_type)]
    if persons and not ours:
        raise SourceUnavailable("answer about another person")
    if len(ours) > 1:
        raise SourceUnavailable("several records for one ID")
    return ours[0] if ours else None


class StaticToken:
    """A bearer token given in the configuration."""

    def __init__(self, token: str) -> None:
        self.token = token

    def __call__(self) -> str:
        return self.token

    def forget(self) -> bool:
        """Nothing to renew: a refused static token stays refused."""
        return False


# Sources are built per request from the configuration, so tokens are kept per (token URL, client).
_TOKENS: dict[tuple[str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()


class ClientCredentialsToken:
    """An OAuth 2.0 client-credentials token, fetched when needed and kept until shortly before it expires."""

    def __init__(self, client: JsonHttpClient, *, client_id: str, client_secret: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self.client_id = client_id
        self.client_secret = client_secret
        self._clock = clock
        self._key = (client.base_url, client_id)

    def __call__(self) -> str:
        with _TOKENS_LOCK:
            kept = _TOKENS.get(self._key)
        if kept is not None and kept[1] > self._clock():
            return kept[0]
        try:
            answer = self.client.post("", {"grant_type": "client_credentials", "client_id": self.client_id,
                                           "client_secret": self.client_secret}, form=True)
        except HttpRefused as err:
            raise SourceUnavailable(f"token refused (HTTP {err.status})") from None
        token = answer.get("access_token") if isinstance(answer, Mapping) else None
        if not isinstance(token, str) or not token:
            raise SourceUnavailable("invalid token answer")
        lifetime = answer.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) and not isinstance(lifetime, bool) else 300.0
        with _TOKENS_LOCK:
            # Renew a little early, so a token never expires between our check and the CRVS's.
            _TOKENS[self._key] = (token, self._clock() + max(seconds - 30.0, 0.0))
        return token

    def forget(self) -> bool:
        """Drop the kept token (the CRVS refused it); True: a new one is worth one more attempt."""
        with _TOKENS_LOCK:
            _TOKENS.pop(self._key, None)
        return True


class InteriorCrvsSource:
    """The Ministry of Interior's civil registry over the SPDCI CRVS API (sync search by national ID)."""

    #: The provenance every value carries; ``data/ministries.csv`` names it for people.
    name = "interior_crvs"

    def __init__(self, client: JsonHttpClient, *, token: StaticToken | ClientCredentialsToken, sender_id: str,
                 receiver_id: str | None = None, reg_type: str = "ns:org:RegistryType:Civil",
                 record_type: str = "Person", id_type: str = "UIN", signer: Signer | None = None,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)) -> None:
        self.client = client
        self.token = token
        self.sender_id = sender_id
        self.receiver_id = receiver_id
        self.reg_type = reg_type
        self.record_type = record_type
        self.id_type = id_type
        self.signer = signer
        self._clock = clock

    def family(self, national_id: str, *, today: dt.date) -> Family | None:
        person = self._persons([national_id]).get(national_id)
        if person is None or crvs_is_deceased(person, today=today):
            # A deceased applicant is not pre-filled as a living head; reception sees an empty form.
            return None
        members = [{**crvs_member(person, national_id=national_id, today=today), "relation": "head"}]
        spouse = self._spouse(person, national_id, today)
        if spouse is not None:
            members.append(spouse)
        return Family(as_of=today, household=crvs_household(person), members=members)

    def persons(self, national_ids: Sequence[str], *, today: dt.date) -> dict[str, PersonFacts]:
        return {}

    def _spouse(self, person: Mapping[str, Any], national_id: str, today: dt.date) -> dict[str, Any] | None:
        if crvs_member(person, national_id=national_id, today=today).get("marital_status") not in (None, "married"):
            return None
        spouse_ids = [i for i in crvs_identifiers(person.get("spouse_identifier"), self.id_type) if i != national_id]
        if not spouse_ids:
            return None
        spouse_id = spouse_ids[0]
        try:
            record = self._persons([spouse_id]).get(spouse_id)
        except SourceUnavailable as err:
            # The applicant's own record came through: keep it, with the spouse's ID alone.
            log.warning("civil registry: spouse lookup failed: %s", err.reason)
            record = None
        if record is not None and crvs_is_deceased(record, today=today):
            return None
        values = crvs_member(record, national_id=spouse_id, today=today) if record else {"national_id": spouse_id}
        return {**values, "relation": "spouse"}

    def _persons(self, national_ids: Sequence[str]) -> dict[str, Mapping[str, Any] | None]:
        envelope, references = search_envelope(
            national_ids, sender_id=self.sender_id, receiver_id=self.receiver_id, reg_type=self.reg_type,
            record_type=self.record_type, id_type=self.id_type, now=self._clock(), signer=self.signer)
        answer = self._post(envelope)
        found = read_search_answer(answer, transaction_id=envelope["message"]["transaction_id"],
                                   references=references)
        return {nid: the_person(records, national_id=nid, id_type=self.id_type) for nid, records in found.items()}

    def _post(self, envelope: Mapping[str, Any]) -> Any:
        try:
            return self._post_once(envelope)
        except HttpRefused as err:
            # An expired client-credentials token earns one more attempt with a fresh one.
            if err.status != 401 or not self.token.forget():
                raise SourceUnavailable(refusal_reason(err)) from None
        try:
            return self._post_once(envelope)
        except HttpRefused as err:
            raise SourceUnavailable(refusal_reason(err)) from None

    def _post_once(self, envelope: Mapping[str, Any]) -> Any:
        return self.client.post(SYNC_SEARCH, envelope, retry_when=busy_reason,
                                headers=lambda: {"Authorization": f"Bearer {self.token()}"})

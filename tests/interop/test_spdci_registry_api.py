"""The SPDCI Social Registry API, as a partner system sees it: our app served on a port, real HTTP requests,
every answer checked against the schemas written from the standard (tests/interop/schemas)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
import requests
from flask import Flask
from sqlalchemy import select
from werkzeug.serving import make_server

from registry.interop.clients import register_client
from registry.interop.envelope import EnvelopeRefused, sign, verify
from registry.interop.models import InteropDelivery, InteropRequest
from tests.conftest import Api, Clock
from tests.factories import member, registration
from tests.webui.test_case_paths import complete, open_case

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
CASH_FIELDS = ["identifiers", "names", "demographics", "members", "location", "eligibility_category", "programme"]
SCHEMAS = Path(__file__).resolve().parent / "schemas"
#: Where the schema files live for ``$ref``: ``common.json#/definitions/...`` resolves against it.
SCHEMA_BASE = "https://schemas.mosd.invalid/spdci/"


@cache
def _validator(name: str) -> jsonschema_rs.Draft7Validator:
    """The draft-07 validator of one schema file, the others loaded into its registry for ``$ref``."""
    documents = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in SCHEMAS.glob("*.json")
                 if not path.name.startswith("crvs_")}
    registry = jsonschema_rs.Registry([(SCHEMA_BASE + n, d) for n, d in documents.items()], draft=jsonschema_rs.Draft7)
    return jsonschema_rs.Draft7Validator(documents[name], registry=registry, base_uri=SCHEMA_BASE + name,
                                         validate_formats=True)


def assert_valid(document: Any, schema_name: str) -> None:
    problems = [f"{'/'.join(map(str, e.instance_path)) or '$'}: {e.message}"
                for e in _validator(schema_name).iter_errors(document)]
    assert not problems, f"{schema_name}: " + "; ".join(problems[:10])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


CALLBACK_TOKEN = "cash-callback-token"


class Receiver:
    """A partner system's callback endpoints: keeps what the registry posts, answers ACK. Like a partner, it
    refuses (401) a post without its bearer token and, once it knows the registry's public key, one whose
    signature that key does not verify."""

    def __init__(self) -> None:
        self.received: list[tuple[str, Any]] = []
        self.refused: list[str] = []
        self.registry_key: str | None = None
        self.clock: Clock | None = None
        received, receiver = self.received, self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
                problem = receiver.problem(self.headers.get("Authorization"), body)
                if problem:
                    receiver.refused.append(problem)
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                received.append((self.path, body))
                reply = json.dumps({"message": {"ack_status": "ACK"}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", _free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def problem(self, authorization: str | None, body: dict[str, Any]) -> str | None:
        if authorization != f"Bearer {CALLBACK_TOKEN}":
            return f"no or a wrong bearer token: {authorization!r}"
        if self.registry_key is not None and self.clock is not None:
            try:
                verify(body.get("signature"), public_key_pem=self.registry_key, header=body["header"],
                       message=body["message"], now=self.clock())
            except EnvelopeRefused as refused:
                return f"signature: {refused.code}"
        return None

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()

    def at(self, path: str) -> list[Any]:
        return [body for where, body in self.received if where == path]


class Partner:
    """A partner system calling the registry: its token, and envelopes as the standard writes them."""

    def __init__(self, base: str, client_id: str, secret: str, private_key: str | None = None,
                 clock: Clock | None = None) -> None:
        self.base, self.client_id, self.private_key, self.clock = base, client_id, private_key, clock
        answer = requests.post(f"{base}/spdci/oauth2/token", timeout=10, data={
            "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret})
        assert answer.status_code == 200, answer.text
        self.token = answer.json()["access_token"]

    def envelope(self, action: str, message: dict[str, Any], **header: Any) -> dict[str, Any]:
        head = {"version": "1.0.0", "message_id": uuid.uuid4().hex, "message_ts": "2026-11-02T08:30:00+00:00",
                "action": action, "sender_id": self.client_id, "receiver_id": "mosd-social-registry",
                "total_count": 1, "is_msg_encrypted": False, **header}
        document = {"header": head, "message": message}
        if self.private_key:
            assert self.clock is not None
            document["signature"] = sign(self.private_key, key_id=self.client_id, header=head, message=message,
                                         now=self.clock())
        return document

    def post(self, path: str, document: Any, token: str | None = None, *, anonymous: bool = False) -> requests.Response:
        """Post with this partner's token, or with ``token`` instead, or with none when ``anonymous``."""
        headers = {} if anonymous else {"Authorization": f"Bearer {token or self.token}"}
        return requests.post(f"{self.base}/spdci{path}", json=document, headers=headers, timeout=10)


def search_message(query_type: str, query: Any, **criteria: Any) -> dict[str, Any]:
    return {"transaction_id": uuid.uuid4().hex[:20], "search_request": [{
        "reference_id": "ref-1", "timestamp": "2026-11-02T08:30:00+00:00",
        "search_criteria": {"version": "1.0.0", "reg_type": "ns:org:RegistryType:Social", "query_type": query_type,
                            "query": query, **criteria}, "locale": "eng"}]}


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", _free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.stop()


def _register(app: Flask, clock: Clock, client_id: str, **options: Any) -> str:
    from webui.db import db_session

    with app.app_context():
        return register_client(db_session(), client_id=client_id, name=client_id, now=clock(), **options)


@pytest.fixture
def partners(app: Flask, clock: Clock, served: str, receiver: Receiver) -> Callable[[str], Partner]:
    """Partner systems by name: cash (cash-transfer programme), moh (referral partner), narrow (identifiers only)."""
    kinds = {
        "cash": {"scopes": ["search", "subscribe", "txn_status"], "fields": CASH_FIELDS,
                 "callback_url": receiver.url, "callback_token": CALLBACK_TOKEN},
        "moh": {"scopes": ["search"], "fields": ["identifiers", "names", "contact"], "partner_code": "MOH"},
        "narrow": {"scopes": ["search"], "fields": ["identifiers"]},
        "scorer": {"scopes": ["search"], "fields": ["identifiers", "poverty_score", "demographics"]},
    }
    with app.app_context():
        from registry.referrals.seed import seed_partners
        from webui.db import db_session

        seed_partners(db_session())
        db_session().commit()

    def make(name: str) -> Partner:
        return Partner(served, name, _register(app, clock, name, **kinds[name]))

    return make


def register_household(api: Callable[[str], Api], **overrides: Any) -> dict[str, Any]:
    reception = api("reception1")
    data = registration(**overrides)
    complete(reception, open_case(reception), data)
    return data


def run_worker(app: Flask, clock: Clock) -> Any:
    from registry.interop.services import Settings
    from registry.worker import run_once
    from webui.db import library

    with app.app_context():
        return run_once(app.extensions["sessionmaker"], now=clock(), library=library(),
                        interop_settings=Settings.from_config(app.config))


# --- search ------------------------------------------------------------------------------------

@BOTH_DATABASES
def test_sync_search_by_national_id_answers_the_household_as_a_group(
        partners: Callable[[str], Partner], api: Callable[[str], Api]) -> None:
    data = register_household(api)
    cash = partners("cash")
    answer = cash.post("/registry/sync/search", cash.envelope("search", search_message(
        "idtype-value", {"type": "UIN", "value": data["head_national_id"]})))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert_valid(body, "on_search.json")
    result = body["message"]["search_response"][0]
    assert (result["status"], result["pagination"]["total_count"]) == ("succ", 1)
    group = result["data"]["reg_records"][0]
    assert group["group_size"] == 4 and len(group["member_list"]) == 4
    attributes = {k: v for a in group["additional_attributes"] for k, v in a.items()}
    assert attributes["eligibility_category"]
    # A cash-transfer programme sees the category, never the score's indicators nor the phone.
    assert "poverty_score" not in group and "deprivations" not in attributes
    assert "phone_number" not in json.dumps(group)


def test_household_number_and_mobile_find_the_same_household(
        partners: Callable[[str], Partner], api: Callable[[str], Api]) -> None:
    data = register_household(api, phone="0599000111")
    cash, moh_less = partners("cash"), partners("narrow")
    found = cash.post("/registry/sync/search", cash.envelope("search", search_message(
        "idtype-value", {"type": "UIN", "value": data["head_national_id"]}))).json()
    number = found["message"]["search_response"][0]["data"]["reg_records"][0]["group_identifier"][0]
    assert number["identifier_type"] == "HOUSEHOLD_ID"
    by_number = moh_less.post("/registry/sync/search", moh_less.envelope("search", search_message(
        "idtype-value", {"type": "HOUSEHOLD_ID", "value": number["identifier_value"]}))).json()
    assert_valid(by_number, "on_search.json")
    assert by_number["message"]["search_response"][0]["pagination"]["total_count"] == 1
    # Mobile needs the contact field group: the narrow client may not search by it.
    by_mobile = moh_less.post("/registry/sync/search", moh_less.envelope("search", search_message(
        "idtype-value", {"type": "MOBILE", "value": "0599000111"}))).json()
    assert_valid(by_mobile, "on_search.json")
    refused = by_mobile["message"]["search_response"][0]
    assert (refused["status"], refused["status_reason_code"]) == ("rjct", "rjct.search_criteria.invalid")
    assert "data" not in refused


def test_predicate_on_age_returns_members_with_pagination_and_sorting(
        partners: Callable[[str], Partner], api: Callable[[str], Api]) -> None:
    register_household(api)
    register_household(api)
    cash = partners("cash")
    young = [{"seq_num": 1, "expression1": {"attribute_name": "age", "operator": "lt", "attribute_value": 25}}]
    pages = []
    for number in (1, 2, 3):
        body = cash.post("/registry/sync/search", cash.envelope("search", search_message(
            "predicate", young, response_entity="Member", pagination={"page_size": 3, "page_number": number},
            sort=[{"attribute_name": "age", "sort_order": "desc"}]))).json()
        assert_valid(body, "on_search.json")
        pages.append(body["message"]["search_response"][0])
    assert [p["pagination"]["total_count"] for p in pages] == [4, 4, 4]  # two children in each household
    records = [r for p in pages for r in p["data"]["reg_records"]]
    assert [len(p["data"]["reg_records"]) for p in pages] == [3, 1, 0]
    births = [r["demographic_info"]["birth_date"] for r in records]
    assert births == sorted(births) and all(b > "2001" for b in births)  # oldest first: earliest birth date


def test_expression_on_poverty_score_needs_the_score_field_group(
        partners: Callable[[str], Partner], api: Callable[[str], Api]) -> None:
    register_household(api)
    expression = {"type": "ns:org:QueryType:expression", "value": {"expression": {
        "collection": "Group", "query": {"$and": [{"poverty_score": {"$gt": 0}}, {"group_size": {"$ge": 2}}]}}}}
    scorer, cash = partners("scorer"), partners("cash")
    body = scorer.post("/registry/sync/search", scorer.envelope("search", search_message(
        "expression", expression, sort=[{"attribute_name": "poverty_score", "sort_order": "asc"}]))).json()
    assert_valid(body, "on_search.json")
    group = body["message"]["search_response"][0]["data"]["reg_records"][0]
    assert group["poverty_score"] > 0 and "member_list" not in group
    beyond = cash.post("/registry/sync/search", cash.envelope("search", search_message("expression", expression)))
    result = beyond.json()["message"]["search_response"][0]
    assert (result["status"], result["status_reason_code"]) == ("rjct", "rjct.search_criteria.invalid")


def test_a_household_without_consent_is_invisible_and_a_referral_partner_sees_only_its_referrals(
        partners: Callable[[str], Partner], api: Callable[[str], Api]) -> None:
    shared = register_household(api)
    private = register_household(api, consent_data_exchange=False)
    cash, moh = partners("cash"), partners("moh")
    for data, expected in ((shared, 1), (private, 0)):
        body = cash.post("/registry/sync/search", cash.envelope("search", search_message(
            "idtype-value", {"type": "UIN", "value": data["head_national_id"]}))).json()
        assert body["message"]["search_response"][0]["pagination"]["total_count"] == expected
    body = moh.post("/registry/sync/search", moh.envelope("search", search_message(
        "idtype-value", {"type": "UIN", "value": shared["head_national_id"]}))).json()
    assert_valid(body, "on_search.json")
    assert body["message"]["search_response"][0]["pagination"]["total_count"] == 0  # never referred to it


def test_bad_pagination_and_sorting_are_refused_with_the_standards_reasons(partners: Callable[[str], Partner]) -> None:
    cash = partners("cash")
    query = {"type": "UIN", "value": "123456782"}
    unseen_sort = {"sort": [{"attribute_name": "poverty_score", "sort_order": "asc"}]}  # cash may not see scores
    for criteria, reason in (({"pagination": {"page_size": 0}}, "rjct.pagination.invalid"),
                             ({"pagination": {"page_size": 5000}}, "rjct.pagination.invalid"),
                             (unseen_sort, "rjct.sort.invalid"),
                             ({"sort": [{"attribute_name": "age", "sort_order": "up"}]}, "rjct.sort.invalid")):
        body = cash.post("/registry/sync/search", cash.envelope("search", search_message(
            "idtype-value", query, **criteria))).json()
        assert_valid(body, "on_search.json")
        assert body["message"]["search_response"][0]["status_reason_code"] == reason


# --- async search, transaction status --------------------------------------------------------

@BOTH_DATABASES
def test_async_search_is_acknowledged_then_delivered_to_on_search_by_the_worker(
        app: Flask, clock: Clock, partners: Callable[[str], Partner], api: Callable[[str], Api],
        receiver: Receiver) -> None:
    data = register_household(api)
    cash = partners("cash")
    message = search_message("idtype-value", {"type": "UIN", "value": data["head_national_id"]})
    ack = cash.post("/registry/search", cash.envelope("search", message))
    assert ack.status_code == 200, ack.text
    assert_valid(ack.json(), "ack.json")
    assert ack.json()["message"]["ack_status"] == "ACK"
    assert receiver.at("/registry/on-search") == []
    run_worker(app, clock)
    [callback] = receiver.at("/registry/on-search")
    assert_valid(callback, "on_search.json")
    assert callback["message"]["correlation_id"] == ack.json()["message"]["correlation_id"]
    assert callback["message"]["transaction_id"] == message["transaction_id"]
    assert callback["message"]["search_response"][0]["data"]["reg_records"][0]["group_size"] == 4

    status_request = {"transaction_id": "status-1", "txnstatus_request": {
        "reference_id": "status-ref", "txn_type": "search", "attribute_type": "transaction_id",
        "attribute_value": message["transaction_id"]}}
    sync = cash.post("/registry/sync/txn/status", cash.envelope("txn-status", status_request)).json()
    assert_valid(sync, "txn_on_status.json")
    stored = sync["message"]["txnstatus_response"]["txn_status"]
    assert_valid({"header": {**sync["header"], "action": "on-search"}, "message": stored}, "on_search.json")
    assert stored["correlation_id"] == ack.json()["message"]["correlation_id"]

    later = cash.post("/registry/txn/status", cash.envelope("txn-status", status_request))
    assert_valid(later.json(), "ack.json")
    run_worker(app, clock)
    [on_status] = receiver.at("/registry/txn/on-status")
    assert_valid(on_status, "txn_on_status.json")


def test_a_callback_that_fails_is_retried_later(app: Flask, clock: Clock, partners: Callable[[str], Partner],
                                                 receiver: Receiver) -> None:
    cash = partners("cash")
    receiver.stop()  # the partner system is down
    cash.post("/registry/search", cash.envelope("search", search_message("idtype-value", {"type": "UIN",
                                                                                         "value": "123456782"})))
    first = run_worker(app, clock)
    assert (first.interop_delivered, first.interop_failed) == (0, 1)
    with app.app_context():
        from webui.db import db_session

        row = db_session().scalars(select(InteropDelivery)).one()
        assert (row.state, row.attempts, row.send_after > clock()) == ("pending", 1, True)


def test_unknown_transaction_status_is_rejected_in_the_header(partners: Callable[[str], Partner]) -> None:
    cash = partners("cash")
    body = cash.post("/registry/sync/txn/status", cash.envelope("txn-status", {
        "transaction_id": "t", "txnstatus_request": {"reference_id": "r", "txn_type": "search",
                                                    "attribute_type": "correlation_id", "attribute_value": "none"}}))
    assert_valid(body.json(), "txn_on_status.json")
    assert body.json()["header"]["status"] == "rjct"


# --- subscriptions -----------------------------------------------------------------------------

@BOTH_DATABASES
def test_subscriber_is_notified_of_a_registration_and_can_unsubscribe(
        app: Flask, clock: Clock, partners: Callable[[str], Partner], api: Callable[[str], Api],
        receiver: Receiver) -> None:
    cash = partners("cash")
    request = {"transaction_id": "sub-1", "subscribe_request": [{
        "reference_id": "sub-ref", "timestamp": "2026-11-02T08:30:00+00:00",
        "subscribe_criteria": {"reg_type": "ns:org:RegistryType:Social", "reg_event_type": "REGISTER",
                               "filter_type": "predicate", "notify_record_type": "Group",
                               "filter": [{"seq_num": 1, "expression1": {
                                   "attribute_name": "location", "operator": "eq", "attribute_value": "PS-RBH"}}]}}]}
    ack = cash.post("/registry/subscribe", cash.envelope("subscribe", request))
    assert_valid(ack.json(), "ack.json")
    run_worker(app, clock)
    [subscribed] = receiver.at("/registry/on-subscribe")
    assert_valid(subscribed, "on_subscribe.json")
    code = subscribed["message"]["subscribe_response"][0]["subscriptions"][0]["code"]

    data = register_household(api)
    register_household(api, governorate="PS-HBN", locality="دورا")  # outside the filter: no notification
    run_worker(app, clock)
    [notified] = receiver.at("/registry/notify")
    assert_valid(notified, "notify.json")
    event = notified["message"]["notify_event"][0]["data"]
    assert event["reg_event_type"] == "REGISTER"
    uins = [m["member_identifier"][0]["identifier_value"] for m in event["reg_records"]["member_list"]]
    assert data["head_national_id"] in uins

    again = cash.post("/registry/subscribe", cash.envelope("subscribe", request))
    run_worker(app, clock)
    assert again.status_code == 200
    repeated = receiver.at("/registry/on-subscribe")[-1]["message"]["subscribe_response"][0]
    assert repeated["status_reason_code"] == "rjct.event.already_subscribed"

    cash.post("/registry/unsubscribe", cash.envelope("unsubscribe", {
        "transaction_id": "unsub-1", "timestamp": "2026-11-02T08:30:00+00:00", "subscription_codes": [code]}))
    register_household(api)
    run_worker(app, clock)
    [unsubscribed] = receiver.at("/registry/on-unsubscribe")
    assert_valid(unsubscribed, "on_unsubscribe.json")
    assert unsubscribed["message"]["subscription_status"] == [{"code": code, "status": "unsubscribe"}]
    assert len(receiver.at("/registry/notify")) == 1


def test_a_member_added_to_a_registered_household_is_notified(
        app: Flask, clock: Clock, partners: Callable[[str], Partner], api: Callable[[str], Api],
        receiver: Receiver) -> None:
    from registry.interop.events import household_saved
    from registry.models import Household, Person
    from webui.db import db_session

    cash = partners("cash")
    cash.post("/registry/subscribe", cash.envelope("subscribe", {"transaction_id": "s", "subscribe_request": [{
        "reference_id": "r", "timestamp": "2026-11-02T08:30:00+00:00",
        "subscribe_criteria": {"reg_event_type": "NewHouseHoldMember", "notify_record_type": "Group",
                               "filter": {}}}]}))
    data = register_household(api)
    with app.app_context():
        session = db_session()
        person = session.scalars(select(Person).where(Person.national_id == data["head_national_id"])).one()
        household = session.get(Household, person.household_id)
        assert household is not None
        before = {p.national_id for p in household.members}
        household_saved(session, household_id=household.id, registered=False, members_before=before,
                        members_now=[*before, member()["national_id"]], at=clock())
        session.commit()
    run_worker(app, clock)
    [notified] = receiver.at("/registry/notify")
    assert_valid(notified, "notify.json")
    assert notified["message"]["notify_event"][0]["data"]["reg_event_type"] == "NewHouseHoldMember"


# --- refusals ----------------------------------------------------------------------------------

def test_missing_or_wrong_token_is_refused_with_the_standards_error(partners: Callable[[str], Partner]) -> None:
    cash = partners("cash")
    document = cash.envelope("search", search_message("idtype-value", {"type": "UIN", "value": "123456782"}))
    for token in (None, "not-a-token"):
        answer = cash.post("/registry/sync/search", document, token=token, anonymous=token is None)
        assert answer.status_code == 401
        assert_valid(answer.json(), "http_error.json")
        assert answer.json()["errors"][0]["code"] == "err.request.unauthorized"
    wrong = requests.post(f"{cash.base}/spdci/oauth2/token", timeout=10, data={
        "grant_type": "client_credentials", "client_id": "cash", "client_secret": "guess"})
    assert (wrong.status_code, wrong.json()) == (401, {"error": "invalid_client"})


def test_a_client_asking_beyond_its_scope_gets_nothing(partners: Callable[[str], Partner]) -> None:
    narrow = partners("narrow")
    answer = narrow.post("/registry/subscribe", narrow.envelope("subscribe", {"transaction_id": "x",
                                                                             "subscribe_request": []}))
    assert answer.status_code == 403
    assert_valid(answer.json(), "http_error.json")
    assert answer.json()["errors"][0]["code"] == "err.request.forbidden"


@pytest.mark.parametrize(("change", "code", "status"), [
    (lambda d: "not an envelope", "err.request.bad", 400),
    (lambda d: {**d, "header": None}, "err.request.bad", 400),
    (lambda d: {"header": d["header"]}, "err.request.bad", 400),
    (lambda d: {**d, "header": {**d["header"], "version": "0.9"}}, "err.version.not_supported", 400),
    (lambda d: {**d, "header": {**d["header"], "action": "subscribe"}}, "err.request.bad", 400),
    (lambda d: {**d, "header": {**d["header"], "message_ts": "yesterday"}}, "err.request.bad", 400),
    (lambda d: {**d, "header": {**d["header"], "sender_id": "someone-else"}}, "err.sender_id.invalid", 400),
    (lambda d: {**d, "header": {**d["header"], "receiver_id": "crvs"}}, "err.receiver_id.invalid", 400),
    (lambda d: {**d, "header": {**d["header"], "is_msg_encrypted": True}}, "err.encryption.invalid", 400),
    (lambda d: {**d, "header": {**d["header"], "sender_uri": "ftp://x"}}, "err.sender_uri.invalid", 400),
    (lambda d: {**d, "message": {"search_request": []}}, "err.request.bad", 400),
])
def test_malformed_envelopes_are_answered_with_the_standards_error_codes(
        partners: Callable[[str], Partner], change: Callable[[dict[str, Any]], Any], code: str, status: int) -> None:
    cash = partners("cash")
    document = change(cash.envelope("search", search_message("idtype-value", {"type": "UIN", "value": "1"})))
    answer = cash.post("/registry/sync/search", document)
    assert answer.status_code == status, answer.text
    assert_valid(answer.json(), "ack.json")
    assert (answer.json()["message"]["ack_status"], answer.json()["message"]["error"]["code"]) == ("ERR", code)


def test_not_json_and_a_repeated_message_id_are_refused(partners: Callable[[str], Partner]) -> None:
    cash = partners("cash")
    raw = requests.post(f"{cash.base}/spdci/registry/sync/search", data="{not json", timeout=10,
                        headers={"Authorization": f"Bearer {cash.token}", "Content-Type": "application/json"})
    assert raw.status_code == 400 and raw.json()["message"]["error"]["code"] == "err.request.bad"
    document = cash.envelope("search", search_message("idtype-value", {"type": "UIN", "value": "1"}))
    assert cash.post("/registry/sync/search", document).status_code == 200
    repeated = cash.post("/registry/sync/search", document)
    assert repeated.status_code == 400 and "duplicate" in repeated.json()["message"]["error"]["message"]
    unknown = cash.post("/registry/nothing-here", document)
    assert unknown.status_code == 404 and unknown.headers["Content-Type"].startswith("application/json")


def test_a_client_with_a_public_key_must_sign_and_its_signature_is_checked(
        app: Flask, clock: Clock, served: str) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    secret = _register(app, clock, "signed", scopes=["search"], fields=["identifiers"], public_key=public)
    signed = Partner(served, "signed", secret, private_key=private, clock=clock)
    document = signed.envelope("search", search_message("idtype-value", {"type": "UIN", "value": "123456782"}))
    assert signed.post("/registry/sync/search", document).status_code == 200
    tampered = {**document, "header": {**document["header"], "message_id": "other"}}
    refused = signed.post("/registry/sync/search", tampered)
    assert (refused.status_code, refused.json()["message"]["error"]["code"]) == (401, "err.signature.invalid")
    unsigned = {k: v for k, v in document.items() if k != "signature"}
    missing = signed.post("/registry/sync/search", unsigned)
    assert (missing.status_code, missing.json()["message"]["error"]["code"]) == (401, "err.signature.missing")


def test_every_request_is_on_record_and_each_client_has_its_own_rate_limit(
        app: Flask, partners: Callable[[str], Partner]) -> None:
    app.config["INTEROP_RATE_LIMIT"] = "3/minute"
    cash, narrow = partners("cash"), partners("narrow")
    answers = [cash.post("/registry/sync/search", cash.envelope("search", search_message(
        "idtype-value", {"type": "UIN", "value": "123456782"}))) for _ in range(4)]
    assert [a.status_code for a in answers] == [200, 200, 200, 429]
    assert answers[-1].json()["errors"][0]["code"] == "err.request.too_many_requests"
    assert narrow.post("/registry/sync/search", narrow.envelope("search", search_message(
        "idtype-value", {"type": "UIN", "value": "123456782"}))).status_code == 200
    with app.app_context():
        from webui.db import db_session

        rows = db_session().scalars(select(InteropRequest).order_by(InteropRequest.id)).all()
    searches = [r for r in rows if r.action == "sync-search"]
    assert [r.outcome for r in searches] == ["succ", "succ", "succ", "err.request.too_many_requests", "succ"]
    assert "UIN" in searches[0].summary and searches[0].client_id is not None


def test_the_cli_registers_a_client_and_prints_its_secret_once(app: Flask, served: str) -> None:
    result = app.test_cli_runner().invoke(args=[
        "interop", "client", "add", "wfp", "--name", "WFP", "--scope", "search", "--field", "identifiers"])
    assert result.exit_code == 0, result.output
    secret = result.output.strip().rsplit(" ", 1)[-1]
    Partner(served, "wfp", secret)  # the secret gets a token
    listed = app.test_cli_runner().invoke(args=["interop", "client", "list"])
    assert "wfp" in listed.output and secret not in listed.output


def test_timestamps_in_answers_are_iso_8601_with_a_zone() -> None:
    from registry.interop.envelope import parse_timestamp, timestamp

    moment = timestamp(dt.datetime(2026, 11, 2, 8, 30, tzinfo=dt.UTC))
    assert moment == "2026-11-02T08:30:00+00:00" and parse_timestamp(moment) is not None
    assert parse_timestamp("2026-11-02T08:30:00") is None  # without a zone: refused


# --- what the registry sends: signed, with the partner's credentials, as often as asked -------------

def _private_key_file(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    path = tmp_path / "registry-signing.pem"
    path.write_bytes(ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return path


def test_answers_callbacks_and_notifications_are_signed_with_the_published_key_and_carry_the_partners_token(
        app: Flask, clock: Clock, partners: Callable[[str], Partner], api: Callable[[str], Api],
        receiver: Receiver, tmp_path: Path) -> None:
    cash = partners("cash")
    assert requests.get(f"{cash.base}/spdci/.well-known/registry-public-key.pem", timeout=10).status_code == 404
    app.config["INTEROP_SIGNING_KEY_FILE"] = str(_private_key_file(tmp_path))
    published = requests.get(f"{cash.base}/spdci/.well-known/registry-public-key.pem", timeout=10)
    assert published.status_code == 200 and "BEGIN PUBLIC KEY" in published.text
    receiver.registry_key, receiver.clock = published.text, clock

    data = register_household(api)
    answer = cash.post("/registry/sync/search", cash.envelope("search", search_message(
        "idtype-value", {"type": "UIN", "value": data["head_national_id"]}))).json()
    assert_valid(answer, "on_search.json")
    verify(answer["signature"], public_key_pem=published.text, header=answer["header"], message=answer["message"],
           now=clock())
    assert 'keyId="mosd-social-registry|ed25519"' in answer["signature"]

    cash.post("/registry/search", cash.envelope("search", search_message(
        "idtype-value", {"type": "UIN", "value": data["head_national_id"]})))
    cash.post("/registry/subscribe", cash.envelope("subscribe", {"transaction_id": "s", "subscribe_request": [{
        "reference_id": "r", "timestamp": "2026-11-02T08:30:00+00:00",
        "subscribe_criteria": {"reg_event_type": "REGISTER", "notify_record_type": "Group", "filter": {}}}]}))
    run_worker(app, clock)
    register_household(api)
    clock.advance(hours=2)  # a retry or a late worker: the signature is made when the post leaves
    run_worker(app, clock)
    assert receiver.refused == []
    assert [len(receiver.at(p)) for p in ("/registry/on-search", "/registry/on-subscribe", "/registry/notify")] \
        == [1, 1, 1]
    tampered = receiver.at("/registry/notify")[0]
    tampered["message"]["notify_event"][0]["reference_id"] = "changed"
    assert receiver.problem(f"Bearer {CALLBACK_TOKEN}", tampered) == "signature: err.signature.invalid"


def test_a_partner_refusing_our_credentials_gets_the_callback_again_later(
        app: Flask, clock: Clock, partners: Callable[[str], Partner], receiver: Receiver) -> None:
    cash = partners("cash")
    app.test_cli_runner().invoke(args=["interop", "client", "callback-token", "cash", "--clear"])
    cash.post("/registry/search", cash.envelope("search", search_message("idtype-value", {"type": "UIN",
                                                                                         "value": "123456782"})))
    assert (run_worker(app, clock).interop_failed, receiver.refused) == (1, ["no or a wrong bearer token: None"])
    result = app.test_cli_runner().invoke(args=["interop", "client", "callback-token", "cash"],
                                          input=f"{CALLBACK_TOKEN}\n")
    assert result.exit_code == 0 and CALLBACK_TOKEN not in result.output
    clock.advance(minutes=1)
    assert run_worker(app, clock).interop_delivered == 1
    assert len(receiver.at("/registry/on-search")) == 1


def _subscribe_daily(cash: Partner, frequency: Any) -> requests.Response:
    return cash.post("/registry/subscribe", cash.envelope("subscribe", {
        "transaction_id": "daily", "subscribe_request": [{
            "reference_id": "daily-ref", "timestamp": "2026-11-02T08:30:00+00:00",
            "subscribe_criteria": {"reg_event_type": "REGISTER", "notify_record_type": "Group", "filter": {},
                                   "frequency": frequency}}]}))


@BOTH_DATABASES
def test_a_subscription_with_a_frequency_gets_its_events_together_at_the_crons_time(
        app: Flask, clock: Clock, partners: Callable[[str], Partner], api: Callable[[str], Api],
        receiver: Receiver) -> None:
    cash = partners("cash")
    # Quartz form, as the standard's example: every day at 00:00 (the ministry's time, UTC+2 in November).
    _subscribe_daily(cash, {"start_time": "2026-11-01T00:00:00+00:00", "end_time": "2026-12-31T00:00:00+00:00",
                            "frequency": "0 0 0 * * ? *"})
    run_worker(app, clock)
    [subscribed] = receiver.at("/registry/on-subscribe")
    assert_valid(subscribed, "on_subscribe.json")
    assert subscribed["message"]["subscribe_response"][0]["subscriptions"][0]["frequency"]["frequency"] \
        == "0 0 0 * * ? *"
    first, second = register_household(api), register_household(api)
    run_worker(app, clock)
    clock.advance(hours=13)  # 21:30 UTC, 23:30 in Hebron: not yet
    run_worker(app, clock)
    assert receiver.at("/registry/notify") == []
    clock.advance(minutes=31)
    run_worker(app, clock)
    [notified] = receiver.at("/registry/notify")
    assert_valid(notified, "notify.json")
    heads = {m["member_identifier"][0]["identifier_value"] for e in notified["message"]["notify_event"]
             for m in e["data"]["reg_records"]["member_list"]}
    assert {first["head_national_id"], second["head_national_id"]} <= heads
    assert notified["header"]["total_count"] == len(notified["message"]["notify_event"]) == 2
    register_household(api)  # the next one waits for the next midnight
    run_worker(app, clock)
    assert len(receiver.at("/registry/notify")) == 1


def test_a_frequency_that_cannot_be_read_refuses_the_subscription(
        app: Flask, clock: Clock, partners: Callable[[str], Partner], receiver: Receiver) -> None:
    cash = partners("cash")
    for frequency in ({"start_time": "2026-11-01T00:00:00+00:00", "end_time": "2026-12-31T00:00:00+00:00",
                       "frequency": "0 0 L * ?"}, {"frequency": "0 0 * * *"}, "daily"):
        _subscribe_daily(cash, frequency)
    run_worker(app, clock)
    answers = [a["message"]["subscribe_response"][0] for a in receiver.at("/registry/on-subscribe")]
    assert [(a["status"], a["status_reason_code"]) for a in answers] == [("rjct", "rjct.notify_details.invalid")] * 3


@pytest.mark.parametrize(("expression", "after", "expected"), [
    ("0 0 * * *", "2026-11-02T08:30:00+00:00", "2026-11-02T22:00:00+00:00"),  # midnight in Hebron (UTC+2)
    ("0 0 0 5,15 * ? *", "2026-11-02T08:30:00+00:00", "2026-11-04T22:00:00+00:00"),  # the standard's example
    ("*/15 * * * *", "2026-11-02T08:30:00+00:00", "2026-11-02T08:45:00+00:00"),
    ("0 9 * * MON-FRI", "2026-11-06T08:30:00+00:00", "2026-11-09T07:00:00+00:00"),  # Friday → Monday
    ("0 0 9 ? * 2", "2026-11-02T08:30:00+00:00", "2026-11-09T07:00:00+00:00"),  # Quartz 2 is Monday
    ("0 0 29 2 *", "2026-11-02T08:30:00+00:00", "2028-02-28T22:00:00+00:00"),
])
def test_cron_frequencies_are_read_in_the_ministrys_time(expression: str, after: str, expected: str) -> None:
    from registry.interop.schedule import parse

    assert parse(expression).next_after(dt.datetime.fromisoformat(after)) == dt.datetime.fromisoformat(expected)


def test_schema_violations_fail_the_check() -> None:
    good = {"message": {"ack_status": "ACK", "timestamp": "2026-11-02T08:30:00+00:00", "correlation_id": "c"}}
    assert_valid(good, "ack.json")
    for bad in ({"message": {**good["message"], "timestamp": "2026-11-02T08:30:00"}},  # no zone
                {"message": {**good["message"], "ack_status": "OK"}},
                {"header": {"action": "on-search"}, "message": {}}):
        with pytest.raises(AssertionError):
            assert_valid(bad, "ack.json" if "header" not in bad else "on_search.json")

"""The Interior's civil registry through the SPDCI CRVS API: a test CRVS on a real socket that answers as
the standard says, checks our requests against schemas written from it, and fails on cue."""

from __future__ import annotations

import datetime as dt
import json
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import jsonschema_rs
import pytest
from flask import Flask
from flask.testing import FlaskClient

from registry.ministries import prefill_registration, sources_from_config
from registry.ministries.crvs import _TOKENS

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = ROOT / "data" / "ministries"
SCHEMAS = ROOT / "tests" / "interop" / "schemas"
TODAY = dt.date(2026, 11, 22)
ODEH, ODEH_WIFE = "895160174", "468671094"  # al-Bireh (PS-RBH), married
KHALIL = "860489673"  # Birzeit (PS-RBH): widowed head
UNKNOWN = "123456782"  # valid, held by no ministry
TOKEN = "s3cret-bearer"
CRVS = "interior_crvs"


def _schema(name: str) -> Any:
    return jsonschema_rs.validator_for(json.loads((SCHEMAS / name).read_text(encoding="utf-8")))


REQUEST, ANSWER, ACK = (_schema(f"crvs_{n}.json") for n in ("sync_search_request", "sync_search_response", "ack"))
_CODES = {"M": "male", "F": "female"}
_MARITAL = {"single": "S", "married": "M", "widowed": "W", "divorced": "D"}


def _uin(nid: str) -> dict[str, str]:
    return {"identifier_type": "UIN", "identifier_value": nid}


def crvs_persons() -> dict[str, dict[str, Any]]:
    """The demo Interior families as the civil registry's Person records (the head and spouse linked)."""
    families = json.loads((DATA_DIR / "interior.json").read_text(encoding="utf-8"))["families"]
    persons: dict[str, dict[str, Any]] = {}
    for family in families:
        address = family["address"]
        head = next(m for m in family["members"] if m["relation_to_head"] == "head")
        for raw in family["members"]:
            words = raw["name_ar"].split()
            person: dict[str, Any] = {
                "identifier": [_uin(raw["national_id"])],
                "name": {"given_name": words[0], "second_name": " ".join(words[1:-1]), "surname": words[-1]},
                "sex": _CODES[raw["sex"]], "birth_date": f"{raw['birth_date']}T00:00:00", "death_date": "",
                "marital_status": _MARITAL[raw["marital_status"]],
                "address": [{"address_line1": address["details"], "locality": address["locality"],
                             "region_code": address["governorate"].removeprefix("PS-"), "country_code": "PS"}],
            }
            if raw["relation_to_head"] in ("wife", "husband"):
                person["spouse_identifier"] = _uin(head["national_id"])
                persons[head["national_id"]]["spouse_identifier"] = _uin(raw["national_id"])
            if raw["relation_to_head"] in ("son", "daughter"):
                person["parent1_identifier"] = _uin(head["national_id"])
            persons[raw["national_id"]] = person
    return persons


class FakeCrvs:
    """A civil registry speaking the SPDCI CRVS API, with faults scripted per request."""

    def __init__(self) -> None:
        self.persons = crvs_persons()
        self.faults: list[str] = []
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.violations: list[str] = []
        self.hits: Counter[str] = Counter()
        self.tokens_issued = 0
        self.accepted = {TOKEN}
        self.release = threading.Event()
        self.base = ""
        self._lock = threading.Lock()

    def next_fault(self, path: str, headers: dict[str, str]) -> str | None:
        with self._lock:
            self.hits[path] += 1
            self.headers.append(headers)
            return self.faults.pop(0) if self.faults else None

    def check(self, validator: Any, document: Any, what: str) -> None:
        errors = [error.message for error in validator.iter_errors(document)]
        if errors:
            self.violations.append(f"{what}: {errors}")

    def search(self, envelope: dict[str, Any], fault: str | None) -> dict[str, Any]:
        """The on-search envelope the standard prescribes for a well-formed sync search."""
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        answers = []
        for request in envelope["message"]["search_request"]:
            query = request["search_criteria"]["query"]
            found = [self.persons[query["value"]]] if query["value"] in self.persons else []
            item: dict[str, Any] = {"reference_id": request["reference_id"], "timestamp": now, "status": "succ"}
            if fault == "several":
                found = found * 2
            if fault == "another person" and found:
                found = [{**found[0], "identifier": [_uin(ODEH_WIFE if query["value"] != ODEH_WIFE else ODEH)]}]
            if fault == "too many":
                item.update(status="rjct", status_reason_code="rjct.search.too_many_records_found")
            else:
                item["data"] = {"version": "1.0.0", "reg_type": "ns:org:RegistryType:Civil",
                                "reg_record_type": "Person", "reg_records": found}
                item["pagination"] = {"page_size": 10, "page_number": 1, "total_count": len(found)}
            answers.append(item)
        header = {"version": "1.0.0", "message_id": str(uuid.uuid4()), "message_ts": now, "action": "on-search",
                  "status": "succ", "total_count": len(answers), "completed_count": len(answers),
                  "sender_id": "crvs.moi.example", "receiver_id": envelope["header"]["sender_id"]}
        if fault == "rejected":
            header.update(status="rjct", status_reason_code="rjct.version.invalid")
        transaction = envelope["message"]["transaction_id"] if fault != "wrong transaction" else "someone-else"
        return {"signature": "", "header": header,
                "message": {"transaction_id": transaction, "correlation_id": str(uuid.uuid4()),
                            "search_response": answers}}


def ack(status: str, code: str | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"ack_status": status, "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                               "correlation_id": str(uuid.uuid4())}
    if code:
        message["error"] = {"code": code, "message": code.replace(".", " ")}
    return {"message": message}


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        crvs: FakeCrvs = self.server.crvs  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        fault = crvs.next_fault(self.path, dict(self.headers))
        if self.path == "/oauth/token":
            self._token(crvs, parse_qs(body.decode()))
            return
        if self.path != "/namespace/v1.0.0/registry/sync/search":
            self._json(404, {"errors": [{"code": "err.request.not_found", "message": "no such endpoint"}]})
            return
        envelope = json.loads(body)
        crvs.requests.append(envelope)
        crvs.check(REQUEST, envelope, "request")
        if self.headers.get("Authorization") not in {f"Bearer {t}" for t in crvs.accepted} or fault == "401":
            self._json(401, {"errors": [{"code": "err.request.unauthorized", "message": "bad token"}]})
        elif fault == "sleep":
            crvs.release.wait(5)  # longer than the client waits; released when the test ends
        elif fault == "down":
            self.connection.shutdown(socket.SHUT_RDWR)  # the connection drops without an answer
        elif fault == "garbage":
            self._send(200, b"<html>maintenance</html>")
        elif fault in ("503",):
            self._json(503, {"errors": [{"code": "err.service.unavailable", "message": "down"}]})
        elif fault and fault.startswith(("ACK", "NACK", "ERR")):
            status, _, code = fault.partition(" ")
            self._json(200, ack(status, code or None), schema=ACK)
        elif fault == "not an envelope":
            self._json(200, {"header": {"action": "on-search"}, "message": "nope"})
        else:
            self._json(200, crvs.search(envelope, fault), schema=ANSWER)

    def _token(self, crvs: FakeCrvs, form: dict[str, list[str]]) -> None:
        # OAuth 2.0 (RFC 6749), not the SPDCI envelope: its answers are not checked against the CRVS schemas.
        if form.get("grant_type") != ["client_credentials"] or form.get("client_secret") != ["app-secret"]:
            self._send(401, b'{"error": "invalid_client"}')
            return
        crvs.tokens_issued += 1
        token = f"issued-{crvs.tokens_issued}"
        crvs.accepted.add(token)
        self._send(200, json.dumps({"access_token": token, "token_type": "Bearer", "expires_in": 3600}).encode())

    def _json(self, status: int, document: Any, schema: Any = None) -> None:
        if schema is not None or status >= 400:
            self.server.crvs.check(schema or ACK, document, f"answer {status}")  # type: ignore[attr-defined]
        self._send(status, json.dumps(document, ensure_ascii=False).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def crvs() -> Iterator[FakeCrvs]:
    fake = FakeCrvs()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.crvs = fake  # type: ignore[attr-defined]
    fake.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    _TOKENS.clear()
    try:
        yield fake
    finally:
        fake.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        _TOKENS.clear()
    assert fake.violations == []  # our requests and the test CRVS's answers both kept to the standard


def crvs_config(fake: FakeCrvs, **overrides: str) -> dict[str, str]:
    return {
        "MINISTRY_BACKEND": "file", "MINISTRY_DATA_DIR": str(DATA_DIR),
        "MINISTRY_INTERIOR_BACKEND": "spdci-crvs", "MINISTRY_CRVS_URL": f"{fake.base}/namespace/v1.0.0",
        "MINISTRY_CRVS_TOKEN": TOKEN, "MINISTRY_CRVS_RECEIVER_ID": "crvs.moi.example",
        "MINISTRY_TIMEOUT": "2", "MINISTRY_RETRIES": "2", "MINISTRY_BACKOFF": "0.01", **overrides,
    }


def prefill(fake: FakeCrvs, national_id: str = ODEH, **overrides: str) -> Any:
    return prefill_registration(national_id, sources=sources_from_config(crvs_config(fake, **overrides)), today=TODAY)


# --- what the civil registry knows ---------------------------------------------------------------

def test_crvs_fills_the_head_and_spouse_with_the_crvs_as_source(crvs: FakeCrvs) -> None:
    result = prefill(crvs)

    assert result.unavailable == []
    assert result.answered == [CRVS, "education", "health"]
    assert {k: result.values[k] for k in ("governorate", "locality")} == {"governorate": "PS-RBH",
                                                                          "locality": "البيرة"}
    head, wife = result.values["members"]
    assert head == {"national_id": ODEH, "name_ar": "أحمد محمود إبراهيم عودة", "sex": "male",
                    "birth_date": "1979-03-14", "marital_status": "married", "relation": "head",
                    "health_insurance": True, "disability": False, "chronic_illness": True}
    assert {k: wife[k] for k in ("national_id", "relation", "sex", "name_ar")} == {
        "national_id": ODEH_WIFE, "relation": "spouse", "sex": "female", "name_ar": "فاطمة يوسف مصطفى حمدان"}
    assert result.provenance["members.0.birth_date"] == {"source": CRVS, "as_of": "2026-11-22"}
    assert result.provenance["members.1.relation"]["source"] == CRVS
    assert result.provenance["members.0.chronic_illness"]["source"] == "health"
    # Every prefilled member value has its provenance, and nothing else does.
    member_paths = {f"members.{i}.{name}" for i, m in enumerate(result.values["members"]) for name in m}
    assert member_paths == {p for p in result.provenance if p.startswith("members.")}


def test_each_search_is_the_standards_sync_search_by_uin_with_a_bearer_token(crvs: FakeCrvs) -> None:
    prefill(crvs)

    assert crvs.hits == {"/namespace/v1.0.0/registry/sync/search": 2}  # the applicant, then the spouse
    first = crvs.requests[0]
    assert first["header"]["action"] == "search" and first["header"]["version"] == "1.0.0"
    assert first["header"]["receiver_id"] == "crvs.moi.example"
    criteria = first["message"]["search_request"][0]["search_criteria"]
    assert (criteria["query_type"], criteria["query"], criteria["reg_record_type"]) == (
        "idtype-value", {"type": "UIN", "value": ODEH}, "Person")
    assert criteria["consent"]["purpose"]["code"] == "social-registry-registration"
    assert crvs.requests[1]["message"]["search_request"][0]["search_criteria"]["query"]["value"] == ODEH_WIFE
    assert len({r["message"]["transaction_id"] for r in crvs.requests}) == 2
    assert all(h["Authorization"] == f"Bearer {TOKEN}" and h["Content-Type"] == "application/json"
               for h in crvs.headers)


def test_a_widowed_head_is_filled_alone(crvs: FakeCrvs) -> None:
    members = prefill(crvs, KHALIL).values["members"]
    assert [(m["national_id"], m["relation"], m["marital_status"]) for m in members] == [
        (KHALIL, "head", "widowed")]


def test_no_record_fills_nothing_and_is_not_an_error(crvs: FakeCrvs) -> None:
    result = prefill(crvs, UNKNOWN)
    assert (result.values, result.unavailable) == ({}, [])
    assert result.answered == [CRVS, "education", "health"]


def test_a_deceased_applicant_is_not_prefilled_and_a_deceased_spouse_not_listed(crvs: FakeCrvs) -> None:
    crvs.persons[ODEH_WIFE]["death_date"] = "2025-02-11T00:00:00"
    members = prefill(crvs).values["members"]
    assert [m["national_id"] for m in members] == [ODEH]

    crvs.persons[ODEH]["death_date"] = "2026-01-05"
    result = prefill(crvs)
    assert "governorate" not in result.values
    assert not any(p.get("source") == CRVS for p in result.provenance.values())


def test_a_latin_name_fills_the_latin_name_field(crvs: FakeCrvs) -> None:
    crvs.persons[ODEH]["name"] = {"given_name": "Ahmad", "second_name": "Mahmoud Ibrahim", "surname": "Odeh",
                                  "prefix": "Mr."}
    head = prefill(crvs).values["members"][0]
    assert head["name_latin"] == "Ahmad Mahmoud Ibrahim Odeh" and "name_ar" not in head


# --- answers that are not a clean match: the CRVS is listed as unavailable, registration goes on ---

@pytest.mark.parametrize(("fault", "reason"), [
    ("ERR err.request.bad", "ERR err.request.bad"),
    ("ERR err.signature.missing", "ERR err.signature.missing"),
    ("NACK", "NACK"),
    ("ACK", "acknowledged without results"),
    ("rejected", "rejected rjct.version.invalid"),
    ("too many", "several records for one ID"),
    ("several", "several records for one ID"),
    ("another person", "answer about another person"),
    ("wrong transaction", "answer to another transaction"),
    ("garbage", "invalid JSON"),
    ("not an envelope", "invalid answer"),
    ("401", "HTTP 401 err.request.unauthorized"),
])
def test_an_answer_the_registry_cannot_use_makes_the_crvs_unavailable(crvs: FakeCrvs, fault: str,
                                                                       reason: str) -> None:
    crvs.faults = [fault]
    result = prefill(crvs)
    assert result.unavailable == [{"source": CRVS, "reason": reason}]
    assert result.answered == ["education", "health"]
    # Without the civil registry, Health is still asked about the applicant.
    assert result.values["members"] == [{"national_id": ODEH, "health_insurance": True, "disability": False,
                                         "chronic_illness": True}]


def test_a_busy_crvs_is_retried(crvs: FakeCrvs) -> None:
    crvs.faults = ["ERR err.service.unavailable", "503"]
    result = prefill(crvs)
    assert result.unavailable == []
    assert result.values["members"][0]["name_ar"] == "أحمد محمود إبراهيم عودة"
    assert crvs.hits["/namespace/v1.0.0/registry/sync/search"] == 4  # two refusals, applicant, spouse


def test_a_crvs_that_stays_busy_is_given_up_after_the_retries(crvs: FakeCrvs) -> None:
    crvs.faults = ["ERR err.request.too_many_requests"] * 3
    assert prefill(crvs).unavailable == [{"source": CRVS, "reason": "ERR err.request.too_many_requests (3 attempts)"}]


def test_a_slow_crvs_times_out_while_the_others_fill(crvs: FakeCrvs) -> None:
    crvs.faults = ["sleep"] * 10
    started = time.monotonic()
    result = prefill(crvs, MINISTRY_TIMEOUT="0.2", MINISTRY_RETRIES="1")
    assert time.monotonic() - started < 2
    assert result.unavailable == [{"source": CRVS, "reason": "timed out (2 attempts)"}]
    assert result.values["members"][0]["chronic_illness"] is True


def test_a_crvs_that_drops_the_connection_or_is_not_there_is_unavailable(crvs: FakeCrvs) -> None:
    crvs.faults = ["down"] * 3
    assert prefill(crvs).unavailable == [{"source": CRVS, "reason": "connection failed (3 attempts)"}]
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    result = prefill(crvs, MINISTRY_CRVS_URL=closed, MINISTRY_RETRIES="0")
    assert result.unavailable == [{"source": CRVS, "reason": "connection failed (1 attempts)"}]


def test_a_failed_spouse_lookup_keeps_the_applicant_and_the_spouses_id(crvs: FakeCrvs) -> None:
    crvs.faults = [None, "NACK"]  # type: ignore[list-item]
    result = prefill(crvs)
    assert result.unavailable == []
    assert [(m["national_id"], m["relation"]) for m in result.values["members"]] == [
        (ODEH, "head"), (ODEH_WIFE, "spouse")]
    assert "name_ar" not in result.values["members"][1]


# --- client credentials ----------------------------------------------------------------------------

def credentials(fake: FakeCrvs) -> dict[str, str]:
    return {"MINISTRY_CRVS_TOKEN": "", "MINISTRY_CRVS_TOKEN_URL": f"{fake.base}/oauth/token",
            "MINISTRY_CRVS_CLIENT_ID": "mosd", "MINISTRY_CRVS_CLIENT_SECRET": "app-secret"}


def test_a_client_credentials_token_is_fetched_once_and_kept(crvs: FakeCrvs) -> None:
    for _ in range(2):
        assert prefill(crvs, **credentials(crvs)).unavailable == []
    assert crvs.tokens_issued == 1
    searches = [h for h in crvs.headers if "Authorization" in h]
    assert {h["Authorization"] for h in searches} == {"Bearer issued-1"}


def test_a_refused_token_is_renewed_once(crvs: FakeCrvs) -> None:
    prefill(crvs, **credentials(crvs))
    crvs.accepted.discard("issued-1")  # the CRVS forgot it (expired, rotated)
    assert prefill(crvs, **credentials(crvs)).unavailable == []
    assert crvs.tokens_issued == 2


def test_a_wrong_client_secret_makes_the_crvs_unavailable(crvs: FakeCrvs) -> None:
    result = prefill(crvs, **{**credentials(crvs), "MINISTRY_CRVS_CLIENT_SECRET": "wrong"})
    assert result.unavailable == [{"source": CRVS, "reason": "token refused (HTTP 401)"}]


# --- signatures ------------------------------------------------------------------------------------

def test_envelopes_are_signed_when_a_signing_key_is_configured(crvs: FakeCrvs, tmp_path: Path) -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from registry.interop.envelope import verify

    key = ed25519.Ed25519PrivateKey.generate()
    pem = tmp_path / "crvs-signing.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    assert prefill(crvs, MINISTRY_CRVS_SIGNING_KEY_FILE=str(pem)).unavailable == []
    for envelope in crvs.requests:  # refused with the standard's error code if the signature did not match
        verify(envelope["signature"], public_key_pem=public, header=envelope["header"], message=envelope["message"],
               now=dt.datetime.now(dt.UTC))
    assert 'keyId="mosd-social-registry|ed25519"' in crvs.requests[0]["signature"]


# --- configuration ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("config", "message"), [
    ({"MINISTRY_INTERIOR_BACKEND": "spdci-crvs", "MINISTRY_CRVS_TOKEN": "t"}, "MINISTRY_CRVS_URL"),
    ({"MINISTRY_INTERIOR_BACKEND": "spdci-crvs", "MINISTRY_CRVS_URL": "http://127.0.0.1:1"}, "MINISTRY_CRVS_TOKEN"),
    ({"MINISTRY_INTERIOR_BACKEND": "spdci-crvs", "MINISTRY_CRVS_URL": "ftp://crvs", "MINISTRY_CRVS_TOKEN": "t"},
     "http"),
    ({"MINISTRY_BACKEND": "spdci-crvs", "MINISTRY_CRVS_URL": "http://127.0.0.1:1", "MINISTRY_CRVS_TOKEN": "t"},
     "education, health"),
    ({"MINISTRY_HEALTH_BACKEND": "soap"}, "MINISTRY_HEALTH_BACKEND"),
    ({"MINISTRY_INTERIOR_BACKEND": "spdci-crvs", "MINISTRY_CRVS_URL": "http://x", "MINISTRY_CRVS_TOKEN": "t",
      "MINISTRY_CRVS_SIGNING_KEY_FILE": "/nonexistent/key.pem"}, "MINISTRY_CRVS_SIGNING_KEY_FILE"),
])
def test_bad_crvs_configuration_is_refused_at_start_up(config: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sources_from_config(config)


def test_each_ministry_may_have_its_own_backend() -> None:
    sources = sources_from_config({"MINISTRY_BACKEND": "http", "MINISTRY_EDUCATION_URL": "http://127.0.0.1:1",
                                   "MINISTRY_INTERIOR_BACKEND": "spdci-crvs", "MINISTRY_CRVS_URL": "http://x",
                                   "MINISTRY_CRVS_TOKEN": "t", "MINISTRY_HEALTH_BACKEND": "none"})
    assert [type(s).__name__ for s in sources] == ["InteriorCrvsSource", "EducationHttpSource"]
    assert sources_from_config({"MINISTRY_BACKEND": "spdci-crvs", "MINISTRY_SOURCES": "interior",
                                "MINISTRY_CRVS_URL": "http://x", "MINISTRY_CRVS_TOKEN": "t"})[0].name == CRVS


def test_a_server_takes_the_crvs_backend_from_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import create_app

    for key, value in {"MINISTRY_INTERIOR_BACKEND": "spdci-crvs", "MINISTRY_CRVS_URL": "http://crvs.example",
                       "MINISTRY_CRVS_TOKEN": "t", "MINISTRY_HEALTH_BACKEND": "none",
                       "MINISTRY_EDUCATION_BACKEND": "none"}.items():
        monkeypatch.setenv(key, value)
    app = create_app({"DATABASE_URL": "sqlite://"})
    assert [s.name for s in sources_from_config(app.config)] == [CRVS]


# --- the registration flow ---------------------------------------------------------------------------

def _start(browser: FlaskClient, national_id: str) -> str:
    response = browser.post("/cases/new", data={"national_id": national_id, "consent": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return str(response.headers["Location"])


def test_registration_is_prefilled_from_the_crvs(crvs: FakeCrvs, app: Flask,
                                                 login_as: Callable[..., FlaskClient]) -> None:
    app.config.update(crvs_config(crvs))
    browser = login_as("reception1")
    html = browser.get(_start(browser, ODEH)).get_data(as_text=True)
    assert 'value="أحمد محمود إبراهيم عودة"' in html
    assert "From Ministry of Interior, civil registry (SPDCI CRVS)" in html
    assert 'data-testid="source-unavailable"' not in html


def test_registration_goes_on_when_the_crvs_is_down(crvs: FakeCrvs, app: Flask,
                                                    login_as: Callable[..., FlaskClient]) -> None:
    crvs.faults = ["down"] * 10
    app.config.update(crvs_config(crvs, MINISTRY_RETRIES="1"))
    browser = login_as("reception1")
    response = browser.get(_start(browser, ODEH))
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Ministry of Interior, civil registry (SPDCI CRVS) was unavailable; fill in its part by hand." in html
    assert "From Ministry of Health" in html

"""Pre-filling registration from other ministries: demo files, HTTP client, failures that never block."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from engine.forms import national_id_is_valid
from registry.ministries import (
    Family,
    InvalidNationalId,
    PersonFacts,
    prefill_registration,
    sources_from_config,
)
from registry.ministries.files import InteriorFileSource

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "ministries"
TODAY = dt.date(2026, 11, 22)
ODEH, ODEH_WIFE = "895160174", "468671094"  # al-Bireh (PS-RBH)
KHALIL = "860489673"  # Birzeit (PS-RBH): widowed head, insurance expired 2026-06-30
SHARIF = "968654632"  # Hebron city (PS-HBN): eight members
ABU_ARAM = "927427062"  # Yatta (PS-HBN): son without an Education record
UNKNOWN = "123456782"  # valid, held by no ministry


def _load(name: str) -> dict[str, Any]:
    with (DATA_DIR / f"{name}.json").open(encoding="utf-8") as handle:
        data: dict[str, Any] = json.load(handle)
    return data


def file_sources(data_dir: Path = DATA_DIR) -> list[Any]:
    return sources_from_config({"MINISTRY_BACKEND": "file", "MINISTRY_DATA_DIR": str(data_dir)})


# --- demo data ---------------------------------------------------------------------------------

def test_demo_ids_are_valid_unique_and_registered_at_interior() -> None:
    registered = [m["national_id"] for f in _load("interior")["families"] for m in f["members"]]
    others = [e["national_id"] for e in _load("education")["enrolments"]] + \
        [p["national_id"] for p in _load("health")["persons"]]
    assert all(national_id_is_valid(nid) for nid in registered + others)
    assert len(registered) == len(set(registered))
    assert set(others) <= set(registered)


def test_demo_has_three_households_in_ramallah_and_three_in_hebron() -> None:
    governorates = Counter(f["address"]["governorate"] for f in _load("interior")["families"])
    assert governorates == {"PS-RBH": 3, "PS-HBN": 3}


# --- file-backed prefill -----------------------------------------------------------------------

def test_file_prefill_fills_household_and_members_with_source_and_date() -> None:
    result = prefill_registration(ODEH, sources=file_sources(), today=TODAY)

    assert result.unavailable == []
    assert result.answered == ["interior", "education", "health"]
    assert {k: result.values[k] for k in ("governorate", "locality")} == {"governorate": "PS-RBH",
                                                                          "locality": "البيرة"}
    members = result.values["members"]
    assert [m["national_id"] for m in members] == [ODEH, ODEH_WIFE, "980583496", "425408309",
                                                   "927081034", "429457310"]
    assert members[0] == {
        "national_id": ODEH, "name_ar": "أحمد محمود إبراهيم عودة", "name_latin": "Ahmad Mahmoud Ibrahim Odeh",
        "relation": "head", "sex": "male", "birth_date": "1979-03-14", "marital_status": "married",
        "health_insurance": True, "disability": False, "chronic_illness": True,
    }
    assert members[1]["relation"] == "spouse"
    assert members[2]["schooling"] == "dropped_out"
    assert members[3]["schooling"] == "enrolled"
    assert "schooling" not in members[5]  # four years old: no school record, nothing guessed
    assert result.provenance["governorate"] == {"source": "interior", "as_of": "2026-10-04"}
    assert result.provenance["members.1.birth_date"] == {"source": "interior", "as_of": "2026-10-04"}
    assert result.provenance["members.2.schooling"] == {"source": "education", "as_of": "2026-09-15"}
    assert result.provenance["members.0.chronic_illness"] == {"source": "health", "as_of": "2026-11-02"}
    # Every prefilled member value has its provenance, and nothing else does.
    member_paths = {f"members.{i}.{name}" for i, m in enumerate(members) for name in m}
    assert member_paths == {p for p in result.provenance if p.startswith("members.")}


def test_to_dict_is_json_ready() -> None:
    result = prefill_registration(ODEH, sources=file_sources(), today=TODAY)
    data = json.loads(json.dumps(result.to_dict()))
    assert data["national_id"] == ODEH
    assert data["retrieved_on"] == "2026-11-22"
    assert data["values"] == result.values
    assert data["provenance"]["members.0.name_ar"] == {"source": "interior", "as_of": "2026-10-04"}


def test_prefill_by_a_members_id_gives_the_family_head_first() -> None:
    result = prefill_registration(ODEH_WIFE, sources=file_sources(), today=TODAY)
    assert result.national_id == ODEH_WIFE
    assert result.values["members"][0]["national_id"] == ODEH


def test_national_id_is_normalized_and_a_bad_check_digit_refused() -> None:
    assert prefill_registration("895-160 174", sources=file_sources(), today=TODAY).national_id == ODEH
    with pytest.raises(InvalidNationalId):
        prefill_registration("895160175", sources=file_sources(), today=TODAY)


def test_expired_insurance_is_prefilled_as_uninsured() -> None:
    after = prefill_registration(KHALIL, sources=file_sources(), today=TODAY)
    before = prefill_registration(KHALIL, sources=file_sources(), today=dt.date(2026, 6, 30))
    assert after.values["members"][0]["health_insurance"] is False
    assert before.values["members"][0]["health_insurance"] is True


def test_school_age_child_unknown_to_education_gets_no_schooling() -> None:
    members = prefill_registration(ABU_ARAM, sources=file_sources(), today=TODAY).values["members"]
    yasser = next(m for m in members if m["national_id"] == "849434337")
    assert "schooling" not in yasser
    assert members[0]["marital_status"] == "divorced"


def test_unknown_id_fills_nothing_and_is_not_an_error() -> None:
    result = prefill_registration(UNKNOWN, sources=file_sources(), today=TODAY)
    assert (result.values, result.provenance, result.unavailable) == ({}, {}, [])
    assert result.answered == ["interior", "education", "health"]


def test_missing_data_files_make_every_ministry_unavailable(tmp_path: Path) -> None:
    result = prefill_registration(ODEH, sources=file_sources(tmp_path), today=TODAY)
    assert result.values == {}
    assert result.unavailable == [{"source": name, "reason": "no data file"}
                                  for name in ("interior", "education", "health")]


def test_without_interior_the_applicant_still_gets_health_and_education_values(tmp_path: Path) -> None:
    for name in ("education", "health"):
        shutil.copy(DATA_DIR / f"{name}.json", tmp_path)
    result = prefill_registration(ODEH, sources=file_sources(tmp_path), today=TODAY)
    assert result.unavailable == [{"source": "interior", "reason": "no data file"}]
    assert result.values == {"members": [{"national_id": ODEH, "health_insurance": True,
                                          "disability": False, "chronic_illness": True}]}
    assert result.provenance["members.0.chronic_illness"]["source"] == "health"


class _BrokenHealth:
    name = "health"

    def family(self, national_id: str, *, today: dt.date) -> Family | None:
        return None

    def persons(self, national_ids: Sequence[str], *, today: dt.date) -> dict[str, PersonFacts]:
        raise RuntimeError("adapter bug")


def test_a_failing_adapter_is_listed_and_the_others_still_fill() -> None:
    sources = [*file_sources()[:2], _BrokenHealth()]
    result = prefill_registration(ODEH, sources=sources, today=TODAY)
    assert result.unavailable == [{"source": "health", "reason": "error"}]
    assert result.answered == ["interior", "education"]
    assert result.values["members"][2]["schooling"] == "dropped_out"
    assert "health_insurance" not in result.values["members"][0]


def test_person_in_two_registrations_gets_the_one_they_head(tmp_path: Path) -> None:
    families = _load("interior")
    married_son = {"as_of": "2026-11-01", "address": {"governorate": "PS-RBH", "locality": "رام الله"},
                   "members": [{"national_id": "980583496", "relation_to_head": "head", "sex": "M"}]}
    families["families"].append(married_son)
    (tmp_path / "interior.json").write_text(json.dumps(families), encoding="utf-8")
    family = InteriorFileSource(tmp_path).family("980583496", today=TODAY)
    assert family is not None
    assert family.household == {"governorate": "PS-RBH", "locality": "رام الله"}


# --- configuration -----------------------------------------------------------------------------

def test_config_defaults_to_the_demo_files_in_ministry_order() -> None:
    sources = sources_from_config({})
    assert [s.name for s in sources] == ["interior", "education", "health"]
    assert prefill_registration(SHARIF, sources=sources, today=TODAY).values["governorate"] == "PS-HBN"


def test_config_selects_ministries_and_can_switch_the_exchange_off() -> None:
    assert [s.name for s in sources_from_config({"MINISTRY_SOURCES": "health, interior"})] == \
        ["interior", "health"]
    assert sources_from_config({"MINISTRY_BACKEND": "none"}) == []


@pytest.mark.parametrize(("config", "message"), [
    ({"MINISTRY_BACKEND": "soap"}, "MINISTRY_BACKEND"),
    ({"MINISTRY_SOURCES": "interior,labour"}, "labour"),
    ({"MINISTRY_BACKEND": "http", "MINISTRY_INTERIOR_URL": "http://127.0.0.1:1"}, "MINISTRY_HEALTH_URL"),
    ({"MINISTRY_BACKEND": "http", "MINISTRY_SOURCES": "health", "MINISTRY_HEALTH_URL": "file:///etc"},
     "http"),
    ({"MINISTRY_BACKEND": "http", "MINISTRY_SOURCES": "health", "MINISTRY_HEALTH_URL": "http://127.0.0.1:1",
      "MINISTRY_TIMEOUT": "0"}, "MINISTRY_TIMEOUT"),
    ({"MINISTRY_BACKEND": "http", "MINISTRY_SOURCES": "health", "MINISTRY_HEALTH_URL": "http://127.0.0.1:1",
      "MINISTRY_RETRIES": "two"}, "MINISTRY_RETRIES"),
])
def test_bad_configuration_is_refused_at_start_up(config: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        sources_from_config(config)


# --- HTTP client against a local stand-in for the ministries ------------------------------------

class FakeMinistries:
    """The three ministries' JSON API over the demo files, with scripted faults per ministry."""

    def __init__(self) -> None:
        self.families = _load("interior")["families"]
        self.enrolments = _load("education")["enrolments"]
        self.health = {p["national_id"]: p for p in _load("health")["persons"]}
        self.faults: dict[str, list[str]] = {}
        self.hits: Counter[str] = Counter()
        self.headers: list[dict[str, str]] = []
        self.release = threading.Event()
        self.base = ""
        self._lock = threading.Lock()

    def next_fault(self, ministry: str, headers: dict[str, str]) -> str | None:
        with self._lock:
            self.hits[ministry] += 1
            self.headers.append(headers)
            queue = self.faults.get(ministry, [])
            return queue.pop(0) if queue else None

    def answer(self, ministry: str, path: str, query: dict[str, list[str]]) -> tuple[int, Any]:
        found: Any = None
        if ministry == "interior" and (match := re.fullmatch(r"/v1/families/(\d{9})", path)):
            found = next((f for f in self.families
                          if any(m["national_id"] == match[1] for m in f["members"])), None)
        elif ministry == "education" and path == "/v1/enrolments":
            ids = set(query.get("ids", [""])[0].split(","))
            found = {"enrolments": [e for e in self.enrolments if e["national_id"] in ids]}
        elif ministry == "health" and (match := re.fullmatch(r"/v1/persons/(\d{9})/health", path)):
            found = self.health.get(match[1])
        return (200, found) if found is not None else (404, {"error": "not found"})


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        api: FakeMinistries = self.server.api  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        ministry, _, rest = url.path.lstrip("/").partition("/")
        fault = api.next_fault(ministry, dict(self.headers))
        if fault == "sleep":
            api.release.wait(5)  # longer than the client waits; released when the test ends
            return
        if fault == "garbage":
            self._send(200, b"<html>maintenance</html>")
        elif fault:
            self._send(int(fault), b'{"error": "fault"}')
        else:
            status, document = api.answer(ministry, f"/{rest}", parse_qs(url.query))
            self._send(status, json.dumps(document).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


@pytest.fixture
def ministries() -> Iterator[FakeMinistries]:
    api = FakeMinistries()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.api = api  # type: ignore[attr-defined]
    api.base = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield api
    finally:
        api.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def http_sources(api: FakeMinistries, **overrides: str) -> list[Any]:
    config = {
        "MINISTRY_BACKEND": "http",
        "MINISTRY_INTERIOR_URL": f"{api.base}/interior",
        "MINISTRY_EDUCATION_URL": f"{api.base}/education/",
        "MINISTRY_HEALTH_URL": f"{api.base}/health",
        "MINISTRY_TIMEOUT": "2",
        "MINISTRY_RETRIES": "2",
        "MINISTRY_BACKOFF": "0.01",
        **overrides,
    }
    return sources_from_config(config)


def test_http_prefill_gives_the_same_result_as_the_demo_files(ministries: FakeMinistries) -> None:
    over_http = prefill_registration(SHARIF, sources=http_sources(ministries), today=TODAY)
    from_files = prefill_registration(SHARIF, sources=file_sources(), today=TODAY)
    assert over_http.to_dict() == from_files.to_dict()
    assert len(over_http.values["members"]) == 8
    # One family call, one enrolment call for the household, one health call per member.
    assert ministries.hits == {"interior": 1, "education": 1, "health": 8}


def test_http_404_means_no_record(ministries: FakeMinistries) -> None:
    result = prefill_registration(UNKNOWN, sources=http_sources(ministries), today=TODAY)
    assert (result.values, result.unavailable) == ({}, [])
    assert result.answered == ["interior", "education", "health"]


def test_http_500_then_success_is_retried(ministries: FakeMinistries) -> None:
    ministries.faults = {"interior": ["500"], "education": ["502"]}
    result = prefill_registration(ODEH, sources=http_sources(ministries), today=TODAY)
    assert result.unavailable == []
    assert result.to_dict() == prefill_registration(ODEH, sources=file_sources(), today=TODAY).to_dict()
    assert ministries.hits["interior"] == 2
    assert ministries.hits["education"] == 2


def test_http_timeout_lists_the_ministry_as_unavailable_while_others_fill(ministries: FakeMinistries) -> None:
    ministries.faults = {"health": ["sleep"] * 10}
    started = time.monotonic()
    result = prefill_registration(
        ODEH, sources=http_sources(ministries, MINISTRY_TIMEOUT="0.2", MINISTRY_RETRIES="1"), today=TODAY,
    )
    elapsed = time.monotonic() - started

    assert result.unavailable == [{"source": "health", "reason": "timed out (2 attempts)"}]
    assert result.answered == ["interior", "education"]
    members = result.values["members"]
    assert members[0]["name_ar"] == "أحمد محمود إبراهيم عودة"
    assert members[2]["schooling"] == "dropped_out"
    assert not any("health_insurance" in m for m in members)
    # Gave up on the first member instead of waiting out the timeout once per member.
    assert ministries.hits["health"] == 2
    assert elapsed < 2


def test_http_persistent_server_error_gives_up_after_the_retries(ministries: FakeMinistries) -> None:
    ministries.faults = {"education": ["503"] * 10}
    result = prefill_registration(ODEH, sources=http_sources(ministries), today=TODAY)
    assert result.unavailable == [{"source": "education", "reason": "HTTP 503 (3 attempts)"}]
    assert ministries.hits["education"] == 3
    assert result.values["members"][0]["chronic_illness"] is True


def test_http_client_error_and_unreadable_answer_are_not_retried(ministries: FakeMinistries) -> None:
    ministries.faults = {"interior": ["403"], "education": ["garbage"]}
    result = prefill_registration(ODEH, sources=http_sources(ministries), today=TODAY)
    assert result.unavailable == [{"source": "interior", "reason": "HTTP 403"},
                                  {"source": "education", "reason": "invalid JSON"}]
    assert ministries.hits["interior"] == 1
    assert ministries.hits["education"] == 1
    # Without Interior, Health is still asked about the applicant.
    assert result.values["members"] == [{"national_id": ODEH, "health_insurance": True,
                                         "disability": False, "chronic_illness": True}]


def test_http_health_answer_about_another_person_is_refused(ministries: FakeMinistries) -> None:
    ministries.health[ODEH] = {**ministries.health[ODEH], "national_id": ODEH_WIFE}
    result = prefill_registration(ODEH, sources=http_sources(ministries), today=TODAY)
    assert result.unavailable == [{"source": "health", "reason": "answer about another person"}]
    assert not any("health_insurance" in m for m in result.values["members"])


def test_http_client_names_our_subsystem_to_x_road(ministries: FakeMinistries) -> None:
    client_id = "PS/GOV/MOSD/social-registry"
    prefill_registration(ODEH, sources=http_sources(ministries, MINISTRY_XROAD_CLIENT=client_id), today=TODAY)
    assert ministries.headers
    assert all(h.get("X-Road-Client") == client_id for h in ministries.headers)
    assert all(h.get("Accept") == "application/json" for h in ministries.headers)

"""The registry as staff meet it: prefill, duplicates, name search, re-scoring, the waiting list."""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook

from tests.conftest import Api
from tests.factories import member, registration
from tests.webui.test_case_paths import complete, open_case, register_and_recommend, task_of

ROOT = Path(__file__).resolve().parents[2]
AHMAD = "895160174"  # head of a demo family known to all three ministries (data/ministries/README.md)


def _start(browser: FlaskClient, national_id: str) -> str:
    response = browser.post("/cases/new", data={"national_id": national_id, "consent": "1"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return str(response.headers["Location"])


def test_registration_is_prefilled_from_the_three_ministries_with_sources(
        login_as: Callable[..., FlaskClient]) -> None:
    browser = login_as("reception1")
    html = browser.get(_start(browser, AHMAD)).get_data(as_text=True)
    assert 'value="أحمد محمود إبراهيم عودة"' in html  # Interior: the head's name
    assert 'data-testid="source-members.0.birth_date"' in html and "From Ministry of Interior" in html
    assert "From Ministry of Education" in html and "From Ministry of Health" in html
    assert 'data-testid="source-unavailable"' not in html


def test_a_ministry_that_is_down_never_blocks_registration(login_as: Callable[..., FlaskClient], app: Flask,
                                                           tmp_path: Path) -> None:
    data_dir = tmp_path / "ministries"
    shutil.copytree(ROOT / "data" / "ministries", data_dir)
    (data_dir / "health.json").unlink()  # the Ministry of Health does not answer
    app.config["MINISTRY_DATA_DIR"] = str(data_dir)
    browser = login_as("reception1")
    html = browser.get(_start(browser, AHMAD)).get_data(as_text=True)
    assert "Ministry of Health was unavailable; fill in its part by hand." in html
    assert 'value="أحمد محمود إبراهيم عودة"' in html and "From Ministry of Interior" in html


def test_without_consent_nothing_is_looked_up(login_as: Callable[..., FlaskClient]) -> None:
    browser = login_as("reception1")
    response = browser.post("/cases/new", data={"national_id": AHMAD})
    html = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "did not consent" in html and "أحمد محمود" not in html


def test_changing_a_prefilled_value_needs_a_reason_kept_in_history(api: Callable[[str], Api], app: Flask) -> None:
    reception = api("reception1")
    created = reception.post("/cases", {"national_id": AHMAD, "consent_data_exchange": True}).get_json()
    task_id = created["first_task"]["id"]
    fields = {f["name"]: f for f in reception.get(f"/tasks/{task_id}").get_json()["fields"]}
    members = fields["members"]["value"]
    assert members[0]["national_id"] == AHMAD
    members[0]["birth_date"] = "1979-04-14"  # reception corrects the Interior's date
    data = registration(members=[{**m, "work": m.get("work") or "unemployed"} for m in members],
                        head_national_id=AHMAD, governorate=fields["governorate"]["value"],
                        locality=fields["locality"]["value"], address=fields["address"]["value"])
    response = reception.post(f"/tasks/{task_id}/complete", {"data": data})
    assert response.status_code == 422
    assert response.get_json()["errors"] == {
        "correction_reason": ["You changed data held by another ministry: give the reason."]}
    data["correction_reason"] = "Birth certificate shows 14 April."
    assert reception.post(f"/tasks/{task_id}/complete", {"data": data}).status_code == 200
    history = reception.get(f"/cases/{created['case_id']}").get_json()["history"]
    corrected = next(e for e in history if e["action"] == "field_corrected")
    assert corrected["details"]["reason"] == "Birth certificate shows 14 April."
    assert [(c["field"].endswith("birth_date"), c["before"], c["after"], c["source"])
            for c in corrected["details"]["corrections"]] == [(True, "1979-03-14", "1979-04-14", "interior")]


def test_a_person_of_another_household_is_caught_at_registration(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    first_data = registration()
    first = open_case(reception)
    complete(reception, first, first_data)
    reference = reception.get(f"/cases/{first}").get_json()["reference"]
    second = open_case(reception)
    shared = first_data["members"][2]  # the son appears in a second household
    data = registration(members=[member(), {**shared, "relation": "grandchild"}])
    response = reception.post(f"/tasks/{task_of(reception, second)['id']}/complete", {"data": data})
    assert response.status_code == 422
    assert response.get_json()["errors"]["members.1.national_id"] == [
        f"This person already belongs to another household ({reference})."]


def test_another_directorate_sees_only_that_the_person_is_registered_elsewhere(api: Callable[[str], Api]) -> None:
    ramallah, hebron = api("reception1"), api("reception2")
    data = registration()
    complete(ramallah, open_case(ramallah), data)
    second = open_case(hebron)
    response = hebron.post(f"/tasks/{task_of(hebron, second)['id']}/complete",
                           {"data": registration(members=[data["members"][0]], governorate="PS-HBN")})
    assert response.get_json()["errors"]["members.0.national_id"] == [
        "This person already belongs to another household (in another directorate)."]


def test_an_applicant_with_an_open_case_cannot_open_a_second(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    data = registration()
    case_id = open_case(reception)
    complete(reception, case_id, data)
    reference = reception.get(f"/cases/{case_id}").get_json()["reference"]
    response = reception.post("/cases", {"national_id": data["head_national_id"]})
    assert response.status_code == 409
    assert reference in response.get_json()["error"]


@pytest.mark.parametrize("query", ["احمد", "أحمد عوده", "مصطفي", "فاطمه", "أَحْمَـد", "odeh"])
def test_names_are_found_as_people_type_them(login_as: Callable[..., FlaskClient], api: Callable[[str], Api],
                                              query: str) -> None:
    reception = api("reception1")
    data = registration()
    data["members"][0].update(name_ar="أحمد مصطفى عودة", name_latin="Ahmad Mustafa Odeh")
    data["members"][1].update(name_ar="فاطمة يوسف حمدان")
    complete(reception, open_case(reception), data)
    html = login_as("reception1").get("/registry/search", query_string={"q": query}).get_data(as_text=True)
    assert 'data-testid="search-results"' in html
    assert "أحمد مصطفى عودة" in html or "فاطمة يوسف حمدان" in html
    assert "No one found." not in login_as("supervisor1").get(
        "/registry/search", query_string={"q": query}).get_data(as_text=True)
    assert "No one found." in login_as("reception2").get(
        "/registry/search", query_string={"q": query}).get_data(as_text=True)


def test_search_by_national_id_says_when_it_is_registered_elsewhere(login_as: Callable[..., FlaskClient],
                                                                   api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    data = registration()
    complete(reception, open_case(reception), data)
    nid = data["members"][1]["national_id"]
    assert nid in login_as("reception1").get("/registry/search", query_string={"q": nid}).get_data(as_text=True)
    other = login_as("reception2").get("/registry/search", query_string={"q": nid}).get_data(as_text=True)
    assert "registered in another directorate" in other and 'data-testid="search-results"' not in other


def test_a_name_search_loads_its_hits_households_in_a_fixed_number_of_queries(
        app: Flask, api: Callable[[str], Api]) -> None:
    """Each hit shows its household's head and locality: more hits must not mean more queries."""
    from sqlalchemy import event, select

    from registry import households
    from registry.models import User
    from webui.db import db_session

    reception = api("reception1")

    def queries_for(found: int) -> int:
        with app.app_context():
            session = db_session()
            actor = session.scalar(select(User).where(User.username == "reception1"))
            assert actor is not None and actor.directorate is not None
            statements: list[str] = []
            engine = session.get_bind()
            record = lambda *args: statements.append(args[2])  # noqa: E731
            event.listen(engine, "before_cursor_execute", record)
            try:
                result = households.search(session, actor=actor, query="حمدان")
            finally:
                event.remove(engine, "before_cursor_execute", record)
            assert len({h.household.id for h in result.hits}) == found
            assert all(h.household.head is not None for h in result.hits)
            return len(statements)

    complete(reception, open_case(reception), registration())
    one = queries_for(1)
    for _ in range(2):
        complete(reception, open_case(reception), registration())
    assert queries_for(3) == one


def test_a_rule_change_then_rescore_adds_a_score_and_keeps_the_old(api: Callable[[str], Api], app: Flask,
                                                                   tmp_path: Path) -> None:
    reception = api("reception1")
    case_id = open_case(reception)
    complete(reception, case_id, registration(monthly_income=3000, unmet_medical_needs=False,
                                              damp_or_leaking=False, services_hard_to_reach=[]))
    before = reception.get(f"/cases/{case_id}").get_json()["eligibility"]
    assert len(before) == 1
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    measure = rules / "poverty_measure.yaml"
    text = measure.read_text(encoding="utf-8")
    changed = re.sub(r"(poverty_cutoff_k:\s*)\"?[0-9/.]+\"?", r'\g<1>"1/100"', text, count=1)
    assert changed != text, "the rules name the poverty cut-off k"
    measure.write_text(changed, encoding="utf-8")
    app.config["RULES_DIR"] = str(rules)
    deployed = app.test_cli_runner().invoke(args=["processes", "deploy"])  # rescoring uses the deployed rules
    assert deployed.exit_code == 0, deployed.output
    result = app.test_cli_runner().invoke(args=["registry", "rescore", "--directorate", "RBH"])
    assert result.exit_code == 0, result.output
    assert "1 households re-scored" in result.output
    after = reception.get(f"/cases/{case_id}").get_json()["eligibility"]
    assert len(after) == 2
    assert after[1]["id"] == before[0]["id"] and after[1]["category"] == before[0]["category"]
    assert after[0]["rule_version"] != before[0]["rule_version"]
    if before[0]["category"] == "not_poor":
        assert "1 changed category" in result.output and after[0]["category"] != "not_poor"


def test_rescore_refuses_an_unknown_directorate(app: Flask) -> None:
    result = app.test_cli_runner().invoke(args=["registry", "rescore", "--directorate", "XYZ"])
    assert result.exit_code != 0 and "no directorate with code 'XYZ'" in result.output


def test_the_waiting_list_orders_by_intensity_and_exports(api: Callable[[str], Api],
                                                          login_as: Callable[..., FlaskClient]) -> None:
    reception = api("reception1")
    poorer = register_and_recommend(reception, monthly_income=0, feels_unsafe=True, movement_restricted=True)
    less_poor = register_and_recommend(reception)
    browser = login_as("supervisor1")
    html = browser.get("/registry/waiting-list").get_data(as_text=True)
    refs = re.findall(r">(RBH-\d{4}-\d{6})<", html)
    order = [reception.get(f"/cases/{c}").get_json()["reference"] for c in (poorer, less_poor)]
    assert refs == order
    exported = browser.get("/registry/waiting-list.csv")
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:3] == ["Rank", "Case", "Head of household"] and [r[1] for r in rows[1:]] == order
    book = load_workbook(io.BytesIO(browser.get("/registry/waiting-list.xlsx").data))
    assert [row[1] for row in book.active.iter_rows(min_row=2, values_only=True)] == order
    assert login_as("supervisor2").get("/registry/waiting-list.csv").get_data(as_text=True).count("\n") == 1


def test_a_household_applies_again_after_its_case_was_rejected(api: Callable[[str], Api]) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    data = registration()
    first = open_case(reception)
    complete(reception, first, data)
    complete(reception, first, {"decision": "recommend_ineligible", "recommendation_notes": "Income."})
    complete(supervisor, first, {"decision": "reject", "rejection_reason": "Income above the line."})
    household = reception.get(f"/cases/{first}").get_json()["household"]["id"]
    second = open_case(reception)
    complete(reception, second, {**data, "monthly_income": 200, "reasons_details": "Lost the job since."})
    again = reception.get(f"/cases/{second}").get_json()
    assert again["household"]["id"] == household  # the same registry household, updated
    assert again["household"]["living_conditions"]["monthly_income"] == 200
    assert len(again["eligibility"]) == 2  # the earlier scoring is kept beside the new one


def test_arabic_indic_digits_are_the_same_national_id(api: Callable[[str], Api]) -> None:
    reception = api("reception1")
    data = registration()
    complete(reception, open_case(reception), data)
    arabic = data["members"][1]["national_id"].translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    second = open_case(reception)
    response = reception.post(f"/tasks/{task_of(reception, second)['id']}/complete",
                              {"data": registration(members=[member(), {**data["members"][1], "national_id": arabic,
                                                                         "relation": "sibling"}])})
    assert response.status_code == 422
    assert response.get_json()["errors"]["members.1.national_id"][0].startswith(
        "This person already belongs to another household")
    assert reception.post("/cases", {"national_id": "²²²²²²²²²"}).status_code == 422


def test_a_rejected_request_leaves_the_waiting_list(api: Callable[[str], Api],
                                                   login_as: Callable[..., FlaskClient]) -> None:
    reception, supervisor = api("reception1"), api("supervisor1")
    case_id = register_and_recommend(reception, monthly_income=0)
    reference = reception.get(f"/cases/{case_id}").get_json()["reference"]
    assert reference in login_as("supervisor1").get("/registry/waiting-list").get_data(as_text=True)
    complete(supervisor, case_id, {"decision": "reject", "rejection_reason": "Not resident here."})
    assert reference not in login_as("supervisor1").get("/registry/waiting-list").get_data(as_text=True)

"""A household that moves between directorates belongs to the directorate of its address and open case."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from tests.conftest import Api
from tests.factories import registration
from tests.webui.test_case_paths import complete, open_case
from webui.cases import CASE_TABS

BOTH_DATABASES = pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)

HEBRON_LOCALITY = "دورا"
RAMALLAH_LOCALITY = "البيرة"
RAMALLAH_ADDRESS = "حي الجنان، بناية الشروق"


def _rejected_in_hebron_then_registered_in_ramallah(api: Callable[[str], Api]) -> dict[str, Any]:
    """The scenario of the report: Hebron rejects a household, Ramallah registers it again."""
    hebron, hebron_supervisor, ramallah = api("reception2"), api("supervisor2"), api("reception1")
    data = registration(governorate="PS-HBN", locality=HEBRON_LOCALITY, address="شارع السلام")
    hebron_case = open_case(hebron)
    complete(hebron, hebron_case, data, expect_form="registration")
    complete(hebron, hebron_case, {"decision": "recommend_ineligible", "recommendation_notes": "Income."},
             expect_form="eligibility_recommendation")
    complete(hebron_supervisor, hebron_case, {"decision": "reject", "rejection_reason": "Income above the line."},
             expect_form="eligibility_review")
    moved = copy.deepcopy(data)
    moved.update(governorate="PS-RBH", locality=RAMALLAH_LOCALITY, address=RAMALLAH_ADDRESS, monthly_income=0)
    ramallah_case = open_case(ramallah)
    complete(ramallah, ramallah_case, moved, expect_form="registration")
    return {"hebron_case": hebron_case, "ramallah_case": ramallah_case, "head": data["head_national_id"],
            "head_name": data["members"][0]["name_ar"]}


@BOTH_DATABASES
def test_a_returning_household_moves_to_the_directorate_that_registers_it(
        api: Callable[[str], Api], app: Flask) -> None:
    from registry.models import AuditEvent, Directorate, Household
    from webui.db import db_session

    story = _rejected_in_hebron_then_registered_in_ramallah(api)
    ramallah = api("reception1").get(f"/cases/{story['ramallah_case']}").get_json()
    with app.app_context():
        session = db_session()
        household = session.get(Household, ramallah["household"]["id"])
        assert household is not None
        assert session.get(Directorate, household.directorate_id).code == "RBH"
        moves = list(session.scalars(select(AuditEvent).where(AuditEvent.action == "household_moved")))
    assert len(moves) == 1 and moves[0].case_id == story["ramallah_case"]
    assert moves[0].details["from"] == "HBN" and moves[0].details["to"] == "RBH"
    assert story["head"] not in str(moves[0].details) and RAMALLAH_LOCALITY not in str(moves[0].details)


@BOTH_DATABASES
def test_the_registering_directorate_sees_its_own_scores_case_and_waiting_list_and_a_summary_of_the_rest(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    story = _rejected_in_hebron_then_registered_in_ramallah(api)
    ramallah = api("reception1").get(f"/cases/{story['ramallah_case']}").get_json()
    hebron = api("reception2").get(f"/cases/{story['hebron_case']}").get_json()
    assert len(ramallah["eligibility"]) == 1  # Hebron's scoring stays Hebron's
    assert not {s["id"] for s in ramallah["eligibility"]} & {s["id"] for s in hebron["eligibility"]}
    reception = login_as("reception1")
    page = reception.get(f"/cases/{story['ramallah_case']}?tab=eligibility").get_data(as_text=True)
    assert "An earlier request in another directorate: Rejected on" in page
    every_tab = "".join(reception.get(f"/cases/{story['ramallah_case']}?tab={tab}").get_data(as_text=True)
                        for tab in CASE_TABS)
    assert "Income above the line." not in every_tab and HEBRON_LOCALITY not in every_tab
    search = reception.get("/registry/search", query_string={"q": story["head"]}).get_data(as_text=True)
    assert "registered in another directorate" not in search
    assert RAMALLAH_LOCALITY in search and f"/cases/{story['ramallah_case']}" in search
    assert f'/cases/{story["hebron_case"]}"' not in search
    assert ramallah["reference"] in login_as("supervisor1").get("/registry/waiting-list").get_data(as_text=True)


@BOTH_DATABASES
def test_the_earlier_directorate_no_longer_sees_the_households_new_details(
        api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    story = _rejected_in_hebron_then_registered_in_ramallah(api)
    reference = api("reception1").get(f"/cases/{story['ramallah_case']}").get_json()["reference"]
    hebron = login_as("reception2")
    search = hebron.get("/registry/search", query_string={"q": story["head"]}).get_data(as_text=True)
    assert "registered in another directorate" in search
    assert RAMALLAH_LOCALITY not in search and f"/cases/{story['ramallah_case']}" not in search
    by_name = hebron.get("/registry/search", query_string={"q": story["head_name"]}).get_data(as_text=True)
    assert RAMALLAH_LOCALITY not in by_name and f"/cases/{story['ramallah_case']}" not in by_name
    old_case = hebron.get(f"/cases/{story['hebron_case']}").get_data(as_text=True)
    assert "now registered in another directorate" in old_case
    assert RAMALLAH_LOCALITY not in old_case and RAMALLAH_ADDRESS not in old_case
    assert api("reception2").get(f"/cases/{story['hebron_case']}").get_json()["household"] is None
    hebron_list = login_as("supervisor2").get("/registry/waiting-list").get_data(as_text=True)
    assert reference not in hebron_list and story["head_name"] not in hebron_list

"""Builders of realistic submissions for tests; national IDs carry a correct check digit."""

from __future__ import annotations

import itertools
from typing import Any

_serial = itertools.count(10_000_001)


def with_check_digit(first_eight: str) -> str:
    total = 0
    for position, char in enumerate(first_eight):
        product = int(char) * (1 if position % 2 == 0 else 2)
        total += product - 9 if product > 9 else product
    return first_eight + str((10 - total % 10) % 10)


def national_id() -> str:
    """A fresh valid national ID, different on every call."""
    return with_check_digit(f"{next(_serial) % 100_000_000:08d}")


def member(relation: str = "head", **overrides: Any) -> dict[str, Any]:
    person = {
        "national_id": national_id(), "name_ar": "أحمد محمود عودة", "name_latin": "Ahmad Odeh",
        "relation": relation, "sex": "male", "birth_date": "1980-03-14", "marital_status": "married",
        "disability": False, "chronic_illness": False, "health_insurance": True,
        "schooling": "secondary", "work": "unemployed",
    }
    person.update(overrides)
    return person


def registration(**overrides: Any) -> dict[str, Any]:
    """A complete registration of a poor household of four in Ramallah."""
    head = member()
    members = overrides.pop("members", None) or [
        head,
        member("spouse", name_ar="فاطمة يوسف حمدان", name_latin="Fatima Hamdan", sex="female",
               birth_date="1984-07-02", work="not_in_labour_force", health_insurance=False),
        member("son", name_ar="محمد أحمد عودة", sex="male", birth_date="2012-01-20", marital_status="single",
               schooling="dropped_out", work="student"),
        member("daughter", name_ar="مريم أحمد عودة", sex="female", birth_date="2016-05-11", marital_status="single",
               schooling="enrolled", work="student", disability=True),
    ]
    data: dict[str, Any] = {
        "consent_data_exchange": True,
        "head_national_id": members[0]["national_id"],
        "phone": "0599123456",
        "governorate": "PS-RBH",
        "locality": "البيرة",
        "address": "حي أم الشرايط",
        "members": members,
        "reasons": ["loss_of_income", "illness"],
        "reasons_details": "The father lost his job; the daughter needs treatment.",
        "monthly_income": 700,
        "dwelling_type": "apartment", "dwelling_tenure": "rented", "rooms": 1,
        "damp_or_leaking": True, "water_source": "tanker", "sanitation": "cesspit",
        "electricity": True, "cooking_fuel": "gas", "assets": ["refrigerator"],
        "services_hard_to_reach": ["health_centre"], "unmet_medical_needs": True,
        "feels_unsafe": False, "violence_in_household": False, "movement_restricted": False,
    }
    data.update(overrides)
    return data


PLAN = {
    "goals": "Regular income and treatment for the daughter.",
    "interventions": [
        {"description": "Monthly cash transfer", "area": "cash", "provider_type": "ministry",
         "provider_name": "Cash Transfer Programme", "due_date": "2026-12-01"},
        {"description": "Vocational training for the father", "area": "empowerment", "provider_type": "partner",
         "provider_name": "Vocational Training Centre", "due_date": "2027-01-15"},
    ],
    "plan_start_date": "2026-11-10",
    "plan_end_date": "2027-02-10",
    "household_agreed": True,
}

"""The registration fields the registry reads are named once, and the person table keeps each member field."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import inspect

from engine.forms import load_form
from registry.models import Person
from registry.registration import MEMBER_FIELDS, REGISTRATION_FORM, form_problems, member_data, person_values

ROOT = Path(__file__).resolve().parents[2]


def test_every_member_field_has_its_column() -> None:
    columns = {c.key for c in inspect(Person).columns}
    assert [f.name for f in MEMBER_FIELDS if f.name not in columns] == []


def test_the_shipped_registration_form_has_every_field_the_registry_reads() -> None:
    assert form_problems(load_form(ROOT / "forms", REGISTRATION_FORM)) == []


def test_a_member_reads_back_as_it_was_submitted() -> None:
    submitted = {"national_id": "123456782", "name_ar": "سارة", "name_latin": None, "relation": "head",
                 "sex": "female", "birth_date": "1980-02-01", "marital_status": "married", "disability": False,
                 "chronic_illness": True, "health_insurance": False, "schooling": None, "work": "employee"}
    assert member_data(Person(**person_values(submitted))) == submitted

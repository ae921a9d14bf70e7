"""The waiting list sorts stored keys: worked out once per score, day and rule version, never stale."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from registry import process_catalogue
from registry.models import WaitingPriority
from tests.conftest import Api, Clock
from tests.webui.test_case_paths import register_and_recommend
from webui.db import db_session, library

ROOT = Path(__file__).resolve().parents[2]


def _order(browser: FlaskClient) -> list[str]:
    return re.findall(r">(RBH-\d{4}-\d{6})<", browser.get("/registry/waiting-list").get_data(as_text=True))


def _stored(app: Flask) -> list[tuple[int, str]]:
    with app.app_context():
        return [(row.score_id, row.as_of.isoformat()) for row in db_session().scalars(
            select(WaitingPriority).order_by(WaitingPriority.score_id))]


@pytest.mark.parametrize("database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_keys_are_worked_out_once_a_day_and_a_new_score_adds_only_its_own(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock) -> None:
    reception = api("reception1")
    poorer = register_and_recommend(reception, monthly_income=0, feels_unsafe=True, movement_restricted=True)
    less_poor = register_and_recommend(reception)
    browser = login_as("supervisor1")
    first = _order(browser)
    assert first == [reception.get(f"/cases/{c}").get_json()["reference"] for c in (poorer, less_poor)]
    stored = _stored(app)
    assert len(stored) == 2
    assert _order(browser) == first and _stored(app) == stored  # the second view works nothing out again

    newest = register_and_recommend(reception, monthly_income=0, feels_unsafe=True, movement_restricted=True)
    assert len(_order(browser)) == 3
    assert _stored(app)[:2] == stored and len(_stored(app)) == 3  # only the new score's key is added
    assert reception.get(f"/cases/{newest}").status_code == 200

    clock.advance(days=1)  # ages follow the calendar: the next day's keys are worked out again
    browser = login_as("supervisor1")
    assert len(_order(browser)) == 3
    assert {day for _score, day in _stored(app)} == {clock().date().isoformat()}


def test_a_changed_priority_rule_reorders_the_list_at_once(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient], tmp_path: Path) -> None:
    shutil.copytree(ROOT / "rules", tmp_path / "rules")
    app.config["RULES_DIR"] = str(tmp_path / "rules")
    reception = api("reception1")
    poorer = register_and_recommend(reception, monthly_income=0, feels_unsafe=True, movement_restricted=True)
    less_poor = register_and_recommend(reception)
    references = {c: reception.get(f"/cases/{c}").get_json()["reference"] for c in (poorer, less_poor)}
    browser = login_as("supervisor1")
    assert _order(browser) == [references[poorer], references[less_poor]]

    rules = tmp_path / "rules" / "priority.yaml"
    text = rules.read_text(encoding="utf-8")
    # Both households are below the deep poverty line (700 NIS for five is ≈ 237 per adult equivalent), so
    # the key that orders them is "the poorest first" (income per adult equivalent, ascending): reverse it.
    rules.write_text(text.replace("direction: ascending", "direction: descending", 1), encoding="utf-8")
    assert _order(browser) == [references[poorer], references[less_poor]]  # a draft until it is deployed
    with app.app_context():
        process_catalogue.deploy_files(db_session(), library=library(), now=dt.datetime.now(dt.UTC))
    assert _order(browser) == [references[less_poor], references[poorer]]
    with app.app_context():
        versions = db_session().scalar(select(func.count(func.distinct(WaitingPriority.rule_version))))
    assert versions == 2

"""The waiting list sorts stored keys: worked out once per score, day and rule version, never stale."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from registry import process_catalogue
from registry.households import _decode_key, _encode_key, rank_text
from registry.models import User, WaitingPriority
from tests.conftest import Api, Clock
from tests.webui.test_case_paths import register_and_recommend
from webui.db import db_session, library

ROOT = Path(__file__).resolve().parents[2]


def _user(username: str) -> User:
    user = db_session().scalar(select(User).where(User.username == username))
    assert user is not None
    return user


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


_PART = st.tuples(st.sampled_from([0, 1]), st.one_of(
    st.integers(min_value=-10**6, max_value=10**6),
    st.floats(min_value=-1e9, max_value=1e9, allow_nan=False),
    st.fractions(min_value=-1000, max_value=1000, max_denominator=64),
    st.booleans()))


@given(st.lists(st.lists(_PART, min_size=3, max_size=3), min_size=2, max_size=8))
def test_a_stored_rank_sorts_as_its_key_does(keys: list[list[tuple[int, Any]]]) -> None:
    """The database orders the waiting list by the rank text: it must agree with the key tuples' order."""
    stored = [_encode_key(tuple((flag, int(v) if isinstance(v, bool) else v) for flag, v in key)) for key in keys]
    by_key = sorted(range(len(stored)), key=lambda i: (_decode_key(stored[i]), i))
    by_rank = sorted(range(len(stored)), key=lambda i: (rank_text(stored[i]), i))
    assert [_decode_key(stored[i]) for i in by_rank] == [_decode_key(stored[i]) for i in by_key]


def test_pages_of_the_waiting_list_follow_one_another_in_priority_order(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient]) -> None:
    reception = api("reception1")
    cases = [register_and_recommend(reception, monthly_income=income) for income in (0, 300, 600)]
    browser = login_as("supervisor1")
    whole = _order(browser)
    assert len(whole) == len(cases)
    with app.app_context():
        from registry import households
        from registry.operations import local_date
        from webui.db import deployed_library

        actor = _user("supervisor1")
        pages = [households.waiting_list(db_session(), actor=actor, rules_dir=str(deployed_library().rules_dir),
                                         today=local_date(dt.datetime.now(dt.UTC)), page=n, per_page=1)
                 for n in (1, 2, 3)]
    assert [p.info.total for p in pages] == [3, 3, 3] and pages[0].info.has_next and not pages[2].info.has_next
    assert [p.items[0].case.reference for p in pages if p.items[0].case] == whole
    assert [p.items[0].rank for p in pages] == [1, 2, 3]


def test_the_workers_first_pass_of_a_day_ranks_the_lists_so_no_page_view_works_a_key_out(
        app: Flask, api: Callable[[str], Api], login_as: Callable[..., FlaskClient], clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from registry import eligibility
    from registry.worker import run_once

    reception = api("reception1")
    for income in (0, 300):
        register_and_recommend(reception, monthly_income=income)
    with app.app_context():
        first = run_once(app.extensions["sessionmaker"], now=clock(), library=library())
        again = run_once(app.extensions["sessionmaker"], now=clock(), library=library())
    assert (first.waiting_keys, again.waiting_keys) == (2, 0)
    assert len(_stored(app)) == 2

    def not_again(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a page view worked out a key the worker had stored")

    monkeypatch.setattr(eligibility, "priority_key", not_again)
    assert len(_order(login_as("supervisor1"))) == 2

"""Bulk re-scoring reads households as columns and writes in bulk, yet stores what scoring each one alone gives."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from registry import eligibility, scores
from registry.households import rescore, scoring_data
from registry.models import AuditEvent, Case, Household, Person
from registry.operations import local_date
from tests.conftest import Clock
from tests.factories import member, registration
from tests.registry.test_campaigns import BOTH_DATABASES, WELL_OFF, add_household, database

ROOT = Path(__file__).resolve().parents[2]


def _lowered_k(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    measure = rules / eligibility.MEASURE_FILE
    text = measure.read_text(encoding="utf-8")
    measure.write_text(re.sub(r'(poverty_cutoff_k:\s*)"?[0-9/.]+"?', r'\g<1>"1/100"', text, count=1),
                       encoding="utf-8")
    return rules


def _plain(value: Any) -> Any:
    return scores._plain(value)


@BOTH_DATABASES
def test_bulk_rescoring_stores_what_scoring_each_loaded_household_gives(app: Flask, clock: Clock,
                                                                       tmp_path: Path) -> None:
    rules = _lowered_k(tmp_path)
    with database(app) as session:
        ids = [add_household(session, clock, "RBH", None, open_case=True),
               add_household(session, clock, "RBH", None, data=registration(**WELL_OFF, members=[
                   member(), member("son", birth_date="2008-12-20", marital_status="single", work="student")])),
               add_household(session, clock, "JEN", None, data=registration(**{**WELL_OFF, "rooms": 1}),
                             open_case=True)]
        # A member who left the household is not scored.
        gone = session.scalars(select(Person).where(Person.household_id == ids[0])).all()[-1]
        gone.active = False
        session.commit()
        before = {h: scores.latest_score(session, h) for h in ids}
        done: list[int] = []
        now = clock.now + dt.timedelta(days=40)

        summary = rescore(session, rules_dir=str(rules), now=now, batch=2, progress=done.append)

        assert summary.households == 3 and sum(done) == 3
        measure = eligibility.load_measure(rules)
        changed = 0
        for household_id in ids:
            session.expire_all()
            household = session.get(Household, household_id)
            assert household is not None
            expected = eligibility.score_household(measure, scoring_data(household), as_of=local_date(now))
            stored, old = scores.latest_score(session, household_id), before[household_id]
            assert stored is not None and old is not None and stored.id != old.id
            assert stored.inputs == _plain(expected.inputs)
            assert stored.indicators and [(i["key"], i["value"], i["deprived"]) for i in stored.indicators] == \
                [(i["key"], _plain(i["value"]), i["deprived"]) for i in expected.indicators]
            assert (stored.category, stored.score_exact) == (expected.category, expected.score_exact)
            assert stored.previous_score_id == old.id
            assert stored.reasons == scores.change_reasons(measure, expected, old)
            if old.category != stored.category:
                changed += 1
                event = session.scalar(select(AuditEvent).where(AuditEvent.action == "household_rescored",
                                                                AuditEvent.details["household_id"].as_integer()
                                                                == household_id))
                case_id = session.scalar(select(Case.id).where(Case.household_id == household_id))
                assert event is not None and event.case_id == case_id
                assert event.details["before"] == old.category and event.details["after"] == stored.category
        assert summary.changed == changed > 0
        assert len(household_inputs(session, ids[0])) == 3  # of four, one left


def household_inputs(session: Any, household_id: int) -> list[dict[str, Any]]:
    score = scores.latest_score(session, household_id)
    assert score is not None
    members: list[dict[str, Any]] = score.inputs["members"]
    return members


def test_a_day_that_surely_changes_nothing_is_known_without_scoring_twice() -> None:
    measure = eligibility.load_measure(ROOT / "rules")
    households = [registration(),
                  registration(members=[member(), member("son", birth_date="2008-12-01", marital_status="single",
                                                         work="student", schooling="enrolled")])]
    days = [(dt.date(2026, 11, 2), dt.date(2026, 11, 5)), (dt.date(2026, 11, 2), dt.date(2026, 12, 2)),
            (dt.date(2025, 6, 1), dt.date(2026, 11, 2))]
    known_same = 0
    for data in households:
        for day, later in days:
            same = eligibility.same_results_on(measure, data, day, later)
            then, now = (eligibility.score_household(measure, data, as_of=d) for d in (day, later))
            if same:
                known_same += 1
                assert scores._outcome(then) == scores._outcome(now)
    assert known_same >= 2
    # The son turns 18 on 2026-12-01: the two days are not known to be alike.
    assert not eligibility.same_results_on(measure, households[1], dt.date(2026, 11, 2), dt.date(2026, 12, 2))

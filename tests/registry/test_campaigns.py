"""Data-update campaigns: one visit per household in scope, the visit process, spot-checks, attempts, conflicts."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from fractions import Fraction
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from engine.models import TaskRecord, TaskState
from registry.campaigns import services
from registry.campaigns.household_data import update_household
from registry.campaigns.models import Campaign, Visit
from registry.campaigns.operations import load_spot_check_rules, spot_check_reason
from registry.models import AuditEvent, Case, Directorate, EligibilityScore, Household, Person, User
from registry.operations import store_score
from registry.verification import household_sources
from tests.conftest import Clock
from tests.factories import member, registration

BOTH_DATABASES = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
#: A household that is not poor: income well above the lines, a sound home.
WELL_OFF = {"monthly_income": 30000, "dwelling_type": "house", "dwelling_tenure": "owned", "rooms": 5,
            "damp_or_leaking": False, "water_source": "public_network", "sanitation": "public_sewer",
            "assets": ["refrigerator", "washing_machine", "television", "computer", "car"],
            "services_hard_to_reach": [], "unmet_medical_needs": False, "reasons": ["other"]}


@contextmanager
def database(app: Flask) -> Iterator[Session]:
    with app.app_context():
        from webui.db import db_session

        yield db_session()


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def directorate(session: Session, code: str) -> Directorate:
    found = session.scalar(select(Directorate).where(Directorate.code == code))
    assert found is not None
    return found


def add_household(session: Session, clock: Clock, code: str, status: str | None, *,
                  data: dict[str, Any] | None = None, open_case: bool = False) -> int:
    """A registered household with members, sources and a first score, recorded a week before now."""
    then = clock.now - dt.timedelta(days=7)
    data = data or registration()
    household = Household(directorate_id=directorate(session, code).id, governorate_code=data["governorate"],
                          locality=data["locality"], programme_status=status, created_at=then, updated_at=then)
    session.add(household)
    session.flush()
    update_household(session, household, data, actor_id=None, visit_id=0, today=then.date(), now=then)
    ministry = {"how": "ministry", "source": "interior", "as_of": "2026-01-01"}
    household.sources = {path: dict(ministry) for path in household.sources}
    for person in household.members:
        person.sources = {name: dict(ministry) for name in person.sources}
    from registry.households import scoring_data

    store_score(session, household_id=household.id, case_id=None, directorate_id=household.directorate_id,
                data=scoring_data(household), rules_dir=None, actor_id=None, now=then)
    if open_case:
        session.add(Case(reference=f"T-{household.id}", directorate_id=household.directorate_id,
                         household_id=household.id, applicant_national_id=data["head_national_id"],
                         created_at=then))
    session.commit()
    return household.id


def campaign(app: Flask, clock: Clock, codes: list[str], include: list[str] | None = None,
             username: str = "admin") -> tuple[int, list[int]]:
    seen: list[int] = []
    with database(app) as session:
        made = services.create_campaign(
            session, actor=user(session, username), name="North update 2026", directorate_codes=codes,
            starts_on=dt.date(2026, 11, 3), ends_on=dt.date(2027, 2, 28), include=include or ["beneficiaries"],
            now=clock.now, progress=seen.append)
        return made.id, seen


def visit_of(session: Session, campaign_id: int, household_id: int, attempt: int = 1) -> Visit:
    found = session.scalar(select(Visit).where(Visit.campaign_id == campaign_id, Visit.household_id == household_id,
                                               Visit.attempt == attempt))
    assert found is not None
    return found


def complete(app: Flask, clock: Clock, visit_id: int, outcome: str, data: dict[str, Any] | None = None,
             username: str = "casemanager1", base_version: int = 1) -> services.VisitResult:
    from webui.db import library

    with database(app) as session:
        return services.complete_visit(session, actor=user(session, username), library=library(), visit_id=visit_id,
                                       outcome=outcome, data=data or {}, base_version=base_version, now=clock.now)


def current_data(app: Flask, visit_id: int) -> dict[str, Any]:
    with database(app) as session:
        return services.visit_form_data(session, session.get(Visit, visit_id))


@BOTH_DATABASES
def test_a_campaign_creates_one_visit_per_household_in_scope(app: Flask, clock: Clock) -> None:
    with database(app) as session:
        active = [add_household(session, clock, "RBH", "active") for _ in range(3)]
        suspended = add_household(session, clock, "RBH", "suspended")
        unknown = add_household(session, clock, "RBH", None)
        waiting = add_household(session, clock, "RBH", None, open_case=True)
        elsewhere = add_household(session, clock, "HBN", "active")
    campaign_id, seen = campaign(app, clock, ["RBH"])
    with database(app) as session:
        visits = list(session.scalars(select(Visit).where(Visit.campaign_id == campaign_id)))
        assert sorted(v.household_id for v in visits) == sorted(active)
        assert {suspended, unknown, waiting, elsewhere}.isdisjoint({v.household_id for v in visits})
        assert all(v.attempt == 1 and v.outcome is None and v.lock_version == 1 and v.instance_id is None
                   and v.locality == "البيرة" for v in visits)
        assert seen == [3]
        event = session.scalar(select(AuditEvent).where(AuditEvent.action == "campaign_created"))
        assert event is not None and event.details["visits"] == 3 and event.details["directorates"] == ["RBH"]
    both, _seen = campaign(app, clock, ["RBH", "HBN"], include=["beneficiaries", "waiting_list"])
    with database(app) as session:
        ids = set(session.scalars(select(Visit.household_id).where(Visit.campaign_id == both)))
        assert ids == {*active, elsewhere, waiting}


def test_a_supervisor_runs_campaigns_in_their_own_directorate_only(app: Flask, clock: Clock) -> None:
    with database(app) as session:
        add_household(session, clock, "RBH", "active")
        add_household(session, clock, "HBN", "active")
    with pytest.raises(FormInvalid) as refused:
        campaign(app, clock, ["RBH"], username="supervisor2")
    assert refused.value.errors["directorates"] == ["not_your_directorate"]
    with pytest.raises(FormInvalid) as bad:
        with database(app) as session:
            services.create_campaign(session, actor=user(session, "admin"), name="", directorate_codes=["XXX"],
                                     starts_on=dt.date(2026, 12, 1), ends_on=dt.date(2026, 11, 1),
                                     include=["everyone"], now=clock.now)
    assert set(bad.value.errors) == {"name", "directorates", "ends_on", "include"}
    campaign_id, _seen = campaign(app, clock, ["RBH", "HBN"])
    with database(app) as session:
        assert session.scalar(select(func.count(Campaign.id))) == 1
        view = services.campaign_view(session, actor=user(session, "supervisor2"), campaign_id=campaign_id)
        assert [d.code for d, _c in view.by_directorate] == ["HBN"] and view.counts.households == 1
        everything = services.campaign_view(session, actor=user(session, "admin"), campaign_id=campaign_id)
        assert everything.counts.households == 2
        only_rbh, _seen = campaign(app, clock, ["RBH"], username="supervisor1")
        with pytest.raises(NotFoundForActor):
            services.campaign_view(session, actor=user(session, "supervisor2"), campaign_id=only_rbh)


@BOTH_DATABASES
def test_an_updated_visit_changes_the_household_with_sources_and_scores_it_again(app: Flask, clock: Clock) -> None:
    with database(app) as session:
        household_id = add_household(session, clock, "RBH", "active", data=registration(**WELL_OFF))
        before_scores = session.scalar(select(func.count(EligibilityScore.id)))
    campaign_id, _seen = campaign(app, clock, ["RBH"])
    with database(app) as session:
        visit_id = visit_of(session, campaign_id, household_id).id
    data = current_data(app, visit_id)
    assert data["monthly_income"] == 30000
    newborn = member("daughter", name_ar="سلمى أحمد عودة", sex="female", birth_date="2026-06-01",
                     marital_status="single", schooling=None, work=None)
    data.update(registration(members=[*data["members"], newborn], phone="0599000111", monthly_income=300,
                             head_national_id=data["head_national_id"]))
    data["verified_by_document"] = ["monthly_income"]
    clock.advance(hours=2)
    result = complete(app, clock, visit_id, "updated", data)
    assert result.outcome == "updated"
    with database(app) as session:
        visit = session.get(Visit, visit_id)
        household = session.get(Household, household_id)
        assert visit.outcome == "updated" and visit.lock_version == 2 and visit.completed_at == clock.now
        assert visit.case_manager_id == user(session, "casemanager1").id and visit.instance_id is not None
        assert household.phone == "0599000111" and household.living_conditions["monthly_income"] == 300
        assert [p.name_ar for p in household.members][-1] == "سلمى أحمد عودة"
        sources = household_sources(household)
        assert sources["phone"]["how"] == "declared" and sources["phone"]["visit"]["visit_id"] == visit_id
        assert sources["monthly_income"]["how"] == "document"
        assert sources["locality"]["how"] == "ministry"  # not changed at the visit: keeps its source
        assert sources["members.0.name_ar"]["how"] == "ministry"
        assert sources["members.4.name_ar"]["how"] == "declared"
        latest = session.scalar(select(EligibilityScore).where(EligibilityScore.household_id == household_id)
                                .order_by(EligibilityScore.id.desc()).limit(1))
        assert session.scalar(select(func.count(EligibilityScore.id))) == before_scores + 1
        assert visit.category_before == "not_poor" and visit.category_after == latest.category != "not_poor"
        assert (result.category_before, result.category_after) == (visit.category_before, visit.category_after)
        # The category changed: the rules always send it to the directorate's supervisor.
        assert result.spot_check
        checks = services.spot_checks(session, actor=user(session, "supervisor1"))
        assert [v.id for _t, v in checks] == [visit_id]
        assert services.spot_checks(session, actor=user(session, "supervisor2")) == []
        actions = set(session.scalars(select(AuditEvent.action)))
        assert {"visit_completed", "visit_household_updated", "visit_rescored"} <= actions
    from webui.db import library

    with database(app) as session:
        with pytest.raises(NotFoundForActor):
            services.spot_check_form(session, actor=user(session, "supervisor2"), library=library(),
                                     visit_id=visit_id)
        services.complete_spot_check(session, actor=user(session, "supervisor1"), library=library(),
                                     visit_id=visit_id, data={"spot_check_result": "confirmed"}, now=clock.now)
        assert services.spot_checks(session, actor=user(session, "supervisor1")) == []


def test_an_unchanged_category_is_spot_checked_only_when_drawn(app: Flask, clock: Clock) -> None:
    with database(app) as session:
        household_id = add_household(session, clock, "RBH", "active")
    campaign_id, _seen = campaign(app, clock, ["RBH"])
    with database(app) as session:
        visit_id = visit_of(session, campaign_id, household_id).id
    result = complete(app, clock, visit_id, "updated", current_data(app, visit_id))
    assert result.category_before == result.category_after
    rules = load_spot_check_rules("rules")
    assert result.spot_check == (spot_check_reason(rules, visit_id=visit_id, category_changed=False) == "random")


def test_the_spot_check_sample_follows_the_rules_file(tmp_path: Any) -> None:
    rules = load_spot_check_rules("rules")
    assert rules["random_share"] == Fraction(5, 100) and rules["always_when"] == ["category_changed"]
    assert all(spot_check_reason(rules, visit_id=i, category_changed=True) == "category_changed"
               for i in range(1, 200))
    drawn = [i for i in range(1, 20001) if spot_check_reason(rules, visit_id=i, category_changed=False)]
    assert 0.04 < len(drawn) / 20000 < 0.06
    # Reproducible: the same visits are drawn every time; another salt draws another sample.
    assert drawn == [i for i in range(1, 20001) if spot_check_reason(rules, visit_id=i, category_changed=False)]
    other = {**rules, "salt": "another campaign"}
    assert drawn != [i for i in range(1, 20001) if spot_check_reason(other, visit_id=i, category_changed=False)]
    (tmp_path / "spot_check.yaml").write_text("random_share: 0\nalways_when: []\n", encoding="utf-8")
    none = load_spot_check_rules(tmp_path)
    assert not any(spot_check_reason(none, visit_id=i, category_changed=True) for i in range(1, 500))
    (tmp_path / "spot_check.yaml").write_text("random_share: 2\n", encoding="utf-8")
    with pytest.raises(ValueError):
        load_spot_check_rules(tmp_path)


def test_a_household_not_found_gets_a_second_attempt_on_another_day(app: Flask, clock: Clock) -> None:
    with database(app) as session:
        household_id = add_household(session, clock, "RBH", "active")
        phone = session.get(Household, household_id).phone
    campaign_id, _seen = campaign(app, clock, ["RBH"])
    with database(app) as session:
        first = visit_of(session, campaign_id, household_id).id
    result = complete(app, clock, first, "not_found")
    assert result.next_visit_id is not None
    with database(app) as session:
        again = session.get(Visit, result.next_visit_id)
        assert again.attempt == 2 and again.outcome is None and again.planned_on == dt.date(2026, 11, 3)
        assert again.case_manager_id == user(session, "casemanager1").id
        assert session.get(Visit, first).outcome == "not_found"
        assert session.get(Household, household_id).phone == phone  # nothing of the household changed
    clock.advance(days=1)
    last = complete(app, clock, result.next_visit_id, "refused")
    assert last.next_visit_id is None
    with database(app) as session:
        outcomes = session.execute(select(Visit.attempt, Visit.outcome).where(Visit.household_id == household_id)
                                   .order_by(Visit.attempt)).tuples().all()
        assert outcomes == [(1, "not_found"), (2, "refused")]


def test_a_stale_or_finished_visit_is_a_conflict_and_nothing_changes(app: Flask, clock: Clock) -> None:
    with database(app) as session:
        household_id = add_household(session, clock, "RBH", "active")
        scores_before = session.scalar(select(func.count(EligibilityScore.id)))
    campaign_id, _seen = campaign(app, clock, ["RBH"])
    with database(app) as session:
        visit = visit_of(session, campaign_id, household_id)
        visit_id = visit.id
        visit.planned_on, visit.lock_version = dt.date(2026, 11, 4), 2  # re-planned after the phone downloaded it
        session.commit()
    data = {**current_data(app, visit_id), "phone": "0599777666"}
    with pytest.raises(services.VisitConflict) as stale:
        complete(app, clock, visit_id, "updated", data, base_version=1)
    assert [d["kind"] for d in stale.value.differences] == ["visit_changed"] and stale.value.current_version == 2
    with database(app) as session:
        assert session.get(Household, household_id).phone != "0599777666"
        assert session.get(Visit, visit_id).outcome is None
        assert session.scalar(select(func.count(EligibilityScore.id))) == scores_before
        household = session.get(Household, household_id)
        household.updated_at = clock.now + dt.timedelta(minutes=5)  # a case updated the household meanwhile
        session.commit()
    clock.advance(minutes=10)
    with pytest.raises(services.VisitConflict) as changed:
        complete(app, clock, visit_id, "updated", data, base_version=2)
    assert [d["kind"] for d in changed.value.differences] == ["household_changed"]
    with database(app) as session:
        visit = session.get(Visit, visit_id)
        visit.updated_at = clock.now
        session.commit()
    complete(app, clock, visit_id, "refused", base_version=2)
    with pytest.raises(services.VisitConflict) as done:
        complete(app, clock, visit_id, "updated", data, base_version=2)
    assert "already_completed" in [d["kind"] for d in done.value.differences]
    with database(app) as session:
        assert session.get(Visit, visit_id).outcome == "refused"
        assert session.get(Household, household_id).phone != "0599777666"


def test_a_reassigned_visit_is_a_conflict_for_the_previous_case_manager(app: Flask, clock: Clock) -> None:
    with database(app) as session:
        household_id = add_household(session, clock, "RBH", "active")
    campaign_id, _seen = campaign(app, clock, ["RBH"])
    with database(app) as session:
        visit = visit_of(session, campaign_id, household_id)
        visit_id = visit.id
        other = User(username="casemanager3", full_name="Other", role="case_manager", password_hash="x",
                     directorate_id=visit.directorate_id)
        session.add(other)
        session.flush()
        visit.case_manager_id, visit.lock_version = other.id, 2
        session.commit()
    with pytest.raises(services.VisitConflict) as moved:
        complete(app, clock, visit_id, "refused", base_version=1)
    assert [d["kind"] for d in moved.value.differences] == ["reassigned"]
    with pytest.raises(services.VisitConflict):  # also from the version after the reassignment: not theirs
        complete(app, clock, visit_id, "refused", base_version=2)
    complete(app, clock, visit_id, "refused", username="casemanager3", base_version=2)


def test_another_directorates_visit_does_not_exist_for_its_staff(app: Flask, clock: Clock) -> None:
    with database(app) as session:
        household_id = add_household(session, clock, "RBH", "active")
    campaign_id, _seen = campaign(app, clock, ["RBH"])
    with database(app) as session:
        visit_id = visit_of(session, campaign_id, household_id).id
        for username in ("casemanager2", "supervisor2", "reception1"):
            with pytest.raises(NotFoundForActor):
                services.visit_for_actor(session, actor=user(session, username), visit_id=visit_id)
        assert services.visit_for_actor(session, actor=user(session, "supervisor1"), visit_id=visit_id).id == visit_id
        assert services.visit_for_actor(session, actor=user(session, "admin"), visit_id=visit_id).id == visit_id
    with pytest.raises(NotFoundForActor):
        complete(app, clock, visit_id, "refused", username="casemanager2")
    with database(app) as session:
        assert session.get(Visit, visit_id).outcome is None
        assert session.scalar(select(func.count(TaskRecord.id)).where(
            TaskRecord.state == TaskState.READY.value, TaskRecord.scope.like("visits:%"))) == 0
        assert session.scalar(select(func.count(Person.id))) > 0

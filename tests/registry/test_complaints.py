"""Complaints as the registry keeps them: filing three ways, following, who may handle them, escalation by timers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from engine.models import TaskRecord, TaskState
from registry.auth import hash_password
from registry.complaints import services
from registry.complaints.models import Complaint
from registry.models import AuditEvent, Directorate, Role, User
from tests.conftest import Api, Clock
from tests.registry.test_citizen_status import Household, citizen_for

BOTH_DATABASES = pytest.mark.parametrize("database_url", ["sqlite", "postgresql"], indirect=True)
RESOLUTION = {"findings": "The file was waiting for a signature.", "outcome": "upheld",
              "resolution": "Your file was delayed by a missing signature. It is signed now and moves on this week."}


@contextmanager
def database(app: Flask) -> Iterator[Session]:
    with app.app_context():
        from webui.db import db_session

        yield db_session()


def user(session: Session, username: str) -> User:
    found = session.scalar(select(User).where(User.username == username))
    assert found is not None
    return found


def add_handler(app: Flask, username: str = "complaints2") -> int:
    """A second complaints handler of Ramallah (the seeded one is complaints1)."""
    with database(app) as session:
        rbh = session.scalar(select(Directorate).where(Directorate.code == "RBH"))
        assert rbh is not None
        staff = User(username=username, full_name="Second Handler", role=Role.COMPLAINTS_HANDLER.value,
                     directorate_id=rbh.id, password_hash=hash_password("demo"), is_demo=True)
        session.add(staff)
        session.commit()
        return staff.id


def file(app: Flask, clock: Clock, **kwargs: Any) -> services.Filed:
    from webui.db import library

    with database(app) as session:
        for role in ("staff",):
            if isinstance(kwargs.get(role), str):
                kwargs[role] = user(session, kwargs[role])
        kwargs.setdefault("lang", "en")
        filed = services.file_complaint(session, library=library(), now=clock.now, **kwargs)
        assert filed.complaint.directorate is not None  # loaded while the session is open
        return filed


def ready(app: Flask, reference: str) -> list[TaskRecord]:
    with database(app) as session:
        return list(session.scalars(select(TaskRecord).where(TaskRecord.business_key == reference,
                                                             TaskRecord.state == TaskState.READY.value)))


def do(app: Flask, clock: Clock, username: str, reference: str, data: dict[str, Any]) -> Complaint:
    from webui.db import library

    task = ready(app, reference)[0]
    with database(app) as session:
        return services.complete_task(session, actor=user(session, username), library=library(), reference=reference,
                                      task_id=task.id, data=data, now=clock.now)


def open_tasks(app: Flask, username: str) -> list[str]:
    with database(app) as session:
        return [c.reference for _t, c in services.open_tasks(session, actor=user(session, username))]


def test_an_anonymous_complaint_is_followed_with_its_code_only(app: Flask, clock: Clock) -> None:
    filed = file(app, clock, kind="delay", text="Nobody called me back for three months.", directorate_code="RBH")
    assert filed.code and len(filed.code) == services.CODE_LENGTH
    assert filed.complaint.reference.startswith("CMP-") and filed.complaint.access_code_hash != filed.code
    with database(app) as session:
        progress = services.follow(session, reference=filed.complaint.reference.lower().replace("-", " "),
                                   code=filed.code.lower())
        assert progress.status == "received" and progress.due_at == clock.now + dt.timedelta(days=2)
        with pytest.raises(NotFoundForActor) as wrong:
            services.follow(session, reference=filed.complaint.reference, code="WRONGCODE")
        with pytest.raises(NotFoundForActor) as unknown:
            services.follow(session, reference="CMP-2222-3333", code=filed.code)
        assert str(wrong.value) == str(unknown.value)  # nothing tells a wrong code from an unknown reference
    assert [t.spec_id for t in ready(app, filed.complaint.reference)] == ["acknowledge_complaint"]
    assert [t.scope for t in ready(app, filed.complaint.reference)] == ["complaints:RBH"]
    assert filed.complaint.reference in open_tasks(app, "complaints1")
    assert open_tasks(app, "complaints1") and not open_tasks(app, "reception1")


def test_a_signed_in_citizen_files_about_their_case_and_the_case_history_shows_it(
        app: Flask, api: Callable[[str], Api], clock: Clock) -> None:
    household = Household(app, api).register()
    with database(app) as session:
        from registry.citizens.models import Citizen

        citizen = session.get(Citizen, household.citizen_id)
        filed = services.file_complaint(session, library=_library(), now=clock.now, kind="decision", lang="ar",
                                        text="I do not understand the decision.", citizen=citizen,
                                        case_reference=household.reference)
        assert filed.code is None  # followed in the portal, not by code
        assert filed.complaint.case_id == household.case_id and filed.complaint.citizen_id == citizen.id
        assert filed.complaint.directorate.code == "RBH"
        history = session.scalars(select(AuditEvent).where(AuditEvent.case_id == household.case_id,
                                                           AuditEvent.action == "complaint_filed")).all()
        assert [e.details["reference"] for e in history] == [filed.complaint.reference]
        mine = services.complaints_of_citizen(session, citizen=citizen)
        assert [p.complaint.reference for p in mine] == [filed.complaint.reference]
    other = citizen_for(app, _another_id())
    with database(app) as session:
        from registry.citizens.models import Citizen

        stranger = session.get(Citizen, other)
        assert stranger is not None
        with pytest.raises(NotFoundForActor):
            services.complaint_of_citizen(session, citizen=stranger, reference=filed.complaint.reference)
        with pytest.raises(FormInvalid) as refused:  # nor may they file about another household's case
            services.file_complaint(session, library=_library(), now=clock.now, kind="decision", lang="ar",
                                    text="x", citizen=stranger, case_reference=household.reference)
        assert refused.value.errors == {"case_reference": ["unknown_case"]}


def _another_id() -> str:
    from tests.factories import national_id

    return national_id()


def _library() -> Any:
    from webui.db import library

    return library()


def test_staff_file_on_behalf_and_the_citizen_gets_a_code(app: Flask, clock: Clock) -> None:
    filed = file(app, clock, kind="delay", text="Citizen says the visit never happened.", staff="reception1",
                 contact_mobile="0599111222")
    assert filed.code is not None and filed.complaint.filed_by_id is not None
    assert filed.complaint.channel == "staff" and filed.complaint.directorate.code == "RBH"
    with database(app) as session:
        from registry.notifications import OutboxMessage

        sent = session.scalars(select(OutboxMessage.template).where(
            OutboxMessage.business_key == filed.complaint.reference)).all()
        assert sorted(sent) == ["complaint_follow_up_code", "complaint_received"]


def test_bad_complaints_are_refused_and_nothing_is_stored(app: Flask, clock: Clock) -> None:
    with pytest.raises(FormInvalid) as refused:
        file(app, clock, kind="weather", text="  ", directorate_code="NOPE", contact_mobile="call me")
    assert set(refused.value.errors) == {"kind", "text", "directorate", "contact_mobile"}
    with database(app) as session:
        assert session.scalars(select(Complaint)).all() == []


@BOTH_DATABASES
def test_a_complaint_about_a_staff_member_never_reaches_them(app: Flask, clock: Clock) -> None:
    subject_id = add_handler(app)
    filed = file(app, clock, kind="staff", text="He shouted at me.", staff="reception1", about_user_id=subject_id)
    reference = filed.complaint.reference
    assert filed.complaint.about_user_id == subject_id
    assert reference not in open_tasks(app, "complaints2") and reference in open_tasks(app, "complaints1")
    with database(app) as session:
        subject = user(session, "complaints2")
        with pytest.raises(NotFoundForActor):
            services.staff_view(session, actor=subject, reference=reference)
        assert reference not in [p.complaint.reference for p in
                                 services.complaint_list(session, actor=subject).items]
    with pytest.raises(NotFoundForActor):
        do(app, clock, "complaints2", reference, {"acknowledgement": "Seen."})
    assert [t.spec_id for t in ready(app, reference)] == ["acknowledge_complaint"]  # nothing changed
    complaint = do(app, clock, "complaints1", reference, {"acknowledgement": "We are looking into it."})
    assert complaint.status == "acknowledged"


def test_handling_acknowledges_and_resolves_in_plain_words(app: Flask, clock: Clock) -> None:
    filed = file(app, clock, kind="delay", text="Three months without an answer.", directorate_code="RBH")
    reference = filed.complaint.reference
    do(app, clock, "complaints1", reference, {"acknowledgement": "We received it and will answer within two weeks."})
    with pytest.raises(FormInvalid):
        do(app, clock, "complaints1", reference, {"findings": "x", "outcome": "upheld"})  # no resolution text
    complaint = do(app, clock, "complaints1", reference, RESOLUTION)
    assert complaint.status == "resolved" and complaint.resolution_text == RESOLUTION["resolution"]
    with database(app) as session:
        progress = services.follow(session, reference=reference, code=filed.code or "")
        assert progress.status == "resolved" and progress.complaint.outcome == "upheld"
    assert ready(app, reference) == []


@BOTH_DATABASES
def test_an_overdue_complaint_escalates_to_the_supervisor_then_to_the_complaints_unit(
        app: Flask, clock: Clock) -> None:
    from registry.worker import run_once

    filed = file(app, clock, kind="delay", text="Nobody answers.", directorate_code="RBH")
    reference = filed.complaint.reference
    sessions = app.extensions["sessionmaker"]
    with app.app_context():
        run_once(sessions, now=clock.now + dt.timedelta(days=1), library=_library())
    assert [t.spec_id for t in ready(app, reference)] == ["acknowledge_complaint"]  # not yet due
    clock.advance(days=2, minutes=1)
    with app.app_context():
        run_once(sessions, now=clock.now, library=_library())
    assert [t.spec_id for t in ready(app, reference)] == ["resolve_escalated_complaint"]
    assert reference in open_tasks(app, "supervisor1") and reference not in open_tasks(app, "complaints1")
    assert reference not in open_tasks(app, "supervisor2")  # another directorate's supervisor
    with database(app) as session:
        assert services.follow(session, reference=reference, code=filed.code or "").status == "escalated"
    clock.advance(days=5, minutes=1)
    with app.app_context():
        run_once(sessions, now=clock.now, library=_library())
    assert [t.spec_id for t in ready(app, reference)] == ["resolve_complaint_centrally"]
    assert reference in open_tasks(app, "complaintsunit") and reference not in open_tasks(app, "supervisor1")
    complaint = do(app, clock, "complaintsunit", reference, RESOLUTION)
    assert complaint.status == "resolved" and ready(app, reference) == []

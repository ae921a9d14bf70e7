"""Deployed versions: one per content, specs stored once, running cases stay on theirs."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from engine.library import Library, deploy
from engine.models import ProcessInstance, ProcessVersion
from registry import cases
from registry.models import User
from tests.conftest import Clock
from tests.factories import registration
from webui.db import db_session


def test_changed_files_deploy_a_new_version_and_running_cases_keep_theirs(app: Flask, clock: Clock,
                                                                          editable_library: Library) -> None:
    library = editable_library
    with app.app_context():
        session = db_session()
        first = deploy(session, library, "case_management")
        assert deploy(session, library, "case_management").id == first.id  # same content, same version
        reception = session.scalar(select(User).where(User.username == "reception1"))
        old_case = cases.start_registration(session, actor=reception, library=library, now=clock())

        bpmn = library.processes_dir / "case_management.bpmn"
        text = bpmn.read_text(encoding="utf-8")
        bpmn.write_text(text.replace('name="dueIn" value="P2D"', 'name="dueIn" value="P1D"'), encoding="utf-8")
        # Edited files are a draft: a case opened before they are deployed starts on the deployed version.
        draft_case = cases.start_registration(session, actor=reception, library=library, now=clock())
        assert session.get(ProcessInstance, draft_case.instance_id).process_version_id == first.id
        deploy(session, library, "case_management")
        new_case = cases.start_registration(session, actor=reception, library=library, now=clock())
        versions = session.scalars(select(ProcessVersion).where(ProcessVersion.process_id == "case_management")
                                   .order_by(ProcessVersion.version)).all()
        assert [v.version for v in versions] == [1, 2]
        assert session.scalar(select(func.count(ProcessVersion.id))
                              .where(ProcessVersion.process_id == "case_management")) == 2

        instances = {c.id: session.get(ProcessInstance, c.instance_id) for c in (old_case, new_case)}
        assert instances[old_case.id].process_version_id == versions[0].id
        assert instances[new_case.id].process_version_id == versions[1].id
        assert '"spec"' not in instances[old_case.id].state  # the spec lives once, on the version row

        due = {}
        for case in (old_case, new_case):
            task = cases.first_task_for(session, actor=reception, case_id=case.id)
            assert task is not None
            due[case.id] = task.due_at - clock()
        assert (due[old_case.id].days, due[new_case.id].days) == (2, 1)
        # The old case goes on under version 1.
        task = cases.first_task_for(session, actor=reception, case_id=old_case.id)
        ready = cases.complete_task(session, actor=reception, library=library, task_id=task.id,
                                    data=registration(), now=clock()).next_tasks
        assert [r.spec_id for r in ready] == ["recommend_eligibility"]


def test_a_running_case_keeps_the_forms_of_its_version(app: Flask, clock: Clock, editable_library: Library) -> None:
    from engine.runtime import form_for

    library = editable_library
    with app.app_context():
        session = db_session()
        reception = session.scalar(select(User).where(User.username == "reception1"))
        old_case = cases.start_registration(session, actor=reception, library=library, now=clock())
        form = library.forms_dir / "registration.yaml"
        form.write_text(form.read_text(encoding="utf-8").replace("Reasons for the request", "Why the household asks"),
                        encoding="utf-8")
        deploy(session, library, "case_management")
        new_case = cases.start_registration(session, actor=reception, library=library, now=clock())
        labels = {}
        for case in (old_case, new_case):
            task = cases.first_task_for(session, actor=reception, case_id=case.id)
            assert task is not None
            definition = form_for(session, library, task)
            labels[case.id] = next(f.label["en"] for f in definition.fields if f.name == "reasons")
        assert labels == {old_case.id: "Reasons for the request", new_case.id: "Why the household asks"}
        assert session.scalar(select(func.count(ProcessVersion.id))
                              .where(ProcessVersion.process_id == "case_management")) == 2

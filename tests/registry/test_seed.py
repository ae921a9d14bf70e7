"""The demo data `make run` loads: users of every role, households at different stages, idempotent."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from registry.models import Case, User
from webui.db import db_session


def test_seed_loads_cases_at_different_stages_once(app: Flask) -> None:
    runner = app.test_cli_runner()
    first = runner.invoke(args=["seed"])
    assert first.exit_code == 0, first.output
    assert "demo household 6/6" in first.output
    second = runner.invoke(args=["seed"])
    assert "already there" in second.output
    with app.app_context():
        session = db_session()
        stages = {(c.directorate.code, c.stage) for c in session.scalars(select(Case))}
        roles = {(u.role, u.directorate.code if u.directorate else None) for u in session.scalars(select(User))}
    assert stages == {("RBH", "implementation"), ("RBH", "assessment"), ("RBH", "eligibility"),
                      ("RBH", "registration"), ("HBN", "eligibility"), ("HBN", "registration")}
    assert {("reception", "RBH"), ("supervisor", "RBH"), ("case_manager", "RBH"), ("reception", "HBN"),
            ("supervisor", "HBN"), ("case_manager", "HBN"), ("analyst", None), ("admin", None)} <= roles
    logins = runner.invoke(args=["print-logins"])
    assert "reception1" in logins.output and "password: demo" in logins.output

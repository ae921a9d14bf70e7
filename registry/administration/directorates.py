"""Directorates: list with what each holds, create, rename, move to another governorate, delete when empty."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.orm import Session

from engine.db import Base
from engine.errors import FormInvalid, NotFoundForActor
from registry.administration.common import audit, require_admin, text, unit_of_work
from registry.administration.errors import AdministrationRefused
from registry.models import Case, Directorate, User
from registry.operations import governorates

CODE = re.compile(r"^[A-Z]{2,16}$")


@dataclass(frozen=True)
class DirectorateRow:
    directorate: Directorate
    users: int
    cases: int


def _snapshot(directorate: Directorate) -> dict[str, Any]:
    return {"code": directorate.code, "name_en": directorate.name_en, "name_ar": directorate.name_ar,
            "governorate": directorate.governorate_code}


def list_directorates(session: Session, *, actor: User) -> list[DirectorateRow]:
    require_admin(actor)
    users = {key: count for key, count in session.execute(
        select(User.directorate_id, func.count(User.id)).group_by(User.directorate_id)).tuples()}
    cases = {key: count for key, count in session.execute(
        select(Case.directorate_id, func.count(Case.id)).group_by(Case.directorate_id)).tuples()}
    return [DirectorateRow(d, users.get(d.id, 0), cases.get(d.id, 0))
            for d in session.scalars(select(Directorate).order_by(Directorate.code))]


def get_directorate(session: Session, *, actor: User, directorate_id: int) -> Directorate:
    require_admin(actor)
    directorate = session.get(Directorate, directorate_id)
    if directorate is None:
        raise NotFoundForActor(f"directorate {directorate_id}")
    return directorate


def _names(name_ar: object, name_en: object, governorate_code: object) -> tuple[str, str, str]:
    errors: dict[str, list[str]] = {}
    arabic, code = text(name_ar, limit=120)
    if code:
        errors["name_ar"] = [code]
    english, code = text(name_en, limit=120)
    if code:
        errors["name_en"] = [code]
    if governorate_code not in {c for c, _ in governorates()}:
        errors["governorate"] = ["required" if not governorate_code else "unknown_choice"]
    if errors:
        raise FormInvalid(errors)
    assert arabic and english and isinstance(governorate_code, str)
    return arabic, english, governorate_code


def create_directorate(session: Session, *, actor: User, code: object, name_ar: object, name_en: object,
                       governorate_code: object, now: dt.datetime) -> Directorate:
    """A new directorate, audited. Raises FormInvalid (nothing stored)."""
    require_admin(actor)
    cleaned = code.strip().upper() if isinstance(code, str) else ""
    problem = None
    if not cleaned:
        problem = "required"
    elif not CODE.match(cleaned):
        problem = "directorate_code_format"
    elif session.scalar(select(Directorate.id).where(Directorate.code == cleaned)) is not None:
        problem = "directorate_code_taken"
    try:
        arabic, english, governorate = _names(name_ar, name_en, governorate_code)
    except FormInvalid as err:
        raise FormInvalid({**({"code": [problem]} if problem else {}), **err.errors}) from None
    if problem:
        raise FormInvalid({"code": [problem]})
    with unit_of_work(session):
        directorate = Directorate(code=cleaned, name_ar=arabic, name_en=english, governorate_code=governorate)
        session.add(directorate)
        session.flush()
        audit(session, actor=actor, action="directorate_created", now=now, directorate=cleaned,
              before=None, after=_snapshot(directorate))
    return directorate


def change_directorate(session: Session, *, actor: User, directorate_id: int, name_ar: object, name_en: object,
                       governorate_code: object, now: dt.datetime) -> Directorate:
    """New names or governorate (the code, which scopes every case and task, stays). Raises FormInvalid."""
    directorate = get_directorate(session, actor=actor, directorate_id=directorate_id)
    arabic, english, governorate = _names(name_ar, name_en, governorate_code)
    before = _snapshot(directorate)
    if (arabic, english, governorate) == (directorate.name_ar, directorate.name_en, directorate.governorate_code):
        return directorate
    with unit_of_work(session):
        directorate.name_ar, directorate.name_en, directorate.governorate_code = arabic, english, governorate
        audit(session, actor=actor, action="directorate_changed", now=now, directorate=directorate.code,
              before=before, after=_snapshot(directorate))
    return directorate


def _rows_pointing_at(session: Session, directorate_id: int) -> int:
    """How many rows of any table name this directorate (cases, users, households, campaigns...)."""
    target = Directorate.__table__
    total = 0
    for table in Base.metadata.sorted_tables:
        assert isinstance(table, Table)
        for fk in table.foreign_keys:
            if fk.column.table is target and fk.parent.table is table:
                total += session.scalar(select(func.count()).select_from(table)
                                        .where(fk.parent == directorate_id)) or 0
    return total


def delete_directorate(session: Session, *, actor: User, directorate_id: int, now: dt.datetime) -> None:
    """Remove a directorate nothing refers to; one with users, cases or any other record is refused."""
    directorate = get_directorate(session, actor=actor, directorate_id=directorate_id)
    if _rows_pointing_at(session, directorate.id):
        raise AdministrationRefused("directorate_in_use")
    with unit_of_work(session):
        before = _snapshot(directorate)
        session.delete(directorate)
        audit(session, actor=actor, action="directorate_deleted", now=now, directorate=before["code"],
              before=before, after=None)

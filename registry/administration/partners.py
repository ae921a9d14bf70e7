"""Partner organisations and their users, through the referrals' model (registry.referrals.models).

Deactivating an organisation deactivates its users too: their sessions and API tokens end in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from engine.forms import load_form
from engine.library import Library
from registry.administration import accounts
from registry.administration.common import audit, require_admin, text, unit_of_work
from registry.administration.errors import AdministrationRefused
from registry.auth import end_sessions_and_tokens, hash_password
from registry.models import Role, User
from registry.referrals.models import PartnerKind, PartnerOrganisation

CODE = re.compile(r"^[A-Z][A-Z0-9-]{1,15}$")
KINDS = tuple(kind.value for kind in PartnerKind)
#: The plan's form, whose intervention areas are the services a partner may deliver.
PLAN_FORM, INTERVENTIONS, AREA = "assistance_plan", "interventions", "area"


@dataclass(frozen=True)
class PartnerRow:
    partner: PartnerOrganisation
    users: int


def service_choices(library: Library) -> list[tuple[str, dict[str, str]]]:
    """The intervention areas of the plan (forms/assistance_plan.yaml), with their labels."""
    form = load_form(library.forms_dir, PLAN_FORM)
    for group in form.fields:
        if group.name == INTERVENTIONS:
            for field in group.fields:
                if field.name == AREA:
                    return [(c.value, c.label) for c in field.choices]
    return []


def _snapshot(partner: PartnerOrganisation) -> dict[str, Any]:
    return {"code": partner.code, "name_en": partner.name_en, "name_ar": partner.name_ar, "kind": partner.kind,
            "services": list(partner.services or []), "active": partner.active}


def list_partners(session: Session, *, actor: User) -> list[PartnerRow]:
    require_admin(actor)
    users = {key: count for key, count in session.execute(
        select(User.partner_id, func.count(User.id)).where(User.active.is_(True)).group_by(User.partner_id))
        .tuples()}
    return [PartnerRow(p, users.get(p.id, 0))
            for p in session.scalars(select(PartnerOrganisation).order_by(PartnerOrganisation.code))]


def get_partner(session: Session, *, actor: User, partner_id: int) -> PartnerOrganisation:
    require_admin(actor)
    partner = session.get(PartnerOrganisation, partner_id)
    if partner is None:
        raise NotFoundForActor(f"partner {partner_id}")
    return partner


def partner_users(session: Session, *, actor: User, partner_id: int) -> list[User]:
    partner = get_partner(session, actor=actor, partner_id=partner_id)
    return list(session.scalars(select(User).where(User.partner_id == partner.id).order_by(User.username)))


def _details(name_ar: object, name_en: object, kind: object, services: object,
             known_services: list[str], errors: dict[str, list[str]]) -> tuple[str, str, str, list[str]]:
    arabic, code = text(name_ar, limit=200)
    if code:
        errors["name_ar"] = [code]
    english, code = text(name_en, limit=200)
    if code:
        errors["name_en"] = [code]
    if kind not in KINDS:
        errors["kind"] = ["unknown_choice" if kind else "required"]
    chosen = [s for s in services if isinstance(s, str)] if isinstance(services, list | tuple) else []
    if not chosen:
        errors["services"] = ["required"]
    elif any(s not in known_services for s in chosen):
        errors["services"] = ["unknown_choice"]
    return arabic or "", english or "", str(kind), sorted(set(chosen), key=known_services.index) if not errors.get(
        "services") else []


def create_partner(session: Session, *, actor: User, code: object, name_ar: object, name_en: object, kind: object,
                   services: object, known_services: list[str], now: dt.datetime) -> PartnerOrganisation:
    """A new partner organisation, audited. Raises FormInvalid (nothing stored)."""
    require_admin(actor)
    errors: dict[str, list[str]] = {}
    cleaned = code.strip().upper() if isinstance(code, str) else ""
    if not cleaned:
        errors["code"] = ["required"]
    elif not CODE.match(cleaned):
        errors["code"] = ["partner_code_format"]
    elif session.scalar(select(PartnerOrganisation.id).where(PartnerOrganisation.code == cleaned)) is not None:
        errors["code"] = ["partner_code_taken"]
    arabic, english, chosen_kind, chosen = _details(name_ar, name_en, kind, services, known_services, errors)
    if errors:
        raise FormInvalid(errors)
    with unit_of_work(session):
        partner = PartnerOrganisation(code=cleaned, name_ar=arabic, name_en=english, kind=chosen_kind,
                                      services=chosen, active=True, created_at=now)
        session.add(partner)
        session.flush()
        audit(session, actor=actor, action="partner_created", now=now, partner=cleaned, before=None,
              after=_snapshot(partner))
    return partner


def change_partner(session: Session, *, actor: User, partner_id: int, name_ar: object, name_en: object,
                   kind: object, services: object, known_services: list[str], now: dt.datetime) -> PartnerOrganisation:
    """New names, kind or services (the code, which scopes its referral tasks, stays). Raises FormInvalid."""
    partner = get_partner(session, actor=actor, partner_id=partner_id)
    errors: dict[str, list[str]] = {}
    arabic, english, chosen_kind, chosen = _details(name_ar, name_en, kind, services, known_services, errors)
    if errors:
        raise FormInvalid(errors)
    before = _snapshot(partner)
    with unit_of_work(session):
        partner.name_ar, partner.name_en, partner.kind, partner.services = arabic, english, chosen_kind, chosen
        if _snapshot(partner) != before:
            audit(session, actor=actor, action="partner_changed", now=now, partner=partner.code, before=before,
                  after=_snapshot(partner))
    return partner


def deactivate_partner(session: Session, *, actor: User, partner_id: int, now: dt.datetime) -> list[str]:
    """No new referrals to it, and its users deactivated: their sessions and tokens end now. Their usernames."""
    partner = get_partner(session, actor=actor, partner_id=partner_id)
    if not partner.active:
        return []
    with unit_of_work(session):
        before = _snapshot(partner)
        partner.active = False
        ended = []
        for user in session.scalars(select(User).where(User.partner_id == partner.id, User.active.is_(True))):
            user.active, user.deactivated_at = False, now
            end_sessions_and_tokens(session, user=user, now=now)
            ended.append(user.username)
        audit(session, actor=actor, action="partner_deactivated", now=now, partner=partner.code, before=before,
              after=_snapshot(partner), users_deactivated=ended)
    return ended


def reactivate_partner(session: Session, *, actor: User, partner_id: int, now: dt.datetime) -> None:
    """The organisation receives referrals again; its users are reactivated one by one, as needed."""
    partner = get_partner(session, actor=actor, partner_id=partner_id)
    if partner.active:
        return
    with unit_of_work(session):
        before = _snapshot(partner)
        partner.active = True
        audit(session, actor=actor, action="partner_reactivated", now=now, partner=partner.code, before=before,
              after=_snapshot(partner))


def create_partner_user(session: Session, *, actor: User, partner_id: int, username: object, full_name: object,
                        full_name_ar: object, password: object, now: dt.datetime) -> tuple[User, str | None]:
    """A user of an active partner organisation (role ``partner``); the password as for staff accounts."""
    partner = get_partner(session, actor=actor, partner_id=partner_id)
    if not partner.active:
        raise AdministrationRefused("partner_inactive")
    errors: dict[str, list[str]] = {}
    name = accounts.check_username(session, username, errors)
    english, code = text(full_name, limit=150)
    if code:
        errors["full_name"] = [code]
    arabic, code = text(full_name_ar, limit=150)
    if code:
        errors["full_name_ar"] = [code]
    given = accounts.check_password(password, errors)
    if errors:
        raise FormInvalid(errors)
    generated = None if given is not None else accounts.generate_password()
    with unit_of_work(session):
        user = User(username=name, full_name=english, full_name_ar=arabic, role=Role.PARTNER.value,
                    partner_id=partner.id, password_hash=hash_password(given or generated or ""), is_demo=False,
                    active=True, created_at=now, must_change_password=True)
        session.add(user)
        session.flush()
        audit(session, actor=actor, action="user_created", now=now, user=user.username, user_id=user.id,
              before=None, after=accounts.snapshot(user))
    return user, generated

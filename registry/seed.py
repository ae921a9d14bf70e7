"""Reference data and demo data: directorates, staff of every role, households at different stages.

Demo cases are moved through the real process with the real services, so what the demo shows
is exactly what staff would have produced.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import utcnow
from engine.deployments import latest_version
from engine.library import Library
from registry import cases, process_catalogue
from registry.auth import DEMO_PASSWORD, hash_password
from registry.cases import CASE_PROCESS
from registry.models import Case, Directorate, Role, User

DATA_DIR = Path(__file__).resolve().parent.parent / "data"

DEMO_USERS = [
    ("reception1", "Lina Haddad", "لينا حداد", Role.RECEPTION, "RBH"),
    ("supervisor1", "Omar Khalil", "عمر خليل", Role.SUPERVISOR, "RBH"),
    ("casemanager1", "Rania Saleh", "رانيا صالح", Role.CASE_MANAGER, "RBH"),
    ("reception2", "Yousef Amro", "يوسف عمرو", Role.RECEPTION, "HBN"),
    ("supervisor2", "Huda Tamimi", "هدى التميمي", Role.SUPERVISOR, "HBN"),
    ("casemanager2", "Sami Qawasmi", "سامي القواسمي", Role.CASE_MANAGER, "HBN"),
    ("complaints1", "Mona Awad", "منى عوض", Role.COMPLAINTS_HANDLER, "RBH"),
    # The ministry's complaints unit has no directorate: it sees every directorate's complaints.
    ("complaintsunit", "Khaled Nasser", "خالد ناصر", Role.COMPLAINTS_UNIT, None),
    ("analyst", "Nadia Barghouti", "نادية البرغوثي", Role.ANALYST, None),
    ("admin", "System administrator", "مدير النظام", Role.ADMIN, None),
]

DEMO_LOGINS = [
    ("reception1", "reception, Ramallah and al-Bireh"),
    ("supervisor1", "supervisor, Ramallah and al-Bireh"),
    ("casemanager1", "case manager, Ramallah and al-Bireh"),
    ("reception2", "reception, Hebron"),
    ("supervisor2", "supervisor, Hebron"),
    ("casemanager2", "case manager, Hebron"),
    ("complaints1", "complaints handler, Ramallah and al-Bireh"),
    ("complaintsunit", "ministry complaints unit"),
    ("partner_moh", "partner: Ministry of Health (referrals)"),
    ("partner_ngo", "partner: women's empowerment NGO (referrals)"),
    ("analyst", "process analyst"),
    ("admin", "administrator"),
]


#: A confirmed portal account (password: demo, demo mode only) of the head of the first demo household.
DEMO_CITIZEN = ("895160174", "0599123456")


def seed_reference(session: Session) -> None:
    """The directorates (one per governorate; the full official list is reference data to extend)."""
    existing = set(session.scalars(select(Directorate.code)))
    with open(DATA_DIR / "directorates.csv", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            if row["code"] not in existing:
                session.add(Directorate(**row))
    session.flush()


def seed_users(session: Session) -> None:
    """The demo staff; their password works only in demo mode."""
    directorates = {d.code: d for d in session.scalars(select(Directorate))}
    existing = set(session.scalars(select(User.username)))
    password_hash = hash_password(DEMO_PASSWORD)
    for username, name, name_ar, role, code in DEMO_USERS:
        if username in existing:
            continue
        session.add(User(username=username, full_name=name, full_name_ar=name_ar, role=role.value, is_demo=True,
                         directorate_id=directorates[code].id if code else None, password_hash=password_hash))
    session.flush()


def seed_citizen(session: Session, *, now: dt.datetime) -> None:
    """The demo citizen's portal account, confirmed; like the demo staff it logs in only in demo mode."""
    from registry.citizens.models import Citizen

    national_id, mobile = DEMO_CITIZEN
    if session.scalar(select(Citizen.id).where(Citizen.national_id == national_id)) is None:
        session.add(Citizen(national_id=national_id, mobile=mobile, password_hash=hash_password(DEMO_PASSWORD),
                            mobile_confirmed_at=now, lang="ar", active=True, session_generation=0, is_demo=True,
                            created_at=now))
    session.flush()


def _user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    assert user is not None
    return user


def advance(session: Session, *, library: Library, case_id: int, username: str, data: dict[str, Any],
            now: dt.datetime) -> None:
    """Complete the case's ready task of this user's role, claiming it first."""
    user = _user(session, username)
    ready = cases.case_view(session, actor=user, case_id=case_id, history_per_page=0, submission_forms=()).ready
    task = next(t for t in ready if t.visible_to(role=user.role, scope=user.scope) and t.is_free_for(user.id))
    cases.complete_task(session, actor=user, library=library, task_id=task.id, data=data, now=now)


def registration_data(family: dict[str, Any]) -> dict[str, Any]:
    """A complete registration from a prefilled demo family plus what only the household can tell."""
    values = family["values"]
    members = values["members"]
    return {
        "consent_data_exchange": True,
        "head_national_id": members[0]["national_id"],
        "phone": "0599123456",
        "governorate": values["governorate"],
        "locality": values["locality"],
        "address": values.get("address"),
        "members": [{**m, "work": m.get("work") or ("unemployed" if m["relation"] == "head" else None)}
                    for m in members],
        "reasons": ["loss_of_income"],
        "reasons_details": "Lost work last year; rent is overdue.",
        "monthly_income": family.get("monthly_income", 900),
        "dwelling_type": "apartment", "dwelling_tenure": "rented", "rooms": 2,
        "damp_or_leaking": True, "water_source": "public_network", "sanitation": "public_sewer",
        "electricity": True, "cooking_fuel": "gas", "assets": ["refrigerator", "television"],
        "services_hard_to_reach": [], "unmet_medical_needs": True,
        "feels_unsafe": False, "violence_in_household": False, "movement_restricted": False,
    }


def seed_process(session: Session, *, library: Library, now: dt.datetime,
                 progress: Callable[[str], None] = lambda _message: None) -> None:
    """Deploy the process files when no version is deployed yet (`make run` deploys first; a bare seed itself)."""
    if latest_version(session, CASE_PROCESS) is None:
        deployed = process_catalogue.deploy_files(session, library=library, now=now).version
        progress(f"process {CASE_PROCESS}: version {deployed.version} deployed")


def seed_demo(session: Session, *, library: Library, progress: Callable[[str], None],
              sources: list[Any]) -> None:
    """Reference data, demo users, and a few demo households at different stages (idempotent)."""
    seed_reference(session)
    seed_users(session)
    from registry.referrals.seed import seed_partners

    seed_partners(session)
    from registry.interop.seed import seed_clients

    seed_clients(session, now=utcnow())  # partner systems of the SPDCI API; commits
    seed_citizen(session, now=utcnow())
    session.commit()
    progress("directorates, demo users and the demo citizen: ready")
    if session.scalar(select(Case.id).limit(1)) is not None:
        progress("demo households: already there")
        return
    now = utcnow()
    seed_process(session, library=library, now=now, progress=progress)
    for step, (national_id, reception, stage) in enumerate(DEMO_CASES, start=1):
        user = _user(session, reception)
        case = cases.begin_registration(session, actor=user, library=library, national_id=national_id, consent=True,
                                        now=now, sources=sources)
        _walk(session, library=library, case=case, reception=reception, stage=stage, sources=sources, now=now)
        progress(f"demo household {step}/{len(DEMO_CASES)}: {case.reference} ({stage})")
    progress("demo data: ready")


# (applicant, reception user, how far the demo case goes). 971748207 (Ramallah) and 927427062 (Hebron)
# stay unregistered for trying a registration; 123456782 is unknown to every ministry.
DEMO_CASES = [
    ("895160174", "reception1", "follow_up"),
    ("860489673", "reception1", "assessment"),
    ("039337423", "reception1", "review"),
    ("123456782", "reception1", "opened"),
    ("968654632", "reception2", "review"),
    ("893686139", "reception2", "opened"),
]
_ORDER = ["opened", "review", "assessment", "follow_up"]


def _typed_by_reception(national_id: str) -> dict[str, Any]:
    """A household that no ministry knows, as reception would type it in."""
    return {"governorate": "PS-RBH", "locality": "رام الله", "address": "حي الطيرة",
            "members": [
                {"national_id": national_id, "name_ar": "سلمى خليل ناصر", "name_latin": "Salma Nasser",
                 "relation": "head", "sex": "female", "birth_date": "1986-02-11", "marital_status": "widowed",
                 "disability": False, "chronic_illness": True, "health_insurance": False, "schooling": "basic",
                 "work": "unemployed"},
                {"national_id": "100000108", "name_ar": "ليان محمد ناصر", "relation": "daughter", "sex": "female",
                 "birth_date": "2014-06-01", "marital_status": "single", "schooling": "enrolled",
                 "work": "student", "health_insurance": False},
            ]}


def _walk(session: Session, *, library: Library, case: Case, reception: str, stage: str, sources: list[Any],
          now: dt.datetime) -> None:
    from registry.ministries import prefill_registration

    reached = _ORDER.index(stage)
    suffix = reception[-1]
    if reached >= _ORDER.index("review"):
        national_id = case.applicant_national_id or ""
        prefill = prefill_registration(national_id, sources=sources, today=now.date()).to_dict()
        if not prefill["values"].get("members"):  # no ministry knows this applicant: reception types it all
            prefill["values"] = _typed_by_reception(national_id)
        advance(session, library=library, case_id=case.id, username=reception, data=registration_data(prefill),
                now=now)
        advance(session, library=library, case_id=case.id, username=reception,
                data={"decision": "recommend_eligible", "recommendation_notes": "Deprived in several areas."},
                now=now)
    if reached >= _ORDER.index("assessment"):
        advance(session, library=library, case_id=case.id, username=f"supervisor{suffix}",
                data={"decision": "approve", "review_comments": "Documents complete."}, now=now)
    if reached >= _ORDER.index("follow_up"):
        manager = f"casemanager{suffix}"
        advance(session, library=library, case_id=case.id, username=manager, now=now, data={
            "visit_date": now.date().isoformat(), "needs_areas": ["health", "work", "education"],
            "needs_description": "The head is ill and out of work; the eldest son left school.",
            "household_resources": "The mother has sewing skills; relatives help with rent.",
            "risk_level": "medium", "another_visit_needed": False})
        end = now.date() + dt.timedelta(days=90)
        advance(session, library=library, case_id=case.id, username=manager, now=now, data={
            "goals": "Treatment for the head; the son back in school; a small sewing business.",
            "interventions": [
                {"description": "Monthly cash assistance", "area": "cash", "provider_type": "ministry",
                 "provider_name": "Cash Transfer Programme", "due_date": end.isoformat()},
                {"description": "Referral for treatment", "area": "health", "provider_type": "partner",
                 "provider_name": "Ministry of Health clinic", "partner": "MOH",
                 "note": "The mother prefers morning visits.", "due_date": end.isoformat()},
            ],
            "plan_start_date": now.date().isoformat(), "plan_end_date": end.isoformat(), "household_agreed": True})
        advance(session, library=library, case_id=case.id, username=f"supervisor{suffix}", now=now,
                data={"decision": "approve"})

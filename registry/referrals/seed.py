"""Demo partner organisations, each with one user (password: demo, demo mode only)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.auth import DEMO_PASSWORD, hash_password
from registry.models import Role, User
from registry.referrals.models import PartnerKind, PartnerOrganisation

# (code, English name, Arabic name, kind, services, user, user's name, user's Arabic name)
DEMO_PARTNERS = [
    ("MOH", "Ministry of Health, primary care", "وزارة الصحة، الرعاية الأولية", PartnerKind.MINISTRY,
     ["health", "psychosocial"], "partner_moh", "Dr. Samer Odeh", "د. سامر عودة"),
    ("NGO-EMP", "Women's Economic Empowerment Society", "جمعية التمكين الاقتصادي للمرأة", PartnerKind.NGO,
     ["empowerment", "education"], "partner_ngo", "Amal Darwish", "أمل درويش"),
]


def seed_partners(session: Session) -> None:
    """The demo partners and their users (idempotent)."""
    existing = {p.code: p for p in session.scalars(select(PartnerOrganisation))}
    usernames = set(session.scalars(select(User.username)))
    password_hash = hash_password(DEMO_PASSWORD)
    for code, name_en, name_ar, kind, services, username, full_name, full_name_ar in DEMO_PARTNERS:
        partner = existing.get(code)
        if partner is None:
            partner = PartnerOrganisation(code=code, name_en=name_en, name_ar=name_ar, kind=kind.value,
                                          services=services, active=True)
            session.add(partner)
            session.flush()
        if username not in usernames:
            session.add(User(username=username, full_name=full_name, full_name_ar=full_name_ar,
                             role=Role.PARTNER.value, partner_id=partner.id, is_demo=True,
                             password_hash=password_hash))
    session.flush()

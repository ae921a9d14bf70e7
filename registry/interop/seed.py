"""Demo partner systems (demo mode only): a cash-transfer programme and a referral partner."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.interop.clients import register_client
from registry.interop.models import InteropClient

# (client id, name, scopes, field groups, partner code, demo secret)
DEMO_CLIENTS = [
    ("cash-transfer", "Cash transfer programme (demo)", ["search", "subscribe", "txn_status"],
     ["identifiers", "names", "demographics", "members", "location", "eligibility_category", "programme"],
     None, "demo-cash-transfer-secret"),
    ("referral-moh", "Ministry of Health referrals (demo)", ["search", "txn_status"],
     ["identifiers", "names", "demographics", "contact", "location", "disability"], "MOH", "demo-referral-secret"),
]


def seed_clients(session: Session, *, now: dt.datetime) -> None:
    """The demo clients, with known secrets and a local callback URL (idempotent; commits)."""
    known = set(session.scalars(select(InteropClient.client_id)))
    for client_id, name, scopes, fields, partner, secret in DEMO_CLIENTS:
        if client_id not in known:
            register_client(session, client_id=client_id, name=name, scopes=scopes, fields=fields,
                            partner_code=partner, callback_url="http://127.0.0.1:8081", secret=secret, now=now)

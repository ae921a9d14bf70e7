"""The operations diagrams may call for referrals, and the partner choices forms may name."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from engine.catalog import OperationContext, register_choice_provider, register_operation
from engine.library import Library
from registry.models import Case
from registry.referrals import services
from registry.referrals.models import Referral, ReferralStatus

#: The organisation's calendar (as registry.operations): due dates of the referral's own tasks.
TIMEZONE = "Asia/Hebron"


def _library(context: OperationContext) -> Library:
    """The deployed files the running case uses (a referral starts on the latest deployed referral process)."""
    if context.rules_dir is None:
        raise LookupError("no deployed files for this step")
    root = Path(context.rules_dir).parent
    return Library(processes_dir=root / "processes", forms_dir=root / "forms", rules_dir=root / "rules",
                   timezone=TIMEZONE, versions_dir=root.parent)


def refer_interventions(context: OperationContext, interventions: Any = None, note: Any = None) -> list[str]:
    """One referral (and its process) per intervention of the approved plan that a named partner delivers.

    An intervention already referred to the same partner is not referred again (a plan approved twice).
    Returns the references of the referrals sent.
    """
    session = context.session
    case = session.get(Case, int(context.business_key))
    if case is None:
        raise LookupError(f"case {context.business_key} not found")
    sent: list[str] = []
    for item in interventions or []:
        if not isinstance(item, dict) or item.get("provider_type") != "partner":
            continue
        partner = services.partner_by_code(session, item.get("partner"))
        if partner is None:
            continue
        service, text = str(item.get("area") or ""), str(item.get("description") or "")
        if services.already_referred(session, case_id=case.id, partner_id=partner.id, service=service,
                                     intervention=text):
            continue
        own_note = str(item.get("note") or note or "").strip()
        referral = services.send_referral(session, library=_library(context), case=case, partner=partner,
                                          service=service, intervention=text, note=own_note or None,
                                          actor_id=context.actor_id, now=context.now,
                                          due_on=_date(item.get("due_date")))
        sent.append(referral.reference)
    return sent


def _date(value: Any) -> dt.date | None:
    """The plan's due date (a form date is ``yyyy-mm-dd`` text, or a date already)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def refer_again(context: OperationContext, partner: Any = None, note: Any = None) -> str | None:
    """A declined referral goes to another partner: a new referral carries on, this one is marked sent on."""
    session = context.session
    from sqlalchemy import select

    old = session.scalar(select(Referral).where(Referral.reference == context.business_key))
    target = services.partner_by_code(session, partner)
    if old is None or target is None:
        raise LookupError("no referral or partner to refer to")
    case = session.get(Case, old.case_id)
    assert case is not None
    old.status = ReferralStatus.REFERRED_ON.value
    new = services.send_referral(session, library=_library(context), case=case, partner=target,
                                 service=old.service, intervention=old.intervention,
                                 note=str(note).strip() if note else old.note, actor_id=context.actor_id,
                                 now=context.now, previous=old, due_on=old.plan_due_on)
    return new.reference


def register() -> None:
    register_operation("refer_interventions", refer_interventions)
    register_operation("refer_again", refer_again)
    register_choice_provider("partners", services.partner_choices)

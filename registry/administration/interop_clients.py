"""Partner systems of the SPDCI API (registry.interop) as administrators manage them: each change audited.

A secret is shown once when a client is added or its secret rotated; rotating or deactivating ends the
client's bearer tokens at once. The callback token (the partner's credential for its own endpoints) is
never shown back nor written to the audit trail: only whether one is kept.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from registry.administration.common import audit, require_admin, text, unit_of_work
from registry.interop.clients import end_tokens, new_client, replace_secret
from registry.interop.envelope import valid_public_key
from registry.interop.models import InteropClient, InteropRequest, Scope
from registry.interop.records import FIELD_GROUPS
from registry.models import User
from registry.referrals.models import PartnerOrganisation

CLIENT_ID = re.compile(r"^[a-z][a-z0-9._-]{1,63}$")
SCOPES = tuple(scope.value for scope in Scope)
FIELDS = tuple(sorted(FIELD_GROUPS))


@dataclass(frozen=True)
class ClientRow:
    client: InteropClient
    last_request: dt.datetime | None


def _snapshot(client: InteropClient) -> dict[str, Any]:
    return {"client_id": client.client_id, "name": client.name, "scopes": list(client.scopes),
            "fields": list(client.fields), "callback_url": client.callback_url, "active": client.active,
            "callback_token": bool(client.callback_token), "signed": bool(client.public_key)}


def list_clients(session: Session, *, actor: User) -> list[ClientRow]:
    require_admin(actor)
    last = dict(session.execute(select(InteropRequest.client_id, func.max(InteropRequest.at))
                                .where(InteropRequest.client_id.is_not(None))
                                .group_by(InteropRequest.client_id)).tuples().all())
    return [ClientRow(c, last.get(c.id))
            for c in session.scalars(select(InteropClient).order_by(InteropClient.client_id))]


def get_client(session: Session, *, actor: User, client_pk: int) -> InteropClient:
    require_admin(actor)
    client = session.get(InteropClient, client_pk)
    if client is None:
        raise NotFoundForActor(f"interop client {client_pk}")
    return client


def _grants(values: dict[str, Any], errors: dict[str, list[str]]) -> tuple[str, list[str], list[str], str | None]:
    """Name, scopes, field groups and callback URL from the form, with their errors."""
    name, code = text(values.get("name"), limit=200)
    if code:
        errors["name"] = [code]
    scopes, fields = values.get("scopes") or [], values.get("fields") or []
    if not scopes:
        errors["scopes"] = ["required"]
    elif any(s not in SCOPES for s in scopes):
        errors["scopes"] = ["unknown_choice"]
    if not fields:
        errors["fields"] = ["required"]
    elif any(f not in FIELDS for f in fields):
        errors["fields"] = ["unknown_choice"]
    url, code = text(values.get("callback_url"), limit=500, required=False)
    if code:
        errors["callback_url"] = [code]
    elif url and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
        errors["callback_url"] = ["callback_url_format"]
    token = values.get("callback_token")
    if isinstance(token, str) and token.strip() and (len(token.strip()) > 500 or any(c.isspace() for c in
                                                                                      token.strip())):
        errors["callback_token"] = ["callback_token_format"]
    return name or "", sorted(set(scopes)), sorted(set(fields)), (url or "").rstrip("/") or None


def create_client(session: Session, *, actor: User, values: dict[str, Any],
                  now: dt.datetime) -> tuple[InteropClient, str]:
    """A new partner system and its secret (to show once), audited. Raises FormInvalid (nothing stored)."""
    require_admin(actor)
    errors: dict[str, list[str]] = {}
    given = values.get("client_id")
    client_id = given.strip() if isinstance(given, str) else ""
    if not client_id:
        errors["client_id"] = ["required"]
    elif not CLIENT_ID.match(client_id):
        errors["client_id"] = ["client_id_format"]
    elif session.scalar(select(InteropClient.id).where(InteropClient.client_id == client_id)) is not None:
        errors["client_id"] = ["client_id_taken"]
    name, scopes, fields, url = _grants(values, errors)
    public_key = (values.get("public_key") or "").strip() or None
    if public_key and not valid_public_key(public_key):
        errors["public_key"] = ["public_key_invalid"]
    partner = (values.get("partner") or "").strip() or None
    if partner and session.scalar(select(PartnerOrganisation.id).where(PartnerOrganisation.code == partner)) is None:
        errors["partner"] = ["unknown_choice"]
    if errors:
        raise FormInvalid(errors)
    with unit_of_work(session):
        client, secret = new_client(session, client_id=client_id, name=name, scopes=scopes, fields=fields,
                                    callback_url=url, public_key=public_key, partner_code=partner,
                                    callback_token=(values.get("callback_token") or "").strip() or None, now=now)
        audit(session, actor=actor, action="interop_client_created", now=now, interop_client=client_id,
              before=None, after=_snapshot(client))
    return client, secret


def change_client(session: Session, *, actor: User, client_pk: int, values: dict[str, Any],
                  now: dt.datetime) -> InteropClient:
    """New name, scopes, field groups, callback URL or callback token (empty keeps it). Raises FormInvalid."""
    client = get_client(session, actor=actor, client_pk=client_pk)
    errors: dict[str, list[str]] = {}
    name, scopes, fields, url = _grants(values, errors)
    if errors:
        raise FormInvalid(errors)
    before = _snapshot(client)
    token = (values.get("callback_token") or "").strip()
    with unit_of_work(session):
        client.name, client.scopes, client.fields, client.callback_url = name, scopes, fields, url
        kept = token or (None if values.get("forget_callback_token") else client.callback_token)
        token_changed, client.callback_token = kept != client.callback_token, kept
        if _snapshot(client) != before or token_changed:
            audit(session, actor=actor, action="interop_client_changed", now=now, interop_client=client.client_id,
                  before=before, after={**_snapshot(client), "callback_token_replaced": token_changed})
    return client


def set_active(session: Session, *, actor: User, client_pk: int, active: bool, now: dt.datetime) -> InteropClient:
    """Deactivate (its tokens end now, nothing more is sent to it) or reactivate a client, audited."""
    client = get_client(session, actor=actor, client_pk=client_pk)
    if client.active == active:
        return client
    with unit_of_work(session):
        before = _snapshot(client)
        client.active = active
        if not active:
            end_tokens(session, client=client)
        audit(session, actor=actor, action="interop_client_reactivated" if active else "interop_client_deactivated",
              now=now, interop_client=client.client_id, before=before, after=_snapshot(client))
    return client


def rotate_secret(session: Session, *, actor: User, client_pk: int, now: dt.datetime) -> tuple[InteropClient, str]:
    """A new secret (to show once); the old secret and every token issued with it stop working. Audited."""
    client = get_client(session, actor=actor, client_pk=client_pk)
    with unit_of_work(session):
        secret = replace_secret(session, client=client)
        audit(session, actor=actor, action="interop_client_secret_rotated", now=now,
              interop_client=client.client_id, before=None, after=None)
    return client, secret

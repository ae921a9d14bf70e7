"""Registered partner systems: registration, client-credentials tokens, and every request they make on record."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from registry.auth import hash_password, verify_password
from registry.interop.envelope import valid_public_key
from registry.interop.models import InteropClient, InteropRequest, InteropToken, Scope
from registry.interop.records import FIELD_GROUPS
from registry.referrals.models import PartnerOrganisation

TOKEN_LIFETIME = dt.timedelta(hours=1)
_SUMMARY_LENGTH = 1000


class InvalidClient(Exception):  # noqa: N818  # named as OAuth2 names the answer (invalid_client)
    """Unknown client, wrong secret, or a client that was deactivated: one answer for all three."""


class ClientInvalid(ValueError):
    """A registration that cannot be kept (a duplicate id, an unknown scope or field group, a bad key)."""


def register_client(session: Session, *, client_id: str, name: str, scopes: Iterable[str], fields: Iterable[str],
                    callback_url: str | None = None, public_key: str | None = None, partner_code: str | None = None,
                    callback_token: str | None = None, secret: str | None = None, now: dt.datetime) -> str:
    """Register a partner system and commit; returns its secret, which is kept only as a hash."""
    _client, secret = new_client(session, client_id=client_id, name=name, scopes=scopes, fields=fields,
                                 callback_url=callback_url, public_key=public_key, partner_code=partner_code,
                                 callback_token=callback_token, secret=secret, now=now)
    session.commit()
    return secret


def new_client(session: Session, *, client_id: str, name: str, scopes: Iterable[str], fields: Iterable[str],
               callback_url: str | None = None, public_key: str | None = None, partner_code: str | None = None,
               callback_token: str | None = None, secret: str | None = None,
               now: dt.datetime) -> tuple[InteropClient, str]:
    """Add a partner system to the caller's transaction (flushed, not committed) and its secret."""
    scopes, fields = checked_grants(scopes, fields)
    if not client_id or len(client_id) > 64 or session.scalar(select(InteropClient.id).where(
            InteropClient.client_id == client_id)) is not None:
        raise ClientInvalid(f"client id {client_id!r} is empty, too long or already registered")
    if public_key and not valid_public_key(public_key):
        raise ClientInvalid("the public key must be a PEM Ed25519 or RSA public key")
    partner_id = None
    if partner_code:
        partner_id = session.scalar(select(PartnerOrganisation.id).where(PartnerOrganisation.code == partner_code))
        if partner_id is None:
            raise ClientInvalid(f"no partner organisation {partner_code!r}")
    secret = secret or new_secret()
    client = InteropClient(client_id=client_id, name=name, secret_hash=hash_password(secret), scopes=scopes,
                           fields=fields, partner_id=partner_id, public_key=public_key or None, active=True,
                           callback_url=(callback_url or "").rstrip("/") or None,
                           callback_token=callback_token or None, created_at=now)
    session.add(client)
    session.flush()
    return client, secret


def checked_grants(scopes: Iterable[str], fields: Iterable[str]) -> tuple[list[str], list[str]]:
    """Scopes and field groups sorted and without repeats; raises ClientInvalid on an unknown one."""
    scopes, fields = sorted(set(scopes)), sorted(set(fields))
    unknown = [s for s in scopes if s not in {s.value for s in Scope}] + [f for f in fields if f not in FIELD_GROUPS]
    if unknown:
        raise ClientInvalid(f"unknown scope or field group: {', '.join(unknown)}")
    return scopes, fields


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def end_tokens(session: Session, *, client: InteropClient) -> None:
    """Every bearer token of the client ends now (deactivated, or its secret replaced)."""
    session.execute(delete(InteropToken).where(InteropToken.client_id == client.id))


def replace_secret(session: Session, *, client: InteropClient) -> str:
    """A new secret for the client (in the caller's transaction); the old one and its tokens stop working."""
    secret = new_secret()
    client.secret_hash = hash_password(secret)
    end_tokens(session, client=client)
    return secret


def set_callback_token(session: Session, *, client_id: str, token: str | None) -> None:
    """Keep (or, with None, forget) the bearer token sent with the client's callbacks, and commit."""
    client = session.scalar(select(InteropClient).where(InteropClient.client_id == client_id))
    if client is None:
        raise ClientInvalid(f"no client {client_id!r}")
    if token is not None and (not token.strip() or len(token) > 500 or any(c.isspace() for c in token.strip())):
        raise ClientInvalid("the callback token is one word of at most 500 characters")
    client.callback_token = token.strip() if token else None
    session.commit()


def issue_token(session: Session, *, client_id: str, secret: str, now: dt.datetime,
                lifetime: dt.timedelta = TOKEN_LIFETIME) -> tuple[str, dt.datetime, InteropClient]:
    """A bearer token for a client that proves its secret (committed; expired tokens of it are dropped)."""
    client = session.scalar(select(InteropClient).where(InteropClient.client_id == client_id))
    if not verify_password(client.secret_hash if client is not None else None, secret) or client is None \
            or not client.active:
        raise InvalidClient()
    token = secrets.token_urlsafe(32)
    expires = now + lifetime
    session.execute(delete(InteropToken).where(InteropToken.client_id == client.id, InteropToken.expires_at <= now))
    session.add(InteropToken(token_hash=_digest(token), client_id=client.id, created_at=now, expires_at=expires))
    session.commit()
    return token, expires, client


def client_for_token(session: Session, *, token: str, now: dt.datetime) -> InteropClient | None:
    """The active client a live token was issued to, or None."""
    row = session.execute(select(InteropClient, InteropToken.expires_at)
                          .join(InteropToken, InteropToken.client_id == InteropClient.id)
                          .where(InteropToken.token_hash == _digest(token))).first()
    if row is None or row[1] <= now or not row[0].active:
        return None
    client: InteropClient = row[0]
    return client


def record_request(session: Session, *, client: InteropClient | None, action: str, summary: str, outcome: str,
                   http_status: int, now: dt.datetime) -> None:
    """Keep one request on record and commit (a refusal is recorded too)."""
    session.add(InteropRequest(client_id=client.id if client is not None else None, action=action[:40],
                               summary=summary[:_SUMMARY_LENGTH], outcome=outcome[:60], http_status=http_status,
                               at=now))
    session.commit()


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()

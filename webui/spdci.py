"""The SPDCI Social Registry API for partner systems (registry.interop describes it), under ``/spdci``.

JSON only, no cookies, no CSRF: a partner system gets a bearer token from ``/spdci/oauth2/token`` with its
client credentials and sends the standard's envelopes. Each view reads the token, counts the request against
the client's rate limit and hands the envelope to one service call.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from limits import parse
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.exceptions import HTTPException

from registry.interop.clients import InvalidClient, client_for_token, issue_token, record_request
from registry.interop.envelope import ErrorCode, ack, http_error, new_id, public_key_of
from registry.interop.services import Answer, Settings, answer, refuse
from webui.db import db_session, now

bp = Blueprint("spdci", __name__, url_prefix="/spdci")

#: Requests per client, shared between servers through RATELIMIT_STORAGE_URI (Redis) like the login limits.
DEFAULT_RATE_LIMIT = "120/minute"


def _limiter() -> MovingWindowRateLimiter:
    limiter: MovingWindowRateLimiter | None = current_app.extensions.get("spdci_limiter")
    if limiter is None:
        storage = storage_from_string(current_app.config.get("RATELIMIT_STORAGE_URI") or "memory://")
        limiter = current_app.extensions["spdci_limiter"] = MovingWindowRateLimiter(storage)
    return limiter


def _within_limit(client_id: str) -> bool:
    limit = parse(str(current_app.config.get("INTEROP_RATE_LIMIT") or DEFAULT_RATE_LIMIT))
    try:
        return bool(_limiter().hit(limit, "spdci", client_id))
    except Exception:  # noqa: BLE001 - the limit store down: serve, as the login limits do
        current_app.logger.warning("SPDCI rate limit store unavailable; request let through")
        return True


def _bearer() -> str | None:
    kind, _space, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if kind.lower() == "bearer" else None


def _serve(endpoint: str) -> Any:
    session, moment = db_session(), now()
    token = _bearer()
    client = client_for_token(session, token=token, now=moment) if token else None
    reply: Answer
    if client is None:
        reply = refuse(session, client=None, endpoint=endpoint, code=ErrorCode.UNAUTHORIZED, now=moment,
                       message="a valid bearer token from /spdci/oauth2/token is needed")
    elif not _within_limit(client.client_id):
        reply = refuse(session, client=client, endpoint=endpoint, code=ErrorCode.TOO_MANY_REQUESTS, now=moment,
                       message="too many requests from this client; try again later")
    else:
        reply = answer(session, client=client, endpoint=endpoint, document=request.get_json(silent=True),
                       now=moment, settings=Settings.from_config(current_app.config))
    headers = {"WWW-Authenticate": 'Bearer realm="spdci"'} if reply.http_status == 401 and client is None else {}
    return jsonify(reply.body), reply.http_status, headers


@bp.post("/registry/sync/search")
def sync_search() -> Any:
    return _serve("sync-search")


@bp.post("/registry/search")
def search() -> Any:
    return _serve("search")


@bp.post("/registry/subscribe")
def subscribe() -> Any:
    return _serve("subscribe")


@bp.post("/registry/unsubscribe")
def unsubscribe() -> Any:
    return _serve("unsubscribe")


@bp.post("/registry/txn/status")
def txn_status() -> Any:
    return _serve("txn-status")


@bp.post("/registry/sync/txn/status")
def sync_txn_status() -> Any:
    return _serve("sync-txn-status")


@bp.get("/.well-known/registry-public-key.pem")
def registry_public_key() -> Any:
    """The key partners check our signatures with (404 while the registry signs nothing)."""
    signing_key = Settings.from_config(current_app.config).signing_key
    if not signing_key:
        abort(404, "this registry does not sign its envelopes")
    return Response(public_key_of(signing_key), mimetype="application/x-pem-file")


def _credentials() -> tuple[str, str, str]:
    """(grant type, client id, secret) from an OAuth2 token request: form or JSON body, or HTTP Basic."""
    body: Any = request.form if request.mimetype == "application/x-www-form-urlencoded" else \
        (request.get_json(silent=True) or {})
    if not hasattr(body, "get"):
        body = {}
    client_id, secret = str(body.get("client_id") or ""), str(body.get("client_secret") or "")
    kind, _space, encoded = request.headers.get("Authorization", "").partition(" ")
    if kind.lower() == "basic":
        try:
            client_id, _colon, secret = base64.b64decode(encoded, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            client_id, secret = "", ""
    return str(body.get("grant_type") or ""), client_id, secret


@bp.post("/oauth2/token")
def token() -> Any:
    """OAuth2 client credentials: a bearer token for a registered partner system."""
    session, moment = db_session(), now()
    grant_type, client_id, secret = _credentials()
    if grant_type != "client_credentials":
        record_request(session, client=None, action="token", summary=client_id[:64], outcome="unsupported_grant_type",
                       http_status=400, now=moment)
        return jsonify({"error": "unsupported_grant_type"}), 400
    try:
        issued, expires, client = issue_token(session, client_id=client_id, secret=secret, now=moment)
    except InvalidClient:
        record_request(session, client=None, action="token", summary=client_id[:64], outcome="invalid_client",
                       http_status=401, now=moment)
        return jsonify({"error": "invalid_client"}), 401, {"WWW-Authenticate": 'Basic realm="spdci"'}
    record_request(session, client=client, action="token", summary="", outcome="issued", http_status=200, now=moment)
    return jsonify({"access_token": issued, "token_type": "Bearer",
                    "expires_in": int((expires - moment).total_seconds()), "scope": " ".join(client.scopes)})


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Any:
    code = {401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN, 404: ErrorCode.NOT_FOUND,
            429: ErrorCode.TOO_MANY_REQUESTS}.get(error.code or 400, ErrorCode.BAD_REQUEST)
    return jsonify(http_error(code, error.description or error.name)), error.code or 400


@bp.errorhandler(Exception)
def _unexpected(error: Exception) -> Any:
    """Never a bare 500: the standard's ERR acknowledgement, service unavailable, and the traceback logged."""
    current_app.logger.exception("SPDCI request failed: %s", error)
    db_session().rollback()
    from registry.interop.envelope import EnvelopeRefused

    refused = EnvelopeRefused(ErrorCode.SERVICE_UNAVAILABLE, "the registry could not answer; try again later")
    return jsonify(ack("ERR", now=now(), correlation_id=new_id(), error=refused)), 503, {"Retry-After": "30"}

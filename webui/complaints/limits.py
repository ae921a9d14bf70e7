"""Throttling the public complaint pages, per client address (Flask-Limiter, counts in RATELIMIT_STORAGE_URI).

Filing anonymously counts every submission; following a complaint counts only failed guesses (the same
answer for an unknown reference and a wrong code), per address and per address and reference, so nobody can
try codes for one complaint from one address, nor try many references.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, request
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from werkzeug.wrappers import Response

#: Defaults, each overridable in the app's configuration under the same name.
LIMITS = {
    "COMPLAINT_FILING_LIMIT": "10/hour;30/day",
    "COMPLAINT_FOLLOW_LIMIT_PER_ADDRESS": "20/hour;100/day",
    "COMPLAINT_FOLLOW_LIMIT_PER_REFERENCE": "5/hour;20/day",
}


def _limit(name: str) -> Callable[[], str]:
    return lambda: str(current_app.config.get(name) or LIMITS[name])


def _failed(response: Response) -> bool:
    return response.status_code == 404


def _address_and_reference() -> str:
    from registry.complaints.services import normalize_reference

    reference = normalize_reference(request.form.get("reference", "")) or request.form.get("reference", "")[:40]
    return f"{get_remote_address()}/{hashlib.sha256(reference.encode()).hexdigest()[:32]}"


def init_app(app: Flask) -> None:
    # One limiter per app, as the login limits have: its counts belong to this app.
    limiter = Limiter(key_func=get_remote_address)
    limiter.init_app(app)
    filing = limiter.shared_limit(_limit("COMPLAINT_FILING_LIMIT"), scope="complaint-filing", methods=["POST"])
    per_address = limiter.shared_limit(_limit("COMPLAINT_FOLLOW_LIMIT_PER_ADDRESS"), scope="complaint-follow",
                                       methods=["POST"], deduct_when=_failed)
    per_reference = limiter.shared_limit(_limit("COMPLAINT_FOLLOW_LIMIT_PER_REFERENCE"),
                                         scope="complaint-follow-reference", key_func=_address_and_reference,
                                         methods=["POST"], deduct_when=_failed)
    wrap: dict[str, Callable[[Any], Any]] = {
        "complaints_public.new": filing,
        "complaints_public.follow": lambda view: per_address(per_reference(view)),
    }
    for endpoint, decorate in wrap.items():
        app.view_functions[endpoint] = decorate(app.view_functions[endpoint])
    # Only these two views have limits here: every other request skips this limiter's per-request lookups.
    limiter.request_filter(lambda: request.endpoint not in wrap)

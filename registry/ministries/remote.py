"""Ministry sources over HTTP+JSON (the API documented in ``payloads``), with the standard library only.

In production the base URLs point at our X-Road security server on the Zinnar platform, which
forwards to each ministry; ``X-Road-Client`` names our subsystem when configured. A call is
bounded: ``timeout`` seconds per attempt, ``retries`` more attempts after a 5xx, 429, timeout or
connection failure, with a short exponential backoff; then the ministry is reported unavailable.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from registry.ministries.payloads import facts_from_education, facts_from_health, family_from_interior
from registry.ministries.records import Family, PersonFacts, SourceUnavailable

MAX_RESPONSE_BYTES = 1_000_000


class _Transient(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class HttpRefused(SourceUnavailable):
    """The ministry refused the request (a 4xx other than 429): retrying would not help.

    ``document`` is the decoded error body when there is one, for adapters whose standard puts an
    error code there.
    """

    def __init__(self, status: int, document: Any | None = None) -> None:
        super().__init__(f"HTTP {status}")
        self.status = status
        self.document = document


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Refuse redirects: personal data goes only to the configured address."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def _describe(error: BaseException) -> str:
    reason = error.reason if isinstance(error, urllib.error.URLError) else error
    if isinstance(reason, TimeoutError):
        return "timed out"
    return "connection failed"


class JsonHttpClient:
    """GET JSON documents from one ministry's API; 404 means no record (None)."""

    def __init__(self, base_url: str, *, timeout: float = 3.0, retries: int = 2, backoff: float = 0.2,
                 headers: Mapping[str, str] | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        parts = urllib.parse.urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"ministry URL must be http(s)://host/...: {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.headers = {"Accept": "application/json", **(headers or {})}
        self._sleep = sleep
        # No proxies from the environment: the data goes straight to the security server.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())

    def get(self, path: str, query: Mapping[str, str] | None = None) -> Any | None:
        """The decoded document at ``path``, None on 404; SourceUnavailable when retries run out."""
        url = self.base_url + path + (f"?{urllib.parse.urlencode(query)}" if query else "")
        return self._with_retries(lambda: self._open_once(urllib.request.Request(  # noqa: S310 - scheme checked
            url, headers=self.headers), none_on_404=True))

    def post(self, path: str, document: Any, *, form: bool = False,
             headers: Callable[[], Mapping[str, str]] | None = None,
             retry_when: Callable[[Any], str | None] | None = None) -> Any:
        """POST ``document`` (JSON, or form fields when ``form``) and decode the JSON answer.

        Every 4xx but 429 raises HttpRefused. ``headers`` is called before each attempt (a bearer
        token may change between them); ``retry_when`` reads a decoded answer and names why it is
        worth another attempt, or None.
        """
        if form:
            body, content_type = urllib.parse.urlencode(document).encode(), "application/x-www-form-urlencoded"
        else:
            body, content_type = json.dumps(document, ensure_ascii=False).encode(), "application/json"

        def once() -> Any:
            request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
                self.base_url + path, data=body, method="POST",
                headers={**self.headers, "Content-Type": content_type, **(headers() if headers else {})})
            answer = self._open_once(request, none_on_404=False)
            transient = retry_when(answer) if retry_when else None
            if transient:
                raise _Transient(transient)
            return answer

        return self._with_retries(once)

    def _with_retries(self, once: Callable[[], Any]) -> Any:
        attempts = self.retries + 1
        reason = ""
        for attempt in range(attempts):
            if attempt:
                self._sleep(self.backoff * 2 ** (attempt - 1))
            try:
                return once()
            except _Transient as err:
                reason = err.reason
        raise SourceUnavailable(f"{reason} ({attempts} attempts)")

    def _open_once(self, request: urllib.request.Request, *, none_on_404: bool) -> Any | None:
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = response.read(MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as err:
            with err:
                if err.code == 404 and none_on_404:
                    return None
                if err.code >= 500 or err.code == 429:
                    raise _Transient(f"HTTP {err.code}") from None
                raise HttpRefused(err.code, _error_document(err)) from None
        except (OSError, http.client.HTTPException) as err:
            raise _Transient(_describe(err)) from None
        if len(body) > MAX_RESPONSE_BYTES:
            raise SourceUnavailable("response too large")
        try:
            return json.loads(body)
        except ValueError:
            raise SourceUnavailable("invalid JSON") from None


def _error_document(error: urllib.error.HTTPError) -> Any | None:
    """The JSON body of an error answer, None when there is none or it cannot be read."""
    try:
        body = error.read(MAX_RESPONSE_BYTES + 1)
        return json.loads(body) if len(body) <= MAX_RESPONSE_BYTES else None
    except (OSError, ValueError, AttributeError, http.client.HTTPException):
        return None


def _segment(national_id: str) -> str:
    return urllib.parse.quote(national_id, safe="")


class InteriorHttpSource:
    """Ministry of Interior civil registry: ``GET /v1/families/{national_id}``."""

    name = "interior"

    def __init__(self, client: JsonHttpClient) -> None:
        self.client = client

    def family(self, national_id: str, *, today: dt.date) -> Family | None:
        document = self.client.get(f"/v1/families/{_segment(national_id)}")
        return family_from_interior(document, today=today) if document is not None else None

    def persons(self, national_ids: Sequence[str], *, today: dt.date) -> dict[str, PersonFacts]:
        return {}


class EducationHttpSource:
    """Ministry of Education enrolments: ``GET /v1/enrolments?ids=...`` (one call per household)."""

    name = "education"

    def __init__(self, client: JsonHttpClient) -> None:
        self.client = client

    def family(self, national_id: str, *, today: dt.date) -> Family | None:
        return None

    def persons(self, national_ids: Sequence[str], *, today: dt.date) -> dict[str, PersonFacts]:
        if not national_ids:
            return {}
        document = self.client.get("/v1/enrolments", {"ids": ",".join(national_ids)})
        facts = facts_from_education(document, today=today) if document is not None else {}
        return {nid: f for nid, f in facts.items() if nid in national_ids}


class HealthHttpSource:
    """Ministry of Health: ``GET /v1/persons/{national_id}/health``, one call per member."""

    name = "health"

    def __init__(self, client: JsonHttpClient) -> None:
        self.client = client

    def family(self, national_id: str, *, today: dt.date) -> Family | None:
        return None

    def persons(self, national_ids: Sequence[str], *, today: dt.date) -> dict[str, PersonFacts]:
        facts: dict[str, PersonFacts] = {}
        # The first member the ministry cannot answer for ends the lookup (SourceUnavailable):
        # waiting out the timeout once per member would hold reception for minutes.
        for nid in national_ids:
            document = self.client.get(f"/v1/persons/{_segment(nid)}/health")
            found = facts_from_health(document, asked=nid, today=today) if document is not None else None
            if found is not None:
                facts[nid] = found
        return facts

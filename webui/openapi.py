"""The API's OpenAPI 3.1 document, generated from the schemas the views load and dump with.

Request bodies and responses come from ``webui.schemas`` through apispec's marshmallow plugin, so the
document cannot promise a field the code does not accept or send. What this module adds is what no
schema knows: which status codes each operation can answer with, and why.
"""

from __future__ import annotations

import functools
from typing import Any

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from marshmallow import Schema

from webui import field, schemas

IDEMPOTENCY_HEADER = "Idempotency-Key"
_JSON = "application/json"


def _error(description: str, *, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {_JSON: {"schema": schemas.ErrorSchema}}}
    if headers:
        response["headers"] = headers
    return response


def _ok(schema: type[Schema], description: str, *, replayable: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {_JSON: {"schema": schema}}}
    if replayable:
        response["headers"] = {"Idempotent-Replayed": {
            "description": "true when this is the stored answer to an earlier request under the same key",
            "schema": {"type": "string", "enum": ["true"]}}}
    return response


_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                                "schema": {"type": "string"}}}

_IDEMPOTENCY_KEY = {
    "name": IDEMPOTENCY_HEADER, "in": "header", "required": False,
    "description": "Any printable ASCII text of at most 200 characters, new for each intended change. A retry "
                   "with the same key (within 24 hours) gets the first answer and changes nothing again; the "
                   "same key with a different request is refused with 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~][ -~]*$"},
}
_TASK_ID = {"name": "task_id", "in": "path", "required": True, "schema": {"type": "string", "maxLength": 64}}
_SCORE_ID = {"name": "score_id", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
_CASE_ID = {"name": "case_id", "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}
_VISIT_ID = {"name": "visit_id", "in": "path", "required": True,
             "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}


def _responses(*, ok: dict[str, Any], ok_status: str = "200", secured: bool = True, body: bool = False,
               not_found: bool = False, conflict: str | None = None,
               extra: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Every status an operation can answer with: its own, and those every operation of its kind shares."""
    responses: dict[str, Any] = {
        ok_status: ok,
        "400": _error("a control character (such as NUL) in the path, query or body, or JSON nested too deeply"),
        "503": _error("the database cannot be reached, or a system step failed; nothing was changed",
                      headers=_RETRY_AFTER),
    }
    if secured:
        responses["401"] = _error("missing, expired or revoked bearer token")
    if body:
        responses["413"] = _error("the request body is larger than the server accepts")
        responses["422"] = _error("the body or a header is invalid: `errors` and `codes` name each field")
    if not_found:
        responses["404"] = _error("no such thing, or not visible to the caller's role and directorate")
    if conflict:
        responses["409"] = _error(conflict)
    responses.update(extra or {})
    return dict(sorted(responses.items()))


def _body(schema: type[Schema], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {_JSON: {"schema": schema}}}


def _paths() -> dict[str, dict[str, Any]]:
    secured: list[dict[str, list[str]]] = [{"bearer": []}]
    return {
        "/auth/token": {"post": {
            "operationId": "token", "summary": "Exchange username and password for a bearer token",
            "requestBody": _body(schemas.TokenRequest),
            "responses": _responses(
                ok=_ok(schemas.TokenSchema, "a bearer token"), secured=False, body=True,
                extra={"401": _error("wrong username or password (the same answer for unknown users)"),
                   "429": _error("too many attempts from this address or for this account",
                                 headers=_RETRY_AFTER)}),
        }},
        "/auth/logout": {"post": {
            "operationId": "logout", "summary": "End the bearer token now", "security": secured,
            "description": "Safe to retry without an Idempotency-Key: once the token has ended, a retry is "
                           "answered 401 and changes nothing.",
            "responses": _responses(ok=_ok(schemas.OkSchema, "the token no longer works")),
        }},
        "/tasks": {"get": {
            "operationId": "listTasks", "security": secured,
            "summary": "The caller's inbox, a page at a time: tasks assigned to them and open tasks of their role, "
                       "searched, filtered and sorted as the inbox page is",
            "parameters": [{"in": "query", "schema": schemas.TaskListQuery}],
            "responses": _responses(ok=_ok(schemas.TaskListSchema, "one page of tasks and the total"),
                                    extra={"422": _error("an invalid query parameter (named in codes)")}),
        }},
        "/tasks/{task_id}": {"get": {
            "operationId": "getTask", "summary": "A task with its form's fields and current values",
            "security": secured, "parameters": [_TASK_ID],
            "responses": _responses(ok=_ok(schemas.TaskDetailSchema, "the task and its form"), not_found=True),
        }},
        "/tasks/{task_id}/claim": {"post": {
            "operationId": "claimTask", "summary": "Claim an open task of your role", "security": secured,
            "parameters": [_TASK_ID, _IDEMPOTENCY_KEY],
            "responses": _responses(ok=_ok(schemas.TaskSchema, "the task, now the caller's", replayable=True),
                                    body=True, not_found=True,
                                    conflict="claimed by someone else, or already completed"),
        }},
        "/tasks/{task_id}/release": {"post": {
            "operationId": "releaseTask", "summary": "Give a claimed task back to the role's open tasks",
            "security": secured, "parameters": [_TASK_ID, _IDEMPOTENCY_KEY],
            "responses": _responses(ok=_ok(schemas.TaskSchema, "the task, open for the role again", replayable=True),
                                    body=True, not_found=True,
                                    conflict="claimed by someone else, or already completed"),
        }},
        "/tasks/{task_id}/complete": {"post": {
            "operationId": "completeTask", "summary": "Submit the task's form", "security": secured,
            "parameters": [_TASK_ID, _IDEMPOTENCY_KEY], "requestBody": _body(schemas.CompleteRequest),
            "responses": _responses(
                ok=_ok(schemas.CompletionSchema, "where the case stands now, and its next tasks", replayable=True),
                body=True, not_found=True,
                conflict="already completed, claimed by someone else, or the case changed since `version`"),
        }},
        "/tasks/{task_id}/household-wait": {
            "post": {
                "operationId": "startHouseholdWait", "security": secured,
                "summary": "Pause a staff task while the household does something, until a date",
                "description": "The staff due date stands still and the household is told by message. The same "
                               "request again (same reason and date) while that wait holds changes nothing and "
                               "answers 200; a different one is refused with 409 already_waiting.",
                "parameters": [_TASK_ID, _IDEMPOTENCY_KEY], "requestBody": _body(schemas.HouseholdWaitRequest),
                "responses": _responses(
                    ok=_ok(schemas.TaskSchema, "the task, waiting on the household", replayable=True),
                    body=True, not_found=True,
                    conflict="already completed, already waiting on the household for something else "
                             "(code already_waiting), or the household's own task (code household_task)"),
            },
            "delete": {
                "operationId": "endHouseholdWait", "security": secured,
                "summary": "The household responded: the staff due date runs again, later by the time paused",
                "description": "A task that is not (or no longer) paused is answered as it stands, unchanged, "
                               "so a double send is no error. POST /tasks/{task_id}/household-wait/end does "
                               "the same.",
                "parameters": [_TASK_ID, _IDEMPOTENCY_KEY],
                "responses": _responses(
                    ok=_ok(schemas.TaskSchema, "the task, no longer waiting", replayable=True), body=True,
                    not_found=True, conflict="already completed, or the household's own task (code household_task)"),
            },
        },
        "/tasks/{task_id}/household-wait/end": {"post": {
            "operationId": "endHouseholdWaitPost", "security": secured,
            "summary": "The same as DELETE /tasks/{task_id}/household-wait, for clients that cannot send DELETE",
            "parameters": [_TASK_ID, _IDEMPOTENCY_KEY],
            "responses": _responses(
                ok=_ok(schemas.TaskSchema, "the task, no longer waiting", replayable=True), body=True,
                not_found=True, conflict="already completed, or the household's own task (code household_task)"),
        }},
        "/cases": {"post": {
            "operationId": "createCase", "security": secured,
            "summary": "Reception opens a registration; its form is then the caller's first task",
            "parameters": [_IDEMPOTENCY_KEY], "requestBody": _body(schemas.CreateCaseRequest, required=False),
            "responses": _responses(
                ok=_ok(schemas.CreatedCaseSchema, "the case, opened", replayable=True), ok_status="201", body=True,
                conflict="the applicant already has an open case, or a concurrent change",
                extra={"403": _error("only reception staff open registrations")}),
        }},
        "/cases/{case_id}": {"get": {
            "operationId": "getCase", "security": secured,
            "summary": "Stage, status, household, eligibility with indicators, and one page of the history",
            "parameters": [_CASE_ID, {"in": "query", "schema": schemas.HistoryQuery}],
            "responses": _responses(ok=_ok(schemas.CaseSchema, "the case"), not_found=True,
                                    extra={"422": _error("an invalid query parameter")}),
        }},
        "/visits/today": {"get": {
            "operationId": "todaysVisits", "security": secured,
            "summary": "The case manager's campaign visits for today (days=2: and tomorrow), to work offline",
            "description": "Each visit with its household's current data, its base_version, and the form "
                           "definitions it is filled in with (labels in Arabic and English). Also answered to the "
                           "browser's staff session (the field app under /field/).",
            "parameters": [{"name": "days", "in": "query", "required": False,
                            "schema": {"type": "integer", "enum": [1, 2]}}],
            "responses": _responses(ok=_ok(field.VisitDaySchema, "the day's visits and their forms"),
                                    extra={"422": _error("an invalid query parameter")}),
        }},
        "/visits/{visit_id}/submission": {"post": {
            "operationId": "submitVisit", "security": secured,
            "summary": "Send a visit completed offline; kept whatever happens, applied unless the visit changed",
            "description": "With the staff session (the field app) a CSRF token is needed: X-CSRFToken from "
                           "GET /field/token.",
            "parameters": [_VISIT_ID, {**_IDEMPOTENCY_KEY, "required": True}],
            "requestBody": _body(field.SubmissionRequest),
            "responses": _responses(
                ok=_ok(field.SubmissionAnswerSchema, "the visit was completed with the values", replayable=True),
                body=True, not_found=True,
                conflict="the visit or its household changed since base_version (reassigned, already done, "
                         "updated, migrated): the values are kept for the case manager and the supervisor"),
        }},
        "/scores/{score_id}/recompute": {"get": {
            "operationId": "recomputeScore", "security": secured,
            "summary": "Recompute a stored score from the database alone and confirm it, or say what differs",
            "description": "Scores the stored inputs again, on the stored scoring date, with the rule files the "
                           "database keeps for the score's rule version (never the files on disk), and compares "
                           "score, category, lines and every indicator's value and result. For staff of the "
                           "score's directorate.",
            "parameters": [_SCORE_ID],
            "responses": _responses(ok=_ok(schemas.RecomputationSchema, "the outcome and any differences"),
                                    not_found=True),
        }},
    }


@functools.cache
def openapi_document() -> dict[str, Any]:
    """The document, built once per process from the schemas."""
    spec = APISpec(
        title="MoSD case management API", version="1.0.0", openapi_version="3.1.0",
        plugins=[MarshmallowPlugin()],
        info={"description": "Staff API: the same rules as the web pages. A user sees only tasks of their role "
                             "and cases of their directorate; anything else is 404."},
        servers=[{"url": "/api/v1"}],
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    spec.components.schema("FileUpload", schemas.FILE_UPLOAD)
    for schema in (schemas.ErrorSchema, schemas.TokenRequest, schemas.CompleteRequest, schemas.CreateCaseRequest,
                   schemas.HouseholdWaitRequest,
                   schemas.TokenSchema, schemas.OkSchema, schemas.TaskSchema, schemas.TaskListSchema,
                   schemas.TaskDetailSchema, schemas.CompletionSchema, schemas.CreatedCaseSchema,
                   schemas.CaseSchema, schemas.CategoryReasonSchema, schemas.RecomputationSchema,
                   field.SubmissionRequest, field.VisitDaySchema, field.SubmissionAnswerSchema):
        spec.components.schema(schema.__name__.removesuffix("Schema"), schema=schema)
    for path, operations in _paths().items():
        spec.path(path=path, operations=operations)
    return spec.to_dict()

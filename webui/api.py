"""JSON API under /api/v1: the same services and rules as the pages, with bearer tokens."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _
from marshmallow import Schema, ValidationError

from engine.errors import FormInvalid, NotFoundForActor, StaleState, TaskAlreadyCompleted, TaskNotClaimable
from engine.forms import FieldDef
from registry import auth as auth_service
from registry import cases, household_waits, idempotency, inbox, scores
from registry.errors import Conflict, DuplicateApplicant, InvalidCredentials, NotPermitted
from registry.models import Case, User
from webui import schemas
from webui.db import db_session, document_storage, library, ministry_sources, now
from webui.household_waits import refusal_message
from webui.inbox import inbox_query
from webui.messages import translate_errors
from webui.rendering import pick

bp = Blueprint("api", __name__, url_prefix="/api/v1")

# Built once: a marshmallow schema deep-copies its declared fields whenever one is made, and loading keeps
# no state in the schema, so every request can share these.
_TOKEN_REQUEST = schemas.TokenRequest()
_TASK_LIST_QUERY = schemas.TaskListQuery()
_COMPLETE_REQUEST = schemas.CompleteRequest()
_HOUSEHOLD_WAIT_REQUEST = schemas.HouseholdWaitRequest()
_CREATE_CASE_REQUEST = schemas.CreateCaseRequest()
_HISTORY_QUERY = schemas.HistoryQuery()


def _lang() -> str:
    return request.accept_languages.best_match(["ar", "en"]) or "en"


def token_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        header = request.headers.get("Authorization", "")
        scheme, _sep, token = header.partition(" ")
        user = auth_service.user_for_token(db_session(), token=token.strip(), now=now()) \
            if scheme.lower() == "bearer" and token else None
        if user is None:
            return jsonify({"error": _("Missing or invalid bearer token.")}), 401
        g.api_user = user
        return view(*args, **kwargs)

    return wrapper


def _actor() -> User:
    user: User = g.api_user
    return user


def _json_body(*, empty_allowed: bool = False) -> dict[str, Any]:
    """The request's JSON object; anything else is a 422 that names the body."""
    body = request.get_json(silent=True)
    if body is None and empty_allowed and not request.get_data():
        return {}
    if not isinstance(body, dict):
        raise FormInvalid({"_body": ["invalid_type"]})
    return body


def _load(schema: Schema, data: Any = None, *, empty_allowed: bool = False) -> dict[str, Any]:
    """The request's JSON object (or ``data``) as the schema accepts it; anything else is a 422 naming each field."""
    body = _json_body(empty_allowed=empty_allowed) if data is None else data
    try:
        loaded: dict[str, Any] = schema.load(body)
    except ValidationError as err:
        messages = err.normalized_messages()
        raise FormInvalid({name: [str(code) for code in (codes if isinstance(codes, list) else ["invalid"])]
                           for name, codes in messages.items()}) from None
    return loaded


# --- idempotency: a retry under the same Idempotency-Key gets the first answer, and nothing is done twice ---

IDEMPOTENCY_HEADER = "Idempotency-Key"


class _Answer:
    """The answer to a state-changing call, built inside the service's unit of work.

    Under an Idempotency-Key it is stored in that same transaction, so what a retry gets back is
    exactly what the first call committed.
    """

    def __init__(self, request_key: idempotency.IdempotentRequest | None) -> None:
        self.request_key = request_key
        self.status = 500
        self.body: dict[str, Any] = {}

    def __call__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.body = status, body
        if self.request_key is not None:
            idempotency.remember(db_session(), request=self.request_key, status=status, body=body, now=now())


def _idempotent_request(body: Any) -> idempotency.IdempotentRequest | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not idempotency.key_is_valid(key):
        raise FormInvalid({IDEMPOTENCY_HEADER: ["invalid"]})
    return idempotency.IdempotentRequest(user_id=_actor().id, key=key,
                                         request_hash=idempotency.request_digest(request.method, request.path, body))


def _replay(stored: idempotency.StoredAnswer) -> Any:
    return jsonify(stored.body), stored.status, {"Idempotent-Replayed": "true"}


def _once(body: Any, work: Callable[[_Answer], object]) -> Any:
    """Do ``work`` (which answers through the given ``_Answer``), or replay the answer stored under the key."""
    request_key = _idempotent_request(body)
    if request_key is not None:
        stored = idempotency.stored_answer(db_session(), request=request_key, now=now())
        if stored is not None:
            return _replay(stored)
    answer = _Answer(request_key)
    try:
        work(answer)
    except (Conflict, DuplicateApplicant, TaskAlreadyCompleted, TaskNotClaimable, StaleState,
            household_waits.WaitRefused):
        # A twin request under the same key may have committed while this one waited: answer as it did.
        stored = idempotency.stored_answer(db_session(), request=request_key, now=now()) if request_key else None
        if stored is None:
            raise
        return _replay(stored)
    return jsonify(answer.body), answer.status


@bp.errorhandler(idempotency.KeyReused)
def _key_reused(_error: idempotency.KeyReused) -> Any:
    codes = {IDEMPOTENCY_HEADER: ["key_reused"]}
    message = _("This Idempotency-Key was already used for a different request; use a new key.")
    return jsonify({"error": message, "errors": {IDEMPOTENCY_HEADER: [message]}, "codes": codes}), 422


@bp.errorhandler(FormInvalid)
def _invalid(error: FormInvalid) -> Any:
    return jsonify({"error": _("Please correct the highlighted fields."), "errors": translate_errors(error.errors),
                    "codes": error.errors}), 422


@bp.route("/auth/token", methods=["POST"])
def token() -> Any:
    body = _load(_TOKEN_REQUEST)
    try:
        user = auth_service.authenticate(db_session(), username=body["username"], password=body["password"],
                                         demo_mode=current_app.config["DEMO_MODE"])
    except InvalidCredentials:
        return jsonify({"error": _("Wrong username or password.")}), 401
    if user.must_change_password:  # an administrator knows this password: its owner replaces it in the browser first
        return jsonify({"error": _("Choose your own password in the browser first, then ask for a token."),
                        "code": "password_change_required"}), 403
    value, expires = auth_service.issue_token(db_session(), user=user, now=now())
    return jsonify({"token": value, "token_type": "Bearer", "expires_at": expires.isoformat()})


@bp.route("/auth/logout", methods=["POST"])
@token_required
def logout() -> Any:
    auth_service.revoke_token(db_session(), token=request.headers["Authorization"].partition(" ")[2].strip())
    return jsonify({"ok": True})


@bp.route("/tasks")
@token_required
def list_tasks() -> Any:
    args = _load(_TASK_LIST_QUERY, request.args.to_dict())
    found = inbox.task_page(db_session(), actor=_actor(), query=inbox_query(args), now=now(), page=args["page"])
    return jsonify({"tasks": [schemas.task(row.task) for row in found.items], "total": found.info.total,
                    "page": found.info.page, "per_page": found.info.per_page})


def _field(field: FieldDef, value: Any, choices: dict[str, list[tuple[str, dict[str, str]]]], lang: str,
           prefix: str = "") -> dict[str, Any]:
    options = [{"value": c.value, "label": pick(c.label, lang)} for c in field.choices]
    options += [{"value": v, "label": pick(label, lang)} for v, label in choices.get(prefix + field.name, [])]
    described: dict[str, Any] = {
        "name": field.name, "label": pick(field.label, lang), "type": field.type, "required": field.required,
        "required_if": field.required_if, "show_if": field.show_if,
        "choices": options if field.type in ("choice", "multichoice") else None, "value": value,
    }
    if field.type == "group":
        described["fields"] = [_field(sub, None, choices, lang, f"{prefix}{field.name}.") for sub in field.fields]
    return described


@bp.route("/tasks/<task_id>")
@token_required
def get_task(task_id: str) -> Any:
    view = cases.open_task(db_session(), actor=_actor(), library=library(), task_id=task_id)
    lang = _lang()
    return jsonify(schemas.task_detail(
        view.task, form_title=pick(view.form.title, lang), version=view.version,
        form_fields=[_field(f, view.values.get(f.name), view.choices, lang) for f in view.form.fields],
        sources=view.sources))


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
@token_required
def claim(task_id: str) -> Any:
    return _once(None, lambda answer: cases.claim_task(
        db_session(), actor=_actor(), task_id=task_id, now=now(),
        before_commit=lambda record: answer(200, schemas.task(record))))


@bp.route("/tasks/<task_id>/release", methods=["POST"])
@token_required
def release(task_id: str) -> Any:
    return _once(None, lambda answer: cases.release_task(
        db_session(), actor=_actor(), task_id=task_id, now=now(),
        before_commit=lambda record: answer(200, schemas.task(record))))


@bp.route("/tasks/<task_id>/complete", methods=["POST"])
@token_required
def complete(task_id: str) -> Any:
    body = _load(_COMPLETE_REQUEST)
    return _once(body, lambda answer: cases.complete_task(
        db_session(), actor=_actor(), library=library(), task_id=task_id, data=body["data"], now=now(),
        expected_version=body.get("version"), storage=document_storage(),
        before_commit=lambda completion: answer(200, schemas.completion(completion))))


@bp.route("/tasks/<task_id>/household-wait", methods=["POST"])
@token_required
def start_household_wait(task_id: str) -> Any:
    """The task waits on the household; the same request again changes nothing and answers the same."""
    body = _load(_HOUSEHOLD_WAIT_REQUEST)
    return _once(body, lambda answer: household_waits.start_wait(
        db_session(), actor=_actor(), library=library(), task_id=task_id, reason=body["reason"],
        respond_by=body["respond_by"], now=now(), before_commit=lambda record: answer(200, schemas.task(record))))


@bp.route("/tasks/<task_id>/household-wait", methods=["DELETE"])
@bp.route("/tasks/<task_id>/household-wait/end", methods=["POST"])
@token_required
def end_household_wait(task_id: str) -> Any:
    """The household responded; a task no longer paused is answered as it stands (a double send)."""
    return _once(None, lambda answer: household_waits.end_wait(
        db_session(), actor=_actor(), task_id=task_id, now=now(), not_waiting_ok=True,
        before_commit=lambda record: answer(200, schemas.task(record))))


@bp.errorhandler(household_waits.WaitRefused)
def _wait_refused(error: household_waits.WaitRefused) -> Any:
    return jsonify({"error": refusal_message(error), "type": "WaitRefused", "code": error.reason}), 409


@bp.route("/cases", methods=["POST"])
@token_required
def create_case() -> Any:
    body = _load(_CREATE_CASE_REQUEST, empty_allowed=True)
    actor = _actor()
    if actor.role != "reception":
        raise NotPermitted("only reception staff open registrations")

    def work(answer: _Answer) -> None:
        def opened(case: Case) -> None:
            first = cases.first_task_for(db_session(), actor=actor, case_id=case.id)
            answer(201, schemas.created_case(case_id=case.id, reference=case.reference, first_task=first))

        if "national_id" in body:
            cases.begin_registration(db_session(), actor=actor, library=library(), national_id=body["national_id"],
                                     consent=body["consent_data_exchange"], now=now(), sources=ministry_sources(),
                                     before_commit=opened)
        else:
            cases.start_registration(db_session(), actor=actor, library=library(), now=now(), before_commit=opened)

    return _once(body, work)


@bp.route("/cases/<id:case_id>")
@token_required
def get_case(case_id: int) -> Any:
    query = _load(_HISTORY_QUERY, request.args.to_dict())
    view = cases.case_view(db_session(), actor=_actor(), case_id=case_id, history_page=query["history_page"],
                           submission_forms=())  # the API's case answer lists no submissions
    return jsonify(schemas.case(view))


@bp.route("/scores/<id:score_id>/recompute")
@token_required
def recompute_score(score_id: int) -> Any:
    """Score the stored inputs again with the stored rules of the score's version, and compare."""
    return jsonify(schemas.recomputation(scores.recompute_for_actor(db_session(), actor=_actor(), score_id=score_id)))


@bp.route("/openapi.json")
def openapi() -> Any:
    from webui.openapi import openapi_document  # imported on use: apispec (0.3 MB) a worker rarely needs

    return jsonify(openapi_document())


@bp.errorhandler(NotFoundForActor)
def _not_found(_error: NotFoundForActor) -> Any:
    return jsonify({"error": _("Not found.")}), 404

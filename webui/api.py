"""JSON API under /api/v1: the same services and rules as the pages, with bearer tokens."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, g, jsonify, request
from flask_babel import gettext as _

from engine.errors import FormInvalid, NotFoundForActor
from engine.forms import FieldDef, national_id_is_valid, normalize_national_id
from engine.models import TaskRecord
from registry import auth as auth_service
from registry import cases
from registry.errors import InvalidCredentials, LoginLocked, NotPermitted
from registry.models import User
from webui import schemas
from webui.db import db_session, library, ministry_sources, now
from webui.messages import translate_errors
from webui.openapi import openapi_document
from webui.rendering import pick

bp = Blueprint("api", __name__, url_prefix="/api/v1")


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


@bp.errorhandler(FormInvalid)
def _invalid(error: FormInvalid) -> Any:
    return jsonify({"error": _("Please correct the highlighted fields."), "errors": translate_errors(error.errors),
                    "codes": error.errors}), 422


@bp.route("/auth/token", methods=["POST"])
def token() -> Any:
    body = _json_body()
    try:
        user = auth_service.authenticate(db_session(), username=str(body.get("username", "")),
                                         password=str(body.get("password", "")),
                                         demo_mode=current_app.config["DEMO_MODE"], now=now())
    except LoginLocked:
        return jsonify({"error": _("Too many failed attempts. Try again in 15 minutes.")}), 429
    except InvalidCredentials:
        return jsonify({"error": _("Wrong username or password.")}), 401
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
    box = cases.inbox(db_session(), actor=_actor())
    rows = [schemas.task(r.task) for r in box.mine + box.open_for_role]
    rows.sort(key=lambda t: (t["due_at"] is None, t["due_at"] or ""))
    return jsonify({"tasks": rows})


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
    body = schemas.task(view.task)
    body.update({
        "form_title": pick(view.form.title, lang),
        "version": view.version,
        "fields": [_field(f, view.values.get(f.name), view.choices, lang) for f in view.form.fields],
    })
    return jsonify(body)


@bp.route("/tasks/<task_id>/claim", methods=["POST"])
@token_required
def claim(task_id: str) -> Any:
    record = cases.claim_task(db_session(), actor=_actor(), task_id=task_id, now=now())
    return jsonify(schemas.task(record))


@bp.route("/tasks/<task_id>/release", methods=["POST"])
@token_required
def release(task_id: str) -> Any:
    record = cases.release_task(db_session(), actor=_actor(), task_id=task_id, now=now())
    return jsonify(schemas.task(record))


@bp.route("/tasks/<task_id>/complete", methods=["POST"])
@token_required
def complete(task_id: str) -> Any:
    body = _json_body()
    data = body.get("data")
    if not isinstance(data, dict):
        raise FormInvalid({"data": ["invalid_type"]})
    version = body.get("version")
    if version is not None and not isinstance(version, int):
        raise FormInvalid({"version": ["invalid_integer"]})
    ready: list[TaskRecord] = cases.complete_task(db_session(), actor=_actor(), library=library(), task_id=task_id,
                                                  data=data, now=now(), expected_version=version)
    record = cases.task_for_actor(db_session(), actor=_actor(), task_id=task_id)
    case = cases.case_view(db_session(), actor=_actor(), case_id=int(record.business_key)).case
    return jsonify({"case_id": case.id, "stage": case.stage, "status": case.status,
                    "next_tasks": [schemas.task(r) for r in ready]})


@bp.route("/cases", methods=["POST"])
@token_required
def create_case() -> Any:
    body = _json_body(empty_allowed=True)
    actor = _actor()
    if actor.role != "reception":
        raise NotPermitted("only reception staff open registrations")
    national_id = body.get("national_id")
    if national_id is not None:
        national_id = normalize_national_id(str(national_id))
        if not national_id_is_valid(national_id):
            raise FormInvalid({"national_id": ["invalid_national_id"]})
        case = cases.begin_registration(db_session(), actor=actor, library=library(), national_id=national_id,
                                        consent=bool(body.get("consent_data_exchange")), now=now(),
                                        sources=ministry_sources())
    else:
        case = cases.start_registration(db_session(), actor=actor, library=library(), now=now())
    first = cases.first_task_for(db_session(), actor=actor, case_id=case.id)
    return jsonify({"case_id": case.id, "reference": case.reference,
                    "first_task": schemas.task(first) if first else None}), 201


@bp.route("/cases/<int:case_id>")
@token_required
def get_case(case_id: int) -> Any:
    view = cases.case_view(db_session(), actor=_actor(), case_id=case_id)
    return jsonify(schemas.case(view, lang=_lang()))


@bp.route("/openapi.json")
def openapi() -> Any:
    return jsonify(openapi_document())


@bp.errorhandler(NotFoundForActor)
def _not_found(_error: NotFoundForActor) -> Any:
    return jsonify({"error": _("Not found.")}), 404

"""Field work on a phone: the installable app under /field/, what it downloads and sends, and the conflicts page.

The app calls the JSON API with the browser's staff session (a POST carries the CSRF token, fetched fresh
when the connection returns) or with a bearer token like the rest of /api/v1.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf.csrf import generate_csrf
from marshmallow import Schema, ValidationError, fields, validate

from engine.errors import FormInvalid
from engine.forms import FieldDef, FormDef
from registry import auth as auth_service
from registry import documents, idempotency
from registry.campaigns.models import VisitOutcome
from registry.campaigns.services import VisitConflict
from registry.errors import NotPermitted
from registry.field import services as field
from registry.models import Role, User
from webui import csrf, current_language, schemas
from webui.db import db_session, document_storage, library, now
from webui.messages import translate_errors

bp = Blueprint("field", __name__)


class SubmissionRequest(schemas.StrictSchema):
    """A visit completed on a phone, as its outbox sends it."""

    base_version = schemas.JsonInteger(
        required=True, validate=validate.Range(min=1, max=2**31 - 1, error="out_of_range"),
        metadata={"description": "the visit's base_version from GET /visits/today; when the visit or its "
                                 "household changed since, the answer is 409 and the values are kept"})
    outcome = schemas.JsonString(required=True, validate=validate.OneOf(
        [o.value for o in VisitOutcome], error="invalid_choice"))
    data = schemas.JsonObject(load_default=dict, metadata={
        "description": "the forms' values by field name: visit_note, and for `updated` the registration form's"})
    files = schemas.JsonObject(load_default=dict, metadata={
        "description": "photos and documents: {\"attachments\": [FileUpload, ...]}, at most 10, each checked by "
                       "its content (PDF, JPEG, PNG)",
        "additionalProperties": {"type": "array", "items": {"$ref": "#/components/schemas/FileUpload"}}})


class VisitDaySchema(Schema):
    day = fields.Date(required=True)
    visits = fields.List(fields.Dict(), required=True, metadata={
        "description": "id, planned_on, attempt, locality, open, outcome, base_version, household (summary), "
                       "values (the registration form's current values), outcome_form and form (keys of forms)"})
    forms = fields.Dict(keys=fields.String(), values=fields.Dict(), required=True, metadata={
        "description": "form definitions by key: title and fields with labels in Arabic and English, "
                       "required, choices; the outcome form lists `outcomes`"})


class SubmissionAnswerSchema(Schema):
    state = fields.String(required=True, metadata={"description": "applied, conflict or refused"})
    submission_id = fields.Integer(required=True)
    visit_id = fields.Integer(required=True)
    differences = fields.Dict(metadata={"description": "for a conflict: what changed since the download"})

#: Who works in the field, and who resolves what they send.
FIELD_ROLES = frozenset({Role.CASE_MANAGER.value, Role.SUPERVISOR.value})
SCOPE = "/field/"
#: The files the service worker keeps so the app opens without a connection (besides the page itself).
SHELL_FILES = ("app.css", "app.js", "build/field-app.js", "build/field-app.css")


# --- who is asking -------------------------------------------------------------------------------

def _api_user(view: Callable[..., Any]) -> Callable[..., Any]:
    """A bearer token, or the staff session (then a POST needs the CSRF token); JSON 401 otherwise."""
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        scheme, _sep, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            user = auth_service.user_for_token(db_session(), token=token.strip(), now=now())
        elif current_user.is_authenticated:
            user = current_user._get_current_object()
            if request.method == "POST" and current_app.config.get("WTF_CSRF_ENABLED", True):
                csrf.protect()
        else:
            user = None
        if user is None:
            return jsonify({"error": _("Your session ended. Log in again to continue.")}), 401
        g.field_user = user
        return view(*args, **kwargs)

    return csrf.exempt(wrapper)


def _actor() -> User:
    user: User = g.field_user
    return user


def _page_user() -> User:
    if current_user.role not in FIELD_ROLES:
        abort(404)
    user: User = current_user._get_current_object()
    return user


# --- the app -------------------------------------------------------------------------------------

def _words() -> dict[str, str]:
    return {
        "download": _("Download today's visits"), "send_now": _("Send now"),
        "downloading": _("Downloading…"), "downloaded": _("{count} visits downloaded."),
        "download_failed": _("The visits could not be downloaded. Try again when you have a connection."),
        "last_download": _("Downloaded {at}"), "never": _("Nothing downloaded yet."),
        "no_visits": _("No visits on this phone."), "attempt": _("attempt {n}"),
        "not_on_phone": _("This visit is not on this phone."), "back": _("Back to the visits"),
        "outcome": _("Outcome of the visit"), "save": _("Save the visit"), "required": _("This field is required."),
        "too_large": _("This file is too large."), "yes": _("Yes"), "no": _("No"),
        "attachments": _("Photos and documents"), "done": _("Done"),
        "state_waiting": _("Waiting to be sent"), "state_sent": _("Sent"),
        "state_conflict": _("Conflict: changed on the server"), "state_refused": _("Not accepted: correct it"),
        "synced": _("Visits sent."), "retry_later": _("No connection: the visits wait and are sent later."),
        "signin": _("Log in again to send the visits; they are kept on this phone."),
        "online": _("Online"), "offline": _("Offline"), "files_kept": _("Files kept with this visit: {names}"),
    }


@bp.route("/field/")
@login_required
def app_page() -> Any:
    _page_user()
    return render_template("field/app.html", words=_words(), scope=SCOPE,
                           max_file_bytes=documents.MAX_UPLOAD_BYTES)


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else "missing"


@bp.route("/field/sw.js")
def service_worker() -> Any:
    """The service worker, with the shell's files and their content hashes written in front of it."""
    static = Path(current_app.static_folder or "")
    worker = static / "build" / "field-sw.js"
    if not worker.exists():
        abort(404)
    shell = [{"url": url_for("static", filename=name), "revision": _file_hash(static / name)}
             for name in SHELL_FILES if (static / name).exists()]
    shell.append({"url": url_for("field.manifest"), "revision": "1"})
    prelude = (f"self.FIELD_SHELL={json.dumps(shell)};self.FIELD_SCOPE={json.dumps(SCOPE)};"
               f"self.FIELD_PAGE={json.dumps(url_for('field.app_page'))};\n")
    response = Response(prelude + worker.read_text(encoding="utf-8"), mimetype="text/javascript")
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.route("/field/manifest.webmanifest")
def manifest() -> Any:
    body = {"name": _("Field visits"), "short_name": _("Visits"), "start_url": SCOPE, "scope": SCOPE,
            "display": "standalone", "background_color": "#f4f6f8", "theme_color": "#0b6e4f",
            "lang": "ar", "dir": "auto",
            "icons": [{"src": url_for("static", filename="field-icon.svg"), "sizes": "any", "type": "image/svg+xml"}]}
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/manifest+json")


@bp.route("/field/token")
@_api_user
def token() -> Any:
    return jsonify({"csrf_token": generate_csrf()})


# --- the API -------------------------------------------------------------------------------------

def _labels(value: dict[str, str] | None) -> dict[str, str]:
    return dict(value or {})


def _field_json(f: FieldDef, choices: dict[str, list[tuple[str, dict[str, str]]]], prefix: str = "") -> dict[str, Any]:
    options = [{"value": c.value, "label": _labels(c.label)} for c in f.choices]
    options += [{"value": value, "label": _labels(label)} for value, label in choices.get(prefix + f.name, [])]
    return {"name": f.name, "type": f.type, "label": _labels(f.label), "required": f.required,
            "help": _labels(f.help) if f.help else None,
            "choices": options if f.type in ("choice", "multichoice") else None,
            "minimum": f.minimum, "maximum": f.maximum, "max_length": f.max_length,
            "fields": [_field_json(sub, choices, f"{prefix}{f.name}.") for sub in f.fields] or None}


def _form_json(form: FormDef, choices: dict[str, list[tuple[str, dict[str, str]]]], *,
               leave_out: frozenset[str] = frozenset()) -> dict[str, Any]:
    return {"key": form.key, "title": _labels(form.title),
            "fields": [_field_json(f, choices) for f in form.fields if f.name not in leave_out]}


def _attachments_field() -> dict[str, Any]:
    from flask_babel import force_locale

    labels = {}
    for code in ("ar", "en"):
        with force_locale(code):
            labels[code] = _("Photos and documents")
    return {"name": field.FILE_FIELD, "type": "file", "label": labels, "required": False, "choices": None}


def _summary(visit: Any) -> list[dict[str, Any]]:
    household = visit.household
    head = household.head
    rows = {"head": (_("Head of household"), _head_name(head)),
            "national_id": (_("National ID"), head.national_id if head is not None else None),
            "phone": (_("Phone number"), household.phone), "locality": (_("Locality"), household.locality),
            "address": (_("Address"), household.address), "members": (_("Members"), len(household.members)),
            "category": (_("Category before the visit"), visit.category_before)}
    return [{"key": key, "label": label, "value": value} for key, (label, value) in rows.items()]


def _head_name(head: Any) -> str | None:
    if head is None:
        return None
    name: str | None = head.name_latin if current_language() == "en" and head.name_latin else head.name_ar
    return name


def _today() -> dt.date:
    day: dt.date = now().astimezone(ZoneInfo(library().timezone)).date()
    return day


@bp.route("/api/v1/visits/today")
@_api_user
def today() -> Any:
    days = request.args.get("days", "1")
    if days not in ("1", "2"):
        raise FormInvalid({"days": ["invalid"]})
    found = field.day_download(db_session(), actor=_actor(), library=library(), day=_today(), days=int(days))
    forms = {}
    for key, (form, choices) in found.forms.items():
        described = _form_json(form, choices, leave_out=frozenset({"outcome"}) if key == field.OUTCOME_FORM
                               else frozenset())
        if key == field.OUTCOME_FORM:
            described["fields"].append(_attachments_field())
            outcome = next(f for f in form.fields if f.name == "outcome")
            described["outcomes"] = [{"value": c.value, "label": _labels(c.label)} for c in outcome.choices]
        forms[key] = described
    visits = [{
        "id": item.visit.id, "planned_on": item.visit.planned_on.isoformat() if item.visit.planned_on else None,
        "attempt": item.visit.attempt, "locality": item.visit.locality, "open": item.visit.is_open,
        "outcome": item.visit.outcome, "base_version": item.visit.lock_version,
        "household": {"id": item.visit.household_id, "reference": item.visit.household.legacy_id
                      or str(item.visit.household_id),
                      "head_name": _head_name(item.visit.household.head),
                      "address": item.visit.household.address, "summary": _summary(item.visit)},
        "values": item.values, "outcome_form": field.OUTCOME_FORM, "form": field.DETAILS_FORM,
    } for item in found.visits]
    return jsonify({"day": found.day.isoformat(), "visits": visits, "forms": forms})


def _incoming_files(raw: Any) -> list[field.IncomingFile]:
    """Files sent as base64 in JSON: {"attachments": [{"name", "content_base64"}]}; sizes checked before decoding."""
    if raw in (None, {}):
        return []
    if not isinstance(raw, dict):
        raise FormInvalid({"files": ["invalid_type"]})
    out = []
    limit = (documents.MAX_UPLOAD_BYTES + 2) // 3 * 4 + 4
    for name, items in raw.items():
        if name != field.FILE_FIELD or not isinstance(items, list):
            raise FormInvalid({"files": ["invalid"]})
        if len(items) > field.MAX_FILES:
            raise FormInvalid({field.FILE_FIELD: ["too_many_items"]})
        for item in items:
            text = item.get("content_base64") if isinstance(item, dict) else None
            if not isinstance(text, str):
                raise FormInvalid({field.FILE_FIELD: ["invalid_file"]})
            if len(text) > limit:
                raise FormInvalid({field.FILE_FIELD: ["file_too_large"]})
            try:
                content = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise FormInvalid({field.FILE_FIELD: ["invalid_file"]}) from None
            out.append(field.IncomingFile(field=name, name=str(item.get("name") or "photo")[:200], content=content))
    return out


@bp.route("/api/v1/visits/<id:visit_id>/submission", methods=["POST"])
@_api_user
def submit(visit_id: int) -> Any:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise FormInvalid({"_body": ["invalid_type"]})
    key = request.headers.get("Idempotency-Key")
    if key is None or not idempotency.key_is_valid(key):
        raise FormInvalid({"Idempotency-Key": ["required" if key is None else "invalid"]})
    try:
        loaded: dict[str, Any] = SubmissionRequest().load(body)
    except ValidationError as err:
        messages = err.normalized_messages()
        raise FormInvalid({name: [str(code) for code in (codes if isinstance(codes, list) else ["invalid"])]
                           for name, codes in messages.items()}) from None
    answer = field.submit_visit(db_session(), actor=_actor(), library=library(), storage=document_storage(),
                                visit_id=visit_id, key=key, base_version=loaded["base_version"],
                                outcome=loaded["outcome"], data=loaded["data"],
                                files=_incoming_files(loaded["files"]), now=now())
    body = dict(answer.body)
    if answer.status == 409:
        body["error"] = _("This visit changed on the server since you downloaded it. Your values are kept: "
                          "resolve it on the conflicts page.")
    elif answer.status == 422:
        body["error"] = _("Please correct the highlighted fields.")
        body["errors"] = translate_errors(body.get("codes", {}))
    headers = {"Idempotent-Replayed": "true"} if answer.replayed else {}
    return jsonify(body), answer.status, headers


@bp.errorhandler(FormInvalid)
def _invalid(error: FormInvalid) -> Any:
    return jsonify({"error": _("Please correct the highlighted fields."), "errors": translate_errors(error.errors),
                    "codes": error.errors}), 422


@bp.errorhandler(idempotency.KeyReused)
def _key_reused(_error: idempotency.KeyReused) -> Any:
    message = _("This Idempotency-Key was already used for a different request; use a new key.")
    return jsonify({"error": message, "codes": {"Idempotency-Key": ["key_reused"]}}), 422


# --- conflicts -----------------------------------------------------------------------------------

RESOLUTION_LABELS = {"applied": _l("Applied over the current values"), "discarded": _l("Discarded")}
#: What the visit's service says changed since the download (registry.campaigns.services.differences).
CHANGE_LABELS = {
    "already_completed": _l("The visit was already completed."),
    "reassigned": _l("The visit was given to another case manager."),
    "household_changed": _l("The household's data was changed."),
    "process_migrated": _l("The visit's process was changed."),
    "visit_changed": _l("The visit was changed."),
    "not_permitted": _l("You may no longer complete this visit."),
}


def _changes(kinds: list[str]) -> str:
    return " ".join(str(CHANGE_LABELS.get(kind, kind)) for kind in kinds)


@bp.route("/visits/conflicts")
@login_required
def conflicts() -> Any:
    actor = _page_user()
    rows = field.conflicts_for_actor(db_session(), actor=actor, include_resolved=request.args.get("all") == "1")
    return render_template("field/conflicts.html", rows=rows, resolutions=RESOLUTION_LABELS,
                           show_all=request.args.get("all") == "1")


@bp.route("/visits/conflicts/<id:submission_id>")
@login_required
def conflict(submission_id: int) -> Any:
    view = field.conflict_view(db_session(), actor=_page_user(), library=library(), submission_id=submission_id)
    labels = {f.name: f.label for f in view.form.fields}
    return render_template("field/conflict.html", view=view, labels=labels, resolutions=RESOLUTION_LABELS,
                           change_labels=CHANGE_LABELS)


@bp.route("/visits/conflicts/<id:submission_id>/<any(apply, discard):action>", methods=["POST"])
@login_required
def resolve(submission_id: int, action: str) -> Any:
    actor = _page_user()
    try:
        if action == "apply":
            field.apply_conflict(db_session(), actor=actor, library=library(), submission_id=submission_id,
                                 now=now())
            flash(_("The values typed offline were applied over the current ones."), "success")
        else:
            field.discard_conflict(db_session(), actor=actor, submission_id=submission_id, now=now())
            flash(_("The values typed offline were discarded; they are kept on record."), "success")
    except VisitConflict as err:
        flash(_("The visit cannot take these values: %(reason)s",
                reason=_changes([d.get("kind", "") for d in err.differences])), "error")
    except FormInvalid as err:
        flash(_("The values typed offline are not acceptable: %(fields)s", fields=", ".join(sorted(err.errors))),
              "error")
    except field.AlreadyResolved:
        flash(_("This conflict was already resolved."), "error")
    except NotPermitted:
        flash(_("The visit cannot take these values: %(reason)s", reason=_changes(["not_permitted"])), "error")
    return redirect(url_for("field.conflict", submission_id=submission_id))

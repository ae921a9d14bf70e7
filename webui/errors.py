"""One status code and one translated message per error type, for pages and the API alike."""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, jsonify, render_template, request
from flask_babel import gettext as _
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException, InternalServerError

from engine.errors import (
    NotDeployed,
    NotFoundForActor,
    OperationFailed,
    ProcessInvalid,
    StaleState,
    TaskAlreadyCompleted,
    TaskNotClaimable,
)
from registry.drafts import DraftRefused
from registry.errors import Conflict, DuplicateApplicant, NotPermitted, StorageUnavailable
from webui.auth import form_expired
from webui.rendering import when
from webui.requests import MAX_JSON_DEPTH, UnsafeInput

RETRY_AFTER_SECONDS = 10


def database_unavailable(error: BaseException) -> bool:
    """The database cannot be reached (down, restarting, connection lost): worth a retry, not a bug."""
    if isinstance(error, OperationalError | InterfaceError):
        return True
    return isinstance(error, DBAPIError) and error.connection_invalidated


def _not_found_message() -> str:
    """Say what was not found and why it may be: another directorate's case looks the same as none at all."""
    if request.path.startswith(("/cases/", "/api/v1/cases/")):
        return _("This case does not exist, or it belongs to another directorate: each directorate sees only "
                 "its own cases.")
    if request.path.startswith(("/tasks/", "/api/v1/tasks/")):
        return _("This task does not exist, or it belongs to another directorate or role.")
    return _("Not found.")


def describe(error: Exception) -> tuple[int, str]:
    if isinstance(error, NotFoundForActor):
        return 404, _not_found_message()
    if isinstance(error, TaskAlreadyCompleted):
        return 409, _("This task was already completed by %(by)s at %(at)s; nothing was changed.",
                      by=error.by or "?", at=when(error.at))
    if isinstance(error, TaskNotClaimable):
        if not error.by:  # releasing a task nobody holds
            return 409, _("This task is not claimed by you; nothing was changed.")
        return 409, _("This task is claimed by %(by)s.", by=error.by)
    if isinstance(error, StaleState):
        return 409, _("The case changed since this form was opened; nothing was saved. Reload the task.")
    if isinstance(error, Conflict):
        return 409, _("Someone changed this at the same time; nothing was saved. Reload and try again.")
    if isinstance(error, DuplicateApplicant):
        return 409, _("This applicant already has an open case (%(where)s).",
                      where=error.reference or _("in another directorate"))
    if isinstance(error, NotPermitted):
        return 403, _("Your role may not do this.")
    if isinstance(error, DraftRefused):
        if error.reason == "too_large":
            return 413, _("The draft is larger than %(limit)s KB and was not saved.", limit=error.limit // 1024)
        if error.reason == "unknown_fields":
            return 422, _("The draft names fields this form does not have (%(fields)s); it was not saved.",
                          fields=", ".join(error.fields[:10]))
        return 422, _("The draft holds values no form field can take (%(fields)s); it was not saved.",
                      fields=", ".join(error.fields[:10]))
    if isinstance(error, UnsafeInput):
        if error.reason == "too_deep":
            return 400, _("The request is nested too deeply (more than %(limit)s levels); nothing was changed.",
                          limit=MAX_JSON_DEPTH)
        return 400, _("The request contains a control character (such as a NUL byte) that is not allowed; "
                      "nothing was changed.")
    if isinstance(error, IntegrityError):  # a uniqueness rule met a change no check could foresee
        return 409, _("Someone changed this at the same time; nothing was saved. Reload and try again.")
    if database_unavailable(error):
        return 503, _("The database cannot be reached at the moment; nothing was changed. Try again in a minute.")
    if isinstance(error, StorageUnavailable):
        return 503, _("The document storage cannot be reached at the moment; nothing was saved. "
                      "Try again in a minute.")
    if isinstance(error, OperationFailed):
        return 503, _("A system step (%(operation)s) failed; nothing was saved. Try again or report it.",
                      operation=error.operation)
    if isinstance(error, ProcessInvalid):
        return 422, _("The process files have problems; nothing was deployed: %(problems)s",
                      problems="; ".join(error.problems[:5]))
    if isinstance(error, NotDeployed):
        return 503, _("No version of the process is deployed yet, so no case can be opened; "
                      "a process analyst must deploy it. Nothing was changed.")
    return 500, _("Unexpected error.")


def wants_json() -> bool:
    return request.path.startswith(("/api/", "/spdci/"))


def _error_page() -> str:
    """The citizens' portal shows its errors in its own layout, with its own way back."""
    return "portal/error.html" if request.path.startswith("/portal/") else "error.html"


def register_error_handlers(app: Flask) -> None:
    def handle(error: Exception) -> Any:
        status, message = describe(error)
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)} if status == 503 else {}
        if isinstance(error, DBAPIError) and status == 503:
            current_app.logger.warning("database unavailable on %s: %s", request.path, error.orig)
        if isinstance(error, StorageUnavailable):
            current_app.logger.warning("document storage unavailable on %s: %s", request.path, error)
        if wants_json():
            return jsonify({"error": message, "type": type(error).__name__}), status, headers
        # The page must not need the database: the signed-in user is not loaded again to draw the menu.
        user = AnonymousUserMixin() if isinstance(error, DBAPIError) else None
        return render_template(_error_page(), message=message, status=status,
                               **({"user": user} if user else {})), status, headers

    for kind in (NotFoundForActor, TaskAlreadyCompleted, TaskNotClaimable, StaleState, NotPermitted, DuplicateApplicant,
                 Conflict, OperationFailed, ProcessInvalid, NotDeployed, UnsafeInput, OperationalError, InterfaceError,
                 IntegrityError, StorageUnavailable):
        app.register_error_handler(kind, handle)

    @app.errorhandler(InternalServerError)
    def _server_error(error: InternalServerError) -> Any:
        # Flask has already logged the traceback of the exception behind it (app.log_exception).
        if wants_json():
            return jsonify({"error": _("Unexpected error.")}), 500
        return render_template("error.html", message=_("Unexpected error."), status=500,
                               user=AnonymousUserMixin()), 500

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Any:
        """Any other HTTP refusal (413, 415, ...): JSON on the API, Werkzeug's page elsewhere; headers kept."""
        if not wants_json():
            return error
        response = error.get_response()
        response.set_data(current_app.json.dumps({"error": error.description or error.name}))
        response.mimetype = "application/json"
        return response

    @app.errorhandler(404)
    def _not_found(_error: Exception) -> Any:
        if wants_json():
            return jsonify({"error": _("Not found.")}), 404
        return render_template(_error_page(), message=_("Not found."), status=404), 404

    @app.errorhandler(405)
    def _not_allowed(error: Exception) -> Any:
        # RFC 9110: a 405 names the methods the resource does support.
        headers = {"Allow": ", ".join(sorted(getattr(error, "valid_methods", None) or []))}
        if wants_json():
            return jsonify({"error": _("Method not allowed.")}), 405, headers
        return render_template(_error_page(), message=_("Method not allowed."), status=405), 405, headers

    @app.errorhandler(400)
    def _bad_request(error: Any) -> Any:
        message = _("The form expired or was sent twice; reload the page and try again.") \
            if "CSRF" in str(getattr(error, "description", "")) else _("Bad request.")
        if wants_json() or request.is_json:  # the API, and pages' own JSON calls (a task form's draft)
            return jsonify({"error": message}), 400
        if isinstance(error, CSRFError):  # an expired session or form: back to the page (after logging in)
            return form_expired()
        return render_template(_error_page(), message=message, status=400), 400

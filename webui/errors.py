"""One status code and one translated message per error type, for pages and the API alike."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _

from engine.errors import (
    NotFoundForActor,
    OperationFailed,
    ProcessInvalid,
    StaleState,
    TaskAlreadyCompleted,
    TaskNotClaimable,
)
from registry.errors import Conflict, DuplicateApplicant, NotPermitted
from webui.rendering import when


def describe(error: Exception) -> tuple[int, str]:
    if isinstance(error, NotFoundForActor):
        return 404, _("Not found.")
    if isinstance(error, TaskAlreadyCompleted):
        return 409, _("This task was already completed by %(by)s at %(at)s; nothing was changed.",
                      by=error.by or "?", at=when(error.at))
    if isinstance(error, TaskNotClaimable):
        return 409, _("This task is claimed by %(by)s.", by=error.by or "?")
    if isinstance(error, StaleState):
        return 409, _("The case changed since this form was opened; nothing was saved. Reload the task.")
    if isinstance(error, Conflict):
        return 409, _("Someone changed this at the same time; nothing was saved. Reload and try again.")
    if isinstance(error, DuplicateApplicant):
        return 409, _("This applicant already has an open case (%(where)s).",
                      where=error.reference or _("in another directorate"))
    if isinstance(error, NotPermitted):
        return 403, _("Your role may not do this.")
    if isinstance(error, OperationFailed):
        return 503, _("A system step (%(operation)s) failed; nothing was saved. Try again or report it.",
                      operation=error.operation)
    if isinstance(error, ProcessInvalid):
        return 500, _("The process files have problems; an analyst must fix them: %(problems)s",
                      problems="; ".join(error.problems[:5]))
    return 500, _("Unexpected error.")


def wants_json() -> bool:
    return request.path.startswith("/api/")


def register_error_handlers(app: Flask) -> None:
    def handle(error: Exception) -> Any:
        status, message = describe(error)
        if wants_json():
            return jsonify({"error": message, "type": type(error).__name__}), status
        return render_template("error.html", message=message, status=status), status

    for kind in (NotFoundForActor, TaskAlreadyCompleted, TaskNotClaimable, StaleState, NotPermitted, DuplicateApplicant,
                 Conflict, OperationFailed, ProcessInvalid):
        app.register_error_handler(kind, handle)

    @app.errorhandler(404)
    def _not_found(_error: Exception) -> Any:
        if wants_json():
            return jsonify({"error": _("Not found.")}), 404
        return render_template("error.html", message=_("Not found."), status=404), 404

    @app.errorhandler(405)
    def _not_allowed(_error: Exception) -> Any:
        if wants_json():
            return jsonify({"error": _("Method not allowed.")}), 405
        return render_template("error.html", message=_("Method not allowed."), status=405), 405

    @app.errorhandler(400)
    def _bad_request(error: Any) -> Any:
        message = _("The form expired or was sent twice; reload the page and try again.") \
            if "CSRF" in str(getattr(error, "description", "")) else _("Bad request.")
        if wants_json():
            return jsonify({"error": message}), 400
        return render_template("error.html", message=message, status=400), 400

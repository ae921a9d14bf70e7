"""The public complaint pages: file a complaint without an account, and follow one by reference and code."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template, request

from engine.errors import FormInvalid, NotFoundForActor
from registry.complaints import services
from webui import current_language
from webui.complaints.words import errors_in_words, not_found, words
from webui.db import db_session, library, now

bp = Blueprint("complaints_public", __name__, url_prefix="/complaints")
bp.context_processor(words)

FIELDS = ("directorate", "kind", "text", "contact_mobile")


def _form() -> dict[str, str]:
    return {name: request.form.get(name, "")[:5000] for name in FIELDS}


@bp.route("/new", methods=["GET", "POST"])
def new() -> Any:
    """File a complaint anonymously: the reference and a follow-up code are shown once."""
    values = {"kind": request.args.get("about", "")[:20]} if request.method == "GET" else _form()
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            filed = services.file_complaint(
                db_session(), library=library(), now=now(), kind=values["kind"], text=values["text"],
                lang=current_language(), directorate_code=values["directorate"],
                contact_mobile=values["contact_mobile"])
        except FormInvalid as err:
            errors = errors_in_words(err.errors)
        else:
            return render_template("complaints/filed.html", complaint=filed.complaint, code=filed.code), 201
    return render_template("complaints/public_new.html", values=values, errors=errors,
                           directorates=services.directorates(db_session())), 422 if errors else 200


@bp.route("/follow", methods=["GET", "POST"])
def follow() -> Any:
    """Where a complaint stands, by its reference and code; a wrong code reads as an unknown reference."""
    reference = request.form.get("reference", request.args.get("reference", ""))[:40]
    if request.method == "GET":
        return render_template("complaints/follow.html", reference=reference, progress=None, error=None)
    try:
        progress = services.follow(db_session(), reference=reference, code=request.form.get("code", "")[:40])
    except NotFoundForActor:
        return render_template("complaints/follow.html", reference=reference, progress=None,
                               error=not_found()), 404
    return render_template("complaints/follow.html", reference=progress.complaint.reference, progress=progress,
                           error=None)

"""The portal's complaint pages for a signed-in citizen: their complaints, a new one, where one stands."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for

from engine.errors import FormInvalid, NotFoundForActor
from registry.citizens.models import Citizen
from registry.complaints import services
from webui import current_language
from webui.complaints.words import errors_in_words, words
from webui.db import db_session, library, now
from webui.portal import bp
from webui.portal.auth import citizen_required, current_citizen

FIELDS = ("kind", "text", "case_reference", "directorate", "contact_mobile")


def _citizen() -> Citizen:
    citizen = current_citizen()
    if citizen is None:
        raise NotFoundForActor("citizen")
    return citizen


@bp.route("/complaints")
@citizen_required
def complaints() -> Any:
    return render_template("complaints/portal_index.html", rows=services.complaints_of_citizen(
        db_session(), citizen=_citizen()), **words())


@bp.route("/complaints/new", methods=["GET", "POST"])
@citizen_required
def new_complaint() -> Any:
    """A new complaint; ``?case=<reference>&about=decision`` starts one about that case's decision."""
    citizen = _citizen()
    session = db_session()
    if request.method == "GET":
        values = {"kind": request.args.get("about", "")[:20], "case_reference": request.args.get("case", "")[:40]}
    else:
        values = {name: request.form.get(name, "")[:5000] for name in FIELDS}
    errors: dict[str, str] = {}
    if request.method == "POST":
        try:
            filed = services.file_complaint(
                session, library=library(), now=now(), kind=values["kind"], text=values["text"],
                lang=current_language(), citizen=citizen, case_reference=values["case_reference"],
                directorate_code=values["directorate"], contact_mobile=values["contact_mobile"])
        except FormInvalid as err:
            errors = errors_in_words(err.errors)
        else:
            return redirect(url_for("portal.complaint", reference=filed.complaint.reference, filed=1))
    return render_template("complaints/portal_new.html", values=values, errors=errors,
                           cases=services.cases_of_citizen(session, citizen=citizen),
                           directorates=services.directorates(session), **words()), 422 if errors else 200


@bp.route("/complaints/<reference>")
@citizen_required
def complaint(reference: str) -> Any:
    progress = services.complaint_of_citizen(db_session(), citizen=_citizen(), reference=reference)
    return render_template("complaints/portal_show.html", progress=progress,
                           just_filed=request.args.get("filed") == "1", **words())

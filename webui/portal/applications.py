"""The portal's applications: the household's list, one application's status in plain words, its decision letter."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template, request
from flask_babel import force_locale
from flask_babel import gettext as _

from engine.errors import NotFoundForActor
from registry.citizens import status
from registry.citizens.models import Citizen
from webui import letters
from webui.db import db_session, library, now
from webui.explanations import current_measure, letter_text
from webui.portal import bp
from webui.portal.auth import citizen_required, current_citizen


def _lang() -> str:
    from webui import current_language

    return current_language()


def _citizen() -> Citizen:
    citizen = current_citizen()
    if citizen is None:  # citizen_required lets no one else in
        raise NotFoundForActor("citizen")
    return citizen


@bp.app_template_global("my_applications")
def my_applications() -> list[status.ApplicationSummary]:
    """The signed-in citizen's applications in plain words (the portal home's "My applications" lists them)."""
    citizen = current_citizen()
    if citizen is None:
        return []
    return status.applications(db_session(), citizen=citizen, library=library(), lang=_lang())


@bp.route("/applications")
@citizen_required
def applications() -> Any:
    return render_template("portal/applications.html", applications=my_applications())


@bp.route("/applications/<reference>")
@citizen_required
def application(reference: str) -> Any:
    """One application's status, next step, result, letter and how to ask for a review."""
    lang = _lang()
    found = status.application_status(db_session(), citizen=_citizen(), reference=reference,
                                      library=library(), lang=lang, now=now(), measure=current_measure())
    text = letter_text(found.letter, lang) if found.letter is not None else None
    return render_template("portal/application.html", application=found, letter=text)


@bp.route("/applications/<reference>/letter")
@citizen_required
def application_letter(reference: str) -> Any:
    """The household's own decision letter as a PDF attachment, in the language asked for or the page's."""
    asked = request.args.get("lang")
    lang = asked if asked in ("ar", "en") and asked is not None else _lang()
    found = status.application_letter(db_session(), citizen=_citizen(), reference=reference, library=library(),
                                      lang=lang, now=now(), measure=current_measure())
    with force_locale(lang):
        text = letter_text(found, lang)
    try:
        pdf = letters.letter_pdf(text, font_dir=current_app.config.get("LETTER_FONT_DIR", letters.DEFAULT_FONT_DIR))
    except letters.FontsMissing:
        message = _("The letter cannot be made just now. Please try again later or ask your directorate for it.")
        return render_template("error.html", status=503, message=message), 503
    response = Response(pdf, mimetype="application/pdf")
    safe = "".join(ch for ch in found.case.reference if ch.isalnum() or ch == "-")
    response.headers["Content-Disposition"] = f'attachment; filename="decision-{safe}-{lang}.pdf"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


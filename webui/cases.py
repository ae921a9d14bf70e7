"""Cases: the directorate's list, a case's page, a new registration, documents."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.errors import FormInvalid
from engine.forms import national_id_is_valid, normalize_national_id
from registry import cases, documents, explanations, notes, process_catalogue, records, scores, timer_incidents
from registry.complaints import services as complaints
from registry.errors import DuplicateApplicant
from registry.operations import local_date
from registry.supervision import services as supervision
from webui import letters
from webui.db import db_session, document_storage, library, ministry_sources, now
from webui.errors import describe
from webui.explanations import LetterText, current_measure, letter_text
from webui.messages import translate_errors
from webui.requests import database_id

bp = Blueprint("cases", __name__)


@bp.route("/cases")
@login_required
def index() -> Any:
    status = request.args.get("status") or None
    rows = cases.list_cases(db_session(), actor=current_user, status=status,
                            page=request.args.get("page", 1, type=int))
    return render_template("cases/index.html", rows=rows, status=status)


@bp.route("/cases/<id:case_id>")
@login_required
def show(case_id: int) -> Any:
    view = cases.case_view(db_session(), actor=current_user, case_id=case_id,
                           history_page=request.args.get("history_page", 1, type=int))
    managers = cases.case_managers(db_session(), actor=current_user) if current_user.role == "supervisor" else []
    diagram = process_catalogue.case_diagram(db_session(), actor=current_user, case_id=case_id)
    case_notes = notes.case_notes(db_session(), actor=current_user, case_id=case_id)
    supervision_notes = supervision.case_supervision_notes(db_session(), actor=current_user, case_id=case_id)
    # A page of the history (its pager's links) shows the history, with or without the script.
    tab = request.args.get("tab") or ("history" if "history_page" in request.args else "")
    if tab not in CASE_TABS or (tab == "diagram" and diagram is None):
        tab = CASE_TABS[0]
    # Only the shown section is rendered, so only its data is read. The history's complaints the reader may
    # open link to their page.
    complaint_links = complaints.visible_complaints(db_session(), actor=current_user, references=[
        e.details.get("reference") for e in view.history if e.action == "complaint_filed" and e.details]
    ) if tab == "history" else set()
    recorded = records.recorded_tasks(db_session(), actor=current_user, case_id=case_id) if tab == "records" else None
    return render_template("cases/case.html", view=view, managers=managers, diagram=diagram, notes=case_notes,
                           supervision_notes=supervision_notes,
                           complaint_links=complaint_links, tab=tab, case_tabs=CASE_TABS,
                           note_token=secrets.token_urlsafe(24), note_max_chars=notes.MAX_NOTE_CHARS,
                           recorded=recorded,
                           failing_timers=timer_incidents.failing_timers(db_session(), actor=current_user,
                                                                         case_id=case_id))


#: The case page's sections, one rendered at a time (``?tab=``; case_tabs.js fetches another without reloading).
CASE_TABS = ("household", "eligibility", "documents", "records", "plan", "notes", "history", "diagram")


@bp.route("/cases/<id:case_id>/notes", methods=["POST"])
@login_required
def add_note(case_id: int) -> Any:
    """Any staff user who may see the case adds a note; the same form sent twice adds it once."""
    try:
        notes.add_note(db_session(), actor=current_user, case_id=case_id, text=request.form.get("text", ""),
                       form_token=request.form.get("form_token"), now=now())
    except FormInvalid as err:
        flash(_("The note was not added: %(reason)s", reason=" ".join(
            m for messages in translate_errors(err.errors).values() for m in messages)), "error")
    else:
        flash(_("Your note was added to the case."), "success")
    return redirect(url_for("cases.show", case_id=case_id, tab="notes"))


@bp.route("/cases/<id:case_id>/notes/<id:note_id>/pin", methods=["POST"])
@login_required
def pin_note(case_id: int, note_id: int) -> Any:
    notes.set_pinned(db_session(), actor=current_user, case_id=case_id, note_id=note_id,
                     pinned=request.form.get("pinned") == "1", now=now())
    return redirect(url_for("cases.show", case_id=case_id, tab=request.form.get("tab") or "notes"))


@bp.route("/cases/<id:case_id>/diagram")
@login_required
def diagram(case_id: int) -> Any:
    """The diagram of the version the case runs on (the case page draws it)."""
    found = process_catalogue.case_diagram(db_session(), actor=current_user, case_id=case_id)
    if found is None:
        abort(404)
    return Response(process_catalogue.source_text(found.version, found.diagram), mimetype="application/xml")


@bp.route("/cases/<id:case_id>/scores/compare")
@login_required
def compare_scores(case_id: int) -> Any:
    """Two scores of the case side by side (``a`` the earlier, ``b`` the later): what differs and why."""
    a, b = request.args.get("a", type=database_id), request.args.get("b", type=database_id)
    if a is None or b is None:
        abort(400)
    comparison = scores.compare_scores(db_session(), actor=current_user, case_id=case_id, a_id=a, b_id=b)
    return render_template("cases/compare.html", comparison=comparison)


def _letter(case_id: int) -> tuple[str, LetterText]:
    """The decision letter's words, in the language asked for (the household's) or the page's."""
    from webui import current_language

    lang = request.args.get("lang") if request.args.get("lang") in ("ar", "en") else current_language()
    found = explanations.decision_letter(db_session(), actor=current_user, case_id=case_id, lang=lang,
                                         today=local_date(now()), measure=current_measure())
    with force_locale(lang):
        return lang, letter_text(found, lang)


@bp.route("/cases/<id:case_id>/letter")
@login_required
def letter(case_id: int) -> Any:
    """The household's decision letter, printable; staff of the case's directorate only."""
    lang, text = _letter(case_id)
    return render_template("cases/letter.html", text=text, letter_lang=lang, case_id=case_id)


@bp.route("/cases/<id:case_id>/letter.pdf")
@login_required
def letter_pdf(case_id: int) -> Any:
    lang, text = _letter(case_id)
    try:
        pdf = letters.letter_pdf(text, font_dir=current_app.config.get("LETTER_FONT_DIR", letters.DEFAULT_FONT_DIR))
    except letters.FontsMissing as err:
        message = _("The letter cannot be made as a PDF: its fonts are not installed on the server (%(fonts)s, "
                    "Debian package fonts-dejavu-core). The printable page still works.", fonts=", ".join(err.missing))
        return render_template("error.html", status=503, message=message), 503
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="decision-{case_id}-{lang}.pdf"'
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/cases/<id:case_id>/reassign", methods=["POST"])
@login_required
def reassign(case_id: int) -> Any:
    try:
        cases.reassign_case(db_session(), actor=current_user, case_id=case_id,
                            case_manager_id=request.form.get("case_manager", type=database_id) or 0,
                            reason=request.form.get("reason", ""), now=now())
    except FormInvalid as err:
        flash(" ".join(m for messages in translate_errors(err.errors).values() for m in messages), "error")
    else:
        flash(_("The case and its waiting tasks now belong to the chosen case manager."), "success")
    return redirect(url_for("cases.show", case_id=case_id))


@bp.route("/cases/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    if current_user.role != "reception":
        abort(403)
    errors: dict[str, str] = {}
    national_id = ""
    if request.method == "POST":
        national_id = normalize_national_id(request.form.get("national_id", ""))
        consent = request.form.get("consent") == "1"
        if not national_id_is_valid(national_id):
            errors["national_id"] = _("This is not a valid national ID number (9 digits with a check digit).")
        else:
            try:
                case = cases.begin_registration(db_session(), actor=current_user, library=library(),
                                                national_id=national_id, consent=consent, now=now(),
                                                sources=ministry_sources())
            except DuplicateApplicant as err:
                # The existing case is named and linked only when it is in the user's own directorate.
                errors["national_id"] = describe(err)[1]
                return render_template("cases/new.html", errors=errors, national_id=national_id,
                                       existing_case_id=err.case_id), 409
            first = cases.first_task_for(db_session(), actor=current_user, case_id=case.id)
            if first is not None:
                return redirect(url_for("tasks.show", task_id=first.id))
            return redirect(url_for("cases.show", case_id=case.id))
    return render_template("cases/new.html", errors=errors, national_id=national_id), 422 if errors else 200


@bp.route("/documents/<id:document_id>")
@login_required
def document(document_id: int) -> Any:
    download = documents.open_document(db_session(), storage=document_storage(), actor=current_user,
                                       document_id=document_id)
    response = send_file(download.stream, mimetype=download.content_type, as_attachment=True,
                         download_name=download.name, conditional=False, etag=False)
    # Always a download, never rendered inline or sniffed: an uploaded file must not run in our origin.
    response.headers["Content-Disposition"] = download.content_disposition
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    return response


#: The preview's own policy: the file may be shown in a frame of our pages, and may load and run nothing.
PREVIEW_POLICY = "default-src 'none'; img-src 'self'; object-src 'self'; style-src 'unsafe-inline'; " \
                 "frame-ancestors 'self'"


@bp.route("/documents/<id:document_id>/preview")
@login_required
def preview_document(document_id: int) -> Any:
    """A PDF or an image shown in the page (inline), for staff of the case's directorate; anything else is a 404."""
    download = documents.open_document(db_session(), storage=document_storage(), actor=current_user,
                                       document_id=document_id)
    if download.content_type not in documents.PREVIEWABLE_TYPES:
        download.stream.close()
        abort(404)
    response = send_file(download.stream, mimetype=download.content_type, as_attachment=False,
                         download_name=download.name, conditional=False, etag=False)
    response.headers["Content-Disposition"] = download.content_disposition.replace("attachment", "inline", 1)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "SAMEORIGIN"
    response.headers["Content-Security-Policy"] = PREVIEW_POLICY
    return response

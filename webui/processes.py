"""For process analysts: the process catalogue, its versions, the editors, deploying."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from engine.catalog import OPERATIONS
from engine.errors import FormInvalid, NotFoundForActor, ProcessInvalid
from engine.forms import parse_form
from registry import process_catalogue, process_migration
from registry.vocabulary import current_vocabulary
from webui import CONTENT_SECURITY_POLICY
from webui.db import db_session, library, now
from webui.messages import translate_errors

bp = Blueprint("processes", __name__, url_prefix="/processes")

#: An upload or an edit names one file of a deployment: a diagram, a decision table, rule data or a form.
_EDITABLE = re.compile(r"^(processes/[a-z0-9_]+\.(bpmn|yaml)|rules/[a-z0-9_]+\.(dmn|yaml|csv)|forms/[a-z0-9_]+\.yaml)$")
MAX_FILE_BYTES = 2 * 1024 * 1024


def _editor_only() -> None:
    if current_user.role not in process_catalogue.EDITORS:
        abort(404)


@bp.route("/")
@login_required
def index() -> Any:
    _editor_only()
    processes = process_catalogue.catalogue(db_session(), actor=current_user, library=library())
    return render_template("processes/index.html", processes=processes)


@bp.post("/deploy-files")
@login_required
def deploy_files() -> Any:
    """Deploy the working files on the server's disk (the shipped files), as `processes deploy` does."""
    _editor_only()
    try:
        deployed = process_catalogue.deploy_files(db_session(), library=library(), actor=current_user, now=now())
    except ProcessInvalid as err:
        flash(_("Nothing was deployed: the files have %(count)s problem(s).", count=len(err.problems)), "error")
        return redirect(url_for("processes.index"))
    if deployed.created:
        flash(_("Version %(number)s is deployed; new cases start on it.", number=deployed.version.version), "success")
    else:
        flash(_("The files are those of version %(number)s already; nothing was deployed.",
                number=deployed.version.version), "success")
    return redirect(url_for("processes.index"))


@bp.route("/<process_id>/versions/<int:number>")
@login_required
def version(process_id: str, number: int) -> Any:
    _editor_only()
    session = db_session()
    found = process_catalogue.version_for(session, actor=current_user, process_id=process_id, number=number)
    return render_template("processes/version.html", **_version_page(found))


def _version_page(found: Any) -> dict[str, Any]:
    session = db_session()
    versions = process_catalogue.version_rows(session, found.process_id)
    return {"version": found, "versions": versions, "diagram": process_catalogue.diagram_name(found),
            "waiting": process_catalogue.waiting_per_task(session, found),
            "files": sorted(process_catalogue.stored_sources(found)),
            "newer": [row.version.version for row in versions if row.version.version > found.version]}


@bp.route("/<process_id>/versions/<int:number>/files/<path:name>")
@login_required
def source(process_id: str, number: int, name: str) -> Any:
    """One file of a deployed version, as text (the viewers and editors load diagrams from here)."""
    _editor_only()
    found = process_catalogue.version_for(db_session(), actor=current_user, process_id=process_id, number=number)
    text = process_catalogue.source_text(found, name)
    kind = "application/xml" if name.endswith((".bpmn", ".dmn")) else "text/plain"
    response = Response(text, mimetype=kind)
    if request.args.get("download"):
        response.headers["Content-Disposition"] = f"attachment; filename={name.rsplit('/', 1)[-1]}"
    return response


@bp.route("/<process_id>/edit")
@login_required
def edit(process_id: str) -> Any:
    """The editors (BPMN modeler, DMN editor, form and rule text) on the files of the latest version."""
    _editor_only()
    session = db_session()
    latest = process_catalogue.latest_version(session, process_id)
    if latest is None:
        flash(_("Deploy a first version before editing in the browser."), "error")
        return redirect(url_for("processes.index"))
    files = sorted(process_catalogue.stored_sources(latest))
    chosen = request.args.get("file") or process_catalogue.diagram_name(latest)
    if chosen not in files:
        abort(404)
    response = Response(render_template("processes/edit.html", version=latest, files=files, chosen=chosen,
                                        text=process_catalogue.source_text(latest, chosen),
                                        panel=_panel_choices(process_id, files) if chosen.endswith(".bpmn") else None))
    if chosen.endswith((".dmn", ".bpmn")):
        # dmn-js places the bpmn.io logo (which its licence keeps visible) with style attributes, and the BPMN
        # properties panel sizes its boxes with them; only those are allowed, on this page only (style elements and
        # scripts stay under the app's policy).
        response.headers["Content-Security-Policy"] = f"{CONTENT_SECURITY_POLICY}; style-src-attr 'unsafe-inline'"
    return response


def _panel_choices(process_id: str, files: list[str]) -> dict[str, Any]:
    """What the modeler's properties panel offers: the latest version's forms, the vocabulary's stages and lane
    roles (key and label in the user's language), the service operations, and the panel's words."""
    from webui import current_language

    lang = current_language()
    words = current_vocabulary(db_session(), library(), process_id)
    return {
        "forms": [name[len("forms/"):-len(".yaml")] for name in files
                  if name.startswith("forms/") and name.endswith(".yaml")],
        "stages": [[key, words.label("stage", key, lang)] for key in words.keys("stages")],
        "roles": [[key, words.label("role", key, lang)] for key in words.keys("roles") if key in words.lane_roles],
        "operations": sorted(OPERATIONS),
        "texts": _panel_texts(),
    }


def _panel_texts() -> dict[str, str]:
    """The properties panel's words by their English text (the panel's own and ours), in the user's language."""
    return {
        # Groups and entries of our properties.
        "Task": _("Task"), "Form": _("Form"), "Stage": _("Stage"), "Due in": _("Due in"), "Due date": _("Due date"),
        "Assignee": _("Assignee"), "Condition": _("Condition"), "Default flow": _("Default flow"),
        "Taken when no condition holds": _("Taken when no condition holds"), "Service": _("Service"),
        "Operation": _("Operation"), "Result variable": _("Result variable"), "Parameters": _("Parameters"),
        "Value (an expression)": _("Value (an expression)"), "Role (the lane's name)": _("Role (the lane's name)"),
        "(none)": _("(none)"),
        "An ISO 8601 duration, for example P2D (two days) or PT4H (four hours).":
            _("An ISO 8601 duration, for example P2D (two days) or PT4H (four hours)."),
        "An expression giving a date, for example plan_end_date.":
            _("An expression giving a date, for example plan_end_date."),
        "An expression giving a user id, for example case_manager_id.":
            _("An expression giving a user id, for example case_manager_id."),
        'An expression over the task data, for example decision == "approve".':
            _('An expression over the task data, for example decision == "approve".'),
        "The data name that keeps what the operation returns.":
            _("The data name that keeps what the operation returns."),
        # The base panel's words.
        "General": _("General"), "Name": _("Name"), "ID": _("ID"), "Documentation": _("Documentation"),
        "Element documentation": _("Element documentation"), "Process documentation": _("Process documentation"),
        "Executable": _("Executable"), "Process name": _("Process name"), "Process ID": _("Process ID"),
        "Create new list item": _("Add"), "Create": _("Add"), "Delete item": _("Delete"),
        "Toggle section": _("Show or hide"), "Toggle list item": _("Show or hide"),
        "ID must not be empty.": _("ID must not be empty."), "ID must be unique.": _("ID must be unique."),
        "ID must not contain spaces.": _("ID must not contain spaces."),
        "ID must be a valid QName.": _("ID must be a valid QName."),
        "Select an element to edit its properties.": _("Select an element to edit its properties."),
        # Element kinds, as the panel's header names them.
        "User Task": _("User task"), "Service Task": _("Service task"), "Sequence Flow": _("Sequence flow"),
        "Conditional Flow": _("Conditional flow"), "Default Flow": _("Default flow"),
        "Exclusive Gateway": _("Exclusive gateway"), "Parallel Gateway": _("Parallel gateway"), "Lane": _("Lane"),
        "Participant": _("Pool"), "Start Event": _("Start event"), "End Event": _("End event"),
        "Process": _("Process"), "Collaboration": _("Collaboration"),
    }


def _posted_file() -> tuple[str, bytes]:
    """The file an editor sends: JSON ``{"file", "text"}``, or a form upload (``file`` and the picked file)."""
    if request.is_json:
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("file"), str) or not isinstance(body.get("text"), str):
            raise _Refused(_("Send the file's name and its text."))
        name, data = body["file"], body["text"].encode("utf-8")
    else:
        upload = request.files.get("upload")
        if upload is None or not upload.filename:
            raise _Refused(_("Choose a .bpmn, .dmn or form file to upload."))
        data = upload.read(MAX_FILE_BYTES + 1)
        name = _upload_target(upload.filename)
    if not _EDITABLE.match(name):
        raise _Refused(_("%(name)s is not a diagram, decision table, rule or form file name.", name=name))
    if len(data) > MAX_FILE_BYTES:
        raise _Refused(_("The file is larger than 2 MB."))
    return name, data


def _upload_target(filename: str) -> str:
    """Where an uploaded file goes, by its extension (a .yaml upload replaces the form of the same name)."""
    base = filename.replace("\\", "/").rsplit("/", 1)[-1].lower()
    if base.endswith(".bpmn"):
        return f"processes/{base}"
    if base.endswith(".dmn"):
        return f"rules/{base}"
    folder = request.form.get("folder", "forms")
    return f"{folder if folder in ('forms', 'rules', 'processes') else 'forms'}/{base}"


class _Refused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _element_names(text: str) -> dict[str, str | None]:
    """Element ids of a BPMN or DMN text and their names, to point each problem at its element."""
    found: dict[str, str | None] = {}
    for tag in re.finditer(r"<(?:bpmn:|dmn:)?\w+\s[^>]*>", text):
        ident = re.search(r'\bid="([^"]+)"', tag.group(0))
        if ident:
            name = re.search(r'\bname="([^"]*)"', tag.group(0))
            found[ident.group(1)] = name.group(1) if name else None
    return found


def _problems_json(report: dict[str, list[str]], name: str, text: str) -> list[dict[str, Any]]:
    elements = _element_names(text) if name.endswith((".bpmn", ".dmn")) else {}
    processes = set(re.findall(r'<(?:bpmn:)?process\s[^>]*\bid="([^"]+)"', text))
    listed = []
    for file, problems in sorted(report.items()):
        for problem in problems:
            element = _first_element(problem, elements, processes) if file == name else None
            listed.append({"file": file, "element": element, "name": elements.get(element) if element else None,
                           "message": problem})
    return listed


def _first_element(problem: str, elements: dict[str, str | None], processes: set[str]) -> str | None:
    """The element a check message is about: the first id it names after its process (the longest at a tie)."""
    found = [(match.start(), -len(ident), ident) for ident in elements
             for match in re.finditer(rf"(?<![\w-]){re.escape(ident)}(?![\w-])", problem)]
    named = sorted(f for f in found if f[2] not in processes) or sorted(found)
    return named[0][2] if named else None


@bp.post("/<process_id>/check")
@login_required
def check(process_id: str) -> Any:
    """What the checks say of the latest version with one file changed; nothing is stored."""
    _editor_only()
    try:
        name, data = _posted_file()
    except _Refused as err:
        return jsonify({"ok": False, "problems": [{"file": None, "element": None, "name": None,
                                                    "message": err.message}]}), 400
    report = process_catalogue.check_draft(db_session(), library=library(), process_id=process_id,
                                           changed={name: data})
    problems = _problems_json(report, name, data.decode("utf-8", "replace"))
    return jsonify({"ok": not problems, "problems": problems}), (422 if problems else 200)


@bp.post("/<process_id>/deploy")
@login_required
def deploy(process_id: str) -> Any:
    """Deploy the latest version with one file changed (from an editor or an upload), after every check."""
    _editor_only()
    if process_id not in process_catalogue.PROCESSES:
        abort(404)
    uploading = not request.is_json
    try:
        name, data = _posted_file()
    except _Refused as err:
        if uploading:
            flash(err.message, "error")
            return redirect(url_for("processes.edit", process_id=process_id))
        return jsonify({"ok": False, "problems": [{"file": None, "element": None, "name": None,
                                                    "message": err.message}]}), 400
    try:
        deployed = process_catalogue.deploy_draft(db_session(), library=library(), process_id=process_id,
                                                  changed={name: data}, actor=current_user, now=now(),
                                                  origin="upload" if uploading else "browser")
    except ProcessInvalid as err:
        report: dict[str, list[str]] = {}
        for problem in err.problems:
            file, _sep, message = problem.partition(": ")
            report.setdefault(file, []).append(message)
        problems = _problems_json(report, name, data.decode("utf-8", "replace"))
        if uploading:
            flash(_("Nothing was deployed: the files have %(count)s problem(s).", count=len(problems)), "error")
            return render_template("processes/problems.html", problems=problems, process_id=process_id), 422
        return jsonify({"ok": False, "problems": problems}), 422
    number = deployed.version.version
    url = url_for("processes.version", process_id=process_id, number=number)
    if uploading:
        flash(_("Version %(number)s is deployed; new cases start on it.", number=number) if deployed.created
              else _("The files are those of version %(number)s already; nothing was deployed.", number=number),
              "success")
        return redirect(url)
    return jsonify({"ok": True, "problems": [], "created": deployed.created,
                    "version": {"version": number, "url": url}})


@bp.post("/forms/preview")
@login_required
def form_preview() -> Any:
    """A form file's text rendered as staff will see it, in the language asked for (the form editor's preview)."""
    _editor_only()
    lang = request.args.get("lang") if request.args.get("lang") in ("ar", "en") else "ar"
    body = request.get_json(silent=True)
    text = body.get("text") if isinstance(body, dict) else None
    if not isinstance(text, str):
        return jsonify({"error": _("Send the form's text.")}), 400
    with force_locale(lang):
        try:
            form = parse_form("preview", text, "forms/preview.yaml")
        except Exception as err:  # any mistake in the text is shown to the analyst, never a server error
            return render_template("processes/_form_preview.html", form=None, error=str(err), lang=lang,
                                   dir="rtl" if lang == "ar" else "ltr")
        return render_template("processes/_form_preview.html", form=form, error=None, lang=lang,
                               dir="rtl" if lang == "ar" else "ltr")


@bp.post("/<process_id>/versions/<int:number>/migrate")
@login_required
def migrate(process_id: str, number: int) -> Any:
    """Move the running cases of this version (or the chosen ones) to a newer version: a dry run, then the move."""
    _editor_only()
    session = db_session()
    found = process_catalogue.version_for(session, actor=current_user, process_id=process_id, number=number)
    target = request.form.get("to", type=int)
    chosen = [int(part) for part in re.findall(r"\d+", request.form.get("cases", ""))] or None
    apply = request.form.get("action") == "apply"
    report, message = None, None
    try:
        if target is None:
            raise FormInvalid({"to": ["required"]})
        if apply:
            report = process_migration.migrate_cases(session, actor=current_user, to_version=target, now=now(),
                                                     case_ids=chosen, from_version=None if chosen else number,
                                                     library=library(), process_id=process_id)
            flash(_("%(count)s case(s) moved to version %(number)s.", count=len(report.moved), number=target),
                  "success")
        else:
            report = process_migration.plan_migration(session, actor=current_user, to_version=target,
                                                      case_ids=chosen, from_version=None if chosen else number,
                                                      process_id=process_id)
    except process_migration.CasesCannotMove as err:
        report, message = err.report, _("Some of the chosen cases cannot move, so none moved.")
    except FormInvalid as err:
        message = " ".join(m for messages in translate_errors(err.errors).values() for m in messages)
    return render_template("processes/version.html", **_version_page(found), report=report, message=message,
                           chosen_target=target, chosen_cases=request.form.get("cases", ""))


@bp.errorhandler(NotFoundForActor)
def _not_found(_error: Exception) -> Any:
    # A 404 raised here would not reach the app's 404 page (an error handler's own error is a 500): drawn directly.
    return render_template("error.html", message=_("Not found."), status=404), 404

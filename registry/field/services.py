"""What a phone downloads for the day, what it sends back, and how a conflicting send is resolved.

A submission is written (with its files) before the visit is touched, in a transaction of its own: whatever
happens next (a conflict, refused values, a crash) the typed values are kept. Applying it marks it applied in
the very transaction that completes the visit, so a second send under the same key is answered from the row
and never completes the visit twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from engine.catalog import CHOICE_PROVIDERS
from engine.errors import FormInvalid, NotFoundForActor
from engine.forms import FieldDef, FormDef, load_form
from engine.library import Library
from registry import documents, idempotency
from registry.audit import record_event
from registry.campaigns.allocation import todays_visits
from registry.campaigns.household_data import household_form_data
from registry.campaigns.models import Visit, VisitOutcome
from registry.campaigns.services import VisitConflict, VisitResult, complete_visit, visit_for_actor
from registry.errors import NotPermitted, RegistryError
from registry.field.models import Resolution, SubmissionState, VisitSubmission
from registry.models import Household, Role, User

#: The forms a visit is filled in with on the phone: the visit's outcome, then the registration form's
#: questions (the same as registration) when the household was found and took part.
OUTCOME_FORM = "visit_outcome"
DETAILS_FORM = "registration"
#: Files a phone may send with one visit (photos of the dwelling, documents), each checked by its content.
FILE_FIELD = "attachments"
NOTE_FIELD = "visit_note"
MAX_FILES = 10
#: How many days ahead a phone may download (today and tomorrow: a visit planned for the early morning).
MAX_DAYS = 2


# --- the day's download ----------------------------------------------------------------------------

def household_values(household: Household) -> dict[str, Any]:
    """The household's current data under the registration form's field names (what the form starts from)."""
    return household_form_data(household)


@dataclass(frozen=True)
class DownloadedVisit:
    visit: Visit
    values: dict[str, Any]


@dataclass(frozen=True)
class Download:
    day: dt.date
    visits: list[DownloadedVisit]
    #: Each form with its choices resolved for the actor's directorate: {form key: (form, {field: [(value, label)]})}.
    forms: dict[str, tuple[FormDef, dict[str, list[tuple[str, dict[str, str]]]]]]


def _choices(session: Session, form: FormDef, scope: str) -> dict[str, list[tuple[str, dict[str, str]]]]:
    found: dict[str, list[tuple[str, dict[str, str]]]] = {}

    def walk(defs: Sequence[FieldDef], prefix: str) -> None:
        for f in defs:
            if f.choices_from:
                found[prefix + f.name] = CHOICE_PROVIDERS[f.choices_from](session, scope)
            walk(f.fields, f"{prefix}{f.name}.")

    walk(form.fields, "")
    return found


def visit_forms(session: Session, *, library: Library, scope: str) -> dict[str, tuple[FormDef, dict[str, Any]]]:
    forms = {key: load_form(library.forms_dir, key) for key in (OUTCOME_FORM, DETAILS_FORM)}
    return {key: (form, _choices(session, form, scope)) for key, form in forms.items()}


def day_download(session: Session, *, actor: User, library: Library, day: dt.date, days: int = 1) -> Download:
    """The actor's visits for ``day`` (and the days after, up to MAX_DAYS), with their households and forms."""
    visits: list[Visit] = []
    for offset in range(max(1, min(days, MAX_DAYS))):
        visits += todays_visits(session, actor=actor, day=day + dt.timedelta(days=offset))
    ids = [v.household_id for v in visits]
    households = {h.id: h for h in session.scalars(select(Household).options(selectinload(Household.members))
                                                    .where(Household.id.in_(ids)))} if ids else {}
    scope = actor.directorate.code if actor.directorate is not None else ""
    return Download(day=day, visits=[DownloadedVisit(v, household_values(households[v.household_id]))
                                     for v in visits],
                    forms=visit_forms(session, library=library, scope=scope) if visits else {})


# --- a phone's send ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class IncomingFile:
    field: str
    name: str
    content: bytes


@dataclass
class SubmissionAnswer:
    """What the phone is told: a status and a body, the same for every send under one key."""

    status: int
    body: dict[str, Any]
    submission_id: int | None = None
    replayed: bool = False


def _checked_files(files: Sequence[IncomingFile]) -> list[tuple[IncomingFile, str]]:
    """Every file's type judged by its content (as every other upload); one bad file refuses the send."""
    if len(files) > MAX_FILES:
        raise FormInvalid({FILE_FIELD: ["too_many_items"]})
    checked: list[tuple[IncomingFile, str]] = []
    errors: list[str] = []
    for item in files:
        if item.field != FILE_FIELD:
            raise FormInvalid({"files": ["invalid"]})
        try:
            checked.append((item, documents.detect_type(item.content)))
        except documents.UploadRefused as refused:
            errors.append(refused.code)
    if errors:
        raise FormInvalid({FILE_FIELD: list(dict.fromkeys(errors))})
    return checked


def _store_files(storage: documents.DocumentStorage | None,
                 files: list[tuple[IncomingFile, str]]) -> list[dict[str, Any]]:
    stored = []
    for item, mime in files:
        digest = hashlib.sha256(item.content).hexdigest()
        if storage is None:
            raise RuntimeError("a file was sent but no document storage was given")
        storage.put(digest, item.content)
        stored.append({"field": item.field, "name": documents.safe_name(item.name, content_type=mime),
                       "content_type": mime, "size": len(item.content), "sha256": digest})
    return stored


def request_digest(*, visit_id: int, base_version: int, outcome: str, data: Mapping[str, Any],
                   files: Sequence[IncomingFile]) -> str:
    return idempotency.request_digest("POST", f"visits/{visit_id}/submission", [
        base_version, outcome, data, sorted((f.field, f.name, hashlib.sha256(f.content).hexdigest()) for f in files)])


def _previous(session: Session, *, actor: User, key: str, request_hash: str) -> VisitSubmission | None:
    row = session.scalar(select(VisitSubmission).where(VisitSubmission.user_id == actor.id,
                                                       VisitSubmission.idempotency_key == key))
    if row is not None and row.request_hash != request_hash:
        raise idempotency.KeyReused(key)
    return row


def _answered(row: VisitSubmission, *, replayed: bool) -> SubmissionAnswer:
    assert row.answer_status is not None and row.answer is not None
    return SubmissionAnswer(status=row.answer_status, body=row.answer, submission_id=row.id, replayed=replayed)


def _complete(session: Session, *, actor: User, library: Library, row: VisitSubmission, base_version: int,
              now: dt.datetime) -> VisitResult:
    """Complete the visit with what was sent: the note apart, the rest the registration form's answers."""
    data = {name: value for name, value in row.payload.items() if name not in (NOTE_FIELD, FILE_FIELD)}
    note = row.payload.get(NOTE_FIELD)
    return complete_visit(session, actor=actor, library=library, visit_id=row.visit_id, outcome=row.outcome,
                          data=data, base_version=base_version, now=now,
                          note=note if isinstance(note, str) else None)


def submit_visit(session: Session, *, actor: User, library: Library, storage: documents.DocumentStorage | None,
                 visit_id: int, key: str, base_version: int, outcome: str, data: Mapping[str, Any],
                 files: Sequence[IncomingFile], now: dt.datetime) -> SubmissionAnswer:
    """Keep what the phone sent, then complete the visit with it; a conflict is kept for a person to resolve."""
    if not idempotency.key_is_valid(key):
        raise FormInvalid({"Idempotency-Key": ["invalid"]})
    visit = visit_for_actor(session, actor=actor, visit_id=visit_id)
    if outcome not in {o.value for o in VisitOutcome}:
        raise FormInvalid({"outcome": ["invalid_choice"]})
    digest = request_digest(visit_id=visit.id, base_version=base_version, outcome=outcome, data=data, files=files)
    row = _previous(session, actor=actor, key=key, request_hash=digest)
    if row is not None and row.answer_status is not None:
        return _answered(row, replayed=True)
    if row is None:
        checked = _checked_files(files)
        row = VisitSubmission(visit_id=visit.id, user_id=actor.id, idempotency_key=key, request_hash=digest,
                              base_version=base_version, outcome=outcome, payload=dict(data),
                              files=_store_files(storage, checked), received_at=now,
                              state=SubmissionState.PENDING.value, differences={})
        session.add(row)
        try:
            session.commit()  # kept before anything else happens: nothing typed is lost
        except IntegrityError:
            session.rollback()  # a twin send under the same key won the race: answer as it did
            row = _previous(session, actor=actor, key=key, request_hash=digest)
            if row is None:
                raise
    return _apply(session, actor=actor, library=library, row=row, base_version=base_version, now=now)


def _lock(session: Session, row_id: int) -> VisitSubmission:
    row = session.scalar(select(VisitSubmission).where(VisitSubmission.id == row_id)
                         .with_for_update().execution_options(populate_existing=True))
    assert row is not None
    return row


def _apply(session: Session, *, actor: User, library: Library, row: VisitSubmission, base_version: int,
           now: dt.datetime) -> SubmissionAnswer:
    row_id = row.id
    row = _lock(session, row_id)  # a twin send waits here and then finds the answer
    if row.answer_status is not None:
        return _answered(row, replayed=True)
    row.state = SubmissionState.APPLIED.value
    row.answer_status, row.answer = 200, {"state": SubmissionState.APPLIED.value, "submission_id": row.id,
                                          "visit_id": row.visit_id}
    try:
        # The visit's service commits: the submission is marked applied in the same transaction.
        _complete(session, actor=actor, library=library, row=row, base_version=base_version, now=now)
    except (VisitConflict, NotPermitted) as refused:
        # Reassigned, already done, the household changed: kept for the case manager and the supervisor.
        session.rollback()
        row = _lock(session, row_id)
        differences = conflict_differences(refused)
        row.state, row.differences = SubmissionState.CONFLICT.value, differences
        row.answer_status, row.answer = 409, {"state": SubmissionState.CONFLICT.value, "submission_id": row.id,
                                              "visit_id": row.visit_id, "differences": differences}
        record_event(session, actor_id=actor.id, case_id=None, action="visit_submission_conflict", at=now,
                     details={"visit_id": row.visit_id, "submission_id": row.id, "differences": differences})
        session.commit()
        return _answered(row, replayed=False)
    except FormInvalid as invalid:
        session.rollback()
        row = _lock(session, row_id)
        row.state, row.differences = SubmissionState.REFUSED.value, {"errors": invalid.errors}
        row.answer_status, row.answer = 422, {"state": SubmissionState.REFUSED.value, "submission_id": row.id,
                                              "codes": invalid.errors}
        session.commit()
        return _answered(row, replayed=False)
    except BaseException:
        session.rollback()  # kept as pending: a retry under the same key tries again
        raise
    return _answered(row, replayed=False)


def conflict_differences(refused: Exception) -> dict[str, Any]:
    """What changed since the download, as the visit's service found it (JSON)."""
    if isinstance(refused, VisitConflict):
        return {"changes": _jsonable(refused.differences), "current_version": refused.current_version}
    return {"changes": [{"kind": "not_permitted"}], "current_version": None}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "__dataclass_fields__"):
        return {name: _jsonable(getattr(value, name)) for name in value.__dataclass_fields__}
    return str(value)


# --- conflicts: seen and resolved by the case manager and the directorate's supervisor --------------------

def _may_see(actor: User, row: VisitSubmission) -> bool:
    if actor.role == Role.SUPERVISOR.value:
        return actor.directorate_id is not None and row.visit.directorate_id == actor.directorate_id
    return row.user_id == actor.id


def conflicts_for_actor(session: Session, *, actor: User, include_resolved: bool = False) -> list[VisitSubmission]:
    """Sends in conflict the actor may resolve: their own, or (a supervisor) their directorate's."""
    states = [SubmissionState.CONFLICT.value] + ([SubmissionState.RESOLVED.value] if include_resolved else [])
    query = (select(VisitSubmission).join(Visit, Visit.id == VisitSubmission.visit_id)
             .where(VisitSubmission.state.in_(states)).order_by(VisitSubmission.received_at.desc()).limit(200))
    if actor.role == Role.SUPERVISOR.value:
        if actor.directorate_id is None:
            return []
        query = query.where(Visit.directorate_id == actor.directorate_id)
    else:
        query = query.where(VisitSubmission.user_id == actor.id)
    return list(session.scalars(query))


@dataclass(frozen=True)
class ConflictView:
    submission: VisitSubmission
    #: (field name, the household's value now, the value typed offline), every field the phone sent.
    rows: list[tuple[str, Any, Any]]
    form: FormDef

    @property
    def changed(self) -> list[tuple[str, Any, Any]]:
        return [row for row in self.rows if not _same(row[1], row[2])]

    @property
    def same(self) -> list[tuple[str, Any, Any]]:
        return [row for row in self.rows if _same(row[1], row[2])]


def _same(current: Any, offline: Any) -> bool:
    """Equal values, an empty list, an empty text and no value being the same."""
    return current == offline or (current in (None, "", []) and offline in (None, "", []))


def conflict_view(session: Session, *, actor: User, library: Library, submission_id: int) -> ConflictView:
    row = session.get(VisitSubmission, submission_id)
    if row is None or not _may_see(actor, row):
        raise NotFoundForActor(submission_id)
    current = household_values(row.visit.household)
    rows = [(name, current.get(name), value) for name, value in row.payload.items() if name != "members"]
    return ConflictView(submission=row, rows=rows, form=load_form(library.forms_dir, DETAILS_FORM))


class AlreadyResolved(RegistryError):
    """The send is no longer in conflict: someone applied or discarded it meanwhile."""


def _open_conflict(session: Session, *, actor: User, submission_id: int) -> VisitSubmission:
    row = session.get(VisitSubmission, submission_id)
    if row is None or not _may_see(actor, row):
        raise NotFoundForActor(submission_id)
    row = _lock(session, row.id)
    if row.state != SubmissionState.CONFLICT.value:
        session.rollback()
        raise AlreadyResolved(str(submission_id))
    return row


def apply_conflict(session: Session, *, actor: User, library: Library, submission_id: int,
                   now: dt.datetime) -> VisitSubmission:
    """Apply the offline values over the current ones, from the visit's current version; audited."""
    row = _open_conflict(session, actor=actor, submission_id=submission_id)
    row.state, row.resolution = SubmissionState.RESOLVED.value, Resolution.APPLIED.value
    row.resolved_by_id, row.resolved_at = actor.id, now
    record_event(session, actor_id=actor.id, case_id=None, action="visit_submission_applied", at=now,
                 details={"visit_id": row.visit_id, "submission_id": row.id, "by_sender": row.user_id == actor.id})
    visit = row.visit
    # Over the current values: the household as it is now is the version the values are applied to.
    visit.updated_at = max(visit.updated_at, now)
    session.flush()
    try:  # the visit's service commits the resolution with the visit's completion
        # The values are the sender's: the visit is completed as theirs, the resolution names who applied it.
        _complete(session, actor=row.user, library=library, row=row, base_version=visit.lock_version, now=now)
    except BaseException:
        session.rollback()
        raise
    return row


def discard_conflict(session: Session, *, actor: User, submission_id: int, now: dt.datetime) -> VisitSubmission:
    """Keep the current values; the send stays on record as discarded; audited."""
    row = _open_conflict(session, actor=actor, submission_id=submission_id)
    row.state, row.resolution = SubmissionState.RESOLVED.value, Resolution.DISCARDED.value
    row.resolved_by_id, row.resolved_at = actor.id, now
    record_event(session, actor_id=actor.id, case_id=None, action="visit_submission_discarded", at=now,
                 details={"visit_id": row.visit_id, "submission_id": row.id})
    session.commit()
    return row

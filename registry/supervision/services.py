"""Supervision notes and sessions, readable only by the directorate's supervisors and the case manager concerned.

A note is about one case manager's work: on one of their cases, from a supervision session, or in general.
Supervisors write them; the case manager reads them. Reception, other case managers, other directorates,
citizens and partners never see one: for them a note, a session or a member's page does not exist (404).
Audit events name the note or session but never copy its text, since a case's history is open to every
staff member of the directorate.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from registry.audit import record_event
from registry.cases import case_for_actor
from registry.errors import NotPermitted
from registry.models import Case, Role, User
from registry.supervision.models import SupervisionNote, SupervisionSession
from registry.supervision.team import team_members
from registry.transactions import unit_of_work

MAX_NOTE_CHARS = 4000
MAX_AGENDA_CHARS = 2000
MAX_TOKEN_CHARS = 64
NOTES_SHOWN = 50
SESSIONS_SHOWN = 50




def _checked(text: object, name: str, limit: int) -> str:
    if not isinstance(text, str) or not text.strip():
        raise FormInvalid({name: ["required"]})
    cleaned = text.strip().replace("\r\n", "\n")
    if len(cleaned) > limit:
        raise FormInvalid({name: ["too_long"]})
    return cleaned


def is_supervisor_of(actor: User, directorate_id: int | None) -> bool:
    return actor.role == Role.SUPERVISOR.value and directorate_id is not None \
        and actor.directorate_id == directorate_id


def _member(session: Session, *, actor: User, member_id: int) -> User:
    """A case manager whose supervision the actor may read: their own, or any of the team for its supervisor."""
    if actor.id == member_id and actor.role == Role.CASE_MANAGER.value:
        return actor
    if actor.role == Role.SUPERVISOR.value and actor.directorate_id is not None:
        for member in team_members(session, directorate_id=actor.directorate_id):
            if member.id == member_id:
                return member
    raise NotFoundForActor(str(member_id))


def _supervisor(actor: User) -> int:
    if actor.role != Role.SUPERVISOR.value or actor.directorate_id is None:
        raise NotPermitted("only supervisors write supervision notes and plan sessions")
    return actor.directorate_id


def _session_for(session: Session, *, actor: User, session_id: int) -> SupervisionSession:
    found = session.get(SupervisionSession, session_id)
    if found is None or not (is_supervisor_of(actor, found.directorate_id) or found.case_manager_id == actor.id):
        raise NotFoundForActor(str(session_id))
    return found


# --- notes --------------------------------------------------------------------------------------------

def add_note(session: Session, *, actor: User, text: object, now: dt.datetime, case_id: int | None = None,
             member_id: int | None = None, session_id: int | None = None,
             form_token: str | None = None) -> SupervisionNote:
    """A supervisor's note on a case (about its case manager's work), from a session, or on a case manager's
    work in general; the same ``form_token`` twice returns the first note."""
    directorate_id = _supervisor(actor)
    token = (form_token or "").strip()[:MAX_TOKEN_CHARS] or None
    cleaned = _checked(text, "text", MAX_NOTE_CHARS)
    try:
        with unit_of_work(session):
            case: Case | None = None
            sitting: SupervisionSession | None = None
            if case_id is not None:
                case = case_for_actor(session, actor=actor, case_id=case_id)
                if case.case_manager_id is None:
                    raise FormInvalid({"text": ["no_case_manager"]})
                manager_id = case.case_manager_id
            elif session_id is not None:
                sitting = _session_for(session, actor=actor, session_id=session_id)
                manager_id = sitting.case_manager_id
            elif member_id is not None:
                manager_id = _member(session, actor=actor, member_id=member_id).id
            else:
                raise FormInvalid({"text": ["required"]})
            if token is not None:
                earlier = session.scalar(select(SupervisionNote).where(SupervisionNote.form_token == token))
                if earlier is not None:
                    return earlier
            note = SupervisionNote(directorate_id=directorate_id, case_manager_id=manager_id,
                                   case_id=case.id if case else None, session_id=sitting.id if sitting else None,
                                   author_id=actor.id, text=cleaned, created_at=now, form_token=token)
            session.add(note)
            session.flush()
            record_event(session, actor_id=actor.id, case_id=None, action="supervision_note_added", at=now,
                         details={"note": note.id, "case": note.case_id, "case_manager": manager_id,
                                  "session": note.session_id})
    except IntegrityError:  # the same form sent twice at the same moment
        earlier = session.scalar(select(SupervisionNote).where(SupervisionNote.form_token == token)) if token else None
        if earlier is None:
            raise
        return earlier
    return note


@dataclass
class Notes:
    notes: list[SupervisionNote]
    total: int


def _newest(session: Session, *where: ColumnElement[bool], limit: int) -> Notes:
    newest = SupervisionNote.created_at.desc(), SupervisionNote.id.desc()
    notes = list(session.scalars(select(SupervisionNote).where(*where).order_by(*newest).limit(limit)))
    total = len(notes) if len(notes) < limit else int(session.scalar(
        select(func.count()).select_from(SupervisionNote).where(*where)) or 0)
    return Notes(notes=notes, total=total)


def case_supervision_notes(session: Session, *, actor: User, case_id: int,
                           limit: int = NOTES_SHOWN) -> Notes | None:
    """The supervision notes of a case the actor may open: all of them for its directorate's supervisors,
    a case manager's own for them; None for anyone else (the case page then shows no such panel)."""
    case = case_for_actor(session, actor=actor, case_id=case_id)
    if is_supervisor_of(actor, case.directorate_id):
        return _newest(session, SupervisionNote.case_id == case.id, limit=limit)
    if actor.role == Role.CASE_MANAGER.value:
        mine = _newest(session, SupervisionNote.case_id == case.id, SupervisionNote.case_manager_id == actor.id,
                       limit=limit)
        return mine if mine.total or case.case_manager_id == actor.id else None
    return None


# --- sessions -----------------------------------------------------------------------------------------

def schedule_session(session: Session, *, actor: User, member_id: int, scheduled_at: dt.datetime | None,
                     agenda: object, now: dt.datetime) -> SupervisionSession:
    """Plan a supervision session with a case manager of the supervisor's team; audited."""
    directorate_id = _supervisor(actor)
    errors: dict[str, list[str]] = {}
    if scheduled_at is None:
        errors["scheduled_at"] = ["required"]
    try:
        cleaned = _checked(agenda, "agenda", MAX_AGENDA_CHARS)
    except FormInvalid as err:
        errors.update(err.errors)
    if errors:
        raise FormInvalid(errors)
    assert scheduled_at is not None
    with unit_of_work(session):
        member = _member(session, actor=actor, member_id=member_id)
        sitting = SupervisionSession(directorate_id=directorate_id, case_manager_id=member.id,
                                     supervisor_id=actor.id, scheduled_at=scheduled_at, agenda=cleaned,
                                     created_at=now)
        session.add(sitting)
        session.flush()
        record_event(session, actor_id=actor.id, case_id=None, action="supervision_session_scheduled", at=now,
                     details={"session": sitting.id, "case_manager": member.id,
                              "scheduled_at": scheduled_at.isoformat()})
    return sitting


@dataclass
class MemberSupervision:
    """A case manager's supervision as they and their supervisors see it."""

    member: User
    notes: Notes
    sessions: list[SupervisionSession]


def member_supervision(session: Session, *, actor: User, member_id: int) -> MemberSupervision:
    """The notes on a case manager's work (newest first) and their sessions (latest first), bounded."""
    member = _member(session, actor=actor, member_id=member_id)
    sessions = list(session.scalars(
        select(SupervisionSession).where(SupervisionSession.case_manager_id == member.id)
        .order_by(SupervisionSession.scheduled_at.desc(), SupervisionSession.id.desc()).limit(SESSIONS_SHOWN)))
    return MemberSupervision(member=member, notes=_newest(session, SupervisionNote.case_manager_id == member.id,
                                                          limit=NOTES_SHOWN), sessions=sessions)


@dataclass
class SessionView:
    sitting: SupervisionSession
    notes: Notes


def session_view(session: Session, *, actor: User, session_id: int) -> SessionView:
    """A supervision session with its notes, for the directorate's supervisors and its case manager."""
    sitting = _session_for(session, actor=actor, session_id=session_id)
    return SessionView(sitting=sitting, notes=_newest(session, SupervisionNote.session_id == sitting.id,
                                                      limit=NOTES_SHOWN))


def team_sessions(session: Session, *, actor: User, now: dt.datetime, limit: int = SESSIONS_SHOWN,
                  ) -> list[SupervisionSession]:
    """The directorate's coming sessions (soonest first) for a supervisor; a case manager's own for them."""
    query = select(SupervisionSession).where(SupervisionSession.scheduled_at >= now - dt.timedelta(hours=12))
    if actor.role == Role.SUPERVISOR.value and actor.directorate_id is not None:
        query = query.where(SupervisionSession.directorate_id == actor.directorate_id)
    elif actor.role == Role.CASE_MANAGER.value:
        query = query.where(SupervisionSession.case_manager_id == actor.id)
    else:
        return []
    return list(session.scalars(query.order_by(SupervisionSession.scheduled_at, SupervisionSession.id)
                                .limit(limit)))

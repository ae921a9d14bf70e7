"""Case notes: any staff user of the case's directorate writes one at any time, and may pin it to the summary.

Each public function is one unit of work; a note and its audit event commit together.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import FormInvalid, NotFoundForActor
from registry.audit import record_event
from registry.cases import case_for_actor
from registry.models import CaseNote, User
from registry.transactions import unit_of_work

#: Long enough for a visit's account, short enough that the history stays readable.
MAX_NOTE_CHARS = 4000
MAX_TOKEN_CHARS = 64
NOTES_SHOWN = 50
PINNED_SHOWN = 5




def _checked_text(text: object) -> str:
    if not isinstance(text, str) or not text.strip():
        raise FormInvalid({"text": ["required"]})
    cleaned = text.strip().replace("\r\n", "\n")
    if len(cleaned) > MAX_NOTE_CHARS:
        raise FormInvalid({"text": ["too_long"]})
    return cleaned


def add_note(session: Session, *, actor: User, case_id: int, text: object, now: dt.datetime,
             form_token: str | None = None) -> CaseNote:
    """Add a note to a case the actor may see; the same ``form_token`` twice returns the first note."""
    token = (form_token or "").strip()[:MAX_TOKEN_CHARS] or None
    cleaned = _checked_text(text)
    try:
        with unit_of_work(session):
            case = case_for_actor(session, actor=actor, case_id=case_id)
            if token is not None:
                earlier = session.scalar(select(CaseNote).where(CaseNote.form_token == token))
                if earlier is not None:
                    if earlier.case_id != case.id:
                        raise NotFoundForActor(str(case_id))
                    return earlier
            note = CaseNote(case_id=case.id, author_id=actor.id, text=cleaned, created_at=now, form_token=token)
            session.add(note)
            session.flush()
            record_event(session, actor_id=actor.id, case_id=case.id, action="note_added", at=now,
                         details={"note": note.id, "text": cleaned})
    except IntegrityError:  # the same form sent twice at the same moment: the other request added it
        earlier = session.scalar(select(CaseNote).where(CaseNote.form_token == token)) if token else None
        if earlier is None or earlier.case_id != case_id:
            raise
        return earlier
    return note


def set_pinned(session: Session, *, actor: User, case_id: int, note_id: int, pinned: bool,
               now: dt.datetime) -> CaseNote:
    """Pin a note to the case's summary, or unpin it; pinning a pinned note changes nothing."""
    with unit_of_work(session):
        case = case_for_actor(session, actor=actor, case_id=case_id)
        note = session.get(CaseNote, note_id)
        if note is None or note.case_id != case.id:
            raise NotFoundForActor(str(note_id))
        if note.pinned != pinned:
            note.pinned = pinned
            record_event(session, actor_id=actor.id, case_id=case.id,
                         action="note_pinned" if pinned else "note_unpinned", at=now,
                         details={"note": note.id, "text": note.text})
    return note


@dataclass
class CaseNotes:
    """The newest notes of a case (newest first), how many there are, and the pinned ones."""

    notes: list[CaseNote]
    total: int
    pinned: list[CaseNote]


def case_notes(session: Session, *, actor: User, case_id: int, limit: int = NOTES_SHOWN) -> CaseNotes:
    """The notes of a case the actor may see: bounded, however many the case has."""
    case = case_for_actor(session, actor=actor, case_id=case_id)
    newest = CaseNote.created_at.desc(), CaseNote.id.desc()
    notes = list(session.scalars(select(CaseNote).where(CaseNote.case_id == case.id).order_by(*newest).limit(limit)))
    total = len(notes) if len(notes) < limit else int(session.scalar(
        select(func.count()).select_from(CaseNote).where(CaseNote.case_id == case.id)) or 0)
    pinned = list(session.scalars(select(CaseNote).where(CaseNote.case_id == case.id, CaseNote.pinned)
                                  .order_by(*newest).limit(PINNED_SHOWN)))
    return CaseNotes(notes=notes, total=total, pinned=pinned)

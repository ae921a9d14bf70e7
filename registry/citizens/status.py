"""A household's application as the household follows it in the portal: where it is, what happens next and by
when, what has happened so far, the eligibility result and the decision letter.

Every word about the process comes from the vocabulary's household sections (``processes/vocabulary.yaml``);
a task or action the vocabulary gives no household words to is not shown. Nothing here names a staff member,
quotes a staff note or reaches another household's case: the case is always found through the citizen's
own households (``registry.citizens.access``). Pure: no Flask.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFoundForActor
from engine.library import Library
from engine.models import TaskRecord, TaskState
from engine.vocabulary import Vocabulary
from registry import eligibility
from registry.cases import CASE_PROCESS
from registry.citizens.access import case_for_citizen, cases_for_citizen
from registry.citizens.models import Citizen
from registry.explanations import DecisionLetter, letter_of_case
from registry.models import AuditEvent, Case, CaseStatus, DocumentRequest
from registry.operations import local_date
from registry.vocabulary import current_vocabulary

#: The lane of tasks the household does itself in the portal: their due date is the household's deadline.
CITIZEN_LANE = "citizen"
#: How many recent events are read for the history, and how many lines are shown (cost stays flat).
HISTORY_EVENTS_READ = 200
HISTORY_LINES = 30
APPLICATIONS_SHOWN = 50


@dataclass(frozen=True)
class NextStep:
    """What happens next while one task waits, in the household's words."""

    text: str
    #: The day it should be done by (the ministry's calendar); None when the task has no due date.
    due_on: dt.date | None
    #: The household itself must act (a task in the citizen lane, or one waiting on the household):
    #: ``due_on`` is then the household's own deadline.
    yours: bool
    #: The waiting task's id when the household acts on it in the portal, else None.
    task_id: str | None = None
    #: The documents asked for (codes of the request that opened this task), for the household to bring.
    documents: tuple[str, ...] = ()


@dataclass(frozen=True)
class HistoryLine:
    on: dt.date
    text: str


@dataclass(frozen=True)
class ApplicationSummary:
    """One line of the household's list of applications."""

    reference: str
    opened_on: dt.date
    status: str
    status_words: str
    where: str
    #: The household has something to do (a citizen-lane task waits).
    waiting_on_you: bool


@dataclass(frozen=True)
class ApplicationStatus:
    reference: str
    opened_on: dt.date
    directorate: str
    status: str
    status_words: str
    stage: str
    where: str
    next_steps: tuple[NextStep, ...]
    #: Oldest first; only steps the vocabulary words for the household.
    history: tuple[HistoryLine, ...]
    #: The eligibility result and its letter, once the household has been scored (None before).
    letter: DecisionLetter | None
    #: The directorate's decision in the household's words ("" while none is made): the letter is offered then.
    decision: str = ""

    @property
    def open(self) -> bool:
        return self.status == CaseStatus.OPEN.value

    @property
    def waiting_on_you(self) -> bool:
        return any(step.yours for step in self.next_steps)


def _words(vocabulary: Vocabulary, section: str, key: str | None, lang: str) -> str:
    """The household's words for ``key``, or "" when the vocabulary has none (then nothing is shown)."""
    if key is None or key not in vocabulary.labels.get(section, {}):
        return ""
    return vocabulary.label(section, key, lang)


def _status_words(vocabulary: Vocabulary, case: Case, lang: str) -> str:
    return _words(vocabulary, "household_statuses", case.status, lang) or vocabulary.label("status", case.status, lang)


def _where(vocabulary: Vocabulary, case: Case, lang: str) -> str:
    return _words(vocabulary, "household_stages", case.stage, lang) or vocabulary.label("stage", case.stage, lang)


def _ready(session: Session, case_ids: Collection[int]) -> list[TaskRecord]:
    if not case_ids:
        return []
    return list(session.scalars(
        select(TaskRecord).where(TaskRecord.business_key.in_([str(i) for i in case_ids]),
                                 TaskRecord.state == TaskState.READY.value)
        .order_by(TaskRecord.created_at, TaskRecord.id)))


def next_steps(vocabulary: Vocabulary, ready: list[TaskRecord], lang: str,
               request: DocumentRequest | None = None) -> tuple[NextStep, ...]:
    """The waiting tasks in the household's words: the household's own first, each said once.

    A task of the household's that became ready in the step that asked for documents (``request``) lists them
    (a staff task opened at the same instant does not); the request's note is the staff's and is never shown.
    """
    steps: list[NextStep] = []
    seen: set[str] = set()
    def yours(record: TaskRecord) -> bool:
        return record.lane == CITIZEN_LANE or record.is_waiting

    for record in sorted(ready, key=lambda r: not yours(r)):
        text = _words(vocabulary, "household_next", record.spec_id, lang)
        if not text and not yours(record):
            continue  # a step the household has no words for is the directorate's own business
        if text in seen and not yours(record):
            continue
        seen.add(text)
        # While a task waits on the household, its date is the household's own (the staff's stands still).
        due = record.shown_due_at
        asked = request is not None and yours(record) and record.created_at == request.requested_at
        steps.append(NextStep(text=text, due_on=local_date(due) if due else None, yours=yours(record),
                              task_id=record.id if record.lane == CITIZEN_LANE else None,
                              documents=tuple(str(code) for code in request.missing) if asked and request else ()))
    return tuple(steps)


def _latest_request(session: Session, case: Case) -> DocumentRequest | None:
    return session.scalars(select(DocumentRequest).where(DocumentRequest.case_id == case.id)
                           .order_by(DocumentRequest.id.desc()).limit(1)).first()


def history(session: Session, vocabulary: Vocabulary, case: Case, lang: str) -> tuple[HistoryLine, ...]:
    """The steps the household is told about, from the case's latest events (actor and details never shown)."""
    actions = vocabulary.keys("household_actions")
    done = vocabulary.keys("household_done")
    wanted = [*actions, "task_completed"] if done else actions
    events = list(session.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case.id, AuditEvent.action.in_(wanted))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(HISTORY_EVENTS_READ)))
    lines: list[HistoryLine] = []
    for event in events:
        if event.action == "task_completed":
            task = (event.details or {}).get("task")
            text = _words(vocabulary, "household_done", task if isinstance(task, str) else None, lang)
        else:
            text = _words(vocabulary, "household_actions", event.action, lang)
        if text:
            lines.append(HistoryLine(on=local_date(event.at), text=text))
        if len(lines) == HISTORY_LINES:
            break
    return tuple(reversed(lines))


def decision(session: Session, vocabulary: Vocabulary, case: Case, lang: str) -> str:
    """The latest decision on the case in the household's words, or "" before one is made.

    A decision is a recorded action the vocabulary's ``household_decisions`` names (the supervisor's approval or
    rejection), so which steps decide stays with the analyst's process files.
    """
    actions = vocabulary.keys("household_decisions")
    if not actions:
        return ""
    latest = session.scalars(select(AuditEvent.action).where(AuditEvent.case_id == case.id,
                                                             AuditEvent.action.in_(actions))
                             .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(1)).first()
    return _words(vocabulary, "household_decisions", latest, lang)


def applications(session: Session, *, citizen: Citizen, library: Library, lang: str) -> list[ApplicationSummary]:
    """The citizen's household's applications, newest first."""
    cases = cases_for_citizen(session, citizen)[:APPLICATIONS_SHOWN]
    vocabulary = current_vocabulary(session, library, CASE_PROCESS)
    waiting = {int(r.business_key) for r in _ready(session, [c.id for c in cases]) if r.lane == CITIZEN_LANE}
    return [ApplicationSummary(reference=case.reference, opened_on=local_date(case.created_at), status=case.status,
                               status_words=_status_words(vocabulary, case, lang), where=_where(vocabulary, case, lang),
                               waiting_on_you=case.id in waiting)
            for case in cases]


def application_status(session: Session, *, citizen: Citizen, reference: str, library: Library, lang: str,
                       now: dt.datetime, measure: eligibility.Measure | None = None) -> ApplicationStatus:
    """One of the citizen's applications in plain words; another household's is NotFoundForActor."""
    case = case_for_citizen(session, citizen, reference)
    vocabulary = current_vocabulary(session, library, CASE_PROCESS)
    letter = letter_of_case(session, case=case, lang=lang, today=local_date(now), measure=measure)
    return ApplicationStatus(
        reference=case.reference, opened_on=local_date(case.created_at), directorate=case.directorate.name(lang),
        status=case.status, status_words=_status_words(vocabulary, case, lang), stage=case.stage,
        where=_where(vocabulary, case, lang),
        next_steps=next_steps(vocabulary, _ready(session, [case.id]), lang, _latest_request(session, case))
        if case.status == CaseStatus.OPEN.value else (),
        history=history(session, vocabulary, case, lang),
        letter=letter if letter.explanation is not None else None,
        decision=decision(session, vocabulary, case, lang))


def application_letter(session: Session, *, citizen: Citizen, reference: str, library: Library, lang: str,
                       now: dt.datetime, measure: eligibility.Measure | None = None) -> DecisionLetter:
    """The decision letter of one of the citizen's applications; NotFoundForActor before the decision is made."""
    case = case_for_citizen(session, citizen, reference)
    vocabulary = current_vocabulary(session, library, CASE_PROCESS)
    letter = letter_of_case(session, case=case, lang=lang, today=local_date(now), measure=measure)
    if letter.explanation is None or not decision(session, vocabulary, case, lang):
        raise NotFoundForActor(reference)
    return letter

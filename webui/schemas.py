"""What the API exposes of tasks and cases: schemas decide, so nothing leaks by accident."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from engine.models import TaskRecord
from registry.cases import CaseView


class TaskSchema(Schema):
    id = fields.String()
    case_id = fields.Function(lambda t: int(t.business_key))
    title = fields.String()
    form_key = fields.String()
    lane = fields.String()
    stage = fields.String(allow_none=True)
    assignee = fields.Integer(attribute="assignee_id", allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    state = fields.String()
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.Integer(attribute="completed_by_id", allow_none=True)


class MemberSchema(Schema):
    national_id = fields.String()
    name_ar = fields.String()
    name_latin = fields.String(allow_none=True)
    relation = fields.String()
    sex = fields.String()
    birth_date = fields.Date(allow_none=True)
    marital_status = fields.String(allow_none=True)
    disability = fields.Boolean()
    chronic_illness = fields.Boolean()
    health_insurance = fields.Boolean()
    schooling = fields.String(allow_none=True)
    work = fields.String(allow_none=True)


class HouseholdSchema(Schema):
    id = fields.Integer()
    governorate = fields.String(attribute="governorate_code")
    locality = fields.String()
    address = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    reasons = fields.List(fields.String())
    reasons_details = fields.String(allow_none=True)
    living_conditions = fields.Dict()
    consent_data_exchange = fields.Boolean()
    members = fields.List(fields.Nested(MemberSchema))


class ScoreSchema(Schema):
    id = fields.Integer()
    rule_version = fields.String()
    score = fields.Float()
    score_exact = fields.String()
    category = fields.String()
    indicators = fields.List(fields.Dict())
    created_at = fields.DateTime()


class EventSchema(Schema):
    at = fields.DateTime()
    action = fields.String()
    actor = fields.Function(lambda e: e.actor.username if e.actor else None)
    details = fields.Dict()


_TASK = TaskSchema()
_HOUSEHOLD = HouseholdSchema()
_SCORES = ScoreSchema(many=True)
_EVENTS = EventSchema(many=True)


def task(record: TaskRecord) -> dict[str, Any]:
    dumped: dict[str, Any] = _TASK.dump(record)
    return dumped


def case(view: CaseView, *, lang: str) -> dict[str, Any]:
    c = view.case
    return {
        "id": c.id,
        "reference": c.reference,
        "directorate": c.directorate.code,
        "stage": c.stage,
        "status": c.status,
        "case_manager": c.case_manager.username if c.case_manager else None,
        "plan_end_date": c.plan_end_date.isoformat() if c.plan_end_date else None,
        "outcome_reason": c.outcome_reason,
        "household": _HOUSEHOLD.dump(c.household) if c.household else None,
        "eligibility": _SCORES.dump(view.scores),
        "document_requests": [{"missing": r.missing, "note": r.note, "requested_at": r.requested_at.isoformat()}
                              for r in view.document_requests],
        "documents": [{"id": d.id, "name": d.name, "size": d.size} for d in view.documents],
        "open_tasks": [task(t) for t in view.ready],
        "history": _EVENTS.dump(view.history),
    }

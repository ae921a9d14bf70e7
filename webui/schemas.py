"""What the API accepts and what it exposes: schemas decide, so nothing leaks or slips in by accident.

Request schemas are as strict as the HTML forms: JSON booleans only (no "false" that reads as true),
integers only where integers are meant (no booleans, no floats), bounded strings, and no unknown
fields. Every error is a code that ``webui.messages`` translates. The same schemas generate the
OpenAPI document (``webui.openapi``), so the document cannot drift from the code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from flask import url_for
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, post_load, pre_load, validate, validates

from engine.forms import FIELD_TYPES, national_id_is_valid, normalize_national_id
from engine.models import TaskRecord
from registry.cases import CaseView, Completion
from registry.inbox import HOUSEHOLD_FILTERS as INBOX_HOUSEHOLD_FILTERS
from registry.inbox import SORTS as INBOX_SORTS
from registry.inbox import VIEWS as INBOX_VIEWS
from registry.paging import MAX_PER_PAGE, PER_PAGE
from registry.registration import MEMBER_FIELDS, MemberField
from registry.scores import Recomputation
from registry.verification import household_sources

# --- strict JSON fields --------------------------------------------------------------------------

class JsonBoolean(fields.Boolean):
    """true or false, nothing that merely looks like it ("false", 0, 1, null)."""

    default_error_messages = {"invalid": "invalid_boolean", "null": "invalid_boolean", "required": "required"}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class JsonInteger(fields.Integer):
    """A JSON integer: a boolean or a float is refused, not rounded."""

    default_error_messages = {"invalid": "invalid_integer", "null": "invalid_integer", "required": "required",
                              "too_large": "too_large"}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        return value


class JsonString(fields.String):
    default_error_messages = {"invalid": "invalid_text", "null": "invalid_text", "required": "required",
                              "invalid_utf8": "invalid_text"}


class JsonObject(fields.Dict):
    default_error_messages = {"invalid": "invalid_type", "null": "invalid_type", "required": "required"}

    def _deserialize(self, value: Any, attr: str | None, data: Mapping[str, Any] | None,
                     **kwargs: Any) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        return value


def _too_long(maximum: int) -> validate.Length:
    return validate.Length(min=1, max=maximum, error="too_long")


class StrictSchema(Schema):
    """Unknown fields are refused and named; errors are translatable codes."""

    class Meta:
        unknown = RAISE

    error_messages = {"unknown": "unknown_field", "type": "invalid_type"}


# --- requests ------------------------------------------------------------------------------------

class TokenRequest(StrictSchema):
    username = JsonString(required=True, validate=_too_long(150))
    password = JsonString(required=True, validate=_too_long(1024), metadata={"format": "password"})


FILE_UPLOAD = {
    "type": "object",
    "description": "A file for a form field of type `file` (or a list of them): the bytes in base64.",
    "required": ["name", "content_base64"],
    "properties": {
        "name": {"type": "string", "maxLength": 200, "description": "the file's name as the user knows it"},
        "content_base64": {"type": "string", "contentEncoding": "base64",
                           "description": "the file's content, base64 (RFC 4648); at most 10 MB decoded"},
        "content_type": {"type": "string", "description": "a MIME type such as application/pdf"},
    },
}


class CompleteRequest(StrictSchema):
    data = JsonObject(required=True, metadata={
        "description": "The form's values by field name, as GET /tasks/{task_id} describes them: strings, "
                       "numbers, booleans, lists, group rows (objects) and files (FileUpload, or a list of them).",
        "additionalProperties": {"anyOf": [
            {"$ref": "#/components/schemas/FileUpload"},
            {"type": "array", "items": {"$ref": "#/components/schemas/FileUpload"}},
            {"type": ["string", "number", "boolean", "null", "array", "object"]},
        ]},
    })
    version = JsonInteger(validate=validate.Range(min=0, max=2**31 - 1, error="out_of_range"),
                          metadata={"description": "the version from GET /tasks/{task_id}; a stale one is "
                                                   "refused with 409"})


class CreateCaseRequest(StrictSchema):
    national_id = JsonString(validate=validate.Length(max=32, error="too_long"), metadata={
        "description": "the applicant's national ID (9 digits with a check digit); without it the registration "
                       "starts empty"})
    consent_data_exchange = JsonBoolean(load_default=False, metadata={
        "description": "the household consents to pre-filling from other ministries; only JSON true counts"})

    @validates("national_id")
    def _valid_national_id(self, value: str, **_kwargs: Any) -> None:
        if not national_id_is_valid(normalize_national_id(value)):
            raise ValidationError("invalid_national_id")

    @post_load
    def _normalized(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
        if "national_id" in data:
            data["national_id"] = normalize_national_id(data["national_id"])
        return data


class HouseholdWaitRequest(StrictSchema):
    reason = JsonString(required=True, metadata={
        "maxLength": 500, "description": "what the household has to do (told to the household by message)"})
    respond_by = JsonString(required=True, metadata={
        "format": "date", "description": "the day the household should respond by (yyyy-mm-dd, ministry time): "
                                         "from today, at most a year ahead"})


class QueryInteger(fields.Integer):
    """An integer in a query string, where every value arrives as text."""

    default_error_messages = {"invalid": "invalid_integer", "too_large": "too_large"}


class HistoryQuery(StrictSchema):
    history_page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=2**31 - 1, error="out_of_range"),
                                metadata={"description": "which page of the case's history: 1 is the newest"})


def _query_text(maximum: int, description: str) -> fields.String:
    return fields.String(validate=validate.Length(max=maximum, error="too_long"), metadata={"description": description})


class InboxFilterQuery(Schema):
    """The inbox's search, filters and sort as a query string; the inbox page and the API read the same."""

    class Meta:
        unknown = EXCLUDE

    error_messages = {"type": "invalid_type"}

    q = _query_text(100, "search: the head of household's name, the head's or applicant's national ID, or the "
                         "case reference (or the number it ends with)")
    task = _query_text(100, "only tasks with this task id of the diagram (spec id)")
    stage = _query_text(50, "only tasks of this stage")
    locality = _query_text(120, "only tasks of households of this locality")
    due_from = fields.Date(error_messages={"invalid": "invalid_date"},
                           metadata={"description": "only tasks due on or after this day (ministry time)"})
    due_to = fields.Date(error_messages={"invalid": "invalid_date"},
                         metadata={"description": "only tasks due on or before this day (ministry time)"})
    overdue = fields.Boolean(load_default=False, truthy={"1", "true", "on", "yes"}, falsy={"0", "false", "off", "no"},
                             error_messages={"invalid": "invalid"},
                             metadata={"description": "only tasks past their due time"})
    household = fields.String(validate=validate.OneOf(("", *INBOX_HOUSEHOLD_FILTERS), error="invalid_choice"),
                              metadata={"enum": list(INBOX_HOUSEHOLD_FILTERS), "description":
                                        "waiting: only tasks waiting on the household; missed: only tasks whose "
                                        "household missed its deadline"})
    sort = fields.String(load_default="due", validate=validate.OneOf(INBOX_SORTS, error="invalid_choice"),
                         metadata={"enum": list(INBOX_SORTS), "description":
                                   "due: soonest due first; priority: the household's latest deprivation score, "
                                   "highest (poorest) first; age: oldest task first; a leading '-' reverses"})
    per_page = QueryInteger(validate=validate.Range(min=1, max=MAX_PER_PAGE, error="out_of_range"),
                            metadata={"description": f"tasks per page (default {PER_PAGE})"})

    @pre_load
    def _blank_is_absent(self, data: Any, **_kwargs: Any) -> Any:
        """An empty box of the filter form means "any", not an invalid value."""
        if isinstance(data, Mapping):
            return {key: value for key, value in data.items() if value != ""}
        return data


class TaskListQuery(InboxFilterQuery):
    page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=2**31 - 1, error="out_of_range"),
                        metadata={"description": "which page of the inbox, from 1"})


class InboxPageQuery(InboxFilterQuery):
    view = fields.String(load_default="work", validate=validate.OneOf(INBOX_VIEWS, error="invalid_choice"))
    mine_page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=2**31 - 1, error="out_of_range"))
    open_page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=2**31 - 1, error="out_of_range"))
    team_page = QueryInteger(load_default=1, validate=validate.Range(min=1, max=2**31 - 1, error="out_of_range"))


# --- responses -----------------------------------------------------------------------------------

class ErrorSchema(Schema):
    error = fields.String(required=True)
    type = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "translated messages per field"})
    codes = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                        metadata={"description": "error codes per field"})
    code = fields.String(metadata={"description": "why a request about the task's state was refused, e.g. "
                                                  "already_waiting, household_task"})


class TokenSchema(Schema):
    token = fields.String(required=True)
    token_type = fields.String(required=True, metadata={"enum": ["Bearer"]})
    expires_at = fields.DateTime(required=True)


class OkSchema(Schema):
    ok = fields.Boolean(required=True)


class TaskSchema(Schema):
    id = fields.String(required=True)
    case_id = fields.Function(lambda t: int(t.business_key), required=True, metadata={"type": "integer"})
    title = fields.String(required=True)
    form_key = fields.String(required=True)
    lane = fields.String(required=True)
    stage = fields.String(allow_none=True)
    assignee = fields.Integer(attribute="assignee_id", allow_none=True)
    due_at = fields.DateTime(allow_none=True)
    state = fields.String(required=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_by = fields.Integer(attribute="completed_by_id", allow_none=True)
    waiting_on = fields.String(allow_none=True, metadata={
        "enum": ["household", None], "description": "who the task waits on: household while staff cannot go on "
        "(its staff due date stands still meanwhile); null when it waits on nobody"})
    wait_reason = fields.String(allow_none=True, metadata={"description": "what the household has to do"})
    household_due_at = fields.DateTime(allow_none=True, metadata={
        "description": "the date the household should respond by (end of that day, ministry time)"})
    paused_at = fields.DateTime(allow_none=True, metadata={
        "description": "since when staff paused the task for the household; null when no pause runs"})
    paused_seconds = fields.Integer(required=True, metadata={
        "description": "time paused in ended waits, in seconds: the staff due date moved later by this much"})
    household_missed = fields.Function(lambda t: t.household_missed_at is not None, required=True, metadata={
        "type": "boolean", "description": "the household missed its date and the wait ended: the supervisor "
                                          "should look at the task"})
    household_missed_at = fields.DateTime(allow_none=True)


class TaskListSchema(Schema):
    tasks = fields.List(fields.Nested(TaskSchema), required=True, metadata={
        "description": "one page: the caller's own tasks and the open tasks of their role, in the order asked "
                       "(soonest due first unless sort says otherwise)"})
    total = fields.Integer(required=True)
    page = fields.Integer(required=True)
    per_page = fields.Integer(required=True)


class ChoiceSchema(Schema):
    value = fields.Raw(required=True)
    label = fields.String(required=True)


class FieldSchema(Schema):
    name = fields.String(required=True)
    label = fields.String(required=True)
    type = fields.String(required=True, validate=validate.OneOf(FIELD_TYPES))
    required = fields.Boolean(required=True)
    required_if = fields.String(allow_none=True)
    show_if = fields.String(allow_none=True)
    choices = fields.List(fields.Nested(ChoiceSchema), allow_none=True)
    value = fields.Raw(allow_none=True, metadata={"description": "the current value; a file field holds "
                                                                 "references to stored documents"})
    sub_fields = fields.List(fields.Nested(lambda: FieldSchema()), attribute="fields", data_key="fields",
                             metadata={"description": "a group's row fields"})


class TaskDetailSchema(TaskSchema):
    form_title = fields.String(required=True)
    version = fields.Integer(required=True, metadata={"description": "send it back with the completion"})
    form_fields = fields.List(fields.Nested(FieldSchema), attribute="fields", data_key="fields", required=True)
    sources = fields.Dict(required=True, metadata={
        "description": "where each value of the case came from, by value path, as the household's `sources` "
                       "(before the household is recorded: the ministries' pre-filled values)"})


class CompletionSchema(Schema):
    """Where the case stands after a completion, and no more: the whole case is one GET of ``case_url`` away."""

    case_id = fields.Integer(required=True)
    stage = fields.String(required=True)
    status = fields.String(required=True)
    next_tasks = fields.List(fields.Nested(TaskSchema), required=True)
    case_url = fields.Function(lambda done: url_for("api.get_case", case_id=done.case_id), required=True,
                               metadata={"type": "string", "format": "uri-reference",
                                         "description": "the case in this API (GET /cases/{case_id})"})


class CreatedCaseSchema(Schema):
    case_id = fields.Integer(required=True)
    reference = fields.String(required=True)
    first_task = fields.Nested(TaskSchema, allow_none=True, required=True)


def _member_field(member_field: MemberField) -> fields.Field:
    if member_field.kind == "flag":
        return fields.Boolean(allow_none=True, metadata={"description": "null: not known"})
    if member_field.kind == "date":
        return fields.Date(allow_none=True)
    return fields.String(allow_none=not member_field.required)


#: A household member as the API shows it: the registry's member fields, named once in registry.registration.
MemberSchema = Schema.from_dict({f.name: _member_field(f) for f in MEMBER_FIELDS}, name="MemberSchema")


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
    sources = fields.Function(household_sources, metadata={
        "type": "object", "description": "where each value came from, by value path (members.0.birth_date): "
        "how (declared, ministry, document, field_visit), the ministry and its date, who verified it and when, "
        "and a correction's value before and reason"})


def _detail(name: str) -> Any:
    return lambda score: (score.details or {}).get(name)


class CategoryReasonSchema(Schema):
    code = fields.String(required=True, metadata={"description": "the id of the rule of poverty_category.dmn "
                                                                 "that gave the category"})
    rule = fields.Integer(metadata={"description": "that rule's row, from 1"})
    category = fields.String()
    tested = fields.List(fields.String(), metadata={
        "description": "the household's inputs that rule compares: score, income_per_ae"})
    facts = fields.List(fields.String(), metadata={
        "description": "how the household stands against the cut-offs and lines: score_at_least_deep_k, "
                       "score_at_least_k, score_below_k; income_below_deep_poverty_line, income_below_poverty_line, "
                       "income_at_or_above_poverty_line, income_unknown"})
    because = fields.List(fields.String(), metadata={"description": "the facts about the inputs the rule tested"})
    numbers = fields.Dict(metadata={"description": "score, k and deep_k (exact fractions as text), income_per_ae, "
                                                   "poverty_line and deep_poverty_line (NIS per adult equivalent "
                                                   "per month)"})


_CATEGORY_REASON = CategoryReasonSchema()


class ScoreSchema(Schema):
    id = fields.Integer()
    rule_version = fields.String(metadata={"description": "the rule version's label: the measure's version and a "
                                                          "hash of its files, which the database keeps"})
    score = fields.Float()
    score_exact = fields.String()
    category = fields.String()
    indicators = fields.List(fields.Dict())
    created_at = fields.DateTime()
    as_of = fields.Function(_detail("as_of"), metadata={"type": "string", "format": "date",
                                                        "description": "the scoring date (ages are on this day)"})
    inputs = fields.Dict(metadata={"description": "the values the rules read, as they were when scored"})
    income_per_ae = fields.Function(_detail("income_per_ae"), metadata={
        "type": ["number", "null"], "description": "monthly income per adult equivalent, NIS; null when unknown"})
    k = fields.Function(_detail("k"), metadata={"type": "string", "description": "the poverty cut-off (fraction)"})
    deep_k = fields.Function(_detail("deep_k"), metadata={"type": "string",
                                                          "description": "the deep poverty cut-off (fraction)"})
    poverty_line = fields.Function(_detail("poverty_line"), metadata={
        "type": "number", "description": "NIS per adult equivalent per month"})
    deep_poverty_line = fields.Function(_detail("deep_poverty_line"), metadata={
        "type": "number", "description": "NIS per adult equivalent per month"})
    category_reason = fields.Function(
        lambda score: _CATEGORY_REASON.dump(score.details["category_reason"])
        if (score.details or {}).get("category_reason") else None,
        metadata={"anyOf": [{"$ref": "#/components/schemas/CategoryReason"}, {"type": "null"}],
                  "description": "why the category: null for scores stored before reasons were kept"})
    reasons = fields.List(fields.String(), metadata={
        "description": "what changed since the household's score before: first_score, rules_changed, "
                       "data_changed, time_passed (the date alone changed a result, e.g. an age), unchanged; "
                       "not_recorded for scores stored before reasons were kept"})
    previous_score_id = fields.Integer(allow_none=True, metadata={"description": "the household's score before"})


class DifferenceSchema(Schema):
    what = fields.String(required=True, metadata={
        "description": "the result that differs: score_exact, category, income_per_ae, ... or indicator:<key>"})
    stored = fields.Raw(allow_none=True)
    recomputed = fields.Raw(allow_none=True)


class RecomputationSchema(Schema):
    score_id = fields.Integer(required=True)
    rule_version = fields.String(required=True)
    as_of = fields.String(allow_none=True, metadata={"format": "date"})
    outcome = fields.Function(lambda r: r.outcome.value, required=True, metadata={
        "type": "string", "enum": ["confirmed", "differs", "rules_not_stored", "rules_altered", "rules_unreadable"],
        "description": "confirmed: the same score, category and indicator results; differs: see differences; "
                       "rules_not_stored / rules_altered / rules_unreadable: the database lacks this version's "
                       "files, they no longer match its label, or today's scorer refuses them (`problem` says why)"})
    confirmed = fields.Boolean(required=True)
    differences = fields.List(fields.Nested(DifferenceSchema), required=True)
    problem = fields.String(allow_none=True)


class EventSchema(Schema):
    at = fields.DateTime()
    action = fields.String()
    actor = fields.Function(lambda e: e.actor.username if e.actor else None, allow_none=True,
                            metadata={"type": "string"})
    details = fields.Dict()


class DocumentRequestSchema(Schema):
    missing = fields.List(fields.String())
    note = fields.String(allow_none=True)
    requested_at = fields.DateTime()


class DocumentSchema(Schema):
    id = fields.Integer()
    name = fields.String()
    size = fields.Integer()


class CaseSchema(Schema):
    id = fields.Integer(required=True)
    reference = fields.String(required=True)
    directorate = fields.String(required=True)
    stage = fields.String(required=True)
    status = fields.String(required=True)
    case_manager = fields.String(allow_none=True)
    plan_end_date = fields.Date(allow_none=True)
    case_fields = fields.Dict(keys=fields.String(), metadata={
        "description": "the case-level values its process declares (processes/vocabulary.yaml), dates as ISO days"})
    outcome_reason = fields.String(allow_none=True)
    household = fields.Nested(HouseholdSchema, allow_none=True)
    eligibility = fields.List(fields.Nested(ScoreSchema))
    document_requests = fields.List(fields.Nested(DocumentRequestSchema), metadata={
        "description": "the latest document requests, oldest first"})
    document_requests_total = fields.Integer(required=True, metadata={"description": "document requests in all"})
    documents = fields.List(fields.Nested(DocumentSchema), metadata={"description": "the latest documents"})
    documents_total = fields.Integer(required=True, metadata={"description": "documents in all"})
    open_tasks = fields.List(fields.Nested(TaskSchema))
    history = fields.List(fields.Nested(EventSchema), metadata={
        "description": "one page of the case's history (page 1 is the newest), read oldest to newest"})
    history_page = fields.Integer(required=True)
    history_per_page = fields.Integer(required=True)
    history_total = fields.Integer(required=True, metadata={"description": "events in the whole history"})


_RECOMPUTATION = RecomputationSchema()
_TASK = TaskSchema()
_FIELDS = FieldSchema(many=True)
_CASE = CaseSchema()
_COMPLETION = CompletionSchema()
_CREATED = CreatedCaseSchema()


def task(record: TaskRecord) -> dict[str, Any]:
    dumped: dict[str, Any] = _TASK.dump(record)
    return dumped


def task_detail(record: TaskRecord, *, form_title: str, version: int, form_fields: list[dict[str, Any]],
                sources: dict[str, Any] | None = None) -> dict[str, Any]:
    body = task(record)
    # ``sources``: where each value of the case came from, by value path, as HouseholdSchema.sources.
    body.update(form_title=form_title, version=version, fields=_FIELDS.dump(form_fields), sources=sources or {})
    return body


def completion(result: Completion) -> dict[str, Any]:
    dumped: dict[str, Any] = _COMPLETION.dump(result)
    return dumped


def created_case(*, case_id: int, reference: str, first_task: TaskRecord | None) -> dict[str, Any]:
    dumped: dict[str, Any] = _CREATED.dump({"case_id": case_id, "reference": reference, "first_task": first_task})
    return dumped


def recomputation(result: Recomputation) -> dict[str, Any]:
    dumped: dict[str, Any] = _RECOMPUTATION.dump(result)
    return dumped


def _day(value: Any) -> dt.date | None:
    return dt.date.fromisoformat(value) if value else None


def case(view: CaseView) -> dict[str, Any]:
    c = view.case
    dumped: dict[str, Any] = _CASE.dump({
        "id": c.id, "reference": c.reference, "directorate": c.directorate.code, "stage": c.stage,
        "status": c.status, "case_manager": c.case_manager.username if c.case_manager else None,
        "plan_end_date": _day(c.fields.get("plan_end_date")), "case_fields": c.fields,
        "outcome_reason": c.outcome_reason, "household": view.household,
        "eligibility": view.scores, "document_requests": view.document_requests,
        "document_requests_total": view.document_requests_total, "documents": view.documents,
        "documents_total": view.documents_total,
        "open_tasks": view.ready, "history": view.history, "history_page": view.history_info.page,
        "history_per_page": view.history_info.per_page, "history_total": view.history_info.total,
    })
    return dumped

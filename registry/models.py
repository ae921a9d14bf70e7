"""The domain: directorates, staff, households and people, cases, scores, documents, audit."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from engine.db import Base, utcnow


class Role(enum.StrEnum):
    RECEPTION = "reception"
    SUPERVISOR = "supervisor"
    CASE_MANAGER = "case_manager"
    COMPLAINTS_HANDLER = "complaints_handler"
    COMPLAINTS_UNIT = "complaints_unit"
    #: The household itself, in the portal (a lane of its own; no staff user holds it).
    CITIZEN = "citizen"
    #: Staff of a partner organisation: only the referrals sent to their organisation.
    PARTNER = "partner"
    ANALYST = "analyst"
    ADMIN = "admin"


class Directorate(Base):
    __tablename__ = "directorates"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name_en: Mapped[str] = mapped_column(String(120))
    name_ar: Mapped[str] = mapped_column(String(120))
    governorate_code: Mapped[str] = mapped_column(String(8))

    def name(self, lang: str) -> str:
        return self.name_ar if lang == "ar" else self.name_en


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(150))
    full_name_ar: Mapped[str | None] = mapped_column(String(150))
    role: Mapped[str] = mapped_column(String(32))
    directorate_id: Mapped[int | None] = mapped_column(ForeignKey("directorates.id"))
    password_hash: Mapped[str] = mapped_column(String(200))
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Set by registry.administration; None for accounts made before it kept them.
    created_at: Mapped[dt.datetime | None]
    deactivated_at: Mapped[dt.datetime | None]
    #: A password an administrator set or generated: the user chooses their own at the next login.
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    #: For the ``partner`` role: the organisation whose referrals the user works on (registry.referrals).
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partner_organisations.id"))

    directorate: Mapped[Directorate | None] = relationship(lazy="joined")

    def display_name(self, lang: str) -> str:
        """The name as written in the page's language (Arabic script when known)."""
        return (self.full_name_ar or self.full_name) if lang == "ar" else self.full_name

    @property
    def scope(self) -> str | None:
        """The directorate code that scopes every case and task this user may see."""
        return self.directorate.code if self.directorate else None

    # flask-login reads these; kept here so the web layer needs no wrapper class.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]

    user: Mapped[User] = relationship(lazy="joined")


class StaffSession(Base):
    """A logged-in browser: the cookie carries a random id, only its hash is stored here."""

    __tablename__ = "staff_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[dt.datetime]
    last_seen_at: Mapped[dt.datetime]
    ended_at: Mapped[dt.datetime | None]

    user: Mapped[User] = relationship(lazy="joined")


class Household(Base):
    __tablename__ = "households"
    # A task row's locality (the inbox's filter and counts) without reading the household's wide row.
    __table_args__ = (Index("ix_households_locality", "id", postgresql_include=["locality"]),)

    id: Mapped[int] = mapped_column(primary_key=True)
    directorate_id: Mapped[int] = mapped_column(ForeignKey("directorates.id"), index=True)
    governorate_code: Mapped[str] = mapped_column(String(8))
    locality: Mapped[str] = mapped_column(String(120))
    address: Mapped[str | None] = mapped_column(String(250))
    phone: Mapped[str | None] = mapped_column(String(20))
    reasons: Mapped[list[Any]] = mapped_column(default=list)
    reasons_details: Mapped[str | None] = mapped_column(Text)
    living_conditions: Mapped[dict[str, Any]] = mapped_column(default=dict)
    consent_data_exchange: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[dt.datetime | None]
    #: Where each household answer came from, by field name (registry.verification describes an entry).
    sources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The old system's household number, for a household imported from its export (registry.legacy_import).
    legacy_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    #: The assistance programme the household is enrolled in, and its standing there: a household is a
    #: beneficiary when ``programme_status`` is ``active`` (values: data/legacy_export.yaml).
    programme: Mapped[str | None] = mapped_column(String(40))
    programme_status: Mapped[str | None] = mapped_column(String(20), index=True)

    members: Mapped[list[Person]] = relationship(
        back_populates="household", order_by="Person.position", lazy="selectin",
        primaryjoin="and_(Household.id == Person.household_id, Person.active)", viewonly=True,
    )

    @property
    def head(self) -> Person | None:
        return next((p for p in self.members if p.relation == "head"), self.members[0] if self.members else None)


class Person(Base):
    __tablename__ = "persons"
    __table_args__ = (
        # One person belongs to one active household at a time.
        Index("uq_persons_active_national_id", "national_id", unique=True,
              sqlite_where=text("active = 1"), postgresql_where=text("active")),
        # Each household's head, with what the inbox searches for: one small probe per task, no table read.
        Index("ix_persons_household_head", "household_id", postgresql_include=["name_search", "national_id"],
              sqlite_where=text("relation = 'head' AND active = 1"),
              postgresql_where=text("relation = 'head' AND active")),
        # Name search (registry.households.name_conditions): on PostgreSQL a trigram index of the active
        # people (migration 0029) serves LIKE '%x%' for every word typed; on SQLite it is a plain index.
        Index("ix_persons_name_search", "name_search", postgresql_using="gin",
              postgresql_ops={"name_search": "gin_trgm_ops"}, postgresql_where=text("active")),
        # The same for heads alone, which the inbox searches: a common first name reads its heads only.
        Index("ix_persons_head_name_search", "name_search", postgresql_using="gin",
              postgresql_ops={"name_search": "gin_trgm_ops"}, postgresql_where=text("relation = 'head' AND active"),
              sqlite_where=text("relation = 'head' AND active = 1")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    national_id: Mapped[str] = mapped_column(String(9), index=True)
    name_ar: Mapped[str] = mapped_column(String(150))
    name_latin: Mapped[str | None] = mapped_column(String(150))
    name_search: Mapped[str] = mapped_column(String(300))
    relation: Mapped[str] = mapped_column(String(20))
    sex: Mapped[str] = mapped_column(String(8))
    birth_date: Mapped[dt.date | None]
    marital_status: Mapped[str | None] = mapped_column(String(20))
    # None: not known (the household did not say); the poverty measure treats it as its rules say.
    disability: Mapped[bool | None] = mapped_column(Boolean)
    chronic_illness: Mapped[bool | None] = mapped_column(Boolean)
    health_insurance: Mapped[bool | None] = mapped_column(Boolean)
    schooling: Mapped[str | None] = mapped_column(String(20))
    work: Mapped[str | None] = mapped_column(String(30))
    #: Where each of this person's values came from, by member field name (see registry.verification).
    sources: Mapped[dict[str, Any]] = mapped_column(default=dict)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    household: Mapped[Household] = relationship(back_populates="members")


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    REJECTED = "rejected"
    CLOSED = "closed"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        # With the household and the id: the waiting list's open cases of a directorate from the index alone.
        Index("ix_cases_directorate_status", "directorate_id", "status", postgresql_include=["household_id", "id"]),
        Index("ix_cases_directorate_recent", "directorate_id", "id"),
        # The inbox joins the directorate's cases to its tasks from this index alone (PostgreSQL).
        Index("ix_cases_directorate_instance", "directorate_id", "instance_id",
              postgresql_include=["household_id", "id"]),
        # The inbox's search by reference in a directorate: a prefix LIKE, which PostgreSQL serves only from
        # a pattern-ops index, or a case number's suffix, read from the index alone.
        Index("ix_cases_directorate_reference", "directorate_id", "reference",
              postgresql_ops={"reference": "varchar_pattern_ops"}, postgresql_include=["id"]),
        # One open request per applicant, even when two registrations race.
        Index("uq_cases_open_applicant", "applicant_national_id", unique=True,
              sqlite_where=text("status = 'open'"), postgresql_where=text("status = 'open'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)
    directorate_id: Mapped[int] = mapped_column(ForeignKey("directorates.id"))
    household_id: Mapped[int | None] = mapped_column(ForeignKey("households.id"), index=True)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"), index=True)
    applicant_national_id: Mapped[str | None] = mapped_column(String(9), index=True)
    channel: Mapped[str] = mapped_column(String(16), default="reception")
    status: Mapped[str] = mapped_column(String(16), default=CaseStatus.OPEN.value)
    stage: Mapped[str] = mapped_column(String(32), default="registration")
    case_manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: Case-level values tasks set (e.g. the plan's end date), by the names processes/vocabulary.yaml declares.
    fields: Mapped[dict[str, Any]] = mapped_column(default=dict)
    outcome_reason: Mapped[str | None] = mapped_column(Text)
    prefill: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[dt.datetime | None]

    directorate: Mapped[Directorate] = relationship(lazy="joined")
    household: Mapped[Household | None] = relationship()
    case_manager: Mapped[User | None] = relationship(foreign_keys=[case_manager_id])

    @property
    def is_open(self) -> bool:
        return self.status == CaseStatus.OPEN.value


class EligibilityScore(Base):
    """One scoring of a household; never overwritten, so a rule change keeps the history."""

    __tablename__ = "eligibility_scores"
    __table_args__ = (
        Index("ix_eligibility_scores_household_latest", "household_id", "id"),
        # The latest score of a household from the index alone: the inbox sorts thousands of tasks by it.
        Index("ix_eligibility_scores_household_score", "household_id", "id", "score"),
        # The scores of eligible categories, ids and all (the waiting list hashes them from the index alone).
        Index("ix_eligibility_scores_category_id", "category", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(ForeignKey("households.id"), index=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    directorate_id: Mapped[int] = mapped_column(ForeignKey("directorates.id"), index=True)
    rule_version: Mapped[str] = mapped_column(String(80))
    inputs: Mapped[dict[str, Any]]
    indicators: Mapped[list[Any]]
    score: Mapped[float]
    score_exact: Mapped[str] = mapped_column(String(40))
    category: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    #: The household's score before this one, and what changed since it (registry.scores.ChangeReason values).
    previous_score_id: Mapped[int | None] = mapped_column(ForeignKey("eligibility_scores.id"))
    reasons: Mapped[list[Any]] = mapped_column(default=list)


class RuleVersion(Base):
    """The rule files a rule version is made of, kept the first time it scores a household.

    With a score's stored inputs and date they recompute it from the database alone. Many deployed
    process versions may share one rule version (their rule files are the same); scores name it by label.
    """

    __tablename__ = "rule_versions"

    label: Mapped[str] = mapped_column(String(80), primary_key=True)
    #: SHA-256 of the files (the label ends with its first 12 characters).
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: File name (as in rules/) to its text; large and needed only to recompute, so loaded on demand.
    files: Mapped[dict[str, Any]] = mapped_column(deferred=True)
    first_used_at: Mapped[dt.datetime]


class WaitingPriority(Base):
    """A household's waiting-list sort key for one score, one day and one version of the rules.

    Worked out once per score and day (ages in the rules follow the calendar), so a page of the
    waiting list sorts stored keys instead of scoring the whole directorate's households again.
    """

    __tablename__ = "waiting_priorities"

    score_id: Mapped[int] = mapped_column(ForeignKey("eligibility_scores.id", ondelete="CASCADE"), primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(primary_key=True, index=True)
    rule_version: Mapped[str] = mapped_column(String(120), primary_key=True)
    sort_key: Mapped[list[Any]]
    #: The key as text that sorts as the key does (registry.households.rank_text): the database orders the list.
    rank: Mapped[str] = mapped_column(String(400))


class Document(Base):
    """A file attached to a case: metadata and hash only; the bytes live in document storage."""

    __tablename__ = "documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(128))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The code of the requested document this file answers (older rows: none, matched by upload time).
    requested_document: Mapped[str | None] = mapped_column(String(100))


class DocumentRequest(Base):
    __tablename__ = "document_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    missing: Mapped[list[Any]] = mapped_column(default=list)
    note: Mapped[str | None] = mapped_column(Text)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEvent(Base):
    """Who did what, when, with before/after; written in the same transaction, never changed."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_case_history", "case_id", "at", "id"),
                      # the administration home lists its own actions, newest first
                      Index("ix_audit_events_action_at", "action", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    action: Mapped[str] = mapped_column(String(50))
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)

    actor: Mapped[User | None] = relationship(lazy="joined")


class SavedFilter(Base):
    """An inbox search a staff user named and kept; only its owner sees it."""

    __tablename__ = "saved_filters"
    __table_args__ = (Index("uq_saved_filters_user_name", "user_id", "name", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    name: Mapped[str] = mapped_column(String(80))
    #: The inbox's query string (search, filters, sort), without the page number.
    query: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class CaseNote(Base):
    """A note a staff user wrote on a case: its text never changes; it may be pinned to the case's summary."""

    __tablename__ = "case_notes"
    __table_args__ = (Index("ix_case_notes_case", "case_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The note form's one-time token: the same form sent twice (a double click, a retry) adds one note.
    form_token: Mapped[str | None] = mapped_column(String(64), unique=True)

    author: Mapped[User] = relationship(lazy="joined")

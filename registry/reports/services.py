"""The dashboards, scoped in one place: a supervisor sees their own directorate, the administrator (a ministry
user, without a directorate) sees every directorate side by side and may narrow to one; anyone else, or a
directorate outside the reader's scope, is told it does not exist.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import NotFoundForActor
from engine.forms import load_form
from registry.models import Directorate, Role, User
from registry.reports import figures
from registry.reports.figures import Figure
from registry.reports.period import Period

#: The order the dashboards show their figures in.
FIGURES = ("registrations", "decisions", "stages", "time_in_stage", "overdue", "poverty", "plan_outcomes",
           "referrals")


@dataclass(frozen=True)
class Dashboard:
    """The figures of the chosen directorates over the period (``ministry`` when every directorate is shown)."""

    period: Period
    visible: list[Directorate]
    chosen: list[Directorate]
    figures: dict[str, Figure]
    now: dt.datetime

    @property
    def ministry(self) -> bool:
        return len(self.chosen) > 1

    @property
    def chosen_code(self) -> str | None:
        return self.chosen[0].code if len(self.chosen) == 1 and len(self.visible) > 1 else None


def may_see_reports(actor: User) -> bool:
    """Whether the reports link is worth showing ``actor`` (the pages check again)."""
    return _ministry_wide(actor) or (actor.role == Role.SUPERVISOR.value and actor.directorate_id is not None)


def _ministry_wide(actor: User) -> bool:
    return actor.role == Role.ADMIN.value and actor.directorate_id is None


def _visible(session: Session, actor: User) -> list[Directorate]:
    if _ministry_wide(actor):
        return list(session.scalars(select(Directorate).order_by(Directorate.code)))
    if actor.role == Role.SUPERVISOR.value and actor.directorate is not None:
        return [actor.directorate]
    return []


def visible_directorates(session: Session, *, actor: User) -> list[Directorate]:
    """The directorates whose figures ``actor`` may read (none: no reports at all)."""
    return _visible(session, actor)


def chosen_directorates(session: Session, *, actor: User, directorate_code: str | None) -> list[Directorate]:
    """The directorates a report covers; NotFoundForActor for a reader without reports or a code outside scope."""
    visible = _visible(session, actor)
    if not visible:
        raise NotFoundForActor("reports")
    if not directorate_code:
        return visible
    chosen = [d for d in visible if d.code == directorate_code]
    if not chosen:
        raise NotFoundForActor(f"directorate {directorate_code}")
    return chosen


def dashboard(session: Session, *, actor: User, period: Period, directorate_code: str | None, now: dt.datetime,
              stage_order: list[str], outcome_choices: list[str]) -> Dashboard:
    """Every figure for the directorates ``actor`` chose within their scope (reads only)."""
    visible = _visible(session, actor)
    chosen = chosen_directorates(session, actor=actor, directorate_code=directorate_code)
    ids = [d.id for d in chosen]
    found: dict[str, Figure | None] = {
        "registrations": figures.registrations(session, directorate_ids=ids, period=period),
        "decisions": figures.decisions(session, directorate_ids=ids, period=period),
        "stages": figures.stages(session, directorate_ids=ids, stage_order=stage_order),
        "time_in_stage": figures.time_in_stage(session, directorate_ids=ids, period=period, stage_order=stage_order),
        "overdue": figures.overdue(session, directorate_ids=ids, now=now, stage_order=stage_order),
        "poverty": figures.poverty(session, directorate_ids=ids, period=period),
        "plan_outcomes": figures.plan_outcomes(session, directorate_ids=ids, period=period, choices=outcome_choices),
        "referrals": figures.referrals(session, directorate_ids=ids, period=period),
    }
    return Dashboard(period=period, visible=visible, chosen=chosen, now=now,
                     figures={k: v for k, v in found.items() if v is not None})


def goals_choices(forms_dir: str | Path) -> list[tuple[str, dict[str, str]]]:
    """The answers the outcome evaluation's goals field offers, with their words (none if the form is gone)."""
    try:
        form = load_form(forms_dir, figures.OUTCOME_FORM)
    except (OSError, ValueError):
        return []
    found = next((f for f in form.fields if f.name == figures.GOALS_FIELD), None)
    return [(c.value, dict(c.label)) for c in found.choices] if found is not None else []

"""Explanations of a stored eligibility score, for staff and for the household.

``explain`` reads one stored score (its indicators, inputs and details) and says, as codes and numbers,
why the household got its category, how it stands against k and the poverty lines, and each
indicator's value with its unit; the rules' own words (labels, cut-offs, units, categories) come in
the explanation's language from the stored score or the rule files. Sentences are the pages' business
(webui.explanations), so the same explanation reads in Arabic and English. Pure: no Flask.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from registry import eligibility
from registry.cases import case_for_actor
from registry.models import Case, Directorate, EligibilityScore, Household, User

#: How a household stands against each cut-off and line (the codes of eligibility.category_reason).
SCORE_FACTS = ("score_at_least_deep_k", "score_at_least_k", "score_below_k")
INCOME_FACTS = ("income_below_deep_poverty_line", "income_below_poverty_line", "income_at_or_above_poverty_line",
                "income_unknown")


@dataclass(frozen=True)
class IndicatorLine:
    """One row of the table: the household's value with its unit, and whether it counts."""

    key: str
    dimension: str
    dimension_label: str
    label: str
    cutoff: str
    #: The value as shown: a number as text, True/False for a yes/no indicator, None when unknown.
    value: str | bool | None
    unit: str
    weight: str
    #: deprived, not_deprived, unknown (the answer is missing) or not_counted (see ``reason``).
    status: str
    reason: str | None = None

    @property
    def deprived(self) -> bool:
        return self.status == "deprived"


@dataclass(frozen=True)
class Explanation:
    lang: str
    category: str
    category_label: str
    rule_version: str
    as_of: str | None
    scored_at: dt.datetime | None
    score: str
    score_decimal: str
    k: str
    deep_k: str
    #: Money as text (NIS per adult equivalent a month); income is None when it was not recorded.
    income_per_ae: str | None
    poverty_line: str
    deep_poverty_line: str
    #: Facts (codes of SCORE_FACTS and INCOME_FACTS) that decided the category, then the other ones.
    because: tuple[str, ...]
    other_facts: tuple[str, ...]
    indicators: tuple[IndicatorLine, ...]
    deprived_indicators: int
    deprived_dimensions: int

    @property
    def deprived(self) -> tuple[IndicatorLine, ...]:
        return tuple(line for line in self.indicators if line.status == "deprived")

    @property
    def unknown(self) -> tuple[IndicatorLine, ...]:
        return tuple(line for line in self.indicators if line.status == "unknown")

    @property
    def not_counted(self) -> tuple[IndicatorLine, ...]:
        return tuple(line for line in self.indicators if line.status == "not_counted")

    @property
    def eligible(self) -> bool:
        return self.category in ("deeply_poor", "poor")


def money(amount: Any) -> str:
    """NIS as shown: whole amounts with thousands separators, others with two decimals."""
    value = float(amount)
    return f"{value:,.0f}" if value == round(value) else f"{value:,.2f}"


def _number(value: Any) -> str:
    if isinstance(value, float) and value != round(value):
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value):,}" if isinstance(value, int | float) else str(value)


def _pick(words: Any, lang: str) -> str:
    if isinstance(words, Mapping):
        return str(words.get(lang) or words.get("en") or "")
    return str(words or "")


def _fraction_text(raw: Any) -> str:
    try:
        return str(Fraction(str(raw)))
    except (ValueError, ZeroDivisionError):
        return str(raw)


def _facts(details: Mapping[str, Any], score: Fraction) -> list[str]:
    """The household's standing against k and the lines, from the numbers stored with its score."""
    k, deep_k = Fraction(str(details["k"])), Fraction(str(details["deep_k"]))
    facts = ["score_at_least_deep_k" if score >= deep_k else "score_at_least_k" if score >= k else "score_below_k"]
    income = details.get("income_per_ae")
    if income is None:
        facts.append("income_unknown")
    elif income < details["deep_poverty_line"]:
        facts.append("income_below_deep_poverty_line")
    elif income < details["poverty_line"]:
        facts.append("income_below_poverty_line")
    else:
        facts.append("income_at_or_above_poverty_line")
    return facts


def _reason(details: Mapping[str, Any], score: Fraction, category: str,
            measure: eligibility.Measure | None) -> tuple[list[str], list[str]]:
    """(facts that decided the category, the others): stored with the score, else worked out again."""
    stored = details.get("category_reason") or details.get("reason")
    reason: Mapping[str, Any] | None = stored if isinstance(stored, Mapping) and "facts" in stored else None
    if reason is None and measure is not None and hasattr(eligibility, "category_reason"):
        # The table of the rules given, with the numbers stored with the score; trusted only when it
        # gives the stored category (a later table may decide differently).
        found = eligibility.category_reason(measure, score=score, income_per_ae=details.get("income_per_ae"))
        if found.get("category") == category and _facts(details, score) == list(found["facts"]):
            reason = found
    facts = list(reason["facts"]) if reason else _facts(details, score)
    because = [fact for fact in (reason.get("because") or []) if fact in facts] if reason else []
    if not because:
        # A catch-all rule (e.g. "not poor") tests nothing: every fact is why no earlier rule matched.
        return facts, []
    return because, [fact for fact in facts if fact not in because]


def _status(row: Mapping[str, Any]) -> tuple[str, str | None]:
    # Only a deprivation can be left uncounted (it needs proof); `counted` is false on every row not deprived.
    if row.get("counted") is False and row.get("deprived") and row.get("reason"):
        return "not_counted", str(row["reason"])
    if row.get("unknown"):
        return "unknown", None
    return ("deprived" if row.get("deprived") else "not_deprived"), None


def explain(score: EligibilityScore, *, lang: str, measure: eligibility.Measure | None = None) -> Explanation:
    """What a stored score says, in ``lang``; ``measure`` (the rules) fills in words older scores lack."""
    details = score.details or {}
    exact = Fraction(str(score.score_exact))
    current = {ind.key: ind for ind in measure.indicators} if measure is not None else {}
    dimensions = {d.key: d.label for d in measure.dimensions} if measure is not None else {}
    lines = []
    for row in score.indicators or []:
        key = str(row.get("key"))
        rules_row = current.get(key)
        unit_words = row.get("unit") if "unit" in row else (rules_row.unit if rules_row is not None else None)
        status, reason = _status(row)
        value = row.get("value")
        shown: str | bool | None
        if value is None or status == "unknown":
            shown = None
        elif isinstance(value, bool):
            shown = value
        else:
            shown = _number(value)
        lines.append(IndicatorLine(
            key=key, dimension=str(row.get("dimension") or ""),
            dimension_label=_pick(row.get("dimension_label") or dimensions.get(str(row.get("dimension"))), lang)
            or str(row.get("dimension") or ""),
            # A row without words is a compact one whose rule version's files the database lacks: today's words.
            label=_pick(row.get("label") or (rules_row.label if rules_row is not None else None), lang),
            cutoff=_pick(row.get("cutoff") or (rules_row.cutoff if rules_row is not None else None), lang), value=shown,
            unit="" if isinstance(shown, bool) else _pick(unit_words, lang),
            weight=str(row.get("weight_exact") or _fraction_text(row.get("weight"))), status=status, reason=reason))
    category_words = measure.category_labels.get(score.category) if measure is not None else None
    because, others = _reason(details, exact, score.category, measure) if "k" in details else ([], [])
    income = details.get("income_per_ae")
    return Explanation(
        lang=lang, category=score.category, category_label=_pick(category_words, lang) or score.category,
        rule_version=score.rule_version, as_of=details.get("as_of"), scored_at=score.created_at,
        score=str(exact), score_decimal=f"{float(exact):.3f}",
        k=_fraction_text(details.get("k", "")), deep_k=_fraction_text(details.get("deep_k", "")),
        income_per_ae=None if income is None else money(income),
        poverty_line=money(details.get("poverty_line", 0)),
        deep_poverty_line=money(details.get("deep_poverty_line", 0)),
        because=tuple(because), other_facts=tuple(others), indicators=tuple(lines),
        deprived_indicators=int(details.get("deprived_indicators", sum(1 for line in lines if line.deprived))),
        deprived_dimensions=int(details.get("deprived_dimensions", len({line.dimension for line in lines
                                                                         if line.deprived}))))


# --- the household's decision letter ---------------------------------------------------------------


@dataclass(frozen=True)
class DecisionLetter:
    """What the household is told about its request: the case, the decision, where to ask for a review."""

    case: Case
    directorate: Directorate
    household: Household | None
    head_name: str
    head_national_id: str
    explanation: Explanation | None
    #: The case's status and stage when the letter is made (open cases have no final decision yet).
    status: str
    stage: str
    issued_on: dt.date


def decision_letter(session: Session, *, actor: User, case_id: int, lang: str, today: dt.date,
                    measure: eligibility.Measure | None = None) -> DecisionLetter:
    """The letter of a case of the actor's directorate, from its latest score in that directorate."""
    case = case_for_actor(session, actor=actor, case_id=case_id)
    return letter_of_case(session, case=case, lang=lang, today=today, measure=measure)


def letter_of_case(session: Session, *, case: Case, lang: str, today: dt.date,
                   measure: eligibility.Measure | None = None) -> DecisionLetter:
    """The letter of a case the caller has already found for its reader (staff or the household itself)."""
    household = session.get(Household, case.household_id) if case.household_id is not None else None
    if household is not None and household.directorate_id != case.directorate_id:
        household = None  # registered elsewhere since: that directorate's to tell
    score = None
    if case.household_id is not None:
        score = session.scalars(
            select(EligibilityScore).where(or_(
                EligibilityScore.case_id == case.id,
                and_(EligibilityScore.household_id == case.household_id,
                     EligibilityScore.directorate_id == case.directorate_id)))
            .order_by(EligibilityScore.created_at.desc(), EligibilityScore.id.desc()).limit(1)).first()
    head = household.head if household is not None else None
    return DecisionLetter(
        case=case, directorate=case.directorate, household=household,
        head_name=(head.name_ar if head is not None else "") or "",
        head_national_id=(head.national_id if head is not None else case.applicant_national_id) or "",
        explanation=explain(score, lang=lang, measure=measure) if score is not None else None,
        status=case.status, stage=case.stage, issued_on=today)


def facts_in_order(explanation: Explanation) -> Sequence[str]:
    """Every fact of the explanation, the deciding ones first."""
    return (*explanation.because, *explanation.other_facts)

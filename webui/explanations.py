"""The words of an eligibility explanation: registry.explanations says what, these sentences say it (Babel)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask_babel import gettext as _

from registry import eligibility
from registry.explanations import DecisionLetter, Explanation, IndicatorLine, explain
from registry.models import EligibilityScore
from webui.db import deployed_library, deployed_version

#: The measure of each deployed version, by content hash: a deployed version's rule files never change.
_VERSION_MEASURES: dict[str, eligibility.Measure] = {}


def current_measure() -> eligibility.Measure | None:
    """The deployed rules (their words fill in what older scores lack); none when they cannot be read."""
    key = deployed_version()
    found = _VERSION_MEASURES.get(key.content_hash) if key is not None else None
    if found is not None:
        return found
    try:
        found = eligibility.load_measure(deployed_library().rules_dir)
    except (eligibility.RuleFileInvalid, OSError):
        return None
    if key is not None:
        _VERSION_MEASURES[key.content_hash] = found
    return found


def explanation_of(score: EligibilityScore) -> Explanation:
    from webui.rendering import page_language

    return explain(score, lang=page_language(), measure=current_measure())


def fact_sentence(fact: str, e: Explanation) -> str:
    """One fact about the household against a cut-off or a line, with its numbers and units."""
    if fact == "score_at_least_deep_k":
        return _("the deprivation score, %(score)s, is at least the deep poverty cut-off of %(deep_k)s",
                 score=e.score, deep_k=e.deep_k)
    if fact == "score_at_least_k":
        return _("the deprivation score, %(score)s, is at least the poverty cut-off k of %(k)s "
                 "(and below the deep poverty cut-off of %(deep_k)s)", score=e.score, k=e.k, deep_k=e.deep_k)
    if fact == "score_below_k":
        return _("the deprivation score, %(score)s, is below the poverty cut-off k of %(k)s", score=e.score, k=e.k)
    if fact == "income_below_deep_poverty_line":
        return _("income per adult equivalent, %(income)s NIS a month, is below the deep poverty line of "
                 "%(line)s NIS a month", income=e.income_per_ae, line=e.deep_poverty_line)
    if fact == "income_below_poverty_line":
        return _("income per adult equivalent, %(income)s NIS a month, is below the poverty line of %(line)s NIS "
                 "a month but not below the deep poverty line of %(deep_line)s NIS a month",
                 income=e.income_per_ae, line=e.poverty_line, deep_line=e.deep_poverty_line)
    if fact == "income_at_or_above_poverty_line":
        return _("income per adult equivalent, %(income)s NIS a month, is at or above the poverty line of "
                 "%(line)s NIS a month", income=e.income_per_ae, line=e.poverty_line)
    if fact == "income_unknown":
        return _("income per adult equivalent is unknown (the income was not recorded)")
    return fact


def joined(parts: list[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return _("%(first)s and %(last)s", first=_(", ").join(parts[:-1]), last=parts[-1])


def reason_sentence(e: Explanation) -> str:
    """"Deeply poor because income per adult equivalent, 157 NIS a month, is below ..." """
    if not e.because:
        return _("%(category)s.", category=e.category_label)
    return _("%(category)s because %(reasons)s.", category=e.category_label,
             reasons=joined([fact_sentence(f, e) for f in e.because]))


def other_facts_sentence(e: Explanation) -> str:
    if not e.other_facts:
        return ""
    return _("Also: %(facts)s.", facts=joined([fact_sentence(f, e) for f in e.other_facts]))


def status_words(line: IndicatorLine) -> str:
    if line.status == "deprived":
        return _("Yes")
    if line.status == "unknown":
        return _("Unknown")
    if line.status == "not_counted":
        if line.reason == "unverified":
            return _("Not counted: not yet verified")
        return _("Not counted: %(reason)s", reason=line.reason)
    return _("No")


def value_words(line: IndicatorLine) -> str:
    if line.value is None:
        return _("Unknown (not recorded)")
    if line.value is True:
        return _("Yes")
    if line.value is False:
        return _("No")
    return f"{line.value} {line.unit}".strip()


def register_template_helpers(app: Flask) -> None:
    helpers: dict[str, Any] = {
        "explanation_of": explanation_of, "reason_sentence": reason_sentence,
        "other_facts_sentence": other_facts_sentence, "status_words": status_words, "value_words": value_words,
        "fact_sentence": fact_sentence,
    }
    app.jinja_env.globals.update(helpers)


# --- the household's letter: plain words ------------------------------------------------------------


def _percent(fraction_text: str) -> str:
    from fractions import Fraction

    return f"{float(Fraction(fraction_text)) * 100:.0f}"


def household_fact(fact: str, e: Explanation) -> str:
    """A fact in the household's words: scores out of 100, income in NIS, no jargon beyond the lines."""
    score, k, deep_k = _percent(e.score), _percent(e.k), _percent(e.deep_k)
    if fact == "score_at_least_deep_k":
        return _("your household's deprivation score, %(score)s out of 100, is at or above %(deep_k)s, the level "
                 "of deep poverty", score=score, deep_k=deep_k)
    if fact == "score_at_least_k":
        return _("your household's deprivation score, %(score)s out of 100, is at or above %(k)s, the level at "
                 "which a household counts as poor", score=score, k=k)
    if fact == "score_below_k":
        return _("your household's deprivation score, %(score)s out of 100, is below %(k)s, the level at which a "
                 "household counts as poor", score=score, k=k)
    if fact == "income_below_deep_poverty_line":
        return _("your household's monthly income per adult equivalent, %(income)s NIS, is below the deep poverty "
                 "line of %(line)s NIS", income=e.income_per_ae, line=e.deep_poverty_line)
    if fact == "income_below_poverty_line":
        return _("your household's monthly income per adult equivalent, %(income)s NIS, is below the poverty line "
                 "of %(line)s NIS but not below the deep poverty line of %(deep_line)s NIS",
                 income=e.income_per_ae, line=e.poverty_line, deep_line=e.deep_poverty_line)
    if fact == "income_at_or_above_poverty_line":
        return _("your household's monthly income per adult equivalent, %(income)s NIS, is at or above the poverty "
                 "line of %(line)s NIS", income=e.income_per_ae, line=e.poverty_line)
    if fact == "income_unknown":
        return _("we did not have your household's income")
    return fact


@dataclass(frozen=True)
class LetterText:
    """The letter's words in one language, shared by the printable page and the PDF."""

    lang: str
    letterhead: str
    title: str
    meta: list[tuple[str, str]]
    greeting: str
    result: str
    status: str
    why: str
    score_note: str
    deprived_heading: str
    deprived: list[str]
    unknown_heading: str
    unknown: list[str]
    not_counted_heading: str
    not_counted: list[str]
    review_heading: str
    review: list[str]
    closing: str


def letter_text(letter: DecisionLetter, lang: str) -> LetterText:
    """The decision letter's words in ``lang`` (call inside ``force_locale(lang)``)."""
    from webui.rendering import label

    e = letter.explanation
    directorate = letter.directorate.name(lang)
    meta = [(_("Case number"), letter.case.reference), (_("Date"), letter.issued_on.isoformat())]
    if letter.head_national_id:
        meta.append((_("National ID"), letter.head_national_id))
    meta.append((_("Directorate"), directorate))
    greeting = (_("Dear %(name)s,", name=letter.head_name) if letter.head_name
                else _("Dear applicant,"))
    if e is None:
        result = _("Your household's eligibility has not been assessed yet. We will write to you when it has.")
        why = score_note = ""
        deprived: list[str] = []
        unknown: list[str] = []
        not_counted: list[str] = []
    else:
        if e.category not in ("deeply_poor", "poor", "not_poor"):
            # e.g. "incomplete": too many answers missing to decide
            result = _("We could not yet decide on your household's eligibility (%(category)s): some answers we "
                       "need are missing. The directorate will ask you for them.", category=e.category_label)
        elif e.eligible:
            result = _("We assessed your household's situation with the ministry's measure of multidimensional "
                       "poverty. The result is: %(category)s. Your household meets the conditions for assistance.",
                       category=e.category_label)
        else:
            result = _("We assessed your household's situation with the ministry's measure of multidimensional "
                       "poverty. The result is: %(category)s. Your household does not meet the conditions for "
                       "assistance at this time.", category=e.category_label)
        facts = list(e.because or e.other_facts)
        why = _("Why: %(reasons)s.", reasons=joined([household_fact(f, e) for f in facts])) if facts else ""
        score_note = _("We look at %(total)s things in your household's life (health, education, work, housing, "
                       "services, safety, assets and income). Each has a weight; the deprivation score adds up the "
                       "weights of those in which your household is deprived.", total=len(e.indicators))
        deprived = [f"{line.label}: {line.cutoff}" for line in e.deprived]
        unknown = [line.label for line in e.unknown]
        not_counted = [line.label for line in e.not_counted]
    if letter.status == "open" and letter.stage in ("registration", "eligibility"):
        status = _("Your request is still being reviewed by the directorate (stage: %(stage)s); this result may "
                   "change after the review, and we will tell you the final decision.",
                   stage=label("stage", letter.stage, lang))
    else:
        status = _("Status of your request: %(status)s.", status=label("status", letter.status, lang))
    review = [
        _("If you think this decision is wrong, or that information about your household is missing or incorrect, "
          "you can ask for a review. Come to the %(directorate)s, or contact it, with this letter and your "
          "identity card, and quote your case number %(reference)s.", directorate=directorate,
          reference=letter.case.reference),
        _("You can also make a complaint at your directorate or through the Ministry of Social Development's "
          "complaints channel (its Complaints Unit)."),
        _("Asking for a review or making a complaint is free, does not count against your household, and does not "
          "take away your right to any other legal remedy."),
    ]
    return LetterText(
        lang=lang, letterhead=_("State of Palestine — Ministry of Social Development"),
        title=_("Decision on your household's eligibility for assistance"), meta=meta, greeting=greeting,
        result=result, status=status, why=why, score_note=score_note,
        deprived_heading=_("Your household was counted as deprived in:"), deprived=deprived,
        unknown_heading=_("We did not have this information, so it was not counted:"), unknown=unknown,
        not_counted_heading=_("These answers were not counted because they are not yet verified; you can bring "
                              "documents that show them:"), not_counted=not_counted,
        review_heading=_("How to ask for a review or make a complaint"), review=review,
        closing=directorate)

"""Every check an analyst's change must pass: process files, forms they name, rule files."""

from __future__ import annotations

from pathlib import Path

from engine.forms import load_form
from engine.library import Library, check_library, yaml_problems
from engine.vocabulary import VOCABULARY_FILE, VocabularyInvalid, load_vocabulary
from registry import eligibility, household_waits, registration, rule_checks
from registry.models import Role
from registry.notifications import templates
from registry.supervision import rules as supervision_rules


def check_all(library: Library) -> dict[str, list[str]]:
    """Problems per file (relative to the project); an empty list means the file is fine."""
    report = check_library(library)
    for name in ("poverty_measure.yaml", "poverty_category.dmn", "priority.yaml", "price_index.csv"):
        report.setdefault(str(Path(library.rules_dir) / name), [])
    for problem in [*eligibility.check_rules(library.rules_dir, forms_dir=library.forms_dir),
                    *rule_checks.explanation_problems(library.rules_dir, forms_dir=library.forms_dir)]:
        # Each problem starts with the rule file it is about.
        name = problem.split(":", 1)[0]
        report.setdefault(str(Path(library.rules_dir) / name), []).append(problem)
    # Other rule data is not read yet; a file that cannot be read is listed all the same.
    for path in sorted(Path(library.rules_dir).glob("*.yaml")):
        if path.name not in (eligibility.MEASURE_FILE, eligibility.PRIORITY_FILE):
            report[str(path)] = yaml_problems(path)
    supervision = Path(library.rules_dir) / supervision_rules.FILE_NAME
    if supervision.exists() and not report.get(str(supervision)):
        try:
            supervision_rules.load_supervision_rules(library.rules_dir)
        except supervision_rules.SupervisionRulesInvalid as err:
            report[str(supervision)] = [str(err)]
    _check_registration_form(library, report)
    _check_lane_roles(library, report)
    notifications = Path(library.processes_dir) / templates.NOTIFICATIONS_FILE
    report.setdefault(str(notifications), []).extend(templates.file_problems(notifications))
    waits = Path(library.processes_dir) / household_waits.SETTINGS_FILE
    if waits.exists():
        report.setdefault(str(waits), []).extend(household_waits.settings_problems(waits))
    return report


def _check_registration_form(library: Library, report: dict[str, list[str]]) -> None:
    """The registry reads the registration form's fields by name: each must still be there."""
    path = Path(library.forms_dir) / f"{registration.REGISTRATION_FORM}.yaml"
    try:
        form = load_form(library.forms_dir, registration.REGISTRATION_FORM)
    except FileNotFoundError:
        problems = ["the registry registers households with this form, and it is missing"]
    except Exception:  # a form that does not load is already reported against its file
        problems = []
    else:
        problems = registration.form_problems(form)
    report.setdefault(str(path), []).extend(problems)


def _check_lane_roles(library: Library, report: dict[str, list[str]]) -> None:
    """A lane's role must be one a staff account can have, or its tasks would reach nobody."""
    path = Path(library.processes_dir) / VOCABULARY_FILE
    try:
        lanes = load_vocabulary(library.processes_dir).lane_roles
    except VocabularyInvalid:  # already reported against the file
        return
    accounts = sorted(r.value for r in Role)
    for role in sorted(lanes - set(accounts)):
        report.setdefault(str(path), []).append(
            f"roles.{role}: no staff account can have this role ({', '.join(accounts)}); "
            "mark it lane: false or ask for the role to be added")

"""Every check an analyst's change must pass: process files, forms they name, rule files."""

from __future__ import annotations

from pathlib import Path

from engine.library import Library, check_library
from registry import eligibility


def check_all(library: Library) -> dict[str, list[str]]:
    """Problems per file (relative to the project); an empty list means the file is fine."""
    report = check_library(library)
    for name in ("poverty_measure.yaml", "poverty_category.dmn", "priority.yaml"):
        report.setdefault(str(Path(library.rules_dir) / name), [])
    for problem in eligibility.check_rules(library.rules_dir, forms_dir=library.forms_dir):
        # Each problem starts with the rule file it is about.
        name = problem.split(":", 1)[0]
        report.setdefault(str(Path(library.rules_dir) / name), []).append(problem)
    return report

"""Every check an analyst's change must pass: process files, forms they name, rule files."""

from __future__ import annotations

from pathlib import Path

from engine.library import Library, check_library, yaml_problems
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
    # Other rule data is not read yet; a file that cannot be read is listed all the same.
    for path in sorted(Path(library.rules_dir).glob("*.yaml")):
        if path.name not in (eligibility.MEASURE_FILE, eligibility.PRIORITY_FILE):
            report[str(path)] = yaml_problems(path)
    return report

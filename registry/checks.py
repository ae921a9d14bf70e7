"""Every check an analyst's change must pass: process files, forms they name, rule files."""

from __future__ import annotations

from pathlib import Path

from engine.library import Library, check_library
from registry import eligibility


def check_all(library: Library) -> dict[str, list[str]]:
    """Problems per file (relative to the project); an empty list means the file is fine."""
    report = check_library(library)
    rules = eligibility.check_rules(library.rules_dir)
    report[str(Path(library.rules_dir) / "poverty_measure.yaml")] = rules
    return report

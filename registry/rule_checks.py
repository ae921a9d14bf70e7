"""Rule texts that say what the rule does: every number an explanation writes is a number of the rule.

An indicator's cut-off text ("3 or more persons per sleeping room") is what staff and households read; the
rule itself is its expressions and the parameters they name (``crowding_persons_per_room: 3``). When someone
changes the parameter and forgets the text, the household is told one thing and scored by another. So every
number written in an indicator's label and cut-off text, and in a priority key's label, in English or in
Arabic (Western or Arabic-Indic digits), must be one the rule reads: a literal in its expressions, or the
value of a parameter they reach (directly or through the worked-out values). A number quoted from the
question a field asks ("in the last 12 months") is also accepted. "Under 15" for ``age < 16`` is refused on
purpose: a text that needs another number than the rule's is easier to misread than to reword.
"""

from __future__ import annotations

import ast
import re
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from engine import expressions
from engine.library import load_yaml_mapping
from registry.eligibility import MEASURE_FILE, PRIORITY_FILE

#: A number as people write it: 12, 2,470, 0.46, 1/3, and the same in Arabic-Indic digits (١٢، ٢٬٤٧٠، ٠٫٤٦).
_NUMBER = re.compile(r"\d+(?:[,\u066c]\d{3})*(?:[.\u066b]\d+)?(?:\s*/\s*\d+)?")
#: round(x, 2): the 2 is a precision, not a threshold anyone writes about.
_PRECISION_ARGUMENT = {"round": 1}


def _as_number(written: str) -> Fraction:
    plain = "".join(str(unicodedata.decimal(ch)) if ch.isdecimal() else ch for ch in written)
    plain = plain.replace(",", "").replace("\u066c", "").replace("\u066b", ".").replace(" ", "")
    return Fraction(plain)


def numbers_written(text: str) -> list[tuple[str, Fraction]]:
    """The numbers in a text, as written and as values."""
    return [(match.group(), _as_number(match.group())) for match in _NUMBER.finditer(text)]


def _shown(number: Fraction) -> str:
    return str(number.numerator) if number.denominator == 1 else str(number)


@dataclass
class _Reach:
    """What one rule reads: its numbers (with the parameter each comes from) and the fields it names."""

    numbers: dict[Fraction, set[str]] = field(default_factory=dict)
    names: set[str] = field(default_factory=set)

    def add(self, number: Fraction, source: str = "") -> None:
        sources = self.numbers.setdefault(number, set())
        if source:
            sources.add(source)

    def accepts(self, number: Fraction, quoted: set[Fraction]) -> bool:
        return number in self.numbers or number in quoted

    def listed(self) -> str:
        if not self.numbers:
            return "the rule uses no number"
        parts = []
        for number in sorted(self.numbers):
            sources = sorted(self.numbers[number])
            parts.append(f"{_shown(number)} ({', '.join(sources)})" if sources else _shown(number))
        return "the rule's numbers are " + ", ".join(parts)


class _Rules:
    """The parameters and worked-out values of the measure: the names an expression can reach."""

    def __init__(self, measure: Mapping[str, Any]) -> None:
        raw_parameters = measure.get("parameters")
        self.parameters: dict[str, Fraction] = {}
        for name, value in (raw_parameters.items() if isinstance(raw_parameters, Mapping) else ()):
            if isinstance(value, int | float) and not isinstance(value, bool):
                self.parameters[str(name)] = Fraction(value)
        for name, key in (("k", "poverty_cutoff_k"), ("deep_k", "deep_poverty_cutoff")):
            try:
                self.parameters[name] = Fraction(str(measure.get(key)).strip())
            except (ValueError, ZeroDivisionError):
                pass
        self.definitions: dict[str, str] = {}
        for section in ("monetary", "member_values", "household_values"):
            values = measure.get(section)
            if isinstance(values, Mapping):
                self.definitions.update({str(name): str(text) for name, text in values.items()})

    def reach(self, texts: Iterable[str], local: Mapping[str, str] | None = None) -> _Reach:
        found = _Reach()
        definitions = {**self.definitions, **(local or {})}
        seen: set[str] = set()
        pending = list(texts)
        while pending:
            text = pending.pop()
            if text in seen:
                continue
            seen.add(text)
            try:
                tree = ast.parse(text.strip(), mode="eval")
                conditions = expressions.item_conditions(text)
            except (SyntaxError, RecursionError, MemoryError, ValueError):
                continue  # the measure's own check reports an expression it cannot read
            pending += conditions
            for name in self._walk(tree, found):
                if name in self.parameters:
                    found.add(self.parameters[name], name)
                elif name in definitions:
                    pending.append(definitions[name])
                else:
                    found.names.add(name)
        return found

    def _walk(self, tree: ast.AST, found: _Reach) -> Iterator[str]:
        """Numbers into ``found``; yields every name read (as a name, or as a field name in quotes)."""
        skipped: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                position = _PRECISION_ARGUMENT.get(node.func.id)
                if position is not None and len(node.args) > position:
                    skipped.add(id(node.args[position]))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name):
                yield node.id
            elif isinstance(node, ast.Constant) and id(node) not in skipped:
                if isinstance(node.value, int | float) and not isinstance(node.value, bool):
                    found.add(Fraction(node.value))
                elif isinstance(node.value, str) and node.value.isidentifier():
                    yield node.value  # count(members, "is_child", True) reads the value is_child



def _quoted_numbers(form: Mapping[str, Any], names: set[str]) -> set[Fraction]:
    """Numbers in the questions (labels and choices) of the form fields named: a text may quote them."""
    found: set[Fraction] = set()
    pending = [f for f in form.get("fields") or [] if isinstance(f, Mapping)]
    while pending:
        form_field = pending.pop()
        pending += [f for f in form_field.get("fields") or [] if isinstance(f, Mapping)]
        if form_field.get("name") not in names:
            continue
        labels = [form_field.get("label"), *(c.get("label") for c in form_field.get("choices") or []
                                             if isinstance(c, Mapping))]
        for label in labels:
            for text in (label.values() if isinstance(label, Mapping) else ()):
                found |= {number for _, number in numbers_written(str(text))}
    return found


def _text_problems(where: str, texts: Mapping[str, Any], reach: _Reach, quoted: set[Fraction]) -> list[str]:
    problems = []
    for what, label in texts.items():
        if not isinstance(label, Mapping):
            continue
        for lang in ("en", "ar"):
            text = label.get(lang)
            if not isinstance(text, str):
                continue
            wrong = [written for written, number in numbers_written(text) if not reach.accepts(number, quoted)]
            if wrong:
                says = ", ".join(wrong)
                problems.append(f"{where}: the {what} text ({lang}) says {says}, but {reach.listed()}: "
                                f"change the text or the rule so they agree")
    return problems


def _name(label: Any) -> str:
    name = " ".join(str(label.get("en") or "").split()) if isinstance(label, Mapping) else ""
    return f' ("{name}")' if name else ""


def explanation_problems(rules_dir: str | Path, forms_dir: str | Path | None = None) -> list[str]:
    """Numbers written in the rules' explanations that the rules do not use, each naming file, key and label."""
    rules_dir = Path(rules_dir)
    try:
        measure = load_yaml_mapping((rules_dir / MEASURE_FILE).read_bytes())
    except (OSError, ValueError):  # check_rules lists a missing or unreadable file
        return []
    rules = _Rules(measure)
    form: Mapping[str, Any] = {}
    forms_dir = Path(forms_dir) if forms_dir is not None else rules_dir.resolve().parent / "forms"
    if isinstance(measure.get("form"), str):
        try:
            form = load_yaml_mapping((forms_dir / f"{measure['form']}.yaml").read_bytes())
        except (OSError, ValueError):
            form = {}
    problems: list[str] = []
    for dimension in measure.get("dimensions") or []:
        for indicator in (dimension.get("indicators") or []) if isinstance(dimension, Mapping) else []:
            if not isinstance(indicator, Mapping):
                continue
            value, deprived_if = str(indicator.get("value")), str(indicator.get("deprived_if"))
            reach = rules.reach([value, deprived_if], local={"value": value})
            where = f"{MEASURE_FILE}: indicator {indicator.get('key')}{_name(indicator.get('label'))}"
            problems += _text_problems(where, {"label": indicator.get("label"), "cutoff": indicator.get("cutoff")},
                                       reach, _quoted_numbers(form, reach.names))
    try:
        priority = load_yaml_mapping((rules_dir / PRIORITY_FILE).read_bytes())
    except (OSError, ValueError):
        return problems
    for key in priority.get("order") or []:
        if not isinstance(key, Mapping):
            continue
        reach = rules.reach([str(key.get("expression"))])
        where = f"{PRIORITY_FILE}: key {key.get('key')}{_name(key.get('label'))}"
        problems += _text_problems(where, {"label": key.get("label")}, reach, _quoted_numbers(form, reach.names))
    return problems

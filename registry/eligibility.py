"""Eligibility: the multidimensional poverty measure (Alkire–Foster), read from the analyst's rule files.

``rules/poverty_measure.yaml`` (indicators, cut-offs, weights, poverty lines), ``rules/poverty_category.dmn``
(the category) and ``rules/priority.yaml`` (the waiting-list order) are the only source of truth: this
module checks them, compiles every expression once, and scores households with the compiled code.
Pure: no Flask, no database.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import hashlib
import io
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from engine import expressions
from engine.errors import ExpressionError, ProcessInvalid
from engine.library import load_yaml_mapping
from registry import price_index

MEASURE_FILE = "poverty_measure.yaml"
CATEGORY_FILE = "poverty_category.dmn"
PRIORITY_FILE = "priority.yaml"
#: Every file the measure reads: what a rule version is made of. Its label hashes them and the database
#: keeps their texts (registry.scores), so a stored score can be recomputed without the files on disk.
#: A file the measure starts reading must be added here, or a change to it would not change the label.
MEASURE_FILES = (MEASURE_FILE, CATEGORY_FILE, price_index.PRICE_INDEX_FILE)

#: How an indicator says when its deprivation counts: as answered, or only once its answers are verified.
COUNTS_WHEN = ("answered", "verified")
#: The ways of knowing an answer (registry.verification) that count as verified: another ministry's record,
#: a document, a field visit. The household's word alone does not.
VERIFIED_HOW = frozenset({"ministry", "document", "field_visit"})
#: Where a household's data carries the source of each value, by value path (``members.0.disability``).
SOURCES = "sources"

#: What the category table may answer, and the names it is given (the contract with the .dmn file).
CATEGORIES = ("deeply_poor", "poor", "not_poor", "incomplete")
CATEGORY_INPUTS = ("score", "k", "deep_k", "income_per_ae", "poverty_line", "deep_poverty_line",
                   "unknown_weight", "max_unknown_weight")
#: What an indicator's unknown counts as (its ``unknown``): left out with its weight shared within the
#: dimension (Alkire–Foster), or counted as deprived or as not deprived.
UNKNOWN_TREATMENTS = ("exclude", "deprived", "not_deprived")
CATEGORY_OUTPUT = "category"

#: Names the scorer itself puts into the namespace of the measure's expressions.
_MEASURE_NAMES = frozenset({"as_of", "members", "value", "k", "deep_k", "poverty_line", "deep_poverty_line",
                            "price_factor", "max_unknown_weight", "unknown"})
#: Names of a household's scoring that priority expressions may read.
_SCORING_NAMES = frozenset(
    {"score", "category", "deprived_indicators", "deprived_dimensions", "income_per_ae", "poverty_line",
     "deep_poverty_line", "unknown_weight"})
#: Functions that read a field of each member by a literal name: count(members, "field", ...).
_FIELD_FUNCTIONS = frozenset({"count", "pluck"})

_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


class RuleFileInvalid(ProcessInvalid):
    """A rule file has problems that would break scoring; ``problems`` names the file and place of each."""


# --------------------------------------------------------------------------------------------------
# The loaded rules


@dataclass(frozen=True, eq=False)
class Indicator:
    key: str
    dimension: str
    label: Mapping[str, str]
    cutoff: Mapping[str, str]
    weight: Fraction
    value_expression: str
    deprived_expression: str
    #: "verified": the deprivation counts only once every answer behind it is verified (VERIFIED_HOW).
    counts_when: str = "answered"
    #: The answers behind it, as value paths (``members.<field>``: that field of every member).
    reads: tuple[str, ...] = ()
    #: What the value counts or measures, in words (e.g. persons per room); none for a yes/no value.
    unit: Mapping[str, str] | None = None
    #: When the answers cannot decide it (``unknown_if``; None: always decided), and what unknown counts as.
    unknown_expression: str | None = None
    unknown_treatment: str = "exclude"


@dataclass(frozen=True, eq=False)
class Dimension:
    key: str
    label: Mapping[str, str]
    weight: Fraction
    indicators: tuple[Indicator, ...]


@dataclass(frozen=True, eq=False)
class CategoryRule:
    row: int
    rule_id: str
    description: str
    condition: str
    category: str


@dataclass(frozen=True, eq=False)
class _Step:
    """One indicator, ready to run: where the program leaves its results, integer weight, fixed row part."""

    value_name: str
    deprived_name: str
    numerator: int
    dimension_bit: int
    row: Mapping[str, Any]
    #: The answers that must be verified before a deprivation counts; None when it counts as answered.
    verified_reads: tuple[str, ...] | None = None
    #: Where the program leaves "the answers cannot decide it" (None: always decided), and what it counts as.
    unknown_name: str | None = None
    unknown_treatment: str = "exclude"
    #: The indicator's weight as written, its share of its dimension, and the dimension's position.
    weight: Fraction = Fraction(0)
    share: Fraction = Fraction(0)
    dimension_index: int = 0


@dataclass(frozen=True)
class Lines:
    """The money poverty lines of one scoring, NIS per adult equivalent per month, and the prices they are at."""

    poverty_line: float
    deep_poverty_line: float
    price_factor: Fraction
    #: The month of price_index.csv the factor was read from ("2025-06"); None when the lines are not indexed.
    price_month: str | None
    price_source: str | None


@dataclass(frozen=True, eq=False)
class Measure:
    """The poverty measure of one rules directory, checked and compiled."""

    rules_dir: Path
    version: str
    rule_version: str
    #: The full digest of the files (the label carries its first 12 characters), and their texts.
    content_hash: str
    sources: Mapping[str, str] = field(repr=False)
    k: Fraction
    deep_k: Fraction
    poverty_line: float
    deep_poverty_line: float
    parameters: Mapping[str, Any]
    form: str | None
    dimensions: tuple[Dimension, ...]
    category_rules: tuple[CategoryRule, ...]
    #: How pages name each category, in each language (the file's ``categories``).
    category_labels: Mapping[str, Mapping[str, str]]
    #: Household fields and member fields the rules read: what a scoring records as its inputs.
    input_fields: tuple[str, ...]
    member_fields: tuple[str, ...]
    member_value_names: tuple[str, ...]
    household_value_names: tuple[str, ...]
    # Each program runs a whole section of the file in one step (expressions.assigner): the fast path.
    _member_program: Callable[[dict[str, Any]], None] = field(repr=False)
    _household_program: Callable[[dict[str, Any]], None] = field(repr=False)
    _indicator_program: Callable[[dict[str, Any]], None] = field(repr=False)
    _steps: tuple[_Step, ...] = field(repr=False)
    _denominator: int = field(repr=False)
    _base: Mapping[str, Any] = field(repr=False)
    _category_base: dict[str, Any] = field(repr=False)
    _category_tests: tuple[tuple[Callable[[Mapping[str, Any]], Any], str], ...] = field(repr=False)
    _score_cache: dict[int, tuple[Fraction, str, float, bool]] = field(repr=False, default_factory=dict)
    #: (left out, counted) per indicator → applied weights (exact, float, text) and the score (``_reweighted``).
    _reweight_cache: dict[tuple[tuple[bool, ...], tuple[bool, ...]],
                          tuple[tuple[tuple[Fraction, float, str], ...], Fraction]] = field(
        repr=False, default_factory=dict)
    #: Above this share of the measure's weight unknown, the category table answers "incomplete".
    max_unknown_weight: Fraction = Fraction(1)
    #: The price index the lines follow (None: the lines do not read price_factor), and the compiled lines.
    prices: price_index.PriceIndex | None = field(repr=False, default=None)
    _line_programs: tuple[Callable[[Mapping[str, Any]], Any], ...] = field(repr=False, default=())
    _lines_cache: dict[dt.date, Lines] = field(repr=False, default_factory=dict)
    #: Only member values read the scoring date (``as_of`` is named nowhere else in the measure's file).
    _date_in_member_values_only: bool = field(repr=False, default=False)

    def lines_on(self, as_of: dt.date) -> Lines:
        """The money poverty lines at the prices of the month of ``as_of`` (see price_index.csv)."""
        if self.prices is None:
            return Lines(self.poverty_line, self.deep_poverty_line, Fraction(1), None, None)
        lines = self._lines_cache.get(as_of)
        if lines is None:
            factor = self.prices.factor_on(as_of)
            namespace = {**self.parameters, "price_factor": float(factor.factor)}
            poverty, deep = (float(program(namespace)) for program in self._line_programs)
            lines = Lines(poverty, deep, factor.factor, factor.month, factor.source)
            self._lines_cache[as_of] = lines
        return lines

    @property
    def indicators(self) -> tuple[Indicator, ...]:
        return tuple(ind for dim in self.dimensions for ind in dim.indicators)

    def _categorise(self, score: Fraction, income_per_ae: Any, unknown_weight: Fraction = Fraction(0),
                    lines: Lines | None = None) -> str:
        table = self._category_table(score, income_per_ae, unknown_weight, lines)
        for test, category in self._category_tests:
            if test(table):
                return category
        raise AssertionError("unreachable: the loader requires a last rule that matches everything")

    def _category_table(self, score: Fraction, income_per_ae: Any, unknown_weight: Fraction = Fraction(0),
                        lines: Lines | None = None) -> dict[str, Any]:
        """The inputs of poverty_category.dmn; ``lines`` are the scoring's (by default, at reference prices)."""
        table = self._category_base.copy()
        table["score"] = score
        table["income_per_ae"] = income_per_ae
        table["unknown_weight"] = unknown_weight
        if lines is not None:
            table["poverty_line"] = lines.poverty_line
            table["deep_poverty_line"] = lines.deep_poverty_line
        return table

    def _score_forms(self, numerator: int) -> tuple[Fraction, str, float, bool]:
        # A score is one of few fractions (numerator / common denominator): build each form once.
        forms = self._score_cache.get(numerator)
        if forms is None:
            score = Fraction(numerator, self._denominator)
            forms = (score, str(score), round(float(score), 6), score >= self.k)
            self._score_cache[numerator] = forms
        return forms


@dataclass(frozen=True, eq=False)
class PriorityKey:
    key: str
    label: Mapping[str, str]
    expression: str
    descending: bool
    evaluate: Callable[[Mapping[str, Any]], Any] = field(repr=False)


@dataclass(frozen=True, eq=False)
class Priority:
    """The waiting-list order of ``rules/priority.yaml``, with the measure whose values it reads."""

    version: str
    rule_version: str
    keys: tuple[PriorityKey, ...]
    measure: Measure


@dataclass(slots=True)
class Scoring:
    """One household's score under one rule version.

    ``score`` is the raw weighted deprivation score c_i, stored for every household, poor or not.
    Alkire–Foster censors non-poor scores to 0, but only when aggregating (H, A, M0: see
    ``aggregate``); a stored score must stay the raw one, so that a later change of k can be applied
    to it and staff see every deprivation the household has.
    """

    rule_version: str
    as_of: str
    inputs: dict[str, Any]
    household_values: dict[str, Any]
    indicators: list[dict[str, Any]]
    score: float
    score_exact: str
    deprived_indicators: int
    deprived_dimensions: int
    income_per_ae: float | None
    k: str
    deep_k: str
    poverty_line: float
    deep_poverty_line: float
    multidimensionally_poor: bool
    category: str
    #: The indicators the answers could not decide, and their share of the measure as written (exact).
    unknown_indicators: list[str] = field(default_factory=list)
    unknown_weight: str = "0"
    max_unknown_weight: str = "1"
    #: The month of price_index.csv the lines were brought to, and the factor (None: lines not indexed).
    price_month: str | None = None
    price_factor: str = "1"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form, to store with the case (labels are shared with the measure: do not mutate)."""
        return {
            "rule_version": self.rule_version,
            "as_of": self.as_of,
            "inputs": self.inputs,
            "household_values": self.household_values,
            "indicators": self.indicators,
            "score": self.score,
            "score_exact": self.score_exact,
            "deprived_indicators": self.deprived_indicators,
            "deprived_dimensions": self.deprived_dimensions,
            "income_per_ae": self.income_per_ae,
            "k": self.k,
            "deep_k": self.deep_k,
            "poverty_line": self.poverty_line,
            "deep_poverty_line": self.deep_poverty_line,
            "multidimensionally_poor": self.multidimensionally_poor,
            "category": self.category,
            "unknown_indicators": self.unknown_indicators,
            "unknown_weight": self.unknown_weight,
            "max_unknown_weight": self.max_unknown_weight,
            "price_month": self.price_month,
            "price_factor": self.price_factor,
        }


def rule_words(measure: Measure) -> dict[str, tuple[dict[str, Any], dict[str, str]]]:
    """Per indicator key, what every scoring's row of it repeats from the rule files (dimension, labels,
    cut-off, unit, the weight as written: the row's fixed part, as JSON reads it back), and its dimension's label."""
    return {str(step.row["key"]): (_jsonable(step.row), _jsonable(measure.dimensions[step.dimension_index].label))
            for step in measure._steps}


# --------------------------------------------------------------------------------------------------
# Loading and checking


_MEASURE_CACHE: dict[Path, tuple[tuple[Any, ...], Measure]] = {}
_PRIORITY_CACHE: dict[Path, tuple[tuple[Any, ...], Priority]] = {}


def _signature(paths: Iterable[Path]) -> tuple[Any, ...]:
    # mtime and size decide whether to re-read; the rule version itself hashes the contents.
    parts: list[Any] = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            parts.append((path.name, None))
        else:
            parts.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(parts)


def _read_sources(rules_dir: Path, names: Iterable[str]) -> dict[str, bytes | None]:
    # Each file is read once: what is checked, compiled and hashed into the rule version is the same.
    sources: dict[str, bytes | None] = {}
    for name in names:
        try:
            sources[name] = (rules_dir / name).read_bytes()
        except OSError:
            sources[name] = None
    return sources


def content_digest(sources: Mapping[str, bytes | None]) -> str:
    """SHA-256 of rule files, in the order given; an absent file adds nothing, so a file the measure
    may read but a version does not have leaves that version's label unchanged."""
    digest = hashlib.sha256()
    for name, content in sources.items():
        if content is None:
            continue
        digest.update(name.encode())
        digest.update(b"\0")
        digest.update(content)
        digest.update(b"\0")
    return digest.hexdigest()


def _content_hash(sources: Mapping[str, bytes | None]) -> str:
    return content_digest(sources)[:12]


def load_measure(rules_dir: str | Path) -> Measure:
    """The checked, compiled measure of ``rules_dir``; re-read only when its files change."""
    rules_dir = Path(rules_dir).resolve()
    paths = tuple(rules_dir / name for name in MEASURE_FILES)
    signature = _signature(paths)
    cached = _MEASURE_CACHE.get(rules_dir)
    if cached is not None and cached[0] == signature:
        return cached[1]
    measure = _MeasureLoader(rules_dir).load()
    _MEASURE_CACHE[rules_dir] = (signature, measure)
    return measure


_STORED_CACHE: dict[str, Measure] = {}


def load_stored_measure(label: str, files: Mapping[str, str]) -> Measure:
    """The measure of a stored rule version (``files``: name to text), without reading any file on disk.

    Compiled once per content: a stored version never changes. Its ``rule_version`` is worked out
    from the texts again, so a caller can check it against ``label``.
    """
    sources = {name: files[name].encode("utf-8") if name in files else None for name in MEASURE_FILES}
    digest = content_digest(sources)
    measure = _STORED_CACHE.get(digest)
    if measure is None:
        measure = _MeasureLoader(Path(f"stored-rule-version-{label}"), sources=sources, stored=True).load()
        _STORED_CACHE[digest] = measure
    return measure


def load_priority(rules_dir: str | Path) -> Priority:
    """The checked waiting-list order of ``rules_dir`` (with its measure); re-read only when files change."""
    rules_dir = Path(rules_dir).resolve()
    paths = tuple(rules_dir / name for name in (*MEASURE_FILES, PRIORITY_FILE))
    signature = _signature(paths)
    cached = _PRIORITY_CACHE.get(rules_dir)
    if cached is not None and cached[0] == signature:
        return cached[1]
    priority = _load_priority(rules_dir, load_measure(rules_dir))
    _PRIORITY_CACHE[rules_dir] = (signature, priority)
    return priority


def check_rules(rules_dir: str | Path, *, forms_dir: str | Path | None = None) -> list[str]:
    """Every problem of the rule files, for ``processes check``; empty when they are fine.

    With the forms directory (by default ``forms/`` next to ``rules/``), names the rules read are also
    checked against the fields of the measure's form, so a misspelt field is reported instead of
    silently reading as empty.
    """
    rules_dir = Path(rules_dir)
    try:
        measure = load_measure(rules_dir)
    except RuleFileInvalid as err:
        return list(err.problems)
    problems: list[str] = []
    priority = None
    try:
        priority = load_priority(rules_dir)
    except RuleFileInvalid as err:
        problems += err.problems
    forms_dir = Path(forms_dir) if forms_dir is not None else rules_dir.resolve().parent / "forms"
    if measure.form and forms_dir.is_dir():
        problems += _check_against_form(measure, priority, forms_dir)
    return problems


def _where(file: str, place: str) -> str:
    return f"{file}: {place}" if place else file


class _MeasureLoader:
    """Reads the measure files into a Measure, collecting every problem before refusing them."""

    def __init__(self, rules_dir: Path, sources: Mapping[str, bytes | None] | None = None,
                 stored: bool = False) -> None:
        self.rules_dir = rules_dir
        self.sources = sources
        #: A stored rule version, read to recompute its scores: words that later files must have (category
        #: labels) may be missing from an older version, and change no score.
        self.stored = stored
        self.problems: list[str] = []

    def problem(self, place: str, message: str, file: str = MEASURE_FILE) -> None:
        self.problems.append(f"{_where(file, place)}: {message}")

    def expression(self, place: str, text: Any,
                   file: str = MEASURE_FILE) -> Callable[[Mapping[str, Any]], Any]:
        if not isinstance(text, str) or not text.strip():
            self.problem(place, "an expression (text) is required", file)
            return _never
        try:
            return expressions.evaluator(text)
        except ExpressionError as err:
            self.problem(place, str(err), file)
            return _never

    def fraction(self, place: str, raw: Any) -> Fraction | None:
        if isinstance(raw, bool) or not isinstance(raw, str | int):
            self.problem(place, f'write it as an exact fraction in quotes, e.g. "1/8" (found {raw!r})')
            return None
        try:
            return Fraction(str(raw).strip())
        except (ValueError, ZeroDivisionError):
            self.problem(place, f'{raw!r} is not an exact fraction such as "1/8"')
            return None

    def label(self, place: str, raw: Any, what: str = "label") -> dict[str, str]:
        if not isinstance(raw, Mapping) or not all(isinstance(raw.get(lang), str) and raw[lang].strip()
                                                   for lang in ("en", "ar")):
            self.problem(place, f"{what} needs an English (en) and an Arabic (ar) text")
            return {"en": "", "ar": ""}
        return {"en": raw["en"], "ar": raw["ar"]}

    def name(self, place: str, name: Any, taken: set[str]) -> bool:
        if not isinstance(name, str) or not name.isidentifier() or name.startswith("_"):
            self.problem(place, f"{name!r} is not a valid name (letters, digits and _, not starting with _)")
            return False
        if name in expressions.FUNCTIONS or name in _MEASURE_NAMES:
            self.problem(place, f"{name!r} is reserved (a function or a name the scorer sets)")
            return False
        if name in taken:
            self.problem(place, f"{name!r} is defined twice")
            return False
        taken.add(name)
        return True

    def load(self) -> Measure:
        sources = dict(self.sources) if self.sources is not None else _read_sources(self.rules_dir, MEASURE_FILES)
        raw = _read_yaml(MEASURE_FILE, sources[MEASURE_FILE], self.problems)
        category_rules = self.load_category_table(sources[CATEGORY_FILE])
        if raw is None:
            raise RuleFileInvalid(self.problems)

        version = raw.get("version")
        if not isinstance(version, str) or not version.strip():
            self.problem("version", "a version text is required, e.g. \"2025.1\"")
            version = ""
        form = raw.get("form")
        if form is not None and not isinstance(form, str):
            self.problem("form", "the name of a form, e.g. registration")
            form = None
        k = self.fraction("poverty_cutoff_k", raw.get("poverty_cutoff_k"))
        deep_k = self.fraction("deep_poverty_cutoff", raw.get("deep_poverty_cutoff"))
        if k is not None and not 0 < k <= 1:
            self.problem("poverty_cutoff_k", f"must be above 0 and at most 1 (found {k})")
        if k is not None and deep_k is not None and not k <= deep_k <= 1:
            self.problem("deep_poverty_cutoff", f"must be between k ({k}) and 1 (found {deep_k})")

        category_labels = self.load_category_labels(raw.get("categories"))
        names: set[str] = set()
        parameters = self.load_parameters(raw.get("parameters"), names)
        poverty_line, deep_poverty_line = self.load_lines(raw.get("monetary"), parameters)
        prices = None
        if getattr(self, "lines_indexed", False):
            base_year = parameters.get("reference_year")
            prices, price_problems = price_index.parse(
                sources.get(price_index.PRICE_INDEX_FILE),
                base_year=int(base_year) if isinstance(base_year, int) else None)
            self.problems += price_problems
        max_unknown = self.fraction("max_unknown_weight", raw.get("max_unknown_weight", "1"))
        if max_unknown is not None and not 0 <= max_unknown <= 1:
            self.problem("max_unknown_weight", f"must be between 0 and 1 (found {max_unknown})")
        member_values = self.load_values("member_values", raw.get("member_values"), set(names))
        household_values = self.load_values("household_values", raw.get("household_values"), set(names))
        self.derived = ({name: text for name, text, _ in household_values},
                        {name: text for name, text, _ in member_values}, set(parameters))
        dimensions, steps, denominator, indicator_steps = self.load_dimensions(raw.get("dimensions"))

        if self.problems:
            raise RuleFileInvalid(self.problems)
        assert k is not None and deep_k is not None
        member_program = expressions.assigner([(name, text) for name, text, _ in member_values])
        household_program = expressions.assigner([(name, text) for name, text, _ in household_values])
        indicator_program = expressions.assigner(indicator_steps)

        base = dict(parameters)
        base.update(k=k, deep_k=deep_k, poverty_line=poverty_line, deep_poverty_line=deep_poverty_line,
                    max_unknown_weight=max_unknown if max_unknown is not None else Fraction(1))
        input_fields, member_fields = _fields_read(raw, parameters, member_values, household_values)
        return Measure(
            rules_dir=self.rules_dir,
            version=version,
            rule_version=f"{version}+{_content_hash(sources)}",
            content_hash=content_digest(sources),
            sources={name: content.decode("utf-8", errors="replace") for name, content in sources.items()
                     if content is not None},
            k=k,
            deep_k=deep_k,
            poverty_line=poverty_line,
            deep_poverty_line=deep_poverty_line,
            parameters=parameters,
            form=form,
            dimensions=dimensions,
            category_rules=tuple(rule for rule, _test in category_rules),
            category_labels=category_labels,
            input_fields=input_fields,
            member_fields=member_fields,
            member_value_names=tuple(name for name, _, _ in member_values),
            household_value_names=tuple(name for name, _, _ in household_values),
            _member_program=member_program,
            _household_program=household_program,
            _indicator_program=indicator_program,
            _steps=steps,
            _denominator=denominator,
            _base=base,
            _category_base={"unknown_weight": Fraction(0),
                            **{name: base[name] for name in CATEGORY_INPUTS if name in base}},
            _category_tests=tuple((test, rule.category) for rule, test in category_rules),
            max_unknown_weight=base["max_unknown_weight"],
            prices=prices,
            _line_programs=tuple(self.line_programs),
            _date_in_member_values_only=not _names_the_date({k: v for k, v in raw.items() if k != "member_values"}),
        )

    def load_category_labels(self, raw: Any) -> dict[str, dict[str, str]]:
        if self.stored:
            given = raw if isinstance(raw, Mapping) else {}
            return {key: dict(given[key]) if isinstance(given.get(key), Mapping) else {"en": key, "ar": key}
                    for key in CATEGORIES}
        if not isinstance(raw, Mapping):
            self.problem("categories", f"name each category ({', '.join(CATEGORIES)}) in en and ar")
            return {}
        for key in raw:
            if key not in CATEGORIES:
                self.problem(f"categories.{key}", f"is not a category the table may answer ({', '.join(CATEGORIES)})")
        return {key: self.label(f"categories.{key}", raw.get(key)) for key in CATEGORIES}

    def load_parameters(self, raw: Any, names: set[str]) -> dict[str, Any]:
        if raw is None:
            return {}
        if not isinstance(raw, Mapping):
            self.problem("parameters", "a list of name: number")
            return {}
        parameters: dict[str, Any] = {}
        for name, value in raw.items():
            if not self.name(f"parameters.{name}", name, names):
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.problem(f"parameters.{name}", f"must be a number (found {value!r})")
                continue
            parameters[name] = value
        return parameters

    def load_lines(self, raw: Any, parameters: Mapping[str, Any]) -> tuple[float, float]:
        if not isinstance(raw, Mapping):
            self.problem("monetary", "needs poverty_line and deep_poverty_line")
            return 0.0, 0.0
        lines = []
        self.line_programs: list[Callable[[Mapping[str, Any]], Any]] = []
        self.lines_indexed = False
        for key in ("poverty_line", "deep_poverty_line"):
            place = f"monetary.{key}"
            compute = self.expression(place, raw.get(key))
            self.line_programs.append(compute)
            self.lines_indexed |= "price_factor" in _names(str(raw.get(key)))
            try:
                # At the reference year's prices (price factor 1): what the check and Measure.poverty_line show.
                line = compute({**parameters, "price_factor": 1.0})
            except ExpressionError as err:
                self.problem(place, str(err))
                line = None
            if line is _NEVER:
                line = 0.0
            elif isinstance(line, bool) or not isinstance(line, int | float) or not line > 0:
                self.problem(place, f"must work out to an amount above 0 NIS (found {line!r})")
                line = 0.0
            lines.append(float(line))
        if lines[1] > lines[0]:
            self.problem("monetary.deep_poverty_line", f"is above the poverty line ({lines[1]} > {lines[0]})")
        return lines[0], lines[1]

    def load_values(self, section: str, raw: Any,
                    names: set[str]) -> tuple[tuple[str, str, Callable[[Mapping[str, Any]], Any]], ...]:
        if raw is None:
            return ()
        if not isinstance(raw, Mapping):
            self.problem(section, "a list of name: expression")
            return ()
        values = []
        for name, text in raw.items():
            place = f"{section}.{name}"
            if self.name(place, name, names):
                values.append((name, str(text), self.expression(place, text)))
        return tuple(values)

    def load_dimensions(
        self, raw: Any
    ) -> tuple[tuple[Dimension, ...], tuple[_Step, ...], int, list[tuple[str, str]]]:
        if not isinstance(raw, list) or not raw:
            self.problem("dimensions", "a list of dimensions is required")
            return (), (), 1, []
        dimensions: list[Dimension] = []
        compiled: list[tuple[Indicator, int]] = []
        dimension_keys: set[str] = set()
        indicator_keys: set[str] = set()
        total = Fraction(0)
        for position, dim in enumerate(raw):
            if not isinstance(dim, Mapping):
                self.problem(f"dimensions[{position}]", "a dimension needs key, label, weight and indicators")
                continue
            key = dim.get("key")
            place = f"dimension {key!r}" if isinstance(key, str) else f"dimensions[{position}]"
            if not isinstance(key, str) or not key.isidentifier() or key in dimension_keys:
                self.problem(place, f"key {key!r} must be a unique name")
            dimension_keys.add(str(key))
            label = self.label(place, dim.get("label"))
            weight = self.fraction(f"{place} weight", dim.get("weight"))
            if weight is not None:
                if weight <= 0:
                    self.problem(f"{place} weight", f"must be above 0 (found {weight})")
                total += weight
            indicators_raw = dim.get("indicators")
            if not isinstance(indicators_raw, list) or not 1 <= len(indicators_raw) <= 3:
                self.problem(place, "needs 1 to 3 indicators")
                continue
            shares = self.load_shares(place, indicators_raw)
            indicators: list[Indicator] = []
            for ind_position, ind in enumerate(indicators_raw):
                if not isinstance(ind, Mapping):
                    self.problem(f"{place} indicators[{ind_position}]", "an indicator needs key, label, "
                                 "value, deprived_if and cutoff")
                    continue
                ind_key = ind.get("key")
                ind_place = f"indicator {ind_key!r}"
                if not isinstance(ind_key, str) or not ind_key.isidentifier() or ind_key in indicator_keys:
                    self.problem(ind_place, f"key {ind_key!r} must be a unique name")
                indicator_keys.add(str(ind_key))
                indicator = Indicator(
                    key=str(ind_key),
                    dimension=str(key),
                    label=self.label(ind_place, ind.get("label")),
                    cutoff=self.label(ind_place, ind.get("cutoff"), "cutoff"),
                    weight=(weight or Fraction(0)) * shares[ind_position],
                    value_expression=str(ind.get("value")),
                    deprived_expression=str(ind.get("deprived_if")),
                    counts_when=self.counts_when(ind_place, ind.get("counts_when")),
                    reads=self.answers_read(ind),
                    unit=self.label(f"{ind_place} unit", ind["unit"], "unit") if ind.get("unit") is not None
                    else None,
                    unknown_expression=str(ind["unknown_if"]) if ind.get("unknown_if") is not None else None,
                    unknown_treatment=self.unknown_treatment(ind_place, ind),
                )
                self.expression(f"{ind_place} value", ind.get("value"))
                self.expression(f"{ind_place} deprived_if", ind.get("deprived_if"))
                if indicator.unknown_expression is not None:
                    self.expression(f"{ind_place} unknown_if", indicator.unknown_expression)
                indicators.append(indicator)
                compiled.append((indicator, len(dimensions)))
            dimensions.append(Dimension(key=str(key), label=label, weight=weight or Fraction(0),
                                        indicators=tuple(indicators)))
        if total != 1:
            self.problem("dimensions", f"the dimension weights add up to {total}, not 1")
        if len(dimensions) > 62:
            self.problem("dimensions", "at most 62 dimensions")
        denominator = math.lcm(*(ind.weight.denominator for ind, *_ in compiled)) if compiled else 1
        # One program for all indicators: `value` is set, kept as _v<i>, then unknown_if as _u<i>; deprived_if
        # (kept as _d<i>) is asked only when the indicator is known, so it never meets a missing answer.
        program: list[tuple[str, str]] = []
        for number, (ind, _) in enumerate(compiled):
            program += [("value", ind.value_expression), (f"_v{number}", "value")]
            if ind.unknown_expression is None:
                program.append((f"_d{number}", ind.deprived_expression))
            else:
                program += [("unknown", f"bool({ind.unknown_expression})"), (f"_u{number}", "unknown"),
                            (f"_d{number}", f"False if unknown else ({ind.deprived_expression})")]
        steps = tuple(
            _Step(
                value_name=f"_v{number}",
                deprived_name=f"_d{number}",
                numerator=int(ind.weight * denominator),
                dimension_bit=1 << dim_index,
                verified_reads=ind.reads if ind.counts_when == "verified" else None,
                unknown_name=f"_u{number}" if ind.unknown_expression is not None else None,
                unknown_treatment=ind.unknown_treatment,
                weight=ind.weight,
                share=ind.weight / dimensions[dim_index].weight if dimensions[dim_index].weight else Fraction(0),
                dimension_index=dim_index,
                row={
                    "key": ind.key,
                    "dimension": ind.dimension,
                    "label": ind.label,
                    "cutoff": ind.cutoff,
                    "weight": float(ind.weight),
                    "weight_exact": str(ind.weight),
                    # The weight as the file writes it; "weight" is the one applied, which differs only when
                    # an unknown indicator's weight is shared (see unknown_if in poverty_measure.yaml).
                    "rule_weight_exact": str(ind.weight),
                    "counts_when": ind.counts_when,
                    "unit": ind.unit,
                },
            )
            for number, (ind, dim_index) in enumerate(compiled)
        )
        return tuple(dimensions), steps, denominator, program

    def unknown_treatment(self, place: str, ind: Mapping[str, Any]) -> str:
        raw = ind.get("unknown")
        if ind.get("unknown_if") is None:
            if raw is not None:
                self.problem(f"{place} unknown", "says what an unknown counts as, but there is no unknown_if "
                             "saying when the indicator is unknown")
            return "exclude"
        if raw not in UNKNOWN_TREATMENTS:
            self.problem(f"{place} unknown", f"must be one of {', '.join(UNKNOWN_TREATMENTS)} (found {raw!r})")
            return "exclude"
        return str(raw)

    def counts_when(self, place: str, raw: Any) -> str:
        if raw is None:
            return "answered"
        if raw not in COUNTS_WHEN:
            self.problem(f"{place} counts_when", f"must be one of {', '.join(COUNTS_WHEN)} (found {raw!r})")
            return "answered"
        return str(raw)

    def answers_read(self, ind: Mapping[str, Any]) -> tuple[str, ...]:
        """The form answers behind an indicator, following worked-out values back to the fields they read."""
        derived: tuple[dict[str, str], dict[str, str], set[str]] = getattr(self, "derived", ({}, {}, set()))
        household_derived, member_derived, parameters = derived
        texts = [str(ind.get("value")), str(ind.get("deprived_if"))]
        household: set[str] = set()
        member: set[str] = set()
        seen: set[str] = set()
        while texts:
            text = texts.pop()
            for name in _names(text) - parameters - _MEASURE_NAMES - seen:
                seen.add(name)
                if name in household_derived:
                    texts.append(household_derived[name])
                else:
                    household.add(name)
            # Per-member conditions of this text, then the member values they use (whole expressions).
            pending = _member_names(text)
            while pending:
                name = pending.pop()
                if name in seen or name in parameters or name == "as_of":
                    continue
                seen.add(name)
                if name in member_derived:
                    pending |= _names(member_derived[name])
                else:
                    member.add(name)
        return tuple(sorted(household)) + tuple(f"members.{name}" for name in sorted(member))

    def load_shares(self, place: str, indicators: list[Any]) -> list[Fraction]:
        given = [ind.get("share") for ind in indicators if isinstance(ind, Mapping)]
        if all(share is None for share in given):
            return [Fraction(1, len(indicators))] * len(indicators)
        if any(share is None for share in given):
            self.problem(place, "give a share to every indicator of the dimension, or to none")
            return [Fraction(0)] * len(indicators)
        shares = [self.fraction(f"{place} share", share) or Fraction(0) for share in given]
        if sum(shares) != 1:
            self.problem(place, f"the indicator shares add up to {sum(shares)}, not 1")
        return shares

    def load_category_table(
        self, source: bytes | None
    ) -> list[tuple[CategoryRule, Callable[[Mapping[str, Any]], Any]]]:
        if source is None:
            self.problem("", "file not found", CATEGORY_FILE)
            return []
        # SpiffWorkflow's own parser with XSD validation, so the file is exactly what a business rule
        # task would accept; its entries are then compiled by our evaluator, once.
        try:
            parser = SpiffBpmnParser(validator=VALIDATOR)
            parser.add_dmn_io(io.BytesIO(source), filename=CATEGORY_FILE)
            if len(parser.dmn_parsers) != 1:
                self.problem("", "needs exactly one decision", CATEGORY_FILE)
                return []
            (dmn,) = parser.dmn_parsers.values()
            dmn.parse()
            tables = dmn.decision.decisionTables
        except Exception as err:  # lxml, XSD and SpiffWorkflow errors: report, never crash the check
            self.problem("", f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}",
                         CATEGORY_FILE)
            return []
        if len(tables) != 1:
            self.problem("", "the decision needs exactly one decision table", CATEGORY_FILE)
            return []
        table = tables[0]
        if table.hit_policy not in ("FIRST", "UNIQUE"):
            self.problem("", f"hit policy {table.hit_policy} gives several answers; use FIRST", CATEGORY_FILE)
        outputs = [output.name or output.label for output in table.outputs]
        if outputs != [CATEGORY_OUTPUT]:
            self.problem("", f"needs exactly one output named {CATEGORY_OUTPUT!r} (found {outputs})",
                         CATEGORY_FILE)
            return []
        inputs = []
        for clause in table.inputs:
            text = clause.expression or ""
            test = self.expression(f"input {clause.label!r}", text, CATEGORY_FILE)
            if test is not _never:
                unknown = expressions.names_used(text) - set(CATEGORY_INPUTS)
                if unknown:
                    self.problem(f"input {clause.label!r}", f"reads {sorted(unknown)}; the table's inputs "
                                 f"are {', '.join(CATEGORY_INPUTS)}", CATEGORY_FILE)
            inputs.append(text)
        rules = []
        for rule in table.rules:
            place = f"rule {rule.row_number}"
            if len(rule.inputEntries) != len(inputs):
                self.problem(place, f"has {len(rule.inputEntries)} input entries for {len(inputs)} inputs",
                             CATEGORY_FILE)
            parts = []
            for input_text, entry in zip(inputs, rule.inputEntries, strict=False):
                for lhs in entry.lhs:
                    if lhs is not None and lhs.strip() not in ("", "-"):
                        parts.append(_entry_condition(input_text, lhs.strip()))
            condition = " and ".join(f"({part})" for part in parts) or "True"
            test = self.expression(place, condition, CATEGORY_FILE)
            if test is not _never:
                unknown = expressions.names_used(condition) - set(CATEGORY_INPUTS)
                if unknown:
                    self.problem(place, f"reads {sorted(unknown)}; the table's inputs are "
                                 f"{', '.join(CATEGORY_INPUTS)}", CATEGORY_FILE)
            category = self.category_output(place, rule.outputEntries)
            rules.append((CategoryRule(row=rule.row_number, rule_id=rule.id,
                                       description=rule.description or "", condition=condition,
                                       category=category), test))
        if not rules or rules[-1][0].condition != "True":
            self.problem("", "the last rule must match every household (all entries '-'), so that every "
                         "household gets a category", CATEGORY_FILE)
        return rules

    def category_output(self, place: str, entries: list[Any]) -> str:
        text = (entries[0].text or "").strip() if entries else ""
        try:
            value = expressions.evaluate(text, {}) if text and not expressions.names_used(text) else None
        except ExpressionError as err:
            self.problem(f"{place} output", str(err), CATEGORY_FILE)
            return ""
        if value not in CATEGORIES:
            self.problem(f"{place} output", f"must be one of {', '.join(repr(c) for c in CATEGORIES)} "
                         f"in quotes (found {text!r})", CATEGORY_FILE)
            return ""
        return str(value)


_NEVER = object()


def _never(_namespace: Mapping[str, Any]) -> Any:
    """Stands in for an expression that was refused; the loader raises before it can run."""
    return _NEVER


def _read_yaml(name: str, source: bytes | None, problems: list[str]) -> dict[str, Any] | None:
    if source is None:
        problems.append(f"{name}: file not found")
        return None
    try:
        raw = load_yaml_mapping(source)
    except ValueError as err:  # not UTF-8, not YAML (a Python tag is refused, never run), not a mapping
        problems.append(f"{name}: {err}")
        return None
    if not raw:
        problems.append(f"{name}: the file must hold named sections (version, ...)")
        return None
    return raw


def _question_marks_to(entry: str, replacement: str) -> str | None:
    """The entry with every ``?`` outside quotes replaced; None when it has none."""
    out, quote, found = [], "", False
    for char in entry:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "?":
            out.append(replacement)
            found = True
            continue
        out.append(char)
    return "".join(out) if found else None


def _entry_condition(input_text: str, entry: str) -> str:
    """One DMN input entry as a whole expression, as SpiffWorkflow's DMN engine reads it.

    ``?`` stands for the input; an entry that is a complete expression is compared for equality
    ("poor" → input == "poor"); otherwise it continues the input (">= k" → input >= k).
    """
    replaced = _question_marks_to(entry, f"({input_text})")
    if replaced is not None:
        return replaced
    try:
        ast.parse(entry, mode="eval")
    except (SyntaxError, RecursionError, MemoryError):  # the evaluator refuses it and says why
        return f"({input_text}) {entry}"
    return f"({input_text}) == ({entry})"


def _names(text: str) -> set[str]:
    try:
        return expressions.names_used(text)
    except (SyntaxError, RecursionError, MemoryError):
        return set()


@functools.lru_cache(maxsize=512)
def _condition_names(text: str) -> frozenset[str]:
    """``_names`` of a category rule, parsed once: every stored score explains its category with them."""
    return frozenset(_names(text))


def _names_the_date(raw: Any) -> bool:
    """Whether ``as_of`` appears in any key or text of ``raw`` (labels too: a false alarm only costs time)."""
    if isinstance(raw, str):
        return _DATE_NAME.search(raw) is not None
    if isinstance(raw, Mapping):
        return any(_names_the_date(key) or _names_the_date(value) for key, value in raw.items())
    if isinstance(raw, list | tuple):
        return any(_names_the_date(item) for item in raw)
    return False


_DATE_NAME = re.compile(r"\bas_of\b")


def _member_names(text: str) -> set[str]:
    """Member fields an expression reads: names in per-member conditions and count(members, "field")."""
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, RecursionError, MemoryError):
        return set()
    found: set[str] = set()
    for condition in expressions.item_conditions(text):
        found |= _names(condition)
    for node in ast.walk(tree):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _FIELD_FUNCTIONS and len(node.args) >= 2
                and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)):
            found.add(node.args[1].value)
    return found


def _fields_read(
    raw: Mapping[str, Any],
    parameters: Mapping[str, Any],
    member_values: tuple[tuple[str, str, Any], ...],
    household_values: tuple[tuple[str, str, Any], ...],
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The household fields and the member fields the measure reads (what a scoring records)."""
    household_texts = [str(text) for text in (raw.get("household_values") or {}).values()]
    for dim in raw.get("dimensions") or []:
        for ind in dim.get("indicators") or []:
            household_texts += [str(ind.get("value")), str(ind.get("deprived_if"))]
    member_texts = [str(text) for text in (raw.get("member_values") or {}).values()]
    derived = set(parameters) | _MEASURE_NAMES | {name for name, _, _ in household_values}
    household_fields = set().union(*(_names(text) for text in household_texts)) - derived
    member_derived = set(parameters) | {"as_of"} | {name for name, _, _ in member_values}
    member_fields = set().union(*(_names(text) for text in member_texts),
                                *(_member_names(text) for text in household_texts)) - member_derived
    return tuple(sorted(household_fields)) + ("members",), tuple(sorted(member_fields))


def _load_priority(rules_dir: Path, measure: Measure) -> Priority:
    sources = _read_sources(rules_dir, (*MEASURE_FILES, PRIORITY_FILE))
    problems: list[str] = []
    raw = _read_yaml(PRIORITY_FILE, sources[PRIORITY_FILE], problems)
    if raw is None:
        raise RuleFileInvalid(problems)
    loader = _MeasureLoader(rules_dir)
    version = raw.get("version")
    if not isinstance(version, str) or not version.strip():
        loader.problem("version", "a version text is required", PRIORITY_FILE)
        version = ""
    order = raw.get("order")
    keys: list[PriorityKey] = []
    seen: set[str] = set()
    if not isinstance(order, list) or not order:
        loader.problem("order", "a list of keys is required", PRIORITY_FILE)
        order = []
    for position, item in enumerate(order):
        if not isinstance(item, Mapping):
            loader.problem(f"order[{position}]", "needs key, label, expression and direction", PRIORITY_FILE)
            continue
        key = item.get("key")
        place = f"key {key!r}"
        if not isinstance(key, str) or not key.isidentifier() or key in seen:
            loader.problem(place, f"key {key!r} must be a unique name", PRIORITY_FILE)
        seen.add(str(key))
        label = item.get("label")
        if not isinstance(label, Mapping) or not all(isinstance(label.get(lang), str)
                                                     for lang in ("en", "ar")):
            loader.problem(place, "label needs an English (en) and an Arabic (ar) text", PRIORITY_FILE)
            label = {"en": "", "ar": ""}
        direction = item.get("direction")
        if direction not in ("ascending", "descending"):
            loader.problem(place, f"direction must be ascending or descending (found {direction!r})",
                           PRIORITY_FILE)
        evaluate = loader.expression(f"{place} expression", item.get("expression"), PRIORITY_FILE)
        keys.append(PriorityKey(key=str(key), label={"en": label["en"], "ar": label["ar"]},
                                expression=str(item.get("expression")), descending=direction == "descending",
                                evaluate=evaluate))
    if loader.problems:
        raise RuleFileInvalid(loader.problems)
    digest = _content_hash(sources)
    return Priority(version=str(version), rule_version=f"{version}+{digest}", keys=tuple(keys),
                    measure=measure)


def _check_against_form(measure: Measure, priority: Priority | None, forms_dir: Path) -> list[str]:
    path = forms_dir / f"{measure.form}.yaml"
    if not path.is_file():
        return [f"{MEASURE_FILE}: form: no forms/{measure.form}.yaml"]
    try:
        form = load_yaml_mapping(path.read_bytes())
    except ValueError as err:  # listed under the form file too; its fields cannot be compared
        return [f"{MEASURE_FILE}: form: forms/{measure.form}.yaml cannot be read: {err}"]
    fields = {f.get("name") for f in form.get("fields") or [] if isinstance(f, Mapping)}
    member_fields = {
        sub.get("name")
        for f in form.get("fields") or [] if isinstance(f, Mapping) and f.get("name") == "members"
        for sub in f.get("fields") or [] if isinstance(sub, Mapping)
    }
    problems = [
        f"{MEASURE_FILE}: reads {name!r}, which is not a field of forms/{measure.form}.yaml"
        for name in measure.input_fields if name not in fields
    ]
    problems += [
        f"{MEASURE_FILE}: reads member field {name!r}, which is not a member field of "
        f"forms/{measure.form}.yaml"
        for name in measure.member_fields if name not in member_fields
    ]
    if priority is not None:
        known = (fields | set(measure.parameters) | _MEASURE_NAMES | _SCORING_NAMES
                 | set(measure.household_value_names))
        member_known = member_fields | set(measure.parameters) | {"as_of"} | set(measure.member_value_names)
        for key in priority.keys:
            for name in sorted(_names(key.expression) - known):
                problems.append(f"{PRIORITY_FILE}: key {key.key!r} reads {name!r}, which is not a form "
                                "field, a parameter, a worked-out value or a scoring value")
            for name in sorted(_member_names(key.expression) - member_known):
                problems.append(f"{PRIORITY_FILE}: key {key.key!r} reads member field {name!r}, which is "
                                f"not a member field of forms/{measure.form}.yaml")
    return problems


# --------------------------------------------------------------------------------------------------
# Scoring


def _jsonable(value: Any) -> Any:
    if type(value) in _PLAIN_TYPES:
        return value
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Fraction):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [_jsonable(item) for item in value]
        return sorted(items, key=str) if isinstance(value, set | frozenset) else items
    if isinstance(value, int | float | str):  # bool/int/str subclasses such as enums
        return value
    return str(value)


def _namespace(measure: Measure, data: Mapping[str, Any], as_of: dt.date) -> dict[str, Any]:
    """Household data + parameters + worked-out values: what every expression of the measure reads."""
    namespace = dict(data)  # shallow: members are copied one level below, nothing else is touched
    namespace.update(measure._base)
    namespace["as_of"] = as_of
    lines = measure.lines_on(as_of)  # the money lines at the prices of the scoring month
    namespace["poverty_line"] = lines.poverty_line
    namespace["deep_poverty_line"] = lines.deep_poverty_line
    namespace["price_factor"] = float(lines.price_factor)
    member_base = dict(measure.parameters)
    member_base["as_of"] = as_of
    members = []
    member_program = measure._member_program
    for member in data.get("members") or ():
        if type(member) is dict or isinstance(member, Mapping):
            record = dict(member)
            record.update(member_base)
            member_program(record)
            members.append(record)
    namespace["members"] = members
    measure._household_program(namespace)
    return namespace


def _unverified(reads: tuple[str, ...], data: Mapping[str, Any],
                sources: Mapping[str, Any]) -> tuple[str, ...]:
    """The answers behind a deprivation that claim something and are not verified (empty: it counts).

    A blank or a "no" claims nothing, so it needs no proof; a member field is checked for every member.
    """
    missing: list[str] = []
    members = data.get("members") or ()
    for read in reads:
        if read.startswith("members."):
            name = read.split(".", 1)[1]
            answers = [(f"members.{index}.{name}", member.get(name)) for index, member in enumerate(members)
                       if isinstance(member, Mapping)]
        else:
            answers = [(read, data.get(read))]
        for path, answer in answers:
            if answer is None or answer is False or answer == "" or answer == []:
                continue
            entry = sources.get(path)
            if not (isinstance(entry, Mapping) and entry.get("how") in VERIFIED_HOW):
                missing.append(path)
    return tuple(missing)


def _as_date(as_of: Any) -> dt.date:
    if isinstance(as_of, dt.datetime):
        return as_of.date()
    if isinstance(as_of, dt.date):
        return as_of
    raise TypeError(f"as_of must be a date, not {type(as_of).__name__}")


def _score(measure: Measure, data: Mapping[str, Any], as_of: dt.date, as_of_text: str) -> Scoring:
    namespace = _namespace(measure, data, as_of)
    numerator = 0
    deprived_count = 0
    dimensions_hit = 0
    rows = []
    measure._indicator_program(namespace)
    sources = data.get(SOURCES) or {}
    unknown_keys: list[str] = []
    unknown_weight = Fraction(0)
    excluded: list[bool] = []
    for step in measure._steps:
        value = namespace[step.value_name]
        unknown = step.unknown_name is not None and namespace[step.unknown_name]
        if unknown:
            # The answers cannot decide it: the rule file says what it counts as (never silently).
            unknown_keys.append(step.row["key"])
            unknown_weight += step.weight
            deprived = step.unknown_treatment == "deprived"
        else:
            deprived = bool(namespace[step.deprived_name])
        unverified = _unverified(step.verified_reads, data, sources) if deprived and step.verified_reads else ()
        counted = deprived and not unverified
        # Left out of the score with its weight shared (Alkire–Foster): an unknown the rules exclude.
        excluded.append(bool(unknown) and step.unknown_treatment == "exclude")
        if counted:
            numerator += step.numerator
            deprived_count += 1
            dimensions_hit |= step.dimension_bit
        if type(value) not in _PLAIN_TYPES:
            value = _jsonable(value)
        row = dict(step.row)  # the fixed part (key, labels, weight) is shared; copy() is the cheap way
        row["value"] = value
        row["deprived"] = deprived
        # ``deprived`` is what the answers say; ``counted`` whether it adds its weight to the score.
        row["counted"] = counted
        row["unknown"] = bool(unknown)
        if unknown:
            row["unknown_counts_as"] = step.unknown_treatment
        if unverified:
            row["reason"] = "unverified"
            row["unverified"] = list(unverified)
        rows.append(row)
    if any(excluded):
        score = _reweighted(measure, rows, excluded)
        score_exact, score_float, poor = str(score), round(float(score), 6), score >= measure.k
    else:
        score, score_exact, score_float, poor = measure._score_forms(numerator)
    income = namespace.get("income_per_ae")
    lines = measure.lines_on(as_of)
    category = measure._categorise(score, income, unknown_weight, lines)

    # The values read, as they were: most are plain JSON values, so test the type before converting.
    plain = _PLAIN_TYPES
    inputs = {}
    for name in measure.input_fields[:-1]:
        item = data.get(name)
        inputs[name] = item if type(item) in plain else _jsonable(item)
    member_inputs = []
    member_fields = measure.member_fields
    for member in data.get("members") or ():
        if type(member) is dict or isinstance(member, Mapping):
            record = {}
            for name in member_fields:
                item = member.get(name)
                record[name] = item if type(item) in plain else _jsonable(item)
            member_inputs.append(record)
    inputs["members"] = member_inputs
    # How each answer was known when scored: a recomputation from the inputs counts the same indicators.
    inputs[SOURCES] = _jsonable(sources)
    return Scoring(
        rule_version=measure.rule_version,
        as_of=as_of_text,
        inputs=inputs,
        household_values={name: _jsonable(namespace[name]) for name in measure.household_value_names},
        indicators=rows,
        score=score_float,
        score_exact=score_exact,
        deprived_indicators=deprived_count,
        deprived_dimensions=dimensions_hit.bit_count(),
        income_per_ae=None if income is None else round(float(income), 2),
        k=str(measure.k),
        deep_k=str(measure.deep_k),
        poverty_line=lines.poverty_line,
        deep_poverty_line=lines.deep_poverty_line,
        multidimensionally_poor=poor,
        category=category,
        unknown_indicators=unknown_keys,
        unknown_weight=str(unknown_weight),
        max_unknown_weight=str(measure.max_unknown_weight),
        price_month=lines.price_month,
        price_factor=str(lines.price_factor),
    )


def _reweighted(measure: Measure, rows: list[dict[str, Any]], excluded: list[bool]) -> Fraction:
    """The score when unknown indicators are left out (Alkire–Foster): each left-out indicator's weight is
    shared among the known indicators of its dimension, in proportion to their weights, and a dimension
    with nothing known shares its weight among the other dimensions the same way. Sets each row's applied
    weight (0 when left out); the score is the sum of the applied weights of the indicators that count.
    """
    # Few households differ in which indicators are left out and which count: exact arithmetic once per pattern.
    key = (tuple(excluded), tuple(row["counted"] for row in rows))
    found = measure._reweight_cache.get(key)
    if found is None:
        weights = _applied_weights(measure, key[0])
        score = sum((weight for (weight, _f, _s), counted in zip(weights, key[1], strict=True) if counted),
                    Fraction(0))
        found = (weights, score)
        if len(measure._reweight_cache) < 4096:
            measure._reweight_cache[key] = found
    weights, score = found
    for (_weight, as_float, as_text), row in zip(weights, rows, strict=True):
        row["weight"] = as_float
        row["weight_exact"] = as_text
    return score


def _applied_weights(measure: Measure, excluded: tuple[bool, ...]) -> tuple[tuple[Fraction, float, str], ...]:
    """Each indicator's applied weight when those of ``excluded`` are left out (see ``_reweighted``)."""
    steps = measure._steps
    known_share = [Fraction(0)] * len(measure.dimensions)
    for step, left_out in zip(steps, excluded, strict=True):
        if not left_out:
            known_share[step.dimension_index] += step.share
    known_total = sum((dim.weight for dim, share in zip(measure.dimensions, known_share, strict=True) if share),
                      Fraction(0))
    weights = []
    for step, left_out in zip(steps, excluded, strict=True):
        share = known_share[step.dimension_index]
        if left_out or not share or not known_total:
            weight = Fraction(0)
        else:
            weight = measure.dimensions[step.dimension_index].weight * step.share / share / known_total
        weights.append((weight, float(weight), str(weight)))
    return tuple(weights)


def score_household(measure: Measure, data: Mapping[str, Any], *, as_of: dt.date) -> Scoring:
    """Score one household's registration data (field names of forms/registration.yaml) on ``as_of``."""
    day = _as_date(as_of)
    return _score(measure, data, day, day.isoformat())


def same_results_on(measure: Measure, data: Mapping[str, Any], day: dt.date, other_day: dt.date) -> bool:
    """True when scoring ``data`` on either day surely gives the same results, found without scoring it twice.

    First, cheaply: only member values read the date, the money lines are the same on both days and every
    member's values come out the same. Else, worked out on both days, the values the scoring reads after its
    programs (every name but the date and the members) and the lines are the same. False means they differ.
    """
    lines_alike = measure.lines_on(day) == measure.lines_on(other_day)
    try:
        if lines_alike and measure._date_in_member_values_only and _members_alike(measure, data, day, other_day):
            return True
        if not lines_alike:
            return False
        worked_out = []
        for as_of in (day, other_day):
            namespace = _namespace(measure, data, as_of)
            measure._indicator_program(namespace)
            del namespace["as_of"], namespace["members"]
            worked_out.append(namespace)
    except Exception:  # noqa: BLE001 (whatever the full scoring makes of such data, it is not "surely the same")
        return False
    return worked_out[0] == worked_out[1]


def _members_alike(measure: Measure, data: Mapping[str, Any], day: dt.date, other_day: dt.date) -> bool:
    base = dict(measure.parameters)
    program = measure._member_program
    for member in data.get("members") or ():
        if not (type(member) is dict or isinstance(member, Mapping)):
            continue
        records = []
        for as_of in (day, other_day):
            record = dict(member)
            record.update(base)
            record["as_of"] = as_of
            program(record)
            record.pop("as_of")
            records.append(record)
        if records[0] != records[1]:
            return False
    return True


def score_many(measure: Measure, households: Iterable[Mapping[str, Any]], *,
               as_of: dt.date) -> Iterator[Scoring]:
    """Score many households with the same rules and date (re-scoring a registry), one at a time."""
    day = _as_date(as_of)
    text = day.isoformat()
    for data in households:
        yield _score(measure, data, day, text)


def categorise(measure: Measure, *, score: Fraction | str, income_per_ae: float | None,
               unknown_weight: Fraction | str = Fraction(0), poverty_line: float | None = None,
               deep_poverty_line: float | None = None) -> str:
    """The category poverty_category.dmn gives a score and an income, e.g. to re-read a stored raw score.

    Pass the stored score's ``unknown_weight`` and lines (they follow prices); without lines, the lines
    at the reference year's prices are used.
    """
    lines = None
    if poverty_line is not None and deep_poverty_line is not None:
        lines = Lines(poverty_line, deep_poverty_line, Fraction(1), None, None)
    return measure._categorise(Fraction(score), income_per_ae, Fraction(unknown_weight), lines)


#: The inputs of the category table that are the household's own (the others are the rules' numbers).
_HOUSEHOLD_CATEGORY_INPUTS = ("score", "income_per_ae")
#: Which input each fact of ``category_reason`` is about (by the fact's first word).
_FACT_INPUT = {"score": "score", "income": "income_per_ae"}


def category_reason(measure: Measure, *, score: Fraction | str, income_per_ae: float | None) -> dict[str, Any]:
    """Why the category table gives its category: the rule that matched, as codes and numbers.

    ``code`` is the matching rule's id in poverty_category.dmn; ``tested`` the household's inputs that
    rule compares; ``facts`` how the household stands against each cut-off and line, whichever rule
    matched (``because``: those of them about a tested input). Words are the pages' business.
    """
    exact = Fraction(score)
    table = measure._category_base.copy()
    table["score"] = exact
    table["income_per_ae"] = income_per_ae
    # The loader requires a last rule that matches everything, so one always does.
    rule = next(rule for rule, (test, _category) in zip(measure.category_rules, measure._category_tests, strict=True)
                if test(table))
    facts = ["score_at_least_deep_k" if exact >= measure.deep_k
             else "score_at_least_k" if exact >= measure.k else "score_below_k"]
    if income_per_ae is None:
        facts.append("income_unknown")
    elif income_per_ae < measure.deep_poverty_line:
        facts.append("income_below_deep_poverty_line")
    elif income_per_ae < measure.poverty_line:
        facts.append("income_below_poverty_line")
    else:
        facts.append("income_at_or_above_poverty_line")
    tested = [name for name in _HOUSEHOLD_CATEGORY_INPUTS if name in _condition_names(rule.condition)]
    return {
        "code": rule.rule_id,
        "rule": rule.row,
        "category": rule.category,
        "tested": tested,
        "facts": facts,
        "because": [fact for fact in facts if _FACT_INPUT[fact.split("_")[0]] in tested],
        "numbers": {
            "score": str(exact),
            "k": str(measure.k),
            "deep_k": str(measure.deep_k),
            "income_per_ae": None if income_per_ae is None else round(float(income_per_ae), 2),
            "poverty_line": measure.poverty_line,
            "deep_poverty_line": measure.deep_poverty_line,
        },
    }


def aggregate(measure: Measure, scorings: Iterable[Scoring | Mapping[str, Any]]) -> dict[str, Any]:
    """Headcount H, intensity A and adjusted headcount M0 (exact), censoring non-poor scores to 0."""
    households = poor = 0
    censored_total = Fraction(0)
    for scoring in scorings:
        score = _score_of(scoring)
        households += 1
        if score >= measure.k:
            poor += 1
            censored_total += score
    headcount = Fraction(poor, households) if households else Fraction(0)
    intensity = censored_total / poor if poor else Fraction(0)
    return {
        "households": households,
        "poor": poor,
        "H": str(headcount),
        "A": str(intensity),
        "M0": str(headcount * intensity),
    }


# --------------------------------------------------------------------------------------------------
# Waiting-list priority


def _score_of(scoring: Scoring | Mapping[str, Any]) -> Fraction:
    if isinstance(scoring, Scoring):
        return Fraction(scoring.score_exact)
    return Fraction(str(scoring["score_exact"]))


def _priority_values(priority: Priority, data: Mapping[str, Any], scoring: Scoring | Mapping[str, Any],
                     as_of: dt.date) -> list[Any]:
    namespace = _namespace(priority.measure, data, _as_date(as_of))
    stored = scoring.to_dict() if isinstance(scoring, Scoring) else scoring
    namespace.update({name: stored.get(name) for name in _SCORING_NAMES})
    # The lines the household was scored with; a score stored before they were kept reads today's.
    for name in ("poverty_line", "deep_poverty_line"):
        if namespace[name] is None:
            namespace[name] = getattr(priority.measure.lines_on(_as_date(as_of)), name)
    namespace["score"] = _score_of(scoring)
    return [key.evaluate(namespace) for key in priority.keys]


def _as_priority(measure_or_priority: Measure | Priority) -> Priority:
    if isinstance(measure_or_priority, Priority):
        return measure_or_priority
    return load_priority(measure_or_priority.rules_dir)


def priority_key(measure_or_priority: Measure | Priority, data: Mapping[str, Any],
                 scoring: Scoring | Mapping[str, Any], *, as_of: dt.date) -> tuple[Any, ...]:
    """Sort key of a household on the waiting list: sort ascending, first place first.

    ``scoring`` is a Scoring or its stored ``to_dict()``. An empty value sorts after all others.
    """
    priority = _as_priority(measure_or_priority)
    parts: list[tuple[int, Any]] = []
    for key, value in zip(priority.keys, _priority_values(priority, data, scoring, as_of), strict=True):
        if value is None:
            parts.append((1, 0))
            continue
        if isinstance(value, bool):
            value = int(value)
        if not isinstance(value, int | float | Fraction):
            raise TypeError(f"{PRIORITY_FILE}: key {key.key!r} must work out to a number or yes/no, "
                            f"not {value!r}")
        parts.append((0, -value if key.descending else value))
    return tuple(parts)


def explain_priority(measure_or_priority: Measure | Priority, data: Mapping[str, Any],
                     scoring: Scoring | Mapping[str, Any], *, as_of: dt.date) -> list[dict[str, Any]]:
    """The household's value of each priority key, in order, with its label, for display."""
    priority = _as_priority(measure_or_priority)
    values = _priority_values(priority, data, scoring, as_of)
    return [
        {
            "key": key.key,
            "label": key.label,
            "value": _jsonable(value),
            "direction": "descending" if key.descending else "ascending",
        }
        for key, value in zip(priority.keys, values, strict=True)
    ]


def category_label(rules_dir: str | Path, category: str, lang: str) -> str:
    """How pages name a category: the measure file's words (the key itself while that file is broken)."""
    try:
        labels = load_measure(rules_dir).category_labels.get(category) or {}
    except RuleFileInvalid:
        labels = {}
    return labels.get(lang) or labels.get("en") or category

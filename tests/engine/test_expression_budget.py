"""Every expression ends within a budget: it returns, or stops with an ExpressionError, after bounded work.

Bombs built from literals are refused when a file is checked; bombs built from data stop at run time,
on every path an expression runs through (evaluate, evaluator, assigner, count_where's conditions).
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.errors import ExpressionError
from engine.expressions import assigner, evaluate, evaluator, validate
from engine.library import Library
from registry.checks import check_all

#: What the budget lets a single evaluation use at its peak. An allowed value is at most 10,000 items
#: or 100,000 characters (well under a megabyte); without the budget the grammar below reaches
#: hundreds of megabytes within a few hundred examples.
PEAK_BYTES = 8 * 1024 * 1024


# -- bombs built from literals are refused when the file is checked --------------------------------

@pytest.mark.parametrize("expression", [
    "sum([[1]*9999]*9999, []) == []",
    "str([[1]*9999]*9999)",
    "len(str([[1]*9999]*9999)) > 0",
    "[1]*9999*9999",
    "([1]*9999)*9999",
    "[[1]*100]*100*100",
    '"ab"*9999*9999',
    "[1]*9999 + [1]*9999",
    "sorted([[0]*9999]*9999)",
    "min([[0]*9999]*9999) == []",
    "[0]*9999 in [[0]*9999]*9999",
    "count_where([{'a': 1}]*9999, 'a == 1')",
    "decision == 'x' or len([[1]*9999]*9999) > 0",
    "0 if decision else sum([[1]*9999]*9999, [])",
    "round(1.5, -10**7)",
    "((10**10)**10)**10 * 10**10",
])
def test_a_value_built_from_literals_beyond_the_budget_is_refused_by_the_check(expression: str) -> None:
    with pytest.raises(ExpressionError, match="over budget"):
        validate(expression)


@pytest.mark.parametrize("expression", [
    "1 + " * 3000 + "1",
    "-" * 4000 + "1",
    "not " * 1200 + "x",
    "x + " * 2000 + "x",
])
def test_an_expression_too_long_or_too_deep_is_refused_cleanly(expression: str) -> None:
    with pytest.raises(ExpressionError):
        validate(expression)


# -- bombs built from data stop at run time, on every path -----------------------------------------

DATA: dict[str, Any] = {"xs": [1] * 5_000, "text": "y" * 60_000, "members": [{"age": 40}] * 10}


def _paths(expression: str) -> list[Callable[[], Any]]:
    return [
        lambda: evaluate(expression, DATA),
        lambda: evaluator(expression)(dict(DATA)),
        lambda: assigner([("out", expression)])(dict(DATA)),
    ]


@pytest.mark.parametrize("expression", [
    "[xs]*9999*9999",
    "str([xs]*9999)",
    "sum([xs]*9999, [])",
    "sorted([xs, xs, xs])",
    "len([xs, xs, xs]) > 0",
    "xs + xs",
    "text + text",
    "str(xs) + str(xs) + str(xs) + str(xs) + str(xs) + str(xs) + str(xs)",
    "count_where(members, 'len(str([age]*9999*9999)) > 0')",
    "round(len(xs), -len(xs))",
])
def test_a_value_built_from_data_beyond_the_budget_stops_with_an_expression_error(expression: str) -> None:
    validate(expression)
    for run in _paths(expression):
        with pytest.raises(ExpressionError, match="over budget"):
            run()


def test_summing_lists_is_refused_even_when_small() -> None:
    # sum() of k lists copies the total k times: 10,000 one-item lists make 50 million copies.
    with pytest.raises(ExpressionError, match="sum\\(\\) adds numbers"):
        evaluate("sum(rows, [])", {"rows": [[1], [2]]})


def test_steps_that_double_a_list_stop_within_the_budget() -> None:
    steps = [("v0", "[1, 2, 3]")] + [(f"v{i}", f"v{i - 1} + v{i - 1}") for i in range(1, 40)]
    with pytest.raises(ExpressionError, match="over budget"):
        assigner(steps)({})


def test_steps_that_square_a_number_stop_within_the_budget() -> None:
    steps = [("v0", "10**10")] + [(f"v{i}", f"v{i - 1} * v{i - 1}") for i in range(1, 40)]
    with pytest.raises(ExpressionError, match="bits"):
        assigner(steps)({})


def test_steps_that_nest_a_list_stop_within_the_budget() -> None:
    # Each step holds 10 references to the one before: small in memory, 10**30 items to walk.
    steps = [("v0", "[1]")] + [(f"v{i}", f"[v{i - 1}] * 10") for i in range(1, 31)] + [("out", "str(v30)")]
    with pytest.raises(ExpressionError, match="over budget"):
        assigner(steps)({})


def test_fractions_squared_in_every_step_stop_within_the_budget() -> None:
    steps = [(f"v{i}", f"v{i - 1} * v{i - 1} / 7") for i in range(1, 40)]
    with pytest.raises(ExpressionError, match="bits"):
        assigner(steps)({"v0": Fraction(2, 3)})


def test_ordinary_expressions_stay_within_the_budget() -> None:
    data = {"members": [{"age": 7}, {"age": 40}], "income": 1234.5678, "score": Fraction(3, 8),
            "decision": "approve", "notes": "needs a visit"}
    assert evaluate("sum([1, 2, 3]) + sum(pluck(members, 'age'))", data) == 53
    assert evaluate("sorted(pluck(members, 'age'))", data) == [7, 40]
    assert evaluate("str(len(members)) + ' members'", data) == "2 members"
    assert evaluate("round(income, 2)", data) == 1234.57
    assert evaluate("score * 2 + score / 3", data) == Fraction(7, 8)
    assert evaluate("[decision, notes][0] == 'approve'", data) is True
    assert evaluate("{'a': income}['a'] > 1000", data) is True
    assert evaluate("'-' * 40 + notes", data).endswith("needs a visit")
    assert evaluate("len([0] * 9999)", data) == 9999
    assert evaluate("count_where(members, 'age < 18')", data) == 1


# -- the property: whatever the grammar builds ends within the budget ------------------------------

NAMES: dict[str, Any] = {
    "n": 7, "big_n": 123_456_789, "f": 2.5, "fr": Fraction(1, 3), "s": "abc", "none": None, "yes": True,
    "xs": [1, 2, 3], "big": [0] * 9_000, "text": "x" * 90_000, "grid": [[1, 2], [3, 4]],
    "members": [{"age": 30, "disability": True}, {"age": 8, "disability": False}],
    "record": {"k": [1, 2], "age": 3},
}
UNARY = ["len", "abs", "sum", "any", "all", "int", "float", "str", "bool", "sorted", "floor", "ceil", "min",
         "max", "date"]
BINARY = ["round", "sum", "min", "max", "power", "years_between"]
OPERATORS = ["+", "-", "*", "/", "//", "%", "==", "!=", "<", ">=", "in", "not in", "and", "or"]

leaves = st.one_of(
    st.sampled_from(sorted(NAMES) + ["v0", "v1", "v2"]),
    st.integers(min_value=-3, max_value=12).map(str),
    st.sampled_from(["9999", "10000", "99999", "10**9", "-1", "0.5", "True", "None", "'ab'", "'-' * 50",
                     "[]", "[1]", "''"]),
)


def _compound(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    two = st.tuples(children, children)
    return st.one_of(
        st.tuples(children, st.sampled_from(OPERATORS), children).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        st.tuples(children, st.integers(min_value=-2, max_value=10)).map(lambda t: f"({t[0]} ** {t[1]})"),
        children.map(lambda a: f"(not {a})"),
        children.map(lambda a: f"(-{a})"),
        st.tuples(children, children, children).map(lambda t: f"({t[0]} if {t[1]} else {t[2]})"),
        st.lists(children, max_size=4).map(lambda items: "[" + ", ".join(items) + "]"),
        two.map(lambda t: f"({t[0]}, {t[1]})"),
        two.map(lambda t: f"{{'k': {t[0]}, 'age': {t[1]}}}"),
        st.tuples(st.sampled_from(UNARY), children).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(BINARY), two).map(lambda t: f"{t[0]}({t[1][0]}, {t[1][1]})"),
        two.map(lambda t: f"count({t[0]}, 'age', {t[1]})"),
        children.map(lambda a: f"count_where({a}, 'age > 3 and len(str(k)) < 9')"),
        children.map(lambda a: f"pluck({a}, 'k')"),
        two.map(lambda t: f"get({t[0]}, 'k', {t[1]})"),
        two.map(lambda t: f"{t[0]}[{t[1]}]"),
        st.tuples(children, children, children).map(lambda t: f"{t[0]}[{t[1]}:{t[2]}]"),
    )


expressions_ = st.recursive(leaves, _compound, max_leaves=12)


def _peak_of(run: Callable[[], Any]) -> int:
    """The most memory the run held at once, in bytes: deterministic, unlike a timing."""
    tracemalloc.start()
    try:
        run()
    except ExpressionError:
        pass  # the other allowed ending: a clear error
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return peak


@settings(max_examples=300, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(expression=expressions_)
def test_every_expression_returns_or_stops_within_the_budget(expression: str) -> None:
    try:
        validate(expression)
        run = evaluator(expression)  # compiling is not part of evaluating: it happens once, when deployed
    except ExpressionError:
        return  # refused by the check: it never runs
    data = dict(NAMES)
    assert _peak_of(lambda: evaluate(expression, data)) < PEAK_BYTES, expression
    assert _peak_of(lambda: run(data)) < PEAK_BYTES, expression


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(expressions_, min_size=2, max_size=6))
def test_every_chain_of_steps_returns_or_stops_within_the_budget(steps: list[str]) -> None:
    # Steps read the values set before them (v0, v1, ...): the way a rule file doubles a value.
    try:
        run = assigner([(f"v{i}", text) for i, text in enumerate(steps)])
    except ExpressionError:
        return
    assert _peak_of(lambda: run(dict(NAMES))) < PEAK_BYTES, steps


# -- `processes check` refuses bombs in diagrams and rule files ------------------------------------

BOMB = "sum([[1]*9999]*9999, []) == []"


def test_the_check_refuses_a_gateway_condition_that_is_a_bomb(editable_library: Library) -> None:
    path = editable_library.processes_dir / "case_management.bpmn"
    text = path.read_text(encoding="utf-8")
    old = 'decision == "approve"</bpmn:conditionExpression>'
    assert old in text
    path.write_text(text.replace(old, BOMB + "</bpmn:conditionExpression>", 1), encoding="utf-8")
    found = check_all(editable_library)[str(path)]
    assert any(p.startswith("""case_management: f_approve ("approve"): condition of the flow from gw_review """)
               and "over budget" in p for p in found), found


def test_the_check_refuses_a_rule_file_expression_that_is_a_bomb(editable_library: Library) -> None:
    path = Path(editable_library.rules_dir) / "poverty_measure.yaml"
    text = path.read_text(encoding="utf-8")
    old = 'household_size: "len(members)"'
    assert old in text
    path.write_text(text.replace(old, 'household_size: "len(members) + len(str([[1]*9999]*9999))"', 1),
                    encoding="utf-8")
    found = check_all(editable_library)[str(path)]
    assert any("household_size" in p and "over budget" in p for p in found), found

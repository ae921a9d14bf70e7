"""The safe evaluator: what diagrams and rule files may say, and what they may never do."""

from __future__ import annotations

import pytest

from engine.errors import ExpressionError
from engine.expressions import evaluate, validate


@pytest.mark.parametrize("expression", [
    '__import__("os").getcwd()',
    "().__class__.__base__.__subclasses__()",
    "decision.__class__",
    'open("/etc/passwd")',
    'eval("1")',
    "exec",  # a bare name is fine to read but must not resolve to the builtin
    "[x for x in range(3)]",
    "(lambda: 1)()",
    "9 ** 9 ** 9",
    "getattr(decision, 'upper')",
    "__builtins__",
])
def test_dangerous_expressions_are_refused_or_harmless(expression: str) -> None:
    try:
        validate(expression)
    except ExpressionError:
        return
    # Accepted names (such as "exec") must read as plain data, never as Python's builtins.
    assert evaluate(expression, {}) is None


def test_conditions_read_task_data() -> None:
    assert evaluate('decision == "approve"', {"decision": "approve"}) is True
    assert evaluate('decision == "approve"', {}) is False  # a missing optional field is None, not a crash
    assert evaluate("another_visit_needed == True", {"another_visit_needed": True}) is True


def test_allowed_functions_work_on_sub_records() -> None:
    members = [{"disability": True}, {"disability": False}, {"disability": True}]
    assert evaluate('count(members, "disability", True)', {"members": members}) == 2
    assert evaluate("years_between(born, on)", {"born": "2000-05-02", "on": "2026-05-01"}) == 25


def test_a_data_key_cannot_shadow_a_function() -> None:
    assert evaluate("len(items)", {"items": [1, 2], "len": "not a function"}) == 2


def test_runtime_errors_name_the_expression() -> None:
    with pytest.raises(ExpressionError, match="income"):
        evaluate("income < 3", {"income": "abc"})


@pytest.mark.parametrize("expression", [
    '"x" * 10**10',
    "[0] * 9**10",
    "((((9**10)**10)**10)**10)**10",
    '"%*d" % (10**9, 1)',
    '"%s" % len',
])
def test_expressions_that_would_exhaust_the_server_fail_fast(expression: str) -> None:
    with pytest.raises(ExpressionError):
        evaluate(expression, {})


def test_ordinary_arithmetic_still_works() -> None:
    assert evaluate("2 * 3 + 7 % 3 + 2 ** 3", {}) == 15
    assert evaluate('"ab" * 2', {}) == "abab"
    assert evaluate("income * 0.46", {"income": 100}) == pytest.approx(46)

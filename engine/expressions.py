"""Safe expressions for gateway conditions, DMN entries, form conditions and rule files.

SpiffWorkflow evaluates expressions with plain ``eval``; whoever edits a diagram could run code
on the server. Every expression here is parsed with ``ast`` and checked against an allow-list
before it is compiled, and compiled code is cached, so bulk evaluation (re-scoring a registry)
pays the parse once.
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any

from engine.errors import ExpressionError


def _date(value: Any) -> dt.date | None:
    if value in (None, ""):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _years_between(start: Any, end: Any) -> int | None:
    first, last = _date(start), _date(end)
    if first is None or last is None:
        return None
    years = last.year - first.year
    if (last.month, last.day) < (first.month, first.day):
        years -= 1
    return years


def _count(items: Any, field: str | None = None, value: Any = True) -> int:
    """Items of a list (of sub-records) whose ``field`` equals ``value``; all items without a field."""
    if not items:
        return 0
    if field is None:
        return len(items)
    return sum(1 for item in items if isinstance(item, Mapping) and item.get(field) == value)


def _pluck(items: Any, field: str) -> list[Any]:
    return [item.get(field) for item in items or [] if isinstance(item, Mapping)]


def _get(record: Any, key: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(key, default)
    return default


#: The only functions an expression may call. Keep them pure and total.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "min": min,
    "max": max,
    "abs": abs,
    "round": round,
    "sum": sum,
    "any": any,
    "all": all,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "sorted": sorted,
    "floor": math.floor,
    "ceil": math.ceil,
    "date": _date,
    "years_between": _years_between,
    "count": _count,
    "pluck": _pluck,
    "get": _get,
}

_ALLOWED_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp, ast.And, ast.Or,
    ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.IfExp,
    ast.Call,
    ast.Name, ast.Load,
    ast.Constant,
    ast.List, ast.Tuple, ast.Set, ast.Dict,
    ast.Subscript, ast.Slice,
)


def _check(tree: ast.AST, expression: str) -> None:
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise ExpressionError(expression, f"{type(node).__name__} is not allowed")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise ExpressionError(expression, f"name '{node.id}' is not allowed")
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
                name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
                raise ExpressionError(expression, f"unknown function '{name}'")
            if any(isinstance(arg, ast.Starred) for arg in node.args) or any(
                keyword.arg is None for keyword in node.keywords
            ):
                raise ExpressionError(expression, "argument unpacking is not allowed")
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("__"):
            raise ExpressionError(expression, "dunder strings are not allowed")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            # 9**9**9 would hang a worker; allow only small literal exponents.
            if not (isinstance(node.right, ast.Constant) and isinstance(node.right.value, int | float)
                    and abs(node.right.value) <= 10):
                raise ExpressionError(expression, "only small constant exponents are allowed")


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Any:
    """Parse, check and compile an expression once; raises ExpressionError when it is refused."""
    source = expression.strip()
    if not source:
        raise ExpressionError(expression, "empty expression")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise ExpressionError(expression, f"syntax error: {err.msg}") from None
    _check(tree, expression)
    return compile(tree, "<expression>", "eval")


def names_used(expression: str) -> set[str]:
    """Data names an expression reads (function names excluded)."""
    tree = ast.parse(expression.strip(), mode="eval")
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - called


class _Namespace(dict):
    """Task data plus the allowed functions; a missing name reads as None, not NameError.

    Forms leave optional fields out; a condition such as ``decision == "reject"`` must then
    be false rather than crash a running case.
    """

    def __missing__(self, key: str) -> Any:
        return None


_NO_BUILTINS: dict[str, Any] = {"__builtins__": {}}


def evaluate(expression: str, data: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Any:
    """Evaluate a checked expression against data (and extra names that take precedence)."""
    code = compile_expression(expression)
    namespace = _Namespace(data)
    if extra:
        namespace.update(extra)
    # Functions win over data, so a form field named "len" cannot break len().
    namespace.update(FUNCTIONS)
    try:
        return eval(code, _NO_BUILTINS, namespace)  # noqa: S307 - checked against the allow-list above
    except ExpressionError:
        raise
    except Exception as err:  # a data problem, e.g. None < 3: report it with the expression
        raise ExpressionError(expression, f"{type(err).__name__}: {err}") from err


def validate(expression: str) -> None:
    """Raise ExpressionError if the expression would be refused."""
    compile_expression(expression)

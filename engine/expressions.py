"""Safe expressions for gateway conditions, DMN entries, form conditions and rule files.

SpiffWorkflow evaluates expressions with plain ``eval``; whoever edits a diagram could run code
on the server. Every expression here is parsed with ``ast`` and checked against an allow-list
before it is compiled, and compiled code is cached, so bulk evaluation (re-scoring a registry)
pays the parse once.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import functools
import math
from collections.abc import Callable, Mapping, Sequence
from fractions import Fraction
from typing import Any

from engine.errors import ExpressionError


def _date(value: Any) -> dt.date | None:
    if type(value) is str and value:  # the common case first: bulk scoring reads many birth dates
        return dt.date.fromisoformat(value[:10])
    if type(value) is dt.date:
        return value
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
    found = 0
    for item in items:  # the exact-dict test first: an ABC isinstance check is slow in bulk scoring
        if (type(item) is dict or isinstance(item, Mapping)) and item.get(field) == value:
            found += 1
    return found


def _pluck(items: Any, field: str) -> list[Any]:
    return [item.get(field) for item in items or [] if isinstance(item, Mapping)]


def _get(record: Any, key: str, default: Any = None) -> Any:
    if isinstance(record, Mapping):
        return record.get(key, default)
    return default


def _power(base: Any, exponent: Any) -> float:
    """``base ** exponent`` for a small exponent, e.g. an equivalence scale's economies of scale (0.89)."""
    base, exponent = float(base), float(exponent)
    if abs(exponent) > 10:
        raise ValueError("power() allows only exponents between -10 and 10")
    if base < 0 and not exponent.is_integer():
        raise ValueError("power() of a negative number needs a whole exponent")
    return base**exponent


def _count_where(items: Any, condition: str) -> int:
    """Items (sub-records) for which ``condition`` holds, with each item's fields as the names it reads.

    The condition is a literal string checked like any expression when the outer one is compiled,
    e.g. ``count_where(members, "age >= 6 and age <= 17 and schooling == 'dropped_out'")``.
    """
    if not items:
        return 0
    code = _fast_code(condition)
    found = 0
    try:
        for item in items:
            if (type(item) is dict or isinstance(item, Mapping)) and eval(  # noqa: S307 - checked
                code, _FAST_GLOBALS, item
            ):
                found += 1
    except (ExpressionError, _OverBudget):  # the outer expression reports a budget overrun
        raise
    except Exception as err:
        raise _data_problem(condition, err) from err
    return found


# The budget. An expression has no loops, so the operations it runs are bounded by its size (capped
# below); what is left is the size of the values it builds. Every operation that builds a value
# (``*``, ``+``, list and dict displays, sum, sorted, str, round) checks the result against one
# bound, counted as if each shared part were copied: ``[[1] * 9999] * 9999`` is 9999 references to
# one list, but str(), sum() and == walk it 99,980,001 times. With every built value under the bound,
# anything that walks values (comparisons, ``in``, min, max, sorted, str) does bounded work too.

#: Largest value an expression may build, in cells: one per item (list, tuple, set, dict key or
#: value, number), and one per ten characters of a string.
_MAX_SIZE = 10_000
_CHARS_PER_CELL = 10
_MAX_CHARS = _MAX_SIZE * _CHARS_PER_CELL
#: Whole numbers beyond float's range (about 10**308) are never data; 2**(2**30) would hang a worker.
_MAX_INT_BITS = 1024
_MAX_POWER_DIGITS = 60
_MAX_ROUND_DIGITS = 20
_NUMBERS = (int, float, Fraction)
_SETS = (set, frozenset)


class _OverBudget(ValueError):
    """A value an expression builds would be larger than the budget allows."""


def _too_large(what: str) -> _OverBudget:
    return _OverBudget(f"{what} would be larger than the limit of {_MAX_SIZE:,} items or {_MAX_CHARS:,} "
                       "characters")


def _too_long(what: str) -> _OverBudget:
    return _OverBudget(f"{what} would have more than {_MAX_INT_BITS:,} bits (about 308 digits)")


def _size(value: Any, what: str = "the result") -> int:
    """The value's size in cells, shared parts counted each time; raises _OverBudget past the limit.

    Stops as soon as the limit is passed, so measuring costs at most the limit, whatever the value.
    """
    used = 0
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind is str or kind is bytes:
            used += 1 + len(item) // _CHARS_PER_CELL
        elif kind is list or kind is tuple or kind in _SETS:
            used += 1 + len(item)
            if used <= _MAX_SIZE:
                stack.extend(item)
        elif kind is dict:
            used += 1 + 2 * len(item)
            if used <= _MAX_SIZE:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif kind is float or kind is bool or item is None:
            pass  # one cell, counted by its container
        elif kind is int or kind is Fraction:
            _number(item)
        elif isinstance(item, str | bytes):  # subclasses, e.g. of task data
            used += 1 + len(item) // _CHARS_PER_CELL
        elif isinstance(item, Mapping):
            used += 1 + 2 * len(item)
            if used <= _MAX_SIZE:
                stack.extend(item.keys())
                stack.extend(item.values())
        elif isinstance(item, list | tuple | set | frozenset):
            used += 1 + len(item)
            if used <= _MAX_SIZE:
                stack.extend(item)
        if used > _MAX_SIZE:
            raise _too_large(what)
    return used


def _bounded(value: Any) -> Any:
    _size(value)
    return value


def _number(value: Any) -> Any:
    """The number itself when it fits the budget: repeated squaring would otherwise grow without end."""
    kind = type(value)
    if kind is int:
        if value.bit_length() > _MAX_INT_BITS:
            raise _too_long("a number")
    elif kind is Fraction and value.numerator.bit_length() + value.denominator.bit_length() > _MAX_INT_BITS:
        raise _too_long("a fraction")
    return value


def _sum(items: Any, start: Any = 0) -> Any:
    """sum() of numbers. Adding lists copies the total once per item; join lists with + instead."""
    if not isinstance(start, _NUMBERS):
        raise ValueError("sum() adds numbers; join lists with +")
    return _number(sum(items, start))


def _sorted(items: Any, **options: Any) -> list[Any]:
    return _bounded(sorted(items, **options))


def _str(*args: Any, **options: Any) -> str:
    """str(), refusing to render a value whose text could pass the budget (a large list of lists)."""
    if args:
        _size(args[0], "the value to turn into text")
    text = str(*args, **options)
    if len(text) > _MAX_CHARS:
        raise _too_large("the text")
    return text


def _round(number: Any, digits: Any = None) -> Any:
    """round(); round(1, -10**7) works out 10**10**7 first."""
    if digits is None:
        return round(number)
    if isinstance(digits, int) and abs(digits) > _MAX_ROUND_DIGITS:
        raise _OverBudget(f"round() takes at most {_MAX_ROUND_DIGITS} digits")
    return round(number, digits)


#: The only functions an expression may call. Keep them pure and total.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": len,
    "min": min,
    "max": max,
    "abs": abs,
    "round": _round,
    "sum": _sum,
    "any": any,
    "all": all,
    "int": int,
    "float": float,
    "str": _str,
    "bool": bool,
    "sorted": _sorted,
    "floor": math.floor,
    "ceil": math.ceil,
    "date": _date,
    "years_between": _years_between,
    "count": _count,
    "pluck": _pluck,
    "get": _get,
    "power": _power,
    "count_where": _count_where,
}

#: Functions whose second argument is a condition evaluated per item; it must be a literal string,
#: so it is checked when the outer expression is compiled, never first seen at run time.
_ITEM_CONDITION_FUNCTIONS = frozenset({"count_where"})

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
            if node.func.id in _ITEM_CONDITION_FUNCTIONS:
                _check_item_condition(node, expression)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith("__"):
            raise ExpressionError(expression, "dunder strings are not allowed")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
            # 9**9**9 would hang a worker; allow only small literal exponents.
            if not (isinstance(node.right, ast.Constant) and isinstance(node.right.value, int | float)
                    and abs(node.right.value) <= 10):
                raise ExpressionError(expression, "only small constant exponents are allowed")


def _check_item_condition(node: ast.Call, expression: str) -> None:
    name = node.func.id  # type: ignore[attr-defined]
    if len(node.args) != 2 or node.keywords:
        raise ExpressionError(expression, f"{name}() takes a list and a condition")
    condition = node.args[1]
    if not (isinstance(condition, ast.Constant) and isinstance(condition.value, str)):
        raise ExpressionError(expression, f"the condition of {name}() must be a literal string")
    try:
        compile_expression(condition.value)
    except ExpressionError as err:
        raise ExpressionError(expression, f"condition of {name}(): {err.reason}") from None


#: Text an expression may have. Without loops the operations an expression runs are bounded by the
#: nodes of its tree; a deep tree would also overflow the parser's and the compiler's stacks.
_MAX_LENGTH = 5_000
_MAX_NODES = 1_000
_MAX_DEPTH = 50


@functools.lru_cache(maxsize=4096)
def compile_expression(expression: str) -> Any:
    """Parse, check and compile an expression once; raises ExpressionError when it is refused."""
    source = expression.strip()
    if not source:
        raise ExpressionError(expression, "empty expression")
    if len(source) > _MAX_LENGTH:
        raise ExpressionError(source[:80] + "…", f"longer than {_MAX_LENGTH:,} characters")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as err:
        raise ExpressionError(expression, f"syntax error: {err.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(expression, "too deeply nested") from None
    _check_shape(tree, expression)
    _check(tree, expression)
    _check_literal_parts(tree, expression)
    return _compile(_guard_operators(tree), "<expression>", "eval", expression)


def _compile(tree: ast.Module | ast.Expression, filename: str, mode: str, expression: str) -> Any:
    try:
        return compile(tree, filename, mode)
    except SyntaxError as err:  # a SyntaxWarning where warnings are errors, e.g. "3[0]"
        raise ExpressionError(expression, f"syntax error: {err.msg}") from None


def _check_shape(tree: ast.Expression, expression: str) -> None:
    nodes = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        nodes += 1
        if nodes > _MAX_NODES:
            raise ExpressionError(expression, f"more than {_MAX_NODES:,} parts")
        if depth > _MAX_DEPTH:
            raise ExpressionError(expression, f"nested more than {_MAX_DEPTH} deep")
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))


_BRANCHES = (ast.IfExp, ast.BoolOp, ast.Slice)


def _check_literal_parts(tree: ast.Expression, expression: str) -> None:
    """Work out, under the budget, every part that reads no data, so that a value built from literals
    alone (``sum([[1] * 9999] * 9999, [])``) is refused when the file is checked, not in a running case.

    Other failures (``1 / 0``) are left to run time: a part may sit in a branch that never runs.
    """
    reads_data: set[int] = set()
    for node in reversed(list(ast.walk(tree))):  # breadth-first, reversed: children before parents
        if (isinstance(node, ast.Name) and node.id not in FUNCTIONS) or any(
            id(child) in reads_data for child in ast.iter_child_nodes(node)
        ):
            reads_data.add(id(node))
    namespace = {**FUNCTIONS, **_GUARD_FUNCTIONS}
    stack: list[ast.AST] = [tree.body]
    while stack:
        node = stack.pop()
        # Branches are worked out one by one: "[1] * 10**9 if False else 0" is refused too.
        if id(node) in reads_data or not isinstance(node, ast.expr) or isinstance(node, _BRANCHES):
            stack.extend(ast.iter_child_nodes(node))
            continue
        if isinstance(node, ast.Constant | ast.Name):
            continue
        part = _guard_operators(ast.Expression(body=copy.deepcopy(node)))
        try:
            eval(compile(part, "<expression>", "eval"), _NO_BUILTINS, dict(namespace))  # noqa: S307 - checked
        except _OverBudget as err:
            raise ExpressionError(expression, f"over budget in {ast.unparse(node)}: {err}") from None
        except Exception:  # noqa: S112 - a data problem, reported when it happens
            continue


def _guarded_mul(left: Any, right: Any) -> Any:
    if isinstance(left, _NUMBERS) and isinstance(right, _NUMBERS):
        return _number(left * right)
    if isinstance(right, int) and isinstance(left, str | bytes | list | tuple):
        sequence, times = left, right
    elif isinstance(left, int) and isinstance(right, str | bytes | list | tuple):
        sequence, times = right, left
    else:
        return left * right  # a TypeError for anything else
    if times > 0:
        if isinstance(sequence, str | bytes):
            size = 1 + len(sequence) * times // _CHARS_PER_CELL
        else:
            size = 1 + (_size(sequence, "the value to repeat") - 1) * times
        if size > _MAX_SIZE:
            raise _too_large("the result")
    return sequence * times


def _guarded_add(left: Any, right: Any) -> Any:
    result = left + right
    kind = type(result)
    if kind is int or kind is float:  # adding can only double a number: no need to measure it
        return result
    return _bounded(result)


def _guarded_div(left: Any, right: Any) -> Any:
    return _number(left / right)


def _guarded_mod(left: Any, right: Any) -> Any:
    if isinstance(left, str):
        raise ValueError("string formatting is not allowed")
    return left % right


def _guarded_pow(base: Any, exponent: Any) -> Any:
    if not (isinstance(base, _NUMBERS) and isinstance(exponent, _NUMBERS)):
        raise ValueError("powers are for numbers")
    size, power = abs(float(base)), abs(float(exponent))
    if power > 10 or (size > 1 and power * math.log10(size) > _MAX_POWER_DIGITS):
        raise _OverBudget(f"the power would have more than {_MAX_POWER_DIGITS} digits")
    return _number(base**exponent)


#: Operators that could exhaust memory or CPU ("x" * 10**10, nested powers, "%*d", a list doubled
#: by + in every step of a rule file, a fraction squared in every step) run through checks.
_GUARDED_OPERATORS: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Mult: ("_guarded_mul", _guarded_mul),
    ast.Add: ("_guarded_add", _guarded_add),
    ast.Div: ("_guarded_div", _guarded_div),
    ast.Mod: ("_guarded_mod", _guarded_mod),
    ast.Pow: ("_guarded_pow", _guarded_pow),
}
_GUARDED_BUILD = "_guarded_build"


def _literal(node: ast.AST) -> bool:
    """A constant, or a display of constants: its size is bounded by the text."""
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.List | ast.Tuple | ast.Set):
        return all(_literal(element) for element in node.elts)
    if isinstance(node, ast.Dict):
        return all(key is not None and _literal(key) for key in node.keys) and all(map(_literal, node.values))
    return False


class _OperatorGuard(ast.NodeTransformer):
    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        guard = _GUARDED_OPERATORS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(id=guard[0], ctx=ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.copy_location(call, node)

    def _display(self, node: ast.expr) -> ast.AST:
        # [a, a, a] holds three references to a value that may itself be at the limit.
        if _literal(node):
            return node
        self.generic_visit(node)
        call = ast.Call(func=ast.Name(id=_GUARDED_BUILD, ctx=ast.Load()), args=[node], keywords=[])
        return ast.copy_location(call, node)

    visit_List = visit_Tuple = visit_Set = visit_Dict = _display


def _guard_operators(tree: ast.Expression) -> ast.Expression:
    """Rewrite checked trees only: user names cannot start with "_", so these calls cannot be forged."""
    guarded = _OperatorGuard().visit(tree)
    return ast.fix_missing_locations(guarded)


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


_GUARD_FUNCTIONS: dict[str, Callable[..., Any]] = {**dict(_GUARDED_OPERATORS.values()), _GUARDED_BUILD: _bounded}
_NO_BUILTINS: dict[str, Any] = {"__builtins__": {}}


def evaluate(expression: str, data: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> Any:
    """Evaluate a checked expression against data (and extra names that take precedence)."""
    code = compile_expression(expression)
    namespace = _Namespace(data)
    if extra:
        namespace.update(extra)
    # Functions win over data, so a form field named "len" cannot break len().
    namespace.update(FUNCTIONS)
    namespace.update(_GUARD_FUNCTIONS)
    try:
        return eval(code, _NO_BUILTINS, namespace)  # noqa: S307 - checked against the allow-list above
    except ExpressionError:
        raise
    except Exception as err:  # a data problem, e.g. None < 3: report it with the expression
        raise _data_problem(expression, err) from err


def validate(expression: str) -> None:
    """Raise ExpressionError if the expression would be refused."""
    compile_expression(expression)


def item_conditions(expression: str) -> list[str]:
    """The literal per-item conditions an expression passes to count_where() and the like."""
    tree = ast.parse(expression.strip(), mode="eval")
    return [
        node.args[1].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        and node.func.id in _ITEM_CONDITION_FUNCTIONS and len(node.args) == 2
        and isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str)
    ]


# The fast path. Function names are renamed to names no expression may write (leading "_"), so data
# can never shadow a function, and the functions live in the globals: the caller's mapping is used
# as it is, with no per-call copy. A name found nowhere falls through to this "builtins" mapping,
# which answers None (the same rule as _Namespace) and holds nothing else.
_FAST_PREFIX = "__fn_"


class _NoneForMissing(dict):
    def __missing__(self, key: str) -> None:
        return None


_FAST_GLOBALS: dict[str, Any] = {"__builtins__": _NoneForMissing(), **_GUARD_FUNCTIONS}


def _fast_tree(expression: str) -> ast.Expression:
    compile_expression(expression)  # the allow-list check, on the text as written
    tree = ast.parse(expression.strip(), mode="eval")
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in FUNCTIONS:
            node.id = _FAST_PREFIX + node.id
    for name, function in FUNCTIONS.items():  # functions registered after import are seen too
        _FAST_GLOBALS[_FAST_PREFIX + name] = function
    return _guard_operators(tree)


@functools.lru_cache(maxsize=4096)
def _fast_code(expression: str) -> Any:
    return _compile(_fast_tree(expression), "<expression>", "eval", expression)


def _data_problem(expression: str, err: Exception) -> ExpressionError:
    """A data problem while evaluating, e.g. None < 3, reported with the expression."""
    if isinstance(err, _OverBudget):
        return ExpressionError(expression, f"over budget: {err}")
    return ExpressionError(expression, f"{type(err).__name__}: {err}")


@functools.lru_cache(maxsize=4096)
def evaluator(expression: str) -> Callable[[Mapping[str, Any]], Any]:
    """Check and compile once; the result evaluates against a mapping (missing names read as None).

    For bulk work such as scoring a registry: the caller builds one namespace and evaluates many
    compiled expressions against it. Functions win over data, as in evaluate().
    """
    code = _fast_code(expression)

    def run(namespace: Mapping[str, Any]) -> Any:
        try:
            return eval(code, _FAST_GLOBALS, namespace)  # noqa: S307 - checked against the allow-list
        except ExpressionError:
            raise
        except Exception as err:
            raise _data_problem(expression, err) from err

    return run


def assigner(assignments: Sequence[tuple[str, str]]) -> Callable[[dict[str, Any]], None]:
    """Check and compile ``name = expression`` steps into one block that sets each name in a dict, in order.

    One call runs every step (each may read the names set before it), which is much cheaper than
    one evaluation per expression when a registry is scored. Raises ExpressionError for a refused
    expression or target name; at run time, for a data problem, naming the failing expression.
    """
    statements: list[ast.stmt] = []
    texts: list[str] = []
    for number, (target, expression) in enumerate(assignments, start=1):
        if not target.isidentifier() or target.startswith("__") or target in FUNCTIONS:
            raise ExpressionError(expression, f"cannot assign to {target!r}")
        value = _fast_tree(expression).body
        statement = ast.Assign(targets=[ast.Name(id=target, ctx=ast.Store())], value=value)
        for node in ast.walk(statement):  # line numbers tell which step failed
            node.lineno = node.end_lineno = number  # type: ignore[attr-defined]
            node.col_offset = node.end_col_offset = 0  # type: ignore[attr-defined]
        statements.append(statement)
        texts.append(expression)
    code = _compile(ast.Module(body=statements, type_ignores=[]), "<assignments>", "exec", "; ".join(texts))

    def run(namespace: dict[str, Any]) -> None:
        try:
            exec(code, _FAST_GLOBALS, namespace)  # noqa: S102 - every step checked against the allow-list
        except ExpressionError:
            raise
        except Exception as err:
            line = None
            trace = err.__traceback__
            while trace is not None:
                if trace.tb_frame.f_code is code:
                    line = trace.tb_lineno
                trace = trace.tb_next
            expression = texts[line - 1] if line and 0 < line <= len(texts) else "; ".join(texts)
            raise _data_problem(expression, err) from err

    return run

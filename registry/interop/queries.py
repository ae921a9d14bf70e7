"""The standard's three query types, turned into one SQL condition on households (or people).

- ``idtype-value``: ``{"type": "UIN" | "HOUSEHOLD_ID" | "MOBILE", "value": ...}``.
- ``expression``: ``{"type": ..., "value": {"expression": {"collection": "Group", "query": {...}}}}`` where the
  query nests ``$and`` / ``$or`` (lists) and ``$not`` (one object) around ``{attribute: {"$lt": 5}}``
  (operators ``$eq $ne $lt $lte $le $gt $gte $ge $in``; a bare value means ``$eq``).
- ``predicate``: a list of ``{seq_num, expression1, condition, expression2}``; each item is ``expression1``
  alone, or joined to ``expression2`` by ``and`` / ``or`` / ``not`` (and not); the items, in ``seq_num``
  order, must all hold.

Attributes are a fixed list (``ATTRIBUTES``), each behind the field group that shows it: a client may only
search and sort on what it may see, so a query cannot reveal a value the records would hide.
A person's attribute (``age < 25``) on a ``Group`` search matches households with such an active member.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, false, func, not_, or_, select
from sqlalchemy.sql.elements import KeyedColumnElement

from registry.models import EligibilityScore, Household, Person

GROUP, MEMBER = "Group", "Member"
QUERY_TYPES = ("idtype-value", "expression", "predicate")


class QueryInvalid(Exception):  # noqa: N818  # a refusal named as the standard's reason codes are
    """``reason`` is one of the standard's status reason codes (``rjct.search_criteria.invalid``, ...)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def _latest_score() -> Any:
    return (select(EligibilityScore.score).where(EligibilityScore.household_id == Household.id)
            .order_by(EligibilityScore.id.desc()).limit(1).correlate(Household).scalar_subquery())


def _latest_category() -> Any:
    return (select(EligibilityScore.category).where(EligibilityScore.household_id == Household.id)
            .order_by(EligibilityScore.id.desc()).limit(1).correlate(Household).scalar_subquery())


def _group_size() -> Any:
    return (select(func.count(Person.id)).where(Person.household_id == Household.id, Person.active)
            .correlate(Household).scalar_subquery())


@dataclass(frozen=True)
class Attribute:
    #: The field group a client needs to search or sort on it (None: always allowed).
    group: str | None
    #: ``person``: a member's value; ``household``: the household's.
    level: str
    kind: str  # number, text, date, moment, age
    column: Callable[[], Any]


ATTRIBUTES: dict[str, Attribute] = {
    "uin": Attribute("identifiers", "person", "text", lambda: Person.national_id),
    "household_id": Attribute("identifiers", "household", "number", lambda: Household.id),
    "mobile": Attribute("contact", "household", "text", lambda: Household.phone),
    "age": Attribute("demographics", "person", "age", lambda: Person.birth_date),
    "birth_date": Attribute("demographics", "person", "date", lambda: Person.birth_date),
    "sex": Attribute("demographics", "person", "text", lambda: Person.sex),
    "relationship_head": Attribute("demographics", "person", "text", lambda: Person.relation),
    "is_disabled": Attribute("disability", "person", "bool", lambda: Person.disability),
    "poverty_score": Attribute("poverty_score", "household", "number", _latest_score),
    "eligibility_category": Attribute("eligibility_category", "household", "text", _latest_category),
    "location": Attribute("location", "household", "text", lambda: Household.governorate_code),
    "locality": Attribute("location", "household", "text", lambda: Household.locality),
    "programme_status": Attribute("programme", "household", "text", lambda: Household.programme_status),
    "group_size": Attribute(None, "household", "number", _group_size),
    "registration_date": Attribute(None, "household", "moment", lambda: Household.created_at),
}
#: The standard's and common names for the same attributes.
ALIASES = {"nationalid": "uin", "national_id": "uin", "phone": "mobile", "phone_number": "mobile",
           "governorate": "location", "poverty_category": "eligibility_category", "category": "eligibility_category",
           "gender": "sex", "dob": "birth_date"}
ID_TYPES = {"uin": "uin", "nationalid": "uin", "national_id": "uin", "household_id": "household_id",
            "mobile": "mobile", "phone": "mobile"}
_OPERATORS = {"eq", "ne", "lt", "le", "gt", "ge", "in"}
_DOLLAR = {"$eq": "eq", "$ne": "ne", "$lt": "lt", "$lte": "le", "$le": "le", "$gt": "gt", "$gte": "ge",
           "$ge": "ge", "$in": "in"}
_MAX_NODES = 50


@dataclass(frozen=True)
class Compiler:
    """Compiles one client's query: what it may see, the entity searched, today's date (for ages)."""

    fields: frozenset[str]
    entity: str
    today: dt.date
    reason: str = "rjct.search_criteria.invalid"

    def attribute(self, name: Any) -> tuple[str, Attribute]:
        key = str(name).strip().lower() if isinstance(name, str) else ""
        key = ALIASES.get(key, key)
        found = ATTRIBUTES.get(key)
        if found is None:
            raise QueryInvalid(self.reason, f"unknown attribute {name!r}; known: {', '.join(sorted(ATTRIBUTES))}")
        if found.group is not None and found.group not in self.fields:
            raise QueryInvalid(self.reason, f"attribute {name!r} is outside what this client may see")
        return key, found

    def compile(self, query_type: Any, query: Any) -> ColumnElement[bool]:
        if query_type == "idtype-value":
            return self._idtype_value(query)
        if query_type == "expression":
            budget = [_MAX_NODES]
            return self._expression(_expression_body(query, self.reason), budget)
        if query_type == "predicate":
            return self._predicate(query)
        raise QueryInvalid(self.reason, f"query_type must be one of {', '.join(QUERY_TYPES)}")

    def _idtype_value(self, query: Any) -> ColumnElement[bool]:
        if not isinstance(query, dict) or "type" not in query or "value" not in query:
            raise QueryInvalid(self.reason, "an idtype-value query needs type and value")
        kind = ID_TYPES.get(str(query["type"]).strip().lower().rsplit(":", 1)[-1])
        if kind is None:
            raise QueryInvalid(self.reason, "type must be UIN, HOUSEHOLD_ID or MOBILE")
        return self.compare(kind, "eq", query["value"])

    def _expression(self, node: Any, budget: list[int]) -> ColumnElement[bool]:
        budget[0] -= 1
        if budget[0] < 0 or not isinstance(node, dict) or not node:
            raise QueryInvalid(self.reason, "an expression query must be a non-empty object of conditions")
        parts: list[ColumnElement[bool]] = []
        for key, value in node.items():
            if key in ("$and", "$or"):
                if not isinstance(value, list) or not value:
                    raise QueryInvalid(self.reason, f"{key} needs a non-empty list")
                inner = [self._expression(item, budget) for item in value]
                parts.append(and_(*inner) if key == "$and" else or_(*inner))
            elif key == "$not":
                parts.append(not_(self._expression(value, budget)))
            elif isinstance(value, dict):
                if not value:
                    raise QueryInvalid(self.reason, f"no operator for {key!r}")
                for operator, operand in value.items():
                    if operator not in _DOLLAR:
                        raise QueryInvalid(self.reason, f"unknown operator {operator!r}")
                    parts.append(self.compare(key, _DOLLAR[operator], operand))
            else:
                parts.append(self.compare(key, "eq", value))
        return and_(*parts)

    def _predicate(self, query: Any) -> ColumnElement[bool]:
        if not isinstance(query, list) or not query or len(query) > _MAX_NODES:
            raise QueryInvalid(self.reason, "a predicate query is a non-empty list of expressions")
        if not all(isinstance(item, dict) for item in query):
            raise QueryInvalid(self.reason, "each predicate is an object")
        parts = []
        for item in sorted(query, key=lambda i: i.get("seq_num") if isinstance(i.get("seq_num"), int | float) else 0):
            first = self._one(item.get("expression1"))
            condition = item.get("condition")
            if item.get("expression2") is None:
                parts.append(first)
                continue
            second = self._one(item["expression2"])
            if condition == "and":
                parts.append(and_(first, second))
            elif condition == "or":
                parts.append(or_(first, second))
            elif condition == "not":
                parts.append(and_(first, not_(second)))
            else:
                raise QueryInvalid(self.reason, "condition must be and, or or not")
        return and_(*parts)

    def _one(self, expression: Any) -> ColumnElement[bool]:
        if not isinstance(expression, dict) or not {"attribute_name", "operator", "attribute_value"} <= set(expression):
            raise QueryInvalid(self.reason, "an expression needs attribute_name, operator and attribute_value")
        operator = expression["operator"]
        if operator not in _OPERATORS:
            raise QueryInvalid(self.reason, f"operator must be one of {', '.join(sorted(_OPERATORS))}")
        return self.compare(expression["attribute_name"], operator, expression["attribute_value"])

    def compare(self, name: Any, operator: str, value: Any) -> ColumnElement[bool]:
        """``attribute operator value`` as SQL, lifted to the household for a person's attribute on groups."""
        _key, attribute = self.attribute(name)
        if operator == "in":
            if not isinstance(value, list) or not value or len(value) > 100:
                raise QueryInvalid(self.reason, "in needs a list of 1 to 100 values")
            condition = or_(*[self._compare(attribute, "eq", v) for v in value])
        else:
            condition = self._compare(attribute, operator, value)
        if attribute.level == "person" and self.entity == GROUP:
            return exists(select(Person.id).where(Person.household_id == Household.id, Person.active, condition)
                          .correlate(Household))
        return condition

    def _compare(self, attribute: Attribute, operator: str, raw: Any) -> ColumnElement[bool]:
        if attribute.kind == "age":
            return _age(attribute.column(), operator, _number(raw, self.reason), self.today)
        value = _typed(attribute.kind, raw, self.reason)
        column = attribute.column()
        if value is None:  # a household number that is no number matches nothing, as an unknown one would
            return false()
        return _apply(column, operator, value)


def _apply(column: Any, operator: str, value: Any) -> ColumnElement[bool]:
    result: ColumnElement[bool] = {
        "eq": lambda: column == value, "ne": lambda: column != value, "lt": lambda: column < value,
        "le": lambda: column <= value, "gt": lambda: column > value, "ge": lambda: column >= value,
    }[operator]()
    return result


def _expression_body(query: Any, reason: str) -> Any:
    """The condition object inside the standard's nesting (``value.expression.query``), however deep it starts."""
    node = query
    for key in ("value", "expression"):
        if isinstance(node, dict) and isinstance(node.get(key), dict):
            node = node[key]
    if isinstance(node, dict) and "query" in node:
        collection = node.get("collection", GROUP)
        if collection not in (GROUP, MEMBER):
            raise QueryInvalid(reason, "collection must be Group or Member")
        node = node["query"]
    return node


def _number(raw: Any, reason: str) -> float:
    if isinstance(raw, bool):
        raise QueryInvalid(reason, "a number is expected")
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise QueryInvalid(reason, f"{raw!r} is not a number") from None


def _typed(kind: str, raw: Any, reason: str) -> Any:
    if kind == "number":
        number = _number(raw, reason)
        return number
    if kind == "bool":
        if not isinstance(raw, bool):
            raise QueryInvalid(reason, "true or false is expected")
        return raw
    if kind == "date":
        try:
            return dt.date.fromisoformat(str(raw)[:10])
        except ValueError:
            raise QueryInvalid(reason, f"{raw!r} is not an ISO 8601 date") from None
    if kind == "moment":
        text = str(raw)
        try:
            moment = dt.datetime.fromisoformat(text) if len(text) > 10 else dt.datetime.fromisoformat(text + "T00:00")
        except ValueError:
            raise QueryInvalid(reason, f"{raw!r} is not an ISO 8601 time") from None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    if not isinstance(raw, str | int) or isinstance(raw, bool) or len(str(raw)) > 200:
        raise QueryInvalid(reason, "a text value is expected")
    return str(raw).strip()


def _years_before(today: dt.date, years: int) -> dt.date:
    """The birth date of someone who turns ``years`` today (29 February turns on 1 March)."""
    try:
        return today.replace(year=today.year - years)
    except ValueError:
        return today.replace(year=today.year - years, day=28) + dt.timedelta(days=1)


def _age(birth_date: KeyedColumnElement[Any], operator: str, value: float, today: dt.date) -> ColumnElement[bool]:
    """``age <op> value`` as birth-date bounds (an unknown birth date matches nothing)."""
    if not 0 <= value <= 150:
        return false()
    whole = int(value)

    def at_least(years: int) -> ColumnElement[bool]:
        return birth_date <= _years_before(today, years)

    def under(years: int) -> ColumnElement[bool]:
        return birth_date > _years_before(today, years)

    if operator in ("eq", "ne"):
        exact = and_(at_least(whole), under(whole + 1)) if whole == value else false()
        return exact if operator == "eq" else and_(birth_date.is_not(None), not_(exact))
    fractional = whole != value
    bounds = {
        "lt": lambda: under(whole + 1 if fractional else whole),
        "le": lambda: under(whole + 1),
        "gt": lambda: at_least(whole + 1),
        "ge": lambda: at_least(whole + 1 if fractional else whole),
    }
    return bounds[operator]()


@dataclass(frozen=True)
class Sort:
    attribute: str
    descending: bool


def sort_keys(compiler: Compiler, sort: Any) -> list[Any]:
    """ORDER BY terms for the standard's ``sort`` list (only on attributes the client may see)."""
    if sort is None:
        return []
    if not isinstance(sort, list) or len(sort) > 5:
        raise QueryInvalid("rjct.sort.invalid", "sort is a list of at most 5 {attribute_name, sort_order}")
    terms = []
    for item in sort:
        if not isinstance(item, dict) or item.get("sort_order", "asc") not in ("asc", "desc"):
            raise QueryInvalid("rjct.sort.invalid", "each sort needs attribute_name and sort_order asc or desc")
        try:
            _key, attribute = compiler.attribute(item.get("attribute_name"))
        except QueryInvalid as refused:
            raise QueryInvalid("rjct.sort.invalid", refused.message) from None
        if attribute.level == "person" and compiler.entity == GROUP:
            raise QueryInvalid("rjct.sort.invalid", "a member's attribute sorts Member searches only")
        column = attribute.column()
        descending = item.get("sort_order") == "desc"
        if attribute.kind == "age":  # older first is an earlier birth date
            descending = not descending
        terms.append(column.desc().nulls_last() if descending else column.asc().nulls_last())
    return terms

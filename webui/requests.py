"""The edge of every request: input no view should ever see is refused before any view runs.

- JSON nested deeper than a bound: Python's decoder recurses once per level, so ``'[' * 100000``
  would exhaust the stack; nothing we accept is nested more than a few levels.
- C0 control characters: PostgreSQL refuses NUL in text (a 500 deep inside a query), and none of
  them belongs in a name, a search or a path. Free text keeps tab, CR and LF.
- Ids in URLs: a number that does not fit our id columns (INTEGER: 32 bits on PostgreSQL) is a plain
  404, not an overflow in the driver.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Flask, Request, request
from werkzeug.routing import IntegerConverter, Map

MAX_JSON_DEPTH = 32
MAX_ID = 2**31 - 1  # ids are INTEGER columns; PostgreSQL refuses a bigger number in a comparison
# C0 controls, and lone surrogates (JSON may escape them, but no text can hold or send them back).
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_CONTROL_IN_PATH = re.compile(r"[\x00-\x1f]")
_CONTROL_IN_HEADER = re.compile(r"[\x00-\x08\x0a-\x1f]")  # RFC 9110: a field value may hold a tab
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


class UnsafeInput(Exception):  # noqa: N818  # named as the other refusals (FormInvalid, NotPermitted)
    """``reason`` is ``too_deep`` or ``control_character``; ``where`` says which part of the request."""

    def __init__(self, reason: str, where: str) -> None:
        super().__init__(f"{reason} in {where}")
        self.reason = reason
        self.where = where


def check_json(document: Any) -> None:
    """Refuse containers nested deeper than MAX_JSON_DEPTH and strings (keys too) with control characters.

    Iterative, so the check itself cannot run out of stack.
    """
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if _CONTROL_IN_TEXT.search(value):
                raise UnsafeInput("control_character", "body")
        elif isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise UnsafeInput("too_deep", "body")
            if isinstance(value, dict):
                for key, item in value.items():
                    if _CONTROL_IN_TEXT.search(key):
                        raise UnsafeInput("control_character", "body")
                    pending.append((item, depth + 1))
            else:
                pending.extend((item, depth + 1) for item in value)


class GuardedRequest(Request):
    """Every JSON body read through ``get_json`` (also ``silent=True`` and ``request.json``) has passed ``check_json``.

    ``UnsafeInput`` is not a ValueError on purpose: a silenced parse must not turn it into "no body".
    """

    _checked_json: Any = None

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        try:
            document = super().get_json(force=force, silent=silent, cache=cache)
        except RecursionError:  # the decoder's own stop, before MAX_JSON_DEPTH could be checked
            raise UnsafeInput("too_deep", "body") from None
        if document is not None and self._checked_json is not document:
            check_json(document)
            self._checked_json = document  # the cached body is checked once, not on every call
        return document


def refuse_unsafe_input() -> None:
    """Before every view: control characters in the path, headers, query, form fields (names too), JSON body."""
    if _CONTROL_IN_PATH.search(request.path):
        raise UnsafeInput("control_character", "path")
    for _name, value in request.headers.items():
        if _CONTROL_IN_HEADER.search(value):
            raise UnsafeInput("control_character", "header")
    for key, value in request.args.items(multi=True):
        if _CONTROL_IN_TEXT.search(key) or _CONTROL_IN_TEXT.search(value):
            raise UnsafeInput("control_character", "query")
    if request.mimetype in _FORM_TYPES:
        for key, value in request.form.items(multi=True):
            if _CONTROL_IN_TEXT.search(key) or _CONTROL_IN_TEXT.search(value):
                raise UnsafeInput("control_character", "form")
    if request.is_json and request.content_length != 0:
        request.get_json(silent=True)  # parsed once here, checked by GuardedRequest, cached for the view


def database_id(value: str) -> int:
    """A posted id, as ``request.form.get(name, type=database_id)``: out of 1..MAX_ID reads as absent."""
    number = int(value)
    if not 1 <= number <= MAX_ID:
        raise ValueError(value)
    return number


class IdConverter(IntegerConverter):
    """``<id:case_id>``: a database id, 1 to MAX_ID; anything else does not match the route (404)."""

    regex = r"\d{1,10}"

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=1, max=MAX_ID)


def init_app(app: Flask) -> None:
    """Install the guarded request class, the ``id`` converter (before any route uses it) and the check."""
    app.request_class = GuardedRequest
    app.url_map.converters["id"] = IdConverter
    app.before_request(refuse_unsafe_input)

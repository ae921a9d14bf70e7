"""Errors of the workflow runtime: types that carry the facts the web layer needs to answer."""

from __future__ import annotations

import datetime as dt
from typing import Any


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class ExpressionError(EngineError):
    def __init__(self, expression: str, reason: str) -> None:
        super().__init__(f"expression {expression!r} refused: {reason}")
        self.expression = expression
        self.reason = reason


class ProcessInvalid(EngineError):
    """A process, form or rule file has problems that would break at run time."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class NotFoundForActor(EngineError):
    """The thing does not exist, or the actor may not see it: both look the same from outside."""


class TaskAlreadyCompleted(EngineError):
    """``by`` is the completing user's id as the engine knows it; the domain may replace it by a name."""

    def __init__(self, *, by: int | str | None, at: dt.datetime | None) -> None:
        super().__init__(f"task already completed by {by} at {at}")
        self.by = by
        self.at = at


class StaleState(EngineError):
    """The case changed since the form was loaded."""


class TaskNotClaimable(EngineError):
    def __init__(self, *, by: int | str | None) -> None:
        super().__init__(f"task is claimed by {by}")
        self.by = by


class FormInvalid(EngineError):
    def __init__(self, errors: dict[str, Any]) -> None:
        super().__init__(f"form invalid: {errors}")
        self.errors = errors


class OperationFailed(EngineError):
    """A service task's operation raised; the whole step is rolled back."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(f"operation {operation} failed: {reason}")
        self.operation = operation
        self.reason = reason


class NotDeployed(EngineError):
    """No version of the process has been deployed yet, so no case can start."""

    def __init__(self, process_id: str) -> None:
        super().__init__(f"no version of {process_id} is deployed")
        self.process_id = process_id

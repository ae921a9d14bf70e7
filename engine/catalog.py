"""Names that process files may use, registered by the domain at start-up.

Diagrams name service operations, forms name choice providers and checks; each name is looked up
here, so an unknown one fails when a process is checked or deployed, never in front of a user.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session


@dataclass
class OperationContext:
    """What an operation may use: the open transaction, the case it runs for, and who acted."""

    session: Session
    business_key: str
    scope: str
    actor_id: int | None
    now: dt.datetime
    data: dict[str, Any] = field(default_factory=dict)
    rules_dir: str | None = None


Operation = Callable[..., Any]
#: Checks a service task's parameters when its process is checked: (parameter expressions by name, the
#: processes folder checked) -> problems. For operations whose parameters name things in other files.
ParamCheck = Callable[[dict[str, str | None], Path], list[str]]
ChoiceProvider = Callable[[Session, str], list[tuple[str, dict[str, str]]]]
FormCheck = Callable[[Session, dict[str, Any], "OperationContext"], dict[str, list[str]]]

OPERATIONS: dict[str, Operation] = {}
OPERATION_CHECKS: dict[str, ParamCheck] = {}
CHOICE_PROVIDERS: dict[str, ChoiceProvider] = {}
FORM_CHECKS: dict[str, FormCheck] = {}


def register_operation(name: str, function: Operation, *, check: ParamCheck | None = None) -> None:
    """Let service tasks call ``function(context, **params)`` as ``name``; returns JSON-able data."""
    OPERATIONS[name] = function
    if check is not None:
        OPERATION_CHECKS[name] = check


def register_choice_provider(name: str, function: ChoiceProvider) -> None:
    """Let form fields say ``choices_from: name``; called with (session, scope)."""
    CHOICE_PROVIDERS[name] = function


def register_form_check(name: str, function: FormCheck) -> None:
    """Let forms say ``checks: [name]``; returns errors per field (codes), empty when fine."""
    FORM_CHECKS[name] = function

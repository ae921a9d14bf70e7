"""Domain errors; the engine's errors (FormInvalid, TaskAlreadyCompleted, ...) pass through as they are."""

from __future__ import annotations

import datetime as dt

from engine.errors import EngineError, FormInvalid, NotFoundForActor, StaleState, TaskAlreadyCompleted

__all__ = [
    "EngineError", "FormInvalid", "NotFoundForActor", "StaleState", "TaskAlreadyCompleted",
    "InvalidCredentials", "LoginLocked", "NotPermitted", "RegistryError",
]


class RegistryError(Exception):
    """Base of domain errors."""


class InvalidCredentials(RegistryError):
    pass


class LoginLocked(RegistryError):
    def __init__(self, until: dt.datetime) -> None:
        super().__init__(f"locked until {until}")
        self.until = until


class NotPermitted(RegistryError):
    """The user's role may not do this at all (e.g. a case manager opening a registration)."""

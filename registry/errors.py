"""Domain errors; the engine's errors (FormInvalid, TaskAlreadyCompleted, ...) pass through as they are."""

from __future__ import annotations

from engine.errors import EngineError, FormInvalid, NotFoundForActor, StaleState, TaskAlreadyCompleted

__all__ = [
    "EngineError", "FormInvalid", "NotFoundForActor", "StaleState", "TaskAlreadyCompleted",
    "Conflict", "DuplicateApplicant", "InvalidCredentials", "StorageUnavailable", "NotPermitted", "RegistryError",
]


class RegistryError(Exception):
    """Base of domain errors."""


class InvalidCredentials(RegistryError):
    pass


class StorageUnavailable(RegistryError):
    """The document storage (a folder or S3-compatible object storage) did not answer; nothing was saved."""


class DuplicateApplicant(RegistryError):
    """The applicant already has an open case; ``reference`` and ``case_id`` are None when it is in another
    directorate (the user may not open it, nor learn which case it is)."""

    def __init__(self, reference: str | None, case_id: int | None = None) -> None:
        super().__init__(f"open case exists: {reference or 'in another directorate'}")
        self.reference = reference
        self.case_id = case_id


class Conflict(RegistryError):
    """Two people changed the same thing at once; the later one must reload."""


class NotPermitted(RegistryError):
    """The user's role may not do this at all (e.g. a case manager opening a registration)."""

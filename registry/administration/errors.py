"""Why an administrator's change was refused: a code the web layer words in the user's language."""

from __future__ import annotations

from registry.errors import RegistryError


class AdministrationRefused(RegistryError):
    """A change that would break a guard rail (the last administrator, one's own account, a directorate in use)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code

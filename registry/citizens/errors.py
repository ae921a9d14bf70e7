"""What the citizen account services refuse, as types the portal maps to one message each."""

from __future__ import annotations

from registry.errors import RegistryError


class InvalidCode(RegistryError):
    """The code is wrong, expired, already used or out of guesses, or nobody is waiting for one: all look alike."""

"""Adapters to other ministries' data (Interior, Education, Health) that pre-fill the registration form.

``sources_from_config(config)`` builds the sources once; ``prefill_registration(national_id,
sources=..., today=...)`` asks them and returns a Prefill. A ministry that fails or is slow never
blocks registration: it is listed in ``Prefill.unavailable``. Pure Python: no Flask, no database.
"""

from registry.ministries.config import MINISTRIES, ministry_name, sources_from_config
from registry.ministries.prefill import Prefill, prefill_registration
from registry.ministries.records import (
    Family,
    InvalidNationalId,
    MinistrySource,
    PersonFacts,
    SourceUnavailable,
)

__all__ = [
    "MINISTRIES",
    "Family",
    "InvalidNationalId",
    "MinistrySource",
    "PersonFacts",
    "ministry_name",
    "Prefill",
    "SourceUnavailable",
    "prefill_registration",
    "sources_from_config",
]
